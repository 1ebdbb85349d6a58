//! CloudFormation responses in the query protocol's XML.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use time::OffsetDateTime;
use time::macros::format_description;

use super::state::{Change, ChangeSetRecord, StackEvent, StackRecord};
use crate::server::xml_response;
use crate::xml::XmlWriter;

const NAMESPACE: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// Formats a timestamp as the query protocol does: ISO 8601 in UTC with milliseconds.
pub fn timestamp(time: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// Wraps a result element in `<ActionResponse>` with response metadata.
fn envelope(action: &str, result: impl FnOnce(&mut XmlWriter)) -> Response<Full<Bytes>> {
    let mut writer = XmlWriter::new();
    writer.open_with_namespace(&format!("{action}Response"), NAMESPACE);
    writer.open(&format!("{action}Result"));
    result(&mut writer);
    writer.close(&format!("{action}Result"));
    writer
        .open("ResponseMetadata")
        .element("RequestId", &uuid::Uuid::new_v4().to_string())
        .close("ResponseMetadata");
    writer.close(&format!("{action}Response"));
    xml_response(StatusCode::OK, writer.finish())
}

/// Builds an error response. The SDK maps `code` to a typed error.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let mut writer = XmlWriter::new();
    writer
        .open_with_namespace("ErrorResponse", NAMESPACE)
        .open("Error")
        .element("Type", "Sender")
        .element("Code", code)
        .element("Message", message)
        .close("Error")
        .element("RequestId", &uuid::Uuid::new_v4().to_string())
        .close("ErrorResponse");
    xml_response(status, writer.finish())
}

pub fn validation_error(message: &str) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, "ValidationError", message)
}

pub fn create_change_set(id: &str, stack_id: &str) -> Response<Full<Bytes>> {
    envelope("CreateChangeSet", |writer| {
        writer.element("Id", id).element("StackId", stack_id);
    })
}

pub fn empty(action: &str) -> Response<Full<Bytes>> {
    envelope(action, |_| {})
}

pub fn describe_change_set(record: &ChangeSetRecord) -> Response<Full<Bytes>> {
    envelope("DescribeChangeSet", |writer| {
        writer
            .element("ChangeSetName", &record.name)
            .element("ChangeSetId", &record.id)
            .element("StackId", &record.stack_id)
            .element("StackName", &record.stack_name)
            .optional("Description", record.description.as_deref());
        writer.open("Parameters");
        for (key, value) in &record.parameters {
            writer
                .open("member")
                .element("ParameterKey", key)
                .element("ParameterValue", value)
                .close("member");
        }
        writer.close("Parameters");
        writer
            .element("CreationTime", &timestamp(record.created))
            .element("ExecutionStatus", &record.execution_status)
            .element("Status", &record.status)
            .optional("StatusReason", record.status_reason.as_deref())
            .element("NotificationARNs", "");
        writer.open("Capabilities");
        for capability in &record.capabilities {
            writer.element("member", capability);
        }
        writer.close("Capabilities");
        writer.open("Tags");
        for (key, value) in &record.tags {
            writer
                .open("member")
                .element("Key", key)
                .element("Value", value)
                .close("member");
        }
        writer.close("Tags");
        writer.open("Changes");
        for change in &record.changes {
            write_change(writer, change);
        }
        writer.close("Changes");
        writer.element("IncludeNestedStacks", "false");
    })
}

fn write_change(writer: &mut XmlWriter, change: &Change) {
    writer
        .open("member")
        .element("Type", "Resource")
        .open("ResourceChange")
        .element("Action", change.action)
        .element("LogicalResourceId", &change.logical_id)
        .optional("PhysicalResourceId", change.physical_id.as_deref())
        .element("ResourceType", &change.resource_type)
        .optional("Replacement", change.replacement);
    writer.open("Scope");
    if !change.changed_properties.is_empty() {
        writer.element("member", "Properties");
    }
    writer.close("Scope");
    writer.open("Details");
    for (name, recreates) in &change.changed_properties {
        writer
            .open("member")
            .open("Target")
            .element("Attribute", "Properties")
            .element("Name", name)
            .element(
                "RequiresRecreation",
                if *recreates { "Always" } else { "Never" },
            )
            .close("Target")
            .element("Evaluation", "Static")
            .element("ChangeSource", "DirectModification")
            .close("member");
    }
    writer.close("Details");
    writer.close("ResourceChange").close("member");
}

pub fn list_change_sets(records: &[&ChangeSetRecord]) -> Response<Full<Bytes>> {
    envelope("ListChangeSets", |writer| {
        writer.open("Summaries");
        for record in records {
            writer
                .open("member")
                .element("StackId", &record.stack_id)
                .element("StackName", &record.stack_name)
                .element("ChangeSetId", &record.id)
                .element("ChangeSetName", &record.name)
                .element("ExecutionStatus", &record.execution_status)
                .element("Status", &record.status)
                .optional("StatusReason", record.status_reason.as_deref())
                .element("CreationTime", &timestamp(record.created))
                .optional("Description", record.description.as_deref())
                .element("IncludeNestedStacks", "false")
                .close("member");
        }
        writer.close("Summaries");
    })
}

/// `DescribeStackEvents`, newest first, one page of up to `page_size` from `start`.
pub fn describe_stack_events(
    stack: &StackRecord,
    start: usize,
    page_size: usize,
) -> Response<Full<Bytes>> {
    let now = OffsetDateTime::now_utc();
    let newest_first: Vec<&StackEvent> = stack
        .events
        .iter()
        .rev()
        .filter(|event| event.timestamp <= now)
        .collect();
    let page = newest_first.iter().skip(start).take(page_size);
    let next = start + page_size;
    envelope("DescribeStackEvents", |writer| {
        writer.open("StackEvents");
        for event in page {
            writer
                .open("member")
                .element("StackId", &stack.stack_id)
                .element("EventId", &event.event_id)
                .element("StackName", &stack.name)
                .element("LogicalResourceId", &event.logical_id)
                .element("PhysicalResourceId", &event.physical_id)
                .element("ResourceType", &event.resource_type)
                .element("Timestamp", &timestamp(event.timestamp))
                .element("ResourceStatus", &event.status)
                .optional("ResourceStatusReason", event.reason.as_deref())
                .close("member");
        }
        writer.close("StackEvents");
        if next < newest_first.len() {
            writer.element("NextToken", &next.to_string());
        }
    })
}

/// `DescribeStackResources` (detailed) or `ListStackResources` (summaries).
pub fn stack_resources(stack: &StackRecord, summaries: bool) -> Response<Full<Bytes>> {
    let action = if summaries {
        "ListStackResources"
    } else {
        "DescribeStackResources"
    };
    envelope(action, |writer| {
        writer.open(if summaries {
            "StackResourceSummaries"
        } else {
            "StackResources"
        });
        for (logical_id, deployed) in &stack.deployed {
            let (status, time) = stack
                .resource_status
                .get(logical_id)
                .cloned()
                .unwrap_or_else(|| ("CREATE_COMPLETE".to_owned(), stack.last_updated));
            writer.open("member");
            if !summaries {
                writer
                    .element("StackName", &stack.name)
                    .element("StackId", &stack.stack_id);
            }
            writer
                .element("LogicalResourceId", logical_id)
                .element("PhysicalResourceId", &deployed.physical_id)
                .element("ResourceType", &deployed.resource_type)
                .element(
                    if summaries {
                        "LastUpdatedTimestamp"
                    } else {
                        "Timestamp"
                    },
                    &timestamp(time),
                )
                .element("ResourceStatus", &status)
                .open("DriftInformation")
                .element("StackResourceDriftStatus", "NOT_CHECKED")
                .close("DriftInformation")
                .close("member");
        }
        writer.close(if summaries {
            "StackResourceSummaries"
        } else {
            "StackResources"
        });
    })
}

/// `DescribeStacks` for a stack that moto has deleted but whose deletion still shows as in
/// progress.
pub fn describe_deleting_stack(stack: &StackRecord) -> Response<Full<Bytes>> {
    let now = OffsetDateTime::now_utc();
    let created = stack
        .events
        .first()
        .map(|event| event.timestamp)
        .unwrap_or(stack.last_updated);
    let status = stack.visible_status(now).unwrap_or("DELETE_IN_PROGRESS");
    envelope("DescribeStacks", |writer| {
        writer
            .open("Stacks")
            .open("member")
            .element("StackId", &stack.stack_id)
            .element("StackName", &stack.name)
            .element("CreationTime", &timestamp(created))
            .element("StackStatus", status)
            .element("DisableRollback", "false")
            .element("NotificationARNs", "")
            .close("member")
            .close("Stacks");
    })
}

/// `DescribeStackResource` for one deployed resource of `stack`.
pub fn describe_stack_resource(stack: &StackRecord, logical_id: &str) -> Response<Full<Bytes>> {
    let (status, time) = stack
        .resource_status
        .get(logical_id)
        .cloned()
        .unwrap_or_else(|| ("CREATE_COMPLETE".to_owned(), stack.last_updated));
    let physical_id = stack.deployed.get(logical_id).map(|deployed| {
        (
            deployed.physical_id.as_str(),
            deployed.resource_type.as_str(),
        )
    });
    envelope("DescribeStackResource", |writer| {
        writer
            .open("StackResourceDetail")
            .element("StackName", &stack.name)
            .element("StackId", &stack.stack_id)
            .element("LogicalResourceId", logical_id);
        if let Some((physical_id, resource_type)) = physical_id {
            writer
                .element("PhysicalResourceId", physical_id)
                .element("ResourceType", resource_type);
        }
        writer
            .element("LastUpdatedTimestamp", &timestamp(time))
            .element("ResourceStatus", &status)
            .open("DriftInformation")
            .element("StackResourceDriftStatus", "NOT_CHECKED")
            .close("DriftInformation")
            .close("StackResourceDetail");
    })
}

pub fn get_template(body: &str) -> Response<Full<Bytes>> {
    envelope("GetTemplate", |writer| {
        writer.element("TemplateBody", body);
        writer.open("StagesAvailable");
        writer
            .element("member", "Original")
            .element("member", "Processed");
        writer.close("StagesAvailable");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_in_utc() {
        let time = OffsetDateTime::from_unix_timestamp_nanos(1_796_400_000_123_456_789)
            .expect("valid time");
        assert_eq!(timestamp(time), "2026-12-04T16:00:00.123Z");
    }
}
