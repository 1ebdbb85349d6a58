//! Full rotations and every failure path, against mosquitto and the cloud double.

mod common;

use common::{CommitReply, CreateReply, Script, World};

fn assert_failed(world: &World, reason: &str) {
    let state = world.cloud.snapshot();
    assert_eq!(
        state.status, "FAILED",
        "job status; updates: {:?}",
        state.updates
    );
    assert_eq!(world.cloud.failure_reason().as_deref(), Some(reason));
    assert_eq!(state.status_details["CertificateRotator"], "true");
}

fn old_certificate_file(world: &World) -> std::path::PathBuf {
    let path = world.dir.path().join("old.crt");
    std::fs::write(&path, &world.old_certificate).unwrap();
    path
}

fn subject(certificate: &std::path::Path) -> String {
    let output = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(certificate)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn full_rotation_then_old_certificate_revoked() {
    let world = World::new(Script::default());
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "agent failed: {log}");
    let state = world.cloud.snapshot();
    assert_eq!(
        state.status, "SUCCEEDED",
        "updates: {:?}\n{log}",
        state.updates
    );
    assert_eq!(state.csrs.len(), 1);
    assert_eq!(state.commits.len(), 1);
    assert_eq!(state.commits[0]["jobId"], "rotate-1");
    assert_eq!(state.csr_signatures_valid, [true]);
    world.assert_new_pair_installed();
    assert_eq!(
        subject(&world.device.certificate),
        subject(&old_certificate_file(&world)),
        "the new certificate must keep the old subject"
    );
    assert_eq!(world.journal()["state"]["step"], "idle");
    assert!(log.contains("state changed"), "{log}");
    assert!(log.contains("job_id=\"rotate-1\""), "{log}");
    assert!(
        !log.contains("PRIVATE KEY"),
        "the log must never contain a key"
    );

    // Revoke the old certificate at the broker: the old pair is locked out, the new one works.
    let old = old_certificate_file(&world);
    world.ca.revoke(&old);
    world.broker.reload();
    let old_pair = rotator_agent::store::PairPaths {
        certificate: old,
        private_key: world.dir.path().join("old.key"),
    };
    std::fs::write(&old_pair.private_key, &world.old_key).unwrap();
    common::wait_for("the broker to reject the revoked certificate", || {
        !world.can_connect(&old_pair)
    });
    assert!(world.can_connect(&world.device));

    let gets_before = world.cloud.snapshot().next_gets;
    let mut agent = world
        .agent_command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for("the restarted agent to ask for jobs", || {
        world.cloud.snapshot().next_gets > gets_before
    });
    agent.kill().unwrap();
    agent.wait().unwrap();
}

#[test]
fn create_rejected_fails_job() {
    let world = World::new(Script {
        create: CreateReply::Reject,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "CREATE_REJECTED");
    world.assert_old_pair_restored();
}

#[test]
fn create_timeout_asks_again_then_fails() {
    let world = World::new(Script {
        create: CreateReply::Ignore,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "CREATE_TIMED_OUT");
    // One request plus one retry, as configured.
    assert_eq!(world.cloud.snapshot().csrs.len(), 2);
    let csrs = world.cloud.snapshot().csrs;
    assert_eq!(csrs[0], csrs[1], "the retry must resend the same CSR");
    world.assert_old_pair_restored();
}

#[test]
fn commit_rejected_rolls_back() {
    let world = World::new(Script {
        commit: CommitReply::Reject,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "COMMIT_REJECTED");
    world.assert_old_pair_restored();
}

#[test]
fn commit_timeout_asks_again_then_rolls_back() {
    let world = World::new(Script {
        commit: CommitReply::Ignore,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "COMMIT_TIMED_OUT");
    assert_eq!(world.cloud.snapshot().commits.len(), 2);
    world.assert_old_pair_restored();
}

#[test]
fn untrusted_certificate_rolls_back() {
    let world = World::new(Script {
        create: CreateReply::SignUntrusted,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "CONNECTION_FAILED");
    assert!(log.contains("MQTT connection failed"), "{log}");
    assert!(world.cloud.snapshot().commits.is_empty());
    // The broker, not a local check, must be what turned the new pair down.
    assert!(!log.contains("cannot be used together"), "{log}");
    world.assert_old_pair_restored();
}

#[test]
fn dropped_requests_are_sent_again() {
    let world = World::new(Script {
        drop_first_creates: 1,
        drop_first_commits: 1,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_eq!(world.cloud.snapshot().status, "SUCCEEDED");
    assert_eq!(world.cloud.snapshot().csrs.len(), 2);
    assert_eq!(world.cloud.snapshot().commits.len(), 2);
    world.assert_new_pair_installed();
}

#[test]
fn duplicated_replies_are_harmless() {
    let world = World::new(Script {
        duplicate_replies: true,
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    let state = world.cloud.snapshot();
    assert_eq!(state.status, "SUCCEEDED");
    assert_eq!(state.csrs.len(), 1);
    assert_eq!(state.commits.len(), 1);
    world.assert_new_pair_installed();
}

#[test]
fn job_document_selects_rsa_key() {
    let world = World::new(Script {
        job_document: serde_json::json!({
            "operation": "ROTATE_CERTIFICATE",
            "keyAlgorithm": "RSA-2048",
            "signingAlgorithm": "SHA256WITHRSAANDMGF1",
        }),
        ..Script::default()
    });
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_eq!(world.cloud.snapshot().status, "SUCCEEDED");
    world.assert_new_pair_installed();
    let key = std::fs::read_to_string(&world.device.private_key).unwrap();
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(world.cloud.snapshot().csr_signatures_valid, [true]);
}

#[test]
fn reexec_restart_mode_rotates() {
    let world = World::with_config(Script::default(), "[restart]\nmode = \"reexec\"\n");
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_eq!(world.cloud.snapshot().status, "SUCCEEDED", "{log}");
    assert!(log.contains("re-executing the agent"), "{log}");
    world.assert_new_pair_installed();
}

#[test]
fn command_restart_mode_rotates() {
    let marker = tempfile::NamedTempFile::new().unwrap();
    let extra = format!(
        "[restart]\nmode = \"command\"\ncommand = [\"sh\", \"-c\", \"echo restarted >> {}\"]\n",
        marker.path().display()
    );
    let world = World::with_config(Script::default(), &extra);
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_eq!(world.cloud.snapshot().status, "SUCCEEDED", "{log}");
    assert_eq!(
        std::fs::read_to_string(marker.path()).unwrap(),
        "restarted\n"
    );
    world.assert_new_pair_installed();
}

#[test]
fn failing_restart_command_rolls_back() {
    let world = World::with_config(
        Script::default(),
        "[restart]\nmode = \"command\"\ncommand = [\"false\"]\n",
    );
    let (status, log) = world.run_agent(None);
    assert!(status.success(), "{log}");
    assert_failed(&world, "RESTART_FAILED");
    world.assert_old_pair_restored();
}
