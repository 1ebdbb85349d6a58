//! The rotation state machine.
//!
//! It performs no I/O: the runner feeds it events (start, connection results, MQTT messages,
//! timer expiries and the results of the actions it asked for) and executes the actions it
//! returns, in order. Every `Action::Record` comes before the side effect it protects, so the
//! runner writes the journal entry (with fsync) before it touches the network or the disk.

use std::time::Duration;

use rotator_protocol::payload::MAX_PAYLOAD_BYTES;
use rotator_protocol::{
    CreateAccepted, CreateRequest, DeviceFailureReason, JobDocument, JobExecutionStatus,
    JobExecutionUpdate, KeyAlgorithm, ROTATE_CERTIFICATE, Rejected, SigningAlgorithm, Topics,
};
use serde::{Deserialize, Serialize};

/// The method for putting a newly installed pair to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// The agent drops its MQTT connection and connects again with the new pair.
    Reconnect,
    /// The agent runs its restarter (a command, or a re-exec of itself).
    Restart,
}

/// Everything the machine needs to know about its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub topics: Topics,
    pub key_algorithm: KeyAlgorithm,
    pub signing_algorithm: SigningAlgorithm,
    pub activation: Activation,
    /// Wait for a reply from the Jobs API before asking again.
    pub jobs_timeout: Duration,
    /// Wait for `create/accepted` or `create/rejected` before sending the CSR again.
    pub create_timeout: Duration,
    /// Wait for `commit/accepted` or `commit/rejected` before sending the commit again.
    pub commit_timeout: Duration,
    /// Pause between connection attempts.
    pub reconnect_delay: Duration,
    /// Requests sent again to the Jobs API after the first one, before giving up.
    pub jobs_retries: u32,
    /// CSRs sent again after the first one, before failing with `CREATE_TIMED_OUT`.
    pub create_retries: u32,
    /// Commits sent again after the first one, before rolling back with `COMMIT_TIMED_OUT`.
    pub commit_retries: u32,
    /// Failed connections with the new pair, before rolling back with `CONNECTION_FAILED`.
    pub connect_attempts: u32,
}

/// The two timers the machine uses. Starting a timer replaces the running one of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Waits for a reply to the last request.
    Reply,
    /// Waits before the next connection attempt.
    Reconnect,
}

/// The job being worked on and the algorithms chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    pub key_algorithm: KeyAlgorithm,
    pub signing_algorithm: SigningAlgorithm,
}

/// The final status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Succeeded,
    Failed { reason: DeviceFailureReason },
}

/// A journal step: what the agent is about to do, recorded before it does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "step",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    /// No job in progress; the live pair is the only one.
    Idle,
    /// The job was taken; `IN_PROGRESS` is being reported.
    Started { job: Job },
    /// The new key is in the pending file and this CSR is being sent.
    CsrCreated { job: Job, csr: String },
    /// The certificate passed its checks and the live pair is being copied to the backup.
    BackingUp { job: Job, certificate_pem: String },
    /// The backup is complete and the new pair is being written over the live one.
    Installing { job: Job, certificate_pem: String },
    /// The new pair is live and is being tried.
    Installed { job: Job },
    /// The new pair connected and the commit is being sent.
    Committing { job: Job },
    /// The backend committed the new certificate; the backup is being deleted.
    Committed { job: Job },
    /// The old pair is being restored from the backup.
    RollingBack {
        job_id: String,
        reason: DeviceFailureReason,
        /// Whether the new pair had been put to use, so the old one must be activated again.
        activated: bool,
    },
    /// The final job status is being reported.
    Reporting { job_id: String, outcome: Outcome },
}

impl Step {
    /// The step's name as it appears in the journal.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Idle => "idle",
            Step::Started { .. } => "started",
            Step::CsrCreated { .. } => "csrCreated",
            Step::BackingUp { .. } => "backingUp",
            Step::Installing { .. } => "installing",
            Step::Installed { .. } => "installed",
            Step::Committing { .. } => "committing",
            Step::Committed { .. } => "committed",
            Step::RollingBack { .. } => "rollingBack",
            Step::Reporting { .. } => "reporting",
        }
    }

    /// Every step name, in the order a successful rotation records them.
    pub const NAMES: [&'static str; 10] = [
        "started",
        "csrCreated",
        "backingUp",
        "installing",
        "installed",
        "committing",
        "committed",
        "reporting",
        "idle",
        "rollingBack",
    ];

    pub fn job_id(&self) -> Option<&str> {
        match self {
            Step::Idle => None,
            Step::Started { job }
            | Step::CsrCreated { job, .. }
            | Step::BackingUp { job, .. }
            | Step::Installing { job, .. }
            | Step::Installed { job }
            | Step::Committing { job }
            | Step::Committed { job } => Some(&job.job_id),
            Step::RollingBack { job_id, .. } | Step::Reporting { job_id, .. } => Some(job_id),
        }
    }
}

/// Inputs to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The agent started (fresh or resumed from its journal).
    Start,
    /// The transport connected with the live pair and subscribed to every topic.
    Connected,
    /// A connection attempt failed.
    ConnectFailed {
        error: String,
    },
    /// An established connection dropped.
    Disconnected {
        error: String,
    },
    /// A message arrived on a subscribed topic.
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    Timeout(Timer),
    /// The new key is in the pending file and this is its CSR.
    CsrReady {
        csr: String,
    },
    CsrFailed {
        reason: DeviceFailureReason,
        error: String,
    },
    /// The received certificate was checked against the pending key.
    CertificateChecked {
        error: Option<String>,
    },
    BackedUp,
    BackupFailed {
        error: String,
    },
    Installed,
    InstallFailed {
        error: String,
    },
    /// The restarter ran and this process is still alive.
    Restarted,
    RestartFailed {
        error: String,
    },
    /// The backup and the pending key were deleted after the commit.
    CommittedLocally,
    RolledBack,
    RollbackFailed {
        error: String,
    },
}

/// Outputs of the machine, executed by the runner in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write this step to the journal (with fsync) before anything that follows.
    Record(Step),
    /// Drop any connection, connect with the live pair and subscribe to these filters.
    Connect {
        subscriptions: Vec<String>,
    },
    /// Run the restarter so that the runtime picks up the live pair.
    Restart,
    Publish {
        topic: String,
        payload: String,
    },
    /// Report the job as `FAILED` with a reason.
    FailJob {
        job_id: String,
        reason: DeviceFailureReason,
    },
    /// Generate a key, store it in the pending file and build a CSR for it.
    GenerateKeyAndCsr {
        key_algorithm: KeyAlgorithm,
        signing_algorithm: SigningAlgorithm,
    },
    /// Check that the certificate carries the pending key, of this type.
    CheckCertificate {
        certificate_pem: String,
        key_algorithm: KeyAlgorithm,
    },
    /// Copy the live pair to the backup.
    BackUp,
    /// Write the certificate and the pending key over the live pair.
    Install {
        certificate_pem: String,
    },
    /// Delete the backup and the pending key: the new pair is final.
    Commit,
    /// Restore the live pair from a complete backup, then delete the backup.
    RollBack,
    /// Delete the pending key, which will not be used.
    DiscardPending,
    StartTimer {
        timer: Timer,
        after: Duration,
    },
    CancelTimer(Timer),
}

/// The machine's position, in memory. [`Step`] mirrors its persistent parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Idle,
    GettingJob,
    Accepting {
        job: Job,
    },
    Generating {
        job: Job,
    },
    Creating {
        job: Job,
        csr: String,
    },
    Checking {
        job: Job,
        certificate_pem: String,
    },
    BackingUp {
        job: Job,
        certificate_pem: String,
    },
    Installing {
        job: Job,
        certificate_pem: String,
    },
    Activating {
        job: Job,
    },
    Committing {
        job: Job,
    },
    Committed {
        job: Job,
    },
    RollingBack {
        job_id: String,
        reason: DeviceFailureReason,
        activated: bool,
    },
    Reporting {
        job_id: String,
        outcome: Outcome,
    },
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::GettingJob => "getting-job",
            Phase::Accepting { .. } => "accepting",
            Phase::Generating { .. } => "generating",
            Phase::Creating { .. } => "creating",
            Phase::Checking { .. } => "checking",
            Phase::BackingUp { .. } => "backing-up",
            Phase::Installing { .. } => "installing",
            Phase::Activating { .. } => "activating",
            Phase::Committing { .. } => "committing",
            Phase::Committed { .. } => "committed",
            Phase::RollingBack { .. } => "rolling-back",
            Phase::Reporting { .. } => "reporting",
        }
    }

    pub fn job_id(&self) -> Option<&str> {
        match self {
            Phase::Idle | Phase::GettingJob => None,
            Phase::Accepting { job }
            | Phase::Generating { job }
            | Phase::Creating { job, .. }
            | Phase::Checking { job, .. }
            | Phase::BackingUp { job, .. }
            | Phase::Installing { job, .. }
            | Phase::Activating { job }
            | Phase::Committing { job }
            | Phase::Committed { job } => Some(&job.job_id),
            Phase::RollingBack { job_id, .. } | Phase::Reporting { job_id, .. } => Some(job_id),
        }
    }

    fn from_step(step: Step) -> Self {
        match step {
            Step::Idle => Phase::Idle,
            Step::Started { job } => Phase::Accepting { job },
            Step::CsrCreated { job, csr } => Phase::Creating { job, csr },
            Step::BackingUp {
                job,
                certificate_pem,
            } => Phase::BackingUp {
                job,
                certificate_pem,
            },
            Step::Installing {
                job,
                certificate_pem,
            } => Phase::Installing {
                job,
                certificate_pem,
            },
            Step::Installed { job } => Phase::Activating { job },
            Step::Committing { job } => Phase::Committing { job },
            Step::Committed { job } => Phase::Committed { job },
            Step::RollingBack {
                job_id,
                reason,
                activated,
            } => Phase::RollingBack {
                job_id,
                reason,
                activated,
            },
            Step::Reporting { job_id, outcome } => Phase::Reporting { job_id, outcome },
        }
    }

    /// Whether the live pair is the new, uncommitted one, so a failing connection means the
    /// new certificate does not work.
    fn on_new_pair(&self) -> bool {
        matches!(self, Phase::Activating { .. } | Phase::Committing { .. })
    }
}

/// The topics a message can arrive on, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inbound {
    NotifyNext,
    GetAccepted,
    GetRejected,
    UpdateAccepted(String),
    UpdateRejected(String),
    CreateAccepted,
    CreateRejected,
    CommitAccepted,
    CommitRejected,
    Unknown,
}

/// A job execution as the Jobs API sends it in `get/accepted` and `notify-next`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Execution {
    job_id: String,
    status: JobExecutionStatus,
    #[serde(default)]
    job_document: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct ExecutionMessage {
    #[serde(default)]
    execution: Option<Execution>,
}

/// The rotation state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    settings: Settings,
    phase: Phase,
    online: bool,
    /// Requests sent again in the current phase.
    attempts: u32,
    /// Failed connections with the new pair in the current job.
    connect_failures: u32,
}

impl Machine {
    /// A machine with no job in progress.
    pub fn new(settings: Settings) -> Self {
        Self::resume(settings, Step::Idle)
    }

    /// A machine that continues from the last journal step.
    pub fn resume(settings: Settings, step: Step) -> Self {
        Self {
            settings,
            phase: Phase::from_step(step),
            online: false,
            attempts: 0,
            connect_failures: 0,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Applies one event and returns the actions to execute, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Start => self.on_start(&mut actions),
            Event::Connected => self.on_connected(&mut actions),
            Event::ConnectFailed { error } | Event::Disconnected { error } => {
                self.on_connection_lost(&error, &mut actions)
            }
            Event::Message { topic, payload } => self.on_message(&topic, &payload, &mut actions),
            Event::Timeout(Timer::Reconnect) => {
                if !self.online {
                    actions.push(self.connect());
                }
            }
            Event::Timeout(Timer::Reply) => self.on_reply_timeout(&mut actions),
            result => self.on_result(result, &mut actions),
        }
        actions
    }

    fn on_start(&mut self, actions: &mut Vec<Action>) {
        self.online = false;
        match &self.phase {
            Phase::BackingUp { .. } => actions.push(Action::BackUp),
            Phase::Installing {
                certificate_pem, ..
            } => actions.push(Action::Install {
                certificate_pem: certificate_pem.clone(),
            }),
            Phase::Committed { .. } => actions.push(Action::Commit),
            Phase::RollingBack { .. } => actions.push(Action::RollBack),
            // A restart while generating or checking lost the in-memory result: start over
            // from the journal's view of the same step.
            Phase::Generating { job } => {
                self.phase = Phase::Accepting { job: job.clone() };
                actions.push(self.connect());
            }
            Phase::Checking { job, .. } => {
                self.fail_before_install(
                    job.job_id.clone(),
                    DeviceFailureReason::Interrupted,
                    actions,
                );
                actions.push(self.connect());
            }
            _ => actions.push(self.connect()),
        }
    }

    fn on_connected(&mut self, actions: &mut Vec<Action>) {
        self.online = true;
        actions.push(Action::CancelTimer(Timer::Reconnect));
        match self.phase.clone() {
            Phase::Idle | Phase::GettingJob => self.request_next_job(actions),
            Phase::Activating { job } => {
                self.connect_failures = 0;
                self.enter(Phase::Committing { job: job.clone() });
                actions.push(Action::Record(Step::Committing { job }));
                self.send_request(actions);
            }
            Phase::Accepting { .. }
            | Phase::Creating { .. }
            | Phase::Committing { .. }
            | Phase::Reporting { .. } => self.send_request(actions),
            _ => {}
        }
    }

    fn on_connection_lost(&mut self, error: &str, actions: &mut Vec<Action>) {
        tracing::warn!(phase = self.phase.name(), error, "MQTT connection failed");
        self.online = false;
        actions.push(Action::CancelTimer(Timer::Reply));
        if self.phase.on_new_pair() {
            self.connect_failures += 1;
            if self.connect_failures >= self.settings.connect_attempts {
                self.start_rollback(DeviceFailureReason::ConnectionFailed, true, actions);
                return;
            }
        }
        actions.push(Action::StartTimer {
            timer: Timer::Reconnect,
            after: self.settings.reconnect_delay,
        });
    }

    fn on_reply_timeout(&mut self, actions: &mut Vec<Action>) {
        if let Phase::RollingBack { .. } = self.phase {
            actions.push(Action::RollBack);
            return;
        }
        if !self.online {
            return;
        }
        let retries = match self.phase {
            Phase::GettingJob | Phase::Accepting { .. } | Phase::Reporting { .. } => {
                self.settings.jobs_retries
            }
            Phase::Creating { .. } => self.settings.create_retries,
            Phase::Committing { .. } => self.settings.commit_retries,
            _ => return,
        };
        if self.attempts < retries {
            self.attempts += 1;
            tracing::info!(
                phase = self.phase.name(),
                attempt = self.attempts,
                "no reply in time; sending the request again"
            );
            self.send_request(actions);
            return;
        }
        match self.phase.clone() {
            Phase::GettingJob => self.enter(Phase::Idle),
            Phase::Accepting { .. } => {
                tracing::warn!("the Jobs API did not confirm IN_PROGRESS; leaving the job");
                self.finish(actions);
            }
            Phase::Reporting { .. } => {
                tracing::warn!("the Jobs API did not confirm the final status");
                self.finish(actions);
            }
            Phase::Creating { job, .. } => {
                self.fail_before_install(job.job_id, DeviceFailureReason::CreateTimedOut, actions)
            }
            Phase::Committing { .. } => {
                self.start_rollback(DeviceFailureReason::CommitTimedOut, true, actions)
            }
            _ => {}
        }
    }

    fn on_result(&mut self, event: Event, actions: &mut Vec<Action>) {
        match (self.phase.clone(), event) {
            (Phase::Generating { job }, Event::CsrReady { csr }) => {
                self.enter(Phase::Creating {
                    job: job.clone(),
                    csr: csr.clone(),
                });
                actions.push(Action::Record(Step::CsrCreated { job, csr }));
                self.send_request(actions);
            }
            (Phase::Generating { job }, Event::CsrFailed { reason, error }) => {
                tracing::error!(error, "failed to generate the key or the CSR");
                self.fail_before_install(job.job_id, reason, actions);
            }
            (Phase::Checking { job, .. }, Event::CertificateChecked { error: Some(error) }) => {
                tracing::error!(error, "invalid certificate in create/accepted");
                self.fail_before_install(
                    job.job_id,
                    DeviceFailureReason::CertificateInvalid,
                    actions,
                );
            }
            (
                Phase::Checking {
                    job,
                    certificate_pem,
                },
                Event::CertificateChecked { error: None },
            ) => {
                self.enter(Phase::BackingUp {
                    job: job.clone(),
                    certificate_pem: certificate_pem.clone(),
                });
                actions.push(Action::Record(Step::BackingUp {
                    job,
                    certificate_pem,
                }));
                actions.push(Action::BackUp);
            }
            (
                Phase::BackingUp {
                    job,
                    certificate_pem,
                },
                Event::BackedUp,
            ) => {
                self.enter(Phase::Installing {
                    job: job.clone(),
                    certificate_pem: certificate_pem.clone(),
                });
                actions.push(Action::Record(Step::Installing {
                    job,
                    certificate_pem: certificate_pem.clone(),
                }));
                actions.push(Action::Install { certificate_pem });
            }
            (Phase::BackingUp { .. }, Event::BackupFailed { error })
            | (Phase::Installing { .. }, Event::InstallFailed { error }) => {
                tracing::error!(error, "failed to install the new pair");
                self.start_rollback(DeviceFailureReason::InstallFailed, false, actions);
            }
            (Phase::Installing { job, .. }, Event::Installed) => {
                self.enter(Phase::Activating { job: job.clone() });
                self.connect_failures = 0;
                actions.push(Action::Record(Step::Installed { job }));
                self.activate(actions);
            }
            (Phase::Activating { .. }, Event::RestartFailed { error }) => {
                tracing::error!(error, "failed to restart with the new pair");
                self.start_rollback(DeviceFailureReason::RestartFailed, true, actions);
            }
            (Phase::Reporting { .. }, Event::RestartFailed { error }) => {
                tracing::error!(error, "failed to restart with the old pair; reconnecting");
                actions.push(self.connect());
            }
            (Phase::Activating { .. } | Phase::Reporting { .. }, Event::Restarted) => {
                actions.push(self.connect())
            }
            (Phase::Committed { job }, Event::CommittedLocally) => {
                self.report(job.job_id, Outcome::Succeeded, actions);
                if !self.online {
                    // Resumed after a crash: the report goes out once connected.
                    actions.push(self.connect());
                }
            }
            (
                Phase::RollingBack {
                    job_id,
                    reason,
                    activated,
                },
                Event::RolledBack,
            ) => {
                if activated {
                    // The connection, if any, still uses the pair just removed.
                    self.online = false;
                }
                self.report(job_id, Outcome::Failed { reason }, actions);
                actions.push(Action::DiscardPending);
                if activated {
                    self.activate(actions);
                } else if !self.online {
                    actions.push(self.connect());
                }
            }
            (Phase::RollingBack { .. }, Event::RollbackFailed { error }) => {
                tracing::error!(error, "failed to restore the old pair; trying again");
                actions.push(Action::StartTimer {
                    timer: Timer::Reply,
                    after: self.settings.reconnect_delay,
                });
            }
            (phase, event) => {
                tracing::warn!(
                    phase = phase.name(),
                    ?event,
                    "ignoring an unexpected result"
                );
            }
        }
    }

    fn on_message(&mut self, topic: &str, payload: &[u8], actions: &mut Vec<Action>) {
        let inbound = self.classify(topic);
        if payload.len() > MAX_PAYLOAD_BYTES {
            tracing::warn!(
                topic,
                bytes = payload.len(),
                "payload larger than AWS IoT allows"
            );
            self.on_invalid_reply(&inbound, actions);
            return;
        }
        match (self.phase.clone(), inbound) {
            (Phase::Idle | Phase::GettingJob, Inbound::NotifyNext | Inbound::GetAccepted) => {
                self.on_execution_message(topic, payload, actions)
            }
            (Phase::GettingJob, Inbound::GetRejected) => {
                tracing::warn!(payload = %String::from_utf8_lossy(payload), "get rejected");
                actions.push(Action::CancelTimer(Timer::Reply));
                self.enter(Phase::Idle);
            }
            (Phase::Accepting { job }, Inbound::UpdateAccepted(id)) if id == job.job_id => {
                actions.push(Action::CancelTimer(Timer::Reply));
                self.enter(Phase::Generating { job: job.clone() });
                actions.push(Action::GenerateKeyAndCsr {
                    key_algorithm: job.key_algorithm,
                    signing_algorithm: job.signing_algorithm,
                });
            }
            (Phase::Accepting { job }, Inbound::UpdateRejected(id)) if id == job.job_id => {
                tracing::warn!(payload = %String::from_utf8_lossy(payload), "IN_PROGRESS rejected");
                self.finish(actions);
            }
            // NOTE: updates carry no clientToken, so a very late duplicate reply to the earlier
            // IN_PROGRESS update would also end this phase before the final status is confirmed.
            (Phase::Reporting { job_id, .. }, Inbound::UpdateAccepted(id)) if id == job_id => {
                self.finish(actions)
            }
            (Phase::Reporting { job_id, .. }, Inbound::UpdateRejected(id)) if id == job_id => {
                tracing::warn!(payload = %String::from_utf8_lossy(payload), "final status rejected");
                self.finish(actions)
            }
            (Phase::Creating { job, .. }, Inbound::CreateAccepted) => {
                match parse::<CreateAccepted>(payload) {
                    Ok(accepted) => {
                        actions.push(Action::CancelTimer(Timer::Reply));
                        self.enter(Phase::Checking {
                            job: job.clone(),
                            certificate_pem: accepted.certificate_pem.clone(),
                        });
                        actions.push(Action::CheckCertificate {
                            certificate_pem: accepted.certificate_pem,
                            key_algorithm: job.key_algorithm,
                        });
                    }
                    Err(error) => {
                        tracing::error!(error, "invalid create/accepted payload");
                        self.on_invalid_reply(&Inbound::CreateAccepted, actions);
                    }
                }
            }
            (Phase::Creating { job, .. }, Inbound::CreateRejected) => {
                log_rejection("create", payload);
                self.fail_before_install(job.job_id, DeviceFailureReason::CreateRejected, actions);
            }
            (Phase::Committing { job }, Inbound::CommitAccepted) => {
                match parse::<serde_json::Map<String, serde_json::Value>>(payload) {
                    Ok(_) => {
                        actions.push(Action::CancelTimer(Timer::Reply));
                        self.enter(Phase::Committed { job: job.clone() });
                        actions.push(Action::Record(Step::Committed { job }));
                        actions.push(Action::Commit);
                    }
                    Err(error) => {
                        tracing::warn!(error, "ignoring an invalid commit/accepted payload");
                    }
                }
            }
            (Phase::Committing { .. }, Inbound::CommitRejected) => {
                log_rejection("commit", payload);
                self.start_rollback(DeviceFailureReason::CommitRejected, true, actions);
            }
            (phase, inbound) => {
                tracing::info!(
                    phase = phase.name(),
                    topic,
                    ?inbound,
                    "ignoring a message this phase does not expect"
                );
            }
        }
    }

    /// Applies the failure path for an unusable payload on a reply topic.
    fn on_invalid_reply(&mut self, inbound: &Inbound, actions: &mut Vec<Action>) {
        match (self.phase.clone(), inbound) {
            (Phase::Creating { job, .. }, Inbound::CreateAccepted) => self.fail_before_install(
                job.job_id,
                DeviceFailureReason::CertificateInvalid,
                actions,
            ),
            (Phase::Creating { job, .. }, Inbound::CreateRejected) => {
                self.fail_before_install(job.job_id, DeviceFailureReason::CreateRejected, actions)
            }
            (Phase::Committing { .. }, Inbound::CommitRejected) => {
                self.start_rollback(DeviceFailureReason::CommitRejected, true, actions)
            }
            _ => tracing::info!(phase = self.phase.name(), "ignoring an oversized message"),
        }
    }

    fn on_execution_message(&mut self, topic: &str, payload: &[u8], actions: &mut Vec<Action>) {
        let message = match parse::<ExecutionMessage>(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(topic, error, "ignoring an invalid job execution message");
                return;
            }
        };
        let Some(execution) = message.execution else {
            if self.phase == Phase::GettingJob {
                actions.push(Action::CancelTimer(Timer::Reply));
                self.enter(Phase::Idle);
            }
            return;
        };
        let operation = execution.job_document.get("operation");
        if operation.and_then(|value| value.as_str()) != Some(ROTATE_CERTIFICATE) {
            tracing::info!(job_id = execution.job_id, "the next job is not a rotation");
            if self.phase == Phase::GettingJob {
                actions.push(Action::CancelTimer(Timer::Reply));
                self.enter(Phase::Idle);
            }
            return;
        }
        actions.push(Action::CancelTimer(Timer::Reply));
        match execution.status {
            JobExecutionStatus::Queued => self.take_job(execution, actions),
            JobExecutionStatus::InProgress => {
                // The journal has no record of this job, so an earlier run lost it.
                tracing::warn!(
                    job_id = execution.job_id,
                    "job in progress but not journaled"
                );
                self.fail_before_install(
                    execution.job_id,
                    DeviceFailureReason::Interrupted,
                    actions,
                );
            }
            status => {
                tracing::info!(job_id = execution.job_id, %status, "ignoring a finished job");
                self.enter(Phase::Idle);
            }
        }
    }

    fn take_job(&mut self, execution: Execution, actions: &mut Vec<Action>) {
        let job_id = execution.job_id;
        let document = match JobDocument::from_value(execution.job_document) {
            Ok(document) => document,
            Err(error) => {
                tracing::error!(job_id, %error, "invalid job document");
                self.fail_before_install(job_id, DeviceFailureReason::InvalidJobDocument, actions);
                return;
            }
        };
        let (key_algorithm, signing_algorithm) = match self.choose_algorithms(&document) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::error!(job_id, %error, "the job's algorithms cannot be used");
                self.fail_before_install(job_id, DeviceFailureReason::ConfigurationError, actions);
                return;
            }
        };
        let job = Job {
            job_id,
            key_algorithm,
            signing_algorithm,
        };
        self.enter(Phase::Accepting { job: job.clone() });
        actions.push(Action::Record(Step::Started { job }));
        self.send_request(actions);
    }

    /// Picks the job's algorithms: the document's, else the configured ones. A document that
    /// names only a key type whose family differs from the configured signature gets the
    /// default signature for that key.
    fn choose_algorithms(
        &self,
        document: &JobDocument,
    ) -> Result<(KeyAlgorithm, SigningAlgorithm), rotator_protocol::ProtocolError> {
        let key = document
            .key_algorithm
            .unwrap_or(self.settings.key_algorithm);
        let signing = match (document.key_algorithm, document.signing_algorithm) {
            (_, Some(signing)) => signing,
            (Some(_), None) if self.settings.signing_algorithm.check_key(key).is_err() => {
                default_signing_algorithm(key)
            }
            _ => self.settings.signing_algorithm,
        };
        signing.check_key(key)?;
        Ok((key, signing))
    }

    fn request_next_job(&mut self, actions: &mut Vec<Action>) {
        self.enter(Phase::GettingJob);
        self.send_request(actions);
    }

    /// Sends (or sends again) the request the current phase waits on, and arms the reply timer.
    fn send_request(&mut self, actions: &mut Vec<Action>) {
        if !self.online {
            return;
        }
        let topics = &self.settings.topics;
        let timeout = match &self.phase {
            Phase::GettingJob => {
                actions.push(publish(topics.jobs_next_get(), "{}".to_owned()));
                self.settings.jobs_timeout
            }
            Phase::Accepting { job } => {
                let update = JobExecutionUpdate::in_progress();
                actions.push(publish(topics.job_update(&job.job_id), to_json(&update)));
                self.settings.jobs_timeout
            }
            Phase::Creating { job, csr } => {
                let request = CreateRequest {
                    job_id: job.job_id.clone(),
                    csr: csr.clone(),
                };
                actions.push(publish(topics.create(), to_json(&request)));
                self.settings.create_timeout
            }
            Phase::Committing { job } => {
                let request = rotator_protocol::CommitRequest {
                    job_id: job.job_id.clone(),
                };
                actions.push(publish(topics.commit(), to_json(&request)));
                self.settings.commit_timeout
            }
            Phase::Reporting {
                job_id,
                outcome: Outcome::Failed { reason },
            } => {
                actions.push(Action::FailJob {
                    job_id: job_id.clone(),
                    reason: *reason,
                });
                self.settings.jobs_timeout
            }
            Phase::Reporting {
                job_id,
                outcome: Outcome::Succeeded,
            } => {
                let update = JobExecutionUpdate::succeeded();
                actions.push(publish(topics.job_update(job_id), to_json(&update)));
                self.settings.jobs_timeout
            }
            _ => return,
        };
        actions.push(Action::StartTimer {
            timer: Timer::Reply,
            after: timeout,
        });
    }

    /// Ends a job that never touched the live pair: report it failed.
    fn fail_before_install(
        &mut self,
        job_id: String,
        reason: DeviceFailureReason,
        actions: &mut Vec<Action>,
    ) {
        actions.push(Action::CancelTimer(Timer::Reply));
        self.report(job_id, Outcome::Failed { reason }, actions);
        actions.push(Action::DiscardPending);
    }

    fn start_rollback(
        &mut self,
        reason: DeviceFailureReason,
        activated: bool,
        actions: &mut Vec<Action>,
    ) {
        let Some(job_id) = self.phase.job_id().map(str::to_owned) else {
            return;
        };
        actions.push(Action::CancelTimer(Timer::Reply));
        self.enter(Phase::RollingBack {
            job_id: job_id.clone(),
            reason,
            activated,
        });
        actions.push(Action::Record(Step::RollingBack {
            job_id,
            reason,
            activated,
        }));
        actions.push(Action::RollBack);
    }

    fn report(&mut self, job_id: String, outcome: Outcome, actions: &mut Vec<Action>) {
        self.enter(Phase::Reporting {
            job_id: job_id.clone(),
            outcome,
        });
        actions.push(Action::Record(Step::Reporting { job_id, outcome }));
        self.send_request(actions);
    }

    /// Closes the current job and requests the next one, which may have been queued behind it.
    fn finish(&mut self, actions: &mut Vec<Action>) {
        actions.push(Action::CancelTimer(Timer::Reply));
        self.enter(Phase::Idle);
        actions.push(Action::Record(Step::Idle));
        // A crash after the job's last step may have left the pending key behind.
        actions.push(Action::DiscardPending);
        if self.online {
            self.request_next_job(actions);
        }
    }

    /// Puts the live pair to use, by reconnecting or by restarting.
    fn activate(&mut self, actions: &mut Vec<Action>) {
        self.online = false;
        match self.settings.activation {
            Activation::Reconnect => actions.push(self.connect()),
            Activation::Restart => actions.push(Action::Restart),
        }
    }

    fn connect(&self) -> Action {
        Action::Connect {
            subscriptions: self.settings.topics.device_subscriptions(),
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.attempts = 0;
    }

    fn classify(&self, topic: &str) -> Inbound {
        let topics = &self.settings.topics;
        let exact = [
            (topics.jobs_notify_next(), Inbound::NotifyNext),
            (topics.create_accepted(), Inbound::CreateAccepted),
            (topics.create_rejected(), Inbound::CreateRejected),
            (topics.commit_accepted(), Inbound::CommitAccepted),
            (topics.commit_rejected(), Inbound::CommitRejected),
        ];
        if let Some((_, inbound)) = exact.into_iter().find(|(name, _)| name == topic) {
            return inbound;
        }
        let jobs_prefix = format!("$aws/things/{}/jobs/", topics.thing());
        let Some(rest) = topic.strip_prefix(&jobs_prefix) else {
            return Inbound::Unknown;
        };
        let job_id = |suffix: &str| {
            rest.strip_suffix(suffix)
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(str::to_owned)
        };
        if job_id("/get/accepted").is_some() {
            Inbound::GetAccepted
        } else if job_id("/get/rejected").is_some() {
            Inbound::GetRejected
        } else if let Some(id) = job_id("/update/accepted") {
            Inbound::UpdateAccepted(id)
        } else if let Some(id) = job_id("/update/rejected") {
            Inbound::UpdateRejected(id)
        } else {
            Inbound::Unknown
        }
    }
}

/// The CSR signature used when a job names only a key type.
pub fn default_signing_algorithm(key: KeyAlgorithm) -> SigningAlgorithm {
    match key {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => SigningAlgorithm::Sha256WithRsa,
        KeyAlgorithm::EcdsaP256 => SigningAlgorithm::Sha256WithEcdsa,
        KeyAlgorithm::EcdsaP384 => SigningAlgorithm::Sha384WithEcdsa,
        KeyAlgorithm::EcdsaP521 => SigningAlgorithm::Sha512WithEcdsa,
    }
}

fn publish(topic: String, payload: String) -> Action {
    Action::Publish { topic, payload }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("protocol payloads always serialize")
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|error| error.to_string())
}

fn log_rejection(request: &str, payload: &[u8]) {
    match parse::<Rejected>(payload) {
        Ok(rejected) => tracing::error!(request, error_msg = rejected.error_msg, "rejected"),
        Err(error) => tracing::error!(request, error, "rejected, with an invalid payload"),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
