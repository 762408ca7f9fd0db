//! ApplicationSets: `list_applicationsets`, `get_applicationset`, `create_applicationset`,
//! `delete_applicationset` and `generate_applicationset` (a dry-run preview of the
//! Applications a set would generate, from a set given in full or by name).

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::schema::{NAME_PATTERN, NAMESPACE_PATTERN, object, props, target_property};
use crate::summary::{row, text};
use capstan_sdk::url::segment;

fn named() -> Value {
    json!({"target": target_property(),
           "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 253, "description": "The ApplicationSet's name."},
           "appsetNamespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                               "description": "Its namespace, when not Argo CD's own."}})
}

fn appset_input() -> Value {
    json!({"type": "object", "description": "An ApplicationSet: `metadata` (name, namespace, labels) and `spec` \
            (generators, template, syncPolicy, …) as in Argo CD's ApplicationSet CRD.",
           "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                          "metadata": {"type": "object", "properties": {"name": {"type": "string", "pattern": NAME_PATTERN}},
                                       "required": ["name"]},
                          "spec": {"type": "object", "required": ["generators", "template"]}},
           "required": ["metadata", "spec"], "additionalProperties": false})
}

/// One row: name, generators, the template's name and project, and status.
fn summary(set: &Value) -> Value {
    let generators: Vec<String> = set["spec"]["generators"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_object().and_then(|m| m.keys().next().cloned()))
        .collect();
    let template = &set["spec"]["template"];
    let conditions: Vec<Value> = set["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"type": text(&c["type"]), "status": text(&c["status"]), "message": text(&c["message"])}))
        .collect();
    json!({"name": text(&set["metadata"]["name"]), "namespace": text(&set["metadata"]["namespace"]),
           "generators": generators, "template": text(&template["metadata"]["name"]),
           "project": text(&template["spec"]["project"]), "health": text(&set["status"]["health"]["status"]),
           "applications": set["status"]["resourcesCount"].as_u64().unwrap_or(0), "conditions": conditions})
}

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_applicationsets",
        "Lists Argo CD ApplicationSets: name, generator kinds (list, git, clusters, matrix, …), the \
         template's name pattern and project, health and conditions. Filter by `projects`, \
         `selector` or `appsetNamespace`.",
    )
    .title("List ApplicationSets")
    .input(object(
        json!({"target": target_property(),
               "projects": {"type": "array", "items": {"type": "string", "maxLength": 253}, "maxItems": 50},
               "selector": {"type": "string", "maxLength": 1024, "description": "Label selector on the ApplicationSets."},
               "appsetNamespace": {"type": "string", "pattern": NAMESPACE_PATTERN}}),
        &[],
    ))
    .output(object(json!({"target": {"type": "string"}, "applicationSets": {"type": "array", "items": {"type": "object"}}}),
                   &["target", "applicationSets"]))
    .read_only()
}

pub(crate) fn list(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let mut query = Query::default();
    for project in arguments["projects"].as_array().into_iter().flatten() {
        query.push_opt("projects", project.as_str());
    }
    query.push_opt("selector", args::str(arguments, "selector"));
    query.push_opt("appsetNamespace", args::str(arguments, "appsetNamespace"));
    let list = client.get(
        "/api/v1/applicationsets",
        &query,
        "The target does not serve ApplicationSets: check its URL.",
    )?;
    let rows: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(summary)
        .collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "applicationSets": rows}),
    ))
}

fn path_and_query(arguments: &Value) -> Result<(String, Query, String), ToolError> {
    let name = args::required_str(arguments, "name")?;
    let mut query = Query::default();
    query.push_opt("appsetNamespace", args::str(arguments, "appsetNamespace"));
    let not_found =
        format!("No ApplicationSet `{name}` exists there; list_applicationsets shows them.");
    Ok((
        format!("/api/v1/applicationsets/{}", segment(name)?),
        query,
        not_found,
    ))
}

pub(crate) fn get_tool() -> Tool {
    Tool::new(
        "get_applicationset",
        "Gets one Argo CD ApplicationSet: its summary and spec (generators, template, sync \
         policy); `detail` adds its status (the applications it generated and their state).",
    )
    .title("Get an ApplicationSet")
    .input(object(props(&[named(), json!({"detail": {"type": "boolean"}})]), &["name"]))
    .output(object(json!({"target": {"type": "string"}, "summary": {"type": "object"}, "spec": {"type": "object"},
                          "status": {"type": "object"}}), &["target", "summary", "spec"]))
    .read_only()
}

pub(crate) fn get(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let (path, query, not_found) = path_and_query(arguments)?;
    let set = client.get(&path, &query, &not_found)?;
    let mut answer =
        json!({"target": client.target(), "summary": summary(&set), "spec": set["spec"]});
    if arguments["detail"].as_bool().unwrap_or(false) {
        answer["status"] = set["status"].clone();
    }
    Ok(ToolResult::structured(answer))
}

pub(crate) fn create_tool() -> Tool {
    Tool::new(
        "create_applicationset",
        "Creates an Argo CD ApplicationSet, which then creates and manages one Application per \
         generated element. Preview with generate_applicationset first. An existing set with a \
         different spec is refused unless `upsert` is true; `dryRun` only validates.",
    )
    .title("Create an ApplicationSet")
    .input(object(
        json!({"target": target_property(), "applicationSet": appset_input(),
               "upsert": {"type": "boolean"}, "dryRun": {"type": "boolean"}}),
        &["applicationSet"],
    ))
    .output(object(json!({"target": {"type": "string"}, "summary": {"type": "object"}, "dryRun": {"type": "boolean"}}),
                   &["target", "summary", "dryRun"]))
    .destructive(true)
    .idempotent(true)
}

fn cleaned(set: &Value) -> Value {
    let mut set = set.clone();
    if let Some(map) = set.as_object_mut() {
        for key in ["apiVersion", "kind", "status"] {
            map.remove(key);
        }
    }
    set
}

pub(crate) fn create(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let mut query = Query::default();
    for flag in ["upsert", "dryRun"] {
        if let Some(value) = arguments[flag].as_bool() {
            query.push(flag, &value.to_string());
        }
    }
    let set = cleaned(&arguments["applicationSet"]);
    let created = client.send(
        Method::POST,
        "/api/v1/applicationsets",
        &query,
        Some(&set),
        "Check the target's URL.",
    )?;
    Ok(ToolResult::structured(
        json!({"target": client.target(), "summary": summary(&created),
                                     "dryRun": arguments["dryRun"].as_bool().unwrap_or(false)}),
    ))
}

pub(crate) fn delete_tool() -> Tool {
    Tool::new(
        "delete_applicationset",
        "Deletes an Argo CD ApplicationSet. Unless its sync policy preserves them, the Applications \
         it generated are deleted too, and with them what they deployed.",
    )
    .title("Delete an ApplicationSet")
    .input(object(named(), &["name"]))
    .output(object(json!({"target": {"type": "string"}, "name": {"type": "string"}, "deleted": {"type": "boolean"}}),
                   &["target", "name", "deleted"]))
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn delete(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let (path, query, not_found) = path_and_query(arguments)?;
    client.send(Method::DELETE, &path, &query, None, &not_found)?;
    Ok(ToolResult::structured(
        json!({"target": client.target(), "name": args::str(arguments, "name"), "deleted": true}),
    ))
}

pub(crate) fn generate_tool() -> Tool {
    Tool::new(
        "generate_applicationset",
        "Previews the Applications an ApplicationSet would generate, without creating anything: \
         pass a new `applicationSet`, or the `name` of an existing one. Answers one row per \
         Application (name, project, source, destination).",
    )
    .title("Preview an ApplicationSet")
    .input(object(
        props(&[named(), json!({"applicationSet": appset_input()})]),
        &[],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "count": {"type": "integer"},
                          "applications": {"type": "array", "items": {"type": "object"}}}),
        &["target", "count", "applications"],
    ))
    .read_only()
}

pub(crate) fn generate(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let set = if arguments["applicationSet"].is_object() {
        cleaned(&arguments["applicationSet"])
    } else if arguments["name"].is_string() {
        let (path, query, not_found) = path_and_query(arguments)?;
        let existing = client.get(&path, &query, &not_found)?;
        json!({"metadata": {"name": existing["metadata"]["name"], "namespace": existing["metadata"]["namespace"]},
               "spec": existing["spec"]})
    } else {
        return Err(ToolError::new(
            "pass `applicationSet` (a new set) or `name` (an existing one)",
        ));
    };
    let body = json!({"applicationSet": set});
    let answer = client.send(
        Method::POST,
        "/api/v1/applicationsets/generate",
        &Query::default(),
        Some(&body),
        "Check the target's URL.",
    )?;
    let rows: Vec<Value> = answer["applications"]
        .as_array()
        .into_iter()
        .flatten()
        .map(row)
        .collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "count": rows.len(), "applications": rows}),
    ))
}
