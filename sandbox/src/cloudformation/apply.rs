//! Bookkeeping around the stack operations moto performs: the resources moto skips, the
//! per-resource events, change lists and the outputs moto leaves out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::moto_calls;
use super::state::{Change, EmulatedResource, Records, StackEvent, StackRecord};
use super::template::{self, Context, Deployed, Resource};
use crate::Error;
use crate::scope::CredentialScope;
use crate::server::App;
use crate::xml::{XmlWriter, child_text};

const STACK_TYPE: &str = "AWS::CloudFormation::Stack";
const TOPIC_RULE_TYPE: &str = "AWS::IoT::TopicRule";
const JOB_TEMPLATE_TYPE: &str = "AWS::IoT::JobTemplate";
const EVENT_INVOKE_CONFIG_TYPE: &str = "AWS::Lambda::EventInvokeConfig";
const REPLACEMENT_REASON: &str =
    "Requested update requires the creation of a new physical resource; hence creating one.";

/// The kind of stack operation that completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// The template and parameters a create or update applied.
#[derive(Clone, Debug)]
pub struct Applied {
    pub body: String,
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
    /// Topic rule names by logical ID, chosen before moto saw the template.
    pub rule_names: BTreeMap<String, String>,
}

/// Chooses the name of each topic rule in the template: its `RuleName`, the name the stack's
/// rule already has, or a new generated one.
pub fn rule_names(
    context: &Context<'_>,
    previous: &BTreeMap<String, EmulatedResource>,
) -> BTreeMap<String, String> {
    context
        .resources()
        .into_iter()
        .filter(|(_, resource)| resource.resource_type == TOPIC_RULE_TYPE)
        .map(|(logical_id, resource)| {
            let name = match resource.properties.get("RuleName") {
                Some(Value::String(name)) => name.clone(),
                _ => previous
                    .get(&logical_id)
                    .filter(|rule| rule.resource_type == TOPIC_RULE_TYPE)
                    .map(|rule| rule.physical_id.clone())
                    .unwrap_or_else(|| {
                        generate_physical_id(
                            &context.pseudo.stack_name,
                            &logical_id,
                            TOPIC_RULE_TYPE,
                        )
                    }),
            };
            (logical_id, name)
        })
        .collect()
}

/// Rewrites a template for moto, or returns `None` when it needs no change.
///
/// moto 5.2.5 deletes a job template by reading `JobTemplateId` from the unresolved template,
/// so an ID built with `Fn::Sub` makes its DeleteStack fail with HTTP 500. The sandbox sends
/// moto the resolved ID instead. moto also skips topic rules, so a `Ref`, `Fn::GetAtt` or
/// `Fn::Sub` reference to one would stay unresolved (a Lambda permission's `SourceArn`, for
/// example). The sandbox puts in the rule names it chose.
pub fn rewrite_for_moto(
    template: &Value,
    context: &Context<'_>,
    rule_names: &BTreeMap<String, String>,
) -> Option<String> {
    let mut copy = template.clone();
    let mut changed = false;
    let pseudo = context.pseudo;
    let rule_arn_prefix = format!(
        "arn:{}:iot:{}:{}:rule/",
        pseudo.partition, pseudo.region, pseudo.account_id
    );
    for section in ["Resources", "Outputs"] {
        let Some(entries) = copy.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        for declaration in entries.values_mut() {
            if declaration.get("Type").and_then(Value::as_str) == Some(TOPIC_RULE_TYPE) {
                continue;
            }
            changed |= replace_rule_references(declaration, rule_names, &rule_arn_prefix);
        }
    }
    let resources = copy.get_mut("Resources").and_then(Value::as_object_mut)?;
    for declaration in resources.values_mut() {
        if declaration.get("Type").and_then(Value::as_str) != Some(JOB_TEMPLATE_TYPE) {
            continue;
        }
        let Some(id) = declaration.pointer_mut("/Properties/JobTemplateId") else {
            continue;
        };
        if id.is_string() {
            continue;
        }
        if let Some(Value::String(resolved)) = context.resolve(id) {
            *id = Value::String(resolved);
            changed = true;
        }
    }
    changed.then(|| copy.to_string())
}

/// Replaces references to topic rules with their names or ARNs; returns whether any changed.
fn replace_rule_references(
    value: &mut Value,
    rule_names: &BTreeMap<String, String>,
    rule_arn_prefix: &str,
) -> bool {
    let replacement = match &*value {
        Value::Object(object) if object.len() == 1 => match object.iter().next() {
            Some((key, Value::String(name))) if key == "Ref" => rule_names.get(name).cloned(),
            Some((key, Value::Array(items))) if key == "Fn::GetAtt" => match items.as_slice() {
                [Value::String(name), Value::String(attribute)] if attribute == "Arn" => rule_names
                    .get(name)
                    .map(|rule| format!("{rule_arn_prefix}{rule}")),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    if let Some(text) = replacement {
        *value = Value::String(text);
        return true;
    }
    let mut changed = false;
    match value {
        Value::Object(object) => {
            let is_sub = object.len() == 1 && object.contains_key("Fn::Sub");
            for (key, inner) in object.iter_mut() {
                if is_sub && key == "Fn::Sub" {
                    let text = match inner {
                        Value::String(text) => Some(text),
                        Value::Array(items) => items.first_mut().and_then(|first| match first {
                            Value::String(text) => Some(text),
                            _ => None,
                        }),
                        _ => None,
                    };
                    if let Some(text) = text {
                        for (logical_id, name) in rule_names {
                            for (placeholder, with) in [
                                (format!("${{{logical_id}}}"), name.clone()),
                                (
                                    format!("${{{logical_id}.Arn}}"),
                                    format!("{rule_arn_prefix}{name}"),
                                ),
                            ] {
                                if text.contains(&placeholder) {
                                    *text = text.replace(&placeholder, &with);
                                    changed = true;
                                }
                            }
                        }
                    }
                }
                changed |= replace_rule_references(inner, rule_names, rule_arn_prefix);
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= replace_rule_references(item, rule_names, rule_arn_prefix);
            }
        }
        _ => {}
    }
    changed
}

/// Lists the resource changes between two resolved resource sets, as a change set shows them.
pub fn changes(
    old: &BTreeMap<String, Resource>,
    old_deployed: &BTreeMap<String, Deployed>,
    new: &BTreeMap<String, Resource>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for logical_id in template::dependency_order(new) {
        let resource = &new[&logical_id];
        let physical_id = old_deployed
            .get(&logical_id)
            .map(|deployed| deployed.physical_id.clone());
        match old.get(&logical_id) {
            None => changes.push(Change {
                action: "Add",
                logical_id,
                physical_id: None,
                resource_type: resource.resource_type.clone(),
                replacement: None,
                changed_properties: Vec::new(),
            }),
            Some(previous) if previous.resource_type != resource.resource_type => {
                changes.push(Change {
                    action: "Modify",
                    logical_id,
                    physical_id,
                    resource_type: resource.resource_type.clone(),
                    replacement: Some("True"),
                    changed_properties: Vec::new(),
                });
            }
            Some(previous) if previous.properties != resource.properties => {
                let changed = changed_properties(&previous.properties, &resource.properties);
                let recreates: Vec<(String, Option<bool>)> = changed
                    .iter()
                    .map(|name| {
                        (
                            name.clone(),
                            requires_replacement(&resource.resource_type, name),
                        )
                    })
                    .collect();
                let replacement = if recreates.iter().any(|(_, always)| *always == Some(true)) {
                    "True"
                } else if recreates.iter().all(|(_, always)| *always == Some(false)) {
                    "False"
                } else {
                    "Conditional"
                };
                changes.push(Change {
                    action: "Modify",
                    logical_id,
                    physical_id,
                    resource_type: resource.resource_type.clone(),
                    replacement: Some(replacement),
                    changed_properties: recreates
                        .into_iter()
                        .map(|(name, always)| (name, always == Some(true)))
                        .collect(),
                });
            }
            Some(_) => {}
        }
    }
    let mut removed: Vec<String> = template::dependency_order(old)
        .into_iter()
        .filter(|logical_id| !new.contains_key(logical_id))
        .collect();
    removed.reverse();
    for logical_id in removed {
        changes.push(Change {
            action: "Remove",
            physical_id: old_deployed
                .get(&logical_id)
                .map(|deployed| deployed.physical_id.clone()),
            resource_type: old[&logical_id].resource_type.clone(),
            logical_id,
            replacement: None,
            changed_properties: Vec::new(),
        });
    }
    changes
}

fn changed_properties(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut names: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|name| old.get(*name) != new.get(*name))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Returns whether changing a property replaces the resource, as the CloudFormation resource
/// reference states under "Update requires". Returns `None` for types this table does not cover.
fn requires_replacement(resource_type: &str, property: &str) -> Option<bool> {
    let always: &[&str] = match resource_type {
        TOPIC_RULE_TYPE => &["RuleName"],
        // Every property of a job template and of a Lambda permission requires replacement.
        JOB_TEMPLATE_TYPE | "AWS::Lambda::Permission" => return Some(true),
        "AWS::Lambda::Function" => &["FunctionName", "PackageType"],
        "AWS::Lambda::EventInvokeConfig" => &["FunctionName", "Qualifier"],
        "AWS::SNS::Topic" => &["TopicName", "FifoTopic"],
        "AWS::IAM::Role" => &["RoleName", "Path"],
        "AWS::Logs::LogGroup" => &["LogGroupName"],
        "AWS::S3::Bucket" => &["BucketName"],
        _ => return None,
    };
    Some(always.contains(&property))
}

/// Appends a stack-level event.
pub fn push_stack_event(stack: &mut StackRecord, status: &str, reason: Option<&str>) {
    let (logical_id, physical_id) = (stack.name.clone(), stack.stack_id.clone());
    push_event(stack, &logical_id, &physical_id, STACK_TYPE, status, reason);
}

fn push_event(
    stack: &mut StackRecord,
    logical_id: &str,
    physical_id: &str,
    resource_type: &str,
    status: &str,
    reason: Option<&str>,
) {
    // Strictly increasing timestamps keep "newest first" well defined.
    let now = OffsetDateTime::now_utc();
    let timestamp = match stack.events.last() {
        Some(last) if last.timestamp >= now => last.timestamp + Duration::microseconds(1),
        _ => now,
    };
    stack.events.push(StackEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        logical_id: logical_id.to_owned(),
        physical_id: physical_id.to_owned(),
        resource_type: resource_type.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        timestamp,
    });
    if resource_type != STACK_TYPE {
        stack
            .resource_status
            .insert(logical_id.to_owned(), (status.to_owned(), timestamp));
    }
}

/// Spreads the events from `first` on over `duration` from now, so that the operation shows as
/// in progress until its last event. moto itself finishes every operation within the request.
/// With a zero duration the events end now, so that all of them are visible at once.
fn spread_events(stack: &mut StackRecord, first: usize, duration: std::time::Duration) {
    let count = stack.events.len().saturating_sub(first);
    if count == 0 {
        return;
    }
    if duration.is_zero() {
        let now = OffsetDateTime::now_utc();
        let overshoot = stack.events[stack.events.len() - 1].timestamp - now;
        if overshoot.is_positive() {
            for event in &mut stack.events[first..] {
                event.timestamp -= overshoot;
            }
            for (_, time) in stack.resource_status.values_mut() {
                *time = (*time).min(now);
            }
        }
        return;
    }
    let start = stack.events[first].timestamp;
    let step = Duration::try_from(duration / count as u32)
        .unwrap_or(Duration::milliseconds(1))
        .max(Duration::milliseconds(1));
    let mut offset = Duration::ZERO;
    for event in &mut stack.events[first..] {
        event.timestamp = start + offset;
        offset += step;
    }
    let latest: BTreeMap<String, OffsetDateTime> = stack.events[first..]
        .iter()
        .filter(|event| event.resource_type != STACK_TYPE)
        .map(|event| (event.logical_id.clone(), event.timestamp))
        .collect();
    for (logical_id, (_, time)) in stack.resource_status.iter_mut() {
        if let Some(latest) = latest.get(logical_id) {
            *time = *latest;
        }
    }
}

/// Brings the sandbox's record of a stack, and the resources moto skips, in line with an
/// operation moto completed.
pub async fn apply(
    app: &App,
    scope: &CredentialScope,
    stack_id: &str,
    operation: Operation,
    applied: Option<Applied>,
) -> Result<(), Error> {
    let Some(mut stack) = app.cloudformation.lock().stacks.get(stack_id).cloned() else {
        return Ok(());
    };
    let first_event = stack.events.len();
    match (operation, applied) {
        (Operation::Delete, _) => delete(app, scope, &mut stack).await,
        (operation, Some(applied)) => {
            create_or_update(app, scope, &mut stack, operation, applied).await?
        }
        (_, None) => return Ok(()),
    }
    spread_events(&mut stack, first_event, app.options.operation_duration);
    stack.last_updated = OffsetDateTime::now_utc();
    app.cloudformation
        .lock()
        .stacks
        .insert(stack_id.to_owned(), stack);
    Ok(())
}

async fn delete(app: &App, scope: &CredentialScope, stack: &mut StackRecord) {
    for (logical_id, emulated) in &stack.emulated {
        if emulated.resource_type != TOPIC_RULE_TYPE {
            continue;
        }
        if let Err(error) = moto_calls::delete_topic_rule(app, scope, &emulated.physical_id).await {
            tracing::error!(%error, stack = %stack.name, %logical_id, "failed to delete a topic rule");
        }
    }

    push_stack_event(stack, "DELETE_IN_PROGRESS", Some("User Initiated"));
    let mut order = template::dependency_order(&stack.resources);
    order.reverse();
    for logical_id in order {
        let Some(deployed) = stack.deployed.get(&logical_id).cloned() else {
            continue;
        };
        for status in ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"] {
            push_event(
                stack,
                &logical_id,
                &deployed.physical_id,
                &deployed.resource_type,
                status,
                None,
            );
        }
    }
    push_stack_event(stack, "DELETE_COMPLETE", None);
    stack.deleted = true;
    stack.deployed.clear();
    stack.emulated.clear();
    tracing::info!(stack = %stack.name, "stack deleted");
}

async fn create_or_update(
    app: &App,
    scope: &CredentialScope,
    stack: &mut StackRecord,
    operation: Operation,
    applied: Applied,
) -> Result<(), Error> {
    let no_resources = BTreeMap::new();
    let new_resources = Context::new(
        &applied.template,
        &applied.parameters,
        &stack.pseudo,
        &no_resources,
    )
    .resources();
    let moto_rows = moto_calls::stack_resources(app, scope, &stack.stack_id).await?;

    let mut deployed = BTreeMap::new();
    let mut emulated = BTreeMap::new();
    for (logical_id, resource) in &new_resources {
        let from_moto = moto_rows
            .iter()
            .find(|row| {
                &row.logical_id == logical_id && row.resource_type == resource.resource_type
            })
            .and_then(|row| row.physical_id.clone());
        let physical_id = match from_moto {
            Some(id) => id,
            None => {
                let id = match applied.rule_names.get(logical_id) {
                    Some(name) => name.clone(),
                    None => emulated_physical_id(stack, logical_id, resource),
                };
                emulated.insert(
                    logical_id.clone(),
                    EmulatedResource {
                        resource_type: resource.resource_type.clone(),
                        physical_id: id.clone(),
                    },
                );
                id
            }
        };
        deployed.insert(
            logical_id.clone(),
            Deployed {
                resource_type: resource.resource_type.clone(),
                physical_id,
            },
        );
    }

    sync_topic_rules(app, scope, stack, &applied, &deployed, &emulated).await?;
    sync_event_invoke_configs(app, scope, stack, &applied, &deployed).await?;
    record_events(stack, operation, &new_resources, &deployed);

    stack.body = applied.body;
    stack.template = applied.template;
    stack.parameters = applied.parameters;
    stack.resources = new_resources;
    stack.deployed = deployed;
    stack.emulated = emulated;
    tracing::info!(stack = %stack.name, ?operation, "stack operation applied");
    Ok(())
}

/// Returns the physical ID of a resource moto did not report: the name its properties give,
/// the one the sandbox chose before, or a new generated one.
fn emulated_physical_id(stack: &StackRecord, logical_id: &str, resource: &Resource) -> String {
    let named = match resource.resource_type.as_str() {
        TOPIC_RULE_TYPE => resource.properties.get("RuleName"),
        JOB_TEMPLATE_TYPE => resource.properties.get("JobTemplateId"),
        _ => None,
    };
    if let Some(Value::String(name)) = named {
        return name.clone();
    }
    if let Some(previous) = stack.emulated.get(logical_id)
        && previous.resource_type == resource.resource_type
    {
        return previous.physical_id.clone();
    }
    generate_physical_id(&stack.name, logical_id, &resource.resource_type)
}

fn generate_physical_id(stack_name: &str, logical_id: &str, resource_type: &str) -> String {
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_uppercase()
        .chars()
        .take(12)
        .collect();
    if resource_type == TOPIC_RULE_TYPE {
        // Topic rule names allow only letters, digits and underscores.
        format!("{logical_id}_{suffix}")
    } else {
        format!("{stack_name}-{logical_id}-{suffix}")
    }
}

/// Creates or replaces every topic rule of the template in moto's IoT, and deletes the ones
/// the template no longer has.
async fn sync_topic_rules(
    app: &App,
    scope: &CredentialScope,
    stack: &StackRecord,
    applied: &Applied,
    deployed: &BTreeMap<String, Deployed>,
    emulated: &BTreeMap<String, EmulatedResource>,
) -> Result<(), Error> {
    let context = Context::new(
        &applied.template,
        &applied.parameters,
        &stack.pseudo,
        deployed,
    );
    for (logical_id, resource) in context.resources() {
        if resource.resource_type != TOPIC_RULE_TYPE {
            continue;
        }
        let Some(name) = emulated
            .get(&logical_id)
            .map(|rule| rule.physical_id.clone())
        else {
            continue;
        };
        let payload = resource
            .properties
            .get("TopicRulePayload")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        if template::contains_intrinsic(&payload) {
            tracing::warn!(stack = %stack.name, %logical_id, "topic rule payload has unresolved references");
        }
        moto_calls::put_topic_rule(app, scope, &name, &camel_case_keys(&payload)).await?;
    }
    for (logical_id, previous) in &stack.emulated {
        let kept = emulated
            .get(logical_id)
            .is_some_and(|rule| rule.physical_id == previous.physical_id);
        if previous.resource_type == TOPIC_RULE_TYPE && !kept {
            moto_calls::delete_topic_rule(app, scope, &previous.physical_id).await?;
        }
    }
    Ok(())
}

/// Puts every `AWS::Lambda::EventInvokeConfig` of the template into moto's Lambda, which moto's
/// CloudFormation skips, and removes the ones the template no longer has. A deleted stack's
/// functions take their settings with them, so deletion needs nothing here.
async fn sync_event_invoke_configs(
    app: &App,
    scope: &CredentialScope,
    stack: &StackRecord,
    applied: &Applied,
    deployed: &BTreeMap<String, Deployed>,
) -> Result<(), Error> {
    let context = Context::new(
        &applied.template,
        &applied.parameters,
        &stack.pseudo,
        deployed,
    );
    let current = context.resources();
    for resource in current.values() {
        if resource.resource_type != EVENT_INVOKE_CONFIG_TYPE {
            continue;
        }
        let Some((function_name, qualifier, config)) = event_invoke_config(&resource.properties)
        else {
            tracing::warn!(stack = %stack.name, "event invoke config without FunctionName or Qualifier");
            continue;
        };
        moto_calls::put_event_invoke_config(app, scope, &function_name, &qualifier, &config)
            .await?;
    }
    let previous = Context::new(
        &stack.template,
        &stack.parameters,
        &stack.pseudo,
        &stack.deployed,
    );
    for (logical_id, resource) in previous.resources() {
        if resource.resource_type != EVENT_INVOKE_CONFIG_TYPE || current.contains_key(&logical_id) {
            continue;
        }
        if let Some((function_name, qualifier, _)) = event_invoke_config(&resource.properties) {
            moto_calls::delete_event_invoke_config(app, scope, &function_name, &qualifier).await?;
        }
    }
    Ok(())
}

/// Splits `AWS::Lambda::EventInvokeConfig` properties into the function, the qualifier and the
/// request body of `PutFunctionEventInvokeConfig`, whose field names match the properties.
fn event_invoke_config(properties: &Value) -> Option<(String, String, Value)> {
    let function_name = properties.get("FunctionName")?.as_str()?.to_owned();
    let qualifier = properties.get("Qualifier")?.as_str()?.to_owned();
    let mut config = properties.as_object()?.clone();
    config.remove("FunctionName");
    config.remove("Qualifier");
    // A value from a Number parameter arrives as a string; the API takes integers.
    for key in ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"] {
        if let Some(Value::String(text)) = config.get(key)
            && let Ok(number) = text.parse::<u64>()
        {
            config.insert(key.to_owned(), Value::from(number));
        }
    }
    Some((function_name, qualifier, Value::Object(config)))
}

/// Converts CloudFormation's PascalCase property names to the IoT API's camelCase.
fn camel_case_keys(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, inner)| {
                    let mut characters = key.chars();
                    let camel = match characters.next() {
                        Some(first) => first.to_lowercase().chain(characters).collect(),
                        None => String::new(),
                    };
                    (camel, camel_case_keys(inner))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel_case_keys).collect()),
        other => other.clone(),
    }
}

fn record_events(
    stack: &mut StackRecord,
    operation: Operation,
    new_resources: &BTreeMap<String, Resource>,
    deployed: &BTreeMap<String, Deployed>,
) {
    let (prefix, reason) = match operation {
        Operation::Create => ("CREATE", "User Initiated"),
        _ => ("UPDATE", "User Initiated"),
    };
    push_stack_event(stack, &format!("{prefix}_IN_PROGRESS"), Some(reason));
    let old_resources = stack.resources.clone();
    let old_deployed = stack.deployed.clone();
    let mut cleanup = Vec::new();

    for logical_id in template::dependency_order(new_resources) {
        let resource = &new_resources[&logical_id];
        let physical_id = deployed[&logical_id].physical_id.clone();
        let resource_type = resource.resource_type.as_str();
        let previous = old_resources.get(&logical_id);
        let previous_physical = old_deployed.get(&logical_id);
        match (previous, previous_physical) {
            (Some(previous), Some(previous_physical))
                if previous.resource_type == resource.resource_type
                    && previous_physical.physical_id == physical_id =>
            {
                if previous.properties != resource.properties {
                    push_event(
                        stack,
                        &logical_id,
                        &physical_id,
                        resource_type,
                        "UPDATE_IN_PROGRESS",
                        None,
                    );
                    push_event(
                        stack,
                        &logical_id,
                        &physical_id,
                        resource_type,
                        "UPDATE_COMPLETE",
                        None,
                    );
                }
            }
            (Some(_), Some(previous_physical)) => {
                let old_id = previous_physical.physical_id.clone();
                push_event(
                    stack,
                    &logical_id,
                    &old_id,
                    resource_type,
                    "UPDATE_IN_PROGRESS",
                    Some(REPLACEMENT_REASON),
                );
                push_event(
                    stack,
                    &logical_id,
                    &physical_id,
                    resource_type,
                    "UPDATE_IN_PROGRESS",
                    Some("Resource creation Initiated"),
                );
                push_event(
                    stack,
                    &logical_id,
                    &physical_id,
                    resource_type,
                    "UPDATE_COMPLETE",
                    None,
                );
                cleanup.push((logical_id.clone(), previous_physical.clone()));
            }
            _ => {
                push_event(
                    stack,
                    &logical_id,
                    "",
                    resource_type,
                    "CREATE_IN_PROGRESS",
                    None,
                );
                push_event(
                    stack,
                    &logical_id,
                    &physical_id,
                    resource_type,
                    "CREATE_IN_PROGRESS",
                    Some("Resource creation Initiated"),
                );
                push_event(
                    stack,
                    &logical_id,
                    &physical_id,
                    resource_type,
                    "CREATE_COMPLETE",
                    None,
                );
            }
        }
    }

    if operation == Operation::Create {
        push_stack_event(stack, "CREATE_COMPLETE", None);
        return;
    }
    let mut removed: Vec<String> = template::dependency_order(&old_resources)
        .into_iter()
        .filter(|logical_id| !new_resources.contains_key(logical_id))
        .collect();
    removed.reverse();
    for logical_id in removed {
        if let Some(previous) = old_deployed.get(&logical_id) {
            cleanup.push((logical_id, previous.clone()));
        }
    }
    push_stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
    for (logical_id, previous) in cleanup {
        push_event(
            stack,
            &logical_id,
            &previous.physical_id,
            &previous.resource_type,
            "DELETE_IN_PROGRESS",
            None,
        );
        push_event(
            stack,
            &logical_id,
            &previous.physical_id,
            &previous.resource_type,
            "DELETE_COMPLETE",
            None,
        );
        if !new_resources.contains_key(&logical_id) {
            stack.resource_status.remove(&logical_id);
        } else if deployed.contains_key(&logical_id) {
            // The replacement's last event is UPDATE_COMPLETE, not the old copy's deletion.
            let time = stack
                .events
                .last()
                .map(|event| event.timestamp)
                .unwrap_or(stack.last_updated);
            stack
                .resource_status
                .insert(logical_id.clone(), ("UPDATE_COMPLETE".to_owned(), time));
        }
    }
    push_stack_event(stack, "UPDATE_COMPLETE", None);
}

/// Returns moto's `DescribeStacks` XML with the outputs of the sandbox's stacks put in, and
/// the status of an operation that still shows as in progress, or `None` when no stack in it
/// is one of the sandbox's. moto 5.2.5 leaves the outputs of a stack made by a change set
/// empty, and keeps stale ones after an update by change set.
pub fn patch_describe_stacks(document: &str, records: &Records) -> Option<String> {
    let parsed = roxmltree::Document::parse(document).ok()?;
    let now = OffsetDateTime::now_utc();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for member in parsed.descendants().filter(|node| {
        node.has_tag_name("member")
            && node
                .parent()
                .is_some_and(|parent| parent.has_tag_name("Stacks"))
    }) {
        let Some(stack_id) = child_text(member, "StackId") else {
            continue;
        };
        let Some(stack) = records.stacks.get(&stack_id) else {
            continue;
        };
        if stack.in_progress(now)
            && let Some(status) = stack.visible_status(now)
            && let Some(node) = member
                .children()
                .find(|node| node.has_tag_name("StackStatus"))
        {
            let mut writer = XmlWriter::new();
            writer.element("StackStatus", status);
            edits.push((node.range().start, node.range().end, writer.finish()));
        }
        if stack.deleted || stack.body.is_empty() {
            continue;
        }
        let existing = member.children().find(|node| node.has_tag_name("Outputs"));
        let moto_values: BTreeMap<String, String> = existing
            .map(|outputs| {
                outputs
                    .children()
                    .filter(|node| node.has_tag_name("member"))
                    .filter_map(|node| {
                        Some((
                            child_text(node, "OutputKey")?,
                            child_text(node, "OutputValue")?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let xml = outputs_xml(stack, &moto_values);
        match existing {
            Some(node) => edits.push((node.range().start, node.range().end, xml)),
            None => {
                let end = member.range().end - "</member>".len();
                edits.push((end, end, xml));
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|edit| std::cmp::Reverse(edit.0));
    let mut out = document.to_owned();
    for (start, end, text) in edits {
        out.replace_range(start..end, &text);
    }
    Some(out)
}

fn outputs_xml(stack: &StackRecord, moto_values: &BTreeMap<String, String>) -> String {
    let context = Context::new(
        &stack.template,
        &stack.parameters,
        &stack.pseudo,
        &stack.deployed,
    );
    let mut writer = XmlWriter::new();
    writer.open("Outputs");
    for output in context.outputs() {
        let Some(value) = output
            .value
            .or_else(|| moto_values.get(&output.key).cloned())
        else {
            tracing::warn!(stack = %stack.name, output = %output.key, "output value could not be resolved");
            continue;
        };
        writer
            .open("member")
            .element("OutputKey", &output.key)
            .element("OutputValue", &value)
            .optional("Description", output.description.as_deref())
            .optional("ExportName", output.export_name.as_deref())
            .close("member");
    }
    writer.close("Outputs");
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(resource_type: &str, properties: Value) -> Resource {
        Resource {
            resource_type: resource_type.to_owned(),
            properties,
            dependencies: Default::default(),
        }
    }

    #[test]
    fn changes_list_add_modify_and_remove() {
        let old = BTreeMap::from([
            ("Kept".to_owned(), resource("AWS::SNS::Topic", json!({}))),
            (
                "Function".to_owned(),
                resource("AWS::Lambda::Function", json!({"Timeout": 3})),
            ),
            (
                "Template".to_owned(),
                resource(JOB_TEMPLATE_TYPE, json!({"JobTemplateId": "a"})),
            ),
            ("Gone".to_owned(), resource("AWS::SNS::Topic", json!({}))),
        ]);
        let new = BTreeMap::from([
            ("Kept".to_owned(), resource("AWS::SNS::Topic", json!({}))),
            (
                "Function".to_owned(),
                resource("AWS::Lambda::Function", json!({"Timeout": 5})),
            ),
            (
                "Template".to_owned(),
                resource(JOB_TEMPLATE_TYPE, json!({"JobTemplateId": "b"})),
            ),
            ("Added".to_owned(), resource("AWS::SNS::Topic", json!({}))),
        ]);
        let deployed = BTreeMap::from([(
            "Function".to_owned(),
            Deployed {
                resource_type: "AWS::Lambda::Function".to_owned(),
                physical_id: "fn-1".to_owned(),
            },
        )]);
        let changes = changes(&old, &deployed, &new);
        let summary: Vec<(&str, &str, Option<&str>)> = changes
            .iter()
            .map(|change| {
                (
                    change.action,
                    change.logical_id.as_str(),
                    change.replacement,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Add", "Added", None),
                ("Modify", "Function", Some("False")),
                ("Modify", "Template", Some("True")),
                ("Remove", "Gone", None),
            ]
        );
        assert_eq!(changes[1].physical_id.as_deref(), Some("fn-1"));
        assert_eq!(
            changes[1].changed_properties,
            [("Timeout".to_owned(), false)]
        );
    }

    #[test]
    fn moto_copy_names_rules_and_job_templates() {
        let template = json!({
            "Parameters": {"Rollout": {"Type": "Number", "Default": 100}},
            "Resources": {
                "Rule": {"Type": TOPIC_RULE_TYPE, "Properties": {}},
                "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
                    "SourceArn": {"Fn::Sub": "arn:aws:iot:${AWS::Region}:1:rule/${Rule}"},
                    "Other": {"Ref": "Rule"},
                    "Arn": {"Fn::GetAtt": ["Rule", "Arn"]},
                }},
                "Template": {"Type": JOB_TEMPLATE_TYPE, "Properties": {
                    "JobTemplateId": {"Fn::Sub": "${AWS::StackName}-rotate-${Rollout}"},
                }},
            },
        });
        let parameters = BTreeMap::from([("Rollout".to_owned(), "100".to_owned())]);
        let pseudo = super::super::template::Pseudo {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            partition: "aws".to_owned(),
            stack_name: "demo".to_owned(),
            stack_id: String::new(),
        };
        let deployed = BTreeMap::new();
        let context = Context::new(&template, &parameters, &pseudo, &deployed);
        let names = rule_names(&context, &BTreeMap::new());
        let rule = names["Rule"].clone();
        assert!(rule.starts_with("Rule_"), "{rule}");

        let rewritten = rewrite_for_moto(&template, &context, &names).expect("rewritten");
        let rewritten: Value = serde_json::from_str(&rewritten).expect("JSON");
        let permission = &rewritten["Resources"]["Permission"]["Properties"];
        assert_eq!(
            permission["SourceArn"],
            json!({"Fn::Sub": format!("arn:aws:iot:${{AWS::Region}}:1:rule/{rule}")})
        );
        assert_eq!(permission["Other"], json!(rule));
        assert_eq!(
            permission["Arn"],
            json!(format!("arn:aws:iot:us-east-1:123456789012:rule/{rule}"))
        );
        assert_eq!(
            rewritten["Resources"]["Template"]["Properties"]["JobTemplateId"],
            "demo-rotate-100"
        );
    }

    #[test]
    fn camel_case_matches_iot_api() {
        let payload = json!({"Sql": "SELECT 1", "AwsIotSqlVersion": "2016-03-23",
            "Actions": [{"Lambda": {"FunctionArn": "arn"}}]});
        assert_eq!(
            camel_case_keys(&payload),
            json!({"sql": "SELECT 1", "awsIotSqlVersion": "2016-03-23",
                "actions": [{"lambda": {"functionArn": "arn"}}]})
        );
    }
}
