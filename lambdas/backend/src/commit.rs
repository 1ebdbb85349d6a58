//! The commit-certificate handler: records that the device connected with its new certificate
//! and replies on `…/commit/accepted` or `…/commit/rejected`.

use rotator_protocol::{CommitAccepted, Progress, Rejected, RotationRecord, Topics};
use tracing::{info, warn};

use crate::aws::{Publisher, RecordStore, Registry};
use crate::error::{BackendError, Result};
use crate::request::{RequestKind, parse_request};

/// The result of a commit request, after its reply was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The rotation is now recorded as committed.
    Committed,
    /// The rotation was already committed by the same certificate; accepted again.
    Repeated,
    /// The request was rejected with this reason; nothing changed.
    Rejected { reason: String },
}

/// The commit-certificate function, generic over the AWS services it calls.
pub struct CommitHandler<R, S, P> {
    pub registry: R,
    pub records: S,
    pub publisher: P,
    pub topic_prefix: String,
}

impl<R, S, P> CommitHandler<R, S, P>
where
    R: Registry,
    S: RecordStore,
    P: Publisher,
{
    /// Handles one event from the commit rule. Returns an error only when no reply could be
    /// published or a transient AWS failure makes a retry worthwhile.
    pub async fn handle(&self, event: &serde_json::Value) -> Result<CommitOutcome> {
        let request = parse_request(event, &self.topic_prefix, RequestKind::Commit)?;
        if let Err(error) = request.checked() {
            return self.reject(&request.topics, error).await;
        }
        let thing = request.topics.thing();
        let job_id = request.job_id.as_str();

        match self.commit(thing, job_id, &request.principal).await {
            Ok(outcome) => {
                let payload =
                    serde_json::to_string(&CommitAccepted {}).expect("replies always serialize");
                self.publisher
                    .publish(&request.topics.commit_accepted(), &payload)
                    .await?;
                Ok(outcome)
            }
            Err(error) if error.is_retryable() => {
                warn!(thing, job_id, %error, "commit failed with a transient error");
                Err(error)
            }
            Err(error) => self.reject(&request.topics, error).await,
        }
    }

    async fn commit(&self, thing: &str, job_id: &str, principal: &str) -> Result<CommitOutcome> {
        let record = self.records.load(thing).await?.ok_or_else(|| {
            BackendError::precondition(format!(
                "thing {thing} has no rotation record; send a CSR for job {job_id} first"
            ))
        })?;
        if record.job_id.as_deref() != Some(job_id) {
            return Err(BackendError::precondition(format!(
                "the rotation record of thing {thing} belongs to job {}, not {job_id}",
                record.job_id.as_deref().unwrap_or("(none)")
            )));
        }
        if principal != record.new_certificate_id {
            return Err(BackendError::precondition(format!(
                "the commit came from principal {principal}, not from the new certificate {}; \
                 connect with the new certificate before committing",
                record.new_certificate_id
            )));
        }
        if record.progress == Progress::Committed {
            info!(thing, job_id, "repeated commit; accepting again");
            return Ok(CommitOutcome::Repeated);
        }

        self.check_attachments(thing, &record).await?;
        let committed = RotationRecord {
            progress: Progress::Committed,
            ..record
        };
        self.records.store(thing, &committed).await?;
        info!(thing, job_id, certificate_id = %committed.new_certificate_id, "committed the new certificate");
        Ok(CommitOutcome::Committed)
    }

    /// Checks that exactly the old and the new certificate are attached to the thing.
    async fn check_attachments(&self, thing: &str, record: &RotationRecord) -> Result<()> {
        let mut attached: Vec<String> = self
            .registry
            .thing_principals(thing)
            .await?
            .iter()
            .filter_map(|principal| principal.certificate_id().map(str::to_owned))
            .collect();
        attached.sort();
        let mut expected = vec![
            record.old_certificate_id.clone(),
            record.new_certificate_id.clone(),
        ];
        expected.sort();
        if attached != expected {
            return Err(BackendError::precondition(format!(
                "thing {thing} has certificates {attached:?} attached, expected the old and the \
                 new certificate {expected:?}"
            )));
        }
        Ok(())
    }

    async fn reject(&self, topics: &Topics, error: BackendError) -> Result<CommitOutcome> {
        warn!(thing = topics.thing(), kind = %error.kind(), reason = %error, "rejecting commit");
        let payload = serde_json::to_string(&Rejected {
            error_msg: error.to_string(),
        })
        .expect("replies always serialize");
        self.publisher
            .publish(&topics.commit_rejected(), &payload)
            .await?;
        Ok(CommitOutcome::Rejected {
            reason: error.to_string(),
        })
    }
}
