//! Runs the built job-execution-terminal binary as the Lambda service would, against a
//! stand-in Runtime API and moto, both on loopback.

#[path = "../../backend/tests/runtime_api/mod.rs"]
mod runtime_api;

use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use runtime_api::{FunctionProcess, Invocation, RuntimeApi, assert_json_logs_without_pem};
use testsupport::MotoServer;

fn event() -> serde_json::Value {
    serde_json::json!({
        "eventType": "JOB_EXECUTION",
        "operation": "timed_out",
        "jobId": "rotate-1",
        "thingArn": "arn:aws:iot:us-east-1:123456789012:thing/core-1",
        "status": "TIMED_OUT",
        "statusDetails": {"CertificateRotator": "true"},
    })
}

fn run(moto: &MotoServer, topic_arn: &str) -> (Invocation, String) {
    let dir = tempfile::tempdir().unwrap();
    let api = RuntimeApi::start(event());
    let function = FunctionProcess::start(
        env!("CARGO_BIN_EXE_job-execution-terminal").as_ref(),
        &api,
        &moto.endpoint(),
        &[
            ("SHADOW_NAME", "rotator"),
            ("NOTIFICATION_TOPIC_ARN", topic_arn),
        ],
        dir.path(),
    );
    let result = api.wait();
    (result, function.stop())
}

/// A timed-out job with nothing to clean up still notifies operators, through moto's SNS.
#[test]
fn notifies_and_succeeds() {
    let moto = MotoServer::start();
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(moto.endpoint())
        .build();
    let sns = aws_sdk_sns::Client::from_conf(config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let topic_arn = runtime
        .block_on(sns.create_topic().name("rotation").send())
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();

    let (result, stdout) = run(&moto, &topic_arn);
    assert_eq!(result, Invocation::Response("null".into()));
    assert_json_logs_without_pem(&stdout);
    assert!(stdout.contains("job execution ended"), "{stdout}");
}

/// When the notification cannot be sent, the invocation fails with the error, so Lambda's
/// retry and the rule's error action see it.
#[test]
fn missing_topic_fails_the_invocation() {
    let moto = MotoServer::start();
    let (result, stdout) = run(&moto, "arn:aws:sns:us-east-1:123456789012:missing");
    let Invocation::Error(body) = result else {
        panic!("expected an invocation error, got {result:?}");
    };
    assert!(body.contains("failed to publish a notification"), "{body}");
    assert_json_logs_without_pem(&stdout);
    assert!(stdout.contains("invocation failed"), "{stdout}");
}
