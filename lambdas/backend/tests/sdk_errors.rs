//! How AWS errors map to error kinds and the retryable flag, with the errors coming from
//! moto's typed responses and from a closed loopback port.

mod common;

use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use common::{Key, World};
use rotator_backend::aws::{Notifier, RecordStore, Registry};
use rotator_backend::error::ErrorKind;
use rotator_backend::sdk::{SdkRegistry, SnsNotifier};

#[tokio::test]
async fn moto_errors_map_to_kinds() {
    let world = World::start();
    let device = world.device("core-1", Key::Ec("P-256")).await;
    let registry = world.registry();

    let missing = registry.describe_certificate("00ff").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(!missing.is_retryable());

    // An active, attached certificate cannot be deleted yet: a conflict, worth retrying.
    let active = registry
        .delete_certificate(&device.certificate_id)
        .await
        .unwrap_err();
    assert_eq!(active.kind(), ErrorKind::Conflict, "{active}");
    assert!(active.is_retryable());
    assert!(
        active.to_string().contains(&device.certificate_id),
        "{active}"
    );

    registry
        .deactivate_certificate(&device.certificate_id)
        .await
        .unwrap();
    let attached = registry
        .delete_certificate(&device.certificate_id)
        .await
        .unwrap_err();
    assert_eq!(attached.kind(), ErrorKind::Conflict, "{attached}");

    let no_thing = registry.thing_principals("absent").await.unwrap_err();
    assert_eq!(no_thing.kind(), ErrorKind::NotFound, "{no_thing}");

    assert_eq!(world.records().load("absent").await.unwrap(), None);

    let notifier = SnsNotifier::new(world.sns.clone(), "arn:aws:sns:us-east-1:123456789012:x");
    let no_topic = notifier.notify("s", "m").await.unwrap_err();
    assert_eq!(no_topic.kind(), ErrorKind::NotFound, "{no_topic}");
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let port = testsupport::free_port();
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(aws_sdk_iot::config::retry::RetryConfig::disabled())
        .build();
    let registry = SdkRegistry::new(aws_sdk_iot::Client::from_conf(config));

    let error = registry.describe_certificate("00ff").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AwsTransient, "{error}");
    assert!(error.is_retryable());
}
