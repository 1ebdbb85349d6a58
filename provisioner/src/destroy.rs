//! `destroy`: delete the stack, restore the job-execution event setting, remove the bucket.
//!
//! Every step first checks whether its work is already done, so running destroy again after
//! an interruption or a failure finishes the job, and a missing stack is not an error.

use crate::assets::{self, BucketState};
use crate::cli::DestroyArgs;
use crate::deploy::Target;
use crate::error::ProvisionError;
use crate::job_events;
use crate::output::{BucketRemoval, DestroyReport, JobEventsRestore, SCHEMA_VERSION, StackRemoval};
use crate::progress::Progress;
use crate::stack::{self, EventFollower, WaitOutcome, WaitSettings};

pub async fn destroy(
    target: &Target<'_>,
    args: &DestroyArgs,
    progress: &Progress,
    wait: WaitSettings,
) -> Result<DestroyReport, ProvisionError> {
    let clients = target.clients;
    let stack_name = args.stack_name.as_str();
    let bucket = assets::bucket_name(&target.account, &target.region);

    progress.step(format!("checking stack {stack_name}"));
    let stack_removal = match stack::describe_stack(&clients.cfn, stack_name).await? {
        None => StackRemoval::NotFound,
        Some(existing) => {
            let mut follower = EventFollower::start(&clients.cfn, &existing.stack_id).await?;
            if existing.is_busy() {
                progress.step(format!(
                    "waiting for stack {stack_name} ({}) to finish an earlier operation",
                    existing.status
                ));
                let outcome = stack::wait_for_stack(
                    &clients.cfn,
                    &existing.stack_id,
                    stack_name,
                    &mut follower,
                    progress,
                    wait,
                )
                .await?;
                if outcome == WaitOutcome::Deleted {
                    return finish(target, args, progress, bucket, StackRemoval::Deleted).await;
                }
            }
            progress.step(format!("deleting stack {stack_name}"));
            stack::delete_stack(&clients.cfn, &existing.stack_id).await?;
            let outcome = stack::wait_for_stack(
                &clients.cfn,
                &existing.stack_id,
                stack_name,
                &mut follower,
                progress,
                wait,
            )
            .await?;
            if let WaitOutcome::Settled(remaining) = outcome {
                return Err(ProvisionError::StackDeleteFailed {
                    stack: stack_name.to_owned(),
                    status: remaining.status,
                    failures: follower.failures(),
                });
            }
            StackRemoval::Deleted
        }
    };
    finish(target, args, progress, bucket, stack_removal).await
}

/// Restores the event setting and removes the bucket, once the stack is gone.
async fn finish(
    target: &Target<'_>,
    args: &DestroyArgs,
    progress: &Progress,
    bucket: String,
    stack_removal: StackRemoval,
) -> Result<DestroyReport, ProvisionError> {
    let clients = target.clients;
    let account = target.account.as_str();
    let bucket_exists = assets::bucket_state(&clients.s3, &bucket, account).await?;

    let mut events = JobEventsRestore::NoRecord;
    if bucket_exists == BucketState::Owned {
        match job_events::read_marker(&clients.s3, &bucket, account).await? {
            Some(false) => {
                progress.step("disabling IoT job-execution events again");
                job_events::set_job_execution_events(&clients.iot, false).await?;
                job_events::delete_marker(&clients.s3, &bucket, account).await?;
                events = JobEventsRestore::Disabled;
            }
            Some(true) => {
                job_events::delete_marker(&clients.s3, &bucket, account).await?;
                events = JobEventsRestore::LeftEnabled;
            }
            None => {}
        }
    }

    let bucket_removal = if args.keep_bucket {
        BucketRemoval::Kept
    } else if assets::delete_bucket(&clients.s3, &bucket, account, progress).await? {
        BucketRemoval::Deleted
    } else {
        BucketRemoval::NotFound
    };
    progress.finish();

    Ok(DestroyReport {
        schema_version: SCHEMA_VERSION,
        command: "destroy",
        stack_name: args.stack_name.clone(),
        account: target.account.clone(),
        region: target.region.clone(),
        stack: stack_removal,
        assets_bucket: bucket,
        bucket: bucket_removal,
        job_execution_events: events,
    })
}
