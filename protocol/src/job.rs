//! The rotation job document and job execution statuses.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{KeyAlgorithm, ProtocolError, SigningAlgorithm};

/// The `operation` value that marks a certificate rotation job.
pub const ROTATE_CERTIFICATE: &str = "ROTATE_CERTIFICATE";

/// The status-detail key a rotating device sets on its job execution. The terminal rule selects
/// job-execution events by its presence.
pub const STATUS_DETAIL_KEY: &str = "CertificateRotator";

/// The status-detail key that carries a device's failure reason.
pub const FAILURE_REASON_KEY: &str = "DeviceFailureReason";

/// Largest job document AWS IoT accepts, in bytes.
pub const MAX_JOB_DOCUMENT_BYTES: usize = 32 * 1024;

/// A rotation job document. The reference backend writes only `operation`; the optional fields
/// let one job ask for a different key or CSR signature than the device's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDocument {
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<SigningAlgorithm>,
}

impl JobDocument {
    /// Builds the document the job template carries: `{"operation":"ROTATE_CERTIFICATE"}`.
    pub fn rotate() -> Self {
        Self {
            operation: ROTATE_CERTIFICATE.to_owned(),
            key_algorithm: None,
            signing_algorithm: None,
        }
    }

    /// Parses a document and checks that it requests a rotation with a consistent algorithm pair.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > MAX_JOB_DOCUMENT_BYTES {
            return Err(ProtocolError::InvalidJobDocument(format!(
                "{} bytes is more than the {MAX_JOB_DOCUMENT_BYTES} AWS IoT allows",
                text.len()
            )));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|error| ProtocolError::InvalidJobDocument(error.to_string()))?;
        Self::from_value(value)
    }

    /// Validates a document that arrived already decoded, as in a Jobs MQTT message.
    pub fn from_value(value: serde_json::Value) -> Result<Self, ProtocolError> {
        let document: JobDocument = serde_json::from_value(value)
            .map_err(|error| ProtocolError::InvalidJobDocument(error.to_string()))?;
        if document.operation != ROTATE_CERTIFICATE {
            return Err(ProtocolError::UnsupportedOperation(document.operation));
        }
        if let (Some(key), Some(signing)) = (document.key_algorithm, document.signing_algorithm) {
            signing.check_key(key)?;
        }
        Ok(document)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job document always serializes")
    }
}

/// Job execution statuses as the AWS IoT Jobs API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobExecutionStatus {
    Queued,
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Rejected,
    Removed,
    Canceled,
}

impl JobExecutionStatus {
    pub const ALL: [JobExecutionStatus; 8] = [
        JobExecutionStatus::Queued,
        JobExecutionStatus::InProgress,
        JobExecutionStatus::Succeeded,
        JobExecutionStatus::Failed,
        JobExecutionStatus::TimedOut,
        JobExecutionStatus::Rejected,
        JobExecutionStatus::Removed,
        JobExecutionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobExecutionStatus::Queued => "QUEUED",
            JobExecutionStatus::InProgress => "IN_PROGRESS",
            JobExecutionStatus::Succeeded => "SUCCEEDED",
            JobExecutionStatus::Failed => "FAILED",
            JobExecutionStatus::TimedOut => "TIMED_OUT",
            JobExecutionStatus::Rejected => "REJECTED",
            JobExecutionStatus::Removed => "REMOVED",
            JobExecutionStatus::Canceled => "CANCELED",
        }
    }

    /// Whether AWS IoT will accept no further updates for an execution in this status.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            JobExecutionStatus::Queued | JobExecutionStatus::InProgress
        )
    }
}

impl fmt::Display for JobExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_document_parses() {
        let document = JobDocument::parse(r#"{"operation":"ROTATE_CERTIFICATE"}"#).unwrap();
        assert_eq!(document, JobDocument::rotate());
        assert_eq!(document.to_json(), r#"{"operation":"ROTATE_CERTIFICATE"}"#);
    }

    #[test]
    fn document_with_algorithms_parses() {
        let document = JobDocument::parse(
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"ECDSA-P384","signingAlgorithm":"SHA384WITHECDSA","extra":1}"#,
        )
        .unwrap();
        assert_eq!(document.key_algorithm, Some(KeyAlgorithm::EcdsaP384));
        assert_eq!(
            document.signing_algorithm,
            Some(SigningAlgorithm::Sha384WithEcdsa)
        );
    }

    #[test]
    fn other_operations_are_rejected() {
        let error = JobDocument::parse(r#"{"operation":"REBOOT"}"#).unwrap_err();
        assert_eq!(error, ProtocolError::UnsupportedOperation("REBOOT".into()));
    }

    #[test]
    fn malformed_documents_are_rejected() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"operation":7}"#,
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"DSA"}"#,
            r#"{"operation":"ROTATE_CERTIFICATE","keyAlgorithm":"RSA-2048","signingAlgorithm":"SHA256WITHECDSA"}"#,
        ] {
            assert!(
                JobDocument::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let huge = format!(
            r#"{{"operation":"{}"}}"#,
            "x".repeat(MAX_JOB_DOCUMENT_BYTES)
        );
        assert!(JobDocument::parse(&huge).is_err());
    }

    #[test]
    fn statuses_serialize_as_jobs_api_names() {
        for status in JobExecutionStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert!(!JobExecutionStatus::InProgress.is_terminal());
        assert!(JobExecutionStatus::Removed.is_terminal());
    }
}
