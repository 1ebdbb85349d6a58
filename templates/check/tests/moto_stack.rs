//! Creates the backend stack in moto's CloudFormation, with Lambda zips in moto's S3, and checks
//! what moto builds from it: outputs, the job template, the encrypted topic, and which resource
//! types moto skips.
//!
//! moto creates no AWS::IoT::TopicRule and no AWS::Lambda::EventInvokeConfig, so this test
//! cannot check those resources; the structure tests check them in the template instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use rotator_protocol::JobDocument;
use templates_check::Template;
use testsupport::MotoServer;

const REGION: &str = "us-east-1";
const BUCKET: &str = "rotator-assets";
const FUNCTIONS: [&str; 3] = [
    "create-certificate",
    "commit-certificate",
    "job-execution-terminal",
];

/// Resources of the backend template that moto 5.2.5's CloudFormation does not create.
const SKIPPED_BY_MOTO: [&str; 6] = [
    "CreateCertificateRule",
    "CommitCertificateRule",
    "JobExecutionTerminalRule",
    "CreateCertificateInvokeConfig",
    "CommitCertificateInvokeConfig",
    "JobExecutionTerminalInvokeConfig",
];

/// Builds an SDK client from explicit settings: the moto endpoint, a fixed region and static
/// test credentials, so no credential chain, profile or metadata service is consulted.
macro_rules! moto_client {
    ($sdk:ident, $endpoint:expr) => {{
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new(REGION))
            .credentials_provider($sdk::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url($endpoint)
            .build();
        $sdk::Client::from_conf(config)
    }};
}

struct Clients {
    cloudformation: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    iot: aws_sdk_iot::Client,
    sns: aws_sdk_sns::Client,
    acmpca: aws_sdk_acmpca::Client,
}

impl Clients {
    fn new(endpoint: &str) -> Self {
        let s3_config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        Self {
            cloudformation: moto_client!(aws_sdk_cloudformation, endpoint),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            iot: moto_client!(aws_sdk_iot, endpoint),
            sns: moto_client!(aws_sdk_sns, endpoint),
            acmpca: moto_client!(aws_sdk_acmpca, endpoint),
        }
    }
}

/// Zips a small `bootstrap` script with the `zip` tool, like the packaging step does.
fn dummy_zip(directory: &Path, name: &str) -> Vec<u8> {
    let staging = directory.join(name);
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(
        staging.join("bootstrap"),
        format!("#!/bin/sh\necho {name}\n"),
    )
    .unwrap();
    let archive = directory.join(format!("{name}.zip"));
    let status = Command::new("zip")
        .args(["-q", "-X"])
        .arg(&archive)
        .arg("bootstrap")
        .current_dir(&staging)
        .status()
        .expect("failed to run zip: install it with 'apt-get install zip'");
    assert!(status.success(), "zip failed with {status}");
    std::fs::read(archive).unwrap()
}

fn code_key(function: &str) -> String {
    format!("lambdas/{function}.zip")
}

async fn upload_code(clients: &Clients) {
    clients
        .s3
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    for function in FUNCTIONS {
        let body = dummy_zip(directory.path(), function);
        clients
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(code_key(function))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
}

fn parameters(overrides: &[(&str, &str)]) -> Vec<Parameter> {
    let mut values = BTreeMap::from([
        ("AssetsBucket".to_owned(), BUCKET.to_owned()),
        (
            "CreateCertificateCodeKey".to_owned(),
            code_key(FUNCTIONS[0]),
        ),
        (
            "CommitCertificateCodeKey".to_owned(),
            code_key(FUNCTIONS[1]),
        ),
        (
            "JobExecutionTerminalCodeKey".to_owned(),
            code_key(FUNCTIONS[2]),
        ),
    ]);
    for (name, value) in overrides {
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
        .into_iter()
        .map(|(name, value)| {
            Parameter::builder()
                .parameter_key(name)
                .parameter_value(value)
                .build()
        })
        .collect()
}

/// Creates a stack from the backend template and returns its outputs once it is complete.
async fn create_stack(
    clients: &Clients,
    template: &Template,
    name: &str,
    overrides: &[(&str, &str)],
) -> BTreeMap<String, String> {
    clients
        .cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(template.text())
        .set_parameters(Some(parameters(overrides)))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap_or_else(|error| panic!("failed to create stack {name}: {error:?}"));

    // moto creates a stack within the request; the loop only guards against a later version
    // that does not, and never sleeps on the current one.
    let mut stack = None;
    for _ in 0..100 {
        let described = clients
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .unwrap();
        let current = described.stacks()[0].clone();
        if current.stack_status() != Some(&StackStatus::CreateInProgress) {
            stack = Some(current);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stack = stack.unwrap_or_else(|| panic!("stack {name} stayed CREATE_IN_PROGRESS"));
    assert_eq!(
        stack.stack_status(),
        Some(&StackStatus::CreateComplete),
        "stack {name}: {:?}",
        stack.stack_status_reason()
    );
    stack
        .outputs()
        .iter()
        .map(|output| {
            (
                output.output_key().unwrap_or_default().to_owned(),
                output.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Lists the logical IDs of the template's resources that moto did not create for `stack`.
async fn skipped_resources(
    clients: &Clients,
    template: &Template,
    stack: &str,
) -> BTreeSet<String> {
    let listed = clients
        .cloudformation
        .list_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    let created: BTreeSet<&str> = listed
        .stack_resource_summaries()
        .iter()
        .filter_map(|summary| summary.logical_resource_id())
        .collect();
    template
        .section("Resources")
        .keys()
        .filter(|logical_id| !created.contains(logical_id.as_str()))
        .cloned()
        .collect()
}

fn job_template_id(arn: &str) -> &str {
    arn.rsplit_once(":jobtemplate/")
        .unwrap_or_else(|| panic!("{arn} is not a job template ARN"))
        .1
}

async fn check_job_template(clients: &Clients, arn: &str, per_minute: i32, timeout: i64) {
    let described = clients
        .iot
        .describe_job_template()
        .job_template_id(job_template_id(arn))
        .send()
        .await
        .unwrap_or_else(|error| panic!("job template {arn} not found: {error:?}"));
    assert_eq!(described.job_template_arn(), Some(arn));
    assert_eq!(
        described.document(),
        Some(JobDocument::rotate().to_json().as_str())
    );
    let rollout = described.job_executions_rollout_config().unwrap();
    assert_eq!(rollout.maximum_per_minute(), Some(per_minute));
    let timeout_config = described.timeout_config().unwrap();
    assert_eq!(
        timeout_config.in_progress_timeout_in_minutes(),
        Some(timeout)
    );
    let abort = described.abort_config().unwrap();
    assert_eq!(abort.criteria_list().len(), 1);
}

async fn check_topic_encrypted(clients: &Clients, arn: &str) {
    let attributes = clients
        .sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .unwrap_or_else(|error| panic!("topic {arn} not found: {error:?}"));
    let attributes = attributes.attributes().unwrap();
    assert_eq!(
        attributes.get("KmsMasterKeyId").map(String::as_str),
        Some("alias/aws/sns")
    );
}

async fn create_private_ca(clients: &Clients) -> String {
    use aws_sdk_acmpca::types::{
        Asn1Subject, CertificateAuthorityConfiguration, CertificateAuthorityType, KeyAlgorithm,
        SigningAlgorithm,
    };
    let configuration = CertificateAuthorityConfiguration::builder()
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .signing_algorithm(SigningAlgorithm::Sha256Withecdsa)
        .subject(
            Asn1Subject::builder()
                .common_name("rotation test CA")
                .build(),
        )
        .build()
        .unwrap();
    clients
        .acmpca
        .create_certificate_authority()
        .certificate_authority_configuration(configuration)
        .certificate_authority_type(CertificateAuthorityType::Root)
        .send()
        .await
        .unwrap()
        .certificate_authority_arn()
        .unwrap()
        .to_owned()
}

async fn check_backend_stacks(endpoint: &str) {
    let clients = Clients::new(endpoint);
    let template = Template::backend().unwrap();
    upload_code(&clients).await;

    // Defaults: AWS IoT Core issues certificates.
    let stack = "rotation-backend";
    let outputs = create_stack(&clients, &template, stack, &[]).await;
    let names: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
    let expected_names: BTreeSet<&str> = template
        .section("Outputs")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, expected_names);
    assert_eq!(outputs["Issuer"], "iot-core");
    assert_eq!(outputs["TopicPrefix"], "awslabs");
    assert_eq!(outputs["ShadowName"], stack);
    for output in [
        "CreateCertificateFunctionArn",
        "CommitCertificateFunctionArn",
        "JobExecutionTerminalFunctionArn",
    ] {
        assert!(
            outputs[output].starts_with(&format!("arn:aws:lambda:{REGION}:")),
            "{output} = {}",
            outputs[output]
        );
    }
    check_job_template(&clients, &outputs["JobTemplateArn"], 100, 5).await;
    check_topic_encrypted(&clients, &outputs["NotificationTopicArn"]).await;

    let skipped = skipped_resources(&clients, &template, stack).await;
    let expected_skipped: BTreeSet<String> =
        SKIPPED_BY_MOTO.iter().map(|id| (*id).to_owned()).collect();
    assert_eq!(skipped, expected_skipped, "resources moto did not create");

    // A Private CA issuer, another prefix and other rollout values, in a second stack.
    let ca_arn = create_private_ca(&clients).await;
    let stack = "rotation-backend-pca";
    let outputs = create_stack(
        &clients,
        &template,
        stack,
        &[
            ("Issuer", "private-ca"),
            ("PrivateCaArn", &ca_arn),
            ("PrivateCaSigningAlgorithm", "SHA256WITHECDSA"),
            ("TopicPrefix", "acme"),
            ("RolloutMaximumPerMinute", "20"),
            ("InProgressTimeoutMinutes", "10"),
        ],
    )
    .await;
    assert_eq!(outputs["Issuer"], "private-ca");
    assert_eq!(outputs["TopicPrefix"], "acme");
    assert_eq!(outputs["ShadowName"], stack);
    let private_ca_template = outputs["JobTemplateArn"].clone();
    check_job_template(&clients, &private_ca_template, 20, 10).await;

    // NOTE: moto 5.2.5 returns HTTP 500 for DeleteStack of this template, because it looks
    // up the job template by the unresolved Fn::Sub of JobTemplateId. It still removes the
    // stack and its other resources, but leaves the job template behind.
    let deleted = clients
        .cloudformation
        .delete_stack()
        .stack_name(stack)
        .send()
        .await;
    if let Err(error) = &deleted {
        let status = error
            .raw_response()
            .map(|response| response.status().as_u16());
        assert_eq!(
            status,
            Some(500),
            "unexpected DeleteStack failure: {error:?}"
        );
    }
    let topic = clients
        .sns
        .get_topic_attributes()
        .topic_arn(&outputs["NotificationTopicArn"])
        .send()
        .await;
    assert!(topic.is_err(), "topic of the deleted stack still exists");
    let first = stack_outputs(&clients, "rotation-backend").await;
    check_job_template(&clients, &first["JobTemplateArn"], 100, 5).await;
    check_topic_encrypted(&clients, &first["NotificationTopicArn"]).await;
}

async fn stack_outputs(clients: &Clients, name: &str) -> BTreeMap<String, String> {
    let described = clients
        .cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap();
    described.stacks()[0]
        .outputs()
        .iter()
        .map(|output| {
            (
                output.output_key().unwrap_or_default().to_owned(),
                output.output_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn backend_stack_creates_in_moto() {
    let moto = MotoServer::start();
    // SAFETY: this is the only test in this binary and it sets the variables before it starts
    // the runtime, so no other thread reads the environment concurrently. The clients are built
    // from explicit settings anyway; the variables keep anything else on loopback.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", moto.endpoint());
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", REGION);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(check_backend_stacks(&moto.endpoint()));
}
