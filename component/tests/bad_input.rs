//! Invalid payloads on every topic the agent reads: each one is logged and either ignored or
//! handled by the protocol's failure path, and the credential files stay as they were.

mod common;

use common::{CommitReply, CreateReply, EC_P256, RSA_2048, Script, World};

fn run_to_failure(script: Script, reason: &str) -> World {
    let world = World::new(script);
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    let state = world.cloud.snapshot();
    assert_eq!(
        state.status, "FAILED",
        "updates: {:?}\n{log}",
        state.updates
    );
    assert_eq!(
        world.cloud.failure_reason().as_deref(),
        Some(reason),
        "{log}"
    );
    assert!(
        !log.contains("PRIVATE KEY"),
        "the log must never contain a key"
    );
    world.assert_old_pair_restored();
    world
}

fn create_reply(reply: CreateReply, reason: &str) {
    run_to_failure(
        Script {
            create: reply,
            ..Script::default()
        },
        reason,
    );
}

#[test]
fn create_accepted_malformed_json() {
    create_reply(
        CreateReply::Raw("{\"certificatePem\":".into()),
        "CERTIFICATE_INVALID",
    );
}

#[test]
fn create_accepted_wrong_type() {
    create_reply(
        CreateReply::Raw("{\"certificatePem\":42}".into()),
        "CERTIFICATE_INVALID",
    );
}

#[test]
fn create_accepted_empty_payload() {
    create_reply(CreateReply::Raw(String::new()), "CERTIFICATE_INVALID");
}

#[test]
fn create_accepted_huge_payload() {
    let huge = format!("{{\"certificatePem\":\"{}\"}}", "A".repeat(300 * 1024));
    create_reply(CreateReply::Raw(huge), "CERTIFICATE_INVALID");
}

#[test]
fn create_accepted_not_a_certificate() {
    create_reply(
        CreateReply::Raw("{\"certificatePem\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"}".into()),
        "CERTIFICATE_INVALID",
    );
}

#[test]
fn certificate_for_another_key() {
    create_reply(CreateReply::SignOtherKey(EC_P256), "CERTIFICATE_INVALID");
}

#[test]
fn certificate_for_another_key_type() {
    create_reply(CreateReply::SignOtherKey(RSA_2048), "CERTIFICATE_INVALID");
}

#[test]
fn create_rejected_malformed_payload() {
    create_reply(
        CreateReply::RawRejected("not json".into()),
        "CREATE_REJECTED",
    );
}

#[test]
fn commit_accepted_malformed_is_not_a_commit() {
    let world = run_to_failure(
        Script {
            commit: CommitReply::Raw("[\"not an object\"]".into()),
            ..Script::default()
        },
        "COMMIT_TIMED_OUT",
    );
    assert_eq!(world.cloud.snapshot().commits.len(), 2);
}

#[test]
fn invalid_job_document_fails_job() {
    let world = run_to_failure(
        Script {
            job_document: serde_json::json!({"operation": "ROTATE_CERTIFICATE", "keyAlgorithm": 7}),
            ..Script::default()
        },
        "INVALID_JOB_DOCUMENT",
    );
    assert!(world.cloud.snapshot().csrs.is_empty());
}

#[test]
fn noise_on_every_topic_is_ignored() {
    let world = World::new(Script {
        noise: true,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    let state = world.cloud.snapshot();
    assert_eq!(
        state.status, "SUCCEEDED",
        "updates: {:?}\n{log}",
        state.updates
    );
    assert!(log.contains("ignoring"), "{log}");
    world.assert_new_pair_installed();
}
