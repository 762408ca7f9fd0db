//! `sync_application`: starts a sync (optionally to a revision, selective, with prune, dry
//! run, sync options and a strategy) and reports the operation Argo CD started.

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Map, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::summary::{self, requested_operation, started_operation, wide_row};

pub(crate) fn tool() -> Tool {
    Tool::new(
        "sync_application",
        "Syncs an Argo CD application: applies the desired state from Git (or `revision`) to the \
         cluster. Returns at once with the operation Argo CD started; follow it with \
         get_application (or use deploy_and_watch). `prune` deletes live objects no longer in Git; \
         `dryRun` only checks; `resources` syncs just those objects; `syncOptions` such as \
         `ServerSideApply=true`; `strategy` `apply` skips hooks, `force` replaces objects. Fails \
         when another operation is running (terminate_operation stops it).",
    )
    .title("Sync an Argo CD application")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "revision": {"type": "string", "maxLength": 256,
                             "description": "Branch, tag, commit SHA or chart version to sync to (default: the app's targetRevision)."},
                "revisions": {"type": "array", "items": {"type": "string", "maxLength": 256}, "maxItems": 20,
                              "description": "For multi-source apps: a revision per source, with sourcePositions."},
                "sourcePositions": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 20,
                                    "description": "1-based positions of the sources the revisions apply to."},
                "prune": {"type": "boolean", "description": "Delete live objects that are no longer in Git (default false)."},
                "dryRun": {"type": "boolean", "description": "Only check what a sync would do."},
                "syncOptions": {"type": "array", "items": {"type": "string", "maxLength": 128}, "maxItems": 20,
                                "description": "Sync options, e.g. `ServerSideApply=true`, `Replace=true`, `CreateNamespace=true`."},
                "resources": {"type": "array", "maxItems": 100,
                              "items": {"type": "object", "properties": {
                                  "group": {"type": "string"}, "kind": {"type": "string"},
                                  "name": {"type": "string"}, "namespace": {"type": "string"}},
                                  "required": ["kind", "name"], "additionalProperties": false},
                              "description": "Sync only these objects (selective sync)."},
                "strategy": {"type": "string", "enum": ["hook", "apply"],
                             "description": "`hook` (default) runs sync hooks; `apply` only applies."},
                "force": {"type": "boolean", "description": "Replace objects that cannot be patched (delete and re-create)."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({
            "target": {"type": "string"}, "application": {"type": "string"},
            "dryRun": {"type": "boolean"},
            "operation": {"type": ["object", "null"], "description": "The operation Argo CD started: phase (`Requested` until the application controller picks it up, then `Running`), revision, message."},
            "summary": summary::row_schema(),
            "next": {"type": "string"},
        }),
        &["target", "application", "dryRun", "operation", "summary"],
    ))
    .destructive(true)
    .idempotent(false)
}

/// The body of ApplicationService_Sync for these arguments.
pub(crate) fn body(app_ref: &AppRef<'_>, arguments: &Value) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(app_ref.name));
    if let Some(namespace) = app_ref.namespace {
        body.insert("appNamespace".into(), json!(namespace));
    }
    for key in ["revision", "prune", "dryRun", "revisions"] {
        if !arguments[key].is_null() {
            body.insert(key.into(), arguments[key].clone());
        }
    }
    if let Some(positions) = arguments["sourcePositions"].as_array() {
        let positions: Vec<String> = positions.iter().map(ToString::to_string).collect();
        body.insert("sourcePositions".into(), json!(positions));
    }
    if let Some(options) = arguments["syncOptions"].as_array() {
        body.insert("syncOptions".into(), json!({"items": options}));
    }
    if let Some(resources) = arguments["resources"].as_array() {
        body.insert("resources".into(), json!(resources));
    }
    let force = arguments["force"].as_bool().unwrap_or(false);
    let strategy = match (args::str(arguments, "strategy"), force) {
        (Some("apply"), _) => Some(json!({"apply": {"force": force}})),
        (Some("hook"), _) | (None, true) => {
            Some(json!({"hook": {"syncStrategyApply": {"force": force}}}))
        }
        _ => None,
    };
    if let Some(strategy) = strategy {
        body.insert("strategy".into(), strategy);
    }
    Value::Object(body)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let body = body(&app_ref, arguments);
    let application = app_ref.client.send(
        Method::POST,
        &app_ref.path("/sync"),
        &crate::client::Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )?;
    let dry_run = arguments["dryRun"].as_bool().unwrap_or(false);
    let mut started = started_by_sync(&application, dry_run);
    if started["revision"] == ""
        && let Some(revision) = args::str(arguments, "revision")
    {
        started["revision"] = json!(revision);
    }
    let mut summary = wide_row(&application);
    summary["operation"] = started["phase"].clone();
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(),
        "application": app_ref.name,
        "dryRun": dry_run,
        "operation": started,
        "summary": summary,
        "next": "Poll get_application until summary.operation is Succeeded and health settles, or use deploy_and_watch.",
    })))
}

/// The operation a sync started, from Argo CD's answer to it: never the previous operation
/// still in the answer's status. Argo CD clears `status.operationState` when it accepts an
/// operation, so a finished state in the answer is a previous one's, even one that requested
/// exactly the same; an answer without `operation` does not show what started. Both are
/// `Requested`. A dry run that started nothing (no `operation`) reports none.
fn started_by_sync(application: &Value, dry_run: bool) -> Value {
    let requested = &application["operation"];
    let state = &application["status"]["operationState"];
    if requested.is_null() {
        if dry_run {
            return Value::Null;
        }
        return requested_operation(
            requested,
            "Argo CD accepted the sync but its answer does not show the operation; follow it \
             with get_application",
        );
    }
    if state["operation"] == *requested && summary::finished(state) {
        return requested_operation(
            requested,
            "Argo CD accepted the operation; its application controller starts it shortly",
        );
    }
    started_operation(application)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_options_are_sent_as_items_and_strategy_is_shaped() {
        let arguments = json!({"applicationName": "web", "syncOptions": ["ServerSideApply=true"],
                               "prune": true, "strategy": "apply", "force": true, "sourcePositions": [1]});
        let fixture = capstan_sdk::fixture::Fixture::new().target("t", "http://argocd.test");
        let app_ref = AppRef {
            name: "web",
            namespace: Some("team-a"),
            client: crate::client::Client::for_target(&fixture.context(), None).unwrap(),
        };
        let body = body(&app_ref, &arguments);
        assert_eq!(
            body["syncOptions"],
            json!({"items": ["ServerSideApply=true"]})
        );
        assert_eq!(body["strategy"], json!({"apply": {"force": true}}));
        assert_eq!(body["appNamespace"], "team-a");
        assert_eq!(body["sourcePositions"], json!(["1"]));
        assert_eq!(body["prune"], true);
    }
}
