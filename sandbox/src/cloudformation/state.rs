//! The sandbox's records of stacks and change sets, beyond moto's own.

use std::collections::BTreeMap;

use serde_json::Value;
use time::OffsetDateTime;

use super::template::{Deployed, Pseudo, Resource};

/// One stack event, as `DescribeStackEvents` returns it.
#[derive(Clone, Debug)]
pub struct StackEvent {
    pub event_id: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub timestamp: OffsetDateTime,
}

/// A resource the sandbox created itself because moto's CloudFormation skips its type.
#[derive(Clone, Debug)]
pub struct EmulatedResource {
    pub resource_type: String,
    pub physical_id: String,
}

/// A stack that was created through the sandbox.
#[derive(Clone, Debug)]
pub struct StackRecord {
    pub stack_id: String,
    pub name: String,
    pub pseudo: Pseudo,
    /// The template body as the caller sent it (moto may hold a rewritten copy).
    pub body: String,
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
    /// Resources of the last completed operation, resolved without physical IDs.
    pub resources: BTreeMap<String, Resource>,
    /// Physical IDs and types of the deployed resources, by logical ID.
    pub deployed: BTreeMap<String, Deployed>,
    /// Status and time of each deployed resource's last event.
    pub resource_status: BTreeMap<String, (String, OffsetDateTime)>,
    /// Resources of types moto skips, created by the sandbox, by logical ID.
    pub emulated: BTreeMap<String, EmulatedResource>,
    /// Oldest first.
    pub events: Vec<StackEvent>,
    pub deleted: bool,
    pub last_updated: OffsetDateTime,
}

/// A change set that was created through the sandbox.
#[derive(Clone, Debug)]
pub struct ChangeSetRecord {
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    pub change_set_type: String,
    pub description: Option<String>,
    pub body: String,
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub status: String,
    pub status_reason: Option<String>,
    pub execution_status: String,
    pub changes: Vec<Change>,
    /// Topic rule names by logical ID, chosen when the change set was created.
    pub rule_names: BTreeMap<String, String>,
    pub created: OffsetDateTime,
    /// Whether moto has this change set too. The "no changes" ones exist only here.
    pub in_moto: bool,
}

/// One resource change of a change set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub action: &'static str,
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    /// `True`, `False` or `Conditional`; only for `Modify`.
    pub replacement: Option<&'static str>,
    /// Names of the top-level properties that differ; only for `Modify`.
    pub changed_properties: Vec<(String, bool)>,
}

/// All CloudFormation state of the sandbox.
#[derive(Debug, Default)]
pub struct Records {
    pub stacks: BTreeMap<String, StackRecord>,
    pub change_sets: BTreeMap<String, ChangeSetRecord>,
}

impl StackRecord {
    /// Creates the record of a stack that has no template applied yet.
    pub fn new(stack_id: String, name: String, pseudo: Pseudo) -> Self {
        Self {
            stack_id,
            name,
            pseudo,
            body: String::new(),
            template: Value::Null,
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            deployed: BTreeMap::new(),
            resource_status: BTreeMap::new(),
            emulated: BTreeMap::new(),
            events: Vec::new(),
            deleted: false,
            last_updated: OffsetDateTime::now_utc(),
        }
    }

    /// Returns whether some of the last operation's events still lie in the future, so that
    /// the operation shows as in progress.
    pub fn in_progress(&self, now: OffsetDateTime) -> bool {
        self.events
            .last()
            .is_some_and(|event| event.timestamp > now)
    }

    /// Returns the stack status as of `now`: the newest stack-level event that has happened.
    pub fn visible_status(&self, now: OffsetDateTime) -> Option<&str> {
        self.events
            .iter()
            .rev()
            .filter(|event| event.timestamp <= now)
            .find(|event| event.logical_id == self.name && event.physical_id == self.stack_id)
            .map(|event| event.status.as_str())
    }
}

impl Records {
    /// Adds a new stack. Any other live record with the same name is stale (moto was reset
    /// behind the sandbox's back) and is marked deleted, so that names stay unique.
    pub fn insert_stack(&mut self, stack: StackRecord) {
        for other in self.stacks.values_mut() {
            if other.name == stack.name && other.stack_id != stack.stack_id {
                other.deleted = true;
            }
        }
        self.stacks.insert(stack.stack_id.clone(), stack);
    }

    /// Finds a stack by ID (deleted ones too) or by name (live ones, and deleted ones whose
    /// deletion still shows as in progress), as AWS does.
    pub fn stack(&self, name_or_id: &str) -> Option<&StackRecord> {
        let now = OffsetDateTime::now_utc();
        self.stacks.get(name_or_id).or_else(|| {
            self.stacks.values().find(|stack| {
                stack.name == name_or_id && (!stack.deleted || stack.in_progress(now))
            })
        })
    }

    /// Finds a change set by ARN, or by name within a stack given by name or ID.
    pub fn change_set(&self, name_or_id: &str, stack: Option<&str>) -> Option<&ChangeSetRecord> {
        if let Some(record) = self.change_sets.get(name_or_id) {
            return Some(record);
        }
        let stack_id = self.stack(stack?)?.stack_id.clone();
        self.change_sets
            .values()
            .find(|record| record.name == name_or_id && record.stack_id == stack_id)
    }
}
