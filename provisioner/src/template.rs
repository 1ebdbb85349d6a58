//! The CloudFormation template, built into the binary so that it runs without the repository.

use std::path::Path;

use crate::error::ProvisionError;

/// templates/backend.yaml as it was when this binary was built.
pub const BUILT_IN: &str = include_str!("../../templates/backend.yaml");

/// Returns the built-in template, or the file given with `--template`.
pub fn load(override_path: Option<&Path>) -> Result<String, ProvisionError> {
    match override_path {
        None => Ok(BUILT_IN.to_owned()),
        Some(path) => std::fs::read_to_string(path).map_err(|source| ProvisionError::ReadFile {
            path: path.to_owned(),
            source,
        }),
    }
}
