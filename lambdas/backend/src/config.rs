//! Settings the CloudFormation template passes to the three functions as environment variables.

use std::collections::HashMap;
use std::time::Duration;

use rotator_protocol::topic::validate_topic_prefix;
use rotator_protocol::{DEFAULT_TOPIC_PREFIX, SigningAlgorithm};

use crate::error::{BackendError, Result};

/// Minimum validity, in days, of a certificate from AWS Private CA. The template's
/// `PrivateCaValidityDays` parameter has the same `MinValue`.
pub const MIN_VALIDITY_DAYS: i64 = 1;

/// Maximum validity, in days, of a certificate from AWS Private CA. The limit is ours, because a
/// certificate that outlives ten years defeats the point of rotating. The template's
/// `PrivateCaValidityDays` parameter has the same `MaxValue`.
pub const MAX_VALIDITY_DAYS: i64 = 3650;

/// Maximum time the create function waits for AWS Private CA to issue a certificate. It keeps
/// the invocation well inside a 60 s function timeout. When it runs out, the invocation fails
/// without a reply and the device sends its CSR again.
pub const DEFAULT_ISSUANCE_TIMEOUT: Duration = Duration::from_secs(25);

/// The service that signs new device certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerConfig {
    /// AWS IoT Core, through `CreateCertificateFromCsr`.
    IotCore,
    /// AWS Private CA, through `IssueCertificate`; the certificate is then registered in AWS IoT
    /// without its CA.
    PrivateCa {
        arn: String,
        validity_days: i64,
        signing_algorithm: SigningAlgorithm,
    },
}

/// The functions' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub topic_prefix: String,
    pub issuer: IssuerConfig,
    /// Name of the named shadow that stores each thing's rotation record.
    pub shadow_name: String,
    /// SNS topic for operator notifications; only the terminal function needs it.
    pub notification_topic_arn: Option<String>,
    pub issuance_timeout: Duration,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the settings from a variable map, so tests need not touch the process environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self> {
        let get = |name: &str| {
            vars.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };

        let topic_prefix = get("TOPIC_PREFIX")
            .unwrap_or(DEFAULT_TOPIC_PREFIX)
            .to_owned();
        validate_topic_prefix(&topic_prefix).map_err(|error| {
            BackendError::configuration(format!("invalid TOPIC_PREFIX: {error}"))
        })?;

        let shadow_name = get("SHADOW_NAME")
            .ok_or_else(|| {
                BackendError::configuration(
                    "missing SHADOW_NAME: set it to the named shadow that stores rotation records",
                )
            })?
            .to_owned();

        let issuer = match get("ISSUER").unwrap_or("iot-core") {
            "iot-core" => IssuerConfig::IotCore,
            "private-ca" => private_ca_config(&get)?,
            other => {
                return Err(BackendError::configuration(format!(
                    "invalid ISSUER {other:?}: expected \"iot-core\" or \"private-ca\""
                )));
            }
        };

        Ok(Self {
            topic_prefix,
            issuer,
            shadow_name,
            notification_topic_arn: get("NOTIFICATION_TOPIC_ARN").map(str::to_owned),
            issuance_timeout: DEFAULT_ISSUANCE_TIMEOUT,
        })
    }
}

fn private_ca_config<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<IssuerConfig> {
    let arn = get("PRIVATE_CA_ARN").ok_or_else(|| {
        BackendError::configuration(
            "missing PRIVATE_CA_ARN: ISSUER is \"private-ca\", so give the CA's ARN",
        )
    })?;

    let days_text = get("PRIVATE_CA_VALIDITY_DAYS").unwrap_or("7");
    let validity_days = days_text
        .parse::<i64>()
        .ok()
        .filter(|days| (MIN_VALIDITY_DAYS..=MAX_VALIDITY_DAYS).contains(days))
        .ok_or_else(|| {
            BackendError::configuration(format!(
                "invalid PRIVATE_CA_VALIDITY_DAYS {days_text:?}: expected a whole number of days from {MIN_VALIDITY_DAYS} to {MAX_VALIDITY_DAYS}"
            ))
        })?;

    let algorithm_text = get("PRIVATE_CA_SIGNING_ALGORITHM").unwrap_or("SHA256WITHRSA");
    let signing_algorithm = algorithm_text
        .parse::<SigningAlgorithm>()
        .ok()
        .filter(|algorithm| SigningAlgorithm::PRIVATE_CA.contains(algorithm))
        .ok_or_else(|| {
            let allowed: Vec<&str> = SigningAlgorithm::PRIVATE_CA
                .iter()
                .map(|algorithm| algorithm.name())
                .collect();
            BackendError::configuration(format!(
                "invalid PRIVATE_CA_SIGNING_ALGORITHM {algorithm_text:?}: expected one of {}",
                allowed.join(", ")
            ))
        })?;

    Ok(IssuerConfig::PrivateCa {
        arn: arn.to_owned(),
        validity_days,
        signing_algorithm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn defaults_to_iot_core_and_awslabs() {
        let config = Config::from_vars(&vars(&[("SHADOW_NAME", "rotator")])).unwrap();
        assert_eq!(config.topic_prefix, "awslabs");
        assert_eq!(config.issuer, IssuerConfig::IotCore);
        assert_eq!(config.notification_topic_arn, None);
    }

    #[test]
    fn private_ca_settings_parse() {
        let config = Config::from_vars(&vars(&[
            ("SHADOW_NAME", "rotator"),
            ("ISSUER", "private-ca"),
            (
                "PRIVATE_CA_ARN",
                "arn:aws:acm-pca:us-east-1:1:certificate-authority/x",
            ),
            ("PRIVATE_CA_VALIDITY_DAYS", "30"),
            ("PRIVATE_CA_SIGNING_ALGORITHM", "SHA384WITHECDSA"),
        ]))
        .unwrap();
        assert_eq!(
            config.issuer,
            IssuerConfig::PrivateCa {
                arn: "arn:aws:acm-pca:us-east-1:1:certificate-authority/x".into(),
                validity_days: 30,
                signing_algorithm: SigningAlgorithm::Sha384WithEcdsa,
            }
        );
    }

    fn validity_days(text: &str) -> Result<i64> {
        let config = Config::from_vars(&vars(&[
            ("SHADOW_NAME", "rotator"),
            ("ISSUER", "private-ca"),
            ("PRIVATE_CA_ARN", "arn"),
            ("PRIVATE_CA_VALIDITY_DAYS", text),
        ]))?;
        match config.issuer {
            IssuerConfig::PrivateCa { validity_days, .. } => Ok(validity_days),
            IssuerConfig::IotCore => panic!("ISSUER private-ca gave {:?}", config.issuer),
        }
    }

    #[test]
    fn validity_days_bounds() {
        assert_eq!(validity_days("1").unwrap(), MIN_VALIDITY_DAYS);
        assert_eq!(validity_days("3650").unwrap(), MAX_VALIDITY_DAYS);
        for text in ["0", "3651", "-1", "7.5", "seven"] {
            let error = validity_days(text).unwrap_err();
            assert_eq!(
                error.kind(),
                crate::error::ErrorKind::InvalidConfiguration,
                "{text}"
            );
            assert!(error.message().contains("1 to 3650"), "{text}: {error}");
        }
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let cases: [&[(&str, &str)]; 6] = [
            &[],
            &[("SHADOW_NAME", "s"), ("ISSUER", "self-signed")],
            &[("SHADOW_NAME", "s"), ("ISSUER", "private-ca")],
            &[
                ("SHADOW_NAME", "s"),
                ("ISSUER", "private-ca"),
                ("PRIVATE_CA_ARN", "arn"),
                ("PRIVATE_CA_VALIDITY_DAYS", "0"),
            ],
            &[
                ("SHADOW_NAME", "s"),
                ("ISSUER", "private-ca"),
                ("PRIVATE_CA_ARN", "arn"),
                ("PRIVATE_CA_SIGNING_ALGORITHM", "SHA256WITHRSAANDMGF1"),
            ],
            &[("SHADOW_NAME", "s"), ("TOPIC_PREFIX", "a/+")],
        ];
        for case in cases {
            let error = Config::from_vars(&vars(case)).unwrap_err();
            assert_eq!(error.kind(), crate::error::ErrorKind::InvalidConfiguration);
        }
    }
}
