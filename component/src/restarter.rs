//! Restarting the runtime so that it uses the newly installed pair.

use std::os::unix::process::CommandExt;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error("failed to run the restart command {program:?}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("the restart command {program:?} failed with {status}")]
    Failed { program: String, status: String },
    #[error("failed to re-execute {program:?}: {error}")]
    Exec {
        program: String,
        error: std::io::Error,
    },
}

/// Something that restarts the software using the device's credentials.
pub trait Restarter {
    /// Restarts, and returns only if this process survives the restart.
    fn restart(&self) -> Result<(), RestartError>;
}

/// Runs a configured command, for example `systemctl restart greengrass`.
#[derive(Debug, Clone)]
pub struct CommandRestarter {
    pub program: String,
    pub args: Vec<String>,
}

impl Restarter for CommandRestarter {
    fn restart(&self) -> Result<(), RestartError> {
        tracing::info!(program = self.program, args = ?self.args, "running the restart command");
        let status = Command::new(&self.program)
            .args(&self.args)
            .status()
            .map_err(|error| RestartError::Spawn {
                program: self.program.clone(),
                error,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(RestartError::Failed {
                program: self.program.clone(),
                status: status.to_string(),
            })
        }
    }
}

/// Replaces this process with a fresh copy of the agent, with the same arguments. The new
/// process resumes from the journal.
#[derive(Debug, Clone, Default)]
pub struct ReexecRestarter;

impl Restarter for ReexecRestarter {
    fn restart(&self) -> Result<(), RestartError> {
        let program = std::env::current_exe().map_err(|error| RestartError::Exec {
            program: "the agent".to_owned(),
            error,
        })?;
        let args: Vec<_> = std::env::args_os().skip(1).collect();
        tracing::info!(program = %program.display(), "re-executing the agent");
        // exec returns only on failure.
        let error = Command::new(&program).args(args).exec();
        Err(RestartError::Exec {
            program: program.display().to_string(),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_restarter_reports_exit_status() {
        let ok = CommandRestarter {
            program: "true".into(),
            args: vec![],
        };
        assert!(ok.restart().is_ok());
        let failing = CommandRestarter {
            program: "sh".into(),
            args: vec!["-c".into(), "exit 3".into()],
        };
        let error = failing.restart().unwrap_err().to_string();
        assert!(error.contains("exit status: 3"), "{error}");
        let missing = CommandRestarter {
            program: "/nonexistent/restart".into(),
            args: vec![],
        };
        assert!(matches!(missing.restart(), Err(RestartError::Spawn { .. })));
    }
}
