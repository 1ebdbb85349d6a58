//! The AWS Private CA certificate authority that `--issuer private-ca` deploys against.
//!
//! The stack accepts any CA ARN, and a missing, unusable or unreadable CA would only show when
//! the first device requests a certificate. Deploy and plan therefore describe the CA once,
//! before anything is changed, and stop with the fix when it cannot issue.

use aws_sdk_acmpca::Client as PcaClient;
use aws_sdk_acmpca::operation::describe_certificate_authority::DescribeCertificateAuthorityError;
use aws_sdk_acmpca::types::{
    CertificateAuthority, CertificateAuthorityStatus, CertificateAuthorityUsageMode,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::cli::{CaSigningAlgorithm, StackArgs};
use crate::error::ProvisionError;
use crate::params::CaArn;

/// Maximum validity, in days, of the certificates a CA in usage mode SHORT_LIVED_CERTIFICATE
/// issues (AWS Private CA User Guide, "Understand AWS Private CA CA modes").
pub const SHORT_LIVED_MAX_DAYS: u32 = 7;

/// The certificates the backend will request from the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issuance {
    pub signing_algorithm: CaSigningAlgorithm,
    pub validity_days: u32,
}

impl From<&StackArgs> for Issuance {
    fn from(args: &StackArgs) -> Self {
        Self {
            signing_algorithm: args.ca_signing_algorithm,
            validity_days: args.validity_days,
        }
    }
}

/// Error code AWS returns when the caller lacks the IAM permission for an action.
const ACCESS_DENIED: &str = "AccessDeniedException";

/// Checks that `ca` exists, is `ACTIVE`, and can issue what `issuance` requests: a signing
/// algorithm of its key's family, and a validity its usage mode allows
/// (DescribeCertificateAuthority).
pub async fn check_active(
    pca: &PcaClient,
    ca: &CaArn,
    issuance: Issuance,
) -> Result<(), ProvisionError> {
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

    let Some(authority) = output.certificate_authority() else {
        return Err(not_active(ca, "unknown"));
    };
    match authority.status() {
        Some(CertificateAuthorityStatus::Active) => {}
        Some(status) => {
            return Err(ProvisionError::CaNotActive {
                arn: ca.arn.clone(),
                status: status.as_str().to_owned(),
                advice: advice_for(status),
            });
        }
        None => return Err(not_active(ca, "unknown")),
    }
    check_key_algorithm(ca, authority, issuance.signing_algorithm)?;
    check_usage_mode(ca, authority, issuance.validity_days)
}

fn not_active(ca: &CaArn, status: &str) -> ProvisionError {
    ProvisionError::CaNotActive {
        arn: ca.arn.clone(),
        status: status.to_owned(),
        advice: "DescribeCertificateAuthority returned no status; check the CA in the AWS Private CA console",
    }
}

/// Checks that the signing algorithm belongs to the family of the CA's key: an RSA key
/// (`RSA_*`) signs only with `*WITHRSA`, an elliptic-curve key (`EC_*`) only with `*WITHECDSA`.
/// A CA that reports no key algorithm is not checked.
fn check_key_algorithm(
    ca: &CaArn,
    authority: &CertificateAuthority,
    algorithm: CaSigningAlgorithm,
) -> Result<(), ProvisionError> {
    let Some(key_algorithm) = authority
        .certificate_authority_configuration()
        .map(|configuration| configuration.key_algorithm())
    else {
        return Ok(());
    };
    let key_algorithm = key_algorithm.as_str();
    let key_is_ecdsa = key_algorithm.starts_with("EC_");
    let key_is_rsa = key_algorithm.starts_with("RSA_");
    if (key_is_rsa && !algorithm.is_ecdsa()) || (key_is_ecdsa && algorithm.is_ecdsa()) {
        return Ok(());
    }
    let fix = if key_is_rsa {
        "pass --ca-signing-algorithm SHA256WITHRSA, SHA384WITHRSA or SHA512WITHRSA, or use a CA with an EC key"
    } else if key_is_ecdsa {
        "pass --ca-signing-algorithm SHA256WITHECDSA, SHA384WITHECDSA or SHA512WITHECDSA, or use a CA with an RSA key"
    } else {
        "use a CA with an RSA_* or EC_* key"
    };
    Err(ProvisionError::CaKeyAlgorithmMismatch {
        arn: ca.arn.clone(),
        key_algorithm: key_algorithm.to_owned(),
        signing_algorithm: algorithm.name().to_owned(),
        fix,
    })
}

/// Checks that a CA in short-lived certificate mode is not asked for longer validity than it
/// issues.
fn check_usage_mode(
    ca: &CaArn,
    authority: &CertificateAuthority,
    validity_days: u32,
) -> Result<(), ProvisionError> {
    let short_lived =
        authority.usage_mode() == Some(&CertificateAuthorityUsageMode::ShortLivedCertificate);
    if !short_lived || validity_days <= SHORT_LIVED_MAX_DAYS {
        return Ok(());
    }
    Err(ProvisionError::CaValidityTooLong {
        arn: ca.arn.clone(),
        usage_mode: CertificateAuthorityUsageMode::ShortLivedCertificate
            .as_str()
            .to_owned(),
        validity_days,
        max_days: SHORT_LIVED_MAX_DAYS,
    })
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
