//! The wire protocol between the rotation backend and the device agent.
//!
//! Both sides build their topics, payloads and job documents from this crate, so the two
//! halves cannot drift apart. The defaults are byte-compatible with the AWS Labs Certificate
//! Rotator for AWS IoT Greengrass (topic prefix `awslabs`, the same JSON field names), so our
//! backend serves that project's devices and our agent works with that project's backend.

pub mod algorithm;
pub mod job;
pub mod payload;
pub mod reason;
pub mod shadow;
pub mod topic;

pub use algorithm::{KeyAlgorithm, SigningAlgorithm};
pub use job::{
    FAILURE_REASON_KEY, JobDocument, JobExecutionStatus, ROTATE_CERTIFICATE, STATUS_DETAIL_KEY,
};
pub use payload::{
    CommitAccepted, CommitRequest, CreateAccepted, CreateRequest, JobExecutionUpdate, Rejected,
    RuleEvent,
};
pub use reason::DeviceFailureReason;
pub use shadow::{Progress, RotationRecord};
pub use topic::{DEFAULT_TOPIC_PREFIX, Topics};

/// Errors from parsing or validating protocol values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error(
        "invalid topic prefix {0:?}: use one topic level of at most {max} letters, digits, '-', '_' or '.' (no '/', '+', '#' or '$')",
        max = topic::MAX_TOPIC_PREFIX_LEN
    )]
    InvalidTopicPrefix(String),
    #[error(
        "invalid thing name {0:?}: AWS IoT thing names are 1 to 128 characters of letters, digits, ':', '_' and '-'"
    )]
    InvalidThingName(String),
    #[error("invalid job document: {0}")]
    InvalidJobDocument(String),
    #[error("unsupported operation {0:?} in job document: expected \"ROTATE_CERTIFICATE\"")]
    UnsupportedOperation(String),
    #[error(
        "unknown key algorithm {0:?}: expected one of RSA-2048, RSA-3072, ECDSA-P256, ECDSA-P384, ECDSA-P521"
    )]
    UnknownKeyAlgorithm(String),
    #[error("unknown signing algorithm {0:?}: expected one of {list}", list = SigningAlgorithm::NAMES.join(", "))]
    UnknownSigningAlgorithm(String),
    #[error(
        "signing algorithm {signing} does not match key algorithm {key}: use an ECDSA signing algorithm with an ECDSA key and an RSA one with an RSA key"
    )]
    MismatchedAlgorithms {
        key: KeyAlgorithm,
        signing: SigningAlgorithm,
    },
}
