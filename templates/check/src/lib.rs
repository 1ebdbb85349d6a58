//! Reads the CloudFormation templates in `templates/` as plain data for the tests in this crate.
//!
//! The templates use only the long `Fn::` forms of intrinsic functions, so any YAML parser reads
//! them and every intrinsic function is an ordinary map with one key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Errors from loading a template or reading its structure.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("failed to read template {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid YAML in template {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("invalid template structure: {0}")]
    Structure(String),
}

/// Returns the `templates/` directory of the workspace.
pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the check crate lives inside templates/")
        .to_path_buf()
}

/// Returns the path of the backend stack template.
pub fn backend_template_path() -> PathBuf {
    templates_dir().join("backend.yaml")
}

/// A parsed CloudFormation template together with its source text.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    document: Value,
}

impl Template {
    /// Reads and parses the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        let document = serde_yaml::from_str(&text).map_err(|source| TemplateError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self { text, document })
    }

    /// Reads and parses `templates/backend.yaml`.
    pub fn backend() -> Result<Self, TemplateError> {
        Self::load(&backend_template_path())
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Returns a top-level section (`Parameters`, `Resources`, `Outputs`…), or an empty map if absent.
    pub fn section(&self, name: &str) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.document
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.section("Resources").get(logical_id)
    }

    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resource(logical_id)?.get("Type")?.as_str()
    }

    /// Lists every resource of one type as (logical ID, resource) pairs, in logical-ID order.
    pub fn resources_of_type(&self, resource_type: &str) -> Vec<(&str, &Value)> {
        self.section("Resources")
            .iter()
            .filter(|(_, resource)| {
                resource.get("Type").and_then(Value::as_str) == Some(resource_type)
            })
            .map(|(id, resource)| (id.as_str(), resource))
            .collect()
    }
}

/// One statement of an IAM policy, with the template condition that includes it, if any.
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    /// Name of the condition when the statement sits in `Fn::If: [condition, statement, AWS::NoValue]`.
    pub condition: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub effect: Option<&'a str>,
    pub actions: Vec<&'a str>,
    pub resources: Vec<&'a Value>,
}

/// Collects the statements of every inline policy of an `AWS::IAM::Role` resource.
pub fn role_statements(role: &Value) -> Result<Vec<Statement<'_>>, TemplateError> {
    let policies = role
        .pointer("/Properties/Policies")
        .and_then(Value::as_array)
        .ok_or_else(|| TemplateError::Structure("role has no inline Policies list".into()))?;
    let mut statements = Vec::new();
    for policy in policies {
        let entries = policy
            .pointer("/PolicyDocument/Statement")
            .and_then(Value::as_array)
            .ok_or_else(|| TemplateError::Structure("policy has no Statement list".into()))?;
        for entry in entries {
            statements.push(statement(entry)?);
        }
    }
    Ok(statements)
}

fn statement(entry: &Value) -> Result<Statement<'_>, TemplateError> {
    let (condition, body) = match entry.get("Fn::If") {
        Some(branches) => conditional_statement(branches)?,
        None => (None, entry),
    };
    let actions = one_or_many(body.get("Action"))
        .into_iter()
        .map(|action| {
            action
                .as_str()
                .ok_or_else(|| TemplateError::Structure(format!("action {action} is not a string")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Statement {
        condition,
        sid: body.get("Sid").and_then(Value::as_str),
        effect: body.get("Effect").and_then(Value::as_str),
        actions,
        resources: one_or_many(body.get("Resource")),
    })
}

/// Reads `[condition, statement, {"Ref": "AWS::NoValue"}]`, the only conditional form the
/// templates use for statements.
fn conditional_statement(branches: &Value) -> Result<(Option<&str>, &Value), TemplateError> {
    let invalid = || {
        TemplateError::Structure(format!(
            "conditional statement {branches} is not [condition, statement, {{\"Ref\": \"AWS::NoValue\"}}]"
        ))
    };
    let [condition, body, otherwise] =
        branches.as_array().map(Vec::as_slice).ok_or_else(invalid)?
    else {
        return Err(invalid());
    };
    if otherwise != &serde_json::json!({"Ref": "AWS::NoValue"}) {
        return Err(invalid());
    }
    Ok((Some(condition.as_str().ok_or_else(invalid)?), body))
}

/// Turns a value that IAM and CloudFormation accept either alone or as a list into a list.
pub fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item) => vec![item],
    }
}

/// Renders an `Fn::Sub` string the way CloudFormation does: `${Name}` becomes the value of
/// `Name` and `${!Literal}` becomes `${Literal}`. A name without a value is an error.
pub fn render_sub(text: &str, values: &BTreeMap<&str, &str>) -> Result<String, TemplateError> {
    let mut rendered = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rendered.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            TemplateError::Structure(format!("unclosed ${{ in Fn::Sub string {text:?}"))
        })?;
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            rendered.push_str("${");
            rendered.push_str(literal);
            rendered.push('}');
        } else {
            let value = values.get(name).ok_or_else(|| {
                TemplateError::Structure(format!(
                    "no value for ${{{name}}} in Fn::Sub string {text:?}"
                ))
            })?;
            rendered.push_str(value);
        }
        rest = &after[end + 1..];
    }
    rendered.push_str(rest);
    Ok(rendered)
}

/// Lists the names an `Fn::Sub` string refers to, in order of appearance.
pub fn sub_references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        if !after.starts_with('!') {
            names.push(&after[..end]);
        }
        rest = &after[end + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sub_replaces_and_escapes() {
        let values = BTreeMap::from([("TopicPrefix", "awslabs"), ("AWS::Region", "eu-west-1")]);
        let rendered = render_sub("${TopicPrefix}/x/${AWS::Region}/${!Literal}", &values).unwrap();
        assert_eq!(rendered, "awslabs/x/eu-west-1/${Literal}");
    }

    #[test]
    fn render_sub_rejects_unknown_name() {
        let error = render_sub("${Missing}", &BTreeMap::new()).unwrap_err();
        assert!(error.to_string().contains("${Missing}"), "{error}");
    }

    #[test]
    fn sub_references_skip_literals() {
        assert_eq!(
            sub_references("arn:${AWS::Partition}:${!Literal}:rule/${CreateCertificateRule}"),
            vec!["AWS::Partition", "CreateCertificateRule"]
        );
    }

    #[test]
    fn conditional_statement_reads_condition() {
        let role = serde_json::json!({"Properties": {"Policies": [{"PolicyDocument": {"Statement": [
            {"Sid": "Plain", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            {"Fn::If": ["UsePrivateCa",
                {"Effect": "Allow", "Action": ["acm-pca:IssueCertificate"], "Resource": {"Ref": "PrivateCaArn"}},
                {"Ref": "AWS::NoValue"}]}
        ]}}]}});
        let statements = role_statements(&role).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].condition, None);
        assert_eq!(statements[0].actions, vec!["sns:Publish"]);
        assert_eq!(statements[1].condition, Some("UsePrivateCa"));
        assert_eq!(statements[1].actions, vec!["acm-pca:IssueCertificate"]);
    }

    #[test]
    fn conditional_statement_rejects_other_else_branch() {
        let role = serde_json::json!({"Properties": {"Policies": [{"PolicyDocument": {"Statement": [
            {"Fn::If": ["UsePrivateCa", {"Action": "a:B"}, {"Action": "c:D"}]}
        ]}}]}});
        assert!(role_statements(&role).is_err());
    }
}
