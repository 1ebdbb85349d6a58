//! The event loop: feeds events to the state machine and executes its actions against the
//! transport, the journal, the credential store and the restarter.

use std::collections::{HashMap, VecDeque};

use rotator_protocol::{JobExecutionUpdate, Topics};
use tokio::time::Instant;

use crate::credentials;
use crate::journal::{Journal, JournalError};
use crate::machine::{Action, Event, Machine, Step, Timer};
use crate::restarter::Restarter;
use crate::store::FileStore;
use crate::transport::{Delivery, Transport};

/// Errors that stop the agent: continuing could break the journal's guarantees.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Everything the loop drives.
pub struct Runner<T, R> {
    pub thing_name: String,
    pub machine: Machine,
    pub transport: T,
    pub journal: Journal,
    pub store: FileStore,
    pub restarter: R,
    pub topics: Topics,
    /// Return once a job has ended and the journal is back to idle.
    pub exit_after_job: bool,
}

impl<T: Transport, R: Restarter> Runner<T, R> {
    /// Runs until an error, or until a job ends when `exit_after_job` is set.
    pub async fn run(mut self) -> Result<(), RunError> {
        let mut timers: HashMap<Timer, Instant> = HashMap::new();
        let mut queue = VecDeque::from([Event::Start]);
        loop {
            while let Some(event) = queue.pop_front() {
                let before = (self.machine.phase().name(), self.job_id());
                let actions = self.machine.handle(event);
                let after = self.machine.phase().name();
                if before.0 != after {
                    let job_id = self.job_id().or(before.1);
                    tracing::info!(
                        thing_name = self.thing_name,
                        job_id = job_id.as_deref().unwrap_or("-"),
                        from = before.0,
                        to = after,
                        "state changed"
                    );
                }
                let finished_job = actions
                    .iter()
                    .any(|action| matches!(action, Action::Record(Step::Idle)));
                for action in actions {
                    if let Some(result) = self.execute(action, &mut timers).await? {
                        queue.push_back(result);
                    }
                }
                if finished_job && self.exit_after_job {
                    tracing::info!(thing_name = self.thing_name, "job finished; exiting");
                    return Ok(());
                }
            }
            queue.push_back(self.wait(&mut timers).await);
        }
    }

    fn job_id(&self) -> Option<String> {
        self.machine.phase().job_id().map(str::to_owned)
    }

    /// Waits for the next delivery or the earliest timer.
    async fn wait(&mut self, timers: &mut HashMap<Timer, Instant>) -> Event {
        let earliest = timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(t, at)| (*t, *at));
        let sleep = async {
            match earliest {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            delivery = self.transport.next_delivery() => match delivery {
                Delivery::Message { topic, payload } => {
                    tracing::debug!(topic, bytes = payload.len(), "message received");
                    Event::Message { topic, payload }
                }
                Delivery::Disconnected { error } => Event::Disconnected { error },
            },
            () = sleep => {
                let (timer, _) = earliest.expect("the sleep only ends when a timer is set");
                timers.remove(&timer);
                Event::Timeout(timer)
            }
        }
    }

    /// Executes one action and returns the event that reports its result, if any.
    async fn execute(
        &mut self,
        action: Action,
        timers: &mut HashMap<Timer, Instant>,
    ) -> Result<Option<Event>, RunError> {
        let event = match action {
            Action::Record(step) => {
                tracing::debug!(step = step.name(), "recording the journal step");
                self.journal.record(&step)?;
                None
            }
            Action::Connect { subscriptions } => {
                let pair = self.store.layout().live.clone();
                match self.transport.connect(&pair, &subscriptions).await {
                    Ok(()) => {
                        tracing::info!(thing_name = self.thing_name, "connected");
                        Some(Event::Connected)
                    }
                    Err(error) => Some(Event::ConnectFailed {
                        error: error.to_string(),
                    }),
                }
            }
            Action::Restart => Some(match self.restarter.restart() {
                Ok(()) => Event::Restarted,
                Err(error) => Event::RestartFailed {
                    error: error.to_string(),
                },
            }),
            Action::Publish { topic, payload } => {
                self.publish(&topic, &payload).await;
                None
            }
            Action::FailJob { job_id, reason } => {
                tracing::warn!(
                    thing_name = self.thing_name,
                    job_id,
                    %reason,
                    "reporting the job as FAILED"
                );
                let update = serde_json::to_string(&JobExecutionUpdate::failed(reason))
                    .expect("job updates serialize");
                let topic = self.topics.job_update(&job_id);
                self.publish(&topic, &update).await;
                None
            }
            Action::GenerateKeyAndCsr {
                key_algorithm,
                signing_algorithm,
            } => {
                let store = self.store.clone();
                let result = tokio::task::spawn_blocking(move || {
                    credentials::generate_key_and_csr(&store, key_algorithm, signing_algorithm)
                })
                .await
                .unwrap_or_else(|error| {
                    Err((
                        rotator_protocol::DeviceFailureReason::KeyGenerationFailed,
                        error.to_string(),
                    ))
                });
                Some(match result {
                    Ok(csr) => Event::CsrReady { csr },
                    Err((reason, error)) => Event::CsrFailed { reason, error },
                })
            }
            Action::CheckCertificate {
                certificate_pem,
                key_algorithm,
            } => Some(Event::CertificateChecked {
                error: credentials::check_certificate(&self.store, &certificate_pem, key_algorithm)
                    .err(),
            }),
            Action::BackUp => Some(match self.store.back_up() {
                Ok(()) => Event::BackedUp,
                Err(error) => Event::BackupFailed {
                    error: error.to_string(),
                },
            }),
            Action::Install { certificate_pem } => {
                Some(match self.store.install(&certificate_pem) {
                    Ok(()) => Event::Installed,
                    Err(error) => Event::InstallFailed {
                        error: error.to_string(),
                    },
                })
            }
            Action::Commit => {
                if let Err(error) = self.store.commit() {
                    // The new pair is live and committed; a leftover backup is only clutter.
                    tracing::warn!(%error, "failed to delete the backup after the commit");
                }
                Some(Event::CommittedLocally)
            }
            Action::RollBack => Some(match self.store.roll_back() {
                Ok(()) => {
                    tracing::info!(thing_name = self.thing_name, "old pair restored");
                    Event::RolledBack
                }
                Err(error) => Event::RollbackFailed {
                    error: error.to_string(),
                },
            }),
            Action::DiscardPending => {
                if let Err(error) = self.store.discard_pending() {
                    tracing::warn!(%error, "failed to delete the pending key");
                }
                None
            }
            Action::StartTimer { timer, after } => {
                timers.insert(timer, Instant::now() + after);
                None
            }
            Action::CancelTimer(timer) => {
                timers.remove(&timer);
                None
            }
        };
        Ok(event)
    }

    async fn publish(&mut self, topic: &str, payload: &str) {
        tracing::debug!(topic, bytes = payload.len(), "publishing");
        if let Err(error) = self.transport.publish(topic, payload).await {
            // The reply timer sends the request again.
            tracing::warn!(%error, "failed to publish");
        }
    }
}
