//! Write-ahead journal: one JSON file in the work directory, replaced atomically (temporary
//! file, fsync, rename, directory fsync) before every step's side effect. It names the job,
//! the step, every credential file and which pair on disk is the working one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::{PUBLIC_MODE, write_atomic};
use crate::machine::Step;
use crate::store::StoreLayout;

/// File name of the journal inside the work directory.
pub const JOURNAL_FILE: &str = "journal.json";

/// Test instrumentation: when this variable names a step (for example `installing`), the agent
/// kills itself with SIGKILL right after that step reaches the disk, so tests can check that
/// a restart recovers from a crash at that point. Unset in normal operation.
pub const CRASH_AFTER_STEP_ENV: &str = "ROTATOR_AGENT_CRASH_AFTER_STEP";

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to write the journal {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error("failed to read the journal {path}: {error}")]
    Read { path: PathBuf, error: io::Error },
    #[error(
        "invalid journal {path}: {reason}; check the file by hand: the backup directory beside it holds the previous pair while a rotation is in progress"
    )]
    Invalid { path: PathBuf, reason: String },
}

/// The pair on disk that matches and works at the recorded step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkingPair {
    /// The live certificate and key.
    Live,
    /// The backup certificate and key.
    Backup,
    /// The backup when both of its files exist, otherwise the untouched live pair.
    BackupIfComplete,
}

impl WorkingPair {
    pub fn at(step: &Step) -> Self {
        match step {
            Step::Installing { .. } => WorkingPair::Backup,
            Step::RollingBack { .. } => WorkingPair::BackupIfComplete,
            _ => WorkingPair::Live,
        }
    }
}

/// The journal file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub version: u32,
    pub thing_name: String,
    pub job_id: Option<String>,
    pub working_pair: WorkingPair,
    pub files: StoreLayout,
    pub state: Step,
}

/// The journal of one agent.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    thing_name: String,
    files: StoreLayout,
    crash_after: Option<String>,
}

impl Journal {
    pub fn new(work_dir: &Path, thing_name: &str, files: StoreLayout) -> Self {
        Self {
            path: work_dir.join(JOURNAL_FILE),
            thing_name: thing_name.to_owned(),
            files,
            crash_after: std::env::var(CRASH_AFTER_STEP_ENV).ok(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the last recorded step; no journal means no job in progress.
    pub fn load(&self) -> Result<Step, JournalError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Step::Idle),
            Err(error) => {
                return Err(JournalError::Read {
                    path: self.path.clone(),
                    error,
                });
            }
        };
        let entry: Entry = serde_json::from_str(&text).map_err(|error| JournalError::Invalid {
            path: self.path.clone(),
            reason: error.to_string(),
        })?;
        if entry.version != VERSION {
            return Err(JournalError::Invalid {
                path: self.path.clone(),
                reason: format!("version {} is not {VERSION}", entry.version),
            });
        }
        if entry.files != self.files {
            // The files moved since the entry was written: the configuration changed
            // mid-rotation, and recovering with other paths could restore the wrong files.
            return Err(JournalError::Invalid {
                path: self.path.clone(),
                reason: "its file locations differ from the configured ones".to_owned(),
            });
        }
        Ok(entry.state)
    }

    /// Records a step durably. Returns only once the entry is on disk.
    pub fn record(&self, step: &Step) -> Result<(), JournalError> {
        let entry = Entry {
            version: VERSION,
            thing_name: self.thing_name.clone(),
            job_id: step.job_id().map(str::to_owned),
            working_pair: WorkingPair::at(step),
            files: self.files.clone(),
            state: step.clone(),
        };
        let mut text = serde_json::to_vec_pretty(&entry).expect("journal entries serialize");
        text.push(b'\n');
        write_atomic(&self.path, &text, PUBLIC_MODE).map_err(|error| JournalError::Write {
            path: self.path.clone(),
            error,
        })?;
        if self.crash_after.as_deref() == Some(step.name()) {
            crash_now(step.name());
        }
        Ok(())
    }
}

fn crash_now(step: &str) -> ! {
    tracing::warn!(step, "{CRASH_AFTER_STEP_ENV} is set: killing this process");
    // SAFETY: getpid and kill have no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Job, Outcome};
    use crate::store::PairPaths;
    use rotator_protocol::{DeviceFailureReason, KeyAlgorithm, SigningAlgorithm};

    fn layout(dir: &Path) -> StoreLayout {
        let live = PairPaths {
            certificate: dir.join("c.pem"),
            private_key: dir.join("k.pem"),
        };
        StoreLayout::new(live, dir)
    }

    fn job() -> Job {
        Job {
            job_id: "job-1".into(),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            signing_algorithm: SigningAlgorithm::Sha256WithEcdsa,
        }
    }

    #[test]
    fn missing_journal_means_idle() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), "t", layout(dir.path()));
        assert_eq!(journal.load().unwrap(), Step::Idle);
    }

    #[test]
    fn every_step_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), "t", layout(dir.path()));
        let steps = [
            Step::Idle,
            Step::Started { job: job() },
            Step::CsrCreated {
                job: job(),
                csr: "CSR".into(),
            },
            Step::BackingUp {
                job: job(),
                certificate_pem: "C".into(),
            },
            Step::Installing {
                job: job(),
                certificate_pem: "C".into(),
            },
            Step::Installed { job: job() },
            Step::Committing { job: job() },
            Step::Committed { job: job() },
            Step::RollingBack {
                job_id: "job-1".into(),
                reason: DeviceFailureReason::CommitRejected,
                activated: true,
            },
            Step::Reporting {
                job_id: "job-1".into(),
                outcome: Outcome::Failed {
                    reason: DeviceFailureReason::CreateTimedOut,
                },
            },
        ];
        for step in steps {
            journal.record(&step).unwrap();
            assert_eq!(journal.load().unwrap(), step);
            assert!(Step::NAMES.contains(&step.name()));
        }
    }

    #[test]
    fn entry_names_job_files_and_working_pair() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), "thing-9", layout(dir.path()));
        journal
            .record(&Step::Installing {
                job: job(),
                certificate_pem: "C".into(),
            })
            .unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&fs::read(journal.path()).unwrap()).unwrap();
        assert_eq!(value["thingName"], "thing-9");
        assert_eq!(value["jobId"], "job-1");
        assert_eq!(value["workingPair"], "backup");
        assert_eq!(value["state"]["step"], "installing");
        assert!(
            value["files"]["backup"]["privateKey"]
                .as_str()
                .unwrap()
                .ends_with("backup/private.key")
        );
    }

    #[test]
    fn corrupt_or_moved_journal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), "t", layout(dir.path()));
        fs::write(journal.path(), "{not json").unwrap();
        let error = journal.load().unwrap_err().to_string();
        assert!(error.contains("invalid journal"), "{error}");

        journal.record(&Step::Installed { job: job() }).unwrap();
        let other = tempfile::tempdir().unwrap();
        let moved = Journal {
            path: journal.path().to_path_buf(),
            thing_name: "t".into(),
            files: layout(other.path()),
            crash_after: None,
        };
        let error = moved.load().unwrap_err().to_string();
        assert!(error.contains("file locations differ"), "{error}");
    }
}
