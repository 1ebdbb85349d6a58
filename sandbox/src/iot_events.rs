//! AWS IoT event configurations (`DescribeEventConfigurations`, `UpdateEventConfigurations`),
//! which moto 5.2.5 does not implement (it returns HTTP 500).
//!
//! The state is kept in memory per account and region. Every event type starts disabled, as
//! in a new AWS account.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::{Value, json};
use time::OffsetDateTime;

/// The event types of the AWS IoT `EventType` enum (aws-sdk-iot 1.84).
pub const EVENT_TYPES: [&str; 11] = [
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
];

/// Event configurations of one account in one region.
#[derive(Clone, Debug)]
struct AccountEvents {
    enabled: BTreeMap<&'static str, bool>,
    created: OffsetDateTime,
    last_modified: OffsetDateTime,
}

impl AccountEvents {
    fn new() -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            enabled: EVENT_TYPES.iter().map(|name| (*name, false)).collect(),
            created: now,
            last_modified: now,
        }
    }
}

/// A rejected update, returned to the caller as `InvalidRequestException`.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidRequest(pub String);

/// Event configurations of every account and region the sandbox has seen.
#[derive(Debug, Default)]
pub struct EventConfigurations {
    accounts: Mutex<HashMap<(String, String), AccountEvents>>,
}

impl EventConfigurations {
    /// Returns the `DescribeEventConfigurations` response body.
    pub fn describe(&self, account: &str, region: &str) -> Value {
        let mut accounts = self.accounts.lock().expect("event configuration lock");
        let events = accounts
            .entry((account.to_owned(), region.to_owned()))
            .or_insert_with(AccountEvents::new);
        let configurations: serde_json::Map<String, Value> = events
            .enabled
            .iter()
            .map(|(name, enabled)| ((*name).to_owned(), json!({ "Enabled": enabled })))
            .collect();
        json!({
            "eventConfigurations": configurations,
            "creationDate": epoch_seconds(events.created),
            "lastModifiedDate": epoch_seconds(events.last_modified),
        })
    }

    /// Forgets every account's configuration, for when moto's own state is reset.
    pub fn clear(&self) {
        self.accounts
            .lock()
            .expect("event configuration lock")
            .clear();
    }

    /// Applies an `UpdateEventConfigurations` request body. Nothing changes when any entry is
    /// invalid, as with the real API.
    pub fn update(&self, account: &str, region: &str, body: &[u8]) -> Result<(), InvalidRequest> {
        let request: Value = serde_json::from_slice(body)
            .map_err(|error| InvalidRequest(format!("invalid JSON request body: {error}")))?;
        let changes = parse_update(&request)?;
        let mut accounts = self.accounts.lock().expect("event configuration lock");
        let events = accounts
            .entry((account.to_owned(), region.to_owned()))
            .or_insert_with(AccountEvents::new);
        for (name, enabled) in changes {
            events.enabled.insert(name, enabled);
        }
        events.last_modified = OffsetDateTime::now_utc();
        Ok(())
    }
}

fn parse_update(request: &Value) -> Result<Vec<(&'static str, bool)>, InvalidRequest> {
    let Some(configurations) = request.get("eventConfigurations") else {
        return Ok(Vec::new());
    };
    let configurations = configurations
        .as_object()
        .ok_or_else(|| InvalidRequest("eventConfigurations must be an object".to_owned()))?;
    let mut changes = Vec::new();
    for (name, configuration) in configurations {
        let event_type = EVENT_TYPES
            .iter()
            .find(|known| *known == name)
            .ok_or_else(|| {
                InvalidRequest(format!(
                    "invalid event type {name}: expected one of {}",
                    EVENT_TYPES.join(", ")
                ))
            })?;
        let enabled = match configuration.get("Enabled") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(enabled)) => *enabled,
            Some(other) => {
                return Err(InvalidRequest(format!(
                    "invalid Enabled value {other} for event type {name}: expected a boolean"
                )));
            }
        };
        changes.push((*event_type, enabled));
    }
    Ok(changes)
}

/// REST-JSON timestamps are epoch seconds with a fraction.
fn epoch_seconds(time: OffsetDateTime) -> f64 {
    time.unix_timestamp_nanos() as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_starts_disabled() {
        let state = EventConfigurations::default();
        let body = state.describe("123456789012", "us-east-1");
        let configurations = body["eventConfigurations"].as_object().expect("object");
        assert_eq!(configurations.len(), EVENT_TYPES.len());
        assert!(
            configurations
                .values()
                .all(|value| value["Enabled"] == json!(false))
        );
        assert!(body["creationDate"].is_f64());
    }

    #[test]
    fn update_is_per_account_and_region() {
        let state = EventConfigurations::default();
        let body = br#"{"eventConfigurations":{"JOB_EXECUTION":{"Enabled":true}}}"#;
        state
            .update("123456789012", "us-east-1", body)
            .expect("valid update");
        let same = state.describe("123456789012", "us-east-1");
        assert_eq!(
            same["eventConfigurations"]["JOB_EXECUTION"]["Enabled"],
            true
        );
        assert_eq!(same["eventConfigurations"]["JOB"]["Enabled"], false);
        let other_region = state.describe("123456789012", "eu-west-1");
        assert_eq!(
            other_region["eventConfigurations"]["JOB_EXECUTION"]["Enabled"],
            false
        );
        let other_account = state.describe("111122223333", "us-east-1");
        assert_eq!(
            other_account["eventConfigurations"]["JOB_EXECUTION"]["Enabled"],
            false
        );
    }

    #[test]
    fn unknown_type_changes_nothing() {
        let state = EventConfigurations::default();
        let body = br#"{"eventConfigurations":{"JOB":{"Enabled":true},"NOPE":{"Enabled":true}}}"#;
        let error = state
            .update("123456789012", "us-east-1", body)
            .expect_err("unknown type");
        assert!(error.0.contains("NOPE"), "{}", error.0);
        let after = state.describe("123456789012", "us-east-1");
        assert_eq!(after["eventConfigurations"]["JOB"]["Enabled"], false);
    }

    #[test]
    fn non_boolean_enabled_is_rejected() {
        let state = EventConfigurations::default();
        let body = br#"{"eventConfigurations":{"JOB":{"Enabled":"yes"}}}"#;
        assert!(state.update("123456789012", "us-east-1", body).is_err());
    }
}
