//! The backend's per-thing record of a rotation, kept in a named shadow's `state.reported`.

use serde::{Deserialize, Serialize};

/// How far a rotation has gone on the backend side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    /// A new certificate was issued and attached; the old one is still attached.
    Created,
    /// The device proved the new certificate works.
    Committed,
}

/// `state.reported` of the rotation shadow. The field names match the reference backend;
/// `jobId` is ours and lets create and commit recognise a repeated request for the same job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationRecord {
    pub progress: Progress,
    pub old_certificate_id: String,
    pub new_certificate_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

impl RotationRecord {
    /// Builds the shadow update document that stores this record.
    pub fn to_shadow_update(&self) -> serde_json::Value {
        serde_json::json!({ "state": { "reported": self } })
    }

    /// Reads the record from a shadow document, returning `None` when the shadow has none.
    pub fn from_shadow(document: &serde_json::Value) -> Option<Self> {
        let reported = document.get("state")?.get("reported")?;
        serde_json::from_value(reported.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_shadow() {
        let record = RotationRecord {
            progress: Progress::Created,
            old_certificate_id: "aa".into(),
            new_certificate_id: "bb".into(),
            job_id: Some("j".into()),
        };
        let update = record.to_shadow_update();
        let expected = serde_json::json!({"state":{"reported":{
            "jobId":"j","newCertificateId":"bb","oldCertificateId":"aa","progress":"created"
        }}});
        assert_eq!(update, expected);
        assert_eq!(RotationRecord::from_shadow(&update), Some(record));
    }

    #[test]
    fn reference_record_without_job_id_reads() {
        let shadow = serde_json::json!({"state":{"reported":{"progress":"committed","oldCertificateId":"a","newCertificateId":"b"}}});
        let record = RotationRecord::from_shadow(&shadow).unwrap();
        assert_eq!(record.progress, Progress::Committed);
        assert_eq!(record.job_id, None);
        assert_eq!(RotationRecord::from_shadow(&serde_json::json!({})), None);
    }
}
