//! IoT event configurations through the AWS SDK, against moto plus the sandbox.

mod common;

use aws_sdk_iot::types::{Configuration, EventType};
use common::Stand;

#[tokio::test]
async fn event_configurations_round_trip() {
    let stand = Stand::start().await;
    let iot = aws_sdk_iot::Client::new(&stand.config());

    let before = iot
        .describe_event_configurations()
        .send()
        .await
        .expect("describe succeeds");
    let configurations = before
        .event_configurations()
        .expect("configurations present");
    assert_eq!(configurations.len(), 11);
    for (event_type, configuration) in configurations {
        assert!(!configuration.enabled(), "{event_type} starts disabled");
    }
    assert!(before.creation_date().is_some());

    iot.update_event_configurations()
        .event_configurations(
            EventType::JobExecution,
            Configuration::builder().enabled(true).build(),
        )
        .send()
        .await
        .expect("update succeeds");

    let after = iot
        .describe_event_configurations()
        .send()
        .await
        .expect("describe succeeds");
    let configurations = after
        .event_configurations()
        .expect("configurations present");
    assert!(configurations[&EventType::JobExecution].enabled());
    assert!(!configurations[&EventType::Job].enabled());
    assert!(after.last_modified_date() >= before.last_modified_date());
}

#[tokio::test]
async fn event_configurations_are_per_region() {
    let stand = Stand::start().await;
    let iot = aws_sdk_iot::Client::new(&stand.config());
    iot.update_event_configurations()
        .event_configurations(
            EventType::Thing,
            Configuration::builder().enabled(true).build(),
        )
        .send()
        .await
        .expect("update succeeds");

    let other_config = aws_sdk_iot::config::Builder::from(&stand.config())
        .region(aws_sdk_iot::config::Region::new("eu-west-1"))
        .build();
    let other = aws_sdk_iot::Client::from_conf(other_config)
        .describe_event_configurations()
        .send()
        .await
        .expect("describe succeeds");
    assert!(!other.event_configurations().expect("present")[&EventType::Thing].enabled());
}

#[tokio::test]
async fn unknown_event_type_is_rejected() {
    let stand = Stand::start().await;
    let iot = aws_sdk_iot::Client::new(&stand.config());
    let error = iot
        .update_event_configurations()
        .event_configurations(
            EventType::from("NOT_A_TYPE"),
            Configuration::builder().enabled(true).build(),
        )
        .send()
        .await
        .expect_err("unknown type is rejected");
    let service_error = error.into_service_error();
    assert!(
        service_error.is_invalid_request_exception(),
        "{service_error:?}"
    );
}
