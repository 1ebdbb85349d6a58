//! CloudFormation on top of moto's stacks: change sets with real "no changes" failures and
//! change lists, per-resource stack events, outputs of stacks made from change sets, and the
//! resources moto's CloudFormation skips.
//!
//! Only stacks created through the sandbox get this treatment. Requests about other stacks,
//! and actions not handled here, go to moto unchanged.

mod apply;
mod moto_calls;
mod responses;
mod state;
mod template;

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use time::OffsetDateTime;

use crate::Error;
use crate::scope::CredentialScope;
use crate::server::App;
use state::{ChangeSetRecord, Records, StackRecord};
use template::{Context, GivenParameter, Pseudo};

/// The status reason real CloudFormation gives a change set that would change nothing.
pub const NO_CHANGES_REASON: &str = "The submitted information didn't contain changes. \
     Submit different information to create a change set.";

/// Events per `DescribeStackEvents` page, as in AWS.
const EVENTS_PAGE_SIZE: usize = 100;

/// CloudFormation state that moto does not keep.
#[derive(Debug, Default)]
pub struct State {
    records: Mutex<Records>,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().expect("CloudFormation state lock")
    }

    /// Forgets every stack and change set, for when moto's own state is reset.
    pub fn clear(&self) {
        *self.lock() = Records::default();
    }
}

/// The decoded form parameters of a query-protocol request.
#[derive(Clone, Debug)]
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(body: &[u8]) -> Self {
        let pairs = form_urlencoded::parse(body)
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// Returns the values of a list member such as `Capabilities.member.N`, in index order.
    fn members(&self, list: &str) -> Vec<String> {
        let prefix = format!("{list}.member.");
        let mut indexed: Vec<(usize, String)> = self
            .pairs
            .iter()
            .filter_map(|(key, value)| {
                let index = key.strip_prefix(&prefix)?.parse().ok()?;
                Some((index, value.clone()))
            })
            .collect();
        indexed.sort();
        indexed.into_iter().map(|(_, value)| value).collect()
    }

    /// Returns the fields of structure list members, such as `Parameters.member.N.ParameterKey`.
    fn structures(&self, list: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
        let prefix = format!("{list}.member.");
        let mut structures: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in &self.pairs {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, field)) = rest.split_once('.') else {
                continue;
            };
            if let Ok(index) = index.parse() {
                structures
                    .entry(index)
                    .or_default()
                    .insert(field.to_owned(), value.clone());
            }
        }
        structures
    }

    fn parameters(&self) -> Vec<GivenParameter> {
        self.structures("Parameters")
            .into_values()
            .filter_map(|fields| {
                Some(GivenParameter {
                    key: fields.get("ParameterKey")?.clone(),
                    value: fields.get("ParameterValue").cloned(),
                    use_previous: fields.get("UsePreviousValue").map(String::as_str)
                        == Some("true"),
                })
            })
            .collect()
    }

    fn tags(&self) -> Vec<(String, String)> {
        self.structures("Tags")
            .into_values()
            .filter_map(|fields| Some((fields.get("Key")?.clone(), fields.get("Value")?.clone())))
            .collect()
    }

    /// Re-encodes the form with some fields replaced (`Some`) or removed (`None`).
    fn encode_with(&self, changes: &[(&str, Option<&str>)]) -> Bytes {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.pairs {
            if changes.iter().any(|(name, _)| name == key) {
                continue;
            }
            form.append_pair(key, value);
        }
        for (name, value) in changes {
            if let Some(value) = value {
                form.append_pair(name, value);
            }
        }
        Bytes::from(form.finish())
    }
}

type HttpResponse = Response<Full<Bytes>>;

pub(crate) async fn handle(
    app: &App,
    scope: &CredentialScope,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    if parts.method != Method::POST {
        return Ok(app.moto.forward(parts, body).await?.into_response());
    }
    let query = Query::parse(&body);
    let action = query.get("Action").unwrap_or_default().to_owned();
    let request = Request {
        app,
        scope,
        parts,
        body,
        query,
    };
    match action.as_str() {
        "CreateChangeSet" => request.create_change_set().await,
        "DescribeChangeSet" => request.describe_change_set().await,
        "ExecuteChangeSet" => request.execute_change_set().await,
        "DeleteChangeSet" => request.delete_change_set().await,
        "ListChangeSets" => request.list_change_sets().await,
        "CreateStack" => request.create_stack().await,
        "UpdateStack" => request.update_stack().await,
        "DeleteStack" => request.delete_stack().await,
        "DescribeStacks" => request.describe_stacks().await,
        "DescribeStackEvents" => request.describe_stack_events().await,
        "DescribeStackResource" => request.stack_resource().await,
        "DescribeStackResources" => request.stack_resources(false).await,
        "ListStackResources" => request.stack_resources(true).await,
        "GetTemplate" => request.get_template().await,
        _ => request.forward().await,
    }
}

/// One CloudFormation request with the shared state its handler needs.
struct Request<'a> {
    app: &'a App,
    scope: &'a CredentialScope,
    parts: &'a http::request::Parts,
    body: Bytes,
    query: Query,
}

/// A template body with its parsed form.
struct NewTemplate {
    body: String,
    template: Value,
}

impl Request<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, Records> {
        self.app.cloudformation.lock()
    }

    async fn forward(&self) -> Result<HttpResponse, Error> {
        Ok(self
            .app
            .moto
            .forward(self.parts, self.body.clone())
            .await?
            .into_response())
    }

    async fn forward_body(&self, body: Bytes) -> Result<crate::moto::MotoResponse, Error> {
        self.app.moto.forward(self.parts, body).await
    }

    /// Reads the template a request supplies: `TemplateBody`, `TemplateURL` (read from moto's
    /// S3) or, with `UsePreviousTemplate`, the stack's current one.
    async fn new_template(
        &self,
        current: Option<&StackRecord>,
    ) -> Result<Option<NewTemplate>, HttpResponse> {
        let body = if let Some(body) = self.query.get("TemplateBody") {
            body.to_owned()
        } else if let Some(url) = self.query.get("TemplateURL") {
            match moto_calls::read_template_url(self.app, self.scope, url).await {
                Ok(body) => body,
                Err(message) => return Err(responses::validation_error(&message)),
            }
        } else if self.query.flag("UsePreviousTemplate") {
            match current {
                Some(stack) => stack.body.clone(),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        match template::parse(&body) {
            Ok(template) => Ok(Some(NewTemplate { body, template })),
            Err(invalid) => Err(responses::validation_error(&format!(
                "Template format error: {}",
                invalid.0
            ))),
        }
    }

    async fn pseudo_for_new_stack(&self, stack_name: &str) -> Result<Pseudo, Error> {
        Ok(Pseudo {
            region: self.scope.region.clone(),
            account_id: self.app.account_id(self.scope).await?,
            partition: partition_of(&self.scope.region).to_owned(),
            stack_name: stack_name.to_owned(),
            stack_id: String::new(),
        })
    }

    /// Builds the form to send to moto: the template as JSON with the rewrites moto needs, in place of
    /// whatever template source the caller used.
    fn moto_form(
        &self,
        new: &NewTemplate,
        context: &Context<'_>,
        rule_names: &BTreeMap<String, String>,
    ) -> Bytes {
        let rewritten = apply::rewrite_for_moto(&new.template, context, rule_names);
        let body = rewritten.as_deref().unwrap_or(&new.body);
        self.query.encode_with(&[
            ("TemplateBody", Some(body)),
            ("TemplateURL", None),
            ("UsePreviousTemplate", None),
        ])
    }

    async fn create_change_set(&self) -> Result<HttpResponse, Error> {
        let (Some(stack_name), Some(change_set_name)) = (
            self.query.get("StackName").map(str::to_owned),
            self.query.get("ChangeSetName").map(str::to_owned),
        ) else {
            return self.forward().await;
        };
        let change_set_type = self
            .query
            .get("ChangeSetType")
            .unwrap_or("CREATE")
            .to_owned();
        let current = self.state().stack(&stack_name).cloned();
        if change_set_type == "UPDATE" && current.as_ref().is_none_or(|stack| stack.body.is_empty())
        {
            return self.forward().await;
        }
        let new = match self.new_template(current.as_ref()).await {
            Ok(Some(new)) => new,
            Ok(None) => return self.forward().await,
            Err(response) => return Ok(response),
        };
        let pseudo = match &current {
            Some(stack) => stack.pseudo.clone(),
            None => self.pseudo_for_new_stack(&stack_name).await?,
        };
        let previous = current
            .as_ref()
            .map(|stack| stack.parameters.clone())
            .unwrap_or_default();
        let parameters =
            template::effective_parameters(&new.template, &self.query.parameters(), &previous);

        if change_set_type == "UPDATE"
            && let Some(stack) = &current
            && stack.template == new.template
            && stack.parameters == parameters
        {
            return Ok(self.record_no_changes(stack, &change_set_name, new, parameters));
        }

        let no_resources = BTreeMap::new();
        let context = Context::new(&new.template, &parameters, &pseudo, &no_resources);
        let previous_rules = current
            .as_ref()
            .map(|stack| stack.emulated.clone())
            .unwrap_or_default();
        let rule_names = apply::rule_names(&context, &previous_rules);
        let form = self.moto_form(&new, &context, &rule_names);
        let new_resources = context.resources();
        let response = self.forward_body(form).await?;
        if !response.is_success() {
            return Ok(response.into_response());
        }
        let text = response.text();
        let (Some(id), Some(stack_id)) = (
            crate::xml::first_text(&text, "Id"),
            crate::xml::first_text(&text, "StackId"),
        ) else {
            return Ok(response.into_response());
        };

        let old_resources = current
            .as_ref()
            .map(|stack| stack.resources.clone())
            .unwrap_or_default();
        let old_deployed = current
            .as_ref()
            .map(|stack| stack.deployed.clone())
            .unwrap_or_default();
        let changes = apply::changes(&old_resources, &old_deployed, &new_resources);
        let now = OffsetDateTime::now_utc();
        let mut records = self.state();
        if change_set_type == "CREATE" && !records.stacks.contains_key(&stack_id) {
            let mut pseudo = pseudo.clone();
            pseudo.stack_id = stack_id.clone();
            let mut stack = StackRecord::new(stack_id.clone(), stack_name.clone(), pseudo);
            apply::push_stack_event(&mut stack, "REVIEW_IN_PROGRESS", Some("User Initiated"));
            records.insert_stack(stack);
        }
        records.change_sets.insert(
            id.clone(),
            ChangeSetRecord {
                id,
                name: change_set_name,
                stack_id,
                stack_name,
                change_set_type,
                description: self.query.get("Description").map(str::to_owned),
                body: new.body,
                template: new.template,
                parameters,
                capabilities: self.query.members("Capabilities"),
                tags: self.query.tags(),
                status: "CREATE_COMPLETE".to_owned(),
                status_reason: None,
                execution_status: "AVAILABLE".to_owned(),
                changes,
                rule_names,
                created: now,
                in_moto: true,
            },
        );
        Ok(response.into_response())
    }

    /// Records a change set that changes nothing. Real CloudFormation accepts the request and
    /// then fails the change set; moto rejects the request or reports changes instead.
    fn record_no_changes(
        &self,
        stack: &StackRecord,
        change_set_name: &str,
        new: NewTemplate,
        parameters: BTreeMap<String, String>,
    ) -> HttpResponse {
        let mut records = self.state();
        if records
            .change_set(change_set_name, Some(&stack.stack_id))
            .is_some()
        {
            return responses::error(
                StatusCode::BAD_REQUEST,
                "AlreadyExistsException",
                &format!("ChangeSet {change_set_name} already exists"),
            );
        }
        let Pseudo {
            region,
            account_id,
            partition,
            ..
        } = &stack.pseudo;
        let id = format!(
            "arn:{partition}:cloudformation:{region}:{account_id}:changeSet/{change_set_name}/{}",
            uuid::Uuid::new_v4()
        );
        tracing::info!(stack = %stack.name, change_set = %change_set_name, "change set contains no changes");
        records.change_sets.insert(
            id.clone(),
            ChangeSetRecord {
                id: id.clone(),
                name: change_set_name.to_owned(),
                stack_id: stack.stack_id.clone(),
                stack_name: stack.name.clone(),
                change_set_type: "UPDATE".to_owned(),
                description: self.query.get("Description").map(str::to_owned),
                body: new.body,
                template: new.template,
                parameters,
                capabilities: self.query.members("Capabilities"),
                tags: self.query.tags(),
                status: "FAILED".to_owned(),
                status_reason: Some(NO_CHANGES_REASON.to_owned()),
                execution_status: "UNAVAILABLE".to_owned(),
                changes: Vec::new(),
                rule_names: BTreeMap::new(),
                created: OffsetDateTime::now_utc(),
                in_moto: false,
            },
        );
        responses::create_change_set(&id, &stack.stack_id)
    }

    fn find_change_set(&self) -> Option<ChangeSetRecord> {
        let name = self.query.get("ChangeSetName")?;
        self.state()
            .change_set(name, self.query.get("StackName"))
            .cloned()
    }

    async fn describe_change_set(&self) -> Result<HttpResponse, Error> {
        match self.find_change_set() {
            Some(record) => Ok(responses::describe_change_set(&record)),
            None => self.forward().await,
        }
    }

    async fn execute_change_set(&self) -> Result<HttpResponse, Error> {
        let Some(record) = self.find_change_set() else {
            return self.forward().await;
        };
        if record.status != "CREATE_COMPLETE" || record.execution_status != "AVAILABLE" {
            return Ok(responses::error(
                StatusCode::BAD_REQUEST,
                "InvalidChangeSetStatus",
                &format!(
                    "ChangeSet [{}] cannot be executed in its current status of [{}]",
                    record.id, record.status
                ),
            ));
        }
        // moto looks change sets up by name across all stacks, so name this one by its ARN.
        let form = self
            .query
            .encode_with(&[("ChangeSetName", Some(&record.id))]);
        let response = self.forward_body(form).await?;
        if !response.is_success() {
            return Ok(response.into_response());
        }
        let operation = if record.change_set_type == "CREATE" {
            apply::Operation::Create
        } else {
            apply::Operation::Update
        };
        let applied = apply::Applied {
            body: record.body.clone(),
            template: record.template.clone(),
            parameters: record.parameters.clone(),
            rule_names: record.rule_names.clone(),
        };
        apply::apply(
            self.app,
            self.scope,
            &record.stack_id,
            operation,
            Some(applied),
        )
        .await?;

        let mut records = self.state();
        records
            .change_sets
            .retain(|id, other| other.stack_id != record.stack_id || *id == record.id);
        if let Some(executed) = records.change_sets.get_mut(&record.id) {
            executed.execution_status = "EXECUTE_COMPLETE".to_owned();
        }
        Ok(response.into_response())
    }

    async fn delete_change_set(&self) -> Result<HttpResponse, Error> {
        let Some(record) = self.find_change_set() else {
            return self.forward().await;
        };
        let response = if record.in_moto {
            let form = self
                .query
                .encode_with(&[("ChangeSetName", Some(&record.id))]);
            let response = self.forward_body(form).await?;
            if !response.is_success() {
                return Ok(response.into_response());
            }
            response.into_response()
        } else {
            responses::empty("DeleteChangeSet")
        };
        self.state().change_sets.remove(&record.id);
        Ok(response)
    }

    async fn list_change_sets(&self) -> Result<HttpResponse, Error> {
        let listed = {
            let records = self.state();
            self.query
                .get("StackName")
                .and_then(|name| records.stack(name))
                .map(|stack| {
                    let listed: Vec<&ChangeSetRecord> = records
                        .change_sets
                        .values()
                        .filter(|record| {
                            record.stack_id == stack.stack_id
                                && record.execution_status != "EXECUTE_COMPLETE"
                        })
                        .collect();
                    responses::list_change_sets(&listed)
                })
        };
        match listed {
            Some(response) => Ok(response),
            None => self.forward().await,
        }
    }

    async fn create_stack(&self) -> Result<HttpResponse, Error> {
        let Some(stack_name) = self.query.get("StackName").map(str::to_owned) else {
            return self.forward().await;
        };
        let new = match self.new_template(None).await {
            Ok(Some(new)) => new,
            Ok(None) => return self.forward().await,
            Err(response) => return Ok(response),
        };

        let pseudo = self.pseudo_for_new_stack(&stack_name).await?;
        let parameters = template::effective_parameters(
            &new.template,
            &self.query.parameters(),
            &BTreeMap::new(),
        );
        let no_resources = BTreeMap::new();
        let context = Context::new(&new.template, &parameters, &pseudo, &no_resources);
        let rule_names = apply::rule_names(&context, &BTreeMap::new());
        let response = self
            .forward_body(self.moto_form(&new, &context, &rule_names))
            .await?;
        if !response.is_success() {
            return Ok(response.into_response());
        }
        let Some(stack_id) = crate::xml::first_text(&response.text(), "StackId") else {
            return Ok(response.into_response());
        };

        let mut pseudo = pseudo;
        pseudo.stack_id = stack_id.clone();
        self.state()
            .insert_stack(StackRecord::new(stack_id.clone(), stack_name, pseudo));

        let applied = apply::Applied {
            body: new.body,
            template: new.template,
            parameters,
            rule_names,
        };
        apply::apply(
            self.app,
            self.scope,
            &stack_id,
            apply::Operation::Create,
            Some(applied),
        )
        .await?;
        Ok(response.into_response())
    }

    async fn update_stack(&self) -> Result<HttpResponse, Error> {
        let current = self
            .query
            .get("StackName")
            .and_then(|name| self.state().stack(name).cloned());
        let Some(current) = current.filter(|stack| !stack.body.is_empty()) else {
            return self.forward().await;
        };
        let new = match self.new_template(Some(&current)).await {
            Ok(Some(new)) => new,
            Ok(None) => return self.forward().await,
            Err(response) => return Ok(response),
        };
        let parameters = template::effective_parameters(
            &new.template,
            &self.query.parameters(),
            &current.parameters,
        );
        if current.template == new.template && current.parameters == parameters {
            return Ok(responses::validation_error(
                "No updates are to be performed.",
            ));
        }
        let no_resources = BTreeMap::new();
        let context = Context::new(&new.template, &parameters, &current.pseudo, &no_resources);
        let rule_names = apply::rule_names(&context, &current.emulated);
        let response = self
            .forward_body(self.moto_form(&new, &context, &rule_names))
            .await?;
        if !response.is_success() {
            return Ok(response.into_response());
        }

        let applied = apply::Applied {
            body: new.body,
            template: new.template,
            parameters,
            rule_names,
        };
        apply::apply(
            self.app,
            self.scope,
            &current.stack_id,
            apply::Operation::Update,
            Some(applied),
        )
        .await?;
        Ok(response.into_response())
    }

    async fn delete_stack(&self) -> Result<HttpResponse, Error> {
        let current = self
            .query
            .get("StackName")
            .and_then(|name| self.state().stack(name).cloned());
        let response = self.forward_body(self.body.clone()).await?;
        if let Some(current) = current.filter(|stack| !stack.deleted)
            && response.is_success()
        {
            apply::apply(
                self.app,
                self.scope,
                &current.stack_id,
                apply::Operation::Delete,
                None,
            )
            .await?;
        }
        Ok(response.into_response())
    }

    async fn describe_stacks(&self) -> Result<HttpResponse, Error> {
        let response = self.forward_body(self.body.clone()).await?;
        if !response.is_success() {
            // moto stops finding a deleted stack by name at once, but a deletion that still
            // shows as in progress keeps the stack findable by name.
            let deleting = {
                let records = self.state();
                self.query
                    .get("StackName")
                    .and_then(|name| records.stack(name))
                    .filter(|stack| stack.deleted)
                    .map(responses::describe_deleting_stack)
            };
            return Ok(deleting.unwrap_or_else(|| response.into_response()));
        }
        let text = response.text();
        let rewritten = {
            let records = self.state();
            apply::patch_describe_stacks(&text, &records)
        };
        match rewritten {
            Some(body) => {
                let mut response = response.into_response();
                let length = body.len();
                *response.body_mut() = Full::new(Bytes::from(body));
                if let Ok(value) = http::HeaderValue::from_str(&length.to_string()) {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_LENGTH, value);
                }
                Ok(response)
            }
            None => Ok(response.into_response()),
        }
    }

    async fn describe_stack_events(&self) -> Result<HttpResponse, Error> {
        let start = self
            .query
            .get("NextToken")
            .and_then(|token| token.parse().ok())
            .unwrap_or(0);
        let page = {
            let records = self.state();
            self.query
                .get("StackName")
                .and_then(|name| records.stack(name))
                .map(|stack| responses::describe_stack_events(stack, start, EVENTS_PAGE_SIZE))
        };
        match page {
            Some(response) => Ok(response),
            None => self.forward().await,
        }
    }

    async fn stack_resources(&self, summaries: bool) -> Result<HttpResponse, Error> {
        let listed = {
            let records = self.state();
            let stack = self
                .query
                .get("StackName")
                .and_then(|name| records.stack(name))
                .filter(|stack| !stack.deleted && !stack.body.is_empty());
            stack.map(|stack| match self.query.get("LogicalResourceId") {
                Some(logical_id) => {
                    let mut filtered = stack.clone();
                    filtered.deployed.retain(|id, _| id == logical_id);
                    responses::stack_resources(&filtered, summaries)
                }
                None => responses::stack_resources(stack, summaries),
            })
        };
        match listed {
            Some(response) => Ok(response),
            None => self.forward().await,
        }
    }

    async fn stack_resource(&self) -> Result<HttpResponse, Error> {
        let detail = {
            let records = self.state();
            let stack = self
                .query
                .get("StackName")
                .and_then(|name| records.stack(name))
                .filter(|stack| !stack.deleted && !stack.body.is_empty());
            match (stack, self.query.get("LogicalResourceId")) {
                (Some(stack), Some(logical_id)) if stack.deployed.contains_key(logical_id) => {
                    Some(responses::describe_stack_resource(stack, logical_id))
                }
                (Some(stack), Some(logical_id)) => Some(responses::validation_error(&format!(
                    "Resource {logical_id} does not exist for stack {}",
                    stack.name
                ))),
                _ => None,
            }
        };
        match detail {
            Some(response) => Ok(response),
            None => self.forward().await,
        }
    }

    async fn get_template(&self) -> Result<HttpResponse, Error> {
        if self.query.get("ChangeSetName").is_some() {
            return self.forward().await;
        }
        let template = {
            let records = self.state();
            self.query
                .get("StackName")
                .and_then(|name| records.stack(name))
                .filter(|stack| !stack.body.is_empty())
                .map(|stack| responses::get_template(&stack.body))
        };
        match template {
            Some(response) => Ok(response),
            None => self.forward().await,
        }
    }
}

fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_reads_lists_and_structures() {
        let query = Query::parse(
            b"Action=CreateChangeSet&Capabilities.member.2=CAPABILITY_NAMED_IAM\
              &Capabilities.member.1=CAPABILITY_IAM&Parameters.member.1.ParameterKey=A\
              &Parameters.member.1.ParameterValue=x%20y&Parameters.member.2.ParameterKey=B\
              &Parameters.member.2.UsePreviousValue=true&Tags.member.1.Key=k&Tags.member.1.Value=v",
        );
        assert_eq!(query.get("Action"), Some("CreateChangeSet"));
        assert_eq!(
            query.members("Capabilities"),
            ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
        );
        let parameters = query.parameters();
        assert_eq!(parameters.len(), 2);
        assert_eq!(parameters[0].value.as_deref(), Some("x y"));
        assert!(parameters[1].use_previous);
        assert_eq!(query.tags(), [("k".to_owned(), "v".to_owned())]);
    }

    #[test]
    fn query_re_encodes_with_changes() {
        let query = Query::parse(b"Action=X&TemplateURL=u&StackName=s");
        let encoded = query.encode_with(&[("TemplateURL", None), ("TemplateBody", Some("{}"))]);
        let reparsed = Query::parse(&encoded);
        assert_eq!(reparsed.get("TemplateURL"), None);
        assert_eq!(reparsed.get("TemplateBody"), Some("{}"));
        assert_eq!(reparsed.get("StackName"), Some("s"));
    }
}
