//! AWS configuration and clients, resolved the standard way.
//!
//! aws-config reads `--profile`/`AWS_PROFILE`, `--region`/`AWS_REGION`, the shared config
//! files, `AWS_ENDPOINT_URL` and the credential chain. Nothing here treats a local stand-in
//! for AWS differently.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::ProvideCredentials;

use crate::cli::GlobalArgs;
use crate::error::ProvisionError;
use crate::params::is_region_code;

/// One client per service the provisioner calls.
#[derive(Debug, Clone)]
pub struct Clients {
    pub acmpca: aws_sdk_acmpca::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub iot: aws_sdk_iot::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            acmpca: aws_sdk_acmpca::Client::new(config),
            cfn: aws_sdk_cloudformation::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
            iot: aws_sdk_iot::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
        }
    }
}

/// Loads the SDK configuration and checks the region; makes no request to an AWS service.
pub async fn load_config(global: &GlobalArgs) -> Result<(SdkConfig, String), ProvisionError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &global.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &global.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    let region = config
        .region()
        .map(|region| region.as_ref().to_owned())
        .ok_or(ProvisionError::MissingRegion)?;
    if !is_region_code(&region) {
        return Err(ProvisionError::InvalidRegion(region));
    }
    Ok((config, region))
}

/// Resolves credentials once, so that a missing one is reported as such and not as a failed
/// request to some service.
pub async fn check_credentials(
    config: &SdkConfig,
    global: &GlobalArgs,
) -> Result<(), ProvisionError> {
    let profile = global
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok());
    let Some(provider) = config.credentials_provider() else {
        return Err(ProvisionError::NoCredentials {
            profile,
            source: "no credentials provider is configured".into(),
        });
    };
    provider
        .provide_credentials()
        .await
        .map_err(|error| ProvisionError::NoCredentials {
            profile,
            source: Box::new(error),
        })?;
    Ok(())
}

/// Returns the account the credentials belong to (STS GetCallerIdentity).
pub async fn account_id(sts: &aws_sdk_sts::Client, region: &str) -> Result<String, ProvisionError> {
    let identity = sts.get_caller_identity().send().await.map_err(|error| {
        ProvisionError::aws(
            "identify the caller (STS GetCallerIdentity) in region",
            format!("{region} (check --region and that the region is enabled for the account)"),
            error,
        )
    })?;
    identity
        .account()
        .map(str::to_owned)
        .ok_or_else(|| ProvisionError::Aws {
            action: "identify the caller in region".into(),
            resource: region.to_owned(),
            detail: "STS GetCallerIdentity returned no account".into(),
            source: "STS GetCallerIdentity returned no account".into(),
        })
}
