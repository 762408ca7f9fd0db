//! The compact status of one application, what `get_application` answers by default beside
//! its row: how the last operation ended (and what it failed to apply), conditions,
//! resource counts by health with the objects that are not healthy or not in sync, images
//! and the last three deployments. Empty parts are left out, and nothing the row already says
//! is repeated.

use capstan_sdk::{Map, Value, json};

use crate::summary::{initiator, text, text_or};

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

/// The compact status of `app`.
pub(crate) fn status(app: &Value) -> Value {
    let status = &app["status"];
    let mut out = Map::new();
    if let Some(operation) = operation(status) {
        out.insert("operation".into(), operation);
    }
    let conditions: Vec<Value> = items(&status["conditions"])
        .map(|c| json!({"type": text(&c["type"]), "message": text(&c["message"])}))
        .collect();
    if !conditions.is_empty() {
        out.insert("conditions".into(), json!(conditions));
    }
    out.insert("resources".into(), resources(app));
    if items(&status["summary"]["images"]).next().is_some() {
        out.insert("images".into(), status["summary"]["images"].clone());
    }
    let history: Vec<Value> = items(&status["history"])
        .rev()
        .take(RECENT_HISTORY)
        .map(deployment)
        .collect();
    if !history.is_empty() {
        out.insert("recentHistory".into(), json!(history));
    }
    Value::Object(out)
}

fn items(value: &Value) -> std::slice::Iter<'_, Value> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
}

/// The last operation beyond its phase: message, times, a revision other than the deployed
/// one, retries and the objects it could not apply.
fn operation(status: &Value) -> Option<Value> {
    let state = status.get("operationState").filter(|s| s.is_object())?;
    let mut out = Map::new();
    let mut put = |key: &str, value: &Value| {
        if !text(value).is_empty() {
            out.insert(key.into(), value.clone());
        }
    };
    match text(&state["phase"]) {
        "Succeeded" => {}
        "Running" => {
            put("message", &state["message"]);
            put("startedAt", &state["startedAt"]);
        }
        _ => put("message", &state["message"]),
    }
    put("finishedAt", &state["finishedAt"]);
    let revision = text_or(
        &state["syncResult"]["revision"],
        text(&state["operation"]["sync"]["revision"]),
    );
    if !revision.is_empty() && revision != text(&status["sync"]["revision"]) {
        out.insert("revision".into(), json!(revision));
    }
    if state["retryCount"].as_u64().is_some_and(|count| count > 0) {
        out.insert("retries".into(), state["retryCount"].clone());
    }
    let failed = failed(state);
    if !failed.is_empty() {
        out.insert("failed".into(), json!(failed));
    }
    Some(Value::Object(out))
}

/// The objects a sync could not apply (a refused object, a failed hook), without a message
/// the operation's own already quotes.
fn failed(state: &Value) -> Vec<Value> {
    let message = text(&state["message"]);
    items(&state["syncResult"]["resources"])
        .filter(|r| {
            matches!(text(&r["status"]), "SyncFailed")
                || matches!(text(&r["hookPhase"]), "Failed" | "Error")
        })
        .take(MAX_FAILED)
        .map(|r| {
            let mut row = json!({"kind": text(&r["kind"]), "name": text(&r["name"])});
            if !message.contains(text(&r["message"])) {
                row["message"] = r["message"].clone();
            }
            row
        })
        .collect()
}

/// Counts by health, how many are out of sync, and the objects that need a look.
fn resources(app: &Value) -> Value {
    let resources: Vec<&Value> = items(&app["status"]["resources"]).collect();
    let mut by_health = Map::new();
    for resource in &resources {
        let health = text_or(&resource["health"]["status"], "None");
        let count = by_health.get(health).and_then(Value::as_u64).unwrap_or(0);
        by_health.insert(health.to_owned(), json!(count + 1));
    }
    let out_of_sync = resources
        .iter()
        .filter(|r| r["status"] == "OutOfSync")
        .count();
    let namespace = text(&app["spec"]["destination"]["namespace"]);
    let attention: Vec<&&Value> = resources.iter().filter(|r| needs_a_look(r)).collect();
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

fn needs_a_look(resource: &Value) -> bool {
    let health = text(&resource["health"]["status"]);
    (!health.is_empty() && health != "Healthy") || resource["status"] == "OutOfSync"
}

/// kind, name, sync and health, the namespace when it is not the destination's.
fn resource_row(resource: &Value, namespace: &str) -> Value {
    let mut row = Map::new();
    let mut put = |key: &str, value: &Value| {
        if !text(value).is_empty() {
            row.insert(key.into(), value.clone());
        }
    };
    put("kind", &resource["kind"]);
    put("name", &resource["name"]);
    if text(&resource["namespace"]) != namespace {
        put("namespace", &resource["namespace"]);
    }
    put("sync", &resource["status"]);
    put("health", &resource["health"]["status"]);
    put("message", &resource["health"]["message"]);
    Value::Object(row)
}

/// id, revision (a commit SHA shortened like `git log --oneline`), when and by whom.
fn deployment(entry: &Value) -> Value {
    let revision = text(&entry["revision"]);
    let sha = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    json!({
        "id": entry["id"], "revision": if sha { &revision[..7] } else { revision },
        "deployedAt": text(&entry["deployedAt"]), "by": initiator(entry),
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
        let status = status(&app());
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
    fn an_application_that_never_ran_an_operation_has_only_counts() {
        let status = status(
            &json!({"metadata": {"name": "new"}, "status": {"sync": {"status": "OutOfSync"}}}),
        );
        assert_eq!(status, json!({"resources": {"total": 0, "byHealth": {}}}));
    }
}
