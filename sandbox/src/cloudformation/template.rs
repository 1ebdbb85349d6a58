//! A partial CloudFormation template evaluator: parameters, pseudo parameters, conditions and
//! the common intrinsic functions.
//!
//! It resolves what it can and leaves the rest as written, so a property that refers to a
//! resource without a known physical ID keeps its `Ref` or `Fn::GetAtt`. That keeps change-set
//! comparisons stable and lets the same code resolve topic rule payloads after a deploy.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A template that failed to parse, with the parser's message.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidTemplate(pub String);

/// Parses a template body in JSON or YAML. YAML short forms (`!Ref`, `!Sub`, `!GetAtt a.b`)
/// become their long `Fn::` forms.
pub fn parse(body: &str) -> Result<Value, InvalidTemplate> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return Ok(value);
    }
    let yaml: serde_yaml::Value = serde_yaml::from_str(body)
        .map_err(|error| InvalidTemplate(format!("invalid template body: {error}")))?;
    Ok(yaml_to_json(yaml))
}

fn yaml_to_json(value: serde_yaml::Value) -> Value {
    match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(value) => Value::Bool(value),
        serde_yaml::Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                json!(integer)
            } else if let Some(integer) = number.as_u64() {
                json!(integer)
            } else {
                json!(number.as_f64().unwrap_or_default())
            }
        }
        serde_yaml::Value::String(text) => Value::String(text),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    serde_yaml::Value::String(key) => key,
                    other => serde_yaml::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                object.insert(key, yaml_to_json(value));
            }
            Value::Object(object)
        }
        serde_yaml::Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value);
            let inner = match (name, inner) {
                ("GetAtt", Value::String(text)) => match text.split_once('.') {
                    Some((resource, attribute)) => json!([resource, attribute]),
                    None => Value::String(text),
                },
                (_, inner) => inner,
            };
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                other => format!("Fn::{other}"),
            };
            json!({ key: inner })
        }
    }
}

/// The values pseudo parameters resolve to.
#[derive(Clone, Debug, Default)]
pub struct Pseudo {
    pub region: String,
    pub account_id: String,
    pub partition: String,
    pub stack_name: String,
    pub stack_id: String,
}

/// A deployed resource's identity, for `Ref` and `Fn::GetAtt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub resource_type: String,
    pub physical_id: String,
}

/// The values a template's intrinsic functions resolve against.
#[derive(Debug)]
pub struct Context<'a> {
    pub template: &'a Value,
    pub parameters: &'a BTreeMap<String, String>,
    pub pseudo: &'a Pseudo,
    /// Deployed resources by logical ID; empty before a deploy.
    pub deployed: &'a BTreeMap<String, Deployed>,
    conditions: BTreeMap<String, bool>,
}

impl<'a> Context<'a> {
    pub fn new(
        template: &'a Value,
        parameters: &'a BTreeMap<String, String>,
        pseudo: &'a Pseudo,
        deployed: &'a BTreeMap<String, Deployed>,
    ) -> Self {
        let mut context = Self {
            template,
            parameters,
            pseudo,
            deployed,
            conditions: BTreeMap::new(),
        };
        context.conditions = context.evaluate_conditions();
        context
    }

    fn evaluate_conditions(&self) -> BTreeMap<String, bool> {
        let mut results = BTreeMap::new();
        if let Some(conditions) = self.template.get("Conditions").and_then(Value::as_object) {
            for name in conditions.keys() {
                let mut visiting = BTreeSet::new();
                let value = self.condition(name, &mut visiting);
                results.insert(name.clone(), value);
            }
        }
        results
    }

    fn condition(&self, name: &str, visiting: &mut BTreeSet<String>) -> bool {
        if !visiting.insert(name.to_owned()) {
            return false;
        }
        let expression = self
            .template
            .get("Conditions")
            .and_then(|conditions| conditions.get(name));
        let result = expression
            .map(|expression| self.truth(expression, visiting))
            .unwrap_or(false);
        visiting.remove(name);
        result
    }

    fn truth(&self, expression: &Value, visiting: &mut BTreeSet<String>) -> bool {
        let Some((function, argument)) = single_entry(expression) else {
            return matches!(expression, Value::Bool(true)) || expression.as_str() == Some("true");
        };
        let arguments = argument.as_array().cloned().unwrap_or_default();
        match function {
            "Condition" => argument
                .as_str()
                .is_some_and(|name| self.condition(name, visiting)),
            "Fn::Equals" if arguments.len() == 2 => {
                let left = self.resolve(&arguments[0]).unwrap_or(Value::Null);
                let right = self.resolve(&arguments[1]).unwrap_or(Value::Null);
                scalar_text(&left) == scalar_text(&right)
            }
            "Fn::Not" => arguments
                .first()
                .is_some_and(|inner| !self.truth(inner, visiting)),
            "Fn::And" => arguments.iter().all(|inner| self.truth(inner, visiting)),
            "Fn::Or" => arguments.iter().any(|inner| self.truth(inner, visiting)),
            _ => false,
        }
    }

    /// Returns whether the named condition is true. An unknown name is false.
    pub fn is_true(&self, condition: &str) -> bool {
        self.conditions.get(condition).copied().unwrap_or(false)
    }

    /// Resolves the intrinsic functions in `value`. Returns `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Object(object) => {
                if let Some((function, argument)) = single_entry(value)
                    && let Some(resolved) = self.intrinsic(function, argument)
                {
                    return resolved;
                }
                let mut out = Map::new();
                for (key, inner) in object {
                    if let Some(resolved) = self.resolve(inner) {
                        out.insert(key.clone(), resolved);
                    }
                }
                Some(Value::Object(out))
            }
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|item| self.resolve(item)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    /// Evaluates one intrinsic function. The outer `None` means "not an intrinsic I handle";
    /// the inner one is `AWS::NoValue`.
    fn intrinsic(&self, function: &str, argument: &Value) -> Option<Option<Value>> {
        let result = match function {
            "Ref" => self.reference(argument.as_str()?),
            "Fn::GetAtt" => self.get_att(argument),
            "Fn::Sub" => self.substitute(argument),
            "Fn::If" => {
                let arguments = argument.as_array()?;
                let [condition, when_true, when_false] = arguments.as_slice() else {
                    return None;
                };
                let branch = if self.is_true(condition.as_str()?) {
                    when_true
                } else {
                    when_false
                };
                return Some(self.resolve(branch));
            }
            "Fn::Join" => self.join(argument),
            "Fn::Select" => self.select(argument),
            "Fn::Split" => {
                let arguments = self.resolve(argument)?;
                let [delimiter, text] = arguments.as_array()?.as_slice() else {
                    return None;
                };
                let parts: Vec<Value> = text
                    .as_str()?
                    .split(delimiter.as_str()?)
                    .map(|part| Value::String(part.to_owned()))
                    .collect();
                Some(Value::Array(parts))
            }
            "Fn::FindInMap" => self.find_in_map(argument),
            "Fn::ToJsonString" => {
                let resolved = self.resolve(argument)?;
                (!contains_intrinsic(&resolved)).then(|| Value::String(resolved.to_string()))
            }
            _ => None,
        };
        match result {
            Some(value) => Some(Some(value)),
            None if function == "Ref" && argument.as_str() == Some("AWS::NoValue") => Some(None),
            None => None,
        }
    }

    fn reference(&self, name: &str) -> Option<Value> {
        if let Some(value) = self.parameter(name) {
            return Some(value);
        }
        if let Some(value) = self.pseudo_parameter(name) {
            return Some(Value::String(value));
        }
        self.deployed
            .get(name)
            .map(|deployed| Value::String(deployed.physical_id.clone()))
    }

    fn parameter(&self, name: &str) -> Option<Value> {
        let value = self.parameters.get(name)?;
        let declared_type = self
            .template
            .pointer(&format!("/Parameters/{name}/Type"))
            .and_then(Value::as_str)
            .unwrap_or("String");
        if declared_type == "CommaDelimitedList" || declared_type.starts_with("List<") {
            let items = value
                .split(',')
                .map(|item| Value::String(item.trim().to_owned()))
                .collect();
            return Some(Value::Array(items));
        }
        Some(Value::String(value.clone()))
    }

    fn pseudo_parameter(&self, name: &str) -> Option<String> {
        let pseudo = self.pseudo;
        let value = match name {
            "AWS::Region" => pseudo.region.clone(),
            "AWS::AccountId" => pseudo.account_id.clone(),
            "AWS::Partition" => pseudo.partition.clone(),
            "AWS::StackName" => pseudo.stack_name.clone(),
            "AWS::StackId" if !pseudo.stack_id.is_empty() => pseudo.stack_id.clone(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            _ => return None,
        };
        Some(value)
    }

    fn get_att(&self, argument: &Value) -> Option<Value> {
        let (resource, attribute) = match argument {
            Value::String(text) => text.split_once('.')?,
            Value::Array(items) => match items.as_slice() {
                [Value::String(resource), Value::String(attribute)] => {
                    (resource.as_str(), attribute.as_str())
                }
                _ => return None,
            },
            _ => return None,
        };
        let deployed = self.deployed.get(resource)?;
        attribute_value(deployed, attribute, self.pseudo).map(Value::String)
    }

    fn substitute(&self, argument: &Value) -> Option<Value> {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), Map::new()),
            Value::Array(items) => match items.as_slice() {
                [Value::String(text), Value::Object(variables)] => {
                    let mut resolved = Map::new();
                    for (name, value) in variables {
                        resolved.insert(name.clone(), self.resolve(value)?);
                    }
                    (text.as_str(), resolved)
                }
                _ => return None,
            },
            _ => return None,
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = match variables.get(name) {
                    Some(value) => value.clone(),
                    None if name.contains('.') && self.parameters.get(name).is_none() => {
                        self.get_att(&Value::String(name.to_owned()))?
                    }
                    None => self.reference(name)?,
                };
                out.push_str(&scalar_text(&value)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(Value::String(out))
    }

    fn join(&self, argument: &Value) -> Option<Value> {
        let arguments = argument.as_array()?;
        let [delimiter, items] = arguments.as_slice() else {
            return None;
        };
        let items = self.resolve(items)?;
        let parts: Option<Vec<String>> = items.as_array()?.iter().map(scalar_text).collect();
        Some(Value::String(parts?.join(delimiter.as_str()?)))
    }

    fn select(&self, argument: &Value) -> Option<Value> {
        let arguments = self.resolve(argument)?;
        let [index, items] = arguments.as_array()?.as_slice() else {
            return None;
        };
        let index: usize = scalar_text(index)?.parse().ok()?;
        items.as_array()?.get(index).cloned()
    }

    fn find_in_map(&self, argument: &Value) -> Option<Value> {
        let arguments = self.resolve(argument)?;
        let [map, first, second] = arguments.as_array()?.as_slice() else {
            return None;
        };
        self.template
            .get("Mappings")?
            .get(map.as_str()?)?
            .get(scalar_text(first)?)?
            .get(scalar_text(second)?)
            .cloned()
    }

    /// Returns the template's resources whose condition is true, with resolved properties.
    pub fn resources(&self) -> BTreeMap<String, Resource> {
        let mut resources = BTreeMap::new();
        let Some(declared) = self.template.get("Resources").and_then(Value::as_object) else {
            return resources;
        };
        for (logical_id, declaration) in declared {
            if let Some(condition) = declaration.get("Condition").and_then(Value::as_str)
                && !self.is_true(condition)
            {
                continue;
            }
            let resource_type = declaration
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let properties = declaration
                .get("Properties")
                .and_then(|properties| self.resolve(properties))
                .unwrap_or_else(|| json!({}));
            let mut dependencies = BTreeSet::new();
            collect_references(declaration, &mut dependencies);
            dependencies.retain(|name| name != logical_id && declared.contains_key(name));
            resources.insert(
                logical_id.clone(),
                Resource {
                    resource_type,
                    properties,
                    dependencies,
                },
            );
        }
        resources
    }

    /// Returns the template's outputs whose condition is true, each with its value when it
    /// resolves to a string.
    pub fn outputs(&self) -> Vec<Output> {
        let mut outputs = Vec::new();
        let Some(declared) = self.template.get("Outputs").and_then(Value::as_object) else {
            return outputs;
        };
        for (key, declaration) in declared {
            if let Some(condition) = declaration.get("Condition").and_then(Value::as_str)
                && !self.is_true(condition)
            {
                continue;
            }
            let value = declaration
                .get("Value")
                .and_then(|value| self.resolve(value))
                .and_then(|value| match value {
                    Value::Array(_) => {
                        let parts: Option<Vec<String>> =
                            value.as_array()?.iter().map(scalar_text).collect();
                        parts.map(|parts| parts.join(","))
                    }
                    other => scalar_text(&other),
                });
            let description = declaration
                .get("Description")
                .and_then(|description| self.resolve(description))
                .and_then(|description| scalar_text(&description));
            let export_name = declaration
                .pointer("/Export/Name")
                .and_then(|name| self.resolve(name))
                .and_then(|name| scalar_text(&name));
            outputs.push(Output {
                key: key.clone(),
                value,
                description,
                export_name,
            });
        }
        outputs
    }
}

/// A resource of a template, with its properties resolved as far as the context allows.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub resource_type: String,
    pub properties: Value,
    /// Logical IDs this resource refers to or depends on.
    pub dependencies: BTreeSet<String>,
}

/// A resolved stack output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub key: String,
    /// `None` when the value refers to something the sandbox cannot resolve.
    pub value: Option<String>,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

/// Returns the value of `Fn::GetAtt` for the attributes this table covers, built from the
/// physical ID the way AWS builds them.
pub fn attribute_value(deployed: &Deployed, attribute: &str, pseudo: &Pseudo) -> Option<String> {
    let Pseudo {
        region,
        account_id,
        partition,
        ..
    } = pseudo;
    let id = &deployed.physical_id;
    let value = match (deployed.resource_type.as_str(), attribute) {
        ("AWS::Lambda::Function", "Arn") => {
            format!("arn:{partition}:lambda:{region}:{account_id}:function:{id}")
        }
        ("AWS::IAM::Role", "Arn") => format!("arn:{partition}:iam::{account_id}:role/{id}"),
        ("AWS::SNS::Topic", "TopicArn") => id.clone(),
        ("AWS::SNS::Topic", "TopicName") => id.rsplit(':').next()?.to_owned(),
        ("AWS::Logs::LogGroup", "Arn") => {
            format!("arn:{partition}:logs:{region}:{account_id}:log-group:{id}:*")
        }
        ("AWS::IoT::TopicRule", "Arn") => {
            format!("arn:{partition}:iot:{region}:{account_id}:rule/{id}")
        }
        ("AWS::IoT::JobTemplate", "Arn") => {
            format!("arn:{partition}:iot:{region}:{account_id}:jobtemplate/{id}")
        }
        ("AWS::S3::Bucket", "Arn") => format!("arn:{partition}:s3:::{id}"),
        _ => return None,
    };
    Some(value)
}

/// Returns the parameter values a stack gets from a request: given values, previous values
/// where the request sets `UsePreviousValue`, and the template's defaults for the rest.
pub fn effective_parameters(
    template: &Value,
    given: &[GivenParameter],
    previous: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let Some(declared) = template.get("Parameters").and_then(Value::as_object) else {
        return values;
    };
    for (name, declaration) in declared {
        let given_value = given.iter().find(|parameter| &parameter.key == name);
        let value = match given_value {
            Some(GivenParameter {
                use_previous: true, ..
            }) => previous.get(name).cloned(),
            Some(GivenParameter {
                value: Some(value), ..
            }) => Some(value.clone()),
            _ => declaration.get("Default").and_then(scalar_text),
        };
        if let Some(value) = value {
            values.insert(name.clone(), value);
        }
    }
    values
}

/// One `Parameters.member.N` entry of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GivenParameter {
    pub key: String,
    pub value: Option<String>,
    pub use_previous: bool,
}

/// Returns the logical IDs in an order where each resource comes after what it refers to;
/// ties and cycles fall back to name order.
pub fn dependency_order(resources: &BTreeMap<String, Resource>) -> Vec<String> {
    let mut ordered = Vec::new();
    let mut placed = BTreeSet::new();
    while placed.len() < resources.len() {
        let ready = resources.iter().find(|(name, resource)| {
            !placed.contains(*name)
                && resource.dependencies.iter().all(|dependency| {
                    placed.contains(dependency) || !resources.contains_key(dependency)
                })
        });
        let next = match ready {
            Some((name, _)) => name.clone(),
            None => resources
                .keys()
                .find(|name| !placed.contains(*name))
                .expect("an unplaced resource remains")
                .clone(),
        };
        placed.insert(next.clone());
        ordered.push(next);
    }
    ordered
}

/// Whether a resolved value still contains an intrinsic function.
pub fn contains_intrinsic(value: &Value) -> bool {
    match value {
        Value::Object(object) => {
            single_entry(value).is_some_and(|(key, _)| key == "Ref" || key.starts_with("Fn::"))
                || object.values().any(contains_intrinsic)
        }
        Value::Array(items) => items.iter().any(contains_intrinsic),
        _ => false,
    }
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(name)) => {
                        found.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::Array(items)) => {
                        if let Some(Value::String(name)) = items.first() {
                            found.insert(name.clone());
                        }
                    }
                    ("Fn::GetAtt", Value::String(text)) => {
                        found.insert(text.split('.').next().unwrap_or_default().to_owned());
                    }
                    ("DependsOn", Value::String(name)) => {
                        found.insert(name.clone());
                    }
                    ("DependsOn", Value::Array(names)) => {
                        found.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    ("Fn::Sub", _) => {
                        let text = match inner {
                            Value::String(text) => Some(text.as_str()),
                            Value::Array(items) => items.first().and_then(Value::as_str),
                            _ => None,
                        };
                        if let Some(text) = text {
                            collect_sub_references(text, found);
                        }
                        collect_references(inner, found);
                    }
                    _ => collect_references(inner, found),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, found)),
        _ => {}
    }
}

fn collect_sub_references(text: &str, found: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            found.insert(name.split('.').next().unwrap_or_default().to_owned());
        }
        rest = &after[end + 1..];
    }
}

fn single_entry(value: &Value) -> Option<(&str, &Value)> {
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    object
        .iter()
        .next()
        .map(|(key, value)| (key.as_str(), value))
}

/// Returns the text of a scalar as CloudFormation passes it on (numbers and booleans as strings).
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo() -> Pseudo {
        Pseudo {
            region: "eu-west-1".to_owned(),
            account_id: "123456789012".to_owned(),
            partition: "aws".to_owned(),
            stack_name: "demo".to_owned(),
            stack_id: String::new(),
        }
    }

    const TEMPLATE: &str = r#"
Parameters:
  Prefix: {Type: String, Default: awslabs}
  Issuer: {Type: String, Default: iot-core}
  Days: {Type: Number, Default: 7}
Conditions:
  UsePca: !Equals [!Ref Issuer, private-ca]
  NotPca: {"Fn::Not": [{"Condition": UsePca}]}
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          TOPIC: !Ref Topic
          DAYS: !Ref Days
          CA: !If [UsePca, yes-pca, !Ref "AWS::NoValue"]
  Rule:
    Type: AWS::IoT::TopicRule
    Properties:
      TopicRulePayload:
        Sql: !Sub "SELECT * FROM '${Prefix}/things/+/x' -- ${!Literal}"
        Actions:
          - Lambda:
              FunctionArn: !GetAtt Function.Arn
  PcaOnly:
    Type: AWS::SNS::Topic
    Condition: UsePca
Outputs:
  FunctionArn:
    Value: !GetAtt Function.Arn
  Where:
    Value: !Join [":", [!Ref "AWS::Region", !Ref "AWS::AccountId"]]
"#;

    #[test]
    fn resolves_parameters_and_keeps_resource_references() {
        let template = parse(TEMPLATE).expect("valid template");
        let parameters = effective_parameters(&template, &[], &BTreeMap::new());
        let pseudo = pseudo();
        let deployed = BTreeMap::new();
        let context = Context::new(&template, &parameters, &pseudo, &deployed);
        let resources = context.resources();

        assert_eq!(
            resources.keys().collect::<Vec<_>>(),
            ["Function", "Rule", "Topic"]
        );
        let rule = &resources["Rule"].properties["TopicRulePayload"];
        assert_eq!(
            rule["Sql"],
            "SELECT * FROM 'awslabs/things/+/x' -- ${Literal}"
        );
        assert_eq!(
            rule["Actions"][0]["Lambda"]["FunctionArn"],
            json!({"Fn::GetAtt": ["Function", "Arn"]})
        );
        let variables = &resources["Function"].properties["Environment"]["Variables"];
        assert_eq!(variables["TOPIC"], json!({"Ref": "Topic"}));
        assert_eq!(variables["DAYS"], "7");
        assert!(variables.get("CA").is_none());
        assert_eq!(dependency_order(&resources), ["Topic", "Function", "Rule"]);
    }

    #[test]
    fn conditions_follow_parameters() {
        let template = parse(TEMPLATE).expect("valid template");
        let given = [GivenParameter {
            key: "Issuer".to_owned(),
            value: Some("private-ca".to_owned()),
            use_previous: false,
        }];
        let parameters = effective_parameters(&template, &given, &BTreeMap::new());
        let pseudo = pseudo();
        let deployed = BTreeMap::new();
        let context = Context::new(&template, &parameters, &pseudo, &deployed);
        assert!(context.is_true("UsePca"));
        assert!(!context.is_true("NotPca"));
        let resources = context.resources();
        assert!(resources.contains_key("PcaOnly"));
        assert_eq!(
            resources["Function"].properties["Environment"]["Variables"]["CA"],
            "yes-pca"
        );
    }

    #[test]
    fn outputs_resolve_after_deploy() {
        let template = parse(TEMPLATE).expect("valid template");
        let parameters = effective_parameters(&template, &[], &BTreeMap::new());
        let pseudo = pseudo();
        let deployed = BTreeMap::from([(
            "Function".to_owned(),
            Deployed {
                resource_type: "AWS::Lambda::Function".to_owned(),
                physical_id: "demo-Function-ABC".to_owned(),
            },
        )]);
        let context = Context::new(&template, &parameters, &pseudo, &deployed);
        let outputs = context.outputs();
        assert_eq!(outputs.len(), 2);
        assert_eq!(
            outputs[0].value.as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:demo-Function-ABC")
        );
        assert_eq!(outputs[1].value.as_deref(), Some("eu-west-1:123456789012"));
    }

    #[test]
    fn previous_values_are_kept_on_request() {
        let template = parse(TEMPLATE).expect("valid template");
        let previous = BTreeMap::from([("Prefix".to_owned(), "old".to_owned())]);
        let given = [GivenParameter {
            key: "Prefix".to_owned(),
            value: None,
            use_previous: true,
        }];
        let parameters = effective_parameters(&template, &given, &previous);
        assert_eq!(parameters["Prefix"], "old");
        assert_eq!(parameters["Issuer"], "iot-core");
    }

    #[test]
    fn invalid_body_is_reported() {
        assert!(parse("Resources: [unclosed").is_err());
    }
}
