//! Operations beyond sync: `refresh_application` (normal or hard), `get_application_history`
//! (deployments with their commit metadata), `rollback_application` (to a history entry,
//! turning automated sync off first when it is on) and `terminate_operation`.

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::autosync::{self, Automated};
use crate::client::Query;
use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::steps::Log;
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
         that revision. Argo CD refuses a rollback while automated sync is on, so when it is on \
         this turns it off first (keeping its settings) and leaves it OFF, since turned on it would \
         sync Git's revision again: the answer's `automatedSync.restore` is the set_automated_sync \
         call that turns it on once Git holds a good revision. Fails while another operation runs. \
         `dryRun` only checks and changes nothing.",
    )
    .title("Roll back an Argo CD application")
    .input(object(
        props(&[app_properties(), json!({
            "id": {"type": "integer", "minimum": 0, "description": "The history id to roll back to (default: the previous deployment)."},
            "prune": {"type": "boolean", "description": "Delete objects that the old revision does not have."},
            "dryRun": {"type": "boolean"}})]),
        &["applicationName"],
    ))
    .output(summary_output(
        json!({"rolledBackTo": {"type": "object"}, "steps": Log::schema(),
               "automatedSync": crate::autosync::report_schema(), "next": {"type": "string"}}),
        &["target", "summary", "rolledBackTo", "steps"],
    ))
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
    let mut log = Log::new(ctx);
    let rolled_back_to = history_row(&entry);
    if arguments["dryRun"].as_bool().unwrap_or(false)
        && let Some(settings) = autosync::active(&app)
    {
        // Argo CD refuses even a dry run while automated sync is on; nothing is changed.
        log.step(format!(
            "dry run: automated sync is on ({}); a rollback turns it off first and leaves it off",
            settings.describe()
        ));
        return Ok(ToolResult::structured(json!({
            "target": app_ref.client.target(), "summary": wide_row(&app), "operation": null,
            "rolledBackTo": rolled_back_to, "steps": log.steps,
            "automatedSync": {"enabled": true, "turnedOff": false, "was": settings.json(),
                              "message": "A rollback turns automated sync off before it starts (Argo CD refuses one while it is on) and leaves it off. This dry run changed nothing."},
        })));
    }
    let rolled = roll_back(&app_ref, &app, &entry, arguments, &mut log)?;
    let mut answer = json!({
        "target": app_ref.client.target(), "summary": wide_row(&rolled.app),
        "operation": summary::started_operation(&rolled.app), "rolledBackTo": rolled_back_to,
        "steps": log.steps,
        "next": "Follow the rollback with get_application until summary.operation is Succeeded and health settles.",
    });
    if let Some(settings) = rolled.turned_off {
        answer["automatedSync"] = autosync::turned_off_report(&app_ref, &settings);
    }
    Ok(ToolResult::structured(answer))
}

/// A rollback under way, and the automated sync settings it turned off.
pub(crate) struct RolledBack {
    /// Argo CD's answer to the rollback request.
    pub app: Value,
    /// Set when automated sync was on and is now off.
    pub turned_off: Option<Automated>,
}

/// Rolls `app` (as read just before) back to `entry`. Argo CD refuses a rollback while
/// automated sync is on, so it is turned off first; when Argo CD then refuses the rollback
/// anyway, it is turned back on as it was. Each step goes to `log`.
pub(crate) fn roll_back(
    app_ref: &AppRef<'_>,
    app: &Value,
    entry: &Value,
    arguments: &Value,
    log: &mut Log,
) -> Result<RolledBack, ToolError> {
    let row = history_row(entry);
    let turned_off = autosync::active(app);
    if let Some(settings) = turned_off {
        autosync::turn_off(app_ref)?;
        log.step(format!(
            "automated sync turned off (it was on: {}), since Argo CD refuses a rollback while it is on",
            settings.describe()
        ));
    }
    match post_rollback(app_ref, entry, arguments) {
        Ok(app) => {
            log.step(format!(
                "rollback to deployment {} (revision {}) requested",
                row["id"],
                text(&row["revision"])
            ));
            Ok(RolledBack { app, turned_off })
        }
        Err(error) => {
            let Some(settings) = turned_off else {
                return Err(error);
            };
            let restored = match autosync::turn_on(app_ref, &settings) {
                Ok(_) => "automated sync was turned back on as it was".to_owned(),
                Err(again) => format!(
                    "turning automated sync back on failed too ({}), so it is OFF: set_automated_sync {} turns it on",
                    again.message(),
                    autosync::restore_arguments(app_ref, &settings)
                ),
            };
            log.step(format!("rollback refused; {restored}"));
            Err(ToolError::new(format!("{} ({restored})", error.message())))
        }
    }
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
