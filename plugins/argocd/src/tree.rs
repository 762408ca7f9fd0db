//! `get_application_resource_tree`: the Kubernetes objects an application owns (directly or
//! through controllers: ReplicaSets, Pods, Jobs, …). By default it answers counts by kind and
//! health and only the objects that need attention (not healthy, or a status reason other
//! than Running or Completed), with a hint on how to see the rest; a filter (`kind`,
//! `health`, `search`) or `all: true` lists the objects as compact rows, paged.

use capstan_sdk::{Context, Map, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::{AppRef, Paging, merge};
use crate::schema::{app_properties, object, page_output, paging, props};
use crate::summary::text;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;
/// Objects needing attention listed at most without a filter.
const MAX_ATTENTION: usize = 20;
/// Pod status reasons that are no cause for concern.
const NORMAL_REASONS: [&str; 2] = ["Running", "Completed"];

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_application_resource_tree",
        "Summarises the Kubernetes objects an Argo CD application owns, including those its \
         controllers create (ReplicaSets, Pods, Jobs): counts by kind and by health, and the \
         objects that need attention (not Healthy, or a pod status such as CrashLoopBackOff) \
         with kind, name, namespace, health, status, parent and images. Use it to find the \
         failing objects of a Degraded application, then get_resources, get_resource_events or \
         get_application_workload_logs on them. To list objects, filter with `kind`, `health` \
         or `search`, or pass `all: true` for every object (paged: `limit`, default 100); \
         `detail` returns Argo CD's raw nodes.",
    )
    .title("Get an application's resource tree")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "kind": {"type": "string", "maxLength": 253, "description": "List only objects of this kind, e.g. Pod."},
                "health": {"type": "string", "enum": ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"],
                           "description": "List only objects with this health."},
                "search": {"type": "string", "maxLength": 253, "description": "List only objects whose name contains this text."},
                "all": {"type": "boolean", "description": "List every object, not just those that need attention (paged)."},
            }),
            paging(DEFAULT_LIMIT, MAX_LIMIT),
        ]),
        &["applicationName"],
    ))
    .output(object(
        props(&[
            json!({
                "target": {"type": "string"}, "application": {"type": "string"},
                "counts": {"type": "object", "properties": {"byKind": {"type": "object"}, "byHealth": {"type": "object", "description": "None: no health check."}}},
                "attention": {"type": "array", "items": {"type": "object"},
                              "description": "Without a filter or `all`: the objects that are not Healthy or whose status is not Running or Completed (at most 20; left out when none)."},
                "nodes": {"type": "array", "items": {"type": "object"},
                          "description": "With a filter or `all`: the matching objects, paged."},
                "orphaned": {"type": "integer", "description": "Objects in the destination namespace that no application owns (when any)."},
                "hint": {"type": "string", "description": "How to see more."},
            }),
            page_output(),
        ]),
        &["target", "application", "counts", "total"],
    ))
    .read_only()
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let tree = app_ref.client.get(
        &app_ref.path("/resource-tree"),
        &app_ref.query(),
        &app_ref.not_found(),
    )?;
    let nodes: Vec<&Value> = tree["nodes"].as_array().into_iter().flatten().collect();
    let mut answer = json!({
        "target": app_ref.client.target(), "application": app_ref.name,
        "counts": {"byKind": count(&nodes, |n| text(&n["kind"])), "byHealth": count(&nodes, |n| health(n))},
    });
    if let Some(orphaned) = tree["orphanedNodes"].as_array().filter(|o| !o.is_empty()) {
        answer["orphaned"] = json!(orphaned.len());
    }
    if listing(arguments) {
        list(&mut answer, &nodes, arguments);
    } else {
        summarise(&mut answer, &nodes);
    }
    Ok(ToolResult::structured(answer))
}

/// Whether the call asks for a list of objects rather than the summary.
fn listing(arguments: &Value) -> bool {
    ["kind", "health", "search"]
        .iter()
        .any(|key| args::str(arguments, key).is_some())
        || ["all", "detail"]
            .iter()
            .any(|key| arguments[*key].as_bool().unwrap_or(false))
}

/// The matching objects, paged.
fn list(answer: &mut Value, nodes: &[&Value], arguments: &Value) {
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
    answer["nodes"] = json!(page);
    merge(answer, fields);
    if answer["hasMore"] == true {
        answer["hint"] = json!(format!(
            "More objects match: call again with offset {}.",
            answer["nextOffset"]
        ));
    }
}

/// The objects that need attention, and how to see the others.
fn summarise(answer: &mut Value, nodes: &[&Value]) {
    let attention: Vec<Value> = nodes
        .iter()
        .filter(|n| needs_attention(n))
        .map(|n| row(n))
        .collect();
    answer["total"] = json!(nodes.len());
    let hint = match attention.len() {
        0 => format!(
            "Nothing needs attention; all: true lists the {} objects.",
            nodes.len()
        ),
        count if count > MAX_ATTENTION => format!(
            "{count} objects need attention, the first {MAX_ATTENTION} shown: filter with health or kind to list them all."
        ),
        count => format!(
            "{count} of {} objects need attention. all: true lists every object; kind, health or search filter them.",
            nodes.len()
        ),
    };
    if !attention.is_empty() {
        answer["attention"] = json!(
            attention
                .into_iter()
                .take(MAX_ATTENTION)
                .collect::<Vec<_>>()
        );
    }
    answer["hint"] = json!(hint);
}

/// Not Healthy (when it has a health), or a pod whose status is not Running or Completed.
fn needs_attention(node: &Value) -> bool {
    let unhealthy = node["health"]["status"]
        .as_str()
        .is_some_and(|health| health != "Healthy");
    let reason = node["info"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item["name"] == "Status Reason")
        .and_then(|item| item["value"].as_str());
    unhealthy || reason.is_some_and(|reason| !NORMAL_REASONS.contains(&reason))
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
        // `v1` is what resource references default to.
        let default_version = key == "version" && node[key] == "v1";
        if !text(&node[key]).is_empty() && !default_version {
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
            json!({"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u1",
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

    #[test]
    fn only_unhealthy_objects_and_unusual_pods_need_attention() {
        let node = |health: Option<&str>, reason: Option<&str>| {
            let mut node = json!({"kind": "Pod", "name": "p"});
            if let Some(health) = health {
                node["health"] = json!({"status": health});
            }
            if let Some(reason) = reason {
                node["info"] = json!([{"name": "Node", "value": "n"}, {"name": "Status Reason", "value": reason}]);
            }
            node
        };
        assert!(!needs_attention(&node(None, None)), "no health check");
        assert!(!needs_attention(&node(Some("Healthy"), Some("Running"))));
        assert!(!needs_attention(&node(Some("Healthy"), Some("Completed"))));
        assert!(needs_attention(&node(Some("Progressing"), Some("Running"))));
        assert!(needs_attention(&node(Some("Healthy"), Some("Evicted"))));
        assert!(needs_attention(&node(None, Some("Pending"))));
    }

    #[test]
    fn the_summary_lists_what_needs_attention_and_a_filter_lists_objects() {
        let healthy = json!({"kind": "Service", "name": "web", "health": {"status": "Healthy"}});
        let failing = json!({"kind": "Pod", "name": "web-1", "health": {"status": "Degraded"}});
        let nodes = [&healthy, &failing, &healthy];
        let mut answer = json!({});
        summarise(&mut answer, &nodes);
        assert_eq!(answer["total"], 3);
        assert_eq!(
            answer["attention"],
            json!([{"kind": "Pod", "name": "web-1", "health": "Degraded"}])
        );
        assert!(
            answer["hint"].as_str().unwrap().contains("all: true"),
            "{answer}"
        );
        assert!(answer.get("nodes").is_none());
        let mut fine = json!({});
        summarise(&mut fine, &[&healthy]);
        assert!(fine.get("attention").is_none());
        assert!(!listing(&json!({"applicationName": "web"})));
        assert!(listing(&json!({"all": true})) && listing(&json!({"kind": "Pod"})));
        let mut listed = json!({});
        list(&mut listed, &nodes, &json!({"kind": "Service"}));
        assert_eq!(
            (listed["total"].as_u64(), listed["returned"].as_u64()),
            (Some(2), Some(2))
        );
    }
}
