//! `list_flux_resources`: Flux objects of one kind (or all four) in a namespace (or all), one
//! row each with the columns of `flux get`: ready state and message from the `Ready`
//! condition, revision and whether it is suspended.

use capstan_sdk::serde_json::Map;
use capstan_sdk::{Tool, ToolError, ToolResult, Value, args, json};

use crate::kinds::{self, KINDS, Kind};
use capstan_sdk::kube::Client;

/// A Kubernetes namespace name (RFC 1123 label).
const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_flux_resources",
        "Lists Flux objects like `flux get`: Kustomizations, HelmReleases, GitRepositories and \
         HelmRepositories (one `kind`, or all four when omitted), in one namespace or all. One \
         row each: kind, name, namespace, ready (True, False or Unknown, from the Ready \
         condition), revision, suspended and the Ready message, which says why a failing object \
         fails.",
    )
    .title("List Flux resources")
    .input(object(
        json!({
            "target": {"type": "string", "minLength": 1, "maxLength": 64,
                       "description": "Which Kubernetes API of this capstan instance to ask; defaults to its default target."},
            "kind": {"type": "string", "enum": kinds::names(),
                     "description": "Only this kind; all four when omitted."},
            "namespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                          "description": "Only this namespace; every namespace when omitted."},
            "labelSelector": {"type": "string", "maxLength": 1024,
                              "description": "Kubernetes label selector, e.g. `app.kubernetes.io/part-of=podinfo`."},
        }),
        &[],
    ))
    .output(object(
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
}

pub(crate) fn list(arguments: Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(args::str(&arguments, "target"))?;
    let namespace = args::str(&arguments, "namespace");
    let selector = args::str(&arguments, "labelSelector");
    let wanted: Vec<Kind> = match args::str(&arguments, "kind") {
        Some(name) => vec![kinds::named(name).ok_or_else(|| unknown_kind(name))?],
        None => KINDS.to_vec(),
    };
    let (mut rows, mut missing) = (Vec::new(), Vec::new());
    for kind in &wanted {
        match client.list(kind.resource, namespace, selector) {
            Ok(objects) => rows.extend(objects.iter().map(|object| summarize(*kind, object))),
            Err(error) if error.status == Some(404) => missing.push(kind.resource.kind),
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

fn unknown_kind(name: &str) -> ToolError {
    ToolError::new(format!(
        "unknown Flux kind `{name}`; use one of {}",
        kinds::names().join(", ")
    ))
}

fn not_installed(target: &str, kinds: &[&str]) -> ToolError {
    ToolError::new(format!(
        "Flux is not installed on target `{target}`: its API has no CRD for {}. Pick another \
         target, or check that the Flux controllers (v2.x) are installed.",
        kinds.join(", ")
    ))
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": kinds::names()},
            "name": string, "namespace": string,
            "ready": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "revision": string,
            "suspended": {"type": "boolean"},
            "message": string,
        },
        "required": ["kind", "name", "namespace", "ready", "suspended", "message"],
    })
}

/// One row per object, like a line of `flux get`.
fn summarize(kind: Kind, object: &Value) -> Value {
    let (ready, message) = ready(kind, object);
    let mut row = Map::new();
    row.insert("kind".into(), json!(kind.resource.kind));
    row.insert("name".into(), object["metadata"]["name"].clone());
    row.insert("namespace".into(), object["metadata"]["namespace"].clone());
    row.insert("ready".into(), json!(ready));
    if let Some(revision) = kind
        .revision(object)
        .filter(|revision| !revision.is_empty())
    {
        row.insert("revision".into(), json!(revision));
    }
    row.insert(
        "suspended".into(),
        json!(object["spec"]["suspend"].as_bool().unwrap_or(false)),
    );
    row.insert("message".into(), json!(message));
    Value::Object(row)
}

/// The `Ready` condition's status and message. An OCI HelmRepository is static (the controller
/// never reconciles it), so it is always ready, as `flux get` shows it.
fn ready(kind: Kind, object: &Value) -> (String, String) {
    if kind.resource.kind == "HelmRepository" && object["spec"]["type"] == "oci" {
        return ("True".into(), "Helm repository is Ready".into());
    }
    let condition = object["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition["type"] == "Ready")
        });
    match condition {
        Some(condition) => (
            condition["status"].as_str().unwrap_or("Unknown").to_owned(),
            condition["message"].as_str().unwrap_or_default().to_owned(),
        ),
        None => ("Unknown".into(), "waiting to be reconciled".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> Kind {
        kinds::named(name).unwrap()
    }

    #[test]
    fn a_failing_kustomization_shows_its_ready_message() {
        let object = json!({
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"suspend": false},
            "status": {"lastAppliedRevision": "main@sha1:abc",
                       "conditions": [{"type": "Ready", "status": "False", "message": "kustomize build failed"}]},
        });
        assert_eq!(
            summarize(kind("Kustomization"), &object),
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system", "ready": "False",
                   "revision": "main@sha1:abc", "suspended": false, "message": "kustomize build failed"})
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
            kind("GitRepository").revision(&source),
            Some("main@sha1:def")
        );
    }

    #[test]
    fn unreconciled_and_static_objects() {
        let fresh = json!({"metadata": {"name": "x", "namespace": "y"}, "spec": {}});
        let row = summarize(kind("GitRepository"), &fresh);
        assert_eq!(
            (row["ready"].as_str(), row["message"].as_str()),
            (Some("Unknown"), Some("waiting to be reconciled"))
        );
        let oci = json!({"metadata": {"name": "charts", "namespace": "y"}, "spec": {"type": "oci", "suspend": true}});
        let row = summarize(kind("HelmRepository"), &oci);
        assert_eq!(
            (row["ready"].as_str(), row["suspended"].as_bool()),
            (Some("True"), Some(true))
        );
    }
}
