//! Checks the command-line settings and turns them into the template's parameters.
//!
//! Everything here runs before the first AWS call, so a typo costs no round trip.

use serde::Serialize;

use crate::assets::Artifact;
use crate::cli::{Issuer, StackArgs};
use crate::error::ProvisionError;

/// Maximum length of a CloudFormation stack name.
const MAX_STACK_NAME_LEN: usize = 128;

/// A parsed AWS Private CA certificate authority ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaArn {
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    pub id: String,
}

impl CaArn {
    /// Parses `arn:PARTITION:acm-pca:REGION:ACCOUNT:certificate-authority/ID`.
    pub fn parse(arn: &str) -> Result<Self, ProvisionError> {
        let invalid = |problem: &str| ProvisionError::InvalidCaArn {
            arn: arn.to_owned(),
            problem: problem.to_owned(),
        };
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = fields[..] else {
            return Err(invalid("it does not have six ':'-separated fields"));
        };
        if prefix != "arn" || !partition.starts_with("aws") {
            return Err(invalid("it does not start with arn:aws"));
        }
        if service != "acm-pca" {
            return Err(invalid("the service is not acm-pca"));
        }
        if !is_region_code(region) {
            return Err(invalid("the region field is not a region code"));
        }
        if !is_account_id(account) {
            return Err(invalid("the account field is not a 12-digit account ID"));
        }
        let Some(id) = resource.strip_prefix("certificate-authority/") else {
            return Err(invalid(
                "the resource is not certificate-authority/ID (a certificate ARN is not a CA ARN)",
            ));
        };
        let id_valid = !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !id_valid {
            return Err(invalid("the certificate authority ID is not a UUID"));
        }
        Ok(Self {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            id: id.to_owned(),
        })
    }

    /// Rejects a CA outside the deploy region: the Lambda calls Private CA in its own region.
    pub fn check_region(&self, region: &str) -> Result<(), ProvisionError> {
        if self.region == region {
            Ok(())
        } else {
            Err(ProvisionError::CaInOtherRegion {
                arn: self.arn.clone(),
                ca_region: self.region.clone(),
                region: region.to_owned(),
            })
        }
    }

    /// Rejects a CA outside the account the credentials belong to.
    pub fn check_account(&self, account: &str) -> Result<(), ProvisionError> {
        if self.account == account {
            Ok(())
        } else {
            Err(ProvisionError::CaInOtherAccount {
                arn: self.arn.clone(),
                ca_account: self.account.clone(),
                account: account.to_owned(),
            })
        }
    }
}

/// Checks the shape of a region code such as `eu-west-1` or `us-gov-west-1`.
pub fn is_region_code(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Checks that `account` is a 12-digit AWS account ID.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

/// Checks a stack name against CloudFormation's rule: a letter, then letters, digits and
/// hyphens, at most 128 characters.
pub fn validate_stack_name(name: &str) -> Result<(), ProvisionError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= MAX_STACK_NAME_LEN;
    if valid {
        Ok(())
    } else {
        Err(ProvisionError::InvalidArgument {
            flag: "--stack-name",
            value: name.to_owned(),
            problem: "use a letter followed by letters, digits and hyphens, at most 128 characters"
                .to_owned(),
        })
    }
}

/// Maximum length of an AWS IoT job template ID.
const MAX_JOB_TEMPLATE_ID_LEN: usize = 64;

/// Checks that the job template ID the template derives,
/// `<stack>-rotate-<rollout per minute>-<in-progress timeout>`, fits AWS IoT's limit.
fn check_job_template_id(args: &StackArgs) -> Result<(), ProvisionError> {
    let id = format!(
        "{}-rotate-{}-{}",
        args.stack_name, args.rollout_per_minute, args.in_progress_timeout_minutes
    );
    if id.len() <= MAX_JOB_TEMPLATE_ID_LEN {
        return Ok(());
    }
    let max = args.stack_name.len() - (id.len() - MAX_JOB_TEMPLATE_ID_LEN);
    Err(ProvisionError::InvalidArgument {
        flag: "--stack-name",
        value: args.stack_name.clone(),
        problem: format!(
            "the job template ID {id} would exceed AWS IoT's {MAX_JOB_TEMPLATE_ID_LEN} characters; use a stack name of at most {max} characters"
        ),
    })
}

/// Settings checked before any AWS call.
#[derive(Debug, Clone)]
pub struct ValidatedSettings {
    pub args: StackArgs,
    pub ca: Option<CaArn>,
}

impl ValidatedSettings {
    /// Checks every flag that can be checked offline, including the CA's region against
    /// `region`.
    pub fn check(args: &StackArgs, region: &str) -> Result<Self, ProvisionError> {
        validate_stack_name(&args.stack_name)?;
        check_job_template_id(args)?;
        // The rules read the thing name as topic level 3, so the prefix is exactly one level,
        // which the protocol crate's check enforces.
        if rotator_protocol::topic::validate_topic_prefix(&args.topic_prefix).is_err() {
            return Err(ProvisionError::InvalidArgument {
                flag: "--topic-prefix",
                value: args.topic_prefix.clone(),
                problem: format!(
                    "use one topic level of at most {} letters, digits, '-', '_' or '.' (no '/', '+', '#' or '$')",
                    rotator_protocol::topic::MAX_TOPIC_PREFIX_LEN
                ),
            });
        }
        let ca = match (args.issuer, &args.ca_arn) {
            (Issuer::PrivateCa, None) => return Err(ProvisionError::MissingCaArn),
            (Issuer::IotCore, Some(_)) => return Err(ProvisionError::CaArnWithoutPrivateCa),
            (Issuer::PrivateCa, Some(arn)) => {
                let ca = CaArn::parse(arn)?;
                ca.check_region(region)?;
                Some(ca)
            }
            (Issuer::IotCore, None) => None,
        };
        Ok(Self {
            args: args.clone(),
            ca,
        })
    }
}

/// One template parameter, in the order and shape CloudFormation's CLI reads from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parameter {
    #[serde(rename = "ParameterKey")]
    pub key: String,
    #[serde(rename = "ParameterValue")]
    pub value: String,
}

/// Builds every template parameter, defaults included, so that a stack's recorded parameters
/// can be compared with a new deploy's.
pub fn stack_parameters(
    settings: &ValidatedSettings,
    bucket: &str,
    artifacts: &[Artifact],
) -> Vec<Parameter> {
    let args = &settings.args;
    let mut pairs: Vec<(String, String)> =
        vec![(crate::stack::ASSETS_BUCKET_PARAMETER.into(), bucket.into())];
    for artifact in artifacts {
        pairs.push((artifact.function.parameter.into(), artifact.key.clone()));
    }
    let signing: rotator_protocol::SigningAlgorithm = args.ca_signing_algorithm.into();
    pairs.extend([
        ("TopicPrefix".into(), args.topic_prefix.clone()),
        ("Issuer".into(), args.issuer.parameter_value().into()),
        (
            "PrivateCaArn".into(),
            settings
                .ca
                .as_ref()
                .map(|ca| ca.arn.clone())
                .unwrap_or_default(),
        ),
        (
            "PrivateCaValidityDays".into(),
            args.validity_days.to_string(),
        ),
        ("PrivateCaSigningAlgorithm".into(), signing.name().into()),
        (
            "RolloutMaximumPerMinute".into(),
            args.rollout_per_minute.to_string(),
        ),
        (
            "InProgressTimeoutMinutes".into(),
            args.in_progress_timeout_minutes.to_string(),
        ),
    ]);
    pairs
        .into_iter()
        .map(|(key, value)| Parameter { key, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const ARN: &str = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0d1f6a3e-2b7c-4e8f-9a10-1b2c3d4e5f60";

    #[test]
    fn ca_arn_parses() {
        let ca = CaArn::parse(ARN).unwrap();
        assert_eq!(ca.region, "eu-west-1");
        assert_eq!(ca.account, "123456789012");
        assert_eq!(ca.id, "0d1f6a3e-2b7c-4e8f-9a10-1b2c3d4e5f60");
    }

    #[test]
    fn ca_arn_rejects_bad_forms() {
        let cases = [
            "not-an-arn",
            "arn:aws:iot:eu-west-1:123456789012:certificate-authority/0d1f",
            "arn:aws:acm-pca:eu-west-1:1234:certificate-authority/0d1f",
            "arn:aws:acm-pca:EU:123456789012:certificate-authority/0d1f",
            "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0d1f/certificate/ab",
            "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/",
        ];
        for case in cases {
            let error = CaArn::parse(case).unwrap_err();
            assert!(
                matches!(error, ProvisionError::InvalidCaArn { .. }),
                "{case}: {error}"
            );
        }
    }

    #[test]
    fn ca_in_other_region_is_rejected() {
        let ca = CaArn::parse(ARN).unwrap();
        let error = ca.check_region("us-east-1").unwrap_err();
        assert!(
            error.to_string().contains("pass --region eu-west-1"),
            "{error}"
        );
        assert!(ca.check_region("eu-west-1").is_ok());
    }

    #[test]
    fn ca_in_other_account_is_rejected() {
        let ca = CaArn::parse(ARN).unwrap();
        let error = ca.check_account("210987654321").unwrap_err();
        assert_eq!(error.code(), "ca_in_other_account");
    }

    #[test]
    fn region_codes() {
        for region in ["eu-west-1", "us-gov-west-1", "ap-southeast-4", "cn-north-1"] {
            assert!(is_region_code(region), "{region}");
        }
        for region in ["", "eu", "eu-west", "EU-WEST-1", "eu-west-x", "eu--1"] {
            assert!(!is_region_code(region), "{region}");
        }
    }

    #[test]
    fn long_stack_name_is_rejected() {
        let mut args = crate::cli::Cli::try_parse_from(["certrotator", "plan"])
            .map(|cli| match cli.command {
                crate::cli::Command::Plan(plan) => plan.stack,
                _ => unreachable!("parsed a plan command"),
            })
            .unwrap();
        args.stack_name = "a".repeat(52);
        let error = ValidatedSettings::check(&args, "eu-west-1").unwrap_err();
        assert!(
            error.to_string().contains("at most 51 characters"),
            "{error}"
        );
        args.stack_name = "a".repeat(51);
        assert!(ValidatedSettings::check(&args, "eu-west-1").is_ok());
    }

    #[test]
    fn stack_names() {
        assert!(validate_stack_name("greengrass-cert-rotator").is_ok());
        assert!(validate_stack_name("1stack").is_err());
        assert!(validate_stack_name("with_underscore").is_err());
        assert!(validate_stack_name(&"a".repeat(129)).is_err());
    }
}
