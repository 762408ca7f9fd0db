//! The Kubernetes objects of an application: `get_application_managed_resources` (desired vs
//! live, with diffs), `get_resources` (live manifests, a bounded number at a time),
//! `get_resource_actions` and `run_resource_action` (Argo CD's v2 endpoint, with parameters).

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Get, Query};
use crate::params::{AppRef, Paging, ResourceRef, merge};
use crate::schema::{app_properties, object, page_output, paging, props, resource_ref};
use crate::summary::text;

/// Objects `get_resources` reads when the call names none.
const DEFAULT_RESOURCES: u64 = 10;
/// Objects `get_resources` reads at most in one call.
const MAX_RESOURCES: u64 = 50;
/// Objects `get_resources` reads concurrently.
const FAN_OUT: usize = 4;
/// Characters of a diff shown in a summary row.
const DIFF_EXCERPT: usize = 2000;

pub(crate) fn managed_tool() -> Tool {
    let text =
        |description: &str| json!({"type": "string", "maxLength": 253, "description": description});
    Tool::new(
        "get_application_managed_resources",
        "Lists the objects an Argo CD application manages directly (what Git declares) with \
         whether each differs from the live cluster and the diff. Use it to see why an application \
         is OutOfSync. Filter with kind, name, namespace, group, version; paged. `detail` adds the \
         full target, live and predicted states (large).",
    )
    .title("Get an application's managed resources")
    .input(object(
        props(&[
            app_properties(),
            json!({"kind": text("e.g. Deployment"), "name": text("Object name."), "namespace": text("Object namespace."),
                   "group": text("API group."), "version": text("API version."),
                   "project": text("The application's project (lets Argo CD check RBAC sooner).")}),
            paging(50, 500),
        ]),
        &["applicationName"],
    ))
    .output(object(
        props(&[json!({"target": {"type": "string"}, "application": {"type": "string"},
                       "modified": {"type": "integer", "description": "How many objects differ from Git."},
                       "resources": {"type": "array", "items": {"type": "object"}}}), page_output()]),
        &["target", "application", "modified", "resources", "total", "offset", "returned", "hasMore"],
    ))
    .read_only()
}

pub(crate) fn managed(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    for name in ["kind", "name", "namespace", "group", "version", "project"] {
        query.push_opt(name, args::str(arguments, name));
    }
    let answer = app_ref.client.get(
        &app_ref.path("/managed-resources"),
        &query,
        &app_ref.not_found(),
    )?;
    let items: Vec<&Value> = answer["items"].as_array().into_iter().flatten().collect();
    let modified = items.iter().filter(|item| item["modified"] == true).count();
    let paging = Paging::from(arguments, 50);
    let rows: Vec<Value> = items
        .iter()
        .map(|item| diff_row(item, paging.detail))
        .collect();
    let (page, fields) = paging.apply(rows);
    let mut result = json!({"target": app_ref.client.target(), "application": app_ref.name,
                            "modified": modified, "resources": page});
    merge(&mut result, fields);
    Ok(ToolResult::structured(result))
}

fn diff_row(item: &Value, detail: bool) -> Value {
    let mut row = json!({"kind": text(&item["kind"]), "name": text(&item["name"]),
                         "namespace": text(&item["namespace"]), "group": text(&item["group"]),
                         "modified": item["modified"].as_bool().unwrap_or(false)});
    if item["hook"] == true {
        row["hook"] = json!(true);
    }
    let diff = text(&item["diff"]);
    if !diff.is_empty() {
        row["diff"] = json!(capstan_sdk::http::excerpt(diff, DIFF_EXCERPT));
    }
    if item["liveState"]
        .as_str()
        .is_none_or(|live| live == "null" || live.is_empty())
    {
        row["missingLive"] = json!(true);
    }
    if detail {
        for key in ["targetState", "liveState", "predictedLiveState"] {
            row[key] = parse_state(&item[key]);
        }
    }
    row
}

/// A state Argo CD sends as a JSON string, parsed (so it is not encoded twice).
fn parse_state(state: &Value) -> Value {
    state
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

pub(crate) fn get_tool() -> Tool {
    Tool::new(
        "get_resources",
        "Gets the live manifests of Kubernetes objects of an Argo CD application (as the cluster \
         has them, status included). Name the objects in `resourceRefs` (from \
         get_application_resource_tree); without refs it reads the first `limit` objects of the \
         tree (default 10, at most 50), four at a time. One object that cannot be read does not fail \
         the others.",
    )
    .title("Get live manifests of an application's objects")
    .input(object(
        props(&[
            app_properties(),
            json!({"resourceRefs": {"type": "array", "items": resource_ref(), "maxItems": MAX_RESOURCES},
                   "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESOURCES,
                             "description": "Objects to read when resourceRefs is empty (default 10)."}}),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"},
               "resources": {"type": "array", "items": {"type": "object"}},
               "omitted": {"type": "integer", "description": "Objects of the tree not read (raise limit or name them)."}}),
        &["target", "application", "resources"],
    ))
    .read_only()
}

pub(crate) fn get_resources(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut refs: Vec<ResourceRef> = arguments["resourceRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(ResourceRef::from)
        .collect::<Result<_, _>>()?;
    let mut omitted = 0;
    if refs.is_empty() {
        let tree = app_ref.client.get(
            &app_ref.path("/resource-tree"),
            &app_ref.query(),
            &app_ref.not_found(),
        )?;
        let nodes: Vec<&Value> = tree["nodes"].as_array().into_iter().flatten().collect();
        let limit = usize::try_from(args::u64_or(arguments, "limit", DEFAULT_RESOURCES))
            .unwrap_or(usize::MAX);
        omitted = nodes.len().saturating_sub(limit);
        refs = nodes
            .iter()
            .take(limit)
            .filter_map(|node| ResourceRef::from(node).ok())
            .collect();
    }
    let resources = read_all(&app_ref, &refs);
    let mut answer = json!({"target": app_ref.client.target(), "application": app_ref.name, "resources": resources});
    if omitted > 0 {
        answer["omitted"] = json!(omitted);
    }
    Ok(ToolResult::structured(answer))
}

/// The objects' live manifests, [`FAN_OUT`] requests in flight at a time.
fn read_all(app_ref: &AppRef<'_>, refs: &[ResourceRef]) -> Vec<Value> {
    refs.chunks(FAN_OUT)
        .flat_map(|chunk| {
            let gets: Vec<Get> = chunk
                .iter()
                .map(|reference| get_one(app_ref, reference))
                .collect();
            let answers = app_ref.client.get_all(&gets);
            chunk
                .iter()
                .zip(answers)
                .map(|(reference, answer)| read_one(reference, answer))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The GET of one object's live manifest.
fn get_one(app_ref: &AppRef<'_>, reference: &ResourceRef) -> Get {
    let mut query = app_ref.query();
    reference.push(&mut query);
    let not_found = format!(
        "{} is not part of application {}; check get_application_resource_tree.",
        reference.label(),
        app_ref.name
    );
    Get {
        path: app_ref.path("/resource"),
        query,
        not_found,
    }
}

/// One object's live manifest, or the error reading it.
fn read_one(reference: &ResourceRef, answer: Result<Value, ToolError>) -> Value {
    match answer {
        Ok(answer) => {
            let mut manifest = parse_state(&answer["manifest"]);
            if let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
            json!({"ref": reference.label(), "manifest": manifest})
        }
        Err(error) => json!({"ref": reference.label(), "error": error.message()}),
    }
}

fn ref_input(extra: Value) -> Value {
    props(&[
        app_properties(),
        json!({"resourceRef": resource_ref()}),
        extra,
    ])
}

pub(crate) fn actions_tool() -> Tool {
    Tool::new(
        "get_resource_actions",
        "Lists the actions Argo CD offers on one object of an application (e.g. `restart` on a \
         Deployment, `resume` on a paused Rollout, `scale` with a `replicas` parameter), with \
         whether each is disabled and the parameters it takes. Run one with run_resource_action.",
    )
    .title("List resource actions")
    .input(object(
        ref_input(json!({})),
        &["applicationName", "resourceRef"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "resource": {"type": "string"},
               "actions": {"type": "array", "items": {"type": "object", "properties": {
                   "name": {"type": "string"}, "disabled": {"type": "boolean"},
                   "params": {"type": "array", "items": {"type": "string"}}}}}}),
        &["target", "resource", "actions"],
    ))
    .read_only()
}

pub(crate) fn actions(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let reference = ResourceRef::from(&arguments["resourceRef"])?;
    let mut query = app_ref.query();
    reference.push(&mut query);
    let answer = app_ref.client.get(
        &app_ref.path("/resource/actions"),
        &query,
        &app_ref.not_found(),
    )?;
    let actions: Vec<Value> = answer["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|action| {
            let params: Vec<&str> = action["params"].as_array().into_iter().flatten().map(|p| text(&p["name"])).collect();
            json!({"name": text(&action["name"]), "disabled": action["disabled"].as_bool().unwrap_or(false), "params": params})
        })
        .collect();
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "resource": reference.label(), "actions": actions,
    })))
}

pub(crate) fn run_tool() -> Tool {
    Tool::new(
        "run_resource_action",
        "Runs an Argo CD resource action on one object of an application, such as `restart` of a \
         Deployment or `scale` with `parameters: {\"replicas\": \"3\"}`. List what is available \
         with get_resource_actions first. Uses Argo CD's v2 action endpoint.",
    )
    .title("Run a resource action")
    .input(object(
        ref_input(json!({
            "action": {"type": "string", "minLength": 1, "maxLength": 128, "description": "The action's name, e.g. `restart`."},
            "parameters": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                           "description": "Action parameters by name, e.g. {\"replicas\": \"3\"}."},
        })),
        &["applicationName", "resourceRef", "action"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "resource": {"type": "string"}, "action": {"type": "string"},
               "ran": {"type": "boolean"}}),
        &["target", "resource", "action", "ran"],
    ))
    .destructive(true)
    .idempotent(false)
}

pub(crate) fn run(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let reference = ResourceRef::from(&arguments["resourceRef"])?;
    let action = args::required_str(arguments, "action")?;
    let parameters: Vec<Value> = arguments["parameters"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let value = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            json!({"name": name, "value": value})
        })
        .collect();
    let mut body = json!({
        "name": app_ref.name, "namespace": reference.namespace, "resourceName": reference.name,
        "version": if reference.version.is_empty() { "v1" } else { &reference.version },
        "group": reference.group, "kind": reference.kind, "action": action,
        "resourceActionParameters": parameters,
    });
    if let Some(namespace) = app_ref.namespace {
        body["appNamespace"] = json!(namespace);
    }
    app_ref.client.send(
        Method::POST,
        &app_ref.path("/resource/actions/v2"),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )?;
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "resource": reference.label(), "action": action, "ran": true,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_rows_parse_states_only_with_detail() {
        let item = json!({"kind": "Deployment", "name": "web", "modified": true, "diff": "{\"a\":1}",
                          "liveState": "{\"kind\":\"Deployment\"}", "targetState": "{}"});
        let row = diff_row(&item, false);
        assert_eq!(row["diff"], "{\"a\":1}");
        assert!(row.get("liveState").is_none());
        assert_eq!(
            diff_row(&item, true)["liveState"],
            json!({"kind": "Deployment"})
        );
        assert_eq!(
            diff_row(&json!({"liveState": "null"}), false)["missingLive"],
            true
        );
    }
}
