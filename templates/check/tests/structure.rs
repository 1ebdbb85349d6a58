//! Structural checks of the backend template: the names the provisioner and the Lambda functions
//! rely on, the rule SQL and job document the devices rely on, and least-privilege IAM.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rotator_backend::config::{DEFAULT_ISSUANCE_TIMEOUT, MAX_VALIDITY_DAYS, MIN_VALIDITY_DAYS};
use rotator_backend::terminal::DeleteRetry;
use rotator_protocol::topic::{commit_rule_filter, create_rule_filter};
use rotator_protocol::{JobDocument, SigningAlgorithm, Topics};
use serde_json::{Value, json};
use templates_check::{Template, one_or_many, render_sub, role_statements, sub_references};

/// One Lambda function and the resources that belong to it.
struct Function {
    function: &'static str,
    role: &'static str,
    log_group: &'static str,
    code_key: &'static str,
    rule: &'static str,
    permission: &'static str,
    invoke_config: &'static str,
}

const FUNCTIONS: [Function; 3] = [
    Function {
        function: "CreateCertificateFunction",
        role: "CreateCertificateRole",
        log_group: "CreateCertificateLogGroup",
        code_key: "CreateCertificateCodeKey",
        rule: "CreateCertificateRule",
        permission: "CreateCertificateRulePermission",
        invoke_config: "CreateCertificateInvokeConfig",
    },
    Function {
        function: "CommitCertificateFunction",
        role: "CommitCertificateRole",
        log_group: "CommitCertificateLogGroup",
        code_key: "CommitCertificateCodeKey",
        rule: "CommitCertificateRule",
        permission: "CommitCertificateRulePermission",
        invoke_config: "CommitCertificateInvokeConfig",
    },
    Function {
        function: "JobExecutionTerminalFunction",
        role: "JobExecutionTerminalRole",
        log_group: "JobExecutionTerminalLogGroup",
        code_key: "JobExecutionTerminalCodeKey",
        rule: "JobExecutionTerminalRule",
        permission: "JobExecutionTerminalRulePermission",
        invoke_config: "JobExecutionTerminalInvokeConfig",
    },
];

/// Actions that AWS authorizes only against `"*"`: they act on no existing resource.
const ACTIONS_WITHOUT_RESOURCE_LEVEL: [&str; 4] = [
    "iot:CreateCertificateFromCsr",
    "iot:RegisterCertificateWithoutCA",
    "iot:ListAttachedPolicies",
    "iot:DescribeEndpoint",
];

fn backend() -> Template {
    Template::backend().unwrap()
}

fn resource<'a>(template: &'a Template, logical_id: &str) -> &'a Value {
    template
        .resource(logical_id)
        .unwrap_or_else(|| panic!("backend template has no resource {logical_id}"))
}

fn properties<'a>(template: &'a Template, logical_id: &str) -> &'a Value {
    resource(template, logical_id)
        .get("Properties")
        .unwrap_or_else(|| panic!("resource {logical_id} has no Properties"))
}

fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

fn get_att(logical_id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical_id, attribute] })
}

/// Renders the SQL of a topic rule with the given topic prefix.
fn rule_sql(template: &Template, rule: &str, prefix: &str) -> String {
    let sql = &properties(template, rule)["TopicRulePayload"]["Sql"];
    match sql {
        Value::String(text) => text.clone(),
        Value::Object(map) => {
            let text = map["Fn::Sub"]
                .as_str()
                .expect("rule SQL Fn::Sub is a string");
            render_sub(text, &BTreeMap::from([("TopicPrefix", prefix)])).unwrap()
        }
        other => panic!("rule {rule} has SQL of unexpected form {other}"),
    }
}

#[test]
fn parameters_match_contract() {
    let template = backend();
    let parameters = template.section("Parameters");
    let expected: [(&str, &str, Option<Value>); 11] = [
        ("AssetsBucket", "String", None),
        ("CreateCertificateCodeKey", "String", None),
        ("CommitCertificateCodeKey", "String", None),
        ("JobExecutionTerminalCodeKey", "String", None),
        ("TopicPrefix", "String", Some(json!("awslabs"))),
        ("Issuer", "String", Some(json!("iot-core"))),
        ("PrivateCaArn", "String", Some(json!(""))),
        ("PrivateCaValidityDays", "Number", Some(json!(7))),
        (
            "PrivateCaSigningAlgorithm",
            "String",
            Some(json!("SHA256WITHRSA")),
        ),
        ("RolloutMaximumPerMinute", "Number", Some(json!(100))),
        ("InProgressTimeoutMinutes", "Number", Some(json!(5))),
    ];
    let names: BTreeSet<&str> = parameters.keys().map(String::as_str).collect();
    let expected_names: BTreeSet<&str> = expected.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names, expected_names);
    for (name, kind, default) in expected {
        let parameter = &parameters[name];
        assert_eq!(parameter["Type"], kind, "type of parameter {name}");
        assert_eq!(
            parameter.get("Default"),
            default.as_ref(),
            "default of parameter {name}"
        );
    }

    assert_eq!(
        parameters["Issuer"]["AllowedValues"],
        json!(["iot-core", "private-ca"])
    );
    let private_ca_algorithms: Vec<&str> = SigningAlgorithm::PRIVATE_CA
        .iter()
        .map(|algorithm| algorithm.name())
        .collect();
    assert_eq!(
        parameters["PrivateCaSigningAlgorithm"]["AllowedValues"],
        json!(private_ca_algorithms)
    );
}

#[test]
fn validity_days_match_lambda_bounds() {
    let template = backend();
    let parameter = &template.section("Parameters")["PrivateCaValidityDays"];
    assert_eq!(parameter["MinValue"], json!(MIN_VALIDITY_DAYS));
    assert_eq!(parameter["MaxValue"], json!(MAX_VALIDITY_DAYS));
    let default = parameter["Default"].as_i64().unwrap();
    assert!(
        (MIN_VALIDITY_DAYS..=MAX_VALIDITY_DAYS).contains(&default),
        "default {default} is outside {MIN_VALIDITY_DAYS} to {MAX_VALIDITY_DAYS}"
    );
}

#[test]
fn topic_prefix_is_one_topic_level() {
    // The rule SQL reads the thing name with topic(3), which is only right for a one-level
    // prefix, so the parameter must reject '/'.
    let template = backend();
    let pattern = template.section("Parameters")["TopicPrefix"]["AllowedPattern"]
        .as_str()
        .expect("TopicPrefix has an AllowedPattern");
    assert!(!pattern.contains('/'), "pattern {pattern:?} allows '/'");
    let max_length = &template.section("Parameters")["TopicPrefix"]["MaxLength"];
    assert_eq!(
        max_length,
        &json!(rotator_protocol::topic::MAX_TOPIC_PREFIX_LEN)
    );
    let topics = Topics::new("awslabs", "core-1").unwrap();
    assert_eq!(topics.create().split('/').nth(2), Some("core-1"));
}

#[test]
fn private_ca_arn_required_with_private_ca() {
    let template = backend();
    let rule = &template.section("Rules")["PrivateCaArnWithPrivateCa"];
    assert_eq!(
        rule["RuleCondition"],
        json!({"Fn::Equals": [{"Ref": "Issuer"}, "private-ca"]})
    );
    assert_eq!(
        rule["Assertions"][0]["Assert"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "PrivateCaArn"}, ""]}]})
    );
}

#[test]
fn conditions_follow_issuer() {
    let template = backend();
    let conditions = template.section("Conditions");
    assert_eq!(
        conditions["UsePrivateCa"],
        json!({"Fn::Equals": [{"Ref": "Issuer"}, "private-ca"]})
    );
    assert_eq!(
        conditions["UseIotCore"],
        json!({"Fn::Equals": [{"Ref": "Issuer"}, "iot-core"]})
    );
}

#[test]
fn logical_ids_match_contract() {
    let template = backend();
    let expected = [
        ("CreateCertificateFunction", "AWS::Lambda::Function"),
        ("CommitCertificateFunction", "AWS::Lambda::Function"),
        ("JobExecutionTerminalFunction", "AWS::Lambda::Function"),
        ("CreateCertificateRule", "AWS::IoT::TopicRule"),
        ("CommitCertificateRule", "AWS::IoT::TopicRule"),
        ("JobExecutionTerminalRule", "AWS::IoT::TopicRule"),
        ("RotationJobTemplate", "AWS::IoT::JobTemplate"),
        ("NotificationTopic", "AWS::SNS::Topic"),
    ];
    for (logical_id, resource_type) in expected {
        assert_eq!(
            template.resource_type(logical_id),
            Some(resource_type),
            "type of {logical_id}"
        );
    }
    assert_eq!(template.resources_of_type("AWS::Lambda::Function").len(), 3);
    assert_eq!(template.resources_of_type("AWS::IoT::TopicRule").len(), 3);
}

#[test]
fn outputs_match_contract() {
    let template = backend();
    let outputs = template.section("Outputs");
    let names: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
    let expected = BTreeSet::from([
        "JobTemplateArn",
        "NotificationTopicArn",
        "CreateCertificateFunctionArn",
        "CommitCertificateFunctionArn",
        "JobExecutionTerminalFunctionArn",
        "ShadowName",
        "TopicPrefix",
        "Issuer",
    ]);
    assert_eq!(names, expected);

    for function in &FUNCTIONS {
        let output = format!("{}Arn", function.function);
        assert_eq!(outputs[&output]["Value"], get_att(function.function, "Arn"));
    }
    assert_eq!(
        outputs["NotificationTopicArn"]["Value"],
        reference("NotificationTopic")
    );
    assert_eq!(outputs["ShadowName"]["Value"], reference("AWS::StackName"));
    assert_eq!(outputs["TopicPrefix"]["Value"], reference("TopicPrefix"));
    assert_eq!(outputs["Issuer"]["Value"], reference("Issuer"));
}

/// Collects the logical IDs that `Fn::GetAtt` reads anywhere inside `value`.
fn get_att_targets<'a>(value: &'a Value, targets: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("Fn::GetAtt").and_then(|args| args.get(0)) {
                targets.push(target.as_str().expect("Fn::GetAtt names a logical ID"));
            }
            map.values()
                .for_each(|inner| get_att_targets(inner, targets));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|inner| get_att_targets(inner, targets)),
        _ => {}
    }
}

#[test]
fn outputs_read_no_skipped_resource_types() {
    // moto's CloudFormation creates no topic rules or Private CA resources and returns HTTP 500 when
    // an output reads an attribute of one.
    let template = backend();
    let mut targets = Vec::new();
    for output in template.section("Outputs").values() {
        get_att_targets(output, &mut targets);
    }
    for target in targets {
        let resource_type = template.resource_type(target).unwrap_or_default();
        assert_ne!(
            resource_type, "AWS::IoT::TopicRule",
            "output reads {target}"
        );
        assert!(
            !resource_type.starts_with("AWS::ACMPCA::"),
            "output reads {target}"
        );
    }
}

#[test]
fn rule_sql_matches_protocol() {
    let template = backend();
    assert_eq!(
        rule_sql(&template, "CreateCertificateRule", "awslabs"),
        "SELECT *, topic(3) AS thingName, topic() as topic, clientid() AS clientId, principal() AS principal FROM 'awslabs/things/+/certificate/create'"
    );
    assert_eq!(
        rule_sql(&template, "CommitCertificateRule", "awslabs"),
        "SELECT *, topic(3) AS thingName, topic() as topic, clientid() AS clientId, principal() AS principal FROM 'awslabs/things/+/certificate/commit'"
    );
    assert_eq!(
        rule_sql(&template, "JobExecutionTerminalRule", "awslabs"),
        "SELECT * FROM '$aws/events/jobExecution/#' WHERE isUndefined(statusDetails.CertificateRotator) = false"
    );

    let create = rule_sql(&template, "CreateCertificateRule", "acme");
    assert!(create.ends_with(&format!("FROM '{}'", create_rule_filter("acme"))));
    let commit = rule_sql(&template, "CommitCertificateRule", "acme");
    assert!(commit.ends_with(&format!("FROM '{}'", commit_rule_filter("acme"))));
}

#[test]
fn rules_invoke_their_function() {
    let template = backend();
    for function in &FUNCTIONS {
        let payload = &properties(&template, function.rule)["TopicRulePayload"];
        assert_eq!(
            payload["AwsIotSqlVersion"], "2016-03-23",
            "{}",
            function.rule
        );
        assert_eq!(payload["RuleDisabled"], false, "{}", function.rule);
        assert_eq!(
            payload["Actions"],
            json!([{"Lambda": {"FunctionArn": get_att(function.function, "Arn")}}]),
            "{}",
            function.rule
        );
    }
}

#[test]
fn every_rule_has_error_action() {
    let template = backend();
    let rules = template.resources_of_type("AWS::IoT::TopicRule");
    assert!(!rules.is_empty());
    for (rule, resource) in rules {
        let error_action = &resource["Properties"]["TopicRulePayload"]["ErrorAction"];
        assert_eq!(
            error_action["Sns"]["TargetArn"],
            reference("NotificationTopic"),
            "error action of {rule}"
        );
        assert_eq!(
            error_action["Sns"]["RoleArn"],
            get_att("RuleErrorActionRole", "Arn"),
            "error action role of {rule}"
        );
    }

    let role = resource(&template, "RuleErrorActionRole");
    let statements = role_statements(role).unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].actions, vec!["sns:Publish"]);
    assert_eq!(
        statements[0].resources,
        vec![&reference("NotificationTopic")]
    );
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "iot.amazonaws.com");
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        reference("AWS::AccountId")
    );
}

#[test]
fn every_permission_names_rule_and_account() {
    let template = backend();
    let permissions = template.resources_of_type("AWS::Lambda::Permission");
    assert_eq!(permissions.len(), FUNCTIONS.len());
    for (permission, resource) in &permissions {
        let props = &resource["Properties"];
        assert_eq!(props["Action"], "lambda:InvokeFunction", "{permission}");
        assert_eq!(props["Principal"], "iot.amazonaws.com", "{permission}");
        assert_eq!(
            props["SourceAccount"],
            reference("AWS::AccountId"),
            "{permission}"
        );
        let source_arn = props["SourceArn"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{permission} has no Fn::Sub SourceArn"));
        let rule = source_arn
            .strip_prefix("arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:rule/${")
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{permission} SourceArn {source_arn:?} is not a rule ARN"));
        assert_eq!(
            template.resource_type(rule),
            Some("AWS::IoT::TopicRule"),
            "{permission} names {rule}"
        );
        // The rule this permission names must invoke the function it grants.
        let invoked = &template.resource(rule).unwrap()["Properties"]["TopicRulePayload"]["Actions"]
            [0]["Lambda"]["FunctionArn"];
        assert_eq!(&props["FunctionName"], invoked, "{permission}");
    }
    for function in &FUNCTIONS {
        let props = properties(&template, function.permission);
        assert_eq!(props["FunctionName"], get_att(function.function, "Arn"));
        assert!(
            props["SourceArn"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .ends_with(&format!("${{{}}}", function.rule))
        );
    }
}

#[test]
fn functions_run_bootstrap_on_al2023() {
    let template = backend();
    for function in &FUNCTIONS {
        let props = properties(&template, function.function);
        let name = function.function;
        assert_eq!(props["Runtime"], "provided.al2023", "{name}");
        assert_eq!(props["Handler"], "bootstrap", "{name}");
        assert_eq!(props["Architectures"], json!(["x86_64"]), "{name}");
        assert_eq!(
            props["Code"]["S3Bucket"],
            reference("AssetsBucket"),
            "{name}"
        );
        assert_eq!(
            props["Code"]["S3Key"],
            reference(function.code_key),
            "{name}"
        );
        assert_eq!(props["Role"], get_att(function.role, "Arn"), "{name}");
        assert_eq!(
            props["LoggingConfig"]["LogGroup"],
            reference(function.log_group),
            "{name}"
        );
        assert!(
            resource(&template, function.log_group)["Properties"]["RetentionInDays"].is_u64(),
            "{} has no retention",
            function.log_group
        );
    }
}

#[test]
fn functions_get_contract_environment() {
    let template = backend();
    let expected = json!({
        "TOPIC_PREFIX": {"Ref": "TopicPrefix"},
        "ISSUER": {"Ref": "Issuer"},
        "PRIVATE_CA_ARN": {"Ref": "PrivateCaArn"},
        "PRIVATE_CA_VALIDITY_DAYS": {"Ref": "PrivateCaValidityDays"},
        "PRIVATE_CA_SIGNING_ALGORITHM": {"Ref": "PrivateCaSigningAlgorithm"},
        "SHADOW_NAME": {"Ref": "AWS::StackName"},
        "NOTIFICATION_TOPIC_ARN": {"Ref": "NotificationTopic"},
    });
    for function in &FUNCTIONS {
        assert_eq!(
            properties(&template, function.function)["Environment"]["Variables"],
            expected,
            "{}",
            function.function
        );
    }
}

fn function_timeout(template: &Template, function: &str) -> Duration {
    let seconds = properties(template, function)["Timeout"]
        .as_u64()
        .unwrap_or_else(|| panic!("{function} has no numeric Timeout"));
    Duration::from_secs(seconds)
}

#[test]
fn create_timeout_outlasts_issuance_wait() {
    // Twice the wait leaves room for a cold start and the registry calls around issuance, so a
    // slow Private CA ends in a rejected reply rather than a killed invocation.
    let template = backend();
    let timeout = function_timeout(&template, "CreateCertificateFunction");
    assert!(
        timeout >= 2 * DEFAULT_ISSUANCE_TIMEOUT,
        "timeout {timeout:?} is less than twice the {DEFAULT_ISSUANCE_TIMEOUT:?} issuance wait"
    );
}

#[test]
fn terminal_timeout_outlasts_delete_retries() {
    let retry = DeleteRetry::default();
    let mut delay = retry.first_delay;
    let mut waited = Duration::ZERO;
    for _ in 1..retry.attempts {
        waited += delay;
        delay = (delay * 2).min(retry.max_delay);
    }
    let template = backend();
    let timeout = function_timeout(&template, "JobExecutionTerminalFunction");
    assert!(
        timeout >= 2 * waited,
        "timeout {timeout:?} is less than twice the {waited:?} of delete retries"
    );
}

#[test]
fn failed_invocations_reach_notification_topic() {
    let template = backend();
    for function in &FUNCTIONS {
        let props = properties(&template, function.invoke_config);
        assert_eq!(props["FunctionName"], reference(function.function));
        assert_eq!(props["Qualifier"], "$LATEST");
        assert_eq!(
            props["DestinationConfig"]["OnFailure"]["Destination"],
            reference("NotificationTopic"),
            "{}",
            function.invoke_config
        );
    }
}

/// The actions each role must hold, keyed by the condition that gates them ("" for none).
fn expected_actions(role: &str) -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    match role {
        "CreateCertificateRole" => BTreeMap::from([
            (
                "",
                BTreeSet::from_iter(logs.into_iter().chain([
                    "iot:DescribeEndpoint",
                    "iot:DescribeJobExecution",
                    "iot:GetJobDocument",
                    "iot:ListThingPrincipalsV2",
                    "iot:ListAttachedPolicies",
                    "iot:DescribeCertificate",
                    "iot:UpdateCertificate",
                    "iot:DeleteCertificate",
                    "iot:AttachPolicy",
                    "iot:DetachPolicy",
                    "iot:AttachThingPrincipal",
                    "iot:DetachThingPrincipal",
                    "iot:GetThingShadow",
                    "iot:UpdateThingShadow",
                    "iot:Publish",
                    "sns:Publish",
                ])),
            ),
            (
                "UseIotCore",
                BTreeSet::from(["iot:CreateCertificateFromCsr"]),
            ),
            (
                "UsePrivateCa",
                BTreeSet::from([
                    "iot:RegisterCertificateWithoutCA",
                    "acm-pca:IssueCertificate",
                    "acm-pca:GetCertificate",
                    "acm-pca:GetCertificateAuthorityCertificate",
                    "acm-pca:RevokeCertificate",
                ]),
            ),
        ]),
        "CommitCertificateRole" => BTreeMap::from([(
            "",
            BTreeSet::from_iter(logs.into_iter().chain([
                "iot:DescribeEndpoint",
                "iot:ListThingPrincipalsV2",
                "iot:GetThingShadow",
                "iot:UpdateThingShadow",
                "iot:Publish",
                "sns:Publish",
            ])),
        )]),
        "JobExecutionTerminalRole" => BTreeMap::from([
            (
                "",
                BTreeSet::from_iter(logs.into_iter().chain([
                    "iot:DescribeEndpoint",
                    "iot:ListThingPrincipalsV2",
                    "iot:ListAttachedPolicies",
                    "iot:DescribeCertificate",
                    "iot:UpdateCertificate",
                    "iot:DeleteCertificate",
                    "iot:DetachPolicy",
                    "iot:DetachThingPrincipal",
                    "iot:GetThingShadow",
                    "sns:Publish",
                ])),
            ),
            (
                "UsePrivateCa",
                BTreeSet::from(["acm-pca:RevokeCertificate"]),
            ),
        ]),
        other => panic!("no expected actions for role {other}"),
    }
}

#[test]
fn roles_hold_only_called_actions() {
    let template = backend();
    for function in &FUNCTIONS {
        let mut actual: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for statement in role_statements(resource(&template, function.role)).unwrap() {
            assert_eq!(statement.effect, Some("Allow"), "{}", function.role);
            let slot = actual
                .entry(statement.condition.unwrap_or_default())
                .or_default();
            for action in statement.actions {
                assert!(
                    slot.insert(action),
                    "{} grants {action} twice",
                    function.role
                );
            }
        }
        assert_eq!(actual, expected_actions(function.role), "{}", function.role);
    }
}

#[test]
fn private_ca_statements_need_private_ca() {
    let template = backend();
    for function in &FUNCTIONS {
        for statement in role_statements(resource(&template, function.role)).unwrap() {
            let private_ca = statement.actions.iter().any(|action| {
                action.starts_with("acm-pca:") || *action == "iot:RegisterCertificateWithoutCA"
            });
            if private_ca {
                assert_eq!(
                    statement.condition,
                    Some("UsePrivateCa"),
                    "{} statement {:?} is not gated by UsePrivateCa",
                    function.role,
                    statement.sid
                );
            }
        }
    }
}

/// Checks one resource of a statement: `"*"` only where AWS allows nothing narrower, and
/// otherwise an ARN in this stack's partition, region and account.
fn check_resource(role: &str, actions: &[&str], resource: &Value) {
    if resource == "*" {
        for action in actions {
            assert!(
                ACTIONS_WITHOUT_RESOURCE_LEVEL.contains(action),
                "{role} grants {action} on \"*\""
            );
        }
        return;
    }
    if resource == &reference("NotificationTopic") {
        assert_eq!(actions, ["sns:Publish"], "{role}");
        return;
    }
    let arn = resource["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("{role} has resource {resource}, expected an Fn::Sub ARN"));
    if arn == "${PrivateCaArn}" {
        assert!(
            actions.iter().all(|action| action.starts_with("acm-pca:")),
            "{role}: {actions:?} on the Private CA"
        );
        return;
    }
    let service = actions[0].split(':').next().unwrap();
    let prefix = format!("arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:");
    assert!(
        arn.starts_with(&prefix),
        "{role} resource {arn:?} does not start with {prefix:?}"
    );
}

#[test]
fn role_resources_are_narrow() {
    let template = backend();
    for function in &FUNCTIONS {
        for statement in role_statements(resource(&template, function.role)).unwrap() {
            assert!(
                !statement.resources.is_empty(),
                "{} {:?}",
                function.role,
                statement.sid
            );
            for resource in &statement.resources {
                check_resource(function.role, &statement.actions, resource);
            }
        }
    }
}

/// Collects the resources of every statement of `role` that grants `action`, as Sub strings.
fn resources_for(template: &Template, role: &str, action: &str) -> BTreeSet<String> {
    role_statements(resource(template, role))
        .unwrap()
        .into_iter()
        .filter(|statement| statement.actions.contains(&action))
        .flat_map(|statement| statement.resources)
        .map(|resource| match resource {
            Value::String(text) => text.clone(),
            other => other["Fn::Sub"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[test]
fn logs_go_to_own_log_group() {
    let template = backend();
    for function in &FUNCTIONS {
        for action in ["logs:CreateLogStream", "logs:PutLogEvents"] {
            let resources = resources_for(&template, function.role, action);
            let arn = format!(
                "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{}}}:*",
                function.log_group
            );
            assert_eq!(
                resources,
                BTreeSet::from([arn]),
                "{} {action}",
                function.role
            );
        }
    }
}

#[test]
fn shadow_access_is_limited_to_stack_shadow() {
    let template = backend();
    let shadow =
        "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:thing/*/${AWS::StackName}";
    for function in &FUNCTIONS {
        for action in ["iot:GetThingShadow", "iot:UpdateThingShadow"] {
            let resources = resources_for(&template, function.role, action);
            assert!(
                resources.is_empty() || resources == BTreeSet::from([shadow.to_owned()]),
                "{} {action} on {resources:?}",
                function.role
            );
        }
    }
}

#[test]
fn replies_go_to_own_topics() {
    let template = backend();
    let topic = |tail: &str| {
        format!(
            "arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:topic/${{TopicPrefix}}/things/*/certificate/{tail}"
        )
    };
    assert_eq!(
        resources_for(&template, "CreateCertificateRole", "iot:Publish"),
        BTreeSet::from([topic("create/accepted"), topic("create/rejected")])
    );
    assert_eq!(
        resources_for(&template, "CommitCertificateRole", "iot:Publish"),
        BTreeSet::from([topic("commit/accepted"), topic("commit/rejected")])
    );
    // The rendered topics must be the ones the protocol crate replies on.
    let rendered = render_sub(
        &topic("create/accepted"),
        &BTreeMap::from([
            ("AWS::Partition", "aws"),
            ("AWS::Region", "eu-west-1"),
            ("AWS::AccountId", "123456789012"),
            ("TopicPrefix", "awslabs"),
        ]),
    )
    .unwrap();
    let expected = Topics::new("awslabs", "core-1").unwrap().create_accepted();
    assert_eq!(
        rendered.replace("things/*/", "things/core-1/"),
        format!("arn:aws:iot:eu-west-1:123456789012:topic/{expected}")
    );
}

#[test]
fn lambda_roles_trust_only_lambda() {
    let template = backend();
    for function in &FUNCTIONS {
        let trust = &properties(&template, function.role)["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(
            trust,
            &json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
            "{}",
            function.role
        );
    }
}

#[test]
fn job_template_document_exact() {
    let template = backend();
    let props = properties(&template, "RotationJobTemplate");
    assert_eq!(props["Document"], r#"{"operation":"ROTATE_CERTIFICATE"}"#);
    assert_eq!(props["Document"], JobDocument::rotate().to_json());
    assert_eq!(
        props["JobExecutionsRolloutConfig"]["MaximumPerMinute"],
        reference("RolloutMaximumPerMinute")
    );
    assert_eq!(
        props["TimeoutConfig"]["InProgressTimeoutInMinutes"],
        reference("InProgressTimeoutMinutes")
    );
    let criteria = one_or_many(props.pointer("/AbortConfig/CriteriaList"));
    assert!(!criteria.is_empty(), "job template has no abort criteria");
    for criterion in criteria {
        assert_eq!(criterion["Action"], "CANCEL");
    }
}

#[test]
fn job_template_arn_output_matches_id() {
    let template = backend();
    let id = properties(&template, "RotationJobTemplate")["JobTemplateId"]["Fn::Sub"]
        .as_str()
        .expect("JobTemplateId is an Fn::Sub string");
    // Each tunable value is part of the ID, so changing one replaces the template under a new
    // name instead of failing on the fixed name.
    let references = sub_references(id);
    assert!(references.contains(&"RolloutMaximumPerMinute"));
    assert!(references.contains(&"InProgressTimeoutMinutes"));
    assert!(references.contains(&"AWS::StackName"));
    assert_eq!(
        template.section("Outputs")["JobTemplateArn"]["Value"],
        json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:jobtemplate/{id}")})
    );
}

#[test]
fn notification_topic_is_encrypted() {
    let template = backend();
    assert_eq!(
        properties(&template, "NotificationTopic")["KmsMasterKeyId"],
        "alias/aws/sns"
    );
}

#[test]
fn template_uses_no_yaml_tags() {
    let template = backend();
    for (number, line) in template.text().lines().enumerate() {
        let code = line.split(" #").next().unwrap_or_default();
        assert!(
            !code.contains(": !") && !code.trim_start().starts_with("- !"),
            "line {} uses a YAML tag; write the long Fn:: form: {line}",
            number + 1
        );
    }
}
