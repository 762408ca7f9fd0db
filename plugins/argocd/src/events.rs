//! `get_application_events` and `get_resource_events`: Kubernetes events of the Application
//! object or of one of its objects, newest first, as compact rows.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::{AppRef, Paging, merge};
use crate::schema::{app_properties, object, page_output, paging, props};
use crate::summary::text;

fn output() -> Value {
    object(
        props(&[
            json!({"target": {"type": "string"}, "application": {"type": "string"},
                   "warnings": {"type": "integer", "description": "How many of the events are warnings."},
                   "events": {"type": "array", "items": {"type": "object", "properties": {
                       "type": {"type": "string"}, "reason": {"type": "string"}, "message": {"type": "string"},
                       "object": {"type": "string"}, "count": {"type": "integer"}, "lastSeen": {"type": "string"}}}}}),
            page_output(),
        ]),
        &[
            "target",
            "application",
            "warnings",
            "events",
            "total",
            "offset",
            "returned",
            "hasMore",
        ],
    )
}

pub(crate) fn application_tool() -> Tool {
    Tool::new(
        "get_application_events",
        "Lists the Kubernetes events of an Argo CD Application object (sync operations started \
         and finished, health changes), newest first. For the events of a Pod or Deployment of \
         the application use get_resource_events.",
    )
    .title("Get an application's events")
    .input(object(
        props(&[app_properties(), paging(50, 500)]),
        &["applicationName"],
    ))
    .output(output())
    .read_only()
}

pub(crate) fn resource_tool() -> Tool {
    let text =
        |description: &str| json!({"type": "string", "maxLength": 253, "description": description});
    Tool::new(
        "get_resource_events",
        "Lists the Kubernetes events of one object of an Argo CD application (e.g. a Pod's \
         BackOff, FailedScheduling, Unhealthy probe or image pull events), newest first. Take \
         the name, namespace and uid from get_application_resource_tree.",
    )
    .title("Get a resource's events")
    .input(object(
        props(&[
            app_properties(),
            json!({"resourceName": text("The object's name."), "resourceNamespace": text("The object's namespace."),
                   "resourceUID": text("The object's UID (optional, narrows to that exact object).")}),
            paging(50, 500),
        ]),
        &["applicationName", "resourceName"],
    ))
    .output(output())
    .read_only()
}

/// `get_application_events`.
pub(crate) fn application_events(
    ctx: &Context,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    events(ctx, arguments, false)
}

/// `get_resource_events`.
pub(crate) fn resource_events(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    events(ctx, arguments, true)
}

fn events(ctx: &Context, arguments: &Value, resource: bool) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    if resource {
        for name in ["resourceNamespace", "resourceName", "resourceUID"] {
            query.push_opt(name, args::str(arguments, name));
        }
    }
    let list = app_ref
        .client
        .get(&app_ref.path("/events"), &query, &app_ref.not_found())?;
    let mut items: Vec<&Value> = list["items"].as_array().into_iter().flatten().collect();
    items.sort_by(|a, b| last_seen(b).cmp(last_seen(a)));
    let warnings = items
        .iter()
        .filter(|event| event["type"] == "Warning")
        .count();
    let paging = Paging::from(arguments, 50);
    let rows: Vec<Value> = items
        .iter()
        .map(|event| {
            if paging.detail {
                (*event).clone()
            } else {
                row(event)
            }
        })
        .collect();
    let (page, fields) = paging.apply(rows);
    let mut answer = json!({"target": app_ref.client.target(), "application": app_ref.name,
                            "warnings": warnings, "events": page});
    merge(&mut answer, fields);
    Ok(ToolResult::structured(answer))
}

fn last_seen(event: &Value) -> &str {
    [
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["firstTimestamp"],
    ]
    .into_iter()
    .find_map(|time| time.as_str())
    .unwrap_or_default()
}

/// One event: type, reason, message, the object, how often and when last.
pub(crate) fn row(event: &Value) -> Value {
    let object = &event["involvedObject"];
    json!({
        "type": text(&event["type"]), "reason": text(&event["reason"]), "message": text(&event["message"]),
        "object": format!("{}/{}", text(&object["kind"]), text(&object["name"])),
        "count": event["count"].as_u64().unwrap_or(1), "lastSeen": last_seen(event),
    })
}
