//! The job-execution-terminal handler against moto's IoT registry, named shadows and SNS:
//! every terminal status against every stage a rotation can reach.
//!
//! Doubles: `RecordingNotifier` (moto accepts SNS publishes but cannot return them),
//! `AdjustableRegistry` (moto detaches synchronously, so AWS's asynchronous detach, which
//! makes `DeleteCertificate` fail for a while, is emulated by failing the first deletes), and
//! the create-side doubles described in `common`.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{
    AdjustableRegistry, Device, Key, PREFIX, RecordingNotifier, World, make_csr, make_key,
    rule_event,
};
use rotator_backend::aws::Registry;
use rotator_backend::commit::{CommitHandler, CommitOutcome};
use rotator_backend::create::{CreateHandler, CreateOutcome};
use rotator_backend::error::ErrorKind;
use rotator_backend::sdk::{IotCoreSigner, ShadowRecordStore};
use rotator_backend::terminal::{
    DeleteRetry, RotationStage, TerminalAction, TerminalHandler, decide,
};
use rotator_protocol::{JobDocument, JobExecutionStatus};

const TERMINAL: [JobExecutionStatus; 6] = [
    JobExecutionStatus::Succeeded,
    JobExecutionStatus::Failed,
    JobExecutionStatus::TimedOut,
    JobExecutionStatus::Canceled,
    JobExecutionStatus::Removed,
    JobExecutionStatus::Rejected,
];

/// Retries without waiting, so the tests do not depend on timing.
fn no_wait_retry() -> DeleteRetry {
    DeleteRetry {
        attempts: 4,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    }
}

/// Creates a device and takes its rotation for `job_id` to `stage`. Returns the device and the
/// new certificate's ID, if one was issued.
async fn rotation_at(
    world: &World,
    thing: &str,
    job_id: &str,
    stage: RotationStage,
) -> (Device, Option<String>) {
    let device = world.device(thing, Key::Ec("P-256")).await;
    world
        .create_job(thing, job_id, &JobDocument::rotate().to_json())
        .await;
    if stage == RotationStage::NotStarted {
        return (device, None);
    }

    let key = make_key(world.path(), &format!("{thing}-new"), Key::Ec("P-256"));
    let csr = make_csr(world.path(), &key, &format!("/CN={thing}"), "sha256", false);
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
    let CreateOutcome::Issued { certificate_id } = create.handle(&event).await.unwrap() else {
        panic!("create failed for {thing}");
    };

    if stage == RotationStage::Committed {
        let commit = CommitHandler {
            registry: world.registry(),
            records: world.records(),
            publisher: world.publisher(),
            topic_prefix: PREFIX.to_owned(),
        };
        let event = rule_event(&device, "commit", job_id, None, &certificate_id);
        assert_eq!(
            commit.handle(&event).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    (device, Some(certificate_id))
}

fn event(thing: &str, job_id: &str, status: JobExecutionStatus) -> serde_json::Value {
    serde_json::json!({
        "eventType": "JOB_EXECUTION",
        "eventId": "e1",
        "timestamp": 1_700_000_000,
        "operation": status.as_str().to_ascii_lowercase(),
        "jobId": job_id,
        "thingArn": format!("arn:aws:iot:us-east-1:123456789012:thing/{thing}"),
        "status": status.as_str(),
        "statusDetails": {"CertificateRotator": "true", "DeviceFailureReason": "CONNECTION_FAILED"},
    })
}

fn terminal_handler<R: Registry>(
    world: &World,
    registry: R,
    notifier: RecordingNotifier,
) -> TerminalHandler<R, ShadowRecordStore, IotCoreSigner, RecordingNotifier> {
    TerminalHandler {
        registry,
        records: world.records(),
        signer: IotCoreSigner::new(world.iot.clone()),
        notifier,
        delete_retry: no_wait_retry(),
    }
}

#[test]
fn decision_table_covers_every_status_and_stage() {
    use JobExecutionStatus as S;
    use RotationStage::{Committed, Created, NotStarted};
    use TerminalAction::*;
    let table = [
        (S::Queued, [Ignored, Ignored, Ignored]),
        (S::InProgress, [Ignored, Ignored, Ignored]),
        (S::Succeeded, [Nothing, KeptBoth, DeletedOldCertificate]),
        (S::Failed, [Nothing, DeletedNewCertificate, KeptBoth]),
        (S::TimedOut, [Nothing, DeletedNewCertificate, KeptBoth]),
        (S::Canceled, [Nothing, DeletedNewCertificate, KeptBoth]),
        (S::Removed, [Nothing, DeletedNewCertificate, KeptBoth]),
        (S::Rejected, [Nothing, DeletedNewCertificate, KeptBoth]),
    ];
    assert_eq!(table.len(), JobExecutionStatus::ALL.len());
    for (status, actions) in table {
        for (stage, expected) in [NotStarted, Created, Committed].into_iter().zip(actions) {
            assert_eq!(decide(status, stage), expected, "{status} at {stage:?}");
        }
    }
}

/// Runs every terminal status against every stage on moto and checks the registry, the record
/// and the notifications.
#[tokio::test]
async fn every_status_and_stage_on_moto() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    let stages = [
        RotationStage::NotStarted,
        RotationStage::Created,
        RotationStage::Committed,
    ];

    for (index, status) in TERMINAL.into_iter().enumerate() {
        for stage in stages {
            let thing = format!("core-{index}-{stage:?}").to_ascii_lowercase();
            let job_id = format!("rotate-{index}");
            let case = format!("{status} at {stage:?}");
            let (device, new_id) = rotation_at(&world, &thing, &job_id, stage).await;
            let before = world.snapshot(&thing).await;
            let handler = terminal_handler(&world, world.registry(), world.notifier(&topic_arn));

            let outcome = handler
                .handle(&event(&thing, &job_id, status))
                .await
                .unwrap_or_else(|error| panic!("{case}: {error}"));
            let expected = decide(status, stage);
            assert_eq!(outcome.action, expected, "{case}");

            let old_id = &device.certificate_id;
            let attached = world.attached_certificates(&thing).await;
            match expected {
                TerminalAction::DeletedOldCertificate => {
                    let new_id = new_id.as_ref().unwrap();
                    assert_eq!(attached.len(), 1, "{case}");
                    assert!(attached.contains(new_id), "{case}");
                    assert!(!world.certificate_exists(old_id).await, "{case}");
                    assert!(world.certificate_exists(new_id).await, "{case}");
                }
                TerminalAction::DeletedNewCertificate => {
                    let new_id = new_id.as_ref().unwrap();
                    assert_eq!(attached.len(), 1, "{case}");
                    assert!(attached.contains(old_id), "{case}");
                    assert!(!world.certificate_exists(new_id).await, "{case}");
                    assert!(world.certificate_exists(old_id).await, "{case}");
                }
                TerminalAction::KeptBoth | TerminalAction::Nothing => {
                    assert_eq!(world.snapshot(&thing).await, before, "{case}");
                }
                TerminalAction::Ignored => panic!("{case}: terminal statuses are never ignored"),
            }

            let messages = handler.notifier.messages();
            let success =
                status == JobExecutionStatus::Succeeded && stage == RotationStage::Committed;
            assert_eq!(outcome.notified, !success, "{case}");
            assert_eq!(messages.len(), usize::from(!success), "{case}");
            if let Some((subject, message)) = messages.first() {
                assert!(subject.contains(&thing), "{case}: {subject}");
                assert!(subject.contains(status.as_str()), "{case}: {subject}");
                assert!(message.contains(&thing), "{case}: {message}");
                assert!(message.contains(&job_id), "{case}: {message}");
                assert!(message.contains("CONNECTION_FAILED"), "{case}: {message}");
                let expected_text = match expected {
                    TerminalAction::DeletedNewCertificate => "Deleted the new certificate",
                    TerminalAction::KeptBoth => "Kept both certificates",
                    _ => "nothing to clean up",
                };
                assert!(message.contains(expected_text), "{case}: {message}");
            }
        }
    }
}

#[tokio::test]
async fn record_of_another_job_counts_as_not_started() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    rotation_at(&world, "core-1", "rotate-1", RotationStage::Created).await;
    let before = world.snapshot("core-1").await;
    let handler = terminal_handler(&world, world.registry(), world.notifier(&topic_arn));

    let outcome = handler
        .handle(&event("core-1", "rotate-2", JobExecutionStatus::Canceled))
        .await
        .unwrap();
    assert_eq!(outcome.action, TerminalAction::Nothing);
    assert_eq!(world.snapshot("core-1").await, before);
}

#[tokio::test]
async fn malformed_event_is_an_error() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    let handler = terminal_handler(&world, world.registry(), world.notifier(&topic_arn));
    for bad in [
        serde_json::json!({"jobId": "j"}),
        serde_json::json!({"jobId": "j", "thingArn": "arn:aws:iot:r:1:thinggroup/g", "status": "FAILED"}),
        serde_json::json!({"jobId": "j", "thingArn": "arn:aws:iot:r:1:thing/t", "status": "BROKEN"}),
    ] {
        let error = handler.handle(&bad).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{bad}");
    }
    assert!(handler.notifier.messages().is_empty());
}

#[tokio::test]
async fn delete_retries_while_detach_finishes() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    let (device, new_id) =
        rotation_at(&world, "core-1", "rotate-1", RotationStage::Committed).await;
    let registry = AdjustableRegistry::new(world.registry());
    registry.conflicts.store(2, Ordering::SeqCst);
    let handler = terminal_handler(&world, registry, world.notifier(&topic_arn));

    let outcome = handler
        .handle(&event("core-1", "rotate-1", JobExecutionStatus::Succeeded))
        .await
        .unwrap();
    assert_eq!(outcome.action, TerminalAction::DeletedOldCertificate);
    assert!(!outcome.notified);
    assert_eq!(handler.registry.deletes.load(Ordering::SeqCst), 3);
    assert!(!world.certificate_exists(&device.certificate_id).await);
    assert!(world.certificate_exists(&new_id.unwrap()).await);
}

#[tokio::test]
async fn delete_that_never_succeeds_notifies_and_fails() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    let (device, _) = rotation_at(&world, "core-1", "rotate-1", RotationStage::Committed).await;
    let registry = AdjustableRegistry::new(world.registry());
    registry.conflicts.store(100, Ordering::SeqCst);
    let handler = terminal_handler(&world, registry, world.notifier(&topic_arn));

    let error = handler
        .handle(&event("core-1", "rotate-1", JobExecutionStatus::Succeeded))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(handler.registry.deletes.load(Ordering::SeqCst), 4);
    let messages = handler.notifier.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].1.contains("Cleanup FAILED"),
        "{}",
        messages[0].1
    );
    assert!(
        messages[0].1.contains(&device.certificate_id),
        "{}",
        messages[0].1
    );
}

#[tokio::test]
async fn success_keeps_old_when_new_is_detached() {
    let world = World::start();
    let topic_arn = world.sns_topic().await;
    let (device, new_id) =
        rotation_at(&world, "core-1", "rotate-1", RotationStage::Committed).await;
    let new_arn = format!(
        "arn:aws:iot:us-east-1:123456789012:cert/{}",
        new_id.unwrap()
    );
    world
        .iot
        .detach_thing_principal()
        .thing_name("core-1")
        .principal(new_arn)
        .send()
        .await
        .unwrap();
    let handler = terminal_handler(&world, world.registry(), world.notifier(&topic_arn));

    let error = handler
        .handle(&event("core-1", "rotate-1", JobExecutionStatus::Succeeded))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no longer attached"), "{error}");
    assert!(world.certificate_exists(&device.certificate_id).await);
    assert_eq!(handler.notifier.messages().len(), 1);
}
