//! Operations beyond sync: `refresh_application` (normal or hard), `get_application_history`
//! (deployments with their commit metadata), `rollback_application` (to a history entry) and
//! `terminate_operation`.

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::Query;
use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::summary::{self, history_row, operation, text, wide_row};
use capstan_sdk::url::segment;

fn summary_output(extra: Value, required: &[&str]) -> Value {
    object(
        props(&[
            json!({"target": {"type": "string"}, "summary": summary::row_schema(),
                       "operation": {"type": ["object", "null"]}}),
            extra,
        ]),
        required,
    )
}

pub(crate) fn refresh_tool() -> Tool {
    Tool::new(
        "refresh_application",
        "Makes Argo CD compare an application with Git and the cluster now instead of at its next \
         poll: `normal` (default) re-reads the repository, `hard` also drops the cached manifests \
         (use after changing Helm dependencies or plugins). Returns the refreshed summary.",
    )
    .title("Refresh an Argo CD application")
    .input(object(
        props(&[app_properties(), json!({"kind": {"type": "string", "enum": ["normal", "hard"], "description": "default normal"}})]),
        &["applicationName"],
    ))
    .output(summary_output(json!({}), &["target", "summary"]))
    .destructive(false)
    .idempotent(true)
}

pub(crate) fn refresh(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    query.push("refresh", args::str(arguments, "kind").unwrap_or("normal"));
    let app = app_ref
        .client
        .get(&app_ref.path(""), &query, &app_ref.not_found())?;
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "summary": wide_row(&app),
        "operation": operation(&app["status"]["operationState"]),
    })))
}

pub(crate) fn history_tool() -> Tool {
    Tool::new(
        "get_application_history",
        "Lists an Argo CD application's deployments, newest first: history id, revision, when, \
         by whom or by automated sync, and for Git sources the commit's author, date and message. \
         Use the id with rollback_application.",
    )
    .title("Get an application's deployment history")
    .input(object(
        props(&[app_properties(), json!({
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Entries to return (default 10)."},
            "metadata": {"type": "boolean", "description": "Look up commit metadata for each entry (default true)."}})]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"},
               "current": {"type": "string", "description": "The revision deployed now."},
               "history": {"type": "array", "items": {"type": "object"}}}),
        &["target", "application", "history"],
    ))
    .read_only()
}

pub(crate) fn history(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let app = app_ref
        .client
        .get(&app_ref.path(""), &app_ref.query(), &app_ref.not_found())?;
    let limit = usize::try_from(args::u64_or(arguments, "limit", 10)).unwrap_or(10);
    let with_metadata = arguments["metadata"].as_bool().unwrap_or(true);
    let git = !app["spec"]["source"]["chart"].is_string();
    let entries: Vec<Value> = app["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .take(limit)
        .map(|entry| {
            let mut row = history_row(entry);
            if with_metadata && git && !text(&entry["revision"]).is_empty() {
                match revision_metadata(&app_ref, text(&entry["revision"])) {
                    Ok(metadata) => row["commit"] = metadata,
                    Err(error) => row["commitError"] = json!(error.message()),
                }
            }
            row
        })
        .collect();
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name,
        "current": text(&app["status"]["sync"]["revision"]), "history": entries,
    })))
}

fn revision_metadata(app_ref: &AppRef<'_>, revision: &str) -> Result<Value, ToolError> {
    let path = app_ref.path(&format!("/revisions/{}/metadata", segment(revision)?));
    let not_found = format!("Argo CD does not know revision {revision}.");
    let metadata = app_ref.client.get(&path, &app_ref.query(), &not_found)?;
    Ok(
        json!({"author": text(&metadata["author"]), "date": text(&metadata["date"]),
              "message": text(&metadata["message"]), "tags": metadata["tags"]}),
    )
}

pub(crate) fn rollback_tool() -> Tool {
    Tool::new(
        "rollback_application",
        "Rolls an Argo CD application back to an earlier deployment (an `id` from \
         get_application_history; default: the deployment before the current one) by syncing \
         that revision. Argo CD refuses while automated sync is on (turn it off with \
         update_application first) or while another operation runs. `dryRun` only checks.",
    )
    .title("Roll back an Argo CD application")
    .input(object(
        props(&[app_properties(), json!({
            "id": {"type": "integer", "minimum": 0, "description": "The history id to roll back to (default: the previous deployment)."},
            "prune": {"type": "boolean", "description": "Delete objects that the old revision does not have."},
            "dryRun": {"type": "boolean"}})]),
        &["applicationName"],
    ))
    .output(summary_output(json!({"rolledBackTo": {"type": "object"}}), &["target", "summary", "rolledBackTo"]))
    .destructive(true)
    .idempotent(false)
}

/// The history entry before the newest one.
pub(crate) fn previous_entry(app: &Value) -> Option<Value> {
    let entries = app["status"]["history"].as_array()?;
    entries
        .len()
        .checked_sub(2)
        .map(|index| entries[index].clone())
}

pub(crate) fn rollback(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let app = app_ref
        .client
        .get(&app_ref.path(""), &app_ref.query(), &app_ref.not_found())?;
    let entry = match arguments["id"].as_i64() {
        Some(id) => app["status"]["history"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"].as_i64() == Some(id))
            .cloned(),
        None => previous_entry(&app),
    }
    .ok_or_else(|| {
        ToolError::new(format!(
            "{} has no such earlier deployment; get_application_history lists the ids",
            app_ref.name
        ))
    })?;
    let rolled = post_rollback(&app_ref, &entry, arguments)?;
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "summary": wide_row(&rolled),
        "operation": summary::started_operation(&rolled), "rolledBackTo": history_row(&entry),
    })))
}

/// POSTs the rollback to `entry` and returns the application.
pub(crate) fn post_rollback(
    app_ref: &AppRef<'_>,
    entry: &Value,
    arguments: &Value,
) -> Result<Value, ToolError> {
    let mut body = json!({"name": app_ref.name, "id": entry["id"]});
    if let Some(namespace) = app_ref.namespace {
        body["appNamespace"] = json!(namespace);
    }
    for key in ["prune", "dryRun"] {
        if let Some(value) = arguments[key].as_bool() {
            body[key] = json!(value);
        }
    }
    app_ref.client.send(
        Method::POST,
        &app_ref.path("/rollback"),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )
}

pub(crate) fn terminate_tool() -> Tool {
    Tool::new(
        "terminate_operation",
        "Stops the sync or rollback an Argo CD application is running (for example one stuck \
         waiting on a hook). Objects already applied stay as they are. Fails when nothing is running.",
    )
    .title("Terminate an application's operation")
    .input(object(app_properties(), &["applicationName"]))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"}, "terminated": {"type": "boolean"}}),
        &["target", "application", "terminated"],
    ))
    .destructive(false)
    .idempotent(false)
}

pub(crate) fn terminate(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    app_ref.client.send(
        Method::DELETE,
        &app_ref.path("/operation"),
        &app_ref.query(),
        None,
        &app_ref.not_found(),
    )?;
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name, "terminated": true,
    })))
}
