//! Discovery: `/api`, `/api/v1`, `/apis`, `/apis/{group}` and `/apis/{group}/{version}`, so a
//! client can map a kind to its plural, scope, verbs and subresources. Custom resources appear
//! only while their CRD is installed.

use serde_json::{Value, json};

use super::store::Store;
use super::types::{self, ResourceType};

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/api`.
pub(crate) fn core_versions() -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}],
    })
}

/// `/apis`: every group with at least one served type.
pub(crate) fn groups(store: &Store) -> Value {
    let groups: Vec<Value> = group_versions(store)
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .map(|(group, version)| group_object(&group, &version))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if the group serves anything.
pub(crate) fn group(store: &Store, group: &str) -> Option<Value> {
    let (_, version) = group_versions(store)
        .into_iter()
        .find(|(name, _)| name == group)?;
    let mut object = group_object(group, &version);
    object["kind"] = json!("APIGroup");
    object["apiVersion"] = json!("v1");
    Some(object)
}

/// `/api/v1` (group `""`) or `/apis/{group}/{version}`, if it serves anything.
pub(crate) fn resources(store: &Store, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = types::all()
        .iter()
        .filter(|rt| rt.group == group && rt.version == version && store.installed(rt))
        .collect();
    if served.is_empty() {
        return None;
    }
    let group_version = served[0].api_version();
    let resources: Vec<Value> = served
        .into_iter()
        .flat_map(|rt| entries(store, rt))
        .collect();
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
        "resources": resources,
    }))
}

fn group_versions(store: &Store) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for rt in types::all().iter().filter(|rt| store.installed(rt)) {
        if !pairs.iter().any(|(group, _)| *group == rt.group) {
            pairs.push((rt.group.clone(), rt.version.clone()));
        }
    }
    pairs
}

fn group_object(group: &str, version: &str) -> Value {
    let group_version = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [group_version], "preferredVersion": group_version})
}

/// A type's entry and its subresources' entries.
fn entries(store: &Store, rt: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
        "kind": rt.kind, "verbs": VERBS,
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    let mut entries = vec![main];
    let sub = |name: &str, kind: &str, verbs: &[&str]| {
        json!({"name": format!("{}/{name}", rt.plural), "singularName": "", "namespaced": rt.namespaced,
               "kind": kind, "verbs": verbs})
    };
    if store.has_status(rt) {
        entries.push(sub("status", &rt.kind, &["get", "patch", "update"]));
    }
    if rt.scale_subresource {
        let mut scale = sub("scale", "Scale", &["get", "patch", "update"]);
        scale["group"] = json!("autoscaling");
        scale["version"] = json!("v1");
        entries.push(scale);
    }
    if rt.group.is_empty() && rt.plural == "pods" {
        entries.push(sub("log", "Pod", &["get"]));
    }
    entries
}
