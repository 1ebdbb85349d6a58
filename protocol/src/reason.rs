//! The fixed set of reasons a device gives when it fails a rotation job.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a device failed a rotation job, sent as the `DeviceFailureReason` status detail.
/// Operators filter job executions on these values, so they never change once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeviceFailureReason {
    /// The job document is not a valid rotation document.
    InvalidJobDocument,
    /// The agent's configuration cannot serve this job (for example an unsupported algorithm).
    ConfigurationError,
    /// Generating the new key pair failed.
    KeyGenerationFailed,
    /// Building or signing the CSR failed.
    CsrGenerationFailed,
    /// The backend rejected the CSR.
    CreateRejected,
    /// No reply to the CSR arrived in time, after every retry.
    CreateTimedOut,
    /// The certificate received is malformed or does not match the new key.
    CertificateInvalid,
    /// Writing the new credentials to storage failed.
    InstallFailed,
    /// Restarting the runtime with the new credentials failed.
    RestartFailed,
    /// The new credentials were refused when connecting.
    ConnectionFailed,
    /// The backend rejected the commit.
    CommitRejected,
    /// No reply to the commit arrived in time, after every retry.
    CommitTimedOut,
    /// The agent restarted mid-rotation and its journal required a rollback.
    Interrupted,
}

impl DeviceFailureReason {
    pub const ALL: [DeviceFailureReason; 13] = [
        DeviceFailureReason::InvalidJobDocument,
        DeviceFailureReason::ConfigurationError,
        DeviceFailureReason::KeyGenerationFailed,
        DeviceFailureReason::CsrGenerationFailed,
        DeviceFailureReason::CreateRejected,
        DeviceFailureReason::CreateTimedOut,
        DeviceFailureReason::CertificateInvalid,
        DeviceFailureReason::InstallFailed,
        DeviceFailureReason::RestartFailed,
        DeviceFailureReason::ConnectionFailed,
        DeviceFailureReason::CommitRejected,
        DeviceFailureReason::CommitTimedOut,
        DeviceFailureReason::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceFailureReason::InvalidJobDocument => "INVALID_JOB_DOCUMENT",
            DeviceFailureReason::ConfigurationError => "CONFIGURATION_ERROR",
            DeviceFailureReason::KeyGenerationFailed => "KEY_GENERATION_FAILED",
            DeviceFailureReason::CsrGenerationFailed => "CSR_GENERATION_FAILED",
            DeviceFailureReason::CreateRejected => "CREATE_REJECTED",
            DeviceFailureReason::CreateTimedOut => "CREATE_TIMED_OUT",
            DeviceFailureReason::CertificateInvalid => "CERTIFICATE_INVALID",
            DeviceFailureReason::InstallFailed => "INSTALL_FAILED",
            DeviceFailureReason::RestartFailed => "RESTART_FAILED",
            DeviceFailureReason::ConnectionFailed => "CONNECTION_FAILED",
            DeviceFailureReason::CommitRejected => "COMMIT_REJECTED",
            DeviceFailureReason::CommitTimedOut => "COMMIT_TIMED_OUT",
            DeviceFailureReason::Interrupted => "INTERRUPTED",
        }
    }
}

impl fmt::Display for DeviceFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceFailureReason {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DeviceFailureReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
            .ok_or_else(|| format!("unknown device failure reason {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_json() {
        for reason in DeviceFailureReason::ALL {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(reason.as_str().parse(), Ok(reason));
        }
    }
}
