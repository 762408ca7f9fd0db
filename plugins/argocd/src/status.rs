//! The compact status of one application, what `get_application` answers by default beside
//! its row: how the last operation ended (and what it failed to apply), conditions,
//! resource counts by health with the objects that are not healthy or not in sync, images
//! and the last three deployments. Empty parts are left out, and nothing the row already says
//! is repeated.

use capstan_sdk::{Map, Value, json};
use serde::Deserialize;

use crate::lenient::{Count, Flag, Items, Obj, Text};
use crate::listing::{Condition, Lite, RowStatus};

/// Not-healthy or out-of-sync objects listed at most (the tree has them all).
const MAX_RESOURCES: usize = 10;
/// Objects a failed sync could not apply, listed at most.
const MAX_FAILED: usize = 5;
/// Deployments listed, newest first.
const RECENT_HISTORY: usize = 3;

/// The schema of the compact status.
pub(crate) fn schema() -> Value {
    json!({
        "type": "object",
        "description": "Compact status; empty parts are left out.",
        "properties": {
            "operation": {"type": "object", "description": "The last operation (its phase is summary.operation): message unless it succeeded, startedAt while running, finishedAt, revision when not the deployed one, retries, and `failed`: objects it could not apply (with their message unless the operation's quotes it)."},
            "conditions": {"type": "array", "items": {"type": "object"}, "description": "Argo CD's conditions (type, message), e.g. ComparisonError, SyncError."},
            "resources": {"type": "object", "description": "Managed objects: `total`, `byHealth` (None: no health check), `outOfSync`, and `notHealthyOrOutOfSync` (at most 10; `more` counts the rest)."},
            "images": {"type": "array", "items": {"type": "string"}},
            "recentHistory": {"type": "array", "items": {"type": "object"}, "description": "The last three deployments, newest first: id (for rollback_application), revision (commit SHAs shortened; get_application_history has them in full), deployedAt, by."},
        },
    })
}

/// An Application as `get_application` reads it: what rows read, and the status fields the
/// compact status needs; everything else is skipped while parsing.
pub(crate) type Detail<'a> = Lite<'a, DetailStatus<'a>>;

/// What the compact status reads of `status`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct DetailStatus<'a> {
    #[serde(borrow)]
    sync: Obj<Condition<'a>>,
    #[serde(borrow)]
    health: Obj<Condition<'a>>,
    #[serde(borrow)]
    operation_state: Obj<OperationState<'a>>,
    #[serde(borrow)]
    controller_namespace: Text<'a>,
    #[serde(borrow)]
    conditions: Items<Obj<AppCondition<'a>>>,
    #[serde(borrow)]
    resources: Items<Obj<Resource<'a>>>,
    summary: Obj<Summary>,
    #[serde(borrow)]
    history: Items<Obj<Deployment<'a>>>,
}

impl<'a> RowStatus<'a> for DetailStatus<'a> {
    fn sync(&self) -> &Condition<'a> {
        &self.sync
    }

    fn health(&self) -> &Condition<'a> {
        &self.health
    }

    fn phase(&self) -> &Text<'a> {
        &self.operation_state.phase
    }

    fn controller_namespace(&self) -> &Text<'a> {
        &self.controller_namespace
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct OperationState<'a> {
    #[serde(borrow)]
    phase: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
    #[serde(borrow)]
    started_at: Text<'a>,
    #[serde(borrow)]
    finished_at: Text<'a>,
    retry_count: Count,
    #[serde(borrow)]
    sync_result: Obj<SyncResult<'a>>,
    #[serde(borrow)]
    operation: Obj<Requested<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SyncResult<'a> {
    #[serde(borrow)]
    revision: Text<'a>,
    #[serde(borrow)]
    resources: Items<Obj<Applied<'a>>>,
}

/// An object a sync applied (or failed to).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Applied<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    status: Text<'a>,
    #[serde(borrow)]
    hook_phase: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
}

/// The operation asked for: `operation.sync.revision`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Requested<'a> {
    #[serde(borrow)]
    sync: Obj<Revision<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Revision<'a> {
    #[serde(borrow)]
    revision: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AppCondition<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
}

/// A managed object.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    namespace: Text<'a>,
    #[serde(borrow)]
    status: Text<'a>,
    #[serde(borrow)]
    health: Obj<Condition<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Summary {
    /// Kept as given (an array of strings from Argo CD).
    images: Value,
}

/// A history entry.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Deployment<'a> {
    /// Kept as given (a number from Argo CD).
    id: Value,
    #[serde(borrow)]
    revision: Text<'a>,
    #[serde(borrow)]
    deployed_at: Text<'a>,
    #[serde(borrow)]
    initiated_by: Obj<Initiator<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Initiator<'a> {
    automated: Flag,
    #[serde(borrow)]
    username: Text<'a>,
}

/// The compact status of `app`.
pub(crate) fn status(app: &Detail<'_>) -> Value {
    let status = &*app.status;
    let mut out = Map::new();
    if let Some(operation) = operation(status) {
        out.insert("operation".into(), operation);
    }
    let conditions: Vec<Value> = status
        .conditions
        .iter()
        .map(|c| json!({"type": c.kind.as_str(), "message": c.message.as_str()}))
        .collect();
    if !conditions.is_empty() {
        out.insert("conditions".into(), json!(conditions));
    }
    out.insert("resources".into(), resources(app));
    let images = &status.summary.images;
    if images.as_array().is_some_and(|images| !images.is_empty()) {
        out.insert("images".into(), images.clone());
    }
    let history: Vec<Value> = status
        .history
        .iter()
        .rev()
        .take(RECENT_HISTORY)
        .map(|entry| deployment(entry))
        .collect();
    if !history.is_empty() {
        out.insert("recentHistory".into(), json!(history));
    }
    Value::Object(out)
}

/// Sets `key` to `value` when it is not empty.
fn put(out: &mut Map<String, Value>, key: &str, value: &Text<'_>) {
    if !value.as_str().is_empty() {
        out.insert(key.into(), json!(value.as_str()));
    }
}

/// The last operation beyond its phase: message, times, a revision other than the deployed
/// one, retries and the objects it could not apply.
fn operation(status: &DetailStatus<'_>) -> Option<Value> {
    let state = &status.operation_state;
    if !state.is_object() {
        return None;
    }
    let mut out = Map::new();
    match state.phase.as_str() {
        "Succeeded" => {}
        "Running" => {
            put(&mut out, "message", &state.message);
            put(&mut out, "startedAt", &state.started_at);
        }
        _ => put(&mut out, "message", &state.message),
    }
    put(&mut out, "finishedAt", &state.finished_at);
    let revision = state
        .sync_result
        .revision
        .or(state.operation.sync.revision.as_str());
    if !revision.is_empty() && revision != status.sync.revision.as_str() {
        out.insert("revision".into(), json!(revision));
    }
    if let Some(retries) = state.retry_count.get().filter(|count| *count > 0) {
        out.insert("retries".into(), json!(retries));
    }
    let failed = failed(state);
    if !failed.is_empty() {
        out.insert("failed".into(), json!(failed));
    }
    Some(Value::Object(out))
}

/// The objects a sync could not apply (a refused object, a failed hook), without a message
/// the operation's own already quotes.
fn failed(state: &OperationState<'_>) -> Vec<Value> {
    let message = state.message.as_str();
    state
        .sync_result
        .resources
        .iter()
        .filter(|r| {
            matches!(r.status.as_str(), "SyncFailed")
                || matches!(r.hook_phase.as_str(), "Failed" | "Error")
        })
        .take(MAX_FAILED)
        .map(|r| {
            let mut row = json!({"kind": r.kind.as_str(), "name": r.name.as_str()});
            if !message.contains(r.message.as_str()) {
                row["message"] = json!(r.message.as_str());
            }
            row
        })
        .collect()
}

/// Counts by health, how many are out of sync, and the objects that need a look.
fn resources(app: &Detail<'_>) -> Value {
    let resources = &app.status.resources;
    let mut by_health = Map::new();
    for resource in resources.iter() {
        let health = resource.health.status.or("None");
        let count = by_health.get(health).and_then(Value::as_u64).unwrap_or(0);
        by_health.insert(health.to_owned(), json!(count + 1));
    }
    let out_of_sync = resources
        .iter()
        .filter(|r| r.status.as_str() == "OutOfSync")
        .count();
    let namespace = app.spec.destination.namespace.as_str();
    let attention: Vec<&Resource<'_>> = resources
        .iter()
        .map(|r| &**r)
        .filter(|r| needs_a_look(r))
        .collect();
    let mut out = json!({"total": resources.len(), "byHealth": by_health});
    if out_of_sync > 0 {
        out["outOfSync"] = json!(out_of_sync);
    }
    if !attention.is_empty() {
        let rows: Vec<Value> = attention
            .iter()
            .take(MAX_RESOURCES)
            .map(|r| resource_row(r, namespace))
            .collect();
        out["notHealthyOrOutOfSync"] = json!(rows);
    }
    if attention.len() > MAX_RESOURCES {
        out["more"] = json!(attention.len() - MAX_RESOURCES);
    }
    out
}

fn needs_a_look(resource: &Resource<'_>) -> bool {
    let health = resource.health.status.as_str();
    (!health.is_empty() && health != "Healthy") || resource.status.as_str() == "OutOfSync"
}

/// kind, name, sync and health, the namespace when it is not the destination's.
fn resource_row(resource: &Resource<'_>, namespace: &str) -> Value {
    let mut row = Map::new();
    put(&mut row, "kind", &resource.kind);
    put(&mut row, "name", &resource.name);
    if resource.namespace.as_str() != namespace {
        put(&mut row, "namespace", &resource.namespace);
    }
    put(&mut row, "sync", &resource.status);
    put(&mut row, "health", &resource.health.status);
    put(&mut row, "message", &resource.health.message);
    Value::Object(row)
}

/// id, revision (a commit SHA shortened like `git log --oneline`), when and by whom.
fn deployment(entry: &Deployment<'_>) -> Value {
    let revision = entry.revision.as_str();
    let sha = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    let by = if entry.initiated_by.automated.is_true() {
        "automated sync"
    } else {
        entry.initiated_by.username.as_str()
    };
    json!({
        "id": entry.id, "revision": if sha { &revision[..7] } else { revision },
        "deployedAt": entry.deployed_at.as_str(), "by": by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Value {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        json!({
            "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": "shop", "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"}},
            "status": {"sync": {"status": "OutOfSync", "revision": sha},
                       "health": {"status": "Degraded"},
                       "resources": [
                           {"kind": "Deployment", "name": "web", "namespace": "shop", "status": "Synced", "health": {"status": "Degraded", "message": "deadline exceeded"}},
                           {"kind": "Service", "name": "web", "namespace": "shop", "status": "Synced", "health": {"status": "Healthy"}},
                           {"kind": "ConfigMap", "name": "web-config", "namespace": "shop", "status": "OutOfSync"}],
                       "history": [{"id": 1, "revision": "a"}, {"id": 2, "revision": "b", "initiatedBy": {"username": "dana"}},
                                   {"id": 3, "revision": "c"}, {"id": 4, "revision": sha, "deployedAt": "2026-08-20T11:42:31Z", "initiatedBy": {"automated": true}}],
                       "operationState": {"phase": "Failed", "message": "one or more objects failed to apply", "retryCount": 5,
                                          "startedAt": "2026-08-20T11:30:00Z", "finishedAt": "2026-08-20T11:31:00Z",
                                          "operation": {"sync": {"revision": "fedcba9"}},
                                          "syncResult": {"revision": "fedcba9", "resources": [
                                              {"kind": "Service", "name": "web", "status": "Synced", "message": "service/web unchanged"},
                                              {"kind": "Ingress", "name": "web", "status": "SyncFailed", "message": "denied by policy"},
                                              {"kind": "Job", "name": "migrate", "hookPhase": "Failed", "message": "objects failed"}]}}},
        })
    }

    #[test]
    fn the_status_names_what_needs_a_look_and_leaves_out_the_rest() {
        let app = app();
        let status = status(&Detail::of(&app));
        assert_eq!(
            status["operation"],
            json!({"message": "one or more objects failed to apply", "finishedAt": "2026-08-20T11:31:00Z",
                   "revision": "fedcba9", "retries": 5,
                   "failed": [{"kind": "Ingress", "name": "web", "message": "denied by policy"},
                              {"kind": "Job", "name": "migrate"}]})
        );
        assert_eq!(
            status["resources"],
            json!({"total": 3, "byHealth": {"Degraded": 1, "Healthy": 1, "None": 1}, "outOfSync": 1,
                   "notHealthyOrOutOfSync": [
                       {"kind": "Deployment", "name": "web", "sync": "Synced", "health": "Degraded", "message": "deadline exceeded"},
                       {"kind": "ConfigMap", "name": "web-config", "sync": "OutOfSync"}]})
        );
        let history = status["recentHistory"].as_array().unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(
            history[0],
            json!({"id": 4, "revision": "0123456", "deployedAt": "2026-08-20T11:42:31Z", "by": "automated sync"})
        );
        assert_eq!(history[2]["by"], "dana");
        assert!(status.get("conditions").is_none() && status.get("images").is_none());
    }

    #[test]
    fn the_status_read_from_the_body_is_the_status_read_from_the_object() {
        let mut odd = app();
        odd["status"]["operationState"]["retryCount"] = json!(2.0);
        odd["status"]["resources"][1] = json!("not an object");
        odd["status"]["history"][0]["initiatedBy"] =
            json!({"automated": "yes", "username": "x\"y"});
        odd["status"]["summary"] = json!({"images": ["web:1", {"odd": 1}]});
        odd["status"]["conditions"] = json!([{"type": "SyncError", "message": 3}, null]);
        for app in [app(), odd] {
            let text = app.to_string();
            let parsed: Detail<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(status(&parsed), status(&Detail::of(&app)));
            assert_eq!(
                crate::summary::lite_wide_row(&parsed),
                crate::summary::wide_row(&app)
            );
        }
    }

    #[test]
    fn an_application_that_never_ran_an_operation_has_only_counts() {
        let app = json!({"metadata": {"name": "new"}, "status": {"sync": {"status": "OutOfSync"}}});
        let status = status(&Detail::of(&app));
        assert_eq!(status, json!({"resources": {"total": 0, "byHealth": {}}}));
    }
}
