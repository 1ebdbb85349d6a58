//! `deploy` and `plan`: bring the stack to the rendered template, or show what that would do.
//!
//! Both start by bringing a stack left behind by an earlier, interrupted run back to a state in
//! which CloudFormation accepts a change set. They wait out an operation in progress, delete
//! the empty stack of a change set that was never executed, and delete this tool's stale
//! change sets.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::types::ChangeSetType;

use crate::assets::{self, Artifact};
use crate::cli::{DeployArgs, PlanArgs};
use crate::error::ProvisionError;
use crate::job_events;
use crate::output::{DeployReport, DeployResult, JobEventsReport, PlanReport, SCHEMA_VERSION};
use crate::params::{Parameter, ValidatedSettings, stack_parameters};
use crate::progress::Progress;
use crate::session::Clients;
use crate::stack::{
    self, ChangeSetOutcome, ChangeSetRequest, EventFollower, StackInfo, WaitOutcome, WaitSettings,
};

/// Maximum time CloudFormation gets to compute a change set.
const CHANGE_SET_TIMEOUT: Duration = Duration::from_secs(300);

/// The step a deploy or plan is at, so that Ctrl-C can leave AWS in a state the next run handles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Preparing,
    /// A change set exists but has not been executed; `new_stack` when creating it also
    /// created an empty stack in REVIEW_IN_PROGRESS.
    ChangeSetPending {
        stack: String,
        change_set_id: String,
        new_stack: bool,
    },
    /// CloudFormation is applying a change set; it goes on without us.
    Executing { stack: String },
}

/// Shared between the running command and the Ctrl-C handler.
pub type PhaseCell = Arc<Mutex<Phase>>;

fn set_phase(cell: &PhaseCell, phase: Phase) {
    *cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = phase;
}

/// The account, region and clients a command runs with.
pub struct Target<'a> {
    pub clients: &'a Clients,
    pub account: String,
    pub region: String,
}

/// Polling settings for stack operations; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub stack: WaitSettings,
    pub change_set: WaitSettings,
}

impl Timing {
    pub fn for_minutes(max_minutes: u64) -> Self {
        Self {
            stack: WaitSettings::minutes(max_minutes),
            change_set: WaitSettings {
                poll_interval: Duration::from_secs(1),
                max_duration: CHANGE_SET_TIMEOUT,
            },
        }
    }
}

fn change_set_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    format!("{}{millis}", stack::CHANGE_SET_PREFIX)
}

/// Advice for states in which CloudFormation accepts no change set.
fn advice_for(status: &str) -> Option<&'static str> {
    match status {
        "UPDATE_ROLLBACK_FAILED" => Some(
            "continue the rollback (aws cloudformation continue-update-rollback), then deploy again",
        ),
        "ROLLBACK_FAILED" | "DELETE_FAILED" | "IMPORT_ROLLBACK_FAILED" => Some(
            "run `certrotator destroy` (after removing what blocks the deletion), then deploy again",
        ),
        _ => None,
    }
}

/// Brings the stack to a state that accepts a change set; returns it, or `None` when the next
/// change set must create it.
pub async fn prepare_stack(
    cfn: &CfnClient,
    stack_name: &str,
    recreate_failed: bool,
    timing: Timing,
    progress: &Progress,
) -> Result<Option<StackInfo>, ProvisionError> {
    loop {
        let Some(existing) = stack::describe_stack(cfn, stack_name).await? else {
            return Ok(None);
        };
        if existing.is_busy() {
            progress.step(format!(
                "waiting for stack {stack_name} ({}) to finish an earlier operation",
                existing.status
            ));
            let mut follower = EventFollower::start(cfn, &existing.stack_id).await?;
            stack::wait_for_stack(
                cfn,
                &existing.stack_id,
                stack_name,
                &mut follower,
                progress,
                timing.stack,
            )
            .await?;
            continue;
        }
        match existing.status.as_str() {
            // A change set created the stack but was never executed, so the stack has no resources.
            "REVIEW_IN_PROGRESS" => {
                progress.step(format!(
                    "deleting empty stack {stack_name} left by an unexecuted change set"
                ));
                delete_and_wait(cfn, &existing, progress, timing).await?;
                return Ok(None);
            }
            "ROLLBACK_COMPLETE" if recreate_failed => {
                progress.step(format!(
                    "deleting stack {stack_name} (ROLLBACK_COMPLETE) to create it again"
                ));
                delete_and_wait(cfn, &existing, progress, timing).await?;
                return Ok(None);
            }
            "ROLLBACK_COMPLETE" => {
                let failures = stack::recent_failures(cfn, &existing.stack_id).await?;
                return Err(ProvisionError::StackRollbackComplete {
                    stack: stack_name.to_owned(),
                    failures,
                });
            }
            status => {
                if let Some(advice) = advice_for(status) {
                    return Err(ProvisionError::StackNotUpdatable {
                        stack: stack_name.to_owned(),
                        status: status.to_owned(),
                        advice,
                    });
                }
            }
        }
        let stale = stack::delete_stale_change_sets(cfn, stack_name).await?;
        if stale > 0 {
            progress.step(format!(
                "deleted {stale} change set(s) left by an earlier run of stack {stack_name}"
            ));
        }
        return Ok(Some(existing));
    }
}

async fn delete_and_wait(
    cfn: &CfnClient,
    existing: &StackInfo,
    progress: &Progress,
    timing: Timing,
) -> Result<(), ProvisionError> {
    let mut follower = EventFollower::start(cfn, &existing.stack_id).await?;
    stack::delete_stack(cfn, &existing.stack_id).await?;
    let outcome = stack::wait_for_stack(
        cfn,
        &existing.stack_id,
        &existing.name,
        &mut follower,
        progress,
        timing.stack,
    )
    .await?;
    match outcome {
        WaitOutcome::Deleted => Ok(()),
        WaitOutcome::Settled(stack) => Err(ProvisionError::StackDeleteFailed {
            stack: existing.name.clone(),
            status: stack.status,
            failures: follower.failures(),
        }),
    }
}

/// Checks whether the stack already runs `template` with `parameters`, so that no change set
/// is needed. CloudFormation reports an identical update as a failed change set, and checking
/// first saves that round trip and keeps no-op deploys free of side effects.
async fn is_up_to_date(
    cfn: &CfnClient,
    existing: &StackInfo,
    template: &str,
    parameters: &[Parameter],
) -> Result<bool, ProvisionError> {
    let same_parameters = parameters
        .iter()
        .all(|p| existing.parameters.get(&p.key) == Some(&p.value));
    if !same_parameters {
        return Ok(false);
    }
    let current = stack::current_template(cfn, &existing.stack_id).await?;
    Ok(current == template)
}

/// Warns when CloudFormation found nothing to change although parameter values differ from
/// the stack's: the stack keeps its old values, which the user should know.
fn warn_if_parameters_differ(existing: &StackInfo, parameters: &[Parameter]) {
    let differing: Vec<&str> = parameters
        .iter()
        .filter(|p| existing.parameters.get(&p.key) != Some(&p.value))
        .map(|p| p.key.as_str())
        .collect();
    if !differing.is_empty() {
        tracing::warn!(
            stack = %existing.name,
            parameters = %differing.join(", "),
            "CloudFormation reported no changes although these parameters differ from the stack's; the stack keeps its current values"
        );
    }
}

/// Asks a yes/no question on the terminal; `Ok(false)` when the user declines.
///
/// The read runs on a blocking thread, so that Ctrl-C during the question still reaches the
/// handler that cleans up.
pub async fn confirm(question: String, progress: &Progress) -> Result<bool, ProvisionError> {
    progress.hide();
    let answer = tokio::task::spawn_blocking(move || {
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map(|_| answer)
    })
    .await
    .map_err(|error| ProvisionError::ReadFile {
        path: "stdin".into(),
        source: std::io::Error::other(error),
    })?
    .map_err(|source| ProvisionError::ReadFile {
        path: "stdin".into(),
        source,
    })?;
    progress.show();
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Fails early when a confirmation would be needed but cannot be asked for.
pub fn require_confirmation_possible(
    yes: bool,
    action: &'static str,
) -> Result<(), ProvisionError> {
    if yes || std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(ProvisionError::ConfirmationRequired { action })
    }
}

/// Everything `deploy` needs that was resolved before touching the stack.
pub struct DeployInput<'a> {
    pub args: &'a DeployArgs,
    pub settings: &'a ValidatedSettings,
    pub template: &'a str,
    pub artifacts: &'a [Artifact],
}

pub async fn deploy(
    target: &Target<'_>,
    input: DeployInput<'_>,
    progress: &Progress,
    timing: Timing,
    phase: &PhaseCell,
) -> Result<DeployReport, ProvisionError> {
    let clients = target.clients;
    let stack_name = input.settings.args.stack_name.as_str();
    let bucket = assets::bucket_name(&target.account, &target.region);

    progress.step(format!("checking assets bucket {bucket}"));
    assets::ensure_bucket(
        &clients.s3,
        &bucket,
        &target.account,
        &target.region,
        progress,
    )
    .await?;
    let artifacts = assets::upload_artifacts(
        &clients.s3,
        &bucket,
        &target.account,
        input.artifacts,
        progress,
    )
    .await?;

    // Record the account-wide event setting before this tool first changes it.
    let enabled_before =
        match job_events::read_marker(&clients.s3, &bucket, &target.account).await? {
            Some(marker) => marker.enabled_before,
            None => {
                let marker = job_events::Marker {
                    enabled_before: job_events::job_execution_events_enabled(&clients.iot).await?,
                    stack: Some(stack_name.to_owned()),
                };
                job_events::write_marker(&clients.s3, &bucket, &target.account, &marker).await?;
                marker.enabled_before
            }
        };

    progress.step(format!("checking stack {stack_name}"));
    let existing = prepare_stack(
        &clients.cfn,
        stack_name,
        input.args.recreate_failed_stack,
        timing,
        progress,
    )
    .await?;
    let parameters = stack_parameters(input.settings, &bucket, input.artifacts);

    let applied = apply_stack(
        &clients.cfn,
        ApplyRequest {
            stack_name,
            existing: existing.as_ref(),
            template: input.template,
            parameters: &parameters,
            tags: existing
                .as_ref()
                .map(|s| s.tags.clone())
                .unwrap_or_default(),
            yes: input.args.yes,
        },
        progress,
        timing,
        phase,
    )
    .await?;

    let enabled_now = job_events::job_execution_events_enabled(&clients.iot).await?;
    if !enabled_now {
        progress.step("enabling IoT job-execution events");
        job_events::set_job_execution_events(&clients.iot, true).await?;
    }
    progress.finish();

    Ok(DeployReport {
        schema_version: SCHEMA_VERSION,
        command: "deploy",
        stack_name: stack_name.to_owned(),
        stack_id: applied.stack.stack_id.clone(),
        account: target.account.clone(),
        region: target.region.clone(),
        result: applied.result,
        issuer: input.settings.args.issuer.parameter_value().to_owned(),
        assets_bucket: bucket,
        artifacts,
        changes: applied.changes,
        outputs: applied.stack.outputs,
        job_execution_events: JobEventsReport {
            enabled_before_first_deploy: enabled_before,
            enabled_by_this_run: !enabled_now,
        },
    })
}

/// A create or update to bring a stack to a template.
pub struct ApplyRequest<'a> {
    pub stack_name: &'a str,
    /// The stack as `prepare_stack` left it; `None` to create it.
    pub existing: Option<&'a StackInfo>,
    pub template: &'a str,
    pub parameters: &'a [Parameter],
    pub tags: BTreeMap<String, String>,
    /// Execute without asking.
    pub yes: bool,
}

/// The stack after a create or update.
#[derive(Debug, Clone)]
pub struct Applied {
    pub result: DeployResult,
    pub changes: Vec<stack::PlannedChange>,
    pub stack: StackInfo,
}

/// Creates a change set, executes it and waits, following events; the deploy logic that
/// touches CloudFormation.
pub async fn apply_stack(
    cfn: &CfnClient,
    request: ApplyRequest<'_>,
    progress: &Progress,
    timing: Timing,
    phase: &PhaseCell,
) -> Result<Applied, ProvisionError> {
    let stack_name = request.stack_name;
    if let Some(existing) = request.existing
        && is_up_to_date(cfn, existing, request.template, request.parameters).await?
    {
        progress.step(format!("stack {stack_name} is up to date"));
        return Ok(Applied {
            result: DeployResult::NoChanges,
            changes: Vec::new(),
            stack: existing.clone(),
        });
    }

    let change_set_type = if request.existing.is_some() {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let change_set = ChangeSetRequest {
        stack_name: stack_name.to_owned(),
        change_set_name: change_set_name(),
        change_set_type: change_set_type.clone(),
        template_body: request.template.to_owned(),
        parameters: request.parameters.to_vec(),
        tags: request.tags.clone(),
    };
    progress.step(format!(
        "creating change set {} for stack {stack_name}",
        change_set.change_set_name
    ));
    let outcome = stack::create_change_set(cfn, &change_set, timing.change_set).await?;
    let (change_set_id, stack_id, changes) = match outcome {
        ChangeSetOutcome::NoChanges => {
            if let Some(existing) = request.existing {
                warn_if_parameters_differ(existing, request.parameters);
            }
            let stack = match request.existing {
                Some(existing) => existing.clone(),
                None => stack::describe_stack(cfn, stack_name)
                    .await?
                    .ok_or_else(|| ProvisionError::ChangeSetFailed {
                        stack: stack_name.to_owned(),
                        change_set: change_set.change_set_name.clone(),
                        reason:
                            "CloudFormation reported no changes for a stack that does not exist"
                                .to_owned(),
                    })?,
            };
            return Ok(Applied {
                result: DeployResult::NoChanges,
                changes: Vec::new(),
                stack,
            });
        }
        ChangeSetOutcome::Ready {
            change_set_id,
            stack_id,
            changes,
        } => (change_set_id, stack_id, changes),
    };
    set_phase(
        phase,
        Phase::ChangeSetPending {
            stack: stack_name.to_owned(),
            change_set_id: change_set_id.clone(),
            new_stack: request.existing.is_none(),
        },
    );

    for change in &changes {
        progress.line(change.to_string());
    }
    let question = format!("apply {} change(s) to stack {stack_name}?", changes.len());
    if !request.yes && !confirm(question, progress).await? {
        discard_change_set(cfn, stack_name, &change_set_id, request.existing.is_none()).await?;
        set_phase(phase, Phase::Preparing);
        return Err(ProvisionError::Declined { action: "deploy" });
    }

    let mut follower = EventFollower::start(cfn, &stack_id).await?;
    progress.set_total(changes.len() as u64);
    progress.step(format!("applying change set to stack {stack_name}"));
    stack::execute_change_set(cfn, stack_name, &change_set_id).await?;
    set_phase(
        phase,
        Phase::Executing {
            stack: stack_name.to_owned(),
        },
    );

    let outcome = stack::wait_for_stack(
        cfn,
        &stack_id,
        stack_name,
        &mut follower,
        progress,
        timing.stack,
    )
    .await?;
    set_phase(phase, Phase::Preparing);
    let stack = match outcome {
        WaitOutcome::Settled(stack) if stack::is_success(&stack.status) => stack,
        WaitOutcome::Settled(stack) => {
            return Err(ProvisionError::StackFailed {
                stack: stack_name.to_owned(),
                status: stack.status,
                failures: follower.failures(),
            });
        }
        WaitOutcome::Deleted => {
            return Err(ProvisionError::StackFailed {
                stack: stack_name.to_owned(),
                status: "DELETE_COMPLETE".to_owned(),
                failures: follower.failures(),
            });
        }
    };
    let result = if change_set_type == ChangeSetType::Create {
        DeployResult::Created
    } else {
        DeployResult::Updated
    };
    Ok(Applied {
        result,
        changes,
        stack,
    })
}

/// Deletes a change set that will not be executed, and the empty stack it created if any.
pub async fn discard_change_set(
    cfn: &CfnClient,
    stack_name: &str,
    change_set_id: &str,
    new_stack: bool,
) -> Result<(), ProvisionError> {
    stack::delete_change_set(cfn, stack_name, change_set_id).await?;
    if new_stack {
        stack::delete_stack(cfn, stack_name).await?;
    }
    Ok(())
}

/// Leaves AWS in a state the next run recovers from after Ctrl-C, and returns a description of
/// that state.
pub async fn clean_up_after_interrupt(cfn: &CfnClient, phase: &PhaseCell) -> String {
    let current = phase
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    match current {
        Phase::Preparing => "no stack change was started; run the command again".to_owned(),
        Phase::ChangeSetPending {
            stack,
            change_set_id,
            new_stack,
        } => match discard_change_set(cfn, &stack, &change_set_id, new_stack).await {
            Ok(()) => {
                format!("change set for stack {stack} deleted before it ran; nothing was changed")
            }
            Err(error) => format!(
                "change set {change_set_id} of stack {stack} was not executed and could not be deleted ({error}); the next deploy deletes it"
            ),
        },
        Phase::Executing { stack } => format!(
            "CloudFormation goes on updating stack {stack} on its own; run deploy again, which waits for it to finish and then applies what is left"
        ),
    }
}

/// Everything `plan` needs that was resolved before touching the stack.
pub struct PlanInput<'a> {
    pub args: &'a PlanArgs,
    pub settings: &'a ValidatedSettings,
    pub template: &'a str,
    pub artifacts: &'a [Artifact],
}

pub async fn plan(
    target: &Target<'_>,
    input: PlanInput<'_>,
    progress: &Progress,
    timing: Timing,
    phase: &PhaseCell,
) -> Result<PlanReport, ProvisionError> {
    let PlanInput {
        args,
        settings,
        template,
        artifacts,
    } = input;
    let cfn = &target.clients.cfn;
    let stack_name = args.stack.stack_name.as_str();
    let bucket = assets::bucket_name(&target.account, &target.region);
    let parameters = stack_parameters(settings, &bucket, artifacts);
    let report = |change_set_type: &str, no_changes: bool, changes| PlanReport {
        schema_version: SCHEMA_VERSION,
        command: "plan",
        stack_name: stack_name.to_owned(),
        account: target.account.clone(),
        region: target.region.clone(),
        change_set_type: change_set_type.to_owned(),
        no_changes,
        changes,
        parameters: parameters.clone(),
    };

    progress.step(format!("checking stack {stack_name}"));
    let existing = stack::describe_stack(cfn, stack_name).await?;
    let existing = match existing {
        Some(stack) if stack.status == "REVIEW_IN_PROGRESS" => None,
        Some(stack) if stack.status == "ROLLBACK_COMPLETE" => {
            let failures = stack::recent_failures(cfn, &stack.stack_id).await?;
            return Err(ProvisionError::StackRollbackComplete {
                stack: stack_name.to_owned(),
                failures,
            });
        }
        Some(stack) if stack.is_busy() => {
            return Err(ProvisionError::StackNotUpdatable {
                stack: stack_name.to_owned(),
                status: stack.status,
                advice: "wait for the running operation to finish, then plan again",
            });
        }
        other => other,
    };
    let change_set_type = if existing.is_some() {
        "UPDATE"
    } else {
        "CREATE"
    };
    if let Some(existing) = &existing
        && is_up_to_date(cfn, existing, template, &parameters).await?
    {
        return Ok(report(change_set_type, true, Vec::new()));
    }

    let request = ChangeSetRequest {
        stack_name: stack_name.to_owned(),
        change_set_name: change_set_name(),
        change_set_type: ChangeSetType::from(change_set_type),
        template_body: template.to_owned(),
        parameters: parameters.clone(),
        tags: existing
            .as_ref()
            .map(|s| s.tags.clone())
            .unwrap_or_default(),
    };
    progress.step(format!("creating change set {}", request.change_set_name));
    match stack::create_change_set(cfn, &request, timing.change_set).await? {
        ChangeSetOutcome::NoChanges => Ok(report(change_set_type, true, Vec::new())),
        ChangeSetOutcome::Ready {
            change_set_id,
            changes,
            ..
        } => {
            let new_stack = existing.is_none();
            set_phase(
                phase,
                Phase::ChangeSetPending {
                    stack: stack_name.to_owned(),
                    change_set_id: change_set_id.clone(),
                    new_stack,
                },
            );
            progress.step(format!("deleting change set {}", request.change_set_name));
            discard_change_set(cfn, stack_name, &change_set_id, new_stack).await?;
            set_phase(phase, Phase::Preparing);
            progress.finish();
            Ok(report(change_set_type, false, changes))
        }
    }
}
