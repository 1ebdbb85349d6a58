//! The CloudFormation stack: reading its state, change sets, following events, bounded waits.
//!
//! Every create and update goes through a change set with `ChangeSetType` set explicitly, so
//! the same code path serves `plan` (create, show, delete) and `deploy` (create, execute).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetError;
use aws_sdk_cloudformation::types::{
    Capability, Change, ChangeSetStatus, ChangeSetType, Parameter as CfnParameter, StackEvent, Tag,
    TemplateStage,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::error::{ProvisionError, ResourceFailure};
use crate::params::Parameter;
use crate::progress::Progress;

/// Prefix of every change set this tool creates, so leftovers of an interrupted run are
/// recognised and deleted without touching anyone else's.
pub const CHANGE_SET_PREFIX: &str = "certrotator-";

/// Resource type CloudFormation uses for the stack itself in stack events.
const STACK_RESOURCE_TYPE: &str = "AWS::CloudFormation::Stack";

/// How often and how long to poll.
#[derive(Debug, Clone, Copy)]
pub struct WaitSettings {
    pub poll_interval: Duration,
    pub max_duration: Duration,
}

impl WaitSettings {
    pub fn minutes(max_minutes: u64) -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            max_duration: Duration::from_secs(max_minutes * 60),
        }
    }
}

/// One stack as DescribeStacks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    pub stack_id: String,
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

impl StackInfo {
    /// True while CloudFormation is working on the stack; REVIEW_IN_PROGRESS is excluded
    /// because it is a resting state (a stack created by a change set never executed).
    pub fn is_busy(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS") && self.status != "REVIEW_IN_PROGRESS"
    }
}

/// Reads one stack; `None` when it does not exist or is deleted.
///
/// CloudFormation reports a missing stack only as a `ValidationError` without a more specific
/// code. Stack names are validated locally before this is called, so a `ValidationError` here
/// means the stack does not exist.
pub async fn describe_stack(
    cfn: &CfnClient,
    name_or_id: &str,
) -> Result<Option<StackInfo>, ProvisionError> {
    let output = match cfn.describe_stacks().stack_name(name_or_id).send().await {
        Ok(output) => output,
        Err(SdkError::ServiceError(error)) if error.err().code() == Some("ValidationError") => {
            return Ok(None);
        }
        Err(error) => return Err(ProvisionError::aws("describe stack", name_or_id, error)),
    };
    let Some(stack) = output.stacks().first() else {
        return Ok(None);
    };
    let status = stack
        .stack_status()
        .map(|status| status.as_str().to_owned())
        .unwrap_or_default();
    if status == "DELETE_COMPLETE" {
        return Ok(None);
    }
    let pairs = |items: Vec<(Option<&str>, Option<&str>)>| -> BTreeMap<String, String> {
        items
            .into_iter()
            .filter_map(|(key, value)| Some((key?.to_owned(), value.unwrap_or("").to_owned())))
            .collect()
    };
    Ok(Some(StackInfo {
        stack_id: stack.stack_id().unwrap_or(name_or_id).to_owned(),
        name: stack.stack_name().unwrap_or(name_or_id).to_owned(),
        status,
        status_reason: stack.stack_status_reason().map(str::to_owned),
        tags: pairs(stack.tags().iter().map(|t| (t.key(), t.value())).collect()),
        parameters: pairs(
            stack
                .parameters()
                .iter()
                .map(|p| (p.parameter_key(), p.parameter_value()))
                .collect(),
        ),
        outputs: pairs(
            stack
                .outputs()
                .iter()
                .map(|o| (o.output_key(), o.output_value()))
                .collect(),
        ),
    }))
}

/// Stack parameter that names the assets bucket.
pub const ASSETS_BUCKET_PARAMETER: &str = "AssetsBucket";

/// Lists the names of the stacks in the region, other than deleted ones, whose
/// `AssetsBucket` parameter is `bucket`. Reads every page of DescribeStacks.
pub async fn stacks_using_bucket(
    cfn: &CfnClient,
    bucket: &str,
) -> Result<Vec<String>, ProvisionError> {
    let mut names = Vec::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            ProvisionError::aws("list stacks that use assets bucket", bucket, error)
        })?;
        for stack in page.stacks() {
            let deleted =
                stack.stack_status().map(|status| status.as_str()) == Some("DELETE_COMPLETE");
            let uses_bucket = stack.parameters().iter().any(|parameter| {
                parameter.parameter_key() == Some(ASSETS_BUCKET_PARAMETER)
                    && parameter.parameter_value() == Some(bucket)
            });
            if uses_bucket && !deleted {
                names.push(stack.stack_name().unwrap_or_default().to_owned());
            }
        }
    }
    Ok(names)
}

/// Reads the template body the stack was last deployed with.
pub async fn current_template(cfn: &CfnClient, stack: &str) -> Result<String, ProvisionError> {
    let output = cfn
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("read the template of stack", stack, error))?;
    Ok(output.template_body().unwrap_or_default().to_owned())
}

/// One resource change a change set would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    pub action: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

impl fmt::Display for PlannedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8} {} ({})",
            self.action, self.logical_resource_id, self.resource_type
        )?;
        if let Some(replacement) = &self.replacement {
            write!(f, " replacement: {replacement}")?;
        }
        Ok(())
    }
}

fn planned_change(change: &Change) -> Option<PlannedChange> {
    let resource = change.resource_change()?;
    Some(PlannedChange {
        action: resource
            .action()
            .map(|action| action.as_str().to_owned())
            .unwrap_or_default(),
        logical_resource_id: resource
            .logical_resource_id()
            .unwrap_or_default()
            .to_owned(),
        resource_type: resource.resource_type().unwrap_or_default().to_owned(),
        replacement: resource
            .replacement()
            .map(|replacement| replacement.as_str().to_owned()),
    })
}

/// Everything needed to create a change set.
#[derive(Debug, Clone)]
pub struct ChangeSetRequest {
    pub stack_name: String,
    pub change_set_name: String,
    pub change_set_type: ChangeSetType,
    pub template_body: String,
    pub parameters: Vec<Parameter>,
    pub tags: BTreeMap<String, String>,
}

/// A change set that is ready to execute, or the news that there is nothing to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetOutcome {
    NoChanges,
    Ready {
        change_set_id: String,
        stack_id: String,
        changes: Vec<PlannedChange>,
    },
}

/// Tells whether a failed change set's reason is CloudFormation's "nothing to change".
///
/// NOTE: CloudFormation marks an empty change set only with a FAILED status and this English
/// reason, and some emulators reject an identical update with a `ValidationError` message.
/// Neither has an error code or status of its own, so this is the one place that reads a
/// message.
pub fn is_no_changes_reason(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Creates a change set and waits until CloudFormation has computed it.
pub async fn create_change_set(
    cfn: &CfnClient,
    request: &ChangeSetRequest,
    wait: WaitSettings,
) -> Result<ChangeSetOutcome, ProvisionError> {
    let parameters: Vec<CfnParameter> = request
        .parameters
        .iter()
        .map(|p| {
            CfnParameter::builder()
                .parameter_key(&p.key)
                .parameter_value(&p.value)
                .build()
        })
        .collect();
    let tags: Vec<Tag> = request
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    let created = cfn
        .create_change_set()
        .stack_name(&request.stack_name)
        .change_set_name(&request.change_set_name)
        .change_set_type(request.change_set_type.clone())
        .template_body(&request.template_body)
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .description("certrotator deploy")
        .send()
        .await;
    let created = match created {
        Ok(created) => created,
        Err(SdkError::ServiceError(error)) => {
            let error = error.into_err();
            if let CreateChangeSetError::InsufficientCapabilitiesException(inner) = &error {
                return Err(ProvisionError::InsufficientCapabilities {
                    stack: request.stack_name.clone(),
                    message: inner.message().unwrap_or_default().to_owned(),
                });
            }
            if error.code() == Some("ValidationError")
                && error.message().is_some_and(is_no_changes_reason)
            {
                return Ok(ChangeSetOutcome::NoChanges);
            }
            return Err(ProvisionError::aws(
                "create change set for stack",
                &request.stack_name,
                error,
            ));
        }
        Err(error) => {
            return Err(ProvisionError::aws(
                "create change set for stack",
                &request.stack_name,
                error,
            ));
        }
    };
    let change_set_id = created.id().unwrap_or(&request.change_set_name).to_owned();
    let stack_id = created.stack_id().unwrap_or(&request.stack_name).to_owned();

    let started = Instant::now();
    loop {
        let (status, reason, changes) = describe_change_set(cfn, &change_set_id).await?;
        match status {
            ChangeSetStatus::CreateComplete => {
                return Ok(ChangeSetOutcome::Ready {
                    change_set_id,
                    stack_id,
                    changes,
                });
            }
            ChangeSetStatus::Failed => {
                delete_change_set(cfn, &request.stack_name, &change_set_id).await?;
                if is_no_changes_reason(&reason) {
                    return Ok(ChangeSetOutcome::NoChanges);
                }
                return Err(ProvisionError::ChangeSetFailed {
                    stack: request.stack_name.clone(),
                    change_set: request.change_set_name.clone(),
                    reason,
                });
            }
            _ => {}
        }
        if started.elapsed() >= wait.max_duration {
            return Err(ProvisionError::ChangeSetTimeout {
                stack: request.stack_name.clone(),
                change_set: request.change_set_name.clone(),
                seconds: wait.max_duration.as_secs(),
            });
        }
        tokio::time::sleep(wait.poll_interval).await;
    }
}

async fn describe_change_set(
    cfn: &CfnClient,
    change_set_id: &str,
) -> Result<(ChangeSetStatus, String, Vec<PlannedChange>), ProvisionError> {
    let mut changes = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = cfn
            .describe_change_set()
            .change_set_name(change_set_id)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| ProvisionError::aws("describe change set", change_set_id, error))?;
        changes.extend(page.changes().iter().filter_map(planned_change));
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            let status = page
                .status()
                .cloned()
                .unwrap_or(ChangeSetStatus::CreatePending);
            let reason = page.status_reason().unwrap_or_default().to_owned();
            return Ok((status, reason, changes));
        }
    }
}

pub async fn execute_change_set(
    cfn: &CfnClient,
    stack: &str,
    change_set_id: &str,
) -> Result<(), ProvisionError> {
    cfn.execute_change_set()
        .stack_name(stack)
        .change_set_name(change_set_id)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("execute change set", change_set_id, error))?;
    Ok(())
}

pub async fn delete_change_set(
    cfn: &CfnClient,
    stack: &str,
    change_set_id: &str,
) -> Result<(), ProvisionError> {
    cfn.delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set_id)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("delete change set", change_set_id, error))?;
    Ok(())
}

/// Deletes change sets an earlier, interrupted run of this tool left behind; returns how many.
pub async fn delete_stale_change_sets(
    cfn: &CfnClient,
    stack: &str,
) -> Result<usize, ProvisionError> {
    let mut stale = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = cfn
            .list_change_sets()
            .stack_name(stack)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| ProvisionError::aws("list change sets of stack", stack, error))?;
        for summary in page.summaries() {
            let ours = summary
                .change_set_name()
                .is_some_and(|name| name.starts_with(CHANGE_SET_PREFIX));
            if let (true, Some(id)) = (ours, summary.change_set_id()) {
                stale.push(id.to_owned());
            }
        }
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            break;
        }
    }
    for id in &stale {
        tracing::info!(change_set = %id, stack, "deleting change set left by an earlier run");
        delete_change_set(cfn, stack, id).await?;
    }
    Ok(stale.len())
}

pub async fn delete_stack(cfn: &CfnClient, stack: &str) -> Result<(), ProvisionError> {
    cfn.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|error| ProvisionError::aws("delete stack", stack, error))?;
    Ok(())
}

/// Follows a stack's events, printing each new one once, oldest first.
pub struct EventFollower {
    stack: String,
    seen: HashSet<String>,
    failures: Vec<ResourceFailure>,
}

impl EventFollower {
    /// Starts following, treating every event already recorded as seen.
    pub async fn start(cfn: &CfnClient, stack: &str) -> Result<Self, ProvisionError> {
        let mut follower = Self {
            stack: stack.to_owned(),
            seen: HashSet::new(),
            failures: Vec::new(),
        };
        for event in follower.fetch(cfn).await? {
            if let Some(id) = event.event_id() {
                follower.seen.insert(id.to_owned());
            }
        }
        Ok(follower)
    }

    /// Starts following with nothing seen, so the stack's whole recent history is reported.
    pub fn from_beginning(stack: &str) -> Self {
        Self {
            stack: stack.to_owned(),
            seen: HashSet::new(),
            failures: Vec::new(),
        }
    }

    async fn fetch(&self, cfn: &CfnClient) -> Result<Vec<StackEvent>, ProvisionError> {
        match cfn
            .describe_stack_events()
            .stack_name(&self.stack)
            .send()
            .await
        {
            Ok(output) => Ok(output.stack_events().to_vec()),
            // The stack is gone (some implementations drop the events of deleted stacks).
            Err(SdkError::ServiceError(error)) if error.err().code() == Some("ValidationError") => {
                Ok(Vec::new())
            }
            Err(error) => Err(ProvisionError::aws(
                "read events of stack",
                &self.stack,
                error,
            )),
        }
    }

    /// Fetches new events, prints them and records failures; returns how many were new.
    pub async fn poll(
        &mut self,
        cfn: &CfnClient,
        progress: &Progress,
    ) -> Result<usize, ProvisionError> {
        let mut fresh: Vec<StackEvent> = self
            .fetch(cfn)
            .await?
            .into_iter()
            .filter(|event| event.event_id().is_some_and(|id| !self.seen.contains(id)))
            .collect();
        // DescribeStackEvents returns the newest event first.
        fresh.reverse();
        for event in &fresh {
            self.seen
                .insert(event.event_id().unwrap_or_default().to_owned());
            self.record(event, progress);
        }
        Ok(fresh.len())
    }

    fn record(&mut self, event: &StackEvent, progress: &Progress) {
        let status = event
            .resource_status()
            .map(|status| status.as_str())
            .unwrap_or_default();
        let logical_id = event.logical_resource_id().unwrap_or_default();
        let resource_type = event.resource_type().unwrap_or_default();
        let reason = event.resource_status_reason().unwrap_or_default();
        let time = event
            .timestamp()
            .and_then(|time| time.fmt(Format::DateTime).ok())
            .unwrap_or_default();
        let mut line = format!("{time} {status:<20} {logical_id} ({resource_type})");
        if !reason.is_empty() {
            line.push_str(": ");
            line.push_str(reason);
        }
        progress.line(line);
        tracing::debug!(stack = %self.stack, logical_id, status, reason, "stack event");

        let is_resource = resource_type != STACK_RESOURCE_TYPE;
        if is_resource && status.ends_with("_COMPLETE") {
            progress.advance();
        }
        if status.ends_with("_FAILED") && !reason.is_empty() {
            self.failures.push(ResourceFailure {
                logical_resource_id: logical_id.to_owned(),
                resource_type: resource_type.to_owned(),
                status: status.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }

    /// Failures seen so far; resource failures first because they carry the cause, and the
    /// stack's own summary only when no resource reported one.
    pub fn failures(&self) -> Vec<ResourceFailure> {
        let resources: Vec<ResourceFailure> = self
            .failures
            .iter()
            .filter(|failure| failure.resource_type != STACK_RESOURCE_TYPE)
            .cloned()
            .collect();
        if resources.is_empty() {
            self.failures.clone()
        } else {
            resources
        }
    }
}

/// The end of a wait for a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    Settled(StackInfo),
    Deleted,
}

/// Polls the stack until it leaves every `*_IN_PROGRESS` state (or is gone), printing events,
/// for at most `wait.max_duration`.
pub async fn wait_for_stack(
    cfn: &CfnClient,
    stack_id: &str,
    stack_name: &str,
    follower: &mut EventFollower,
    progress: &Progress,
    wait: WaitSettings,
) -> Result<WaitOutcome, ProvisionError> {
    let started = Instant::now();
    loop {
        follower.poll(cfn, progress).await?;
        let Some(stack) = describe_stack(cfn, stack_id).await? else {
            return Ok(WaitOutcome::Deleted);
        };
        if !stack.is_busy() {
            follower.poll(cfn, progress).await?;
            return Ok(WaitOutcome::Settled(stack));
        }
        if started.elapsed() >= wait.max_duration {
            return Err(ProvisionError::StackTimeout {
                stack: stack_name.to_owned(),
                status: stack.status,
                minutes: wait.max_duration.as_secs().div_ceil(60),
            });
        }
        tokio::time::sleep(wait.poll_interval).await;
    }
}

/// Reads the stack's recent events and returns the failures among them.
pub async fn recent_failures(
    cfn: &CfnClient,
    stack: &str,
) -> Result<Vec<ResourceFailure>, ProvisionError> {
    let mut follower = EventFollower::from_beginning(stack);
    let quiet = Progress::hidden();
    follower.poll(cfn, &quiet).await?;
    Ok(follower.failures())
}

/// True for the states a create or update ends in when it worked.
pub fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_changes_reasons() {
        assert!(is_no_changes_reason(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(is_no_changes_reason("No updates are to be performed."));
        assert!(!is_no_changes_reason(
            "Template format error: unresolved resource"
        ));
    }

    #[test]
    fn review_in_progress_is_not_busy() {
        let mut stack = StackInfo {
            stack_id: "id".into(),
            name: "name".into(),
            status: "REVIEW_IN_PROGRESS".into(),
            status_reason: None,
            tags: BTreeMap::new(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::new(),
        };
        assert!(!stack.is_busy());
        stack.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS".into();
        assert!(stack.is_busy());
    }
}
