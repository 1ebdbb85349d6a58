//! The job-execution-terminal handler: when a rotation job execution ends, removes the
//! certificate that lost and notifies operators of every outcome but success.

use std::collections::BTreeMap;
use std::time::Duration;

use rotator_protocol::{FAILURE_REASON_KEY, JobExecutionStatus, Progress, RotationRecord};
use serde::Deserialize;
use tracing::{error, info, warn};

use crate::aws::{CertificateSigner, Notifier, RecordStore, Registry};
use crate::error::{BackendError, Result};

/// SNS accepts subjects of at most 100 characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// How often and how long to retry deleting a certificate while AWS IoT finishes detaching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRetry {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for DeleteRetry {
    /// Eight attempts over about 15 s: `DetachThingPrincipal` is asynchronous in AWS IoT and
    /// usually completes within a few seconds.
    fn default() -> Self {
        Self {
            attempts: 8,
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

/// Deletes a certificate, retrying while AWS IoT reports a conflict (still attached or still
/// active). A certificate that no longer exists counts as deleted.
pub async fn delete_with_retry<R: Registry>(
    registry: &R,
    certificate_id: &str,
    retry: &DeleteRetry,
) -> Result<()> {
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        match registry.delete_certificate(certificate_id).await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_not_found() => return Ok(()),
            Err(error) if error.is_conflict() && attempt < retry.attempts => {
                warn!(certificate_id, attempt, %error, "certificate not deletable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(retry.max_delay);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The job-execution event that AWS IoT publishes on `$aws/events/jobExecution/<jobId>/<op>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobExecutionEvent {
    pub job_id: String,
    pub thing_arn: String,
    pub status: JobExecutionStatus,
    #[serde(default)]
    pub status_details: BTreeMap<String, String>,
}

impl JobExecutionEvent {
    /// Returns the thing name at the end of the thing ARN (`arn:…:thing/<name>`).
    pub fn thing_name(&self) -> Option<&str> {
        let (_, name) = self.thing_arn.rsplit_once(":thing/")?;
        (!name.is_empty()).then_some(name)
    }
}

/// How far the backend got with the job whose execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStage {
    /// No certificate was issued for this job.
    NotStarted,
    Created,
    Committed,
}

/// The action the terminal handler took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalAction {
    /// Deleted the old certificate after a committed, successful rotation.
    DeletedOldCertificate,
    /// Deleted the new certificate of a rotation that did not commit.
    DeletedNewCertificate,
    /// Kept both certificates because the outcome is ambiguous; a human must decide.
    KeptBoth,
    /// Nothing to clean up.
    Nothing,
    /// The event is not a terminal status; ignored.
    Ignored,
}

/// Chooses the action for a status and a stage. Pure, so every combination is testable.
pub fn decide(status: JobExecutionStatus, stage: RotationStage) -> TerminalAction {
    use JobExecutionStatus as Status;
    match (status, stage) {
        (Status::Queued | Status::InProgress, _) => TerminalAction::Ignored,
        (_, RotationStage::NotStarted) => TerminalAction::Nothing,
        (Status::Succeeded, RotationStage::Committed) => TerminalAction::DeletedOldCertificate,
        // The device reported success without committing, so which certificate it uses is
        // unknown: deleting either could take it offline.
        (Status::Succeeded, RotationStage::Created) => TerminalAction::KeptBoth,
        (_, RotationStage::Created) => TerminalAction::DeletedNewCertificate,
        // Committed means the backend saw the device connect with the new certificate, yet the
        // job did not succeed: the device may have rolled back to the old one.
        (_, RotationStage::Committed) => TerminalAction::KeptBoth,
    }
}

/// Returns whether operators are notified of this outcome.
pub fn notifies(status: JobExecutionStatus, action: TerminalAction) -> bool {
    !(action == TerminalAction::Ignored
        || (status == JobExecutionStatus::Succeeded
            && action == TerminalAction::DeletedOldCertificate))
}

/// The result of handling one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalOutcome {
    pub action: TerminalAction,
    pub notified: bool,
}

/// The job-execution-terminal function, generic over the AWS services it calls.
pub struct TerminalHandler<R, S, C, N> {
    pub registry: R,
    pub records: S,
    pub signer: C,
    pub notifier: N,
    pub delete_retry: DeleteRetry,
}

impl<R, S, C, N> TerminalHandler<R, S, C, N>
where
    R: Registry,
    S: RecordStore,
    C: CertificateSigner,
    N: Notifier,
{
    /// Handles one job-execution event. Returns an error when the event is malformed or when
    /// cleaning up failed; operators are notified of the failure first.
    pub async fn handle(&self, event: &serde_json::Value) -> Result<TerminalOutcome> {
        let event: JobExecutionEvent = serde_json::from_value(event.clone()).map_err(|error| {
            BackendError::invalid_request(format!("invalid job execution event: {error}"))
        })?;
        let thing = event.thing_name().ok_or_else(|| {
            BackendError::invalid_request(format!(
                "invalid job execution event: thingArn {:?} names no thing",
                event.thing_arn
            ))
        })?;
        let job_id = event.job_id.as_str();

        let record = self
            .records
            .load(thing)
            .await?
            .filter(|record| record.job_id.as_deref() == Some(job_id));
        let stage = match &record {
            None => RotationStage::NotStarted,
            Some(record) if record.progress == Progress::Created => RotationStage::Created,
            Some(_) => RotationStage::Committed,
        };
        let action = decide(event.status, stage);
        info!(thing, job_id, status = %event.status, ?stage, ?action, "job execution ended");

        let cleanup = match (action, &record) {
            (TerminalAction::DeletedOldCertificate, Some(record)) => {
                self.delete_old(thing, record).await
            }
            (TerminalAction::DeletedNewCertificate, Some(record)) => {
                self.remove_certificate(thing, &record.new_certificate_id)
                    .await
            }
            _ => Ok(()),
        };

        let notified = notifies(event.status, action) || cleanup.is_err();
        if notified {
            let (subject, message) = describe(
                &event,
                thing,
                record.as_ref(),
                action,
                cleanup.as_ref().err(),
            );
            self.notifier.notify(&subject, &message).await?;
        }
        cleanup?;
        Ok(TerminalOutcome { action, notified })
    }

    /// Deletes the old certificate, but only while the new one is still attached, so that the
    /// thing is never left without a certificate.
    async fn delete_old(&self, thing: &str, record: &RotationRecord) -> Result<()> {
        let attached = self.registry.thing_principals(thing).await?;
        let new_attached = attached
            .iter()
            .any(|principal| principal.certificate_id() == Some(&record.new_certificate_id));
        if !new_attached {
            return Err(BackendError::precondition(format!(
                "the new certificate {} is no longer attached to thing {thing}; kept the old \
                 certificate {}",
                record.new_certificate_id, record.old_certificate_id
            )));
        }
        self.remove_certificate(thing, &record.old_certificate_id)
            .await
    }

    /// Deactivates a certificate, detaches its policies and the thing, deletes it (retrying
    /// while AWS IoT finishes the detach) and revokes it where the signer supports that.
    async fn remove_certificate(&self, thing: &str, certificate_id: &str) -> Result<()> {
        let certificate = match self.registry.describe_certificate(certificate_id).await {
            Ok(certificate) => certificate,
            Err(error) if error.is_not_found() => {
                info!(thing, certificate_id, "certificate already deleted");
                return Ok(());
            }
            Err(error) => return Err(error),
        };

        self.registry.deactivate_certificate(certificate_id).await?;
        for policy in self.registry.certificate_policies(&certificate.arn).await? {
            self.registry
                .detach_policy(&policy, &certificate.arn)
                .await?;
        }
        match self.registry.detach_thing(thing, &certificate.arn).await {
            Err(error) if !error.is_not_found() => return Err(error),
            _ => {}
        }
        delete_with_retry(&self.registry, certificate_id, &self.delete_retry).await?;
        info!(thing, certificate_id, "deleted certificate");

        // NOTE: Private CA fails to revoke a certificate that another CA issued, such as the
        // device's first one. That failure is logged and does not fail the cleanup.
        if let Err(error) = self.signer.revoke(&certificate.pem).await {
            warn!(thing, certificate_id, %error, "failed to revoke the deleted certificate");
        }
        Ok(())
    }
}

/// Builds the notification subject and message: the thing, the job, the status, and what was
/// done or needs doing.
fn describe(
    event: &JobExecutionEvent,
    thing: &str,
    record: Option<&RotationRecord>,
    action: TerminalAction,
    cleanup_error: Option<&BackendError>,
) -> (String, String) {
    let job_id = &event.job_id;
    let status = event.status;
    let certificate =
        |pick: fn(&RotationRecord) -> &str| record.map(pick).unwrap_or("(none)").to_owned();
    let old = certificate(|record| &record.old_certificate_id);
    let new = certificate(|record| &record.new_certificate_id);

    let done = match (action, cleanup_error) {
        (_, Some(error)) => format!(
            "Cleanup FAILED: {error}. Check the certificates of thing {thing} by hand: old {old}, new {new}."
        ),
        (TerminalAction::DeletedOldCertificate, None) => {
            format!("Deleted the old certificate {old}; the thing keeps the new certificate {new}.")
        }
        (TerminalAction::DeletedNewCertificate, None) => {
            format!("Deleted the new certificate {new}; the thing keeps the old certificate {old}.")
        }
        (TerminalAction::KeptBoth, None) => format!(
            "Kept both certificates (old {old}, new {new}) because it is unknown which one the \
             device uses. Action needed: find out which certificate the device connects with, \
             then detach, deactivate and delete the other."
        ),
        (TerminalAction::Nothing, None) => {
            "No certificate was issued for this job, so there was nothing to clean up.".to_owned()
        }
        (TerminalAction::Ignored, None) => {
            "The status is not terminal; nothing was done.".to_owned()
        }
    };

    let mut message = format!(
        "Certificate rotation job {job_id} on thing {thing} ended with status {status}.\n{done}\n"
    );
    if let Some(reason) = event.status_details.get(FAILURE_REASON_KEY) {
        message.push_str(&format!("Device failure reason: {reason}\n"));
    }
    let mut subject = format!("Certificate rotation {status}: {thing} ({job_id})");
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        subject = subject.chars().take(MAX_SUBJECT_CHARS).collect();
    }
    if cleanup_error.is_some() {
        error!(thing, job_id, "cleanup failed; notifying operators");
    }
    (subject, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_name_from_arn() {
        let event = JobExecutionEvent {
            job_id: "j".into(),
            thing_arn: "arn:aws:iot:us-east-1:123456789012:thing/core-1".into(),
            status: JobExecutionStatus::Failed,
            status_details: BTreeMap::new(),
        };
        assert_eq!(event.thing_name(), Some("core-1"));
    }

    #[test]
    fn subject_fits_sns_limit() {
        let event = JobExecutionEvent {
            job_id: "j".repeat(64),
            thing_arn: format!("arn:aws:iot:r:1:thing/{}", "t".repeat(128)),
            status: JobExecutionStatus::TimedOut,
            status_details: BTreeMap::new(),
        };
        let thing = event.thing_name().unwrap().to_owned();
        let (subject, message) = describe(&event, &thing, None, TerminalAction::Nothing, None);
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(message.contains(&thing));
        assert!(message.contains(&event.job_id));
    }
}
