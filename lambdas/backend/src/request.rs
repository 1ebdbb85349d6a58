//! Parsing of the events the create and commit rules send: the device's JSON payload plus the
//! fields the rule SQL adds (`thingName`, `topic`, `clientId`, `principal`).

use rotator_protocol::Topics;

use crate::error::{BackendError, Result};

/// Maximum length of an AWS IoT job ID.
const MAX_JOB_ID_LEN: usize = 64;

/// The rule an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Create,
    Commit,
}

/// A rule event whose thing name is usable, so a reply topic exists. Problems with the other
/// fields are kept for `checked`, which turns them into a rejection.
#[derive(Debug, Clone)]
pub struct ParsedRequest {
    pub topics: Topics,
    pub job_id: String,
    pub csr: Option<String>,
    pub principal: String,
    client_id: String,
    topic: String,
    kind: RequestKind,
    problem: Option<BackendError>,
}

/// Reads a rule event. Fails only when the event names no valid thing, because then there is no
/// topic to reply on.
pub fn parse_request(
    event: &serde_json::Value,
    topic_prefix: &str,
    kind: RequestKind,
) -> Result<ParsedRequest> {
    let mut problem = None;
    let mut text = |name: &str| match string_field(event, name) {
        Ok(value) => value.unwrap_or_default(),
        Err(error) => {
            problem.get_or_insert(error);
            String::new()
        }
    };

    let thing = text("thingName");
    let topics = Topics::new(topic_prefix, &thing).map_err(|error| {
        BackendError::invalid_request(format!("cannot reply to the event: {error}"))
    })?;
    let job_id = text("jobId");
    let topic = text("topic");
    let client_id = text("clientId");
    let principal = text("principal");
    let csr = match kind {
        RequestKind::Create => string_field(event, "csr").unwrap_or_else(|error| {
            problem.get_or_insert(error);
            None
        }),
        RequestKind::Commit => None,
    };

    Ok(ParsedRequest {
        topics,
        job_id,
        csr,
        principal,
        client_id,
        topic,
        kind,
        problem,
    })
}

impl ParsedRequest {
    /// Checks the fields that need no AWS call: all present and strings, the topic is this
    /// thing's, the client ID starts with the thing name, and the job ID is one AWS IoT allows.
    pub fn checked(&self) -> Result<()> {
        if let Some(problem) = &self.problem {
            return Err(problem.clone());
        }
        let thing = self.topics.thing();
        for (name, value) in [
            ("jobId", &self.job_id),
            ("topic", &self.topic),
            ("clientId", &self.client_id),
            ("principal", &self.principal),
        ] {
            if value.is_empty() {
                return Err(BackendError::invalid_request(format!(
                    "missing field \"{name}\""
                )));
            }
        }

        let expected = match self.kind {
            RequestKind::Create => self.topics.create(),
            RequestKind::Commit => self.topics.commit(),
        };
        if self.topic != expected {
            return Err(BackendError::invalid_request(format!(
                "the request arrived on topic {:?}, expected {expected:?}; check that the \
                 device and the backend use the same topic prefix",
                self.topic
            )));
        }
        if !self.client_id.starts_with(thing) {
            return Err(BackendError::precondition(format!(
                "client ID {:?} does not start with the thing name {thing:?}",
                self.client_id
            )));
        }
        let valid_job_id = self.job_id.len() <= MAX_JOB_ID_LEN
            && self
                .job_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !valid_job_id {
            return Err(BackendError::invalid_request(format!(
                "invalid job ID {:?}: AWS IoT job IDs are 1 to {MAX_JOB_ID_LEN} letters, \
                 digits, '-' or '_'",
                self.job_id
            )));
        }
        Ok(())
    }
}

fn string_field(event: &serde_json::Value, name: &str) -> Result<Option<String>> {
    match event.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(BackendError::invalid_request(format!(
            "invalid field \"{name}\": expected a string, found {}",
            json_type(other)
        ))),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        json!({
            "jobId": "job-1",
            "csr": "PEM",
            "thingName": "core-1",
            "topic": "awslabs/things/core-1/certificate/create",
            "clientId": "core-1",
            "principal": "abc",
        })
    }

    #[test]
    fn complete_event_passes() {
        let request = parse_request(&event(), "awslabs", RequestKind::Create).unwrap();
        assert!(request.checked().is_ok());
        assert_eq!(request.csr.as_deref(), Some("PEM"));
    }

    #[test]
    fn event_without_thing_has_no_reply_topic() {
        let mut event = event();
        event.as_object_mut().unwrap().remove("thingName");
        assert!(parse_request(&event, "awslabs", RequestKind::Create).is_err());
    }

    #[test]
    fn bad_fields_are_rejected() {
        let cases = [
            ("jobId", json!(null), "missing field \"jobId\""),
            (
                "jobId",
                json!(7),
                "invalid field \"jobId\": expected a string, found a number",
            ),
            ("principal", json!(""), "missing field \"principal\""),
            ("csr", json!({"pem": 1}), "invalid field \"csr\""),
            (
                "topic",
                json!("other/things/core-1/certificate/create"),
                "arrived on topic",
            ),
            (
                "clientId",
                json!("core-2"),
                "does not start with the thing name",
            ),
            ("jobId", json!("job/1"), "invalid job ID"),
        ];
        for (field, value, expected) in cases {
            let mut event = event();
            event[field] = value;
            let request = parse_request(&event, "awslabs", RequestKind::Create).unwrap();
            let error = request.checked().unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{field}: {error} should contain {expected:?}"
            );
        }
    }
}
