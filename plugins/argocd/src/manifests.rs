//! What Git says an application should be: `get_application_manifests` (the rendered desired
//! manifests at a revision) and `diff_application` (Argo CD's server-side diff of those
//! manifests against the live objects, summarised as the changed fields).

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::{AppRef, Paging, merge};
use crate::schema::{app_properties, object, page_output, paging, props};
use crate::summary::text;

/// Manifests sent to the server-side diff at most.
const MAX_DIFFED: usize = 50;
/// Changed paths listed per object at most.
const MAX_PATHS: usize = 20;

pub(crate) fn manifests_tool() -> Tool {
    Tool::new(
        "get_application_manifests",
        "Renders an Argo CD application's desired manifests (what Git holds after Helm, Kustomize \
         or plugins) at its target revision or at `revision`: one row per object (apiVersion, \
         kind, namespace, name) by default, the full manifests with `detail`. Use it to check \
         what a revision would deploy before syncing to it.",
    )
    .title("Get an application's desired manifests")
    .input(object(
        props(&[app_properties(),
                json!({"revision": {"type": "string", "maxLength": 256, "description": "Render at this revision (default: the app's target)."}}),
                paging(100, 1000)]),
        &["applicationName"],
    ))
    .output(object(
        props(&[json!({"target": {"type": "string"}, "application": {"type": "string"},
                       "revision": {"type": "string"}, "sourceType": {"type": "string"},
                       "manifests": {"type": "array", "items": {"type": "object"}}}), page_output()]),
        &["target", "application", "manifests", "total", "offset", "returned", "hasMore"],
    ))
    .read_only()
}

fn fetch(app_ref: &AppRef<'_>, revision: Option<&str>) -> Result<Value, ToolError> {
    let mut query = app_ref.query();
    query.push_opt("revision", revision);
    app_ref
        .client
        .get(&app_ref.path("/manifests"), &query, &app_ref.not_found())
}

fn parsed(answer: &Value) -> Vec<Value> {
    answer["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|text| {
            text.as_str()
                .and_then(|text| serde_json::from_str(text).ok())
        })
        .collect()
}

fn identity(manifest: &Value) -> Value {
    json!({"apiVersion": text(&manifest["apiVersion"]), "kind": text(&manifest["kind"]),
           "namespace": text(&manifest["metadata"]["namespace"]), "name": text(&manifest["metadata"]["name"])})
}

pub(crate) fn manifests(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let answer = fetch(&app_ref, args::str(arguments, "revision"))?;
    let paging = Paging::from(arguments, 100);
    let rows: Vec<Value> = parsed(&answer)
        .into_iter()
        .map(|m| if paging.detail { m } else { identity(&m) })
        .collect();
    let (page, fields) = paging.apply(rows);
    let mut result = json!({"target": app_ref.client.target(), "application": app_ref.name,
                            "revision": text(&answer["revision"]), "sourceType": text(&answer["sourceType"]),
                            "manifests": page});
    merge(&mut result, fields);
    Ok(ToolResult::structured(result))
}

pub(crate) fn diff_tool() -> Tool {
    Tool::new(
        "diff_application",
        "Shows what a sync of an Argo CD application would change: Argo CD renders the desired \
         manifests (at `revision` if given) and runs a server-side diff (a dry-run apply) against \
         the live objects. Answers each object with whether it changes and the changed field \
         paths; `detail` adds the live and predicted states.",
    )
    .title("Diff an application against the cluster")
    .input(object(
        props(&[app_properties(), json!({
            "revision": {"type": "string", "maxLength": 256, "description": "Diff the manifests of this revision (default: the app's target)."},
            "project": {"type": "string", "maxLength": 253, "description": "The application's project."},
            "detail": {"type": "boolean", "description": "Include live and predicted states."}})]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"}, "revision": {"type": "string"},
               "modified": {"type": "boolean"}, "changed": {"type": "integer"},
               "resources": {"type": "array", "items": {"type": "object"}},
               "omitted": {"type": "integer"}}),
        &["target", "application", "modified", "changed", "resources"],
    ))
    .read_only()
}

pub(crate) fn diff(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let rendered = fetch(&app_ref, args::str(arguments, "revision"))?;
    let manifests: Vec<&Value> = rendered["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let mut query = app_ref.query();
    query.push_opt("project", args::str(arguments, "project"));
    for manifest in manifests.iter().take(MAX_DIFFED) {
        query.push_opt("targetManifests", manifest.as_str());
    }
    let path = format!(
        "/api/v1/applications/{}/server-side-diff",
        capstan_sdk::url::segment(app_ref.name)?
    );
    let answer = app_ref.client.get(&path, &query, &app_ref.not_found())?;
    let detail = arguments["detail"].as_bool().unwrap_or(false);
    let rows: Vec<Value> = answer["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| diff_row(item, detail))
        .collect();
    let changed = rows.iter().filter(|row| row["modified"] == true).count();
    let mut result = json!({"target": app_ref.client.target(), "application": app_ref.name,
                            "revision": text(&rendered["revision"]), "modified": changed > 0,
                            "changed": changed, "resources": rows});
    if manifests.len() > MAX_DIFFED {
        result["omitted"] = json!(manifests.len() - MAX_DIFFED);
    }
    Ok(ToolResult::structured(result))
}

fn diff_row(item: &Value, detail: bool) -> Value {
    let state = |key: &str| {
        item[key]
            .as_str()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    let (live, predicted) = (state("liveState"), state("predictedLiveState"));
    let mut paths = Vec::new();
    changed_paths("", &live, &predicted, &mut paths);
    let mut row = json!({"kind": text(&item["kind"]), "name": text(&item["name"]), "namespace": text(&item["namespace"]),
                         "modified": item["modified"].as_bool().unwrap_or(false), "new": live.is_null(),
                         "changedPaths": paths});
    if detail {
        row["liveState"] = live;
        row["predictedLiveState"] = predicted;
    }
    row
}

/// The JSON pointers where `before` and `after` differ (at most [`MAX_PATHS`]); `status` and
/// server-managed metadata are ignored.
fn changed_paths(at: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    if out.len() >= MAX_PATHS || before == after {
        return;
    }
    const IGNORED: [&str; 5] = [
        "/status",
        "/metadata/uid",
        "/metadata/resourceVersion",
        "/metadata/creationTimestamp",
        "/metadata/managedFields",
    ];
    if IGNORED.contains(&at) {
        return;
    }
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let null = Value::Null;
                changed_paths(
                    &format!("{at}/{key}"),
                    a.get(key).unwrap_or(&null),
                    b.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        _ => out.push(if at.is_empty() {
            "/".into()
        } else {
            at.to_owned()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_paths_skip_status_and_server_metadata() {
        let before = json!({"spec": {"replicas": 2, "image": "a"}, "status": {"ready": 1}, "metadata": {"uid": "x"}});
        let after =
            json!({"spec": {"replicas": 3, "image": "a"}, "status": {"ready": 2}, "metadata": {}});
        let mut paths = Vec::new();
        changed_paths("", &before, &after, &mut paths);
        assert_eq!(paths, ["/spec/replicas"]);
    }
}
