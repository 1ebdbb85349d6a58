//! The create-certificate handler: checks a device's CSR request, issues and attaches a new
//! certificate, records the rotation and replies on `…/create/accepted` or `…/create/rejected`.

use rotator_protocol::{
    CreateAccepted, JobDocument, JobExecutionStatus, Progress, Rejected, RotationRecord, Topics,
};
use tracing::{error, info, warn};

use crate::aws::{
    CertificateSigner, IssuedCertificate, JobLookup, Publisher, RecordStore, Registry,
};
use crate::csr::{certificate_public_key, validate_csr};
use crate::error::{BackendError, Result};
use crate::request::{RequestKind, parse_request};

/// The result of a create request, after its reply was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// A new certificate was issued, attached and sent.
    Issued { certificate_id: String },
    /// The same job asked again with the same key; the certificate issued earlier was sent again.
    Repeated { certificate_id: String },
    /// The request was rejected with this reason; nothing in the registry changed.
    Rejected { reason: String },
}

/// The create-certificate function, generic over the AWS services it calls.
pub struct CreateHandler<R, J, S, P, C> {
    pub registry: R,
    pub jobs: J,
    pub records: S,
    pub publisher: P,
    pub signer: C,
    pub topic_prefix: String,
}

/// A create request that passed the checks that need no AWS call.
struct CreateRequest {
    topics: Topics,
    job_id: String,
    csr: String,
    principal: String,
}

impl<R, J, S, P, C> CreateHandler<R, J, S, P, C>
where
    R: Registry,
    J: JobLookup,
    S: RecordStore,
    P: Publisher,
    C: CertificateSigner,
{
    /// Handles one event from the create rule. Returns an error only when no reply could be
    /// published or when undoing a failed issuance failed too. The invocation then fails, so the
    /// rule's error action records it.
    pub async fn handle(&self, event: &serde_json::Value) -> Result<CreateOutcome> {
        let parsed = parse_request(event, &self.topic_prefix, RequestKind::Create)?;
        if let Err(error) = parsed.checked() {
            return self.reject(&parsed.topics, error).await;
        }
        let Some(csr) = parsed.csr else {
            let error = BackendError::invalid_request("missing field \"csr\"");
            return self.reject(&parsed.topics, error).await;
        };
        let request = CreateRequest {
            topics: parsed.topics,
            job_id: parsed.job_id,
            csr,
            principal: parsed.principal,
        };

        match self.create(&request).await {
            Ok(outcome) => Ok(outcome),
            Err(error) if error.is_retryable() => {
                // Fail the invocation so that Lambda's retry or the device's next request can
                // succeed. Nothing is left half done, because a failure while installing was
                // undone above, and a lost accepted reply is resent for the same job.
                error!(thing = request.topics.thing(), job_id = %request.job_id, %error, "create failed");
                Err(error)
            }
            Err(error) => self.reject(&request.topics, error).await,
        }
    }

    async fn create(&self, request: &CreateRequest) -> Result<CreateOutcome> {
        let thing = request.topics.thing();
        let job_id = request.job_id.as_str();

        self.check_job(thing, job_id).await?;
        if let Some(record) = self.records.load(thing).await?
            && record.job_id.as_deref() == Some(job_id)
        {
            return self.repeat(request, &record).await;
        }

        let current = self.current_certificate(thing, &request.principal).await?;
        let current = self.registry.describe_certificate(current).await?;
        let csr = validate_csr(&request.csr, &current.pem)?;
        info!(thing, job_id, key = %csr.key_description, "CSR is valid; issuing a certificate");

        let issued = self.signer.issue(&request.csr).await?;
        info!(thing, job_id, certificate_id = %issued.id, "issued a certificate");

        if let Err(error) = self
            .install(request, &current.arn, &current.id, &issued)
            .await
        {
            error!(thing, job_id, certificate_id = %issued.id, %error, "failed to install the new certificate; undoing it");
            let undone = self.undo(thing, &issued).await;
            let outcome = self.reject(&request.topics, error).await?;
            undone?;
            return Ok(outcome);
        }

        let reply = CreateAccepted {
            certificate_pem: issued.reply_pem.clone(),
        };
        self.publish(&request.topics.create_accepted(), &reply)
            .await?;
        Ok(CreateOutcome::Issued {
            certificate_id: issued.id,
        })
    }

    /// Sends the certificate again for a repeated request of a job that already issued one, as
    /// long as the CSR carries the same key. The device repeats a request when a reply was lost.
    async fn repeat(
        &self,
        request: &CreateRequest,
        record: &RotationRecord,
    ) -> Result<CreateOutcome> {
        let thing = request.topics.thing();
        if record.progress == Progress::Committed {
            return Err(BackendError::precondition(format!(
                "job {} already committed certificate {}; start a new job to rotate again",
                request.job_id, record.new_certificate_id
            )));
        }
        if request.principal != record.old_certificate_id {
            return Err(BackendError::precondition(format!(
                "the request came from principal {}, but job {} rotates certificate {}",
                request.principal, request.job_id, record.old_certificate_id
            )));
        }

        let issued = self
            .registry
            .describe_certificate(&record.new_certificate_id)
            .await?;
        let current = self
            .registry
            .describe_certificate(&record.old_certificate_id)
            .await?;
        let csr = validate_csr(&request.csr, &current.pem)?;
        if certificate_public_key(&issued.pem)? != csr.public_key_der {
            return Err(BackendError::invalid_request(format!(
                "job {} already issued certificate {} for a different key; send the CSR of \
                 that key or start a new job",
                request.job_id, issued.id
            )));
        }

        let chain = self.signer.chain_pem().await?;
        info!(thing, job_id = %request.job_id, certificate_id = %issued.id, "repeated create; sending the same certificate");
        let reply = CreateAccepted {
            certificate_pem: format!("{}{chain}", ensure_newline(&issued.pem)),
        };
        self.publish(&request.topics.create_accepted(), &reply)
            .await?;
        Ok(CreateOutcome::Repeated {
            certificate_id: issued.id,
        })
    }

    /// Checks that the job execution is in progress and that the job is a rotation job.
    async fn check_job(&self, thing: &str, job_id: &str) -> Result<()> {
        let execution = self
            .jobs
            .job_execution(thing, job_id)
            .await?
            .ok_or_else(|| {
                BackendError::precondition(format!(
                    "job {job_id} has no execution on thing {thing}"
                ))
            })?;
        if execution.status != JobExecutionStatus::InProgress {
            return Err(BackendError::precondition(format!(
                "the execution of job {job_id} is {}, not IN_PROGRESS; update it to IN_PROGRESS \
                 before sending a CSR",
                execution.status
            )));
        }
        JobDocument::parse(&execution.document).map_err(|error| {
            BackendError::precondition(format!("job {job_id} is not a rotation job: {error}"))
        })?;
        Ok(())
    }

    /// Finds the single certificate attached to `thing` and checks that the request came from
    /// it. Returns its ID.
    async fn current_certificate<'a>(&self, thing: &str, principal: &'a str) -> Result<&'a str> {
        let principals = self.registry.thing_principals(thing).await?;
        let certificates: Vec<_> = principals
            .iter()
            .filter(|principal| principal.certificate_id().is_some())
            .collect();
        let [current] = certificates.as_slice() else {
            return Err(BackendError::precondition(format!(
                "thing {thing} has {} certificates attached, expected exactly 1; finish or clean \
                 up the previous rotation first",
                certificates.len()
            )));
        };
        // NOTE: moto 5.2.5 does not report the association type, so an unreported type is
        // accepted; AWS IoT reports it for every principal.
        if current.exclusive == Some(false) {
            return Err(BackendError::precondition(format!(
                "certificate {} is attached to thing {thing} non-exclusively; reattach it with \
                 EXCLUSIVE_THING",
                current.arn
            )));
        }
        if current.certificate_id() != Some(principal) {
            return Err(BackendError::precondition(format!(
                "the request came from principal {principal}, which is not the certificate \
                 attached to thing {thing}"
            )));
        }
        Ok(principal)
    }

    /// Copies the old certificate's policies to the new one, attaches it to the thing and
    /// records the rotation.
    async fn install(
        &self,
        request: &CreateRequest,
        old_arn: &str,
        old_id: &str,
        issued: &IssuedCertificate,
    ) -> Result<()> {
        let thing = request.topics.thing();
        for policy in self.registry.certificate_policies(old_arn).await? {
            self.registry.attach_policy(&policy, &issued.arn).await?;
        }
        self.registry
            .attach_thing_exclusive(thing, &issued.arn)
            .await?;

        // Two creates for the same thing running at once would each attach a certificate.
        // Both then see three and undo their own, and the device's next request succeeds.
        let attached = self
            .registry
            .thing_principals(thing)
            .await?
            .iter()
            .filter(|principal| principal.certificate_id().is_some())
            .count();
        if attached != 2 {
            return Err(BackendError::precondition(format!(
                "thing {thing} has {attached} certificates attached after attaching the new \
                 one, expected 2; another create request ran at the same time, so send the CSR \
                 again"
            )));
        }

        let record = RotationRecord {
            progress: Progress::Created,
            old_certificate_id: old_id.to_owned(),
            new_certificate_id: issued.id.clone(),
            job_id: Some(request.job_id.clone()),
        };
        self.records.store(thing, &record).await
    }

    /// Removes a certificate that was issued but cannot be used: detaches its policies and the
    /// thing, deactivates and deletes it, and revokes it where the signer supports that. Every
    /// step runs even when an earlier one fails; the first failure is returned.
    async fn undo(&self, thing: &str, issued: &IssuedCertificate) -> Result<()> {
        let mut first_error = None;
        let mut keep = |result: Result<()>| {
            if let Err(error) = result
                && !error.is_not_found()
            {
                error!(thing, certificate_id = %issued.id, %error, "undo step failed");
                first_error.get_or_insert(error);
            }
        };

        match self.registry.certificate_policies(&issued.arn).await {
            Ok(policies) => {
                for policy in policies {
                    keep(self.registry.detach_policy(&policy, &issued.arn).await);
                }
            }
            Err(error) => keep(Err(error)),
        }
        keep(self.registry.detach_thing(thing, &issued.arn).await);
        keep(self.registry.deactivate_certificate(&issued.id).await);
        keep(
            crate::terminal::delete_with_retry(&self.registry, &issued.id, &Default::default())
                .await,
        );
        keep(self.signer.revoke(&issued.certificate_pem).await);

        match first_error {
            None => {
                info!(thing, certificate_id = %issued.id, "undid the new certificate");
                Ok(())
            }
            Some(error) => Err(error),
        }
    }

    async fn reject(&self, topics: &Topics, error: BackendError) -> Result<CreateOutcome> {
        warn!(thing = topics.thing(), kind = %error.kind(), reason = %error, "rejecting create");
        let reply = Rejected {
            error_msg: error.to_string(),
        };
        self.publish(&topics.create_rejected(), &reply).await?;
        Ok(CreateOutcome::Rejected {
            reason: error.to_string(),
        })
    }

    async fn publish(&self, topic: &str, reply: &impl serde::Serialize) -> Result<()> {
        let payload = serde_json::to_string(reply).expect("replies always serialize");
        self.publisher.publish(topic, &payload).await
    }
}

fn ensure_newline(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}
