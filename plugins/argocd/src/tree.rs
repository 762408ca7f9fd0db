//! `get_application_resource_tree`: every Kubernetes object an application owns (directly or
//! through controllers: ReplicaSets, Pods, …) as compact rows with health and status, counted
//! by kind and health, filterable and paged.

use capstan_sdk::{Map, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::{AppRef, Paging, merge};
use crate::schema::{app_properties, object, page_output, paging, props};
use crate::summary::text;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_application_resource_tree",
        "Lists the Kubernetes objects an Argo CD application owns, including those its \
         controllers create (ReplicaSets, Pods, Jobs): kind, name, namespace, health and status \
         (e.g. CrashLoopBackOff), parent and images, plus counts by kind and health. Use it to \
         find the failing objects of a Degraded application, then get_resources, \
         get_resource_events or get_application_workload_logs on them. Filter with `kind`, \
         `health` and `search`; paged (`limit`, default 100); `detail` returns Argo CD's raw nodes.",
    )
    .title("Get an application's resource tree")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "kind": {"type": "string", "maxLength": 253, "description": "Only objects of this kind, e.g. Pod."},
                "health": {"type": "string", "enum": ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"],
                           "description": "Only objects with this health."},
                "search": {"type": "string", "maxLength": 253, "description": "Only objects whose name contains this text."},
            }),
            paging(DEFAULT_LIMIT, MAX_LIMIT),
        ]),
        &["applicationName"],
    ))
    .output(object(
        props(&[
            json!({
                "target": {"type": "string"}, "application": {"type": "string"},
                "counts": {"type": "object", "properties": {"byKind": {"type": "object"}, "byHealth": {"type": "object"}}},
                "orphaned": {"type": "integer", "description": "Objects in the destination namespace that no application owns."},
                "nodes": {"type": "array", "items": {"type": "object"}},
            }),
            page_output(),
        ]),
        &["target", "application", "counts", "nodes", "total", "offset", "returned", "hasMore"],
    ))
    .read_only()
}

pub(crate) fn call(arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(arguments)?;
    let tree = app_ref.client.get(
        &app_ref.path("/resource-tree"),
        &app_ref.query(),
        &app_ref.not_found(),
    )?;
    let nodes: Vec<&Value> = tree["nodes"].as_array().into_iter().flatten().collect();
    let counts = json!({"byKind": count(&nodes, |n| text(&n["kind"])),
                        "byHealth": count(&nodes, |n| health(n))});
    let paging = Paging::from(arguments, DEFAULT_LIMIT);
    let matching: Vec<Value> = nodes
        .iter()
        .filter(|node| keep(node, arguments))
        .map(|node| {
            if paging.detail {
                (*node).clone()
            } else {
                row(node)
            }
        })
        .collect();
    let (page, fields) = paging.apply(matching);
    let mut answer = json!({
        "target": app_ref.client.target(), "application": app_ref.name, "counts": counts,
        "orphaned": tree["orphanedNodes"].as_array().map_or(0, Vec::len), "nodes": page,
    });
    merge(&mut answer, fields);
    Ok(ToolResult::structured(answer))
}

fn health(node: &Value) -> &str {
    node["health"]["status"].as_str().unwrap_or("None")
}

fn count<'a>(nodes: &[&'a Value], key: impl Fn(&'a Value) -> &'a str) -> Value {
    let mut counts = Map::new();
    for node in nodes {
        let entry = counts.entry(key(node).to_owned()).or_insert(json!(0));
        *entry = json!(entry.as_u64().unwrap_or(0) + 1);
    }
    Value::Object(counts)
}

fn keep(node: &Value, arguments: &Value) -> bool {
    let search = args::str(arguments, "search").unwrap_or_default();
    args::str(arguments, "kind").is_none_or(|kind| node["kind"] == kind)
        && args::str(arguments, "health").is_none_or(|wanted| health(node) == wanted)
        && text(&node["name"]).contains(search)
}

/// A compact node: what it is, its health and status, and its parent.
pub(crate) fn row(node: &Value) -> Value {
    let mut row = json!({"kind": text(&node["kind"]), "name": text(&node["name"])});
    for key in ["namespace", "group", "version", "uid"] {
        if !text(&node[key]).is_empty() {
            row[key] = node[key].clone();
        }
    }
    if let Some(status) = node["health"]["status"].as_str() {
        row["health"] = json!(status);
    }
    if let Some(message) = node["health"]["message"].as_str() {
        row["healthMessage"] = json!(message);
    }
    let info: Vec<String> = node["info"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| format!("{}: {}", text(&item["name"]), text(&item["value"])))
        .collect();
    if !info.is_empty() {
        row["info"] = json!(info.join("; "));
    }
    if let Some(parent) = node["parentRefs"].get(0) {
        row["parent"] = json!(format!(
            "{}/{}",
            text(&parent["kind"]),
            text(&parent["name"])
        ));
    }
    if let Some(images) = node["images"]
        .as_array()
        .filter(|images| !images.is_empty())
    {
        row["images"] = json!(images);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_compact_and_filters_apply() {
        let pod = json!({"kind": "Pod", "name": "web-1", "namespace": "shop", "version": "v1", "uid": "u1",
                         "health": {"status": "Degraded", "message": "back-off"},
                         "info": [{"name": "Status Reason", "value": "CrashLoopBackOff"}],
                         "parentRefs": [{"kind": "ReplicaSet", "name": "web-abc"}], "images": ["web:1"]});
        assert_eq!(
            row(&pod),
            json!({"kind": "Pod", "name": "web-1", "namespace": "shop", "version": "v1", "uid": "u1",
                                     "health": "Degraded", "healthMessage": "back-off",
                                     "info": "Status Reason: CrashLoopBackOff", "parent": "ReplicaSet/web-abc",
                                     "images": ["web:1"]})
        );
        assert!(keep(
            &pod,
            &json!({"kind": "Pod", "health": "Degraded", "search": "web"})
        ));
        assert!(!keep(&pod, &json!({"kind": "Service"})));
        let counts = count(&[&pod, &pod], |n| text(&n["kind"]));
        assert_eq!(counts, json!({"Pod": 2}));
    }
}
