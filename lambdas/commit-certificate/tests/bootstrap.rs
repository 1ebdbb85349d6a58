//! Runs the built commit-certificate binary as the Lambda service would, against a stand-in
//! Runtime API and moto, both on loopback.

#[path = "../../backend/tests/runtime_api/mod.rs"]
mod runtime_api;

use runtime_api::{FunctionProcess, Invocation, RuntimeApi, assert_json_logs_without_pem};
use testsupport::MotoServer;

/// A commit for a thing with no rotation record is rejected, and the invocation succeeds.
#[test]
fn rejects_commit_without_record() {
    let moto = MotoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let event = serde_json::json!({
        "jobId": "rotate-1",
        "thingName": "core-1",
        "topic": "awslabs/things/core-1/certificate/commit",
        "clientId": "core-1",
        "principal": "0123abcd",
    });
    let api = RuntimeApi::start(event);
    let function = FunctionProcess::start(
        env!("CARGO_BIN_EXE_commit-certificate").as_ref(),
        &api,
        &moto.endpoint(),
        &[("SHADOW_NAME", "rotator")],
        dir.path(),
    );

    let result = api.wait();
    let stdout = function.stop();
    assert_eq!(result, Invocation::Response("null".into()));
    assert_json_logs_without_pem(&stdout);
    assert!(stdout.contains("has no rotation record"), "{stdout}");
}
