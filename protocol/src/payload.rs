//! JSON payloads on the certificate topics and the Jobs update topic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::job::FAILURE_REASON_KEY;
use crate::{DeviceFailureReason, JobExecutionStatus, STATUS_DETAIL_KEY};

/// Largest MQTT payload AWS IoT Core accepts, in bytes. A CSR request never comes close.
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// Device → cloud on `…/certificate/create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    pub job_id: String,
    /// The CSR in PEM.
    pub csr: String,
}

/// Cloud → device on `…/certificate/create/accepted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccepted {
    /// The new certificate in PEM. With AWS Private CA the issuing chain follows it.
    pub certificate_pem: String,
}

/// Device → cloud on `…/certificate/commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitRequest {
    pub job_id: String,
}

/// Cloud → device on `…/certificate/commit/accepted`: an empty object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitAccepted {}

/// Cloud → device on `…/create/rejected` and `…/commit/rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    pub error_msg: String,
}

/// Event a create or commit rule sends to its Lambda: the device's payload plus the fields the rule
/// SQL adds (`topic(3) AS thingName, topic() AS topic, clientid() AS clientId,
/// principal() AS principal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleEvent {
    pub job_id: String,
    /// Present on create events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    pub thing_name: String,
    pub topic: String,
    pub client_id: String,
    /// For a certificate connection, the certificate ID (lowercase hex SHA-256 of its DER).
    pub principal: String,
}

/// Device → Jobs on `$aws/things/<thing>/jobs/<jobId>/update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecutionUpdate {
    pub status: JobExecutionStatus,
    pub status_details: BTreeMap<String, String>,
}

impl JobExecutionUpdate {
    /// Builds the update a device sends when it takes a rotation job. The flag is sent as the string
    /// `"true"` because the Jobs API types status details as a string-to-string map.
    pub fn in_progress() -> Self {
        Self::with_status(JobExecutionStatus::InProgress)
    }

    pub fn succeeded() -> Self {
        Self::with_status(JobExecutionStatus::Succeeded)
    }

    pub fn failed(reason: DeviceFailureReason) -> Self {
        let mut update = Self::with_status(JobExecutionStatus::Failed);
        update
            .status_details
            .insert(FAILURE_REASON_KEY.to_owned(), reason.as_str().to_owned());
        update
    }

    fn with_status(status: JobExecutionStatus) -> Self {
        let status_details = BTreeMap::from([(STATUS_DETAIL_KEY.to_owned(), "true".to_owned())]);
        Self {
            status,
            status_details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_field_names() {
        let request = CreateRequest {
            job_id: "j1".into(),
            csr: "PEM".into(),
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"jobId":"j1","csr":"PEM"}"#
        );
    }

    #[test]
    fn replies_match_reference_shape() {
        let accepted = CreateAccepted {
            certificate_pem: "C".into(),
        };
        assert_eq!(
            serde_json::to_string(&accepted).unwrap(),
            r#"{"certificatePem":"C"}"#
        );
        assert_eq!(serde_json::to_string(&CommitAccepted {}).unwrap(), "{}");
        let rejected = Rejected {
            error_msg: "no".into(),
        };
        assert_eq!(
            serde_json::to_string(&rejected).unwrap(),
            r#"{"errorMsg":"no"}"#
        );
    }

    #[test]
    fn rule_event_from_create_rule() {
        let event: RuleEvent = serde_json::from_str(
            r#"{"jobId":"j","csr":"X","thingName":"t","topic":"awslabs/things/t/certificate/create","clientId":"t","principal":"abc"}"#,
        )
        .unwrap();
        assert_eq!(event.csr.as_deref(), Some("X"));
        assert_eq!(event.thing_name, "t");
    }

    #[test]
    fn job_updates_carry_string_details() {
        let update = JobExecutionUpdate::failed(DeviceFailureReason::CommitTimedOut);
        assert_eq!(
            serde_json::to_string(&update).unwrap(),
            r#"{"status":"FAILED","statusDetails":{"CertificateRotator":"true","DeviceFailureReason":"COMMIT_TIMED_OUT"}}"#
        );
        assert_eq!(
            serde_json::to_string(&JobExecutionUpdate::in_progress()).unwrap(),
            r#"{"status":"IN_PROGRESS","statusDetails":{"CertificateRotator":"true"}}"#
        );
    }
}
