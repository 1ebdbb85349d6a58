//! Table tests of the state machine: every phase against every event.

use super::*;

const THING: &str = "core-1";

fn settings() -> Settings {
    Settings {
        topics: Topics::new("awslabs", THING).unwrap(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        signing_algorithm: SigningAlgorithm::Sha256WithEcdsa,
        activation: Activation::Reconnect,
        jobs_timeout: Duration::from_secs(5),
        create_timeout: Duration::from_secs(60),
        commit_timeout: Duration::from_secs(30),
        reconnect_delay: Duration::from_secs(1),
        jobs_retries: 2,
        create_retries: 2,
        commit_retries: 2,
        connect_attempts: 2,
    }
}

fn job() -> Job {
    Job {
        job_id: "job-1".into(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        signing_algorithm: SigningAlgorithm::Sha256WithEcdsa,
    }
}

fn failed(reason: DeviceFailureReason) -> Outcome {
    Outcome::Failed { reason }
}

/// One machine per phase, online, as the table's rows name them.
fn phases() -> Vec<(&'static str, Phase)> {
    vec![
        ("idle", Phase::Idle),
        ("getting-job", Phase::GettingJob),
        ("accepting", Phase::Accepting { job: job() }),
        ("generating", Phase::Generating { job: job() }),
        (
            "creating",
            Phase::Creating {
                job: job(),
                csr: "CSR".into(),
            },
        ),
        (
            "checking",
            Phase::Checking {
                job: job(),
                certificate_pem: "CERT".into(),
            },
        ),
        (
            "backing-up",
            Phase::BackingUp {
                job: job(),
                certificate_pem: "CERT".into(),
            },
        ),
        (
            "installing",
            Phase::Installing {
                job: job(),
                certificate_pem: "CERT".into(),
            },
        ),
        ("activating", Phase::Activating { job: job() }),
        ("committing", Phase::Committing { job: job() }),
        ("committed", Phase::Committed { job: job() }),
        (
            "rolling-back",
            Phase::RollingBack {
                job_id: "job-1".into(),
                reason: DeviceFailureReason::CommitRejected,
                activated: true,
            },
        ),
        (
            "reporting",
            Phase::Reporting {
                job_id: "job-1".into(),
                outcome: failed(DeviceFailureReason::CreateRejected),
            },
        ),
    ]
}

fn online(phase: Phase) -> Machine {
    let mut machine = Machine::new(settings());
    machine.phase = phase;
    machine.online = true;
    machine
}

fn jobs_topic(tail: &str) -> String {
    format!("$aws/things/{THING}/jobs/{tail}")
}

fn cert_topic(tail: &str) -> String {
    format!("awslabs/things/{THING}/certificate/{tail}")
}

fn message(topic: String, payload: &str) -> Event {
    Event::Message {
        topic,
        payload: payload.as_bytes().to_vec(),
    }
}

const QUEUED_ROTATION: &str = r#"{"timestamp":1,"execution":{"jobId":"job-1","status":"QUEUED","queuedAt":1,"versionNumber":1,"executionNumber":1,"jobDocument":{"operation":"ROTATE_CERTIFICATE"}}}"#;

/// Every event the machine accepts, named for the table.
fn events() -> Vec<(&'static str, Event)> {
    let error = || "boom".to_owned();
    vec![
        ("start", Event::Start),
        ("connected", Event::Connected),
        ("connect-failed", Event::ConnectFailed { error: error() }),
        ("disconnected", Event::Disconnected { error: error() }),
        ("timeout-reply", Event::Timeout(Timer::Reply)),
        ("timeout-reconnect", Event::Timeout(Timer::Reconnect)),
        ("csr-ready", Event::CsrReady { csr: "CSR".into() }),
        (
            "csr-failed",
            Event::CsrFailed {
                reason: DeviceFailureReason::KeyGenerationFailed,
                error: error(),
            },
        ),
        ("checked-ok", Event::CertificateChecked { error: None }),
        (
            "checked-bad",
            Event::CertificateChecked {
                error: Some(error()),
            },
        ),
        ("backed-up", Event::BackedUp),
        ("backup-failed", Event::BackupFailed { error: error() }),
        ("installed", Event::Installed),
        ("install-failed", Event::InstallFailed { error: error() }),
        ("restarted", Event::Restarted),
        ("restart-failed", Event::RestartFailed { error: error() }),
        ("committed-locally", Event::CommittedLocally),
        ("rolled-back", Event::RolledBack),
        ("rollback-failed", Event::RollbackFailed { error: error() }),
        (
            "notify-next",
            message(jobs_topic("notify-next"), QUEUED_ROTATION),
        ),
        (
            "get-accepted",
            message(jobs_topic("$next/get/accepted"), QUEUED_ROTATION),
        ),
        (
            "get-accepted-empty",
            message(jobs_topic("$next/get/accepted"), r#"{"timestamp":1}"#),
        ),
        (
            "get-rejected",
            message(
                jobs_topic("$next/get/rejected"),
                r#"{"code":"InvalidRequest"}"#,
            ),
        ),
        (
            "update-accepted",
            message(jobs_topic("job-1/update/accepted"), r#"{"timestamp":1}"#),
        ),
        (
            "update-rejected",
            message(
                jobs_topic("job-1/update/rejected"),
                r#"{"code":"InvalidStateTransition"}"#,
            ),
        ),
        (
            "update-accepted-other-job",
            message(jobs_topic("job-2/update/accepted"), r#"{"timestamp":1}"#),
        ),
        (
            "create-accepted",
            message(cert_topic("create/accepted"), r#"{"certificatePem":"PEM"}"#),
        ),
        (
            "create-accepted-malformed",
            message(cert_topic("create/accepted"), r#"{"certificatePem":7}"#),
        ),
        (
            "create-rejected",
            message(cert_topic("create/rejected"), r#"{"errorMsg":"no"}"#),
        ),
        (
            "commit-accepted",
            message(cert_topic("commit/accepted"), "{}"),
        ),
        (
            "commit-accepted-malformed",
            message(cert_topic("commit/accepted"), "not json"),
        ),
        (
            "commit-rejected",
            message(cert_topic("commit/rejected"), r#"{"errorMsg":"no"}"#),
        ),
        ("unknown-topic", message("other/topic".into(), "{}")),
    ]
}

/// A short, stable description of an action for the table.
fn describe(action: &Action) -> String {
    match action {
        Action::Record(step) => format!("record:{}", step.name()),
        Action::Connect { .. } => "connect".into(),
        Action::Restart => "restart".into(),
        Action::Publish { topic, .. } => {
            let tail = topic
                .strip_prefix(&format!("$aws/things/{THING}/jobs/"))
                .or_else(|| topic.strip_prefix(&format!("awslabs/things/{THING}/certificate/")))
                .unwrap_or(topic);
            format!("publish:{tail}")
        }
        Action::FailJob { reason, .. } => format!("fail:{reason}"),
        Action::GenerateKeyAndCsr { .. } => "generate".into(),
        Action::CheckCertificate { .. } => "check".into(),
        Action::BackUp => "backup".into(),
        Action::Install { .. } => "install".into(),
        Action::Commit => "commit".into(),
        Action::RollBack => "rollback".into(),
        Action::DiscardPending => "discard".into(),
        Action::StartTimer { timer, .. } => format!("timer:{timer:?}").to_lowercase(),
        Action::CancelTimer(timer) => format!("cancel:{timer:?}").to_lowercase(),
    }
}

fn describe_all(actions: &[Action]) -> String {
    actions.iter().map(describe).collect::<Vec<_>>().join(" ")
}

/// What ending a job emits: the idle record, the pending key's deletion, the next request.
const NEXT_JOB: &str = "cancel:reply record:idle discard publish:$next/get timer:reply";

const REPORT_FAILED: &str = "cancel:reply record:reporting fail:{} timer:reply discard";

fn report_failed(reason: &str) -> String {
    REPORT_FAILED.replace("{}", reason)
}

/// (phase, event, next phase, actions). Any pair not listed must leave the phase unchanged and
/// emit no action, except the connection events, which every phase handles alike (checked in
/// `every_phase_against_every_event`).
fn table() -> Vec<(&'static str, &'static str, &'static str, String)> {
    let s = |text: &str| text.to_owned();
    let to_accepting = s("cancel:reply record:started publish:job-1/update timer:reply");
    let rollback = s("cancel:reply record:rollingBack rollback");
    vec![
        // Start: connect, or first finish the file step the journal was in.
        ("idle", "start", "idle", s("connect")),
        ("getting-job", "start", "getting-job", s("connect")),
        ("accepting", "start", "accepting", s("connect")),
        ("generating", "start", "accepting", s("connect")),
        ("creating", "start", "creating", s("connect")),
        (
            "checking",
            "start",
            "reporting",
            s("cancel:reply record:reporting discard connect"),
        ),
        ("backing-up", "start", "backing-up", s("backup")),
        ("installing", "start", "installing", s("install")),
        ("activating", "start", "activating", s("connect")),
        ("committing", "start", "committing", s("connect")),
        ("committed", "start", "committed", s("commit")),
        ("rolling-back", "start", "rolling-back", s("rollback")),
        ("reporting", "start", "reporting", s("connect")),
        // Connected: send whatever the phase waits on.
        (
            "idle",
            "connected",
            "getting-job",
            s("cancel:reconnect publish:$next/get timer:reply"),
        ),
        (
            "getting-job",
            "connected",
            "getting-job",
            s("cancel:reconnect publish:$next/get timer:reply"),
        ),
        (
            "accepting",
            "connected",
            "accepting",
            s("cancel:reconnect publish:job-1/update timer:reply"),
        ),
        (
            "generating",
            "connected",
            "generating",
            s("cancel:reconnect"),
        ),
        (
            "creating",
            "connected",
            "creating",
            s("cancel:reconnect publish:create timer:reply"),
        ),
        ("checking", "connected", "checking", s("cancel:reconnect")),
        (
            "backing-up",
            "connected",
            "backing-up",
            s("cancel:reconnect"),
        ),
        (
            "installing",
            "connected",
            "installing",
            s("cancel:reconnect"),
        ),
        (
            "activating",
            "connected",
            "committing",
            s("cancel:reconnect record:committing publish:commit timer:reply"),
        ),
        (
            "committing",
            "connected",
            "committing",
            s("cancel:reconnect publish:commit timer:reply"),
        ),
        ("committed", "connected", "committed", s("cancel:reconnect")),
        (
            "rolling-back",
            "connected",
            "rolling-back",
            s("cancel:reconnect"),
        ),
        (
            "reporting",
            "connected",
            "reporting",
            s("cancel:reconnect fail:CREATE_REJECTED timer:reply"),
        ),
        // Reply timeouts: ask again.
        (
            "getting-job",
            "timeout-reply",
            "getting-job",
            s("publish:$next/get timer:reply"),
        ),
        (
            "accepting",
            "timeout-reply",
            "accepting",
            s("publish:job-1/update timer:reply"),
        ),
        (
            "creating",
            "timeout-reply",
            "creating",
            s("publish:create timer:reply"),
        ),
        (
            "committing",
            "timeout-reply",
            "committing",
            s("publish:commit timer:reply"),
        ),
        (
            "reporting",
            "timeout-reply",
            "reporting",
            s("fail:CREATE_REJECTED timer:reply"),
        ),
        (
            "rolling-back",
            "timeout-reply",
            "rolling-back",
            s("rollback"),
        ),
        // Action results.
        (
            "generating",
            "csr-ready",
            "creating",
            s("record:csrCreated publish:create timer:reply"),
        ),
        (
            "generating",
            "csr-failed",
            "reporting",
            report_failed("KEY_GENERATION_FAILED"),
        ),
        (
            "checking",
            "checked-ok",
            "backing-up",
            s("record:backingUp backup"),
        ),
        (
            "checking",
            "checked-bad",
            "reporting",
            report_failed("CERTIFICATE_INVALID"),
        ),
        (
            "backing-up",
            "backed-up",
            "installing",
            s("record:installing install"),
        ),
        (
            "backing-up",
            "backup-failed",
            "rolling-back",
            rollback.clone(),
        ),
        (
            "installing",
            "installed",
            "activating",
            s("record:installed connect"),
        ),
        (
            "installing",
            "install-failed",
            "rolling-back",
            rollback.clone(),
        ),
        ("activating", "restarted", "activating", s("connect")),
        (
            "activating",
            "restart-failed",
            "rolling-back",
            rollback.clone(),
        ),
        ("reporting", "restarted", "reporting", s("connect")),
        ("reporting", "restart-failed", "reporting", s("connect")),
        (
            "committed",
            "committed-locally",
            "reporting",
            s("record:reporting publish:job-1/update timer:reply"),
        ),
        (
            "rolling-back",
            "rolled-back",
            "reporting",
            s("record:reporting discard connect"),
        ),
        (
            "rolling-back",
            "rollback-failed",
            "rolling-back",
            s("timer:reply"),
        ),
        // Messages.
        ("idle", "notify-next", "accepting", to_accepting.clone()),
        ("idle", "get-accepted", "accepting", to_accepting.clone()),
        (
            "getting-job",
            "notify-next",
            "accepting",
            to_accepting.clone(),
        ),
        (
            "getting-job",
            "get-accepted",
            "accepting",
            to_accepting.clone(),
        ),
        (
            "getting-job",
            "get-accepted-empty",
            "idle",
            s("cancel:reply"),
        ),
        ("getting-job", "get-rejected", "idle", s("cancel:reply")),
        (
            "accepting",
            "update-accepted",
            "generating",
            s("cancel:reply generate"),
        ),
        ("accepting", "update-rejected", "getting-job", s(NEXT_JOB)),
        (
            "creating",
            "create-accepted",
            "checking",
            s("cancel:reply check"),
        ),
        (
            "creating",
            "create-accepted-malformed",
            "reporting",
            report_failed("CERTIFICATE_INVALID"),
        ),
        (
            "creating",
            "create-rejected",
            "reporting",
            report_failed("CREATE_REJECTED"),
        ),
        (
            "committing",
            "commit-accepted",
            "committed",
            s("cancel:reply record:committed commit"),
        ),
        ("committing", "commit-rejected", "rolling-back", rollback),
        ("reporting", "update-accepted", "getting-job", s(NEXT_JOB)),
        ("reporting", "update-rejected", "getting-job", s(NEXT_JOB)),
    ]
}

#[test]
fn every_phase_against_every_event() {
    let table = table();
    let phase_names: Vec<_> = phases().into_iter().map(|(name, _)| name).collect();
    let event_names: Vec<_> = events().into_iter().map(|(name, _)| name).collect();
    for (phase, event, _, _) in &table {
        assert!(phase_names.contains(phase), "unknown phase {phase}");
        assert!(event_names.contains(event), "unknown event {event}");
    }
    for (phase_name, phase) in phases() {
        for (event_name, event) in events() {
            let mut machine = online(phase.clone());
            let actions = machine.handle(event);
            let got_actions = describe_all(&actions);
            let got_phase = machine.phase().name();
            let row = table
                .iter()
                .find(|(p, e, _, _)| *p == phase_name && *e == event_name);
            let (want_phase, want_actions) = match row {
                Some((_, _, next, actions)) => (*next, actions.clone()),
                None if matches!(event_name, "connect-failed" | "disconnected") => {
                    (phase_name, "cancel:reply timer:reconnect".to_owned())
                }
                None => (phase_name, String::new()),
            };
            assert_eq!(
                got_phase, want_phase,
                "{phase_name} × {event_name}: next phase"
            );
            assert_eq!(
                got_actions, want_actions,
                "{phase_name} × {event_name}: actions"
            );
            if row.is_none() {
                assert_eq!(machine.phase(), &phase, "{phase_name} × {event_name}");
            }
        }
    }
}

#[test]
fn happy_path_records_steps_first() {
    let mut machine = Machine::new(settings());
    let mut log = Vec::new();
    let mut step = |machine: &mut Machine, event: Event| {
        let actions = machine.handle(event);
        log.push(describe_all(&actions));
        actions
    };
    step(&mut machine, Event::Start);
    step(&mut machine, Event::Connected);
    step(
        &mut machine,
        message(jobs_topic("$next/get/accepted"), QUEUED_ROTATION),
    );
    step(
        &mut machine,
        message(jobs_topic("job-1/update/accepted"), "{}"),
    );
    let create = step(&mut machine, Event::CsrReady { csr: "CSR".into() });
    let Action::Publish { topic, payload } = &create[1] else {
        panic!("expected the create request, got {create:?}");
    };
    assert_eq!(topic, "awslabs/things/core-1/certificate/create");
    assert_eq!(payload, r#"{"jobId":"job-1","csr":"CSR"}"#);
    step(
        &mut machine,
        message(cert_topic("create/accepted"), r#"{"certificatePem":"PEM"}"#),
    );
    step(&mut machine, Event::CertificateChecked { error: None });
    step(&mut machine, Event::BackedUp);
    step(&mut machine, Event::Installed);
    let commit = step(&mut machine, Event::Connected);
    assert!(commit.contains(&Action::Publish {
        topic: cert_topic("commit"),
        payload: r#"{"jobId":"job-1"}"#.into(),
    }));
    step(&mut machine, message(cert_topic("commit/accepted"), "{}"));
    let report = step(&mut machine, Event::CommittedLocally);
    assert!(report.contains(&Action::Publish {
        topic: jobs_topic("job-1/update"),
        payload: r#"{"status":"SUCCEEDED","statusDetails":{"CertificateRotator":"true"}}"#.into(),
    }));
    step(
        &mut machine,
        message(jobs_topic("job-1/update/accepted"), "{}"),
    );
    assert_eq!(machine.phase(), &Phase::GettingJob);
    assert_eq!(
        log,
        [
            "connect",
            "cancel:reconnect publish:$next/get timer:reply",
            "cancel:reply record:started publish:job-1/update timer:reply",
            "cancel:reply generate",
            "record:csrCreated publish:create timer:reply",
            "cancel:reply check",
            "record:backingUp backup",
            "record:installing install",
            "record:installed connect",
            "cancel:reconnect record:committing publish:commit timer:reply",
            "cancel:reply record:committed commit",
            "record:reporting publish:job-1/update timer:reply",
            NEXT_JOB,
        ]
    );
}

#[test]
fn in_progress_update_uses_string_details() {
    let mut machine = online(Phase::GettingJob);
    let actions = machine.handle(message(jobs_topic("notify-next"), QUEUED_ROTATION));
    assert!(actions.contains(&Action::Publish {
        topic: jobs_topic("job-1/update"),
        payload: r#"{"status":"IN_PROGRESS","statusDetails":{"CertificateRotator":"true"}}"#.into(),
    }));
}

#[test]
fn create_is_asked_again_then_times_out() {
    let mut machine = online(Phase::Creating {
        job: job(),
        csr: "CSR".into(),
    });
    for _ in 0..settings().create_retries {
        let actions = describe_all(&machine.handle(Event::Timeout(Timer::Reply)));
        assert_eq!(actions, "publish:create timer:reply");
    }
    let actions = describe_all(&machine.handle(Event::Timeout(Timer::Reply)));
    assert_eq!(actions, report_failed("CREATE_TIMED_OUT"));
    assert_eq!(
        machine.phase(),
        &Phase::Reporting {
            job_id: "job-1".into(),
            outcome: failed(DeviceFailureReason::CreateTimedOut)
        }
    );
}

#[test]
fn commit_is_asked_again_then_rolls_back() {
    let mut machine = online(Phase::Committing { job: job() });
    for _ in 0..settings().commit_retries {
        machine.handle(Event::Timeout(Timer::Reply));
    }
    let actions = machine.handle(Event::Timeout(Timer::Reply));
    assert_eq!(
        actions[1],
        Action::Record(Step::RollingBack {
            job_id: "job-1".into(),
            reason: DeviceFailureReason::CommitTimedOut,
            activated: true,
        })
    );
    let actions = describe_all(&machine.handle(Event::RolledBack));
    assert_eq!(actions, "record:reporting discard connect");
    let actions = describe_all(&machine.handle(Event::Connected));
    assert_eq!(
        actions,
        "cancel:reconnect fail:COMMIT_TIMED_OUT timer:reply"
    );
}

#[test]
fn late_reply_after_resend_is_used() {
    let mut machine = online(Phase::Creating {
        job: job(),
        csr: "CSR".into(),
    });
    machine.handle(Event::Timeout(Timer::Reply));
    let actions = machine.handle(message(
        cert_topic("create/accepted"),
        r#"{"certificatePem":"PEM"}"#,
    ));
    assert_eq!(describe_all(&actions), "cancel:reply check");
    // A duplicate reply to the resent request changes nothing.
    let actions = machine.handle(message(
        cert_topic("create/accepted"),
        r#"{"certificatePem":"OTHER"}"#,
    ));
    assert!(actions.is_empty());
    assert_eq!(machine.phase().name(), "checking");
}

#[test]
fn new_pair_connection_failures_are_bounded() {
    let mut machine = Machine::resume(settings(), Step::Installed { job: job() });
    assert_eq!(describe_all(&machine.handle(Event::Start)), "connect");
    let actions = machine.handle(Event::ConnectFailed {
        error: "bad certificate".into(),
    });
    assert_eq!(describe_all(&actions), "cancel:reply timer:reconnect");
    assert_eq!(
        describe_all(&machine.handle(Event::Timeout(Timer::Reconnect))),
        "connect"
    );
    let actions = machine.handle(Event::ConnectFailed {
        error: "bad certificate".into(),
    });
    assert_eq!(
        describe_all(&actions),
        "cancel:reply cancel:reply record:rollingBack rollback"
    );
    assert_eq!(
        machine.phase(),
        &Phase::RollingBack {
            job_id: "job-1".into(),
            reason: DeviceFailureReason::ConnectionFailed,
            activated: true
        }
    );
}

#[test]
fn old_pair_connection_failures_retry_forever() {
    let mut machine = Machine::new(settings());
    machine.handle(Event::Start);
    for _ in 0..10 {
        let actions = machine.handle(Event::ConnectFailed {
            error: "refused".into(),
        });
        assert_eq!(describe_all(&actions), "cancel:reply timer:reconnect");
        assert_eq!(
            describe_all(&machine.handle(Event::Timeout(Timer::Reconnect))),
            "connect"
        );
    }
    assert_eq!(machine.phase(), &Phase::Idle);
}

#[test]
fn restart_activation_restarts_instead_of_reconnecting() {
    let mut settings = settings();
    settings.activation = Activation::Restart;
    let mut machine = Machine::resume(
        settings,
        Step::Installing {
            job: job(),
            certificate_pem: "C".into(),
        },
    );
    assert_eq!(describe_all(&machine.handle(Event::Start)), "install");
    assert_eq!(
        describe_all(&machine.handle(Event::Installed)),
        "record:installed restart"
    );
}

#[test]
fn resume_continues_each_journaled_step() {
    let cases = [
        (Step::Idle, "connect", "getting-job"),
        (Step::Started { job: job() }, "connect", "accepting"),
        (
            Step::CsrCreated {
                job: job(),
                csr: "CSR".into(),
            },
            "connect",
            "creating",
        ),
        (Step::Installed { job: job() }, "connect", "committing"),
        (Step::Committing { job: job() }, "connect", "committing"),
        (
            Step::Reporting {
                job_id: "job-1".into(),
                outcome: Outcome::Succeeded,
            },
            "connect",
            "reporting",
        ),
    ];
    for (step, start, after_connect) in cases {
        let name = step.name();
        let mut machine = Machine::resume(settings(), step);
        assert_eq!(describe_all(&machine.handle(Event::Start)), start, "{name}");
        machine.handle(Event::Connected);
        assert_eq!(machine.phase().name(), after_connect, "{name}");
    }
}

#[test]
fn resumed_csr_is_sent_again_unchanged() {
    let mut machine = Machine::resume(
        settings(),
        Step::CsrCreated {
            job: job(),
            csr: "SAME CSR".into(),
        },
    );
    machine.handle(Event::Start);
    let actions = machine.handle(Event::Connected);
    assert!(actions.contains(&Action::Publish {
        topic: cert_topic("create"),
        payload: r#"{"jobId":"job-1","csr":"SAME CSR"}"#.into(),
    }));
}

fn queued(document: &str) -> String {
    format!(r#"{{"execution":{{"jobId":"job-1","status":"QUEUED","jobDocument":{document}}}}}"#)
}

#[test]
fn job_document_chooses_algorithms() {
    let cases = [
        (
            r#"{"operation":"ROTATE_CERTIFICATE"}"#,
            KeyAlgorithm::EcdsaP256,
            SigningAlgorithm::Sha256WithEcdsa,
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"RSA-3072"}"#,
            KeyAlgorithm::Rsa3072,
            SigningAlgorithm::Sha256WithRsa,
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"ECDSA-P384"}"#,
            KeyAlgorithm::EcdsaP384,
            SigningAlgorithm::Sha256WithEcdsa,
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"RSA-2048","signingAlgorithm":"SHA512WITHRSAANDMGF1"}"#,
            KeyAlgorithm::Rsa2048,
            SigningAlgorithm::Sha512WithRsaPss,
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","signingAlgorithm":"SHA384WITHECDSA"}"#,
            KeyAlgorithm::EcdsaP256,
            SigningAlgorithm::Sha384WithEcdsa,
        ),
    ];
    for (document, key, signing) in cases {
        let mut machine = online(Phase::GettingJob);
        machine.handle(message(jobs_topic("$next/get/accepted"), &queued(document)));
        let Phase::Accepting { job } = machine.phase() else {
            panic!("{document}: expected accepting, got {:?}", machine.phase());
        };
        assert_eq!(job.key_algorithm, key, "{document}");
        assert_eq!(job.signing_algorithm, signing, "{document}");
    }
}

#[test]
fn bad_job_documents_fail_the_job() {
    let cases = [
        (
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"DSA-1024"}"#,
            "INVALID_JOB_DOCUMENT",
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"RSA-2048","signingAlgorithm":"SHA256WITHECDSA"}"#,
            "INVALID_JOB_DOCUMENT",
        ),
        (
            r#"{"operation":"ROTATE_CERTIFICATE","signingAlgorithm":"SHA256WITHRSA"}"#,
            "CONFIGURATION_ERROR",
        ),
    ];
    for (document, reason) in cases {
        let mut machine = online(Phase::GettingJob);
        let actions = machine.handle(message(jobs_topic("notify-next"), &queued(document)));
        assert_eq!(
            describe_all(&actions),
            format!("cancel:reply {}", report_failed(reason)),
            "{document}"
        );
    }
}

#[test]
fn other_jobs_and_bad_messages_are_ignored() {
    let payloads = [
        queued(r#"{"operation":"REBOOT"}"#),
        queued(r#""ROTATE_CERTIFICATE""#),
        r#"{"execution":{"jobId":7}}"#.to_owned(),
        "".to_owned(),
        "{".to_owned(),
        "[]".to_owned(),
        r#"{"execution":"x"}"#.to_owned(),
    ];
    for payload in payloads {
        let mut machine = online(Phase::Idle);
        let actions = machine.handle(message(jobs_topic("notify-next"), &payload));
        assert!(actions.is_empty(), "{payload}: {actions:?}");
        assert_eq!(machine.phase(), &Phase::Idle, "{payload}");
    }
}

#[test]
fn job_in_progress_without_journal_fails_interrupted() {
    let mut machine = online(Phase::GettingJob);
    let payload = r#"{"execution":{"jobId":"job-1","status":"IN_PROGRESS","jobDocument":{"operation":"ROTATE_CERTIFICATE"}}}"#;
    let actions = machine.handle(message(jobs_topic("$next/get/accepted"), payload));
    assert_eq!(
        describe_all(&actions),
        format!("cancel:reply {}", report_failed("INTERRUPTED"))
    );
}

#[test]
fn bad_reply_payloads_take_the_failure_path() {
    let huge = format!(
        r#"{{"certificatePem":"{}"}}"#,
        "A".repeat(MAX_PAYLOAD_BYTES)
    );
    let cases = [
        ("create/accepted", "".to_owned(), "CERTIFICATE_INVALID"),
        ("create/accepted", "{".to_owned(), "CERTIFICATE_INVALID"),
        ("create/accepted", "{}".to_owned(), "CERTIFICATE_INVALID"),
        ("create/accepted", "[1]".to_owned(), "CERTIFICATE_INVALID"),
        ("create/accepted", huge, "CERTIFICATE_INVALID"),
        ("create/rejected", "".to_owned(), "CREATE_REJECTED"),
        ("create/rejected", "not json".to_owned(), "CREATE_REJECTED"),
    ];
    for (tail, payload, reason) in cases {
        let mut machine = online(Phase::Creating {
            job: job(),
            csr: "CSR".into(),
        });
        let actions = machine.handle(message(cert_topic(tail), &payload));
        assert_eq!(
            describe_all(&actions),
            report_failed(reason),
            "{tail} with {} bytes",
            payload.len()
        );
    }
}

#[test]
fn bad_commit_accepted_waits_for_a_valid_reply() {
    for payload in ["", "[]", "\"x\"", "{"] {
        let mut machine = online(Phase::Committing { job: job() });
        let actions = machine.handle(message(cert_topic("commit/accepted"), payload));
        assert!(actions.is_empty(), "{payload:?}");
        assert_eq!(machine.phase().name(), "committing");
    }
}

#[test]
fn other_job_replies_are_ignored() {
    let mut machine = online(Phase::Accepting { job: job() });
    for tail in [
        "job-2/update/accepted",
        "job-2/update/rejected",
        "a/b/update/accepted",
    ] {
        let actions = machine.handle(message(jobs_topic(tail), "{}"));
        assert!(actions.is_empty(), "{tail}");
    }
    assert_eq!(machine.phase().name(), "accepting");
}

#[test]
fn jobs_timeouts_give_up_after_retries() {
    let mut machine = online(Phase::Accepting { job: job() });
    for _ in 0..settings().jobs_retries {
        machine.handle(Event::Timeout(Timer::Reply));
    }
    let actions = machine.handle(Event::Timeout(Timer::Reply));
    assert_eq!(describe_all(&actions), NEXT_JOB);
    assert_eq!(machine.phase(), &Phase::GettingJob);
}

#[test]
fn default_signatures_match_key_family() {
    for key in KeyAlgorithm::ALL {
        assert!(
            default_signing_algorithm(key).check_key(key).is_ok(),
            "{key}"
        );
    }
}

#[test]
fn resumed_commit_reports_after_connecting() {
    let mut machine = Machine::resume(settings(), Step::Committed { job: job() });
    assert_eq!(describe_all(&machine.handle(Event::Start)), "commit");
    assert_eq!(
        describe_all(&machine.handle(Event::CommittedLocally)),
        "record:reporting connect"
    );
    assert_eq!(
        describe_all(&machine.handle(Event::Connected)),
        "cancel:reconnect publish:job-1/update timer:reply"
    );
}

#[test]
fn resumed_rollback_reports_after_connecting() {
    let mut machine = Machine::resume(
        settings(),
        Step::RollingBack {
            job_id: "job-1".into(),
            reason: DeviceFailureReason::InstallFailed,
            activated: false,
        },
    );
    assert_eq!(describe_all(&machine.handle(Event::Start)), "rollback");
    assert_eq!(
        describe_all(&machine.handle(Event::RolledBack)),
        "record:reporting discard connect"
    );
    assert_eq!(
        describe_all(&machine.handle(Event::Connected)),
        "cancel:reconnect fail:INSTALL_FAILED timer:reply"
    );
}
