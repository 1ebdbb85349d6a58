//! `render`: the template and its parameters, exactly as deploy would send them, without
//! calling AWS.

use std::path::Path;

use aws_config::meta::region::ProvideRegion;
use aws_config::profile::ProfileFileRegionProvider;

use crate::assets;
use crate::cli::{GlobalArgs, RenderArgs};
use crate::error::ProvisionError;
use crate::output::{RenderReport, SCHEMA_VERSION};
use crate::params::{ValidatedSettings, is_account_id, is_region_code, stack_parameters};
use crate::template;

/// File names written with `--out-dir`.
pub const TEMPLATE_FILE: &str = "backend.yaml";
pub const PARAMETERS_FILE: &str = "parameters.json";

/// Resolves the region from `--region`, the environment or the profile file. It never asks the
/// instance metadata service, because that would be a network call.
async fn offline_region(global: &GlobalArgs) -> Option<String> {
    if let Some(region) = &global.region {
        return Some(region.clone());
    }
    for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(region) = std::env::var(variable)
            && !region.is_empty()
        {
            return Some(region);
        }
    }
    let mut provider = ProfileFileRegionProvider::builder();
    if let Some(profile) = &global.profile {
        provider = provider.profile_name(profile);
    }
    provider
        .build()
        .region()
        .await
        .map(|region| region.as_ref().to_owned())
}

pub async fn render(
    global: &GlobalArgs,
    args: &RenderArgs,
) -> Result<RenderReport, ProvisionError> {
    let region = offline_region(global)
        .await
        .ok_or(ProvisionError::MissingRegion)?;
    if !is_region_code(&region) {
        return Err(ProvisionError::InvalidRegion(region));
    }
    let settings = ValidatedSettings::check(&args.stack, &region)?;
    let bucket = match (&args.assets_bucket, &args.account_id) {
        (Some(bucket), _) => bucket.clone(),
        (None, Some(account)) if is_account_id(account) => {
            if let Some(ca) = &settings.ca {
                ca.check_account(account)?;
            }
            assets::bucket_name(account, &region)
        }
        (None, account) => {
            return Err(ProvisionError::InvalidArgument {
                flag: "--account-id",
                value: account.clone().unwrap_or_default(),
                problem: "pass a 12-digit account ID, or --assets-bucket".to_owned(),
            });
        }
    };
    let template = template::load(args.stack.template.as_deref())?;
    let artifacts = assets::load_artifacts(&args.stack.lambda_dir)?;
    let parameters = stack_parameters(&settings, &bucket, &artifacts);

    let mut files = Vec::new();
    if let Some(dir) = &args.out_dir {
        let json = serde_json::to_string_pretty(&parameters).expect("parameters serialize");
        files.push(write_file(dir, TEMPLATE_FILE, &template)?);
        files.push(write_file(dir, PARAMETERS_FILE, &(json + "\n"))?);
    }
    Ok(RenderReport {
        schema_version: SCHEMA_VERSION,
        command: "render",
        stack_name: args.stack.stack_name.clone(),
        template,
        parameters,
        files,
    })
}

fn write_file(dir: &Path, name: &str, contents: &str) -> Result<String, ProvisionError> {
    std::fs::create_dir_all(dir).map_err(|source| ProvisionError::WriteFile {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(name);
    std::fs::write(&path, contents).map_err(|source| ProvisionError::WriteFile {
        path: path.clone(),
        source,
    })?;
    Ok(path.display().to_string())
}
