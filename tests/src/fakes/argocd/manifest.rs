//! An application's objects as the Kubernetes API serves them: the live state (GetResource,
//! the live side of ManagedResources) and the desired state Git holds (ManagedResources'
//! target, GetManifests). A Deployment runs one container `app` with the application's image;
//! an OutOfSync application's Git asks for one more replica than runs.

use serde_json::{Value, json};

use super::app::{Cause, RECONCILED_AT};
use super::live::{NODE, Object, Workload};
use super::store::AppRecord;

/// The object as the Kubernetes API would serve it (live state).
pub(crate) fn manifest(record: &AppRecord, object: &Object) -> Value {
    let mut manifest = json!({
        "apiVersion": object.api_version(), "kind": object.kind,
        "metadata": {"name": object.name, "namespace": object.namespace, "uid": object.uid,
                     "labels": {"app.kubernetes.io/instance": record.name()},
                     "creationTimestamp": RECONCILED_AT},
    });
    let image = object.images.first().cloned().unwrap_or_default();
    let app = record.name();
    let replicas = record.replicas;
    match object.kind {
        "Deployment" => {
            manifest["spec"] = json!({"replicas": replicas, "selector": {"matchLabels": {"app": object.name}},
                "template": {"spec": {"serviceAccountName": app, "containers": [{"name": "app", "image": image,
                    "envFrom": [{"configMapRef": {"name": format!("{app}-config")}}],
                    "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}}}]}}});
            manifest["status"] = json!({"replicas": replicas, "readyReplicas": ready(record),
                                        "updatedReplicas": replicas});
        }
        "Pod" => {
            let phase = match object.status.as_deref() {
                Some("Pending") => "Pending",
                Some("Completed") => "Succeeded",
                _ => "Running",
            };
            manifest["spec"] =
                json!({"nodeName": NODE, "containers": [{"name": "app", "image": image}]});
            manifest["status"] = json!({"phase": phase,
                                        "containerStatuses": [container_status(record, object, &image)]});
        }
        "ConfigMap" if object.name.ends_with("-config") => manifest["data"] = config_data(record),
        kind => {
            if let Some(spec) = spec(kind, app, replicas) {
                manifest["spec"] = spec;
            }
            if kind == "Secret" {
                // Argo CD masks the values of Secrets it serves.
                manifest["data"] = json!({"DATABASE_PASSWORD": "++++++++", "API_KEY": "++++++++"});
            }
        }
    }
    manifest
}

/// The spec of the other kinds, as their charts and overlays usually write it.
fn spec(kind: &str, app: &str, replicas: u32) -> Option<Value> {
    let selector = json!({"matchLabels": {"app": app}});
    Some(match kind {
        "Service" => {
            json!({"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": app}})
        }
        "Ingress" => {
            json!({"ingressClassName": "nginx", "rules": [{"host": format!("{app}.example.com"),
            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": app, "port": {"number": 80}}}}]}}]})
        }
        "HorizontalPodAutoscaler" => json!({"minReplicas": replicas, "maxReplicas": replicas * 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70}}}]}),
        "PodDisruptionBudget" => json!({"minAvailable": 1, "selector": selector}),
        "NetworkPolicy" => json!({"podSelector": selector, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]}]}),
        "ServiceMonitor" => json!({"selector": selector,
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}]}),
        "PrometheusRule" => json!({"groups": [{"name": app, "rules": [{"alert": "HighErrorRate",
            "expr": format!("sum(rate(http_requests_total{{app=\"{app}\",code=~\"5..\"}}[5m])) > 1"),
            "for": "10m"}]}]}),
        "CronJob" => json!({"schedule": "0 3 * * *", "successfulJobsHistoryLimit": 2,
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "app", "args": ["cleanup"]}]}}}}}),
        "ExternalSecret" => json!({"refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
            "target": {"name": format!("{app}-db")},
            "dataFrom": [{"extract": {"key": format!("apps/{app}/db")}}]}),
        _ => return None,
    })
}

fn ready(record: &AppRecord) -> u32 {
    match Workload::of(record) {
        Workload::Healthy | Workload::Suspended => record.replicas,
        Workload::Progressing => record.replicas.saturating_sub(1),
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
        "Completed" => json!({"terminated": {"reason": "Completed", "exitCode": 0}}),
        "OOMKilled" => json!({"waiting": {"reason": "CrashLoopBackOff"}}),
        other => json!({"waiting": {"reason": other}}),
    };
    let probe_failing = Workload::of(record) == Workload::Failing(Cause::ProbeFailed);
    let mut container = json!({"name": "app", "image": image, "ready": status == "Running" && !probe_failing,
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
    if out_of_sync(record, object) {
        manifest["spec"]["replicas"] = json!(record.replicas + 1);
    }
    manifest
}

/// Whether Git and the cluster differ for this object (an OutOfSync app's Deployment).
pub(crate) fn out_of_sync(record: &AppRecord, object: &Object) -> bool {
    record.app["status"]["sync"]["status"] == "OutOfSync" && object.kind == "Deployment"
}
