//! The commit-certificate handler against moto's IoT registry and named shadows. A rotation is
//! first created with the create handler (see `common` for the doubles it needs).

mod common;

use common::{Device, Key, PREFIX, RecordingPublisher, World, make_csr, make_key, rule_event};
use rotator_backend::commit::{CommitHandler, CommitOutcome};
use rotator_backend::create::{CreateHandler, CreateOutcome};
use rotator_backend::sdk::{SdkRegistry, ShadowRecordStore};
use rotator_protocol::{JobDocument, Progress};

/// Creates a device and runs the create handler for `job_id`. Returns the device and the new
/// certificate's ID.
async fn created_rotation(world: &World, thing: &str, job_id: &str) -> (Device, String) {
    let device = world.device(thing, Key::Ec("P-256")).await;
    world
        .create_job(thing, job_id, &JobDocument::rotate().to_json())
        .await;
    let key = make_key(world.path(), &format!("{thing}-new"), Key::Rsa(2048));
    let csr = make_csr(world.path(), &key, &format!("/CN={thing}"), "sha256", true);
    let create = CreateHandler {
        registry: world.registry(),
        jobs: world.jobs(),
        records: world.records(),
        publisher: world.publisher(),
        signer: world.openssl_signer(),
        topic_prefix: PREFIX.to_owned(),
    };
    create.jobs.start(thing, job_id);
    let event = rule_event(
        &device,
        "create",
        job_id,
        Some(&csr),
        &device.certificate_id,
    );
    match create.handle(&event).await.unwrap() {
        CreateOutcome::Issued { certificate_id } => (device, certificate_id),
        other => panic!("create failed: {other:?}"),
    }
}

fn handler(world: &World) -> CommitHandler<SdkRegistry, ShadowRecordStore, RecordingPublisher> {
    CommitHandler {
        registry: world.registry(),
        records: world.records(),
        publisher: world.publisher(),
        topic_prefix: PREFIX.to_owned(),
    }
}

#[tokio::test]
async fn commit_records_and_repeats() {
    let world = World::start();
    let (device, new_id) = created_rotation(&world, "core-1", "rotate-1").await;
    let handler = handler(&world);
    let event = rule_event(&device, "commit", "rotate-1", None, &new_id);

    assert_eq!(
        handler.handle(&event).await.unwrap(),
        CommitOutcome::Committed
    );
    let (topic, reply) = handler.publisher.last();
    assert_eq!(topic, "awslabs/things/core-1/certificate/commit/accepted");
    assert_eq!(reply, serde_json::json!({}));
    let after = world.snapshot("core-1").await;
    let record = after.record.clone().unwrap();
    assert_eq!(record.progress, Progress::Committed);
    assert_eq!(record.new_certificate_id, new_id);

    // A lost reply makes the device commit again: accepted again, nothing changes.
    assert_eq!(
        handler.handle(&event).await.unwrap(),
        CommitOutcome::Repeated
    );
    let (topic, _) = handler.publisher.last();
    assert_eq!(topic, "awslabs/things/core-1/certificate/commit/accepted");
    assert_eq!(world.snapshot("core-1").await, after);
    assert_eq!(handler.publisher.messages().len(), 2);
}

#[tokio::test]
async fn bad_commits_are_rejected_without_changes() {
    let world = World::start();
    let (device, new_id) = created_rotation(&world, "core-1", "rotate-1").await;
    let unrotated = world.device("core-2", Key::Ec("P-256")).await;
    let handler = handler(&world);

    let mut missing_job = rule_event(&device, "commit", "rotate-1", None, &new_id);
    missing_job.as_object_mut().unwrap().remove("jobId");
    let mut create_topic = rule_event(&device, "commit", "rotate-1", None, &new_id);
    create_topic["topic"] = serde_json::json!("awslabs/things/core-1/certificate/create");
    let cases = [
        ("missing job ID", missing_job, "missing field \"jobId\""),
        ("wrong topic", create_topic, "arrived on topic"),
        (
            "old certificate as principal",
            rule_event(&device, "commit", "rotate-1", None, &device.certificate_id),
            "not from the new certificate",
        ),
        (
            "another job",
            rule_event(&device, "commit", "rotate-2", None, &new_id),
            "belongs to job rotate-1, not rotate-2",
        ),
    ];
    let before = world.snapshot("core-1").await;
    for (name, event, expected) in cases {
        let outcome = handler.handle(&event).await.unwrap();
        let CommitOutcome::Rejected { reason } = outcome else {
            panic!("{name}: expected a rejection, got {outcome:?}");
        };
        assert!(
            reason.contains(expected),
            "{name}: {reason:?} should contain {expected:?}"
        );
        let (topic, reply) = handler.publisher.last();
        assert_eq!(
            topic, "awslabs/things/core-1/certificate/commit/rejected",
            "{name}"
        );
        assert_eq!(reply["errorMsg"].as_str(), Some(reason.as_str()), "{name}");
        assert_eq!(
            world.snapshot("core-1").await,
            before,
            "{name} changed the registry"
        );
    }

    let before = world.snapshot("core-2").await;
    let event = rule_event(
        &unrotated,
        "commit",
        "rotate-1",
        None,
        &unrotated.certificate_id,
    );
    let outcome = handler.handle(&event).await.unwrap();
    let CommitOutcome::Rejected { reason } = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(reason.contains("has no rotation record"), "{reason}");
    assert_eq!(world.snapshot("core-2").await, before);
}

#[tokio::test]
async fn commit_requires_both_certificates_attached() {
    let world = World::start();
    let (device, new_id) = created_rotation(&world, "core-1", "rotate-1").await;
    world
        .iot
        .detach_thing_principal()
        .thing_name("core-1")
        .principal(&device.certificate_arn)
        .send()
        .await
        .unwrap();
    let handler = handler(&world);
    let before = world.snapshot("core-1").await;

    let event = rule_event(&device, "commit", "rotate-1", None, &new_id);
    let outcome = handler.handle(&event).await.unwrap();
    let CommitOutcome::Rejected { reason } = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(
        reason.contains("expected the old and the new certificate"),
        "{reason}"
    );
    assert_eq!(world.snapshot("core-1").await, before);
}
