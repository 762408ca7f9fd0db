//! Condensing Argo CD objects for an agent: one row per application, and a compact view of an
//! application's status (operation, conditions, unhealthy resources, recent history).

use capstan_sdk::{Map, Value, json};

/// The schema of a summary row.
pub(crate) fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "name": string, "namespace": string, "project": string,
            "sync": {"type": "string", "description": "Synced, OutOfSync or Unknown."},
            "health": {"type": "string", "description": "Healthy, Progressing, Degraded, Suspended, Missing or Unknown."},
            "healthMessage": string,
            "operation": {"type": "string", "description": "Phase of the last operation: Running, Succeeded, Failed, Error or Terminating."},
            "repo": string, "path": string, "chart": string,
            "targetRevision": {"type": "string", "description": "The branch, tag or version the app tracks."},
            "revision": {"type": "string", "description": "The revision the live state was last compared to."},
            "autoSync": {"type": "boolean"},
            "destination": {"type": "object", "properties": {"server": string, "name": string, "namespace": string}},
        },
        "required": ["name", "project", "sync", "health"],
    })
}

/// One row: the fields an agent needs to pick an application. Multi-source applications show
/// their first source.
pub(crate) fn row(app: &Value) -> Value {
    let spec = &app["spec"];
    let source = match &spec["source"] {
        Value::Null => &spec["sources"][0],
        source => source,
    };
    let mut row = Map::new();
    row.insert("name".into(), json!(text(&app["metadata"]["name"])));
    row.insert("project".into(), json!(text(&spec["project"])));
    row.insert(
        "sync".into(),
        json!(text_or(&app["status"]["sync"]["status"], "Unknown")),
    );
    row.insert(
        "health".into(),
        json!(text_or(&app["status"]["health"]["status"], "Unknown")),
    );
    let optional = [
        ("namespace", &app["metadata"]["namespace"]),
        ("healthMessage", &app["status"]["health"]["message"]),
        ("operation", &app["status"]["operationState"]["phase"]),
        ("repo", &source["repoURL"]),
        ("path", &source["path"]),
        ("chart", &source["chart"]),
        ("targetRevision", &source["targetRevision"]),
        ("revision", &app["status"]["sync"]["revision"]),
    ];
    for (key, value) in optional {
        if !text(value).is_empty() {
            row.insert(key.into(), json!(text(value)));
        }
    }
    row.insert(
        "autoSync".into(),
        json!(spec["syncPolicy"]["automated"].is_object()),
    );
    row.insert("destination".into(), destination(&spec["destination"]));
    Value::Object(row)
}

fn destination(destination: &Value) -> Value {
    let mut out = Map::new();
    for key in ["server", "name", "namespace"] {
        if !text(&destination[key]).is_empty() {
            out.insert(key.into(), json!(text(&destination[key])));
        }
    }
    Value::Object(out)
}

/// The compact status of an application: sync, health, the last operation, conditions,
/// resource health counts with the unhealthy ones, images and the last three deployments.
pub(crate) fn status(app: &Value) -> Value {
    let status = &app["status"];
    let resources: Vec<&Value> = status["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let mut by_health = Map::new();
    for resource in &resources {
        let health = text_or(&resource["health"]["status"], "None");
        let count = by_health.get(health).and_then(Value::as_u64).unwrap_or(0);
        by_health.insert(health.to_owned(), json!(count + 1));
    }
    let unhealthy: Vec<Value> = resources
        .iter()
        .filter(|r| {
            let health = text(&r["health"]["status"]);
            (!health.is_empty() && health != "Healthy") || text(&r["status"]) == "OutOfSync"
        })
        .take(20)
        .map(|r| {
            json!({"kind": text(&r["kind"]), "name": text(&r["name"]), "namespace": text(&r["namespace"]),
                   "sync": text(&r["status"]), "health": text(&r["health"]["status"]),
                   "message": text(&r["health"]["message"])})
        })
        .collect();
    let history: Vec<Value> = status["history"]
        .as_array()
        .map(|entries| entries.iter().rev().take(3).map(history_row).collect())
        .unwrap_or_default();
    json!({
        "operation": operation(&status["operationState"]),
        "conditions": status["conditions"].as_array().cloned().unwrap_or_default(),
        "resources": {"total": resources.len(), "byHealth": by_health, "notHealthyOrOutOfSync": unhealthy},
        "images": status["summary"]["images"].as_array().cloned().unwrap_or_default(),
        "recentHistory": history,
        "reconciledAt": text(&status["reconciledAt"]),
    })
}

/// The last operation: phase, message, revision and times (null when there was none).
pub(crate) fn operation(state: &Value) -> Value {
    if state.is_null() {
        return Value::Null;
    }
    json!({
        "phase": text(&state["phase"]), "message": text(&state["message"]),
        "revision": text_or(&state["syncResult"]["revision"], text(&state["operation"]["sync"]["revision"])),
        "startedAt": text(&state["startedAt"]), "finishedAt": text(&state["finishedAt"]),
    })
}

/// One history entry: id, revision, when and by whom.
pub(crate) fn history_row(entry: &Value) -> Value {
    let source = &entry["source"];
    json!({
        "id": entry["id"], "revision": text(&entry["revision"]), "deployedAt": text(&entry["deployedAt"]),
        "initiatedBy": if entry["initiatedBy"]["automated"] == true { "automated sync".to_owned() }
                       else { text(&entry["initiatedBy"]["username"]).to_owned() },
        "targetRevision": text(&source["targetRevision"]),
    })
}

/// The string at `value`, or "".
pub(crate) fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The string at `value`, or `default` when missing or empty.
pub(crate) fn text_or<'a>(value: &'a Value, default: &'a str) -> &'a str {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "argocd", "managedFields": []},
            "spec": {"project": "shop",
                     "source": {"repoURL": "https://git.example.com/shop.git", "path": "apps/web", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"}},
            "status": {"sync": {"status": "OutOfSync", "revision": "abc123"},
                       "health": {"status": "Degraded", "message": "1 of 2 pods crash-looping"},
                       "resources": [{"kind": "Deployment", "name": "web", "status": "Synced", "health": {"status": "Degraded"}},
                                     {"kind": "Service", "name": "web", "status": "Synced", "health": {"status": "Healthy"}}],
                       "history": [{"id": 1, "revision": "a"}, {"id": 2, "revision": "b", "initiatedBy": {"automated": true}}]},
        })
    }

    #[test]
    fn rows_carry_what_an_agent_needs() {
        assert_eq!(
            row(&app("web")),
            json!({"name": "web", "namespace": "argocd", "project": "shop", "sync": "OutOfSync",
                   "health": "Degraded", "healthMessage": "1 of 2 pods crash-looping",
                   "repo": "https://git.example.com/shop.git", "path": "apps/web", "targetRevision": "main",
                   "revision": "abc123", "autoSync": false,
                   "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"}})
        );
        let bare = row(&json!({"metadata": {"name": "new"}, "spec": {"project": "default"}}));
        assert_eq!(
            (bare["sync"].as_str(), bare["health"].as_str()),
            (Some("Unknown"), Some("Unknown"))
        );
    }

    #[test]
    fn multi_source_apps_show_their_first_source() {
        let mut multi = app("web");
        multi["spec"]["sources"] = json!([multi["spec"]["source"].take()]);
        multi["spec"].as_object_mut().unwrap().remove("source");
        assert_eq!(row(&multi)["repo"], "https://git.example.com/shop.git");
    }

    #[test]
    fn status_lists_unhealthy_resources_and_latest_history_first() {
        let status = status(&app("web"));
        assert_eq!(
            status["resources"]["byHealth"],
            json!({"Degraded": 1, "Healthy": 1})
        );
        assert_eq!(
            status["resources"]["notHealthyOrOutOfSync"][0]["kind"],
            "Deployment"
        );
        assert_eq!(status["recentHistory"][0]["id"], 2);
        assert_eq!(status["recentHistory"][0]["initiatedBy"], "automated sync");
        assert!(status["operation"].is_null());
    }
}
