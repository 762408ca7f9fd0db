//! The live Kubernetes objects behind an application, derived from its current state: a
//! Deployment, its ReplicaSet and two Pods, a Service and a ConfigMap. Their health, and the
//! symptoms of a Degraded application (crash loops, image pulls, OOM kills, failing probes,
//! quota refusals, configuration for another environment), follow the application's status
//! and its [`Cause`], so trees, events and logs stay consistent with what Get serves.

use serde_json::{Value, json};

use super::app::{Cause, RECONCILED_AT};
use super::store::AppRecord;
use crate::fakes::ids::{fake_hash, fake_uid};

/// One live object.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Index of the owner in the object list.
    pub parent: Option<usize>,
    pub health: Option<(String, Option<String>)>,
    pub images: Vec<String>,
    /// Pod phase summary shown in the tree's `info`, e.g. `CrashLoopBackOff`.
    pub status: Option<String>,
    /// Managed directly by the application (not created by a controller).
    pub managed: bool,
}

impl Object {
    fn new(kind: &'static str, group: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            group,
            version: "v1",
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: fake_uid(&format!("{kind}/{namespace}/{name}")),
            parent: None,
            health: None,
            images: Vec::new(),
            status: None,
            managed: false,
        }
    }

    /// `apps/v1` or `v1`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether this object matches the filters given (empty filters match anything).
    pub(crate) fn matches(&self, kind: &str, name: &str, namespace: &str, group: &str) -> bool {
        (kind.is_empty() || self.kind == kind)
            && (name.is_empty() || self.name == name)
            && (namespace.is_empty() || self.namespace == namespace)
            && (group.is_empty() || self.group == group)
    }
}

/// The state an application's workload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Healthy,
    Progressing,
    Suspended,
    Failing(Cause),
    Missing,
}

impl Workload {
    pub(crate) fn of(record: &AppRecord) -> Self {
        match record.app["status"]["health"]["status"].as_str() {
            Some("Degraded") => Workload::Failing(record.cause),
            Some("Progressing") => Workload::Progressing,
            Some("Suspended") => Workload::Suspended,
            Some("Missing") => Workload::Missing,
            _ => Workload::Healthy,
        }
    }
}

/// The application's live objects (none while it is Missing).
pub(crate) fn objects(record: &AppRecord) -> Vec<Object> {
    let workload = Workload::of(record);
    if workload == Workload::Missing {
        return Vec::new();
    }
    let app = &record.app;
    let name = record.name();
    let namespace = app["spec"]["destination"]["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(name)
        .to_owned();
    let images = images(app);
    let mut deployment = Object::new("Deployment", "apps", &namespace, name);
    deployment.managed = true;
    deployment.images = images.clone();
    deployment.health = Some(deployment_health(workload));
    let hash = format!(
        "{:010x}",
        fake_hash(&format!("{name}{}", revision(app))) % 0xff_ffff_ffff
    );
    let mut replica_set = Object::new(
        "ReplicaSet",
        "apps",
        &namespace,
        &format!("{name}-{}", &hash[..10]),
    );
    replica_set.parent = Some(0);
    replica_set.images = images.clone();
    replica_set.health = Some(deployment_health(workload));
    let mut objects = vec![deployment, replica_set];
    if workload != Workload::Failing(Cause::Quota) {
        for suffix in pod_suffixes(name) {
            let mut pod = Object::new(
                "Pod",
                "",
                &namespace,
                &format!("{name}-{}-{suffix}", &hash[..10]),
            );
            pod.parent = Some(1);
            pod.images = images.clone();
            let (health, status) = pod_state(workload);
            pod.health = Some(health);
            pod.status = Some(status);
            objects.push(pod);
        }
    }
    let mut service = Object::new("Service", "", &namespace, name);
    service.managed = true;
    service.health = Some(("Healthy".into(), None));
    let mut config = Object::new("ConfigMap", "", &namespace, &format!("{name}-config"));
    config.managed = true;
    objects.extend([service, config]);
    objects
}

fn images(app: &Value) -> Vec<String> {
    let images: Vec<String> = app["status"]["summary"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| image.as_str().map(str::to_owned))
        .collect();
    if images.is_empty() {
        vec![format!(
            "ghcr.io/example-org/{}:latest",
            app["metadata"]["name"].as_str().unwrap_or("app")
        )]
    } else {
        images
    }
}

pub(crate) fn revision(app: &Value) -> &str {
    app["status"]["sync"]["revision"]
        .as_str()
        .unwrap_or_default()
}

fn pod_suffixes(name: &str) -> [String; 2] {
    let hash = format!("{:010x}", fake_hash(name));
    let letters = |offset: usize| -> String {
        hash[offset..offset + 5]
            .chars()
            .map(|c| match c {
                '0'..='9' => (b'b' + c as u8 - b'0') as char,
                other => other,
            })
            .collect()
    };
    [letters(0), letters(5)]
}

fn deployment_health(workload: Workload) -> (String, Option<String>) {
    match workload {
        Workload::Healthy | Workload::Missing => ("Healthy".into(), None),
        Workload::Progressing => (
            "Progressing".into(),
            Some("Waiting for rollout to finish: 1 of 2 updated replicas are available...".into()),
        ),
        Workload::Suspended => ("Suspended".into(), Some("Deployment is paused".into())),
        Workload::Failing(_) => (
            "Degraded".into(),
            Some("Deployment has exceeded its progress deadline".into()),
        ),
    }
}

/// The pods' health and the status column `kubectl get pods` would show.
fn pod_state(workload: Workload) -> ((String, Option<String>), String) {
    let failing = |status: &str, message: &str| {
        (
            ("Degraded".to_owned(), Some(message.to_owned())),
            status.to_owned(),
        )
    };
    match workload {
        Workload::Healthy | Workload::Suspended | Workload::Missing => {
            (("Healthy".into(), None), "Running".into())
        }
        Workload::Progressing => (("Progressing".into(), None), "ContainerCreating".into()),
        Workload::Failing(Cause::CrashLoop | Cause::WrongEnvironment) => failing(
            "CrashLoopBackOff",
            "back-off 5m0s restarting failed container=app",
        ),
        Workload::Failing(Cause::ImagePull) => {
            failing("ImagePullBackOff", "Back-off pulling image")
        }
        Workload::Failing(Cause::OomKilled) => failing(
            "OOMKilled",
            "containers with unready status: [app]; last state: terminated (OOMKilled, exit code 137)",
        ),
        Workload::Failing(Cause::ProbeFailed) => (
            (
                "Progressing".into(),
                Some("containers with unready status: [app]".into()),
            ),
            "Running".into(),
        ),
        Workload::Failing(Cause::Quota) => (("Missing".into(), None), "Pending".into()),
    }
}

/// The resource tree (`v1alpha1ApplicationTree`).
pub(crate) fn tree(record: &AppRecord) -> Value {
    let objects = objects(record);
    let nodes: Vec<Value> = objects
        .iter()
        .map(|object| node(object, &objects))
        .collect();
    json!({"nodes": nodes, "hosts": []})
}

fn node(object: &Object, objects: &[Object]) -> Value {
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
    if let Some(status) = &object.status {
        node["info"] = json!([{"name": "Status Reason", "value": status},
                              {"name": "Containers", "value": if status == "Running" { "1/1" } else { "0/1" }}]);
    }
    if object.kind == "Service" {
        node["networkingInfo"] = json!({"targetLabels": {"app": object.name}});
    }
    node
}

/// The object as the Kubernetes API would serve it (live state).
pub(crate) fn manifest(record: &AppRecord, object: &Object) -> Value {
    let mut manifest = json!({
        "apiVersion": object.api_version(), "kind": object.kind,
        "metadata": {"name": object.name, "namespace": object.namespace, "uid": object.uid,
                     "labels": {"app.kubernetes.io/instance": record.name()},
                     "creationTimestamp": RECONCILED_AT},
    });
    let image = object.images.first().cloned().unwrap_or_default();
    match object.kind {
        "Deployment" => {
            manifest["spec"] = json!({"replicas": 2, "selector": {"matchLabels": {"app": object.name}},
                "template": {"spec": {"containers": [{"name": "app", "image": image,
                    "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}}}]}}});
            manifest["status"] =
                json!({"replicas": 2, "readyReplicas": ready(record), "updatedReplicas": 2});
        }
        "Pod" => {
            manifest["spec"] = json!({"containers": [{"name": "app", "image": image}]});
            manifest["status"] = json!({"phase": if object.status.as_deref() == Some("Pending") { "Pending" } else { "Running" },
                                        "containerStatuses": [container_status(record, object, &image)]});
        }
        "Service" => {
            manifest["spec"] = json!({"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": record.name()}})
        }
        "ConfigMap" => manifest["data"] = config_data(record),
        _ => {}
    }
    manifest
}

fn ready(record: &AppRecord) -> u32 {
    match Workload::of(record) {
        Workload::Healthy | Workload::Suspended => 2,
        Workload::Progressing => 1,
        _ => 0,
    }
}

fn container_status(record: &AppRecord, object: &Object, image: &str) -> Value {
    let status = object.status.as_deref().unwrap_or("Running");
    let restarts = match status {
        "CrashLoopBackOff" | "OOMKilled" => 7,
        _ => 0,
    };
    let state = match status {
        "Running" => json!({"running": {"startedAt": RECONCILED_AT}}),
        "OOMKilled" => json!({"waiting": {"reason": "CrashLoopBackOff"}}),
        other => json!({"waiting": {"reason": other}}),
    };
    let mut container = json!({"name": "app", "image": image, "ready": status == "Running" && Workload::of(record) != Workload::Failing(Cause::ProbeFailed),
                               "restartCount": restarts, "state": state});
    if status == "OOMKilled" {
        container["lastState"] = json!({"terminated": {"reason": "OOMKilled", "exitCode": 137}});
    }
    container
}

fn config_data(record: &AppRecord) -> Value {
    let prod = record.app["metadata"]["labels"]["env"] == "prod";
    let db = if Workload::of(record) == Workload::Failing(Cause::WrongEnvironment) {
        "postgres.staging.svc.cluster.local"
    } else if prod {
        "postgres.prod.svc.cluster.local"
    } else {
        "postgres.dev.svc.cluster.local"
    };
    json!({"DATABASE_HOST": db, "LOG_LEVEL": "info"})
}

/// The desired state of a managed object (what Git says), as a manifest.
pub(crate) fn target(record: &AppRecord, object: &Object) -> Value {
    let mut manifest = manifest(record, object);
    if let Some(map) = manifest.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = manifest["metadata"].as_object_mut() {
        metadata.remove("uid");
        metadata.remove("creationTimestamp");
    }
    if record.app["status"]["sync"]["status"] == "OutOfSync" && object.kind == "Deployment" {
        manifest["spec"]["replicas"] = json!(3);
    }
    manifest
}
