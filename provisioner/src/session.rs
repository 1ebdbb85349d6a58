//! AWS configuration and clients, resolved the standard way.
//!
//! aws-config reads `--profile`/`AWS_PROFILE`, `--region`/`AWS_REGION`, the shared config
//! files, `AWS_ENDPOINT_URL` and the credential chain. Nothing here treats a local stand-in
//! for AWS differently.
//!
//! aws-config's default chain reads `AWS_ACCESS_KEY_ID` before any profile, even one set with
//! `profile_name`, so an explicit `--profile` gets its own credentials provider: as with the
//! AWS CLI, the named profile wins over credential environment variables.

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_sdk_sts::config::ProvideCredentials;
use aws_types::os_shim_internal::{Env, Fs};

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
        require_profile(profile).await?;
        let credentials = ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
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

/// Checks that `profile` is defined in the shared config or credentials file.
async fn require_profile(profile: &str) -> Result<(), ProvisionError> {
    let files = EnvConfigFiles::default();
    let profiles = aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
        .await
        .map_err(|error| ProvisionError::InvalidProfileFiles {
            detail: error.to_string(),
        })?;
    if profiles.get_profile(profile).is_some() {
        return Ok(());
    }
    Err(ProvisionError::ProfileNotFound {
        profile: profile.to_owned(),
        config_file: profile_file_path("AWS_CONFIG_FILE", "config"),
        credentials_file: profile_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    })
}

/// Returns the shared file path the SDK reads: the environment variable, else `~/.aws/NAME`.
fn profile_file_path(variable: &str, name: &str) -> String {
    match std::env::var(variable) {
        Ok(path) if !path.is_empty() => path,
        _ => format!("~/.aws/{name}"),
    }
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
