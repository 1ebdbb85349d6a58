//! CloudFormation through the AWS SDK against moto plus the sandbox: change sets, stack events,
//! outputs and the IoT resources moto's CloudFormation skips.

mod common;

use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, ExecutionStatus, Parameter,
    Replacement, ResourceStatus, StackEvent, StackStatus,
};
use common::{Stand, s3_client};

const NO_CHANGES: &str = "The submitted information didn't contain changes. \
                          Submit different information to create a change set.";

/// A small template with the backend's resource types that moto handles badly. moto skips the
/// topic rule and cannot delete the job template with a computed ID. It also drops outputs of
/// stacks made by change sets. A conditional resource completes the set.
const TEMPLATE: &str = r#"
Parameters:
  Prefix: {Type: String, Default: awslabs}
  Rollout: {Type: Number, Default: 100}
  Extra: {Type: String, Default: "no"}
Conditions:
  WithExtra: {"Fn::Equals": [{"Ref": Extra}, "yes"]}
Resources:
  Topic:
    Type: AWS::SNS::Topic
  RuleRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: iot.amazonaws.com}
            Action: sts:AssumeRole
  Rule:
    Type: AWS::IoT::TopicRule
    Properties:
      TopicRulePayload:
        Sql: {"Fn::Sub": "SELECT * FROM '${Prefix}/things/+/certificate/create'"}
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: false
        Actions:
          - Sns:
              TargetArn: {Ref: Topic}
              RoleArn: {"Fn::GetAtt": [RuleRole, Arn]}
  Template:
    Type: AWS::IoT::JobTemplate
    Properties:
      JobTemplateId: {"Fn::Sub": "${AWS::StackName}-rotate-${Rollout}"}
      Description: Rotates certificates.
      Document: '{"operation":"ROTATE_CERTIFICATE"}'
      JobExecutionsRolloutConfig:
        MaximumPerMinute: {Ref: Rollout}
  ExtraTopic:
    Type: AWS::SNS::Topic
    Condition: WithExtra
Outputs:
  TopicArn:
    Value: {Ref: Topic}
  TemplateArn:
    Value: {"Fn::Sub": "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:jobtemplate/${AWS::StackName}-rotate-${Rollout}"}
  Prefix:
    Value: {Ref: Prefix}
"#;

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// Creates a change set and returns its ARN.
async fn create_change_set(
    cloudformation: &CloudFormation,
    stack: &str,
    name: &str,
    change_set_type: ChangeSetType,
    template: &str,
    parameters: &[Parameter],
) -> String {
    cloudformation
        .create_change_set()
        .stack_name(stack)
        .change_set_name(name)
        .change_set_type(change_set_type)
        .template_body(template)
        .set_parameters(Some(parameters.to_vec()))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .expect("create change set")
        .id()
        .expect("change set ID")
        .to_owned()
}

/// Deploys through a change set, as the provisioner does, and returns the stack ID.
async fn deploy(
    cloudformation: &CloudFormation,
    stack: &str,
    change_set_type: ChangeSetType,
    template: &str,
    parameters: &[Parameter],
) -> String {
    let name = format!("deploy-{}", uuid_suffix());
    let id = create_change_set(
        cloudformation,
        stack,
        &name,
        change_set_type,
        template,
        parameters,
    )
    .await;
    cloudformation
        .execute_change_set()
        .change_set_name(&id)
        .send()
        .await
        .expect("execute change set");
    describe_stack(cloudformation, stack)
        .await
        .stack_id()
        .expect("stack ID")
        .to_owned()
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos()
    )
}

async fn describe_stack(
    cloudformation: &CloudFormation,
    stack: &str,
) -> aws_sdk_cloudformation::types::Stack {
    cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("describe stacks")
        .stacks()
        .first()
        .expect("one stack")
        .clone()
}

async fn events(cloudformation: &CloudFormation, stack: &str) -> Vec<StackEvent> {
    cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .expect("describe stack events")
        .stack_events()
        .to_vec()
}

async fn physical_id(cloudformation: &CloudFormation, stack: &str, logical_id: &str) -> String {
    cloudformation
        .describe_stack_resources()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .expect("describe stack resources")
        .stack_resources()
        .first()
        .unwrap_or_else(|| panic!("resource {logical_id} listed"))
        .physical_resource_id()
        .unwrap_or_else(|| panic!("resource {logical_id} has a physical ID"))
        .to_owned()
}

#[tokio::test]
async fn stack_events_cover_each_resource() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    deploy(
        &cloudformation,
        "events",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;

    let events = events(&cloudformation, "events").await;
    let newest = events.first().expect("events exist");
    assert_eq!(newest.logical_resource_id(), Some("events"));
    assert_eq!(newest.resource_type(), Some("AWS::CloudFormation::Stack"));
    assert_eq!(
        newest.resource_status(),
        Some(&ResourceStatus::CreateComplete)
    );
    let oldest = events.last().expect("events exist");
    assert_eq!(
        oldest.resource_status(),
        Some(&ResourceStatus::from("REVIEW_IN_PROGRESS"))
    );
    for pair in events.windows(2) {
        assert!(
            pair[0].timestamp() >= pair[1].timestamp(),
            "events are newest first"
        );
    }
    for logical_id in ["Topic", "RuleRole", "Rule", "Template"] {
        let statuses: Vec<&ResourceStatus> = events
            .iter()
            .filter(|event| event.logical_resource_id() == Some(logical_id))
            .filter_map(|event| event.resource_status())
            .collect();
        assert!(
            statuses.contains(&&ResourceStatus::CreateInProgress),
            "{logical_id}: {statuses:?}"
        );
        assert!(
            statuses.contains(&&ResourceStatus::CreateComplete),
            "{logical_id}: {statuses:?}"
        );
        let complete = events
            .iter()
            .find(|event| {
                event.logical_resource_id() == Some(logical_id)
                    && event.resource_status() == Some(&ResourceStatus::CreateComplete)
            })
            .expect("complete event");
        assert!(complete.event_id().is_some());
        assert!(complete.stack_id().is_some());
        assert_eq!(complete.stack_name(), Some("events"));
        assert!(
            !complete
                .physical_resource_id()
                .unwrap_or_default()
                .is_empty(),
            "{logical_id} has a physical ID"
        );
    }
    assert!(
        !events
            .iter()
            .any(|event| event.logical_resource_id() == Some("ExtraTopic")),
        "a resource whose condition is false gets no events"
    );
}

#[tokio::test]
async fn unchanged_update_change_set_fails() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    let parameters = [parameter("Prefix", "fleet")];
    deploy(
        &cloudformation,
        "noop",
        ChangeSetType::Create,
        TEMPLATE,
        &parameters,
    )
    .await;

    let id = create_change_set(
        &cloudformation,
        "noop",
        "again",
        ChangeSetType::Update,
        TEMPLATE,
        &parameters,
    )
    .await;
    let described = cloudformation
        .describe_change_set()
        .change_set_name("again")
        .stack_name("noop")
        .send()
        .await
        .expect("describe change set");
    assert_eq!(described.change_set_id(), Some(id.as_str()));
    assert_eq!(described.status(), Some(&ChangeSetStatus::Failed));
    assert_eq!(described.status_reason(), Some(NO_CHANGES));
    assert_eq!(
        described.execution_status(),
        Some(&ExecutionStatus::Unavailable)
    );
    assert!(described.changes().is_empty());

    let executed = cloudformation
        .execute_change_set()
        .change_set_name(&id)
        .send()
        .await
        .expect_err("a failed change set cannot run");
    assert!(
        executed
            .into_service_error()
            .is_invalid_change_set_status_exception()
    );

    cloudformation
        .delete_change_set()
        .change_set_name(&id)
        .send()
        .await
        .expect("delete change set");
    let listed = cloudformation
        .list_change_sets()
        .stack_name("noop")
        .send()
        .await
        .expect("list change sets");
    assert!(listed.summaries().is_empty());

    let update = cloudformation
        .update_stack()
        .stack_name("noop")
        .template_body(TEMPLATE)
        .parameters(parameter("Prefix", "fleet"))
        .send()
        .await
        .expect_err("an unchanged update is rejected");
    let update = update.into_service_error();
    assert_eq!(update.code(), Some("ValidationError"));
    assert_eq!(update.message(), Some("No updates are to be performed."));
}

#[tokio::test]
async fn change_set_lists_resource_changes() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    deploy(
        &cloudformation,
        "plan",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;

    let parameters = [
        parameter("Prefix", "other"),
        parameter("Rollout", "50"),
        parameter("Extra", "yes"),
    ];
    create_change_set(
        &cloudformation,
        "plan",
        "preview",
        ChangeSetType::Update,
        TEMPLATE,
        &parameters,
    )
    .await;
    let described = cloudformation
        .describe_change_set()
        .change_set_name("preview")
        .stack_name("plan")
        .send()
        .await
        .expect("describe change set");
    assert_eq!(described.status(), Some(&ChangeSetStatus::CreateComplete));
    assert_eq!(
        described.execution_status(),
        Some(&ExecutionStatus::Available)
    );
    let changes: Vec<(ChangeAction, String, String, Option<Replacement>)> = described
        .changes()
        .iter()
        .filter_map(|change| change.resource_change())
        .map(|change| {
            (
                change.action().expect("action").clone(),
                change.logical_resource_id().expect("logical ID").to_owned(),
                change.resource_type().expect("type").to_owned(),
                change.replacement().cloned(),
            )
        })
        .collect();
    assert!(
        changes.contains(&(
            ChangeAction::Add,
            "ExtraTopic".to_owned(),
            "AWS::SNS::Topic".to_owned(),
            None
        )),
        "{changes:?}"
    );
    assert!(
        changes.contains(&(
            ChangeAction::Modify,
            "Rule".to_owned(),
            "AWS::IoT::TopicRule".to_owned(),
            Some(Replacement::False)
        )),
        "{changes:?}"
    );
    assert!(
        changes.contains(&(
            ChangeAction::Modify,
            "Template".to_owned(),
            "AWS::IoT::JobTemplate".to_owned(),
            Some(Replacement::True)
        )),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 3, "{changes:?}");
}

#[tokio::test]
async fn skipped_resources_follow_the_stack() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    let iot = aws_sdk_iot::Client::new(&stand.config());
    let stack_id = deploy(
        &cloudformation,
        "rules",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;

    let stack = describe_stack(&cloudformation, "rules").await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    let output = |key: &str| {
        stack
            .outputs()
            .iter()
            .find(|output| output.output_key() == Some(key))
            .and_then(|output| output.output_value())
            .unwrap_or_else(|| panic!("output {key} present"))
            .to_owned()
    };
    let topic_arn = output("TopicArn");
    assert!(
        topic_arn.starts_with("arn:aws:sns:us-east-1:"),
        "{topic_arn}"
    );
    assert_eq!(output("Prefix"), "awslabs");
    assert_eq!(
        output("TemplateArn"),
        "arn:aws:iot:us-east-1:123456789012:jobtemplate/rules-rotate-100"
    );

    let rule_name = physical_id(&cloudformation, "rules", "Rule").await;
    let rule = iot
        .get_topic_rule()
        .rule_name(&rule_name)
        .send()
        .await
        .expect("topic rule exists after deploy");
    let rule = rule.rule().expect("rule body");
    assert_eq!(
        rule.sql(),
        Some("SELECT * FROM 'awslabs/things/+/certificate/create'")
    );
    let action = rule.actions().first().expect("one action");
    let sns = action.sns().expect("SNS action");
    assert_eq!(sns.target_arn(), topic_arn);
    assert!(
        sns.role_arn()
            .starts_with("arn:aws:iam::123456789012:role/")
    );

    let detail = cloudformation
        .describe_stack_resource()
        .stack_name("rules")
        .logical_resource_id("Rule")
        .send()
        .await
        .expect("describe stack resource");
    let detail = detail.stack_resource_detail().expect("detail");
    assert_eq!(detail.physical_resource_id(), Some(rule_name.as_str()));
    assert_eq!(detail.resource_type(), Some("AWS::IoT::TopicRule"));
    assert_eq!(
        detail.resource_status(),
        Some(&ResourceStatus::CreateComplete)
    );

    let template = iot
        .describe_job_template()
        .job_template_id("rules-rotate-100")
        .send()
        .await
        .expect("job template exists after deploy");
    assert_eq!(
        template.document(),
        Some(r#"{"operation":"ROTATE_CERTIFICATE"}"#)
    );
    assert_eq!(
        physical_id(&cloudformation, "rules", "Template").await,
        "rules-rotate-100"
    );

    cloudformation
        .delete_stack()
        .stack_name("rules")
        .send()
        .await
        .expect("delete stack");
    let deleted = describe_stack(&cloudformation, &stack_id).await;
    assert_eq!(deleted.stack_status(), Some(&StackStatus::DeleteComplete));
    iot.get_topic_rule()
        .rule_name(&rule_name)
        .send()
        .await
        .expect_err("topic rule is gone after delete");
    let rules = iot.list_topic_rules().send().await.expect("list rules");
    assert!(rules.rules().is_empty());
    let templates = iot
        .list_job_templates()
        .send()
        .await
        .expect("list job templates");
    assert!(templates.job_templates().is_empty());

    let events = events(&cloudformation, &stack_id).await;
    assert_eq!(
        events.first().and_then(|event| event.resource_status()),
        Some(&ResourceStatus::DeleteComplete)
    );
    assert!(events.iter().any(|event| {
        event.logical_resource_id() == Some("Rule")
            && event.resource_status() == Some(&ResourceStatus::DeleteComplete)
    }));
    let by_name = cloudformation
        .describe_stack_events()
        .stack_name("rules")
        .send()
        .await;
    assert!(by_name.is_err(), "a deleted stack is found by ID only");
}

#[tokio::test]
async fn update_replaces_rules_and_templates() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    let iot = aws_sdk_iot::Client::new(&stand.config());
    deploy(
        &cloudformation,
        "update",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;
    let rule_name = physical_id(&cloudformation, "update", "Rule").await;

    let parameters = [parameter("Prefix", "fleet"), parameter("Rollout", "20")];
    deploy(
        &cloudformation,
        "update",
        ChangeSetType::Update,
        TEMPLATE,
        &parameters,
    )
    .await;

    assert_eq!(
        physical_id(&cloudformation, "update", "Rule").await,
        rule_name,
        "an update keeps the generated rule name"
    );
    let rule = iot
        .get_topic_rule()
        .rule_name(&rule_name)
        .send()
        .await
        .expect("rule exists");
    assert_eq!(
        rule.rule().and_then(|rule| rule.sql()),
        Some("SELECT * FROM 'fleet/things/+/certificate/create'")
    );
    let templates = iot
        .list_job_templates()
        .send()
        .await
        .expect("list job templates");
    let ids: Vec<&str> = templates
        .job_templates()
        .iter()
        .filter_map(|template| template.job_template_id())
        .collect();
    assert_eq!(ids, ["update-rotate-20"]);

    let stack = describe_stack(&cloudformation, "update").await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    let prefix = stack
        .outputs()
        .iter()
        .find(|output| output.output_key() == Some("Prefix"))
        .and_then(|output| output.output_value());
    assert_eq!(prefix, Some("fleet"));

    let events = events(&cloudformation, "update").await;
    assert_eq!(
        events.first().and_then(|event| event.resource_status()),
        Some(&ResourceStatus::UpdateComplete)
    );
    assert!(events.iter().any(|event| {
        event.logical_resource_id() == Some("Rule")
            && event.resource_status() == Some(&ResourceStatus::UpdateComplete)
    }));
}

#[tokio::test]
async fn backend_template_deploys_and_deletes() {
    let stand = Stand::start().await;
    let config = stand.config();
    let cloudformation = CloudFormation::new(&config);
    let iot = aws_sdk_iot::Client::new(&config);
    let s3 = s3_client(&config);
    let template =
        std::fs::read_to_string(testsupport::workspace_root().join("templates/backend.yaml"))
            .expect("templates/backend.yaml is readable");

    s3.create_bucket()
        .bucket("assets")
        .send()
        .await
        .expect("create bucket");
    for key in ["create.zip", "commit.zip", "terminal.zip"] {
        s3.put_object()
            .bucket("assets")
            .key(key)
            .body(b"PK\x05\x06".to_vec().into())
            .send()
            .await
            .expect("upload zip");
    }
    let parameters = [
        parameter("AssetsBucket", "assets"),
        parameter("CreateCertificateCodeKey", "create.zip"),
        parameter("CommitCertificateCodeKey", "commit.zip"),
        parameter("JobExecutionTerminalCodeKey", "terminal.zip"),
    ];
    let stack_id = deploy(
        &cloudformation,
        "backend",
        ChangeSetType::Create,
        &template,
        &parameters,
    )
    .await;

    let stack = describe_stack(&cloudformation, "backend").await;
    let mut keys: Vec<&str> = stack
        .outputs()
        .iter()
        .filter_map(|output| output.output_key())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "CommitCertificateFunctionArn",
            "CreateCertificateFunctionArn",
            "Issuer",
            "JobExecutionTerminalFunctionArn",
            "JobTemplateArn",
            "NotificationTopicArn",
            "ShadowName",
            "TopicPrefix"
        ]
    );
    let rules = iot.list_topic_rules().send().await.expect("list rules");
    assert_eq!(rules.rules().len(), 3);
    for logical_id in [
        "CreateCertificateRule",
        "CommitCertificateRule",
        "JobExecutionTerminalRule",
    ] {
        let name = physical_id(&cloudformation, "backend", logical_id).await;
        let rule = iot
            .get_topic_rule()
            .rule_name(&name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("rule {logical_id} exists: {error}"));
        let action = rule
            .rule()
            .and_then(|rule| rule.actions().first())
            .and_then(|action| action.lambda())
            .expect("a Lambda action");
        assert!(
            action
                .function_arn()
                .starts_with("arn:aws:lambda:us-east-1:123456789012:function:backend-"),
            "{logical_id}: {}",
            action.function_arn()
        );
    }
    // moto skips the rules, so their names reach the Lambda permissions only through the
    // sandbox's rewrite of the template moto gets.
    let rule_name = physical_id(&cloudformation, "backend", "CreateCertificateRule").await;
    let function_name = physical_id(&cloudformation, "backend", "CreateCertificateFunction").await;
    let moto_endpoint = stand.moto.endpoint();
    let (policy, invoke_config) = tokio::task::spawn_blocking(move || {
        let base = format!("/functions/{function_name}");
        (
            moto_lambda_get(&moto_endpoint, &format!("/2015-03-31{base}/policy")),
            moto_lambda_get(
                &moto_endpoint,
                &format!("/2019-09-25{base}/event-invoke-config?Qualifier=%24LATEST"),
            ),
        )
    })
    .await
    .expect("moto Lambda thread");
    assert!(
        policy.contains(&format!(
            "arn:aws:iot:us-east-1:123456789012:rule/{rule_name}"
        )),
        "{policy}"
    );
    // moto skips AWS::Lambda::EventInvokeConfig too; the sandbox sets it through Lambda's API.
    let topic_arn = stack
        .outputs()
        .iter()
        .find(|output| output.output_key() == Some("NotificationTopicArn"))
        .and_then(|output| output.output_value())
        .expect("topic output");
    assert!(
        invoke_config.contains("\"MaximumRetryAttempts\": 0"),
        "{invoke_config}"
    );
    assert!(invoke_config.contains(topic_arn), "{invoke_config}");

    iot.describe_job_template()
        .job_template_id("backend-rotate-100-5")
        .send()
        .await
        .expect("job template exists");

    cloudformation
        .delete_stack()
        .stack_name("backend")
        .send()
        .await
        .expect("delete stack");
    let deleted = describe_stack(&cloudformation, &stack_id).await;
    assert_eq!(deleted.stack_status(), Some(&StackStatus::DeleteComplete));
    let rules = iot.list_topic_rules().send().await.expect("list rules");
    assert!(rules.rules().is_empty());
    let templates = iot
        .list_job_templates()
        .send()
        .await
        .expect("list job templates");
    assert!(templates.job_templates().is_empty());
}

/// Polls `DescribeStacks` until the status leaves `*_IN_PROGRESS`, recording each status seen
/// and the event count at each poll.
async fn follow(cloudformation: &CloudFormation, stack: &str) -> (Vec<StackStatus>, Vec<usize>) {
    let mut statuses = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..600 {
        let status = describe_stack(cloudformation, stack)
            .await
            .stack_status()
            .expect("status")
            .clone();
        counts.push(events(cloudformation, stack).await.len());
        let done = !status.as_str().ends_with("_IN_PROGRESS");
        statuses.push(status);
        if done {
            return (statuses, counts);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("stack {stack} stayed in progress: {statuses:?}");
}

#[tokio::test]
async fn operations_show_progress_when_paced() {
    let moto = testsupport::MotoServer::start();
    let options = rotator_sandbox::Options {
        operation_duration: std::time::Duration::from_secs(8),
    };
    let sandbox = rotator_sandbox::Sandbox::bind_with_options(
        "127.0.0.1:0".parse().expect("address"),
        &moto.endpoint(),
        options,
    )
    .await
    .expect("sandbox starts");
    let cloudformation = CloudFormation::new(&common::sdk_config(&sandbox.endpoint(), "testing"));

    let stack_id = deploy(
        &cloudformation,
        "paced",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;
    let (statuses, counts) = follow(&cloudformation, "paced").await;
    assert_eq!(statuses.first(), Some(&StackStatus::CreateInProgress));
    assert_eq!(statuses.last(), Some(&StackStatus::CreateComplete));
    assert!(
        counts.windows(2).all(|pair| pair[0] <= pair[1]),
        "events only grow: {counts:?}"
    );
    assert!(
        counts.first() < counts.last(),
        "events appear over time: {counts:?}"
    );

    cloudformation
        .delete_stack()
        .stack_name("paced")
        .send()
        .await
        .expect("delete stack");
    let deleting = describe_stack(&cloudformation, "paced").await;
    assert_eq!(
        deleting.stack_status(),
        Some(&StackStatus::DeleteInProgress),
        "a stack being deleted is still found by name"
    );
    let (statuses, _) = follow(&cloudformation, &stack_id).await;
    assert_eq!(statuses.first(), Some(&StackStatus::DeleteInProgress));
    assert_eq!(statuses.last(), Some(&StackStatus::DeleteComplete));
    let gone = cloudformation
        .describe_stacks()
        .stack_name("paced")
        .send()
        .await;
    assert!(gone.is_err(), "a deleted stack is no longer found by name");
    let by_id = describe_stack(&cloudformation, &stack_id).await;
    assert_eq!(by_id.stack_status(), Some(&StackStatus::DeleteComplete));
}

/// Sends moto's reset request through the sandbox.
fn reset_through(endpoint: &str) {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("sandbox reachable");
    stream
        .write_all(
            b"POST /moto-api/reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\
              Connection: close\r\n\r\n",
        )
        .expect("send reset");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read reset");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test]
async fn reset_through_sandbox_clears_state() {
    let stand = Stand::start().await;
    let cloudformation = CloudFormation::new(&stand.config());
    let iot = aws_sdk_iot::Client::new(&stand.config());
    deploy(
        &cloudformation,
        "reset",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;
    iot.update_event_configurations()
        .event_configurations(
            aws_sdk_iot::types::EventType::JobExecution,
            aws_sdk_iot::types::Configuration::builder()
                .enabled(true)
                .build(),
        )
        .send()
        .await
        .expect("update event configurations");

    let endpoint = stand.sandbox.endpoint();
    tokio::task::spawn_blocking(move || reset_through(&endpoint))
        .await
        .expect("reset thread");

    let events_after = cloudformation
        .describe_stack_events()
        .stack_name("reset")
        .send()
        .await;
    assert!(events_after.is_err(), "the stack is gone after a reset");
    let configurations = iot
        .describe_event_configurations()
        .send()
        .await
        .expect("describe event configurations");
    let job_execution = &configurations.event_configurations().expect("present")
        [&aws_sdk_iot::types::EventType::JobExecution];
    assert!(!job_execution.enabled());

    deploy(
        &cloudformation,
        "reset",
        ChangeSetType::Create,
        TEMPLATE,
        &[],
    )
    .await;
    let events = events(&cloudformation, "reset").await;
    let stack_events = events
        .iter()
        .filter(|event| event.resource_type() == Some("AWS::CloudFormation::Stack"))
        .count();
    assert_eq!(stack_events, 3, "review, create started, create complete");
}

/// Sends a GET to moto's Lambda API directly and returns the whole HTTP response.
fn moto_lambda_get(moto_endpoint: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let address = moto_endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("moto reachable");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/lambda/aws4_request, \
         SignedHeaders=host, Signature=00\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[tokio::test]
async fn template_url_is_read_from_s3() {
    let stand = Stand::start().await;
    let config = stand.config();
    let cloudformation = CloudFormation::new(&config);
    let s3 = s3_client(&config);
    s3.create_bucket()
        .bucket("templates")
        .send()
        .await
        .expect("create bucket");
    s3.put_object()
        .bucket("templates")
        .key("stacks/small.yaml")
        .body(TEMPLATE.as_bytes().to_vec().into())
        .send()
        .await
        .expect("upload template");

    let id = cloudformation
        .create_change_set()
        .stack_name("from-url")
        .change_set_name("first")
        .change_set_type(ChangeSetType::Create)
        .template_url("https://templates.s3.us-east-1.amazonaws.com/stacks/small.yaml")
        .send()
        .await
        .expect("create change set from a URL")
        .id()
        .expect("change set ID")
        .to_owned();
    cloudformation
        .execute_change_set()
        .change_set_name(&id)
        .send()
        .await
        .expect("execute change set");

    let template = cloudformation
        .get_template()
        .stack_name("from-url")
        .send()
        .await
        .expect("get template");
    assert_eq!(template.template_body(), Some(TEMPLATE));
    let stack = describe_stack(&cloudformation, "from-url").await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));

    let missing = cloudformation
        .create_change_set()
        .stack_name("from-url")
        .change_set_name("second")
        .change_set_type(ChangeSetType::Update)
        .template_url("https://templates.s3.us-east-1.amazonaws.com/missing.yaml")
        .send()
        .await
        .expect_err("a missing template object is rejected");
    assert_eq!(missing.into_service_error().code(), Some("ValidationError"));
}
