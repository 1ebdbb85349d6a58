//! Runs the built create-certificate binary as the Lambda service would, against a stand-in
//! Runtime API and moto, both on loopback.

#[path = "../../backend/tests/runtime_api/mod.rs"]
mod runtime_api;

use runtime_api::{FunctionProcess, Invocation, RuntimeApi, assert_json_logs_without_pem};
use testsupport::MotoServer;

/// A request for a job the thing does not have: the function rejects it, publishes the reply
/// and reports success to the runtime. The CSR in the event must not reach the logs.
#[test]
fn rejects_request_and_logs_json() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let event = serde_json::json!({
        "jobId": "rotate-1",
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "thingName": "core-1",
        "topic": "awslabs/things/core-1/certificate/create",
        "clientId": "core-1",
        "principal": "0123abcd",
    });
    let api = RuntimeApi::start(event);
    let function = FunctionProcess::start(
        env!("CARGO_BIN_EXE_create-certificate").as_ref(),
        &api,
        &moto.endpoint(),
        &[("SHADOW_NAME", "rotator"), ("ISSUER", "iot-core")],
        dir.path(),
    );

    let result = api.wait();
    let stdout = function.stop();
    assert_eq!(result, Invocation::Response("null".into()));
    assert_json_logs_without_pem(&stdout);
    assert!(stdout.contains("rejecting create"), "{stdout}");
    assert!(
        stdout.contains("has no execution on thing core-1"),
        "{stdout}"
    );
}
