//! Calls the sandbox makes to moto on the caller's behalf.

use http::Method;
use serde_json::Value;

use crate::Error;
use crate::scope::CredentialScope;
use crate::server::App;

/// A row of moto's `DescribeStackResources`; moto lists resources of types it skips as rows
/// without a logical ID, and those are left out.
#[derive(Clone, Debug)]
pub struct MotoResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
}

pub async fn stack_resources(
    app: &App,
    scope: &CredentialScope,
    stack_id: &str,
) -> Result<Vec<MotoResource>, Error> {
    let response = app
        .moto
        .query(
            scope,
            "cloudformation",
            "2010-05-15",
            "DescribeStackResources",
            &[("StackName", stack_id)],
        )
        .await?;
    if !response.is_success() {
        return Err(Error::MotoFailed {
            action: "DescribeStackResources".to_owned(),
            status: response.status.as_u16(),
            body: response.text(),
        });
    }
    let text = response.text();
    let document = roxmltree::Document::parse(&text).map_err(|error| Error::MotoResponse {
        action: "DescribeStackResources".to_owned(),
        message: error.to_string(),
    })?;
    let rows = document
        .descendants()
        .filter(|node| node.has_tag_name("member"))
        .filter(|node| {
            node.parent()
                .is_some_and(|parent| parent.has_tag_name("StackResources"))
        })
        .filter_map(|node| {
            let logical_id = crate::xml::child_text(node, "LogicalResourceId")?;
            let resource_type = crate::xml::child_text(node, "ResourceType")?;
            let physical_id = crate::xml::child_text(node, "PhysicalResourceId")
                .filter(|id| !id.is_empty() && id != "None");
            Some(MotoResource {
                logical_id,
                resource_type,
                physical_id,
            })
        })
        .collect();
    Ok(rows)
}

/// Creates or replaces a topic rule in moto's IoT.
pub async fn put_topic_rule(
    app: &App,
    scope: &CredentialScope,
    name: &str,
    payload: &Value,
) -> Result<(), Error> {
    let path = format!("/rules/{name}");
    let deleted = app
        .moto
        .rest_json(scope, "iot", Method::DELETE, &path, None)
        .await?;
    tracing::debug!(rule = name, status = %deleted.status, "removed any earlier topic rule");
    let created = app
        .moto
        .rest_json(scope, "iot", Method::POST, &path, Some(payload))
        .await?;
    if !created.is_success() {
        return Err(Error::MotoFailed {
            action: format!("CreateTopicRule {name}"),
            status: created.status.as_u16(),
            body: created.text(),
        });
    }
    Ok(())
}

/// Deletes a topic rule from moto's IoT; a rule that is already gone is not an error.
pub async fn delete_topic_rule(
    app: &App,
    scope: &CredentialScope,
    name: &str,
) -> Result<(), Error> {
    let response = app
        .moto
        .rest_json(
            scope,
            "iot",
            Method::DELETE,
            &format!("/rules/{name}"),
            None,
        )
        .await?;
    if !response.is_success() && response.status != http::StatusCode::NOT_FOUND {
        return Err(Error::MotoFailed {
            action: format!("DeleteTopicRule {name}"),
            status: response.status.as_u16(),
            body: response.text(),
        });
    }
    Ok(())
}

/// Sets a function's asynchronous invocation settings in moto's Lambda.
pub async fn put_event_invoke_config(
    app: &App,
    scope: &CredentialScope,
    function_name: &str,
    qualifier: &str,
    config: &Value,
) -> Result<(), Error> {
    let path = event_invoke_config_path(function_name, qualifier);
    let response = app
        .moto
        .rest_json(scope, "lambda", Method::PUT, &path, Some(config))
        .await?;
    if !response.is_success() {
        return Err(Error::MotoFailed {
            action: format!("PutFunctionEventInvokeConfig {function_name}"),
            status: response.status.as_u16(),
            body: response.text(),
        });
    }
    Ok(())
}

/// Removes a function's asynchronous invocation settings from moto's Lambda; a function or
/// setting that is already gone is not an error.
pub async fn delete_event_invoke_config(
    app: &App,
    scope: &CredentialScope,
    function_name: &str,
    qualifier: &str,
) -> Result<(), Error> {
    let path = event_invoke_config_path(function_name, qualifier);
    let response = app
        .moto
        .rest_json(scope, "lambda", Method::DELETE, &path, None)
        .await?;
    if !response.is_success() && response.status != http::StatusCode::NOT_FOUND {
        return Err(Error::MotoFailed {
            action: format!("DeleteFunctionEventInvokeConfig {function_name}"),
            status: response.status.as_u16(),
            body: response.text(),
        });
    }
    Ok(())
}

fn event_invoke_config_path(function_name: &str, qualifier: &str) -> String {
    let qualifier: String = form_urlencoded::byte_serialize(qualifier.as_bytes()).collect();
    format!("/2019-09-25/functions/{function_name}/event-invoke-config?Qualifier={qualifier}")
}

/// Reads a template from an S3 URL (virtual-hosted or path style) out of moto's S3.
pub async fn read_template_url(
    app: &App,
    scope: &CredentialScope,
    url: &str,
) -> Result<String, String> {
    let (bucket, key) = split_s3_url(url)
        .ok_or_else(|| format!("TemplateURL must be an S3 object URL, got {url}"))?;
    let response = app
        .moto
        .get_object(scope, &bucket, &key)
        .await
        .map_err(|error| format!("failed to read TemplateURL {url}: {error}"))?;
    if !response.is_success() {
        return Err(format!(
            "TemplateURL {url} could not be read: S3 returned HTTP {}",
            response.status
        ));
    }
    String::from_utf8(response.body.to_vec())
        .map_err(|_| format!("TemplateURL {url} is not UTF-8 text"))
}

/// Splits an S3 object URL into bucket and (still percent-encoded) key.
fn split_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.split(':').next().unwrap_or(host);
    let virtual_bucket = host
        .split_once(".s3.")
        .or_else(|| host.split_once(".s3-"))
        .map(|(bucket, _)| bucket);
    match virtual_bucket {
        Some(bucket) if !bucket.is_empty() => Some((bucket.to_owned(), path.to_owned())),
        _ => {
            let (bucket, key) = path.split_once('/')?;
            Some((bucket.to_owned(), key.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_s3_urls() {
        let cases = [
            ("https://b.s3.amazonaws.com/k/t.yaml", ("b", "k/t.yaml")),
            (
                "https://b.s3.eu-west-1.amazonaws.com/t.yaml",
                ("b", "t.yaml"),
            ),
            (
                "https://s3.eu-west-1.amazonaws.com/b/k/t.yaml",
                ("b", "k/t.yaml"),
            ),
            ("http://127.0.0.1:5000/b/t.yaml", ("b", "t.yaml")),
        ];
        for (url, (bucket, key)) in cases {
            assert_eq!(
                split_s3_url(url),
                Some((bucket.to_owned(), key.to_owned())),
                "{url}"
            );
        }
        assert_eq!(split_s3_url("ftp://x/y"), None);
    }
}
