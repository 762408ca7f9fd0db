//! The built-in kinds the fake serves next to the CRDs: core `v1` Pods, Events, Secrets,
//! ConfigMaps, Services, ServiceAccounts and Namespaces; `apps/v1` Deployments, ReplicaSets,
//! StatefulSets and DaemonSets; `events.k8s.io/v1` Events; and `apiextensions.k8s.io/v1`
//! CustomResourceDefinitions (the installed CRDs, as objects).
//!
//! Their objects get a light shape check, not the full OpenAPI schema: `apiVersion` and `kind`
//! match the type, `metadata` is an object with a name, and `spec`/`status`/`data` are objects
//! when present.

use serde_json::Value;

use super::types::{Origin, ResourceType};

/// One built-in type: (group, version, kind, plural, short names, namespaced, status
/// subresource, scale subresource, extra field labels).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    bool,
    bool,
    &'static [&'static str],
);

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const EVENTS_V1_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "reason",
    "reportingController",
    "type",
];

const ROWS: &[Row] = &[
    (
        "",
        "v1",
        "Pod",
        "pods",
        &["po"],
        true,
        true,
        false,
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
    ),
    (
        "",
        "v1",
        "Event",
        "events",
        &["ev"],
        true,
        false,
        false,
        EVENT_FIELDS,
    ),
    (
        "",
        "v1",
        "Secret",
        "secrets",
        &[],
        true,
        false,
        false,
        &["type"],
    ),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        &["cm"],
        true,
        false,
        false,
        &[],
    ),
    (
        "",
        "v1",
        "Service",
        "services",
        &["svc"],
        true,
        true,
        false,
        &[],
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        &["sa"],
        true,
        false,
        false,
        &[],
    ),
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        &["ns"],
        false,
        true,
        false,
        &["status.phase"],
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        &["deploy"],
        true,
        true,
        true,
        &[],
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        &["rs"],
        true,
        true,
        true,
        &[],
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        &["sts"],
        true,
        true,
        true,
        &[],
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        &["ds"],
        true,
        true,
        false,
        &[],
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        &["ev"],
        true,
        false,
        false,
        EVENTS_V1_FIELDS,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        &["crd", "crds"],
        false,
        true,
        false,
        &[],
    ),
];

/// The built-in types.
pub(crate) fn types() -> Vec<ResourceType> {
    ROWS.iter()
        .map(
            |&(group, version, kind, plural, short, namespaced, status, scale, fields)| {
                ResourceType {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    kind: kind.to_owned(),
                    list_kind: format!("{kind}List"),
                    plural: plural.to_owned(),
                    singular: kind.to_ascii_lowercase(),
                    short_names: short.iter().map(|name| (*name).to_owned()).collect(),
                    namespaced,
                    status_subresource: status,
                    scale_subresource: scale,
                    field_labels: fields.to_vec(),
                    origin: Origin::Builtin,
                }
            },
        )
        .collect()
}

/// The light shape check of a built-in object (see the module docs).
pub(crate) fn check_shape(rt: &ResourceType, object: &Value) -> Result<(), String> {
    let mut problems = Vec::new();
    if object["apiVersion"] != rt.api_version().as_str() {
        problems.push(format!("/apiVersion: must be `{}`", rt.api_version()));
    }
    if object["kind"] != rt.kind.as_str() {
        problems.push(format!("/kind: must be `{}`", rt.kind));
    }
    match object["metadata"].as_object() {
        None => problems.push("/metadata: must be an object".to_owned()),
        Some(metadata) => {
            if !metadata.get("name").is_some_and(Value::is_string) {
                problems.push("/metadata/name: required".to_owned());
            }
            for map in ["labels", "annotations"] {
                let strings = metadata.get(map).is_none_or(|value| {
                    value
                        .as_object()
                        .is_some_and(|map| map.values().all(Value::is_string))
                });
                if !strings {
                    problems.push(format!("/metadata/{map}: must map strings to strings"));
                }
            }
        }
    }
    for field in ["spec", "status", "data", "stringData"] {
        if object.get(field).is_some_and(|value| !value.is_object()) {
            problems.push(format!("/{field}: must be an object"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
