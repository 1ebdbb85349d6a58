//! The AWS Private CA certificate authority that `--issuer private-ca` deploys against.
//!
//! The stack accepts any CA ARN, and a missing, unusable or unreadable CA would only show when
//! the first device requests a certificate. Deploy and plan therefore describe the CA once,
//! before anything is changed, and stop with the fix when it cannot issue.

use aws_sdk_acmpca::Client as PcaClient;
use aws_sdk_acmpca::operation::describe_certificate_authority::DescribeCertificateAuthorityError;
use aws_sdk_acmpca::types::CertificateAuthorityStatus;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::ProvisionError;
use crate::params::CaArn;

/// Error code AWS returns when the caller lacks the IAM permission for an action.
const ACCESS_DENIED: &str = "AccessDeniedException";

/// Checks that `ca` exists and is `ACTIVE` (DescribeCertificateAuthority).
pub async fn check_active(pca: &PcaClient, ca: &CaArn) -> Result<(), ProvisionError> {
    let result = pca
        .describe_certificate_authority()
        .certificate_authority_arn(&ca.arn)
        .send()
        .await;
    let output = match result {
        Ok(output) => output,
        Err(SdkError::ServiceError(error))
            if matches!(
                error.err(),
                DescribeCertificateAuthorityError::ResourceNotFoundException(_)
            ) =>
        {
            return Err(ProvisionError::CaNotFound {
                arn: ca.arn.clone(),
                account: ca.account.clone(),
                region: ca.region.clone(),
            });
        }
        // DescribeCertificateAuthority models no access-denied error, so only its code
        // identifies it.
        Err(SdkError::ServiceError(error)) if error.err().code() == Some(ACCESS_DENIED) => {
            let detail = match error.err().message() {
                Some(message) => format!("{ACCESS_DENIED}: {message}"),
                None => ACCESS_DENIED.to_owned(),
            };
            return Err(ProvisionError::CaAccessDenied {
                arn: ca.arn.clone(),
                detail,
            });
        }
        Err(error) => {
            return Err(ProvisionError::aws(
                "describe certificate authority",
                &ca.arn,
                error,
            ));
        }
    };

    let status = output
        .certificate_authority()
        .and_then(|authority| authority.status());
    match status {
        Some(CertificateAuthorityStatus::Active) => Ok(()),
        Some(status) => Err(ProvisionError::CaNotActive {
            arn: ca.arn.clone(),
            status: status.as_str().to_owned(),
            advice: advice_for(status),
        }),
        None => Err(ProvisionError::CaNotActive {
            arn: ca.arn.clone(),
            status: "unknown".to_owned(),
            advice: "DescribeCertificateAuthority returned no status; check the CA in the AWS Private CA console",
        }),
    }
}

/// Says how to make a CA in `status` issue certificates.
fn advice_for(status: &CertificateAuthorityStatus) -> &'static str {
    match status {
        CertificateAuthorityStatus::PendingCertificate => {
            "install its CA certificate first: get the CSR (aws acm-pca get-certificate-authority-csr), sign it, and import the certificate (aws acm-pca import-certificate-authority-certificate)"
        }
        CertificateAuthorityStatus::Disabled => {
            "enable it (aws acm-pca update-certificate-authority --status ACTIVE)"
        }
        CertificateAuthorityStatus::Creating => {
            "wait until AWS Private CA has created it, then run the command again"
        }
        CertificateAuthorityStatus::Deleted => {
            "it is scheduled for deletion: restore it (aws acm-pca restore-certificate-authority) and enable it, or use another CA"
        }
        CertificateAuthorityStatus::Expired => {
            "its CA certificate has expired: import a renewed CA certificate, or use another CA"
        }
        CertificateAuthorityStatus::Failed => {
            "its creation failed: delete it and create a new CA, or use another CA"
        }
        _ => "use a CA in status ACTIVE",
    }
}
