//! Condensing an Application into a row an agent picks from: what it is, whether it is in
//! sync and healthy, its last operation's phase and where it deploys. Lean by default (a list
//! of hundreds stays small); wide rows add the source and the deployed revision, for answers
//! about one application. Also the last operation and one history entry, as other tools
//! report them.

use capstan_sdk::{Map, Value, json};

use crate::lenient::Text;
use crate::listing::{self, Destination, Lite, RowStatus};

/// The namespace Argo CD runs in when an Application does not say.
const CONTROL_PLANE_NAMESPACE: &str = "argocd";
/// The in-cluster destination server.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// The schema of a summary row.
pub(crate) fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "name": string, "project": string,
            "namespace": {"type": "string", "description": "The Application's namespace, only when it is not Argo CD's own (pass it as applicationNamespace)."},
            "sync": {"type": "string", "description": "Synced, OutOfSync or Unknown."},
            "health": {"type": "string", "description": "Healthy, Progressing, Degraded, Suspended, Missing or Unknown."},
            "healthMessage": string,
            "operation": {"type": "string", "description": "Phase of the last operation: Running, Succeeded, Failed, Error or Terminating."},
            "autoSync": {"type": "boolean", "description": "Present (true) when automated sync is on (set and not `enabled: false`)."},
            "destination": {"type": "string", "description": "`namespace@cluster`: the cluster's name, `in-cluster`, or the API server's host."},
            "repo": string, "path": string, "chart": string,
            "targetRevision": {"type": "string", "description": "The branch, tag or version the app tracks (wide rows)."},
            "revision": {"type": "string", "description": "The revision the live state was last compared to (wide rows)."},
        },
        "required": ["name", "project", "sync", "health"],
    })
}

/// A lean row: name, project, sync, health (with its message), the last operation's phase,
/// automated sync, destination; the namespace only when it is not Argo CD's own.
pub(crate) fn row(app: &Value) -> Value {
    lite_row(&listing::view(app))
}

/// A wide row: the lean row plus the source (repository, path or chart, target revision) and
/// the revision deployed. Multi-source applications show their first source.
pub(crate) fn wide_row(app: &Value) -> Value {
    lite_wide_row(&listing::view(app))
}

/// [`row`] of an application read as a [`Lite`].
pub(crate) fn lite_row<'a, S: RowStatus<'a>>(app: &Lite<'a, S>) -> Value {
    let status = &*app.status;
    let mut row = Map::new();
    row.insert("name".into(), json!(app.metadata.name.as_str()));
    let namespace = app.metadata.namespace.as_str();
    if !namespace.is_empty()
        && namespace != status.controller_namespace().or(CONTROL_PLANE_NAMESPACE)
    {
        row.insert("namespace".into(), json!(namespace));
    }
    row.insert("project".into(), json!(app.spec.project.as_str()));
    row.insert("sync".into(), json!(status.sync().status.or("Unknown")));
    row.insert("health".into(), json!(status.health().status.or("Unknown")));
    insert_text(&mut row, "healthMessage", &status.health().message);
    insert_text(&mut row, "operation", status.phase());
    if app.auto_sync() {
        row.insert("autoSync".into(), json!(true));
    }
    let destination = destination(&app.spec.destination);
    if !destination.is_empty() {
        row.insert("destination".into(), json!(destination));
    }
    Value::Object(row)
}

/// [`wide_row`] of an application read as a [`Lite`].
pub(crate) fn lite_wide_row<'a, S: RowStatus<'a>>(app: &Lite<'a, S>) -> Value {
    let mut row = lite_row(app);
    let source = app.source();
    if let Some(map) = row.as_object_mut() {
        insert_text(map, "repo", &source.repo_url);
        insert_text(map, "path", &source.path);
        insert_text(map, "chart", &source.chart);
        insert_text(map, "targetRevision", &source.target_revision);
        insert_text(map, "revision", &app.status.sync().revision);
    }
    row
}

fn insert_text(row: &mut Map<String, Value>, key: &str, value: &Text<'_>) {
    if !value.as_str().is_empty() {
        row.insert(key.into(), json!(value.as_str()));
    }
}

/// `namespace@cluster`, the cluster named as [`cluster`] does.
fn destination(destination: &Destination<'_>) -> String {
    let cluster = cluster(destination);
    match destination.namespace.as_str() {
        "" => cluster,
        namespace if cluster.is_empty() => namespace.to_owned(),
        namespace => format!("{namespace}@{cluster}"),
    }
}

/// A destination's cluster: its name, `in-cluster` for the API server Argo CD runs next to,
/// else the server's host (and port).
pub(crate) fn cluster(destination: &Destination<'_>) -> String {
    let server = destination.server.as_str();
    match destination.name.as_str() {
        "" if server == IN_CLUSTER => "in-cluster".to_owned(),
        "" => {
            let host = server.split_once("://").map_or(server, |(_, rest)| rest);
            host.trim_end_matches('/').to_owned()
        }
        name => name.to_owned(),
    }
}

/// The operation a sync or rollback request started, from Argo CD's answer to it: the server
/// sets `operation` and the application controller starts it moments later, so until
/// `status.operationState` describes that same operation it is `Requested` (the state in the
/// answer is still the previous operation's).
pub(crate) fn started_operation(app: &Value) -> Value {
    let requested = &app["operation"];
    let state = &app["status"]["operationState"];
    if requested.is_null() || state["operation"] == *requested {
        return operation(state);
    }
    requested_operation(
        requested,
        "Argo CD accepted the operation; its application controller starts it shortly",
    )
}

/// An operation Argo CD accepted and has not started yet: phase `Requested`, the revision
/// `requested` asks for, `message`.
pub(crate) fn requested_operation(requested: &Value, message: &str) -> Value {
    json!({
        "phase": "Requested",
        "message": message,
        "revision": text(&requested["sync"]["revision"]),
        "startedAt": "", "finishedAt": "",
    })
}

/// Whether an operation state is over (Argo CD's `OperationPhase.Completed`).
pub(crate) fn finished(state: &Value) -> bool {
    matches!(text(&state["phase"]), "Succeeded" | "Failed" | "Error")
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
    json!({
        "id": entry["id"], "revision": text(&entry["revision"]), "deployedAt": text(&entry["deployedAt"]),
        "initiatedBy": initiator(entry), "targetRevision": text(&entry["source"]["targetRevision"]),
    })
}

/// Who started a deployment: `automated sync` or the user's name.
pub(crate) fn initiator(entry: &Value) -> &str {
    if entry["initiatedBy"]["automated"] == true {
        "automated sync"
    } else {
        text(&entry["initiatedBy"]["username"])
    }
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
    fn rows_are_lean_and_wide_rows_add_the_source() {
        assert_eq!(
            row(&app("web")),
            json!({"name": "web", "project": "shop", "sync": "OutOfSync", "health": "Degraded",
                   "healthMessage": "1 of 2 pods crash-looping", "destination": "shop@in-cluster"})
        );
        assert_eq!(
            wide_row(&app("web")),
            json!({"name": "web", "project": "shop", "sync": "OutOfSync", "health": "Degraded",
                   "healthMessage": "1 of 2 pods crash-looping", "destination": "shop@in-cluster",
                   "repo": "https://git.example.com/shop.git", "path": "apps/web", "targetRevision": "main",
                   "revision": "abc123"})
        );
        let bare = row(&json!({"metadata": {"name": "new"}, "spec": {"project": "default"}}));
        assert_eq!(
            bare,
            json!({"name": "new", "project": "default", "sync": "Unknown", "health": "Unknown"})
        );
    }

    #[test]
    fn rows_name_the_namespace_and_cluster_only_when_it_matters() {
        let mut elsewhere = app("web");
        elsewhere["metadata"]["namespace"] = json!("team-a");
        elsewhere["spec"]["destination"] =
            json!({"server": "https://prod.k8s.example.com:6443/", "namespace": "web"});
        elsewhere["spec"]["syncPolicy"] = json!({"automated": {"prune": true}});
        let row = row(&elsewhere);
        assert_eq!(row["namespace"], "team-a");
        assert_eq!(row["destination"], "web@prod.k8s.example.com:6443");
        assert_eq!(row["autoSync"], true);
        let named = json!({"spec": {"destination": {"name": "prod", "server": IN_CLUSTER}}});
        assert_eq!(cluster(&listing::view(&named).spec.destination), "prod");
    }

    #[test]
    fn multi_source_apps_show_their_first_source() {
        let mut multi = app("web");
        multi["spec"]["sources"] = json!([multi["spec"]["source"].take()]);
        multi["spec"].as_object_mut().unwrap().remove("source");
        assert_eq!(wide_row(&multi)["repo"], "https://git.example.com/shop.git");
    }
}
