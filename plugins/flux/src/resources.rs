//! `list_flux_resources` and `get_flux_resource`: Flux objects one row each, like `flux get`,
//! and one object in full (or a `fields` projection) with its health and events.

use capstan_sdk::serde_json::Map;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::health::Health;
use crate::kinds::{self, KINDS, Kind};
use crate::kube::{Client, ListOptions};
use crate::{events, health, schema, sources};

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_flux_resources",
        "Lists Flux objects like `flux get`: Kustomizations, HelmReleases and the sources \
         (GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket); one `kind` or all, \
         one namespace or all, optionally by label selector. One row each: kind, name, \
         namespace, health (Suspended, Stalled, Reconciling, Ready, NotReady or Unknown) with \
         the reason and message that explain it, revision, suspended and when it was last \
         reconciled. Start here, then use get_flux_resource or trace_resource on a failing row.",
    )
    .title("List Flux resources")
    .input(schema::object(
        schema::with_target(json!({
            "kind": schema::kind("Only this kind; every Flux kind when omitted."),
            "namespace": schema::namespace("Only this namespace; every namespace when omitted."),
            "labelSelector": {"type": "string", "maxLength": 1024,
                              "description": "Kubernetes label selector, e.g. `app.kubernetes.io/part-of=podinfo`."},
        })),
        &[],
    ))
    .output(schema::object(
        json!({
            "target": {"type": "string"},
            "count": {"type": "integer"},
            "resources": {"type": "array", "items": row_schema()},
            "missingKinds": {"type": "array", "items": {"type": "string"},
                             "description": "Kinds whose CRD is not installed on the cluster."},
        }),
        &["target", "count", "resources", "missingKinds"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn list(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let options = ListOptions {
        namespace: args::str(arguments, "namespace"),
        labels: args::str(arguments, "labelSelector"),
        fields: None,
    };
    let wanted: Vec<Kind> = match args::str(arguments, "kind") {
        Some(name) => vec![kinds::require(name)?],
        None => KINDS.to_vec(),
    };
    let (mut rows, mut missing) = (Vec::new(), Vec::new());
    for kind in &wanted {
        match client.list(kind.resource, options) {
            Ok(objects) => rows.extend(objects.iter().map(|object| row(*kind, object))),
            Err(error) if error.status == Some(404) => missing.push(kind.name()),
            Err(error) => return Err(error.into()),
        }
    }
    if missing.len() == wanted.len() {
        return Err(not_installed(client.target(), &missing));
    }
    Ok(ToolResult::structured(json!({
        "target": client.target(),
        "count": rows.len(),
        "resources": rows,
        "missingKinds": missing,
    })))
}

fn not_installed(target: &str, kinds: &[&str]) -> ToolError {
    ToolError::new(format!(
        "Flux is not installed on target `{target}`: its API has no CRD for {}. Pick another \
         target, or check that the Flux controllers (v2.x) are installed.",
        kinds.join(", ")
    ))
}

fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": kinds::names()},
            "name": string, "namespace": string,
            "health": {"type": "string", "enum": health::STATES},
            "reason": string,
            "ready": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "revision": string,
            "suspended": {"type": "boolean"},
            "message": string,
            "retrying": {"type": "boolean", "description": "The controller failed and retries: reason and message are the failure."},
            "readyReason": string,
            "readyMessage": string,
            "lastReconcile": string,
        },
        "required": ["kind", "name", "namespace", "health", "ready", "suspended", "message"],
    })
}

/// One row per object, like a line of `flux get` plus its health.
pub(crate) fn row(kind: Kind, object: &Value) -> Value {
    let health = health::of(kind, object);
    let ready = match health::condition(object, "Ready") {
        _ if kind.is_static(object) => "True",
        Some(ready) => ready["status"].as_str().unwrap_or("Unknown"),
        None => "Unknown",
    };
    let mut row = Map::new();
    row.insert("kind".into(), json!(kind.name()));
    row.insert("name".into(), object["metadata"]["name"].clone());
    row.insert("namespace".into(), object["metadata"]["namespace"].clone());
    row.insert("health".into(), json!(health.state));
    row.insert("reason".into(), json!(health.reason));
    row.insert("ready".into(), json!(ready));
    if let Some(revision) = kind.revision(object) {
        row.insert("revision".into(), json!(revision));
    }
    row.insert("suspended".into(), json!(health::suspended(object)));
    row.insert("message".into(), json!(health.message));
    if health.retrying {
        row.insert("retrying".into(), json!(true));
    }
    insert_ready_when_it_says_more(&mut row, object, &health);
    if let Some(last) = last_reconcile(object) {
        row.insert("lastReconcile".into(), json!(last));
    }
    Value::Object(row)
}

/// The Ready condition's reason and message, when the row shows another condition's (a stall,
/// a reconcile in progress): the last failure stays in sight.
fn insert_ready_when_it_says_more(row: &mut Map<String, Value>, object: &Value, health: &Health) {
    let Some(ready) = health::condition(object, "Ready") else {
        return;
    };
    let text = |field: &str| ready[field].as_str().unwrap_or_default();
    if text("message").is_empty() || text("message") == health.message {
        return;
    }
    row.insert("readyReason".into(), json!(text("reason")));
    row.insert("readyMessage".into(), json!(text("message")));
}

/// When the controller last handled a reconcile request, else when Ready last changed.
fn last_reconcile(object: &Value) -> Option<&str> {
    object["status"]["lastHandledReconcileAt"]
        .as_str()
        .or_else(|| health::condition(object, "Ready")?["lastTransitionTime"].as_str())
}

pub(crate) fn get_tool() -> Tool {
    Tool::new(
        "get_flux_resource",
        "Gets one Flux object: its health (state, reason, message), revision, and the object \
         itself without managedFields and the last-applied annotation (or only the dotted \
         `fields` you name, e.g. [\"spec.sourceRef\", \"status.conditions\"], to keep the answer \
         small). Also returns the object's recent non-success events and those of its source \
         (a Kustomization's sourceRef, a HelmRelease's HelmChart or chartRef), which usually \
         say why it fails.",
    )
    .title("Get a Flux resource")
    .input(schema::flux_object(json!({
        "fields": {"type": "array", "maxItems": 32,
                   "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
                   "description": "Dotted paths to keep, e.g. `status.conditions`; the whole object when omitted."},
        "events": {"type": "boolean", "default": true, "description": "Include events of the object and its source."},
    })))
    .output(schema::object(
        json!({
            "target": {"type": "string"},
            "kind": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"},
            "health": schema::health(),
            "revision": {"type": "string"},
            "source": {"type": "object"},
            "object": {"type": "object"},
            "events": {"type": "array", "items": events::row_schema()},
            "sourceEvents": {"type": "array", "items": events::row_schema()},
        }),
        &["target", "kind", "name", "namespace", "health", "object"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn get(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let kind = kinds::require(args::required_str(arguments, "kind")?)?;
    let name = args::required_str(arguments, "name")?;
    let namespace = args::required_str(arguments, "namespace")?;
    let mut object = client.get(kind.resource, namespace, name)?;
    clean(&mut object);
    let mut answer = json!({
        "target": client.target(), "kind": kind.name(), "name": name, "namespace": namespace,
        "health": health::of(kind, &object).to_json(),
    });
    if let Some(revision) = kind.revision(&object) {
        answer["revision"] = json!(revision);
    }
    let source = sources::of(kind, &object);
    if let Some(source) = &source {
        answer["source"] = source.to_json();
    }
    if arguments["events"].as_bool().unwrap_or(true) {
        answer["events"] = json!(events::of_object(&client, kind.name(), namespace, name)?);
        if let Some(source) = &source {
            let found =
                events::of_object(&client, source.kind.name(), &source.namespace, &source.name)?;
            answer["sourceEvents"] = json!(found);
        }
    }
    answer["object"] = match arguments["fields"].as_array() {
        Some(fields) => project(&object, fields),
        None => object,
    };
    Ok(ToolResult::structured(answer))
}

/// Strips what only adds noise (managedFields, the last-applied annotation) and masks secret
/// values, so nothing secret reaches the agent.
pub(crate) fn clean(object: &mut Value) {
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.remove("managedFields");
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if object["kind"] == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(values) = object[field].as_object_mut() {
                values.values_mut().for_each(|value| *value = json!("****"));
            }
        }
    }
}

/// Only the dotted `fields` of `object`, nested as in the object; missing ones are left out.
fn project(object: &Value, fields: &[Value]) -> Value {
    let mut kept = json!({});
    for field in fields.iter().filter_map(Value::as_str) {
        let parts: Vec<&str> = field.split('.').filter(|part| !part.is_empty()).collect();
        let Some(value) = parts.iter().try_fold(object, |node, part| node.get(part)) else {
            continue;
        };
        let mut slot = &mut kept;
        for part in &parts {
            slot = &mut slot[*part];
        }
        *slot = value.clone();
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> Kind {
        kinds::named(name).unwrap()
    }

    #[test]
    fn a_failing_kustomization_row_says_why() {
        let object = json!({
            "metadata": {"name": "apps", "namespace": "flux-system", "generation": 1},
            "spec": {"suspend": false},
            "status": {"observedGeneration": 1, "lastAppliedRevision": "main@sha1:abc",
                       "lastHandledReconcileAt": "2026-06-02T09:00:00Z",
                       "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed",
                                       "message": "kustomize build failed"}]},
        });
        assert_eq!(
            row(kind("Kustomization"), &object),
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                   "health": "NotReady", "reason": "BuildFailed", "ready": "False",
                   "revision": "main@sha1:abc", "suspended": false,
                   "message": "kustomize build failed", "lastReconcile": "2026-06-02T09:00:00Z"})
        );
    }

    #[test]
    fn revisions_come_from_where_each_kind_keeps_them() {
        let release = json!({"status": {"history": [{"chartVersion": "6.9.2"}], "lastAttemptedRevision": "6.9.1"}});
        assert_eq!(kind("HelmRelease").revision(&release), Some("6.9.2"));
        let failed = json!({"status": {"lastAttemptedRevision": "20.6.1"}});
        assert_eq!(kind("HelmRelease").revision(&failed), Some("20.6.1"));
        let source = json!({"status": {"artifact": {"revision": "main@sha1:def"}}});
        assert_eq!(
            kind("OCIRepository").revision(&source),
            Some("main@sha1:def")
        );
    }

    #[test]
    fn static_and_suspended_rows() {
        let oci =
            json!({"metadata": {"name": "charts", "namespace": "y"}, "spec": {"type": "oci"}});
        let row = row(kind("HelmRepository"), &oci);
        assert_eq!(
            (row["ready"].as_str(), row["health"].as_str()),
            (Some("True"), Some("Ready"))
        );
        let paused =
            json!({"metadata": {"name": "x", "namespace": "y"}, "spec": {"suspend": true}});
        let row = super::row(kind("GitRepository"), &paused);
        assert_eq!(
            (row["health"].as_str(), row["suspended"].as_bool()),
            (Some("Suspended"), Some(true))
        );
    }

    #[test]
    fn cleaning_strips_noise_and_masks_secrets() {
        let mut secret = json!({"kind": "Secret", "metadata": {"name": "s", "managedFields": [{}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"}},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "t"}});
        clean(&mut secret);
        assert_eq!(
            secret,
            json!({"kind": "Secret", "metadata": {"name": "s", "annotations": {"keep": "me"}},
                                  "data": {"password": "****"}, "stringData": {"token": "****"}})
        );
    }

    #[test]
    fn projection_keeps_only_the_named_paths() {
        let object = json!({"spec": {"sourceRef": {"kind": "GitRepository"}, "path": "./x"},
                            "status": {"conditions": [1]}});
        let fields = [
            json!("spec.sourceRef"),
            json!("status.conditions"),
            json!("status.nope"),
        ];
        assert_eq!(
            project(&object, &fields),
            json!({"spec": {"sourceRef": {"kind": "GitRepository"}}, "status": {"conditions": [1]}})
        );
    }
}
