//! `destroy`: delete the stack, restore the job-execution event setting, remove the bucket.
//!
//! Every step first checks whether its work is already done, so running destroy again after
//! an interruption or a failure finishes the job, and a missing stack is not an error. The
//! bucket and the account-wide event setting are shared by every stack deployed to the same
//! account and region, so destroy removes them only with the last stack that uses them.

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

/// Restores the event setting and removes the bucket, once the stack is gone, but only when
/// both belong to this stack: it was deleted by this run (or the bucket's record names it),
/// and no other stack in the region still uses the bucket.
async fn finish(
    target: &Target<'_>,
    args: &DestroyArgs,
    progress: &Progress,
    bucket: String,
    stack_removal: StackRemoval,
) -> Result<DestroyReport, ProvisionError> {
    let clients = target.clients;
    let account = target.account.as_str();
    let stack_name = args.stack_name.as_str();
    let bucket_state = assets::bucket_state(&clients.s3, &bucket, account).await?;
    let marker = match bucket_state {
        BucketState::Owned => job_events::read_marker(&clients.s3, &bucket, account).await?,
        BucketState::Missing => None,
    };

    progress.step(format!("checking which stacks use assets bucket {bucket}"));
    let bucket_used_by = stack::stacks_using_bucket(&clients.cfn, &bucket).await?;
    let recorded_stack = marker.as_ref().and_then(|marker| marker.stack.clone());
    let owns_assets = match stack_removal {
        StackRemoval::Deleted => true,
        StackRemoval::NotFound => recorded_stack.as_deref() == Some(stack_name),
    };

    let (bucket_removal, events) = if !bucket_used_by.is_empty() {
        (BucketRemoval::InUse, untouched(marker.as_ref()))
    } else if !owns_assets {
        let removal = match bucket_state {
            BucketState::Owned => BucketRemoval::Skipped,
            BucketState::Missing => BucketRemoval::NotFound,
        };
        (removal, untouched(marker.as_ref()))
    } else {
        let events = match marker {
            Some(marker) => restore_events(target, &bucket, stack_name, marker, progress).await?,
            None => JobEventsRestore::NoRecord,
        };
        let removal = if args.keep_bucket {
            BucketRemoval::Kept
        } else if assets::delete_bucket(&clients.s3, &bucket, account, progress).await? {
            BucketRemoval::Deleted
        } else {
            BucketRemoval::NotFound
        };
        (removal, events)
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
        bucket_used_by,
        recorded_stack,
        job_execution_events: events,
    })
}

/// The event outcome when destroy leaves the setting alone.
fn untouched(marker: Option<&job_events::Marker>) -> JobEventsRestore {
    match marker {
        Some(_) => JobEventsRestore::Skipped,
        None => JobEventsRestore::NoRecord,
    }
}

/// Turns job-execution events off again if the first deploy found them off, then removes the
/// record.
async fn restore_events(
    target: &Target<'_>,
    bucket: &str,
    stack_name: &str,
    marker: job_events::Marker,
    progress: &Progress,
) -> Result<JobEventsRestore, ProvisionError> {
    let clients = target.clients;
    let account = target.account.as_str();

    // The stack is gone, so name it in the record first: if this run stops before the record
    // is deleted, destroy with the same stack name finds it and finishes the job.
    if marker.stack.as_deref() != Some(stack_name) {
        let claimed = job_events::Marker {
            enabled_before: marker.enabled_before,
            stack: Some(stack_name.to_owned()),
        };
        job_events::write_marker(&clients.s3, bucket, account, &claimed).await?;
    }
    if marker.enabled_before {
        job_events::delete_marker(&clients.s3, bucket, account).await?;
        return Ok(JobEventsRestore::LeftEnabled);
    }

    progress.step("disabling IoT job-execution events again");
    job_events::set_job_execution_events(&clients.iot, false).await?;
    job_events::delete_marker(&clients.s3, bucket, account).await?;
    Ok(JobEventsRestore::Disabled)
}
