//! MQTT topic names for the rotation protocol and the AWS IoT Jobs MQTT API.

use crate::ProtocolError;

/// Topic prefix used by the reference implementation; both sides default to it.
pub const DEFAULT_TOPIC_PREFIX: &str = "awslabs";

/// Maximum length of an AWS IoT thing name.
const MAX_THING_NAME_LEN: usize = 128;

/// Maximum length of an MQTT topic name in AWS IoT Core, in bytes.
const MAX_TOPIC_LEN: usize = 256;

/// The longest topic below the prefix: `/things/<thing>/certificate/commit/accepted` with a
/// thing name of the maximum length.
const LONGEST_TOPIC_SUFFIX_LEN: usize =
    "/things/".len() + MAX_THING_NAME_LEN + "/certificate/commit/accepted".len();

/// Maximum topic prefix length, so that every topic of every thing fits in [`MAX_TOPIC_LEN`].
pub const MAX_TOPIC_PREFIX_LEN: usize = MAX_TOPIC_LEN - LONGEST_TOPIC_SUFFIX_LEN;

/// Checks a topic prefix: exactly one topic level of 1 to [`MAX_TOPIC_PREFIX_LEN`] letters,
/// digits, `-`, `_` or `.`.
///
/// One level only, because the rule SQL reads the thing name with `topic(3)` from
/// `<prefix>/things/<thing>/...`. Wildcards and `$` (reserved by AWS) are rejected too.
pub fn validate_topic_prefix(prefix: &str) -> Result<(), ProtocolError> {
    let valid = !prefix.is_empty()
        && prefix.len() <= MAX_TOPIC_PREFIX_LEN
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(ProtocolError::InvalidTopicPrefix(prefix.to_owned()))
    }
}

/// Checks a thing name against the character set and length AWS IoT accepts.
pub fn validate_thing_name(thing: &str) -> Result<(), ProtocolError> {
    let valid = !thing.is_empty()
        && thing.len() <= MAX_THING_NAME_LEN
        && thing
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ProtocolError::InvalidThingName(thing.to_owned()))
    }
}

/// The topics one thing uses, for a given prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    thing: String,
}

impl Topics {
    /// Builds the topic set for `thing` under `prefix`, rejecting values that would produce
    /// topics AWS IoT refuses or that would match other things' topics.
    pub fn new(prefix: &str, thing: &str) -> Result<Self, ProtocolError> {
        validate_topic_prefix(prefix)?;
        validate_thing_name(thing)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            thing: thing.to_owned(),
        })
    }

    pub fn thing(&self) -> &str {
        &self.thing
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn certificate(&self, tail: &str) -> String {
        format!("{}/things/{}/certificate/{tail}", self.prefix, self.thing)
    }

    fn jobs(&self, tail: &str) -> String {
        format!("$aws/things/{}/jobs/{tail}", self.thing)
    }

    /// Device → cloud: a CSR for a new certificate.
    pub fn create(&self) -> String {
        self.certificate("create")
    }

    pub fn create_accepted(&self) -> String {
        self.certificate("create/accepted")
    }

    pub fn create_rejected(&self) -> String {
        self.certificate("create/rejected")
    }

    /// Device → cloud: the new certificate works, keep it.
    pub fn commit(&self) -> String {
        self.certificate("commit")
    }

    pub fn commit_accepted(&self) -> String {
        self.certificate("commit/accepted")
    }

    pub fn commit_rejected(&self) -> String {
        self.certificate("commit/rejected")
    }

    /// Device → Jobs: ask for the next pending job execution.
    pub fn jobs_next_get(&self) -> String {
        self.jobs("$next/get")
    }

    /// Jobs → device: pushed whenever the next pending execution changes.
    pub fn jobs_notify_next(&self) -> String {
        self.jobs("notify-next")
    }

    /// Jobs → device: replies to every `get`, with `+` standing for the job ID or `$next`.
    pub fn jobs_get_accepted_filter(&self) -> String {
        self.jobs("+/get/accepted")
    }

    pub fn jobs_get_rejected_filter(&self) -> String {
        self.jobs("+/get/rejected")
    }

    /// Device → Jobs: update one job execution.
    pub fn job_update(&self, job_id: &str) -> String {
        self.jobs(&format!("{job_id}/update"))
    }

    pub fn jobs_update_accepted_filter(&self) -> String {
        self.jobs("+/update/accepted")
    }

    pub fn jobs_update_rejected_filter(&self) -> String {
        self.jobs("+/update/rejected")
    }

    /// Returns every topic filter the device subscribes to.
    pub fn device_subscriptions(&self) -> Vec<String> {
        vec![
            self.jobs_notify_next(),
            self.jobs_get_accepted_filter(),
            self.jobs_get_rejected_filter(),
            self.jobs_update_accepted_filter(),
            self.jobs_update_rejected_filter(),
            self.create_accepted(),
            self.create_rejected(),
            self.commit_accepted(),
            self.commit_rejected(),
        ]
    }
}

/// Returns the `FROM` filter of the create rule for a prefix.
pub fn create_rule_filter(prefix: &str) -> String {
    format!("{prefix}/things/+/certificate/create")
}

/// Returns the `FROM` filter of the commit rule for a prefix.
pub fn commit_rule_filter(prefix: &str) -> String {
    format!("{prefix}/things/+/certificate/commit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_prefix_topics_match_reference() {
        let topics = Topics::new(DEFAULT_TOPIC_PREFIX, "core-1").unwrap();
        assert_eq!(topics.create(), "awslabs/things/core-1/certificate/create");
        assert_eq!(
            topics.commit_rejected(),
            "awslabs/things/core-1/certificate/commit/rejected"
        );
        assert_eq!(topics.jobs_next_get(), "$aws/things/core-1/jobs/$next/get");
        assert_eq!(
            topics.job_update("job-7"),
            "$aws/things/core-1/jobs/job-7/update"
        );
        assert_eq!(
            topics.jobs_notify_next(),
            "$aws/things/core-1/jobs/notify-next"
        );
    }

    #[test]
    fn custom_prefix_topics() {
        let topics = Topics::new("acme-rotation", "t").unwrap();
        assert_eq!(topics.create(), "acme-rotation/things/t/certificate/create");
        assert_eq!(
            create_rule_filter("acme-rotation"),
            "acme-rotation/things/+/certificate/create"
        );
    }

    #[test]
    fn prefix_rejects_wildcards_and_reserved() {
        let too_long = "p".repeat(MAX_TOPIC_PREFIX_LEN + 1);
        for bad in ["", "/a", "a/", "a/b", "a/+", "#", "$aws", "a b", &too_long] {
            assert!(
                validate_topic_prefix(bad).is_err(),
                "prefix {bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn longest_prefix_keeps_topics_within_limit() {
        assert_eq!(MAX_TOPIC_PREFIX_LEN, 92);
        let prefix = "p".repeat(MAX_TOPIC_PREFIX_LEN);
        let thing = "t".repeat(MAX_THING_NAME_LEN);
        let topics = Topics::new(&prefix, &thing).unwrap();
        for topic in [topics.commit_accepted(), topics.commit_rejected()] {
            assert!(topic.len() <= MAX_TOPIC_LEN, "{} bytes", topic.len());
        }
        assert_eq!(topics.commit_accepted().len(), MAX_TOPIC_LEN);
    }

    #[test]
    fn thing_name_rejects_topic_characters() {
        for bad in ["", "a/b", "a+b", "a#", "$x", &"x".repeat(129)] {
            assert!(
                validate_thing_name(bad).is_err(),
                "thing {bad:?} should be rejected"
            );
        }
        assert!(validate_thing_name("Core_1:east-2").is_ok());
    }
}
