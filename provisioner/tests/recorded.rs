//! The deploy logic against recorded CloudFormation, S3 and AWS Private CA responses, for the
//! failures moto cannot produce. These are a rollback with a resource's reason, a stack stuck
//! in progress, missing capabilities, a bucket owned by another account, leftovers of an
//! interrupted run, and a certificate authority that is missing or may not be read.

use std::time::Duration;

use aws_sdk_acmpca::operation::describe_certificate_authority::{
    DescribeCertificateAuthorityError, DescribeCertificateAuthorityOutput,
};
use aws_sdk_acmpca::types::error::ResourceNotFoundException;
use aws_sdk_acmpca::types::{
    CertificateAuthority, CertificateAuthorityConfiguration, CertificateAuthorityStatus,
    CertificateAuthorityUsageMode, KeyAlgorithm, SigningAlgorithm as PcaSigningAlgorithm,
};
use aws_sdk_cloudformation::operation::create_change_set::{
    CreateChangeSetError, CreateChangeSetOutput,
};
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::list_change_sets::ListChangeSetsOutput;
use aws_sdk_cloudformation::types::error::InsufficientCapabilitiesException;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ChangeSetSummary, ResourceChange, ResourceStatus, Stack,
    StackEvent, StackStatus,
};
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::error::BucketAlreadyExists;
use aws_smithy_mocks::{Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;
use rotator_provisioner::cli::CaSigningAlgorithm;
use rotator_provisioner::deploy::{
    self, ApplyRequest, Phase, PhaseCell, Timing, apply_stack, prepare_stack,
};
use rotator_provisioner::error::ProvisionError;
use rotator_provisioner::params::{CaArn, Parameter};
use rotator_provisioner::private_ca::Issuance;
use rotator_provisioner::progress::Progress;
use rotator_provisioner::stack::WaitSettings;
use rotator_provisioner::{assets, private_ca, stack};

/// The certificates deploy requests with the default flags.
const DEFAULT_ISSUANCE: Issuance = Issuance {
    signing_algorithm: CaSigningAlgorithm::Sha256WithRsa,
    validity_days: 7,
};

type Cfn = aws_sdk_cloudformation::Client;
type Pca = aws_sdk_acmpca::Client;

const STACK_NAME: &str = "greengrass-cert-rotator";
const STACK_ID: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/greengrass-cert-rotator/5a1b";
const CHANGE_SET_ID: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/certrotator-1/7c2d";

fn cfn_client(rules: &[&Rule]) -> Cfn {
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_cloudformation::Config::builder()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "recorded", "recorded", None, None, "recorded",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Cfn::from_conf(config)
}

fn s3_client(rules: &[&Rule]) -> aws_sdk_s3::Client {
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "recorded", "recorded", None, None, "recorded",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn pca_client(rules: &[&Rule]) -> Pca {
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_acmpca::Config::builder()
        .behavior_version(aws_sdk_acmpca::config::BehaviorVersion::latest())
        .region(aws_sdk_acmpca::config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_acmpca::config::Credentials::new(
            "recorded", "recorded", None, None, "recorded",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Pca::from_conf(config)
}

const CA_ARN: &str = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0d1f6a3e-2b7c-4e8f-9a10-1b2c3d4e5f60";

/// Waits that end after a few polls, so that timeouts are reached at once.
fn short_timing(max: Duration) -> Timing {
    let wait = WaitSettings {
        poll_interval: Duration::from_millis(1),
        max_duration: max,
    };
    Timing {
        stack: wait,
        change_set: wait,
    }
}

fn stack_output(status: StackStatus) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_name(STACK_NAME)
                .stack_id(STACK_ID)
                .stack_status(status)
                .creation_time(DateTime::from_secs(1_700_000_000))
                .build(),
        )
        .build()
}

fn stack_missing() -> aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError {
    aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message(format!("Stack with id {STACK_NAME} does not exist"))
            .build(),
    )
}

fn event(
    id: &str,
    logical_id: &str,
    kind: &str,
    status: ResourceStatus,
    reason: &str,
) -> StackEvent {
    StackEvent::builder()
        .event_id(id)
        .stack_id(STACK_ID)
        .stack_name(STACK_NAME)
        .logical_resource_id(logical_id)
        .resource_type(kind)
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(1_700_000_100))
        .build()
}

/// The events of a first deploy whose Lambda function failed, newest first as AWS sends them.
fn rollback_events() -> DescribeStackEventsOutput {
    DescribeStackEventsOutput::builder()
        .stack_events(event(
            "e4",
            STACK_NAME,
            "AWS::CloudFormation::Stack",
            ResourceStatus::RollbackComplete,
            "",
        ))
        .stack_events(event(
            "e3",
            STACK_NAME,
            "AWS::CloudFormation::Stack",
            ResourceStatus::RollbackInProgress,
            "The following resource(s) failed to create: [CreateCertificateFunction].",
        ))
        .stack_events(event(
            "e2",
            "CreateCertificateFunction",
            "AWS::Lambda::Function",
            ResourceStatus::CreateFailed,
            "Resource handler returned message: \"Error occurred while GetObject. S3 Error Code: NoSuchKey\"",
        ))
        .stack_events(event(
            "e1",
            STACK_NAME,
            "AWS::CloudFormation::Stack",
            ResourceStatus::CreateInProgress,
            "User Initiated",
        ))
        .build()
}

fn no_events() -> DescribeStackEventsOutput {
    DescribeStackEventsOutput::builder().build()
}

fn ready_change_set() -> DescribeChangeSetOutput {
    DescribeChangeSetOutput::builder()
        .change_set_id(CHANGE_SET_ID)
        .stack_id(STACK_ID)
        .status(ChangeSetStatus::CreateComplete)
        .changes(
            Change::builder()
                .resource_change(
                    ResourceChange::builder()
                        .action(ChangeAction::Add)
                        .logical_resource_id("CreateCertificateFunction")
                        .resource_type("AWS::Lambda::Function")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn failed_change_set(reason: &str) -> DescribeChangeSetOutput {
    DescribeChangeSetOutput::builder()
        .change_set_id(CHANGE_SET_ID)
        .stack_id(STACK_ID)
        .status(ChangeSetStatus::Failed)
        .status_reason(reason)
        .build()
}

fn create_change_set_ok() -> Rule {
    mock!(Cfn::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id(CHANGE_SET_ID)
            .stack_id(STACK_ID)
            .build()
    })
}

fn request(parameters: &[Parameter]) -> ApplyRequest<'_> {
    ApplyRequest {
        stack_name: STACK_NAME,
        existing: None,
        template: "Resources: {}\n",
        parameters,
        tags: Default::default(),
        yes: true,
    }
}

#[tokio::test]
async fn rollback_shows_failing_resource() {
    let create = create_change_set_ok();
    let describe_change_set = mock!(Cfn::describe_change_set).then_output(ready_change_set);
    let execute =
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let events = mock!(Cfn::describe_stack_events)
        .sequence()
        .output(no_events)
        .output(rollback_events)
        .repeatedly()
        .build();
    let stacks =
        mock!(Cfn::describe_stacks).then_output(|| stack_output(StackStatus::RollbackComplete));
    let cfn = cfn_client(&[&create, &describe_change_set, &execute, &events, &stacks]);

    let error = apply_stack(
        &cfn,
        request(&[]),
        &Progress::hidden(),
        short_timing(Duration::from_secs(5)),
        &PhaseCell::default(),
    )
    .await
    .unwrap_err();

    assert_eq!(execute.num_calls(), 1);
    let ProvisionError::StackFailed {
        status, failures, ..
    } = &error
    else {
        panic!("expected StackFailed, got {error:?}");
    };
    assert_eq!(status, "ROLLBACK_COMPLETE");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].logical_resource_id, "CreateCertificateFunction");
    assert_eq!(failures[0].status, "CREATE_FAILED");
    assert!(failures[0].reason.contains("NoSuchKey"));
    let message = error.to_string();
    assert!(
        message.contains("CreateCertificateFunction (AWS::Lambda::Function) CREATE_FAILED"),
        "{message}"
    );
}

#[tokio::test]
async fn stuck_stack_times_out() {
    let stacks =
        mock!(Cfn::describe_stacks).then_output(|| stack_output(StackStatus::UpdateInProgress));
    let events = mock!(Cfn::describe_stack_events).then_output(no_events);
    let cfn = cfn_client(&[&stacks, &events]);

    let error = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_millis(20)),
        &Progress::hidden(),
    )
    .await
    .unwrap_err();

    let ProvisionError::StackTimeout { status, stack, .. } = &error else {
        panic!("expected StackTimeout, got {error:?}");
    };
    assert_eq!(status, "UPDATE_IN_PROGRESS");
    assert_eq!(stack, STACK_NAME);
    assert!(stacks.num_calls() >= 2);
    let message = error.to_string();
    assert!(message.contains("run the same command again"), "{message}");
    assert!(message.contains("--timeout-minutes"), "{message}");
}

#[tokio::test]
async fn in_progress_stack_is_awaited() {
    let stacks = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack_output(StackStatus::UpdateInProgress))
        .times(2)
        .output(|| stack_output(StackStatus::UpdateComplete))
        .repeatedly()
        .build();
    let events = mock!(Cfn::describe_stack_events).then_output(no_events);
    let change_sets =
        mock!(Cfn::list_change_sets).then_output(|| ListChangeSetsOutput::builder().build());
    let cfn = cfn_client(&[&stacks, &events, &change_sets]);

    let stack = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap()
    .expect("the stack exists");
    assert_eq!(stack.status, "UPDATE_COMPLETE");
}

#[tokio::test]
async fn missing_capabilities_are_explained() {
    let create = mock!(Cfn::create_change_set).then_error(|| {
        CreateChangeSetError::InsufficientCapabilitiesException(
            InsufficientCapabilitiesException::builder()
                .message("Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
                .build(),
        )
    });
    let execute =
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let cfn = cfn_client(&[&create, &execute]);

    let error = apply_stack(
        &cfn,
        request(&[]),
        &Progress::hidden(),
        short_timing(Duration::from_secs(5)),
        &PhaseCell::default(),
    )
    .await
    .unwrap_err();

    assert_eq!(error.code(), "insufficient_capabilities");
    let message = error.to_string();
    assert!(message.contains("CAPABILITY_AUTO_EXPAND"), "{message}");
    assert!(message.contains(STACK_NAME), "{message}");
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn rollback_complete_stack_is_rejected() {
    let stacks =
        mock!(Cfn::describe_stacks).then_output(|| stack_output(StackStatus::RollbackComplete));
    let events = mock!(Cfn::describe_stack_events).then_output(rollback_events);
    let delete = mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cfn = cfn_client(&[&stacks, &events, &delete]);

    let error = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap_err();

    assert_eq!(error.code(), "stack_rollback_complete");
    let message = error.to_string();
    assert!(message.contains("--recreate-failed-stack"), "{message}");
    assert!(message.contains("certrotator destroy"), "{message}");
    assert!(message.contains("NoSuchKey"), "{message}");
    assert_eq!(delete.num_calls(), 0);
}

#[tokio::test]
async fn rollback_complete_stack_is_recreated() {
    let stacks = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack_output(StackStatus::RollbackComplete))
        .output(|| stack_output(StackStatus::DeleteComplete))
        .repeatedly()
        .build();
    let events = mock!(Cfn::describe_stack_events).then_output(no_events);
    let delete = mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cfn = cfn_client(&[&stacks, &events, &delete]);

    let existing = prepare_stack(
        &cfn,
        STACK_NAME,
        true,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap();

    assert!(
        existing.is_none(),
        "the next change set must create the stack"
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn unexecuted_change_set_stack_is_replaced() {
    let stacks = mock!(Cfn::describe_stacks)
        .sequence()
        .output(|| stack_output(StackStatus::ReviewInProgress))
        .output(|| stack_output(StackStatus::DeleteComplete))
        .repeatedly()
        .build();
    let events = mock!(Cfn::describe_stack_events).then_output(no_events);
    let delete = mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cfn = cfn_client(&[&stacks, &events, &delete]);

    let existing = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap();

    assert!(
        existing.is_none(),
        "the next change set must create the stack"
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn failed_change_set_reports_reason() {
    let create = create_change_set_ok();
    let describe = mock!(Cfn::describe_change_set)
        .then_output(|| failed_change_set("Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"));
    let delete =
        mock!(Cfn::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let execute =
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let cfn = cfn_client(&[&create, &describe, &delete, &execute]);

    let error = apply_stack(
        &cfn,
        request(&[]),
        &Progress::hidden(),
        short_timing(Duration::from_secs(5)),
        &PhaseCell::default(),
    )
    .await
    .unwrap_err();

    assert_eq!(error.code(), "change_set_failed");
    assert!(
        error
            .to_string()
            .contains("Unresolved resource dependencies")
    );
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn empty_change_set_means_no_changes() {
    let create = create_change_set_ok();
    let describe = mock!(Cfn::describe_change_set).then_output(|| {
        failed_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set.",
        )
    });
    let delete =
        mock!(Cfn::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let execute =
        mock!(Cfn::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let stacks =
        mock!(Cfn::describe_stacks).then_output(|| stack_output(StackStatus::UpdateComplete));
    let template = mock!(Cfn::get_template).then_output(|| {
        aws_sdk_cloudformation::operation::get_template::GetTemplateOutput::builder()
            .template_body("Resources: {}  # formatted differently\n")
            .build()
    });
    let cfn = cfn_client(&[&create, &describe, &delete, &execute, &stacks, &template]);
    let existing = stack::describe_stack(&cfn, STACK_NAME)
        .await
        .unwrap()
        .unwrap();

    let mut update = request(&[]);
    update.existing = Some(&existing);
    let applied = apply_stack(
        &cfn,
        update,
        &Progress::hidden(),
        short_timing(Duration::from_secs(5)),
        &PhaseCell::default(),
    )
    .await
    .unwrap();

    assert_eq!(
        applied.result,
        rotator_provisioner::output::DeployResult::NoChanges
    );
    assert_eq!(create.num_calls(), 1);
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn stale_change_sets_are_deleted() {
    let stacks =
        mock!(Cfn::describe_stacks).then_output(|| stack_output(StackStatus::UpdateComplete));
    let list = mock!(Cfn::list_change_sets).then_output(|| {
        ListChangeSetsOutput::builder()
            .summaries(
                ChangeSetSummary::builder()
                    .change_set_name("certrotator-1700000000000")
                    .change_set_id("ours")
                    .build(),
            )
            .summaries(
                ChangeSetSummary::builder()
                    .change_set_name("someone-elses")
                    .change_set_id("theirs")
                    .build(),
            )
            .build()
    });
    let delete_ours = mock!(Cfn::delete_change_set)
        .match_requests(|request| request.change_set_name() == Some("ours"))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    let delete_theirs = mock!(Cfn::delete_change_set)
        .match_requests(|request| request.change_set_name() == Some("theirs"))
        .then_output(|| DeleteChangeSetOutput::builder().build());
    let cfn = cfn_client(&[&stacks, &list, &delete_ours, &delete_theirs]);

    let existing = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap();

    assert!(existing.is_some());
    assert_eq!(delete_ours.num_calls(), 1);
    assert_eq!(delete_theirs.num_calls(), 0);
}

#[tokio::test]
async fn missing_stack_is_created() {
    let stacks = mock!(Cfn::describe_stacks).then_error(stack_missing);
    let cfn = cfn_client(&[&stacks]);

    let existing = prepare_stack(
        &cfn,
        STACK_NAME,
        false,
        short_timing(Duration::from_secs(5)),
        &Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(existing.is_none());
}

#[tokio::test]
async fn interrupt_discards_pending_change_set() {
    let delete_change_set =
        mock!(Cfn::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let delete_stack =
        mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cfn = cfn_client(&[&delete_change_set, &delete_stack]);
    let phase = PhaseCell::default();
    *phase.lock().unwrap() = Phase::ChangeSetPending {
        stack: STACK_NAME.to_owned(),
        change_set_id: CHANGE_SET_ID.to_owned(),
        new_stack: true,
    };

    let state = deploy::clean_up_after_interrupt(&cfn, &phase).await;

    assert!(state.contains("nothing was changed"), "{state}");
    assert_eq!(delete_change_set.num_calls(), 1);
    assert_eq!(delete_stack.num_calls(), 1);
}

#[tokio::test]
async fn interrupt_during_execution_keeps_stack() {
    let delete_stack =
        mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cfn = cfn_client(&[&delete_stack]);
    let phase = PhaseCell::default();
    *phase.lock().unwrap() = Phase::Executing {
        stack: STACK_NAME.to_owned(),
    };

    let state = deploy::clean_up_after_interrupt(&cfn, &phase).await;

    assert!(state.contains("run deploy again"), "{state}");
    assert_eq!(delete_stack.num_calls(), 0);
}

#[tokio::test]
async fn foreign_bucket_is_rejected() {
    let head = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::empty(),
        )
    });
    let s3 = s3_client(&[&head]);

    let error = assets::ensure_bucket(
        &s3,
        "certrotator-assets-123456789012-eu-west-1",
        "123456789012",
        "eu-west-1",
        &Progress::hidden(),
    )
    .await
    .unwrap_err();

    assert_eq!(error.code(), "bucket_owned_by_other_account");
    assert!(
        error
            .to_string()
            .contains("certrotator-assets-123456789012-eu-west-1")
    );
}

#[tokio::test]
async fn taken_bucket_name_is_rejected() {
    let head = mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            StatusCode::try_from(404).unwrap(),
            SdkBody::empty(),
        )
    });
    let create = mock!(aws_sdk_s3::Client::create_bucket).then_error(|| {
        CreateBucketError::BucketAlreadyExists(BucketAlreadyExists::builder().build())
    });
    let s3 = s3_client(&[&head, &create]);

    let error = assets::ensure_bucket(
        &s3,
        "certrotator-assets-123456789012-eu-west-1",
        "123456789012",
        "eu-west-1",
        &Progress::hidden(),
    )
    .await
    .unwrap_err();

    assert_eq!(error.code(), "bucket_owned_by_other_account");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn missing_ca_is_named() {
    let describe = mock!(Pca::describe_certificate_authority).then_error(|| {
        DescribeCertificateAuthorityError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message(format!("Resource {CA_ARN} not found"))
                .build(),
        )
    });
    let pca = pca_client(&[&describe]);

    let error = private_ca::check_active(&pca, &CaArn::parse(CA_ARN).unwrap(), DEFAULT_ISSUANCE)
        .await
        .unwrap_err();

    assert_eq!(error.code(), "ca_not_found");
    let message = error.to_string();
    assert!(message.contains(CA_ARN), "{message}");
    assert!(
        message.contains("in account 123456789012 region eu-west-1"),
        "{message}"
    );
    assert!(message.contains("check --ca-arn"), "{message}");
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn denied_ca_names_permission() {
    let describe = mock!(Pca::describe_certificate_authority).then_error(|| {
        DescribeCertificateAuthorityError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message(
                    "User: arn:aws:iam::123456789012:user/deployer is not authorized to perform: acm-pca:DescribeCertificateAuthority",
                )
                .build(),
        )
    });
    let pca = pca_client(&[&describe]);

    let error = private_ca::check_active(&pca, &CaArn::parse(CA_ARN).unwrap(), DEFAULT_ISSUANCE)
        .await
        .unwrap_err();

    assert_eq!(error.code(), "ca_access_denied");
    let message = error.to_string();
    assert!(message.contains(CA_ARN), "{message}");
    assert!(
        message.contains("allow acm-pca:DescribeCertificateAuthority"),
        "{message}"
    );
    assert!(message.contains("user/deployer"), "{message}");
}

#[tokio::test]
async fn ca_status_decides_outcome() {
    let cases = [
        (CertificateAuthorityStatus::Active, None),
        (
            CertificateAuthorityStatus::PendingCertificate,
            Some("import-certificate-authority-certificate"),
        ),
        (
            CertificateAuthorityStatus::Disabled,
            Some("--status ACTIVE"),
        ),
        (CertificateAuthorityStatus::Creating, Some("wait until")),
        (
            CertificateAuthorityStatus::Deleted,
            Some("restore-certificate-authority"),
        ),
        (CertificateAuthorityStatus::Expired, Some("has expired")),
        (CertificateAuthorityStatus::Failed, Some("creation failed")),
    ];
    for (status, advice) in cases {
        let reported = status.clone();
        let describe = mock!(Pca::describe_certificate_authority).then_output(move || {
            DescribeCertificateAuthorityOutput::builder()
                .certificate_authority(
                    CertificateAuthority::builder()
                        .arn(CA_ARN)
                        .status(reported.clone())
                        .build(),
                )
                .build()
        });
        let pca = pca_client(&[&describe]);

        let result =
            private_ca::check_active(&pca, &CaArn::parse(CA_ARN).unwrap(), DEFAULT_ISSUANCE).await;

        match (result, advice) {
            (Ok(()), None) => {}
            (Err(error), Some(advice)) => {
                assert_eq!(error.code(), "ca_not_active", "{status:?}");
                let message = error.to_string();
                assert!(
                    message.contains(&format!("in status {}", status.as_str())),
                    "{message}"
                );
                assert!(message.contains(advice), "{message}");
            }
            (result, advice) => panic!("{status:?}: got {result:?}, expected advice {advice:?}"),
        }
    }
}

/// Returns a client whose DescribeCertificateAuthority reports an active CA with `key` and
/// `usage_mode`.
fn active_ca(key: KeyAlgorithm, usage_mode: CertificateAuthorityUsageMode) -> (Pca, Rule) {
    let describe = mock!(Pca::describe_certificate_authority).then_output(move || {
        let configuration = CertificateAuthorityConfiguration::builder()
            .key_algorithm(key.clone())
            .signing_algorithm(PcaSigningAlgorithm::Sha256Withrsa)
            .build()
            .unwrap();
        DescribeCertificateAuthorityOutput::builder()
            .certificate_authority(
                CertificateAuthority::builder()
                    .arn(CA_ARN)
                    .status(CertificateAuthorityStatus::Active)
                    .usage_mode(usage_mode.clone())
                    .certificate_authority_configuration(configuration)
                    .build(),
            )
            .build()
    });
    (pca_client(&[&describe]), describe)
}

#[tokio::test]
async fn ca_key_decides_signing_family() {
    let rsa = CaSigningAlgorithm::Sha384WithRsa;
    let ecdsa = CaSigningAlgorithm::Sha256WithEcdsa;
    let cases = [
        (KeyAlgorithm::Rsa2048, rsa, None),
        (
            KeyAlgorithm::Rsa4096,
            ecdsa,
            Some("SHA256WITHRSA, SHA384WITHRSA"),
        ),
        (KeyAlgorithm::EcPrime256v1, ecdsa, None),
        (
            KeyAlgorithm::EcSecp384r1,
            rsa,
            Some("SHA256WITHECDSA, SHA384WITHECDSA"),
        ),
        (KeyAlgorithm::Sm2, rsa, Some("RSA_* or EC_* key")),
    ];
    for (key, signing_algorithm, fix) in cases {
        let (pca, _describe) =
            active_ca(key.clone(), CertificateAuthorityUsageMode::GeneralPurpose);
        let issuance = Issuance {
            signing_algorithm,
            validity_days: 30,
        };

        let result = private_ca::check_active(&pca, &CaArn::parse(CA_ARN).unwrap(), issuance).await;

        match (result, fix) {
            (Ok(()), None) => {}
            (Err(error), Some(fix)) => {
                assert_eq!(error.code(), "ca_key_algorithm_mismatch", "{key:?}");
                let message = error.to_string();
                assert!(message.contains(signing_algorithm.name()), "{message}");
                assert!(message.contains(key.as_str()), "{message}");
                assert!(message.contains(CA_ARN), "{message}");
                assert!(message.contains(fix), "{message}");
            }
            (result, fix) => panic!("{key:?}: got {result:?}, expected fix {fix:?}"),
        }
    }
}

#[tokio::test]
async fn short_lived_ca_limits_validity() {
    for (usage_mode, validity_days, rejected) in [
        (
            CertificateAuthorityUsageMode::ShortLivedCertificate,
            7,
            false,
        ),
        (
            CertificateAuthorityUsageMode::ShortLivedCertificate,
            8,
            true,
        ),
        (CertificateAuthorityUsageMode::GeneralPurpose, 3650, false),
    ] {
        let (pca, _describe) = active_ca(KeyAlgorithm::Rsa2048, usage_mode.clone());
        let issuance = Issuance {
            signing_algorithm: CaSigningAlgorithm::Sha256WithRsa,
            validity_days,
        };

        let result = private_ca::check_active(&pca, &CaArn::parse(CA_ARN).unwrap(), issuance).await;

        let case = format!("{usage_mode:?} {validity_days}");
        if !rejected {
            assert!(result.is_ok(), "{case}: {result:?}");
            continue;
        }
        let error = result.unwrap_err();
        assert_eq!(error.code(), "ca_validity_too_long", "{case}");
        let message = error.to_string();
        assert!(message.contains("--validity-days 8"), "{message}");
        assert!(message.contains("SHORT_LIVED_CERTIFICATE"), "{message}");
        assert!(message.contains("--validity-days 7 or less"), "{message}");
        assert!(message.contains("GENERAL_PURPOSE"), "{message}");
    }
}

/// Bucket settings read back as already in place, so that only versioning is written.
#[tokio::test]
async fn secured_bucket_is_not_rewritten() {
    use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput;
    use aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockOutput;
    use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
    use aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput;
    use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput;
    use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
    use aws_sdk_s3::types::{
        PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
        ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    type S3 = aws_sdk_s3::Client;

    let head = mock!(S3::head_bucket).then_output(|| HeadBucketOutput::builder().build());
    let get_encryption = mock!(S3::get_bucket_encryption).then_output(|| {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .unwrap();
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(false)
            .build();
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let get_block = mock!(S3::get_public_access_block).then_output(|| {
        GetPublicAccessBlockOutput::builder()
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .build()
    });
    let put_encryption = mock!(S3::put_bucket_encryption)
        .then_output(|| PutBucketEncryptionOutput::builder().build());
    let put_block = mock!(S3::put_public_access_block)
        .then_output(|| PutPublicAccessBlockOutput::builder().build());
    let put_versioning = mock!(S3::put_bucket_versioning)
        .then_output(|| PutBucketVersioningOutput::builder().build());
    let s3 = s3_client(&[
        &head,
        &get_encryption,
        &get_block,
        &put_encryption,
        &put_block,
        &put_versioning,
    ]);

    let created = assets::ensure_bucket(
        &s3,
        "certrotator-assets-123456789012-eu-west-1",
        "123456789012",
        "eu-west-1",
        &Progress::hidden(),
    )
    .await
    .unwrap();

    assert!(!created);
    assert_eq!(get_encryption.num_calls(), 1);
    assert_eq!(get_block.num_calls(), 1);
    assert_eq!(put_encryption.num_calls(), 0);
    assert_eq!(put_block.num_calls(), 0);
    assert_eq!(put_versioning.num_calls(), 1);
}

/// Settings that differ, or cannot be read, are written.
#[tokio::test]
async fn partly_secured_bucket_is_completed() {
    use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionError;
    use aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockOutput;
    use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
    use aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput;
    use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput;
    use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    type S3 = aws_sdk_s3::Client;

    let head = mock!(S3::head_bucket).then_output(|| HeadBucketOutput::builder().build());
    let get_encryption = mock!(S3::get_bucket_encryption).then_error(|| {
        GetBucketEncryptionError::generic(
            ErrorMetadata::builder()
                .code("ServerSideEncryptionConfigurationNotFoundError")
                .message("The server side encryption configuration was not found")
                .build(),
        )
    });
    let get_block = mock!(S3::get_public_access_block).then_output(|| {
        GetPublicAccessBlockOutput::builder()
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(false)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .build()
    });
    let put_encryption = mock!(S3::put_bucket_encryption)
        .then_output(|| PutBucketEncryptionOutput::builder().build());
    let put_block = mock!(S3::put_public_access_block)
        .then_output(|| PutPublicAccessBlockOutput::builder().build());
    let put_versioning = mock!(S3::put_bucket_versioning)
        .then_output(|| PutBucketVersioningOutput::builder().build());
    let s3 = s3_client(&[
        &head,
        &get_encryption,
        &get_block,
        &put_encryption,
        &put_block,
        &put_versioning,
    ]);

    assets::ensure_bucket(
        &s3,
        "certrotator-assets-123456789012-eu-west-1",
        "123456789012",
        "eu-west-1",
        &Progress::hidden(),
    )
    .await
    .unwrap();

    assert_eq!(put_encryption.num_calls(), 1);
    assert_eq!(put_block.num_calls(), 1);
    assert_eq!(put_versioning.num_calls(), 1);
}
