//! Kubernetes events (`eventsEventList`): those of the Application object itself (sync and
//! health transitions) and those of its live objects, matching their symptoms.

use serde_json::{Value, json};

use super::app::{Cause, RECONCILED_AT};
use super::live::{Object, Workload, objects};
use super::store::{AppRecord, CONTROL_PLANE_NAMESPACE};

const FIRST_SEEN: &str = "2026-08-20T10:58:02Z";

/// The events of the Application object.
pub(crate) fn application_events(record: &AppRecord) -> Value {
    let app = &record.app;
    let name = record.name();
    let reference = json!({"kind": "Application", "name": name, "namespace": record.namespace(),
                           "apiVersion": "argoproj.io/v1alpha1",
                           "uid": app["metadata"]["uid"].as_str().unwrap_or_default()});
    let revision = super::live::revision(app);
    let health = app["status"]["health"]["status"]
        .as_str()
        .unwrap_or("Unknown");
    let items = vec![
        event(
            &reference,
            "OperationStarted",
            "Normal",
            &format!("Initiated automated sync to '{revision}'"),
            1,
            "argocd-application-controller",
        ),
        event(
            &reference,
            "ResourceUpdated",
            "Normal",
            &format!("Updated health status: Progressing -> {health}"),
            1,
            "argocd-application-controller",
        ),
    ];
    list(items)
}

/// The events of the live object with `uid` (or `name` in `namespace`).
pub(crate) fn resource_events(record: &AppRecord, uid: &str, name: &str, namespace: &str) -> Value {
    let items = objects(record)
        .iter()
        .filter(|object| {
            (uid.is_empty() || object.uid == uid)
                && (name.is_empty() || object.name == name)
                && (namespace.is_empty() || object.namespace == namespace)
        })
        .flat_map(|object| object_events(record, object))
        .collect();
    list(items)
}

fn object_events(record: &AppRecord, object: &Object) -> Vec<Value> {
    let reference = json!({"kind": object.kind, "name": object.name, "namespace": object.namespace,
                           "apiVersion": object.api_version(), "uid": object.uid});
    let image = object.images.first().cloned().unwrap_or_default();
    let workload = Workload::of(record);
    let mut events = match object.kind {
        "Pod" => vec![
            event(
                &reference,
                "Scheduled",
                "Normal",
                &format!(
                    "Successfully assigned {}/{} to node-pool-a-7f3c",
                    object.namespace, object.name
                ),
                1,
                "default-scheduler",
            ),
            event(
                &reference,
                "Pulling",
                "Normal",
                &format!("Pulling image \"{image}\""),
                1,
                "kubelet",
            ),
        ],
        "ReplicaSet" if object.stale => Vec::new(),
        "ReplicaSet" => vec![event(
            &reference,
            "SuccessfulCreate",
            "Normal",
            &format!("Created pod: {}-x", object.name),
            1,
            "replicaset-controller",
        )],
        "Deployment" => vec![event(
            &reference,
            "ScalingReplicaSet",
            "Normal",
            &format!(
                "Scaled up replica set {} to {}",
                object.name, record.replicas
            ),
            1,
            "deployment-controller",
        )],
        "CronJob" => vec![event(
            &reference,
            "SawCompletedJob",
            "Normal",
            &format!(
                "Saw completed job: {}-29787000, status: Complete",
                object.name
            ),
            1,
            "cronjob-controller",
        )],
        "Job" => vec![event(
            &reference,
            "Completed",
            "Normal",
            "Job completed",
            1,
            "job-controller",
        )],
        _ => Vec::new(),
    };
    if let (Workload::Failing(cause), true) = (workload, part_of_the_rollout(object)) {
        events.extend(symptoms(&reference, object, cause, &image));
    }
    events
}

/// Whether the failing rollout touches this object (not an older ReplicaSet, not a pod a
/// Job left behind).
fn part_of_the_rollout(object: &Object) -> bool {
    !object.stale && object.status.as_deref() != Some("Completed")
}

fn symptoms(reference: &Value, object: &Object, cause: Cause, image: &str) -> Vec<Value> {
    let warn = |reason: &str, message: &str, count: u32, source: &str| {
        event(reference, reason, "Warning", message, count, source)
    };
    match (object.kind, cause) {
        ("Pod", Cause::CrashLoop | Cause::WrongEnvironment) => vec![warn(
            "BackOff",
            "Back-off restarting failed container app in pod",
            31,
            "kubelet",
        )],
        ("Pod", Cause::OomKilled) => vec![
            warn(
                "OOMKilling",
                "Memory cgroup out of memory: Killed process 4121 (app) total-vm:912340kB",
                7,
                "kernel-monitor",
            ),
            warn(
                "BackOff",
                "Back-off restarting failed container app in pod",
                24,
                "kubelet",
            ),
        ],
        ("Pod", Cause::ImagePull) => vec![
            warn(
                "Failed",
                &format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
                ),
                6,
                "kubelet",
            ),
            warn("Failed", "Error: ImagePullBackOff", 14, "kubelet"),
        ],
        ("Pod", Cause::ProbeFailed) => vec![warn(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            58,
            "kubelet",
        )],
        ("ReplicaSet", Cause::Quota) => vec![warn(
            "FailedCreate",
            &format!(
                "Error creating: pods \"{}-x\" is forbidden: exceeded quota: compute-quota, requested: limits.memory=256Mi, used: limits.memory=4Gi, limited: limits.memory=4Gi",
                object.name
            ),
            12,
            "replicaset-controller",
        )],
        _ => Vec::new(),
    }
}

fn event(
    reference: &Value,
    reason: &str,
    kind: &str,
    message: &str,
    count: u32,
    source: &str,
) -> Value {
    let name = format!(
        "{}.{:x}",
        reference["name"].as_str().unwrap_or_default(),
        crate::fakes::ids::fake_hash(&format!("{reference}{reason}{message}")) % 0xffff_ffff
    );
    let namespace = reference["namespace"]
        .as_str()
        .unwrap_or(CONTROL_PLANE_NAMESPACE);
    json!({
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": reference,
        "reason": reason, "message": message, "type": kind, "count": count,
        "firstTimestamp": FIRST_SEEN, "lastTimestamp": RECONCILED_AT,
        "source": {"component": source},
    })
}

fn list(items: Vec<Value>) -> Value {
    json!({"metadata": {}, "items": items})
}
