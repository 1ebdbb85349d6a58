//! The error type every handler returns, with a stable kind and a retryable flag.

use std::fmt;

/// Error categories that callers match on. The names are stable because operators search logs
/// and alarms for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The device sent a request that can never succeed as sent.
    InvalidRequest,
    /// The request is well formed, but the registry or the job is not in a state that allows it.
    PreconditionFailed,
    /// The Lambda's environment is missing a variable or contains an invalid value.
    InvalidConfiguration,
    /// An AWS call failed with an error that a later attempt may not see.
    AwsTransient,
    /// An AWS call failed with an error that retrying will not fix.
    AwsPermanent,
    /// The resource an AWS call named does not exist.
    NotFound,
    /// AWS refused the call because of the resource's current state (for example a certificate
    /// that is still attached); the state may change on its own.
    Conflict,
    /// A bounded wait ended before AWS finished.
    TimedOut,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "INVALID_REQUEST",
            ErrorKind::PreconditionFailed => "PRECONDITION_FAILED",
            ErrorKind::InvalidConfiguration => "INVALID_CONFIGURATION",
            ErrorKind::AwsTransient => "AWS_TRANSIENT",
            ErrorKind::AwsPermanent => "AWS_PERMANENT",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Conflict => "CONFLICT",
            ErrorKind::TimedOut => "TIMED_OUT",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handler failure: a kind, and a message that names the value and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    kind: ErrorKind,
    message: String,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PreconditionFailed, message)
    }

    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfiguration, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns whether running the same invocation again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::AwsTransient | ErrorKind::Conflict | ErrorKind::TimedOut
        )
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    pub fn is_conflict(&self) -> bool {
        self.kind == ErrorKind::Conflict
    }
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_kinds() {
        let retryable = [
            ErrorKind::AwsTransient,
            ErrorKind::Conflict,
            ErrorKind::TimedOut,
        ];
        for kind in [
            ErrorKind::InvalidRequest,
            ErrorKind::PreconditionFailed,
            ErrorKind::InvalidConfiguration,
            ErrorKind::AwsTransient,
            ErrorKind::AwsPermanent,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::TimedOut,
        ] {
            let error = BackendError::new(kind, "x");
            assert_eq!(error.is_retryable(), retryable.contains(&kind), "{kind}");
        }
    }

    #[test]
    fn message_is_display() {
        let error = BackendError::invalid_request("missing field \"jobId\"");
        assert_eq!(error.to_string(), "missing field \"jobId\"");
        assert_eq!(error.kind().as_str(), "INVALID_REQUEST");
    }
}
