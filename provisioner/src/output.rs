//! Command results: `Display` for people, `Serialize` for `--output json`.
//!
//! The JSON field names are a stable interface documented in docs/cli-json.md; add fields,
//! never rename or remove them without raising `schema_version`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::assets::UploadedArtifact;
use crate::cli::OutputFormat;
use crate::error::{ProvisionError, ResourceFailure};
use crate::params::Parameter;
use crate::stack::PlannedChange;

/// Version of the JSON shape; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The change deploy made to the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployResult {
    Created,
    Updated,
    NoChanges,
}

/// The account-wide job-execution event setting, before and after a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobEventsReport {
    /// The setting recorded before the first deploy of this stack; destroy restores it.
    pub enabled_before_first_deploy: bool,
    /// True when this run turned the setting on.
    pub enabled_by_this_run: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub schema_version: u32,
    pub command: &'static str,
    pub stack_name: String,
    pub stack_id: String,
    pub account: String,
    pub region: String,
    pub result: DeployResult,
    pub issuer: String,
    pub assets_bucket: String,
    pub artifacts: Vec<UploadedArtifact>,
    pub changes: Vec<PlannedChange>,
    pub outputs: BTreeMap<String, String>,
    pub job_execution_events: JobEventsReport,
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.result {
            DeployResult::Created => "created",
            DeployResult::Updated => "updated",
            DeployResult::NoChanges => "has no changes",
        };
        writeln!(
            f,
            "stack {} {verb} in account {} region {} (issuer {})",
            self.stack_name, self.account, self.region, self.issuer
        )?;
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        writeln!(f, "assets bucket: {}", self.assets_bucket)?;
        for artifact in &self.artifacts {
            let state = if artifact.uploaded {
                "uploaded"
            } else {
                "already present"
            };
            writeln!(f, "  {} ({state})", artifact.key)?;
        }
        if self.job_execution_events.enabled_by_this_run {
            writeln!(f, "IoT job-execution events: enabled by this run")?;
        }
        if self.outputs.is_empty() {
            writeln!(f, "outputs: none reported by CloudFormation")?;
        } else {
            writeln!(f, "outputs:")?;
        }
        for (key, value) in &self.outputs {
            writeln!(f, "  {key} = {value}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub schema_version: u32,
    pub command: &'static str,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    /// `CREATE` when the stack does not exist yet, else `UPDATE`.
    pub change_set_type: String,
    pub no_changes: bool,
    pub changes: Vec<PlannedChange>,
    pub parameters: Vec<Parameter>,
}

impl fmt::Display for PlanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.no_changes {
            return writeln!(f, "stack {}: no changes", self.stack_name);
        }
        let verb = if self.change_set_type == "CREATE" {
            "would be created"
        } else {
            "would change"
        };
        writeln!(
            f,
            "stack {} {verb} in account {} region {} ({} resource changes):",
            self.stack_name,
            self.account,
            self.region,
            self.changes.len()
        )?;
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RenderReport {
    pub schema_version: u32,
    pub command: &'static str,
    pub stack_name: String,
    pub template: String,
    pub parameters: Vec<Parameter>,
    /// Files written with `--out-dir`; empty when printing.
    pub files: Vec<String>,
}

impl fmt::Display for RenderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.files.is_empty() {
            for file in &self.files {
                writeln!(f, "wrote {file}")?;
            }
            return Ok(());
        }
        // The parameters follow as YAML comments, so the printed text is still a template.
        f.write_str(&self.template)?;
        if !self.template.ends_with('\n') {
            writeln!(f)?;
        }
        writeln!(f, "# Parameters for stack {}:", self.stack_name)?;
        for parameter in &self.parameters {
            writeln!(f, "#   {}={}", parameter.key, parameter.value)?;
        }
        Ok(())
    }
}

/// The outcome of destroy for the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackRemoval {
    Deleted,
    NotFound,
}

/// The outcome of destroy for the assets bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketRemoval {
    Deleted,
    /// `--keep-bucket` was given.
    Kept,
    NotFound,
    /// Another stack still uses the bucket, so destroy left it.
    InUse,
    /// The stack was not found and the bucket's record names no such stack, so destroy left
    /// the bucket alone.
    Skipped,
}

/// The outcome of destroy for the job-execution event setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEventsRestore {
    /// The first deploy found it off, and destroy turned it off again.
    Disabled,
    /// It was on before the first deploy, so it stays on.
    LeftEnabled,
    /// No deploy record was found (already restored, or never deployed).
    NoRecord,
    /// Left as it is, because another stack still uses the backend's bucket or this stack
    /// was not found.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct DestroyReport {
    pub schema_version: u32,
    pub command: &'static str,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub stack: StackRemoval,
    pub assets_bucket: String,
    pub bucket: BucketRemoval,
    /// Other stacks whose `AssetsBucket` parameter names the assets bucket.
    pub bucket_used_by: Vec<String>,
    /// The stack the bucket's job-event record was written for, when it names one.
    pub recorded_stack: Option<String>,
    pub job_execution_events: JobEventsRestore,
}

impl fmt::Display for DestroyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stack {
            StackRemoval::Deleted => writeln!(f, "stack {} deleted", self.stack_name)?,
            StackRemoval::NotFound => writeln!(f, "stack {} not found", self.stack_name)?,
        }
        let bucket = &self.assets_bucket;
        match self.bucket {
            BucketRemoval::Deleted => writeln!(f, "assets bucket {bucket} deleted")?,
            BucketRemoval::Kept => writeln!(f, "assets bucket {bucket} kept")?,
            BucketRemoval::NotFound => writeln!(f, "assets bucket {bucket} not found")?,
            BucketRemoval::InUse => writeln!(
                f,
                "assets bucket {bucket} and the IoT job-execution event setting left as they \
                 are: still used by stack(s) {}; destroy those stacks to remove them",
                self.bucket_used_by.join(", ")
            )?,
            BucketRemoval::Skipped => self.fmt_skipped(f)?,
        }
        match self.job_execution_events {
            JobEventsRestore::Disabled => writeln!(f, "IoT job-execution events disabled again")?,
            JobEventsRestore::LeftEnabled => writeln!(
                f,
                "IoT job-execution events left enabled (they were on before the first deploy)"
            )?,
            JobEventsRestore::NoRecord | JobEventsRestore::Skipped => {}
        }
        Ok(())
    }
}

impl DestroyReport {
    /// Explains why a destroy of a missing stack left the bucket, and how to remove it.
    fn fmt_skipped(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "assets bucket {} and the IoT job-execution event setting left as they are, \
             because stack {} does not exist in {}",
            self.assets_bucket, self.stack_name, self.region
        )?;
        match &self.recorded_stack {
            Some(recorded) => writeln!(
                f,
                "to remove them, run destroy again with --stack-name {recorded} \
                 (the stack the bucket was created for)"
            ),
            None => writeln!(
                f,
                "to remove them, run destroy again with the --stack-name the backend was \
                 deployed with, in this account and region"
            ),
        }
    }
}

/// The JSON printed on stdout when a command fails with `--output json`.
#[derive(Debug, Serialize)]
pub struct ErrorReport<'a> {
    pub schema_version: u32,
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'static str,
    pub message: String,
    pub failures: &'a [ResourceFailure],
}

impl<'a> ErrorReport<'a> {
    pub fn new(error: &'a ProvisionError) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            error: ErrorBody {
                code: error.code(),
                message: error.to_string(),
                failures: error.failures(),
            },
        }
    }
}

/// Prints a result on stdout in the chosen format.
pub fn print<T: fmt::Display + Serialize>(result: &T, format: OutputFormat) {
    match format {
        OutputFormat::Text => print!("{result}"),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(result).expect("results serialize to JSON")
        ),
    }
}
