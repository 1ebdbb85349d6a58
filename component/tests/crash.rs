//! Crash safety: the agent binary kills itself with SIGKILL right after each journal step
//! reaches the disk (through `ROTATOR_AGENT_CRASH_AFTER_STEP`), then runs again. Each run must
//! end with a matching pair on disk that the broker accepts and the job in a terminal state.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use common::{CommitReply, CreateReply, Script, World};
use rotator_agent::store::PairPaths;

fn pair_at(world: &World, which: &str) -> PairPaths {
    let files = &world.journal()["files"][which];
    PairPaths {
        certificate: PathBuf::from(files["certificate"].as_str().unwrap()),
        private_key: PathBuf::from(files["privateKey"].as_str().unwrap()),
    }
}

/// Checks that the pair the journal names as working is on disk and matches.
fn assert_journal_names_working_pair(world: &World, step: &str) {
    let journal = world.journal();
    assert_eq!(journal["state"]["step"], step, "journal: {journal}");
    assert_eq!(journal["thingName"], common::THING);
    let backup = pair_at(world, "backup");
    let working = match journal["workingPair"].as_str().unwrap() {
        "live" => pair_at(world, "live"),
        "backup" => backup,
        "backupIfComplete" if backup.certificate.exists() && backup.private_key.exists() => backup,
        "backupIfComplete" => pair_at(world, "live"),
        other => panic!("unknown working pair {other}"),
    };
    common::assert_pair_matches(&working);
}

fn crash_then_recover(script: Script, step: &str, expected_status: &str) {
    eprintln!("crashing after the {step} step");
    let world = World::new(script);
    let (status, log) = world.run_agent(Some(step));
    assert_eq!(
        status.signal(),
        Some(9),
        "expected SIGKILL after {step}: {log}"
    );
    assert_journal_names_working_pair(&world, step);

    let (status, log) = world.run_agent(None);
    assert!(status.success(), "recovery after {step} failed: {log}");
    let state = world.cloud.snapshot();
    assert_eq!(
        state.status, expected_status,
        "after {step}: {:?}\n{log}",
        state.updates
    );
    common::assert_pair_matches(&world.device);
    assert!(
        world.can_connect(&world.device),
        "after {step}: live pair refused"
    );
    if expected_status == "SUCCEEDED" {
        world.assert_new_pair_installed();
    } else {
        world.assert_old_pair_restored();
    }
    assert_eq!(world.journal()["state"]["step"], "idle");
}

#[test]
fn crash_at_each_step_of_a_rotation() {
    for step in [
        "started",
        "csrCreated",
        "backingUp",
        "installing",
        "installed",
        "committing",
        "committed",
        "reporting",
    ] {
        crash_then_recover(Script::default(), step, "SUCCEEDED");
    }
}

#[test]
fn crash_at_each_step_of_a_rollback() {
    let reject = || Script {
        commit: CommitReply::Reject,
        ..Script::default()
    };
    for step in ["installed", "committing", "rollingBack", "reporting"] {
        crash_then_recover(reject(), step, "FAILED");
    }
}

#[test]
fn crash_with_untrusted_certificate_rolls_back() {
    let script = || Script {
        create: CreateReply::SignUntrusted,
        ..Script::default()
    };
    for step in ["installing", "installed", "rollingBack"] {
        crash_then_recover(script(), step, "FAILED");
    }
}

#[test]
fn crash_after_job_end_stays_idle() {
    let world = World::new(Script::default());
    let (status, log) = world.run_agent(Some("idle"));
    assert_eq!(status.signal(), Some(9), "{log}");
    assert_eq!(world.cloud.snapshot().status, "SUCCEEDED");
    world.assert_new_pair_installed();

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
    assert_eq!(world.cloud.snapshot().csrs.len(), 1);
    world.assert_new_pair_installed();
}

#[test]
fn crash_with_duplicated_and_dropped_replies() {
    let script = || Script {
        duplicate_replies: true,
        drop_first_creates: 1,
        drop_first_commits: 1,
        ..Script::default()
    };
    for step in ["csrCreated", "installed", "committing", "committed"] {
        crash_then_recover(script(), step, "SUCCEEDED");
    }
}
