//! Kubernetes Events about Flux objects: those `get_flux_resource` attaches (an object's and its
//! source's, without the routine `ReconciliationSucceeded`), and `get_flux_events`, which reads
//! like `flux events [--for Kind/name]`: only Flux kinds, oldest first, with the source's
//! events when one object is named.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::kinds;
use crate::kube::{Client, ListOptions, core};
use crate::{schema, sources};

/// Events returned at most (the newest).
const MAX_EVENTS: usize = 100;

/// The schema of one event row.
pub(crate) fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({"type": "object", "properties": {
        "lastSeen": string, "type": string, "reason": string, "object": string,
        "namespace": string, "message": string, "count": {"type": "integer"}},
        "required": ["type", "reason", "object", "message"]})
}

/// The non-routine events of the object `kind/name` in `namespace`, oldest first.
pub(crate) fn of_object(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Vec<Value>, ToolError> {
    let fields = format!(
        "involvedObject.kind={kind},involvedObject.name={name},reason!=ReconciliationSucceeded"
    );
    list(client, Some(namespace), &fields)
}

fn list(client: &Client, namespace: Option<&str>, fields: &str) -> Result<Vec<Value>, ToolError> {
    let options = ListOptions {
        namespace,
        labels: None,
        fields: Some(fields),
    };
    let mut events = client.list(core("events", "Event"), options)?;
    events.retain(|event| {
        event["involvedObject"]["kind"]
            .as_str()
            .is_some_and(|kind| kinds::named(kind).is_some())
    });
    events.sort_by(|a, b| last_seen(a).cmp(last_seen(b)));
    let skip = events.len().saturating_sub(MAX_EVENTS);
    Ok(events.iter().skip(skip).map(row).collect())
}

/// When the event last happened: series, else lastTimestamp, else eventTime.
fn last_seen(event: &Value) -> &str {
    event["series"]["lastObservedTime"]
        .as_str()
        .or_else(|| event["lastTimestamp"].as_str())
        .or_else(|| event["eventTime"].as_str())
        .unwrap_or_default()
}

fn row(event: &Value) -> Value {
    let involved = &event["involvedObject"];
    json!({
        "lastSeen": last_seen(event),
        "type": event["type"].as_str().unwrap_or("Normal"),
        "reason": event["reason"].as_str().unwrap_or_default(),
        "object": format!("{}/{}", involved["kind"].as_str().unwrap_or_default(),
                          involved["name"].as_str().unwrap_or_default()),
        "namespace": involved["namespace"].as_str().or_else(|| event["metadata"]["namespace"].as_str()).unwrap_or_default(),
        "message": event["message"].as_str().unwrap_or_default(),
        "count": event["count"].as_u64().unwrap_or(1),
    })
}

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_flux_events",
        "Lists Kubernetes events about Flux objects, oldest first, like `flux events`: in one \
         namespace or all, optionally only for one `kind` (and `name`), and only `Warning` or \
         `Normal` ones. Naming one object adds its source's events (a Kustomization's \
         GitRepository, a HelmRelease's HelmChart), which is where fetch and build failures \
         show up.",
    )
    .title("Get Flux events")
    .input(schema::object(
        schema::with_target(json!({
            "namespace": schema::namespace("Only this namespace; every namespace when omitted. Required with `name`."),
            "kind": schema::kind("Only events about this kind."),
            "name": schema::name("Only events about the object of this name (needs `kind` and `namespace`)."),
            "type": {"type": "string", "enum": ["Normal", "Warning"], "description": "Only events of this type."},
        })),
        &[],
    ))
    .output(schema::object(
        json!({"target": {"type": "string"}, "count": {"type": "integer"},
               "events": {"type": "array", "items": row_schema()}}),
        &["target", "count", "events"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let namespace = args::str(arguments, "namespace");
    let kind = args::str(arguments, "kind")
        .map(kinds::require)
        .transpose()?;
    let name = args::str(arguments, "name");
    let mut found = match (kind, name, namespace) {
        (Some(kind), Some(name), Some(namespace)) => for_named(&client, kind, namespace, name)?,
        (_, Some(_), _) => {
            return Err(ToolError::new(
                "`name` needs `kind` and `namespace` too, e.g. {\"kind\": \"Kustomization\", \
                 \"name\": \"apps\", \"namespace\": \"flux-system\"}",
            ));
        }
        (Some(kind), None, _) => list(
            &client,
            namespace,
            &format!("involvedObject.kind={}", kind.name()),
        )?,
        (None, None, _) => list(&client, namespace, "")?,
    };
    if let Some(wanted) = args::str(arguments, "type") {
        found.retain(|event| event["type"] == wanted);
    }
    Ok(ToolResult::structured(json!({
        "target": client.target(), "count": found.len(), "events": found,
    })))
}

/// The events of one object and of its source, oldest first.
fn for_named(
    client: &Client,
    kind: kinds::Kind,
    namespace: &str,
    name: &str,
) -> Result<Vec<Value>, ToolError> {
    let object = client.get(kind.resource, namespace, name)?;
    let select =
        |kind: &str, name: &str| format!("involvedObject.kind={kind},involvedObject.name={name}");
    let mut found = list(client, Some(namespace), &select(kind.name(), name))?;
    if let Some(source) = sources::of(kind, &object) {
        let more = list(
            client,
            Some(&source.namespace),
            &select(source.kind.name(), &source.name),
        )?;
        found.extend(more);
        found.sort_by(|a, b| a["lastSeen"].as_str().cmp(&b["lastSeen"].as_str()));
    }
    Ok(found)
}
