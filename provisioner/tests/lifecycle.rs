//! The built binary against moto behind the sandbox: install, no-op, issuer toggle, plan and
//! teardown, checked through the service APIs.

mod common;

use aws_smithy_runtime_api::client::result::SdkError;
use common::{ACCOUNT, FUNCTION_IDS, REGION, STACK, Stand, bucket_name, ca_arn};
use serde_json::Value;

/// Returns the text of the first `<tag>` element in `xml`.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
}

/// Tells whether an operation (`S3.HeadBucket`) only reads.
fn is_read(call: &str) -> bool {
    let method = call.rsplit('.').next().unwrap_or_default();
    ["Get", "Head", "Describe", "List"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// Asserts that a failed deploy or plan left no stack, no bucket and the event setting off.
fn assert_nothing_changed(stand: &Stand) {
    assert!(!stand.stack_exists());
    assert!(!stand.bucket_exists(&bucket_name()));
    assert!(!stand.job_execution_events_enabled());
}

fn assert_issuer(stand: &Stand, issuer: &str, ca_arn: &str) {
    let environments = stand.function_environments();
    assert_eq!(environments.len(), 3);
    for (function, variables) in &environments {
        assert_eq!(variables["ISSUER"], issuer, "{function}");
        assert_eq!(variables["PRIVATE_CA_ARN"], ca_arn, "{function}");
    }
}

#[test]
fn deploy_creates_backend() {
    let stand = Stand::start();
    assert!(!stand.job_execution_events_enabled());

    let report = stand.deploy(&[]);
    assert_eq!(report["result"], "created");
    assert_eq!(report["account"], ACCOUNT);
    assert_eq!(report["region"], REGION);
    assert_eq!(report["assets_bucket"], bucket_name());
    assert_eq!(report["job_execution_events"]["enabled_by_this_run"], true);
    assert_eq!(
        report["job_execution_events"]["enabled_before_first_deploy"],
        false
    );

    // Lambda functions: the contract's environment.
    let environments = stand.function_environments();
    let resources = stand.stack_resources();
    let topic_arn = &resources["NotificationTopic"];
    for function in FUNCTION_IDS {
        let variables = &environments[function];
        assert_eq!(variables["ISSUER"], "iot-core", "{function}");
        assert_eq!(variables["PRIVATE_CA_ARN"], "", "{function}");
        assert_eq!(variables["TOPIC_PREFIX"], "awslabs", "{function}");
        assert_eq!(variables["SHADOW_NAME"], STACK, "{function}");
        assert_eq!(variables["PRIVATE_CA_VALIDITY_DAYS"], "7", "{function}");
        assert_eq!(
            variables["PRIVATE_CA_SIGNING_ALGORITHM"], "SHA256WITHRSA",
            "{function}"
        );
        assert_eq!(
            &variables["NOTIFICATION_TOPIC_ARN"], topic_arn,
            "{function}"
        );
    }

    // The outputs the contract names.
    let outputs = &report["outputs"];
    assert_eq!(outputs["Issuer"], "iot-core");
    assert_eq!(outputs["TopicPrefix"], "awslabs");
    assert_eq!(outputs["ShadowName"], STACK);
    assert_eq!(outputs["NotificationTopicArn"], topic_arn.as_str());

    // The job template.
    let template_id = &resources["RotationJobTemplate"];
    let template = stand
        .block_on(
            stand
                .iot()
                .describe_job_template()
                .job_template_id(template_id.rsplit('/').next().unwrap())
                .send(),
        )
        .expect("job template exists");
    assert_eq!(
        template.document(),
        Some(r#"{"operation":"ROTATE_CERTIFICATE"}"#)
    );
    let timeout = template.timeout_config().expect("timeout config is set");
    assert_eq!(timeout.in_progress_timeout_in_minutes(), Some(5));
    let rollout = template
        .job_executions_rollout_config()
        .expect("rollout config is set");
    assert_eq!(rollout.maximum_per_minute(), Some(100));

    // The SNS topic.
    let attributes = stand
        .block_on(
            stand
                .sns()
                .get_topic_attributes()
                .topic_arn(topic_arn)
                .send(),
        )
        .expect("notification topic exists");
    assert_eq!(
        attributes.attributes().unwrap()["TopicArn"],
        topic_arn.as_str()
    );

    // The assets bucket: versioned, encrypted, private, holding the three zips.
    let bucket = bucket_name();
    let s3 = stand.s3();
    let versioning = match stand.block_on(s3.get_bucket_versioning().bucket(&bucket).send()) {
        Ok(output) => output.status().map(|status| status.as_str().to_owned()),
        // NOTE: moto 5.2.5 names the root element GetBucketVersioningResponse instead of
        // VersioningConfiguration, which the SDK rejects; read the status from the same body.
        Err(SdkError::ServiceError(error)) if error.raw().status().is_success() => {
            let body = String::from_utf8_lossy(error.raw().body().bytes().unwrap()).into_owned();
            xml_text(&body, "Status")
        }
        Err(error) => panic!("failed to read the bucket versioning: {error:?}"),
    };
    assert_eq!(versioning.as_deref(), Some("Enabled"));
    let encryption = stand
        .block_on(s3.get_bucket_encryption().bucket(&bucket).send())
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    let algorithm = rule
        .apply_server_side_encryption_by_default()
        .unwrap()
        .sse_algorithm()
        .as_str();
    assert_eq!(algorithm, "AES256");
    let block = stand
        .block_on(s3.get_public_access_block().bucket(&bucket).send())
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(block.block_public_acls(), Some(true));
    assert_eq!(block.ignore_public_acls(), Some(true));
    assert_eq!(block.block_public_policy(), Some(true));
    assert_eq!(block.restrict_public_buckets(), Some(true));
    let artifacts = report["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 3);
    for artifact in artifacts {
        assert_eq!(artifact["uploaded"], true);
        let key = artifact["key"].as_str().unwrap();
        let sha256 = artifact["sha256"].as_str().unwrap();
        assert!(key.ends_with(&format!("/{sha256}.zip")), "{key}");
        stand
            .block_on(s3.head_object().bucket(&bucket).key(key).send())
            .unwrap_or_else(|error| panic!("{key} is not in the bucket: {error:?}"));
    }

    // The account-wide event setting the terminal rule needs.
    assert!(stand.job_execution_events_enabled());

    insta::assert_json_snapshot!("deploy_json", redact_deploy_report(report));
}

/// Replaces the values that differ between runs (stack ID, zip hashes, outputs) with
/// placeholders, keeping the shape.
fn redact_deploy_report(mut report: Value) -> Value {
    assert!(report["stack_id"].as_str().unwrap().contains(STACK));
    report["stack_id"] = Value::from("[stack-id]");
    for artifact in report["artifacts"].as_array_mut().unwrap() {
        let sha256 = artifact["sha256"].as_str().unwrap().to_owned();
        assert_eq!(sha256.len(), 64);
        let key = artifact["key"]
            .as_str()
            .unwrap()
            .replace(&sha256, "[sha256]");
        artifact["key"] = Value::from(key);
        artifact["sha256"] = Value::from("[sha256]");
    }
    // The resource list belongs to the template; keep one change to show the item shape.
    let changes = report["changes"].as_array_mut().unwrap();
    let added: Vec<&str> = changes
        .iter()
        .filter(|change| change["action"] == "Add")
        .map(|change| change["logical_resource_id"].as_str().unwrap())
        .collect();
    for function in FUNCTION_IDS {
        assert!(added.contains(&function), "{function} missing in {added:?}");
    }
    changes.truncate(1);
    changes[0]["logical_resource_id"] = Value::from("[logical-id]");
    changes[0]["resource_type"] = Value::from("[resource-type]");
    for value in report["outputs"].as_object_mut().unwrap().values_mut() {
        *value = Value::from("[output]");
    }
    report
}

#[test]
fn redeploy_without_changes_is_noop() {
    let stand = Stand::start();
    stand.deploy(&[]);
    let events_before = stand.stack_event_count();
    let bucket = bucket_name();
    let versions_before = stand
        .block_on(stand.s3().list_object_versions().bucket(&bucket).send())
        .unwrap()
        .versions()
        .len();

    let (report, calls) = stand.deploy_with_calls(&[]);
    assert_eq!(report["result"], "no_changes");
    assert_eq!(report["changes"].as_array().unwrap().len(), 0);
    // Reads only, except versioning, which is written on every deploy (see assets.rs).
    let writes: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|call| !is_read(call))
        .collect();
    assert_eq!(writes, ["S3.PutBucketVersioning"], "calls: {calls:?}");
    assert!(
        calls.iter().any(|call| call == "S3.GetBucketEncryption"),
        "calls: {calls:?}"
    );
    assert!(
        calls.iter().any(|call| call == "S3.GetPublicAccessBlock"),
        "calls: {calls:?}"
    );
    assert_eq!(report["job_execution_events"]["enabled_by_this_run"], false);
    for artifact in report["artifacts"].as_array().unwrap() {
        assert_eq!(artifact["uploaded"], false);
    }
    assert_eq!(stand.stack_event_count(), events_before);
    let versions_after = stand
        .block_on(stand.s3().list_object_versions().bucket(&bucket).send())
        .unwrap()
        .versions()
        .len();
    assert_eq!(versions_after, versions_before);
    let change_sets = stand
        .block_on(stand.cfn().list_change_sets().stack_name(STACK).send())
        .unwrap();
    assert!(
        change_sets
            .summaries()
            .iter()
            .all(|summary| summary.execution_status().map(|s| s.as_str())
                == Some("EXECUTE_COMPLETE"))
    );

    // The text output states it in words.
    let lambda_dir = stand.lambda_dir();
    let output = stand
        .cli()
        .args(["deploy", "--yes", "--no-progress", "--lambda-dir"])
        .arg(&lambda_dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("no changes"), "{stdout}");
}

#[test]
fn toggle_issuer_to_private_ca_and_back() {
    let stand = Stand::start();
    stand.deploy(&[]);
    assert_issuer(&stand, "iot-core", "");

    let arn = stand.create_active_ca();
    let report = stand.deploy(&[
        "--issuer",
        "private-ca",
        "--ca-arn",
        &arn,
        "--ca-signing-algorithm",
        "SHA384WITHRSA",
        "--validity-days",
        "5",
    ]);
    assert_eq!(report["result"], "updated");
    assert_eq!(report["issuer"], "private-ca");
    assert_issuer(&stand, "private-ca", &arn);
    for (function, variables) in stand.function_environments() {
        assert_eq!(
            variables["PRIVATE_CA_SIGNING_ALGORITHM"], "SHA384WITHRSA",
            "{function}"
        );
        assert_eq!(variables["PRIVATE_CA_VALIDITY_DAYS"], "5", "{function}");
    }

    // And back again on the same stack.
    let report = stand.deploy(&["--issuer", "iot-core"]);
    assert_eq!(report["result"], "updated");
    assert_issuer(&stand, "iot-core", "");
}

#[test]
fn toggle_issuer_to_iot_core() {
    let stand = Stand::start();
    let arn = stand.create_active_ca();
    let report = stand.deploy(&["--issuer", "private-ca", "--ca-arn", &arn]);
    assert_eq!(report["result"], "created");
    assert_issuer(&stand, "private-ca", &arn);

    let report = stand.deploy(&["--issuer", "iot-core"]);
    assert_eq!(report["result"], "updated");
    assert_eq!(report["issuer"], "iot-core");
    assert_issuer(&stand, "iot-core", "");
}

#[test]
fn pending_ca_is_rejected_before_changes() {
    let stand = Stand::start();
    let arn = stand.create_pending_ca();
    let lambda_dir = stand.lambda_dir();
    let lambda_dir = lambda_dir.to_str().unwrap();

    for command in [vec!["deploy", "--yes"], vec!["plan"]] {
        let mut args = command.clone();
        args.extend(["--lambda-dir", lambda_dir, "--issuer", "private-ca"]);
        args.extend(["--ca-arn", arn.as_str()]);
        let (report, stderr) = stand.run_json_failure(&args);
        let command = command[0];
        assert_eq!(report["error"]["code"], "ca_not_active", "{command}");
        assert!(stderr.contains(&arn), "{command}: {stderr}");
        assert!(
            stderr.contains("in status PENDING_CERTIFICATE"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("import-certificate-authority-certificate"),
            "{command}: {stderr}"
        );
        assert_nothing_changed(&stand);
    }
}

#[test]
fn ca_key_mismatch_is_rejected_before_changes() {
    let stand = Stand::start();
    let arn = stand.create_active_ca();
    let lambda_dir = stand.lambda_dir();
    let lambda_dir = lambda_dir.to_str().unwrap();

    for command in [vec!["deploy", "--yes"], vec!["plan"]] {
        let mut args = command.clone();
        args.extend(["--lambda-dir", lambda_dir, "--issuer", "private-ca"]);
        args.extend(["--ca-arn", arn.as_str()]);
        args.extend(["--ca-signing-algorithm", "SHA256WITHECDSA"]);
        let (report, stderr) = stand.run_json_failure(&args);
        let command = command[0];
        assert_eq!(
            report["error"]["code"], "ca_key_algorithm_mismatch",
            "{command}"
        );
        assert!(stderr.contains("SHA256WITHECDSA"), "{command}: {stderr}");
        assert!(stderr.contains("RSA_2048"), "{command}: {stderr}");
        assert_nothing_changed(&stand);
    }
}

#[test]
fn missing_ca_is_rejected_before_changes() {
    let stand = Stand::start();
    let arn = ca_arn();
    let lambda_dir = stand.lambda_dir();

    let (report, stderr) = stand.run_json_failure(&[
        "deploy",
        "--yes",
        "--lambda-dir",
        lambda_dir.to_str().unwrap(),
        "--issuer",
        "private-ca",
        "--ca-arn",
        &arn,
    ]);
    assert_eq!(report["error"]["code"], "ca_not_found");
    assert!(stderr.contains(&arn), "{stderr}");
    assert!(stderr.contains("check --ca-arn"), "{stderr}");
    assert_nothing_changed(&stand);
}

#[test]
fn disabled_ca_leaves_stack_unchanged() {
    let stand = Stand::start();
    stand.deploy(&[]);
    let arn = stand.create_active_ca();
    stand
        .block_on(
            stand
                .pca()
                .update_certificate_authority()
                .certificate_authority_arn(&arn)
                .status(aws_sdk_acmpca::types::CertificateAuthorityStatus::Disabled)
                .send(),
        )
        .unwrap();
    assert_eq!(stand.ca_status(&arn), "DISABLED");
    let events_before = stand.stack_event_count();

    let lambda_dir = stand.lambda_dir();
    let (report, stderr) = stand.run_json_failure(&[
        "deploy",
        "--yes",
        "--lambda-dir",
        lambda_dir.to_str().unwrap(),
        "--issuer",
        "private-ca",
        "--ca-arn",
        &arn,
    ]);
    assert_eq!(report["error"]["code"], "ca_not_active");
    assert!(stderr.contains("in status DISABLED"), "{stderr}");
    assert!(stderr.contains("--status ACTIVE"), "{stderr}");
    assert_eq!(stand.stack_event_count(), events_before);
    assert_issuer(&stand, "iot-core", "");
}

#[test]
fn plan_shows_changes_and_leaves_stack() {
    let stand = Stand::start();
    let lambda_dir = stand.lambda_dir();
    let lambda_dir = lambda_dir.to_str().unwrap();

    // No stack yet: a CREATE plan, and afterwards still no stack.
    let report = stand.run_json(&["plan", "--lambda-dir", lambda_dir]);
    assert_eq!(report["change_set_type"], "CREATE");
    assert_eq!(report["no_changes"], false);
    let changes = report["changes"].as_array().unwrap();
    let added: Vec<&str> = changes
        .iter()
        .filter(|change| change["action"] == "Add")
        .map(|change| change["logical_resource_id"].as_str().unwrap())
        .collect();
    for function in FUNCTION_IDS {
        assert!(added.contains(&function), "{function} missing in {added:?}");
    }
    assert!(!stand.stack_exists());

    // After a deploy: the same settings plan nothing, a toggle plans an update.
    stand.deploy(&[]);
    let report = stand.run_json(&["plan", "--lambda-dir", lambda_dir]);
    assert_eq!(report["no_changes"], true);

    let arn = stand.create_active_ca();
    let report = stand.run_json(&[
        "plan",
        "--lambda-dir",
        lambda_dir,
        "--issuer",
        "private-ca",
        "--ca-arn",
        &arn,
    ]);
    assert_eq!(report["change_set_type"], "UPDATE");
    assert_eq!(report["no_changes"], false);
    let issuer = report["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["ParameterKey"] == "Issuer")
        .unwrap();
    assert_eq!(issuer["ParameterValue"], "private-ca");

    // The plan changed nothing and left no change set behind.
    assert_issuer(&stand, "iot-core", "");
    let change_sets = stand
        .block_on(stand.cfn().list_change_sets().stack_name(STACK).send())
        .unwrap();
    let pending: Vec<&str> = change_sets
        .summaries()
        .iter()
        .filter(|summary| summary.execution_status().map(|s| s.as_str()) == Some("AVAILABLE"))
        .filter_map(|summary| summary.change_set_name())
        .collect();
    assert!(pending.is_empty(), "pending change sets: {pending:?}");
}

#[test]
fn destroy_removes_everything() {
    let stand = Stand::start();
    stand.deploy(&[]);
    assert!(stand.job_execution_events_enabled());

    let report = stand.run_json(&["destroy", "--yes"]);
    assert_eq!(report["stack"], "deleted");
    assert_eq!(report["bucket"], "deleted");
    assert_eq!(report["job_execution_events"], "disabled");
    assert!(!stand.stack_exists());
    assert!(!stand.bucket_exists(&bucket_name()));
    assert!(!stand.job_execution_events_enabled());
}

#[test]
fn destroy_twice_succeeds() {
    let stand = Stand::start();
    stand.deploy(&[]);
    stand.run_json(&["destroy", "--yes"]);

    let report = stand.run_json(&["destroy", "--yes"]);
    assert_eq!(report["stack"], "not_found");
    assert_eq!(report["bucket"], "not_found");
    assert_eq!(report["job_execution_events"], "no_record");
    assert!(!stand.job_execution_events_enabled());
}

#[test]
fn destroy_keeps_bucket_on_request() {
    let stand = Stand::start();
    stand.deploy(&[]);

    let report = stand.run_json(&["destroy", "--yes", "--keep-bucket"]);
    assert_eq!(report["stack"], "deleted");
    assert_eq!(report["bucket"], "kept");
    assert!(stand.bucket_exists(&bucket_name()));
    assert!(!stand.job_execution_events_enabled());
}

#[test]
fn events_enabled_before_stay_enabled() {
    let stand = Stand::start();
    stand
        .block_on(
            stand
                .iot()
                .update_event_configurations()
                .event_configurations(
                    aws_sdk_iot::types::EventType::JobExecution,
                    aws_sdk_iot::types::Configuration::builder()
                        .enabled(true)
                        .build(),
                )
                .send(),
        )
        .unwrap();

    let report = stand.deploy(&[]);
    assert_eq!(
        report["job_execution_events"]["enabled_before_first_deploy"],
        true
    );
    assert_eq!(report["job_execution_events"]["enabled_by_this_run"], false);

    let report = stand.run_json(&["destroy", "--yes"]);
    assert_eq!(report["job_execution_events"], "left_enabled");
    assert!(stand.job_execution_events_enabled());
}

#[test]
fn destroy_without_yes_is_rejected() {
    let stand = Stand::start();
    stand.deploy(&[]);

    let output = stand
        .cli()
        .args(["destroy", "--no-progress"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(stand.stack_exists());
}

#[test]
fn new_zips_update_functions() {
    let stand = Stand::start();
    let first: Value = stand.deploy(&[]);
    common::write_lambda_zips(&stand.lambda_dir(), "v2");

    let second = stand.deploy(&[]);
    assert_eq!(second["result"], "updated");
    let first_keys: Vec<&Value> = first["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["key"])
        .collect();
    for (artifact, old_key) in second["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(first_keys)
    {
        assert_eq!(artifact["uploaded"], true);
        assert_ne!(&artifact["key"], old_key);
    }
    let parameters = stand
        .block_on(stand.cfn().describe_stacks().stack_name(STACK).send())
        .unwrap();
    let stack = &parameters.stacks()[0];
    let create_key = stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("CreateCertificateCodeKey"))
        .and_then(|p| p.parameter_value())
        .unwrap();
    assert_eq!(create_key, second["artifacts"][0]["key"].as_str().unwrap());
}

#[test]
fn interrupt_at_prompt_changes_nothing() {
    let stand = Stand::start();
    let python = testsupport::moto_server_path().with_file_name("python");
    let harness = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interrupt_at_prompt.py");
    let output = std::process::Command::new(python)
        .arg(harness)
        .arg(assert_cmd::cargo::cargo_bin("certrotator"))
        .args(["--no-progress", "deploy", "--lambda-dir"])
        .arg(stand.lambda_dir())
        .env_clear()
        .envs(stand.environment())
        .current_dir(stand.dir.path())
        .output()
        .expect("failed to run the pseudo-terminal harness");
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{transcript}");
    assert!(transcript.ends_with("exit 130\n"), "{transcript}");
    assert!(transcript.contains("nothing was changed"), "{transcript}");

    // The change set and the empty stack it made are gone, and the next deploy creates it.
    assert!(!stand.stack_exists());
    let report = stand.deploy(&[]);
    assert_eq!(report["result"], "created");
}

/// Reads the job-event record in the assets bucket, if there is one.
fn read_marker(stand: &Stand) -> Option<String> {
    let output = stand
        .block_on(
            stand
                .s3()
                .get_object()
                .bucket(bucket_name())
                .key("state/job-execution-events-before")
                .send(),
        )
        .ok()?;
    let body = stand.block_on(output.body.collect()).unwrap().into_bytes();
    Some(String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn deploy_records_stack_in_marker() {
    let stand = Stand::start();
    stand.deploy(&[]);

    let marker = read_marker(&stand).expect("deploy wrote the record");
    assert_eq!(marker, format!("disabled\nstack={STACK}\n"));
}

#[test]
fn destroy_of_unknown_stack_changes_nothing() {
    let stand = Stand::start();
    stand.deploy(&[]);
    let marker = read_marker(&stand);

    let report = stand.run_json(&["destroy", "--yes", "--stack-name", "greengrass-cert-rotatr"]);
    assert_eq!(report["stack"], "not_found");
    assert_eq!(report["bucket"], "in_use");
    assert_eq!(report["bucket_used_by"], serde_json::json!([STACK]));
    assert_eq!(report["job_execution_events"], "skipped");
    assert_eq!(report["recorded_stack"], STACK);
    assert!(stand.stack_exists());
    assert!(stand.bucket_exists(&bucket_name()));
    assert_eq!(read_marker(&stand), marker);
    assert!(stand.job_execution_events_enabled());
}

#[test]
fn destroy_of_unknown_stack_says_how_to_clean_up() {
    let stand = Stand::start();
    stand.deploy(&[]);
    stand
        .block_on(stand.cfn().delete_stack().stack_name(STACK).send())
        .expect("stack deletion starts");

    let output = stand
        .cli()
        .args(["--no-progress", "destroy", "--yes", "--stack-name", "typo"])
        .output()
        .expect("failed to run certrotator");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("stack typo not found"), "{text}");
    assert!(text.contains("left as they are"), "{text}");
    assert!(text.contains(&format!("--stack-name {STACK}")), "{text}");
    assert!(stand.bucket_exists(&bucket_name()));
    assert!(stand.job_execution_events_enabled());
}

#[test]
fn shared_bucket_outlives_first_stack() {
    let stand = Stand::start();
    stand.deploy(&[]);
    stand.deploy(&["--stack-name", "second-fleet"]);
    let marker = read_marker(&stand);

    let report = stand.run_json(&["destroy", "--yes"]);
    assert_eq!(report["stack"], "deleted");
    assert_eq!(report["bucket"], "in_use");
    assert_eq!(
        report["bucket_used_by"],
        serde_json::json!(["second-fleet"])
    );
    assert_eq!(report["job_execution_events"], "skipped");
    assert!(!stand.stack_exists());
    assert!(stand.bucket_exists(&bucket_name()));
    assert_eq!(read_marker(&stand), marker);
    assert!(stand.job_execution_events_enabled());

    let report = stand.run_json(&["destroy", "--yes", "--stack-name", "second-fleet"]);
    assert_eq!(report["stack"], "deleted");
    assert_eq!(report["bucket"], "deleted");
    assert_eq!(report["bucket_used_by"], serde_json::json!([]));
    assert_eq!(report["job_execution_events"], "disabled");
    assert!(!stand.bucket_exists(&bucket_name()));
    assert!(!stand.job_execution_events_enabled());
}

#[test]
fn rerun_after_stack_gone_finishes_cleanup() {
    let stand = Stand::start();
    stand.deploy(&[]);
    stand
        .block_on(stand.cfn().delete_stack().stack_name(STACK).send())
        .expect("stack deletion starts");
    assert!(!stand.stack_exists());

    let report = stand.run_json(&["destroy", "--yes"]);
    assert_eq!(report["stack"], "not_found");
    assert_eq!(report["bucket"], "deleted");
    assert_eq!(report["job_execution_events"], "disabled");
    assert!(!stand.job_execution_events_enabled());
}
