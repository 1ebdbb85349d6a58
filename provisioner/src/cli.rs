//! Command-line interface: one struct per subcommand, shared by clap and serde.
//!
//! The structs also derive `Deserialize` so that the same settings can be read from a file by a
//! wrapper script or a test without going through the argument parser.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use rotator_protocol::SigningAlgorithm;
use serde::{Deserialize, Serialize};

/// Stack name used when `--stack-name` is not given.
pub const DEFAULT_STACK_NAME: &str = "greengrass-cert-rotator";

/// Maximum of `--validity-days`: the largest value that the template's
/// `PrivateCaValidityDays` parameter and the Lambdas accept.
pub const MAX_VALIDITY_DAYS: u32 = 3650;

/// Directory `make lambda-zips` writes the three function zips to.
pub const DEFAULT_LAMBDA_DIR: &str = "dist/lambdas";

/// Installs, updates, plans and removes the certificate rotation backend for AWS IoT Greengrass
/// core devices, one stack per account and region.
#[derive(Debug, Parser)]
#[command(name = "certrotator", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every subcommand.
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct GlobalArgs {
    /// AWS region to deploy to [default: AWS_REGION, then the profile's region]
    #[arg(
        long,
        global = true,
        value_name = "REGION",
        help_heading = "Global options"
    )]
    pub region: Option<String>,

    /// Named profile from the shared AWS config and credentials files [default: AWS_PROFILE]
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub profile: Option<String>,

    /// Format of the result printed on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text,
          help_heading = "Global options")]
    #[serde(default)]
    pub output: OutputFormat,

    /// Log more: -v for debug messages, -vv for trace messages including AWS requests
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = "Global options")]
    #[serde(default)]
    pub verbose: u8,

    /// Print progress as plain lines instead of a progress bar
    #[arg(long, global = true, help_heading = "Global options")]
    #[serde(default)]
    pub no_progress: bool,
}

/// Format of the result on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Human-readable lines
    #[default]
    Text,
    /// One JSON document (see docs/cli-json.md)
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the rotation backend stack, then enable IoT job-execution events
    Deploy(DeployArgs),
    /// Show what a deploy would change, without changing anything
    Plan(PlanArgs),
    /// Write the template and its parameters without calling AWS
    Render(RenderArgs),
    /// Delete the stack and the assets bucket, and restore the job-execution event setting
    Destroy(DestroyArgs),
}

/// The service that issues the devices' new certificates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Issuer {
    /// AWS IoT Core (CreateCertificateFromCsr)
    #[default]
    IotCore,
    /// AWS Private CA (IssueCertificate), which needs --ca-arn
    PrivateCa,
}

impl Issuer {
    /// Returns the value of the template's `Issuer` parameter.
    pub fn parameter_value(self) -> &'static str {
        match self {
            Issuer::IotCore => "iot-core",
            Issuer::PrivateCa => "private-ca",
        }
    }
}

/// The signing algorithms AWS Private CA accepts in `IssueCertificate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
pub enum CaSigningAlgorithm {
    #[default]
    #[value(name = "SHA256WITHRSA")]
    #[serde(rename = "SHA256WITHRSA")]
    Sha256WithRsa,
    #[value(name = "SHA384WITHRSA")]
    #[serde(rename = "SHA384WITHRSA")]
    Sha384WithRsa,
    #[value(name = "SHA512WITHRSA")]
    #[serde(rename = "SHA512WITHRSA")]
    Sha512WithRsa,
    #[value(name = "SHA256WITHECDSA")]
    #[serde(rename = "SHA256WITHECDSA")]
    Sha256WithEcdsa,
    #[value(name = "SHA384WITHECDSA")]
    #[serde(rename = "SHA384WITHECDSA")]
    Sha384WithEcdsa,
    #[value(name = "SHA512WITHECDSA")]
    #[serde(rename = "SHA512WITHECDSA")]
    Sha512WithEcdsa,
}

impl CaSigningAlgorithm {
    /// True for the ECDSA algorithms, which need a CA with an elliptic-curve key.
    pub fn is_ecdsa(self) -> bool {
        matches!(
            self,
            Self::Sha256WithEcdsa | Self::Sha384WithEcdsa | Self::Sha512WithEcdsa
        )
    }

    /// Returns the name AWS Private CA and `--ca-signing-algorithm` use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256WithRsa => "SHA256WITHRSA",
            Self::Sha384WithRsa => "SHA384WITHRSA",
            Self::Sha512WithRsa => "SHA512WITHRSA",
            Self::Sha256WithEcdsa => "SHA256WITHECDSA",
            Self::Sha384WithEcdsa => "SHA384WITHECDSA",
            Self::Sha512WithEcdsa => "SHA512WITHECDSA",
        }
    }
}

impl From<CaSigningAlgorithm> for SigningAlgorithm {
    fn from(algorithm: CaSigningAlgorithm) -> Self {
        match algorithm {
            CaSigningAlgorithm::Sha256WithRsa => SigningAlgorithm::Sha256WithRsa,
            CaSigningAlgorithm::Sha384WithRsa => SigningAlgorithm::Sha384WithRsa,
            CaSigningAlgorithm::Sha512WithRsa => SigningAlgorithm::Sha512WithRsa,
            CaSigningAlgorithm::Sha256WithEcdsa => SigningAlgorithm::Sha256WithEcdsa,
            CaSigningAlgorithm::Sha384WithEcdsa => SigningAlgorithm::Sha384WithEcdsa,
            CaSigningAlgorithm::Sha512WithEcdsa => SigningAlgorithm::Sha512WithEcdsa,
        }
    }
}

/// Settings that decide the template parameters; shared by deploy, plan and render.
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct StackArgs {
    /// Name of the CloudFormation stack
    #[arg(long, default_value = DEFAULT_STACK_NAME, value_name = "NAME")]
    pub stack_name: String,

    /// Service that issues the new device certificates
    #[arg(long, value_enum, default_value_t = Issuer::IotCore)]
    #[serde(default)]
    pub issuer: Issuer,

    /// ARN of the AWS Private CA certificate authority (with --issuer private-ca); it must be in
    /// the deploy region and account
    #[arg(long, value_name = "ARN")]
    pub ca_arn: Option<String>,

    /// Validity of certificates issued by AWS Private CA, in days (1 to 3650)
    #[arg(long, default_value_t = 7, value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_VALIDITY_DAYS)))]
    pub validity_days: u32,

    /// Signing algorithm AWS Private CA uses for the device certificates
    #[arg(long, value_enum, default_value_t = CaSigningAlgorithm::Sha256WithRsa)]
    #[serde(default)]
    pub ca_signing_algorithm: CaSigningAlgorithm,

    /// First level of the certificate MQTT topics (<PREFIX>/things/<thing>/certificate/...);
    /// devices must use the same prefix
    #[arg(long, default_value = rotator_protocol::DEFAULT_TOPIC_PREFIX, value_name = "PREFIX")]
    pub topic_prefix: String,

    /// Maximum number of devices the rotation job template starts per minute
    #[arg(long, default_value_t = 100, value_name = "COUNT",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rollout_per_minute: u32,

    /// Minutes a device may stay IN_PROGRESS on a rotation job before it times out
    #[arg(long, default_value_t = 5, value_name = "MINUTES",
          value_parser = clap::value_parser!(u32).range(1..=10080))]
    pub in_progress_timeout_minutes: u32,

    /// Directory holding create-certificate.zip, commit-certificate.zip and
    /// job-execution-terminal.zip (built by `make lambda-zips`)
    #[arg(long, default_value = DEFAULT_LAMBDA_DIR, value_name = "DIR")]
    pub lambda_dir: PathBuf,

    /// Use this CloudFormation template instead of the one built into certrotator
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
}

/// `certrotator deploy`
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct DeployArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Apply the change set without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    #[serde(default)]
    pub yes: bool,

    /// Delete a stack left in ROLLBACK_COMPLETE by a failed first deploy, then create it again
    #[arg(long)]
    #[serde(default)]
    pub recreate_failed_stack: bool,

    /// Maximum time to wait for the stack to finish, in minutes
    #[arg(long, default_value_t = 30, value_name = "MINUTES",
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub timeout_minutes: u64,
}

/// `certrotator plan`
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `certrotator render`
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct RenderArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Write backend.yaml and parameters.json into this directory instead of printing them
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Assets bucket to put in the parameters [default: the name deploy derives from
    /// --account-id and the region]
    #[arg(long, value_name = "BUCKET", required_unless_present = "account_id")]
    pub assets_bucket: Option<String>,

    /// AWS account ID to derive the assets bucket name from
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

/// `certrotator destroy`
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
pub struct DestroyArgs {
    /// Name of the CloudFormation stack
    #[arg(long, default_value = DEFAULT_STACK_NAME, value_name = "NAME")]
    pub stack_name: String,

    /// Keep the assets bucket and the Lambda zips in it
    #[arg(long)]
    #[serde(default)]
    pub keep_bucket: bool,

    /// Delete without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    #[serde(default)]
    pub yes: bool,

    /// Maximum time to wait for the stack deletion, in minutes
    #[arg(long, default_value_t = 30, value_name = "MINUTES",
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub timeout_minutes: u64,
}

#[cfg(test)]
mod tests {
    use super::MAX_VALIDITY_DAYS;

    /// Returns the `MaxValue` of the template parameter `name`.
    fn template_max_value(name: &str) -> Option<u32> {
        let block = crate::template::BUILT_IN
            .split(&format!("\n  {name}:\n"))
            .nth(1)?;
        let line = block
            .lines()
            .take_while(|line| line.starts_with("    "))
            .find_map(|line| line.trim().strip_prefix("MaxValue:"))?;
        line.trim().parse().ok()
    }

    #[test]
    fn validity_limit_matches_template() {
        assert_eq!(
            template_max_value("PrivateCaValidityDays"),
            Some(MAX_VALIDITY_DAYS)
        );
    }
}
