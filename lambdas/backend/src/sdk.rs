//! The `crate::aws` traits implemented with the AWS SDK for Rust.

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_acmpca::client::Waiters;
use aws_sdk_acmpca::operation::get_certificate::{GetCertificateError, GetCertificateOutput};
use aws_sdk_acmpca::types::{Validity, ValidityPeriodType};
use aws_sdk_iot::types::ThingPrincipalType;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::ProvideErrorKind;
use rotator_protocol::{JobExecutionStatus, RotationRecord, SigningAlgorithm};

use crate::aws::{
    CertificateSigner, EndpointLookup, IssuedCertificate, JobExecution, JobLookup, Notifier,
    Publisher, RecordStore, RegisteredCertificate, Registry, ThingPrincipal,
};
use crate::error::{BackendError, ErrorKind, Result};

type SdkError<E> = aws_smithy_runtime_api::client::result::SdkError<
    E,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

/// Maps an SDK error to a `BackendError`. `not_found` and `conflict` pick out the operation's
/// modeled exceptions, and throttling, server errors and network failures count as transient.
fn map_error<E>(
    action: &str,
    error: SdkError<E>,
    not_found: impl Fn(&E) -> bool,
    conflict: impl Fn(&E) -> bool,
) -> BackendError
where
    E: ProvideErrorKind + StdError + Send + Sync + 'static,
{
    let kind = match &error {
        SdkError::ServiceError(context) => {
            let service_error = context.err();
            if not_found(service_error) {
                ErrorKind::NotFound
            } else if conflict(service_error) {
                ErrorKind::Conflict
            } else if service_error.retryable_error_kind().is_some()
                || context.raw().status().is_server_error()
                || context.raw().status().as_u16() == 429
            {
                ErrorKind::AwsTransient
            } else {
                ErrorKind::AwsPermanent
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorKind::AwsTransient
        }
        _ => ErrorKind::AwsPermanent,
    };
    BackendError::new(
        kind,
        format!("failed to {action}: {}", DisplayErrorContext(&error)),
    )
}

fn never<E>(_: &E) -> bool {
    false
}

/// The AWS IoT registry through the `iot` control-plane client.
#[derive(Debug, Clone)]
pub struct SdkRegistry {
    client: aws_sdk_iot::Client,
}

impl SdkRegistry {
    pub fn new(client: aws_sdk_iot::Client) -> Self {
        Self { client }
    }
}

impl Registry for SdkRegistry {
    async fn thing_principals(&self, thing: &str) -> Result<Vec<ThingPrincipal>> {
        let mut principals = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .client
                .list_thing_principals_v2()
                .thing_name(thing)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|error| {
                    map_error(
                        &format!("list the principals of thing {thing}"),
                        error,
                        |e| e.is_resource_not_found_exception(),
                        never,
                    )
                })?;
            for object in output.thing_principal_objects() {
                let exclusive = object
                    .thing_principal_type()
                    .map(|association| matches!(association, ThingPrincipalType::ExclusiveThing));
                principals.push(ThingPrincipal {
                    arn: object.principal().to_owned(),
                    exclusive,
                });
            }
            next_token = output.next_token().map(str::to_owned);
            if next_token.is_none() {
                return Ok(principals);
            }
        }
    }

    async fn describe_certificate(&self, certificate_id: &str) -> Result<RegisteredCertificate> {
        let output = self
            .client
            .describe_certificate()
            .certificate_id(certificate_id)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("describe certificate {certificate_id}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            })?;
        let description = output.certificate_description().ok_or_else(|| {
            BackendError::new(
                ErrorKind::AwsPermanent,
                format!("DescribeCertificate returned no description for {certificate_id}"),
            )
        })?;
        Ok(RegisteredCertificate {
            id: certificate_id.to_owned(),
            arn: description.certificate_arn().unwrap_or_default().to_owned(),
            pem: description.certificate_pem().unwrap_or_default().to_owned(),
        })
    }

    async fn certificate_policies(&self, certificate_arn: &str) -> Result<Vec<String>> {
        let mut policies = Vec::new();
        let mut marker = None;
        loop {
            let output = self
                .client
                .list_attached_policies()
                .target(certificate_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|error| {
                    map_error(
                        &format!("list the policies of {certificate_arn}"),
                        error,
                        |e| e.is_resource_not_found_exception(),
                        never,
                    )
                })?;
            policies.extend(
                output
                    .policies()
                    .iter()
                    .filter_map(|policy| policy.policy_name().map(str::to_owned)),
            );
            marker = output.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(policies);
            }
        }
    }

    async fn attach_policy(&self, policy: &str, certificate_arn: &str) -> Result<()> {
        self.client
            .attach_policy()
            .policy_name(policy)
            .target(certificate_arn)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("attach policy {policy} to {certificate_arn}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            })?;
        Ok(())
    }

    async fn detach_policy(&self, policy: &str, certificate_arn: &str) -> Result<()> {
        self.client
            .detach_policy()
            .policy_name(policy)
            .target(certificate_arn)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("detach policy {policy} from {certificate_arn}"),
                    error,
                    never,
                    never,
                )
            })?;
        Ok(())
    }

    async fn attach_thing_exclusive(&self, thing: &str, certificate_arn: &str) -> Result<()> {
        self.client
            .attach_thing_principal()
            .thing_name(thing)
            .principal(certificate_arn)
            .thing_principal_type(ThingPrincipalType::ExclusiveThing)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("attach {certificate_arn} to thing {thing}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            })?;
        Ok(())
    }

    async fn detach_thing(&self, thing: &str, certificate_arn: &str) -> Result<()> {
        self.client
            .detach_thing_principal()
            .thing_name(thing)
            .principal(certificate_arn)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("detach {certificate_arn} from thing {thing}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            })?;
        Ok(())
    }

    async fn deactivate_certificate(&self, certificate_id: &str) -> Result<()> {
        self.client
            .update_certificate()
            .certificate_id(certificate_id)
            .new_status(aws_sdk_iot::types::CertificateStatus::Inactive)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("deactivate certificate {certificate_id}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    |e| e.is_certificate_state_exception(),
                )
            })?;
        Ok(())
    }

    async fn delete_certificate(&self, certificate_id: &str) -> Result<()> {
        self.client
            .delete_certificate()
            .certificate_id(certificate_id)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("delete certificate {certificate_id}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    |e| e.is_delete_conflict_exception() || e.is_certificate_state_exception(),
                )
            })?;
        Ok(())
    }

    async fn register_certificate_without_ca(
        &self,
        certificate_pem: &str,
    ) -> Result<RegisteredCertificate> {
        let output = self
            .client
            .register_certificate_without_ca()
            .certificate_pem(certificate_pem)
            .status(aws_sdk_iot::types::CertificateStatus::Active)
            .send()
            .await
            .map_err(|error| {
                map_error("register the new certificate", error, never, |e| {
                    e.is_resource_already_exists_exception()
                })
            })?;
        Ok(RegisteredCertificate {
            id: output.certificate_id().unwrap_or_default().to_owned(),
            arn: output.certificate_arn().unwrap_or_default().to_owned(),
            pem: certificate_pem.to_owned(),
        })
    }
}

/// Job executions through the `iot` control plane: `DescribeJobExecution` for the status and
/// `GetJobDocument` for the document (the control plane's execution carries no document).
#[derive(Debug, Clone)]
pub struct SdkJobLookup {
    client: aws_sdk_iot::Client,
}

impl SdkJobLookup {
    pub fn new(client: aws_sdk_iot::Client) -> Self {
        Self { client }
    }
}

impl JobLookup for SdkJobLookup {
    async fn job_execution(&self, thing: &str, job_id: &str) -> Result<Option<JobExecution>> {
        let described = self
            .client
            .describe_job_execution()
            .job_id(job_id)
            .thing_name(thing)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("describe the execution of job {job_id} on thing {thing}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            });
        let described = match described {
            Ok(output) => output,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(status) = described
            .execution()
            .and_then(|execution| execution.status())
            .and_then(|status| parse_status(status.as_str()))
        else {
            return Err(BackendError::new(
                ErrorKind::AwsPermanent,
                format!("DescribeJobExecution returned no known status for job {job_id}"),
            ));
        };

        let document = self
            .client
            .get_job_document()
            .job_id(job_id)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("get the document of job {job_id}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            })?
            .document()
            .unwrap_or_default()
            .to_owned();
        Ok(Some(JobExecution { status, document }))
    }
}

fn parse_status(text: &str) -> Option<JobExecutionStatus> {
    JobExecutionStatus::ALL
        .into_iter()
        .find(|status| status.as_str() == text)
}

/// The endpoint type of the account's data endpoint with an Amazon Trust Services certificate,
/// which AWS recommends over the legacy `iot:Data` endpoint.
const DATA_ATS_ENDPOINT_TYPE: &str = "iot:Data-ATS";

/// The account's endpoints through the `iot` control plane's `DescribeEndpoint`.
#[derive(Debug, Clone)]
pub struct SdkEndpointLookup {
    client: aws_sdk_iot::Client,
}

impl SdkEndpointLookup {
    pub fn new(client: aws_sdk_iot::Client) -> Self {
        Self { client }
    }
}

impl EndpointLookup for SdkEndpointLookup {
    async fn data_ats_endpoint(&self) -> Result<String> {
        let output = self
            .client
            .describe_endpoint()
            .endpoint_type(DATA_ATS_ENDPOINT_TYPE)
            .send()
            .await
            .map_err(|error| {
                let error = map_error(
                    &format!("describe the {DATA_ATS_ENDPOINT_TYPE} endpoint"),
                    error,
                    never,
                    never,
                );
                BackendError::new(
                    error.kind(),
                    format!(
                        "{error}; grant the function's role iot:DescribeEndpoint, or set \
                         AWS_ENDPOINT_URL_IOT_DATA_PLANE to the account's data endpoint URL"
                    ),
                )
            })?;
        match output.endpoint_address() {
            Some(address) if !address.trim().is_empty() => Ok(address.trim().to_owned()),
            _ => Err(BackendError::new(
                ErrorKind::AwsPermanent,
                format!(
                    "DescribeEndpoint returned no address for endpoint type \
                     {DATA_ATS_ENDPOINT_TYPE}; set AWS_ENDPOINT_URL_IOT_DATA_PLANE to the \
                     account's data endpoint URL"
                ),
            )),
        }
    }
}

/// Rotation records in a named shadow, through the `iot-data` client.
#[derive(Debug, Clone)]
pub struct ShadowRecordStore {
    client: aws_sdk_iotdataplane::Client,
    shadow_name: String,
}

impl ShadowRecordStore {
    pub fn new(client: aws_sdk_iotdataplane::Client, shadow_name: impl Into<String>) -> Self {
        Self {
            client,
            shadow_name: shadow_name.into(),
        }
    }
}

impl RecordStore for ShadowRecordStore {
    async fn load(&self, thing: &str) -> Result<Option<RotationRecord>> {
        let shadow = &self.shadow_name;
        let output = self
            .client
            .get_thing_shadow()
            .thing_name(thing)
            .shadow_name(shadow)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("get shadow {shadow} of thing {thing}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    never,
                )
            });
        let output = match output {
            Ok(output) => output,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(payload) = output.payload() else {
            return Ok(None);
        };
        let document: serde_json::Value =
            serde_json::from_slice(payload.as_ref()).map_err(|error| {
                BackendError::new(
                    ErrorKind::AwsPermanent,
                    format!("shadow {shadow} of thing {thing} is not JSON: {error}"),
                )
            })?;
        Ok(RotationRecord::from_shadow(&document))
    }

    async fn store(&self, thing: &str, record: &RotationRecord) -> Result<()> {
        let shadow = &self.shadow_name;
        let payload = record.to_shadow_update().to_string();
        self.client
            .update_thing_shadow()
            .thing_name(thing)
            .shadow_name(shadow)
            .payload(aws_smithy_types::Blob::new(payload))
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("update shadow {shadow} of thing {thing}"),
                    error,
                    never,
                    |e| e.is_conflict_exception(),
                )
            })?;
        Ok(())
    }
}

/// MQTT replies through the `iot-data` client.
#[derive(Debug, Clone)]
pub struct SdkPublisher {
    client: aws_sdk_iotdataplane::Client,
}

impl SdkPublisher {
    pub fn new(client: aws_sdk_iotdataplane::Client) -> Self {
        Self { client }
    }
}

impl Publisher for SdkPublisher {
    async fn publish(&self, topic: &str, payload: &str) -> Result<()> {
        self.client
            .publish()
            .topic(topic)
            .qos(1)
            .payload(aws_smithy_types::Blob::new(payload.as_bytes()))
            .send()
            .await
            .map_err(|error| map_error(&format!("publish to {topic}"), error, never, never))?;
        Ok(())
    }
}

/// AWS IoT Core as the signer: `CreateCertificateFromCsr`, which registers the certificate too.
#[derive(Debug, Clone)]
pub struct IotCoreSigner {
    client: aws_sdk_iot::Client,
}

impl IotCoreSigner {
    pub fn new(client: aws_sdk_iot::Client) -> Self {
        Self { client }
    }
}

impl CertificateSigner for IotCoreSigner {
    async fn issue(&self, csr_pem: &str) -> Result<IssuedCertificate> {
        let output = self
            .client
            .create_certificate_from_csr()
            .certificate_signing_request(csr_pem)
            .set_as_active(true)
            .send()
            .await
            .map_err(|error| map_error("create a certificate from the CSR", error, never, never))?;
        let pem = output.certificate_pem().unwrap_or_default().to_owned();
        Ok(IssuedCertificate {
            id: output.certificate_id().unwrap_or_default().to_owned(),
            arn: output.certificate_arn().unwrap_or_default().to_owned(),
            certificate_pem: pem.clone(),
            reply_pem: pem,
        })
    }

    /// AWS IoT Core has no revocation, so deleting the certificate from the registry is enough.
    async fn revoke(&self, _certificate_pem: &str) -> Result<()> {
        Ok(())
    }

    async fn chain_pem(&self) -> Result<String> {
        Ok(String::new())
    }
}

/// AWS Private CA as the signer: `IssueCertificate`, a bounded wait, `GetCertificate`, then
/// `RegisterCertificateWithoutCA` so the device can connect with it.
#[derive(Debug, Clone)]
pub struct PrivateCaSigner {
    client: aws_sdk_acmpca::Client,
    registry: SdkRegistry,
    ca_arn: String,
    validity_days: i64,
    signing_algorithm: SigningAlgorithm,
    issuance_timeout: Duration,
}

impl PrivateCaSigner {
    pub fn new(
        client: aws_sdk_acmpca::Client,
        registry: SdkRegistry,
        ca_arn: impl Into<String>,
        validity_days: i64,
        signing_algorithm: SigningAlgorithm,
        issuance_timeout: Duration,
    ) -> Self {
        Self {
            client,
            registry,
            ca_arn: ca_arn.into(),
            validity_days,
            signing_algorithm,
            issuance_timeout,
        }
    }

    /// Issues and fetches a certificate without registering it in AWS IoT.
    pub async fn sign(&self, csr_pem: &str) -> Result<crate::aws::SignedCertificate> {
        let ca = &self.ca_arn;
        let algorithm =
            aws_sdk_acmpca::types::SigningAlgorithm::from(self.signing_algorithm.name());
        let validity = Validity::builder()
            .r#type(ValidityPeriodType::Days)
            .value(self.validity_days)
            .build()
            .map_err(|error| {
                BackendError::configuration(format!("invalid Private CA validity: {error}"))
            })?;
        let issued = self
            .client
            .issue_certificate()
            .certificate_authority_arn(ca)
            .csr(aws_smithy_types::Blob::new(csr_pem.as_bytes()))
            .signing_algorithm(algorithm)
            .validity(validity)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("issue a certificate with Private CA {ca}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    |e| e.is_invalid_state_exception(),
                )
            })?;
        let certificate_arn = issued.certificate_arn().unwrap_or_default().to_owned();

        // NOTE: when the wait times out, Private CA may still issue the certificate later. It
        // is then valid but never registered in AWS IoT, so no device can connect with it.
        let timeout = self.issuance_timeout;
        let fetched = self
            .client
            .wait_until_certificate_issued()
            .certificate_authority_arn(ca)
            .certificate_arn(&certificate_arn)
            .wait(timeout)
            .await
            .map_err(|error| map_issuance_wait_error(ca, &certificate_arn, timeout, error))?
            .into_result()
            .map_err(|error| {
                BackendError::new(
                    ErrorKind::AwsPermanent,
                    format!(
                        "failed to get certificate {certificate_arn} from Private CA {ca}: {}",
                        DisplayErrorContext(&error)
                    ),
                )
            })?;
        Ok(crate::aws::SignedCertificate {
            certificate_pem: ensure_newline(fetched.certificate().unwrap_or_default()),
            chain_pem: ensure_newline(fetched.certificate_chain().unwrap_or_default()),
        })
    }
}

/// Maps a failed wait for a Private CA certificate. A `GetCertificate` error that no waiter
/// acceptor matched, such as `RequestFailedException` for an issuance that failed, is classified
/// like any other call, so only throttling, server and network errors count as transient.
fn map_issuance_wait_error(
    ca: &str,
    certificate_arn: &str,
    timeout: Duration,
    error: WaiterError<GetCertificateOutput, GetCertificateError>,
) -> BackendError {
    match error {
        WaiterError::ExceededMaxWait(_) => BackendError::new(
            ErrorKind::TimedOut,
            format!(
                "Private CA {ca} did not issue certificate {certificate_arn} within {timeout:?}"
            ),
        ),
        WaiterError::OperationFailed(failed) => map_error(
            &format!("get certificate {certificate_arn} from Private CA {ca}"),
            failed.into_error(),
            |e| e.is_resource_not_found_exception(),
            |e| e.is_invalid_state_exception(),
        ),
        // In aws-sdk-acmpca 1.79 the CertificateIssued waiter has one failure state: an
        // AccessDeniedException from GetCertificate.
        WaiterError::FailureState(_) => BackendError::new(
            ErrorKind::AwsPermanent,
            format!(
                "failed to get certificate {certificate_arn} from Private CA {ca}: access \
                 denied; grant the function's role acm-pca:GetCertificate on the CA"
            ),
        ),
        other => BackendError::new(
            ErrorKind::AwsPermanent,
            format!(
                "failed to wait for certificate {certificate_arn} from Private CA {ca}: {}",
                DisplayErrorContext(&other)
            ),
        ),
    }
}

fn ensure_newline(pem: &str) -> String {
    let trimmed = pem.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

impl CertificateSigner for PrivateCaSigner {
    async fn chain_pem(&self) -> Result<String> {
        let ca = &self.ca_arn;
        let output = self
            .client
            .get_certificate_authority_certificate()
            .certificate_authority_arn(ca)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("get the certificate of Private CA {ca}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    |e| e.is_invalid_state_exception(),
                )
            })?;
        Ok(format!(
            "{}{}",
            ensure_newline(output.certificate().unwrap_or_default()),
            ensure_newline(output.certificate_chain().unwrap_or_default())
        ))
    }

    async fn issue(&self, csr_pem: &str) -> Result<IssuedCertificate> {
        let signed = self.sign(csr_pem).await?;
        let registered = match self
            .registry
            .register_certificate_without_ca(&signed.certificate_pem)
            .await
        {
            Ok(registered) => registered,
            Err(error) => {
                // The certificate exists in Private CA but not in AWS IoT: revoke it so that
                // nothing valid is left behind.
                if let Err(revoke_error) = self.revoke(&signed.certificate_pem).await {
                    tracing::error!(error = %revoke_error, "failed to revoke an unregistered certificate");
                }
                return Err(error);
            }
        };
        Ok(IssuedCertificate {
            id: registered.id,
            arn: registered.arn,
            reply_pem: format!("{}{}", signed.certificate_pem, signed.chain_pem),
            certificate_pem: signed.certificate_pem,
        })
    }

    async fn revoke(&self, certificate_pem: &str) -> Result<()> {
        let ca = &self.ca_arn;
        let serial = crate::csr::certificate_serial(certificate_pem)?;
        self.client
            .revoke_certificate()
            .certificate_authority_arn(ca)
            .certificate_serial(&serial)
            .revocation_reason(aws_sdk_acmpca::types::RevocationReason::Superseded)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("revoke certificate {serial} in Private CA {ca}"),
                    error,
                    |e| e.is_resource_not_found_exception(),
                    |e| e.is_request_already_processed_exception(),
                )
            })?;
        Ok(())
    }
}

/// Operator notifications through SNS.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for SnsNotifier {
    async fn notify(&self, subject: &str, message: &str) -> Result<()> {
        let topic = &self.topic_arn;
        self.client
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|error| {
                map_error(
                    &format!("publish a notification to {topic}"),
                    error,
                    |e| e.is_not_found_exception(),
                    never,
                )
            })?;
        Ok(())
    }
}

/// The signer the configuration selects.
#[derive(Debug, Clone)]
pub enum ConfiguredSigner {
    IotCore(IotCoreSigner),
    PrivateCa(PrivateCaSigner),
}

impl CertificateSigner for ConfiguredSigner {
    async fn issue(&self, csr_pem: &str) -> Result<IssuedCertificate> {
        match self {
            ConfiguredSigner::IotCore(signer) => signer.issue(csr_pem).await,
            ConfiguredSigner::PrivateCa(signer) => signer.issue(csr_pem).await,
        }
    }

    async fn revoke(&self, certificate_pem: &str) -> Result<()> {
        match self {
            ConfiguredSigner::IotCore(signer) => signer.revoke(certificate_pem).await,
            ConfiguredSigner::PrivateCa(signer) => signer.revoke(certificate_pem).await,
        }
    }

    async fn chain_pem(&self) -> Result<String> {
        match self {
            ConfiguredSigner::IotCore(signer) => signer.chain_pem().await,
            ConfiguredSigner::PrivateCa(signer) => signer.chain_pem().await,
        }
    }
}
