//! The resource tree (`v1alpha1ApplicationTree`) as Argo CD serves it: a node per live object
//! with its parent, health, images, the `info` the UI shows (a pod's status reason, node and
//! ready containers; a ReplicaSet's revision) and networking (a Service's target labels, an
//! Ingress's backend and URLs, a pod's labels).

use serde_json::{Value, json};

use super::app::RECONCILED_AT;
use super::live::{NODE, Object, objects};
use super::store::AppRecord;
use crate::fakes::ids::fake_hash;

/// The resource tree (`v1alpha1ApplicationTree`).
pub(crate) fn tree(record: &AppRecord) -> Value {
    let objects = objects(record);
    let urls = &record.app["status"]["summary"]["externalURLs"];
    let nodes: Vec<Value> = objects
        .iter()
        .map(|object| node(object, &objects, urls))
        .collect();
    json!({"nodes": nodes, "hosts": []})
}

fn node(object: &Object, objects: &[Object], urls: &Value) -> Value {
    let mut node = json!({
        "group": object.group, "version": object.version, "kind": object.kind,
        "namespace": object.namespace, "name": object.name, "uid": object.uid,
        "resourceVersion": (fake_hash(&object.uid) % 900_000 + 100_000).to_string(),
        "createdAt": RECONCILED_AT,
    });
    if let Some(parent) = object.parent.map(|index| &objects[index]) {
        node["parentRefs"] = json!([{
            "group": parent.group, "kind": parent.kind, "namespace": parent.namespace,
            "name": parent.name, "uid": parent.uid,
        }]);
    }
    if let Some((status, message)) = &object.health {
        node["health"] = json!({"status": status});
        if let Some(message) = message {
            node["health"]["message"] = json!(message);
        }
    }
    if !object.images.is_empty() && object.kind != "Deployment" {
        node["images"] = json!(object.images);
    }
    let info = info(object);
    if !info.is_empty() {
        node["info"] = json!(info);
    }
    if let Some(networking) = networking(object, objects, urls) {
        node["networkingInfo"] = networking;
    }
    node
}

fn info(object: &Object) -> Vec<Value> {
    let mut info: Vec<Value> = Vec::new();
    if let Some(status) = &object.status {
        let ready = if status == "Running" { "1/1" } else { "0/1" };
        info.push(json!({"name": "Status Reason", "value": status}));
        info.push(json!({"name": "Node", "value": NODE}));
        info.push(json!({"name": "Containers", "value": ready}));
    }
    info.extend(
        object
            .info
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value})),
    );
    info
}

/// What the tree says about a Service's, an Ingress's or a Pod's networking.
fn networking(object: &Object, objects: &[Object], urls: &Value) -> Option<Value> {
    let app = object.name.as_str();
    match object.kind {
        "Service" => Some(json!({"targetLabels": {"app": app}})),
        "Ingress" => {
            let mut info = json!({"targetRefs": [{"kind": "Service", "namespace": object.namespace, "name": app}]});
            if urls.is_array() {
                info["externalURLs"] = urls.clone();
            }
            Some(info)
        }
        "Pod" if object.owner_kind(objects) == Some("ReplicaSet") => {
            let owner = &objects[object.parent?];
            let workload = &objects[owner.parent?];
            let hash = owner.name.rsplit('-').next().unwrap_or_default();
            Some(json!({"labels": {"app": workload.name, "pod-template-hash": hash}}))
        }
        _ => None,
    }
}
