//! The account-wide AWS IoT `JOB_EXECUTION` event setting.
//!
//! The job-execution-terminal rule reads `$aws/events/jobExecution/#`, which AWS IoT publishes
//! only while this setting is on. It is account-wide, so the first deploy records in the assets
//! bucket whether it was off before, and destroy turns it off again only in that case. The
//! record lives in the bucket rather than on the stack so that a destroy interrupted after the
//! stack is gone still finds it when run again.

use aws_sdk_iot::Client as IotClient;
use aws_sdk_iot::types::{Configuration, EventType};
use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::error::ProvisionError;

/// Key of the object in the assets bucket that records the setting found before the first
/// deploy: a line `enabled` or `disabled`, then a line `stack=NAME`. Records written before
/// the stack line existed contain only the first line.
pub const MARKER_KEY: &str = "state/job-execution-events-before";
const ENABLED: &str = "enabled";
const DISABLED: &str = "disabled";
const STACK_PREFIX: &str = "stack=";

/// The record of the setting found before the first deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub enabled_before: bool,
    /// The stack whose first deploy wrote the record; `None` in records from older versions.
    pub stack: Option<String>,
}

impl Marker {
    /// Parses the object body; an unrecognised first line counts as `enabled`, so that destroy
    /// never turns off a setting it cannot prove was off.
    pub fn parse(body: &str) -> Self {
        let mut lines = body.lines().map(str::trim);
        let enabled_before = lines.next() != Some(DISABLED);
        let stack = lines
            .find_map(|line| line.strip_prefix(STACK_PREFIX))
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        Self {
            enabled_before,
            stack,
        }
    }

    /// Returns the object body.
    pub fn to_body(&self) -> String {
        let setting = if self.enabled_before {
            ENABLED
        } else {
            DISABLED
        };
        match &self.stack {
            Some(stack) => format!("{setting}\n{STACK_PREFIX}{stack}\n"),
            None => format!("{setting}\n"),
        }
    }
}

/// Resource name used in error messages for the account-wide setting.
const RESOURCE: &str = "IoT event configuration JOB_EXECUTION";

/// Reads whether job-execution events are on.
pub async fn job_execution_events_enabled(iot: &IotClient) -> Result<bool, ProvisionError> {
    let output = iot
        .describe_event_configurations()
        .send()
        .await
        .map_err(|error| ProvisionError::aws("read", RESOURCE, error))?;
    let enabled = output
        .event_configurations()
        .and_then(|configurations| configurations.get(&EventType::JobExecution))
        .map(|configuration| configuration.enabled())
        .unwrap_or(false);
    Ok(enabled)
}

/// Turns job-execution events on or off.
pub async fn set_job_execution_events(
    iot: &IotClient,
    enabled: bool,
) -> Result<(), ProvisionError> {
    iot.update_event_configurations()
        .event_configurations(
            EventType::JobExecution,
            Configuration::builder().enabled(enabled).build(),
        )
        .send()
        .await
        .map_err(|error| {
            let action = if enabled { "enable" } else { "disable" };
            ProvisionError::aws(action, RESOURCE, error)
        })?;
    Ok(())
}

/// Reads the recorded setting; `None` when no deploy recorded one (or destroy removed it).
pub async fn read_marker(
    s3: &S3Client,
    bucket: &str,
    account: &str,
) -> Result<Option<Marker>, ProvisionError> {
    let location = format!("s3://{bucket}/{MARKER_KEY}");
    let output = match s3
        .get_object()
        .bucket(bucket)
        .key(MARKER_KEY)
        .expected_bucket_owner(account)
        .send()
        .await
    {
        Ok(output) => output,
        Err(SdkError::ServiceError(error))
            if matches!(error.err(), GetObjectError::NoSuchKey(_)) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(ProvisionError::aws("read", location, error)),
    };
    let body = output
        .body
        .collect()
        .await
        .map_err(|error| ProvisionError::Aws {
            action: "read".into(),
            resource: location.clone(),
            detail: error.to_string(),
            source: Box::new(error),
        })?
        .into_bytes();
    let text = String::from_utf8_lossy(&body);
    let first_line = text.lines().next().unwrap_or_default().trim();
    if first_line != ENABLED && first_line != DISABLED {
        tracing::warn!(
            %location,
            content = %text,
            "unrecognised marker; treating job-execution events as enabled before"
        );
    }
    Ok(Some(Marker::parse(&text)))
}

/// Records the setting found before the first deploy, and the stack that deploy was for.
pub async fn write_marker(
    s3: &S3Client,
    bucket: &str,
    account: &str,
    marker: &Marker,
) -> Result<(), ProvisionError> {
    s3.put_object()
        .bucket(bucket)
        .key(MARKER_KEY)
        .expected_bucket_owner(account)
        .content_type("text/plain")
        .body(ByteStream::from(marker.to_body().into_bytes()))
        .send()
        .await
        .map_err(|error| {
            ProvisionError::aws("write", format!("s3://{bucket}/{MARKER_KEY}"), error)
        })?;
    Ok(())
}

/// Removes the record once destroy has restored the setting.
pub async fn delete_marker(
    s3: &S3Client,
    bucket: &str,
    account: &str,
) -> Result<(), ProvisionError> {
    s3.delete_object()
        .bucket(bucket)
        .key(MARKER_KEY)
        .expected_bucket_owner(account)
        .send()
        .await
        .map_err(|error| {
            ProvisionError::aws("delete", format!("s3://{bucket}/{MARKER_KEY}"), error)
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let marker = Marker {
            enabled_before: false,
            stack: Some("fleet-a".into()),
        };
        assert_eq!(Marker::parse(&marker.to_body()), marker);
    }

    #[test]
    fn marker_without_stack_line() {
        let marker = Marker::parse("disabled");
        assert!(!marker.enabled_before);
        assert_eq!(marker.stack, None);
    }

    #[test]
    fn unrecognised_marker_counts_as_enabled() {
        let marker = Marker::parse("maybe\nstack=fleet-a\n");
        assert!(marker.enabled_before);
        assert_eq!(marker.stack.as_deref(), Some("fleet-a"));
    }
}
