//! Errors a user can hit, each naming what failed, on which resource, and what to do.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

/// A resource that failed during a stack operation, with CloudFormation's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceFailure {
    pub logical_resource_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl fmt::Display for ResourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {}: {}",
            self.logical_resource_id, self.resource_type, self.status, self.reason
        )
    }
}

/// Formats failures as indented lines after a message, or nothing when there are none.
struct FailureList<'a>(&'a [ResourceFailure]);

impl fmt::Display for FailureList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in self.0 {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "invalid --ca-arn {arn:?}: {problem}; expected arn:aws:acm-pca:REGION:ACCOUNT:certificate-authority/ID"
    )]
    InvalidCaArn { arn: String, problem: String },

    #[error(
        "--issuer private-ca needs --ca-arn: pass the ARN of an AWS Private CA certificate authority in the deploy region"
    )]
    MissingCaArn,

    #[error(
        "--ca-arn is only used with --issuer private-ca: add --issuer private-ca, or drop --ca-arn"
    )]
    CaArnWithoutPrivateCa,

    #[error(
        "certificate authority {arn} is in region {ca_region}, but the stack deploys to {region}: pass --region {ca_region}, or use a certificate authority in {region}"
    )]
    CaInOtherRegion {
        arn: String,
        ca_region: String,
        region: String,
    },

    #[error(
        "certificate authority {arn} belongs to account {ca_account}, but the credentials are for account {account}: use a certificate authority in account {account}, or run with credentials for account {ca_account}"
    )]
    CaInOtherAccount {
        arn: String,
        ca_account: String,
        account: String,
    },

    #[error(
        "certificate authority {arn} not found in account {account} region {region}: check --ca-arn, or create the CA in AWS Private CA first"
    )]
    CaNotFound {
        arn: String,
        account: String,
        region: String,
    },

    #[error(
        "--ca-signing-algorithm {signing_algorithm} does not match key algorithm {key_algorithm} of certificate authority {arn}: {fix}"
    )]
    CaKeyAlgorithmMismatch {
        arn: String,
        key_algorithm: String,
        signing_algorithm: String,
        fix: &'static str,
    },

    #[error(
        "--validity-days {validity_days} is longer than certificate authority {arn} in usage mode {usage_mode} issues ({max_days} days at most): pass --validity-days {max_days} or less, or use a CA in usage mode GENERAL_PURPOSE"
    )]
    CaValidityTooLong {
        arn: String,
        usage_mode: String,
        validity_days: u32,
        max_days: u32,
    },

    #[error(
        "certificate authority {arn} is in status {status}, not ACTIVE, so it cannot issue device certificates: {advice}"
    )]
    CaNotActive {
        arn: String,
        status: String,
        advice: &'static str,
    },

    #[error(
        "access denied to certificate authority {arn} ({detail}): allow acm-pca:DescribeCertificateAuthority on it for the deploying identity"
    )]
    CaAccessDenied { arn: String, detail: String },

    #[error("invalid {flag} {value:?}: {problem}")]
    InvalidArgument {
        flag: &'static str,
        value: String,
        problem: String,
    },

    #[error(
        "no AWS region configured: pass --region, set AWS_REGION, or set `region` in the profile"
    )]
    MissingRegion,

    #[error(
        "invalid region {0:?}: expected a region code such as eu-west-1; pass --region or set AWS_REGION"
    )]
    InvalidRegion(String),

    #[error("no AWS credentials found{}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile or AWS_PROFILE, or run `aws sso login` ({})", profile_hint(.profile), error_chain(.source.as_ref()))]
    NoCredentials {
        profile: Option<String>,
        source: Box<dyn StdError + Send + Sync>,
    },

    #[error(
        "profile {profile:?} not found in {config_file} (AWS_CONFIG_FILE) or {credentials_file} (AWS_SHARED_CREDENTIALS_FILE): check the --profile name, or add the profile with `aws configure --profile {profile}`"
    )]
    ProfileNotFound {
        profile: String,
        config_file: String,
        credentials_file: String,
    },

    #[error("failed to read the shared AWS config files: {detail}")]
    InvalidProfileFiles { detail: String },

    #[error("failed to {action} {resource}: {detail}")]
    Aws {
        action: String,
        resource: String,
        /// The service's error code and message, or the transport error.
        detail: String,
        source: Box<dyn StdError + Send + Sync>,
    },

    #[error(
        "assets bucket {bucket} exists but is not owned by account {account}: S3 bucket names are global, so pick another name by deploying from the owning account, or delete that bucket there"
    )]
    BucketOwnedByOther { bucket: String, account: String },

    #[error("Lambda zip {} not found: run `make lambda-zips`, or pass --lambda-dir with the directory holding create-certificate.zip, commit-certificate.zip and job-execution-terminal.zip", .path.display())]
    MissingLambdaZip { path: PathBuf },

    #[error("invalid Lambda zip {}: {reason}; rebuild it with `make lambda-zips`", .path.display())]
    InvalidLambdaZip { path: PathBuf, reason: String },

    #[error("failed to read {}: {source}", .path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("failed to write {}: {source}", .path.display())]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("stack {stack} is in ROLLBACK_COMPLETE because its creation failed, and CloudFormation cannot update it: run `certrotator destroy --stack-name {stack} --keep-bucket --yes` and deploy again, or deploy with --recreate-failed-stack{}", FailureList(.failures))]
    StackRollbackComplete {
        stack: String,
        failures: Vec<ResourceFailure>,
    },

    #[error("stack {stack} is in {status} and cannot be updated: {advice}")]
    StackNotUpdatable {
        stack: String,
        status: String,
        advice: &'static str,
    },

    #[error(
        "timed out after {minutes} min waiting for stack {stack}, last seen in {status}: CloudFormation continues on its own; run the same command again to keep waiting, or raise --timeout-minutes"
    )]
    StackTimeout {
        stack: String,
        status: String,
        minutes: u64,
    },

    #[error("stack {stack} ended in {status}; see the failing resources below, fix the cause and deploy again{}", FailureList(.failures))]
    StackFailed {
        stack: String,
        status: String,
        failures: Vec<ResourceFailure>,
    },

    #[error("stack {stack} could not be deleted ({status}); see the failing resources below, remove what blocks them and run destroy again{}", FailureList(.failures))]
    StackDeleteFailed {
        stack: String,
        status: String,
        failures: Vec<ResourceFailure>,
    },

    #[error(
        "change set {change_set} for stack {stack} failed: {reason}; fix the template or parameters and run the command again"
    )]
    ChangeSetFailed {
        stack: String,
        change_set: String,
        reason: String,
    },

    #[error(
        "timed out after {seconds} s waiting for change set {change_set} of stack {stack} to be created: run the command again"
    )]
    ChangeSetTimeout {
        stack: String,
        change_set: String,
        seconds: u64,
    },

    #[error(
        "stack {stack} needs capabilities that were not acknowledged ({message}): certrotator acknowledges CAPABILITY_IAM and CAPABILITY_NAMED_IAM only, so remove macros and nested stacks from the --template file"
    )]
    InsufficientCapabilities { stack: String, message: String },

    #[error("{action} needs confirmation but stdin is not a terminal: pass --yes")]
    ConfirmationRequired { action: &'static str },

    #[error("{action} cancelled: nothing was changed")]
    Declined { action: &'static str },

    #[error("interrupted: {state}")]
    Interrupted { state: String },
}

/// Joins the messages of `error` and its sources with ": ", skipping a source whose message
/// the previous one already contains.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut chain = error.to_string();
    let mut previous = chain.clone();
    let mut source = error.source();
    while let Some(next) = source {
        let message = next.to_string();
        if !previous.contains(&message) {
            chain.push_str(": ");
            chain.push_str(&message);
        }
        previous = message;
        source = next.source();
    }
    chain
}

fn profile_hint(profile: &Option<String>) -> String {
    match profile {
        Some(name) => format!(" for profile {name:?}"),
        None => String::new(),
    }
}

impl ProvisionError {
    /// Wraps an SDK error with the action that failed and the resource it was on.
    pub fn aws<E>(action: impl Into<String>, resource: impl Into<String>, source: E) -> Self
    where
        E: StdError + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let detail = match (source.code(), source.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&source).to_string(),
        };
        ProvisionError::Aws {
            action: action.into(),
            resource: resource.into(),
            detail,
            source: Box::new(source),
        }
    }

    /// Returns a stable, machine-readable name for the error, used in the JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            ProvisionError::InvalidCaArn { .. } => "invalid_ca_arn",
            ProvisionError::MissingCaArn => "missing_ca_arn",
            ProvisionError::CaArnWithoutPrivateCa => "ca_arn_without_private_ca",
            ProvisionError::CaInOtherRegion { .. } => "ca_in_other_region",
            ProvisionError::CaInOtherAccount { .. } => "ca_in_other_account",
            ProvisionError::CaNotFound { .. } => "ca_not_found",
            ProvisionError::CaNotActive { .. } => "ca_not_active",
            ProvisionError::CaKeyAlgorithmMismatch { .. } => "ca_key_algorithm_mismatch",
            ProvisionError::CaValidityTooLong { .. } => "ca_validity_too_long",
            ProvisionError::CaAccessDenied { .. } => "ca_access_denied",
            ProvisionError::InvalidArgument { .. } => "invalid_argument",
            ProvisionError::MissingRegion => "missing_region",
            ProvisionError::InvalidRegion(_) => "invalid_region",
            ProvisionError::NoCredentials { .. } => "no_credentials",
            ProvisionError::ProfileNotFound { .. } => "profile_not_found",
            ProvisionError::InvalidProfileFiles { .. } => "invalid_profile_files",
            ProvisionError::Aws { .. } => "aws_error",
            ProvisionError::BucketOwnedByOther { .. } => "bucket_owned_by_other_account",
            ProvisionError::MissingLambdaZip { .. } => "missing_lambda_zip",
            ProvisionError::InvalidLambdaZip { .. } => "invalid_lambda_zip",
            ProvisionError::ReadFile { .. } => "read_failed",
            ProvisionError::WriteFile { .. } => "write_failed",
            ProvisionError::StackRollbackComplete { .. } => "stack_rollback_complete",
            ProvisionError::StackNotUpdatable { .. } => "stack_not_updatable",
            ProvisionError::StackTimeout { .. } => "stack_timeout",
            ProvisionError::StackFailed { .. } => "stack_failed",
            ProvisionError::StackDeleteFailed { .. } => "stack_delete_failed",
            ProvisionError::ChangeSetFailed { .. } => "change_set_failed",
            ProvisionError::ChangeSetTimeout { .. } => "change_set_timeout",
            ProvisionError::InsufficientCapabilities { .. } => "insufficient_capabilities",
            ProvisionError::ConfirmationRequired { .. } => "confirmation_required",
            ProvisionError::Declined { .. } => "declined",
            ProvisionError::Interrupted { .. } => "interrupted",
        }
    }

    /// Returns the failing resources CloudFormation reported, if this error carries any.
    pub fn failures(&self) -> &[ResourceFailure] {
        match self {
            ProvisionError::StackRollbackComplete { failures, .. }
            | ProvisionError::StackFailed { failures, .. }
            | ProvisionError::StackDeleteFailed { failures, .. } => failures,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Layer {
        message: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    #[test]
    fn error_chain_skips_repeats() {
        let inner = Layer {
            message: "file not found",
            source: None,
        };
        let middle = Layer {
            message: "profile load failed: file not found",
            source: Some(Box::new(inner)),
        };
        let outer = Layer {
            message: "no credentials",
            source: Some(Box::new(middle)),
        };
        assert_eq!(
            error_chain(&outer),
            "no credentials: profile load failed: file not found"
        );
    }
}
