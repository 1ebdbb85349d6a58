//! The narrow interfaces through which the handlers reach AWS.
//!
//! Each trait lists only the calls the handlers make, so a test can replace one service with a
//! double and keep the others real. `crate::sdk` implements them with the AWS SDK.

use std::future::Future;

use rotator_protocol::{JobExecutionStatus, RotationRecord};

use crate::error::Result;

/// A principal attached to a thing, as `ListThingPrincipalsV2` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPrincipal {
    pub arn: String,
    /// `Some(true)` for `EXCLUSIVE_THING`, `Some(false)` for `NON_EXCLUSIVE_THING`, `None` when
    /// the service did not report the association type.
    pub exclusive: Option<bool>,
}

impl ThingPrincipal {
    /// Returns the certificate ID when the principal is an X.509 certificate (`…:cert/<id>`).
    pub fn certificate_id(&self) -> Option<&str> {
        certificate_id_from_arn(&self.arn)
    }
}

/// Returns the certificate ID at the end of an AWS IoT certificate ARN.
pub fn certificate_id_from_arn(arn: &str) -> Option<&str> {
    let (head, id) = arn.rsplit_once(":cert/")?;
    (head.starts_with("arn:") && !id.is_empty()).then_some(id)
}

/// A certificate registered in AWS IoT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCertificate {
    pub id: String,
    pub arn: String,
    /// The certificate alone, in PEM.
    pub pem: String,
}

/// A job execution, as far as the create handler needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobExecution {
    pub status: JobExecutionStatus,
    /// The job document as stored by AWS IoT.
    pub document: String,
}

/// The AWS IoT registry: things, certificates, principals and policies.
pub trait Registry: Send + Sync {
    /// Lists every principal attached to `thing`.
    fn thing_principals(
        &self,
        thing: &str,
    ) -> impl Future<Output = Result<Vec<ThingPrincipal>>> + Send;

    fn describe_certificate(
        &self,
        certificate_id: &str,
    ) -> impl Future<Output = Result<RegisteredCertificate>> + Send;

    /// Lists the names of the IoT policies attached to a certificate.
    fn certificate_policies(
        &self,
        certificate_arn: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    fn attach_policy(
        &self,
        policy: &str,
        certificate_arn: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn detach_policy(
        &self,
        policy: &str,
        certificate_arn: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Attaches a certificate to a thing with `EXCLUSIVE_THING` association.
    fn attach_thing_exclusive(
        &self,
        thing: &str,
        certificate_arn: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn detach_thing(
        &self,
        thing: &str,
        certificate_arn: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn deactivate_certificate(
        &self,
        certificate_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn delete_certificate(&self, certificate_id: &str) -> impl Future<Output = Result<()>> + Send;

    /// Registers a certificate signed by a CA unknown to AWS IoT, as `ACTIVE`.
    fn register_certificate_without_ca(
        &self,
        certificate_pem: &str,
    ) -> impl Future<Output = Result<RegisteredCertificate>> + Send;
}

/// Reads job executions.
pub trait JobLookup: Send + Sync {
    /// Returns the execution of `job_id` on `thing`, or `None` when there is none.
    fn job_execution(
        &self,
        thing: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<Option<JobExecution>>> + Send;
}

/// The named shadow that stores each thing's rotation record.
pub trait RecordStore: Send + Sync {
    fn load(&self, thing: &str) -> impl Future<Output = Result<Option<RotationRecord>>> + Send;

    fn store(
        &self,
        thing: &str,
        record: &RotationRecord,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Publishes replies to devices over MQTT.
pub trait Publisher: Send + Sync {
    /// Publishes `payload` to `topic` at QoS 1.
    fn publish(&self, topic: &str, payload: &str) -> impl Future<Output = Result<()>> + Send;
}

/// A certificate signed by a certificate authority outside AWS IoT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCertificate {
    /// The certificate alone, in PEM.
    pub certificate_pem: String,
    /// The issuing chain in PEM, starting with the issuer of the certificate.
    pub chain_pem: String,
}

/// Signs device certificates: AWS IoT Core or AWS Private CA.
pub trait CertificateSigner: Send + Sync {
    /// Issues a certificate for `csr_pem`. The result is registered in AWS IoT and `ACTIVE`.
    /// `pem` in the result is what the device receives: the certificate and then its chain.
    fn issue(&self, csr_pem: &str) -> impl Future<Output = Result<IssuedCertificate>> + Send;

    /// Revokes a certificate this signer issued, where the signer supports revocation.
    fn revoke(&self, certificate_pem: &str) -> impl Future<Output = Result<()>> + Send;

    /// Returns the chain that follows a certificate from this signer in a reply, in PEM: empty
    /// for AWS IoT Core, the CA certificate and its own chain for AWS Private CA.
    fn chain_pem(&self) -> impl Future<Output = Result<String>> + Send;
}

/// A new certificate, registered in AWS IoT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub id: String,
    pub arn: String,
    /// The certificate alone, in PEM.
    pub certificate_pem: String,
    /// The certificate followed by its issuing chain (empty for AWS IoT Core), in PEM.
    pub reply_pem: String,
}

/// Finds the account's AWS IoT endpoints.
pub trait EndpointLookup: Send + Sync {
    /// Returns the host name of the account's `iot:Data-ATS` endpoint, as `DescribeEndpoint`
    /// reports it (for example `<prefix>-ats.iot.<region>.amazonaws.com`, without a scheme).
    fn data_ats_endpoint(&self) -> impl Future<Output = Result<String>> + Send;
}

/// Sends operator notifications.
pub trait Notifier: Send + Sync {
    fn notify(&self, subject: &str, message: &str) -> impl Future<Output = Result<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_id_parses_from_arn() {
        assert_eq!(
            certificate_id_from_arn("arn:aws:iot:us-east-1:123456789012:cert/abc123"),
            Some("abc123")
        );
        assert_eq!(
            certificate_id_from_arn("arn:aws:cognito-identity:us-east-1:1:identitypool/x"),
            None
        );
        assert_eq!(certificate_id_from_arn("cert/abc"), None);
        assert_eq!(certificate_id_from_arn("arn:aws:iot:r:1:cert/"), None);
    }
}
