//! The demo cluster's Argo Rollouts estate, one scenario per state a rollout tool must handle,
//! each with the children the controller would have made: ReplicaSets (with
//! `rollouts-pod-template-hash`, revision annotations and a controller ownerReference), their
//! Pods (with logs), AnalysisRuns and Experiments.
//!
//! | Rollout | Scenario |
//! |---|---|
//! | `payments/payments-api` | canary paused at step 1 of 4 (`CanaryPauseStep`) |
//! | `payments/payments-worker` | healthy canary, with an older revision to undo to and a finished Experiment |
//! | `checkout/checkout-web` | blue-green awaiting promotion (`BlueGreenPause`) |
//! | `search/search-api` | canary paused by an inconclusive step analysis (`InconclusiveAnalysisRun`) |
//! | `search/search-indexer` | healthy canary whose pod template comes from a Deployment (`workloadRef`) |
//! | `data/recommendations` | aborted after its background analysis failed (Degraded) |
//!
//! Plus a running Experiment (`search/search-api-load-test`) and the AnalysisTemplates the
//! rollouts name.

use serde_json::{Value, json};

use super::{EARLIER, NOW, condition};
use crate::fakes::ids::fake_uid;

/// One revision of a rollout: its pod template hash, revision number, image and replicas.
#[derive(Clone, Copy)]
struct Release {
    hash: &'static str,
    revision: u32,
    image: &'static str,
    replicas: u32,
}

/// Every object of the Rollouts demo.
pub(super) fn objects() -> Vec<Value> {
    let mut objects = Vec::new();
    objects.extend(payments_api());
    objects.extend(payments_worker());
    objects.extend(checkout_web());
    objects.extend(search_api());
    objects.extend(search_indexer());
    objects.extend(recommendations());
    objects.push(load_test_experiment());
    for namespace in ["payments", "checkout", "search", "data"] {
        objects.push(analysis_template(namespace, "error-rate"));
    }
    objects
}

/// The log lines of one container: `(namespace, pod, container, [(time, text)])`.
pub(super) type ContainerLog = (String, String, String, Vec<(&'static str, &'static str)>);

/// Log lines of the demo pods.
pub(super) fn logs() -> Vec<ContainerLog> {
    let canary = pod_name("payments-api", "84c9d7f6b", 0);
    vec![(
        "payments".into(),
        canary,
        "payments-api".into(),
        vec![
            ("2026-08-20T11:30:02Z", "starting payments-api 2.14.0"),
            (
                "2026-08-20T11:30:04Z",
                "connected to postgres payments-db:5432",
            ),
            ("2026-08-20T11:30:05Z", "listening on :8080"),
            ("2026-08-20T11:41:17Z", "POST /v1/charges 201 48ms"),
        ],
    )]
}

pub(super) fn uid(kind: &str, namespace: &str, name: &str) -> String {
    fake_uid(&format!("{kind}/{namespace}/{name}"))
}

fn labels(name: &str) -> Value {
    json!({"app.kubernetes.io/name": name})
}

fn template(name: &str, image: &str) -> Value {
    json!({
        "metadata": {"labels": labels(name)},
        "spec": {"containers": [{
            "name": name,
            "image": image,
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        }]},
    })
}

fn rollout(namespace: &str, name: &str, generation: u32, spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace, "generation": generation,
                     "uid": uid("Rollout", namespace, name),
                     "labels": {"app.kubernetes.io/name": name, "team": namespace}},
        "spec": spec,
        "status": status,
    })
}

fn canary_spec(name: &str, image: &str, replicas: u32, steps: Value) -> Value {
    json!({
        "replicas": replicas,
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": labels(name)},
        "template": template(name, image),
        "strategy": {"canary": {
            "canaryService": format!("{name}-canary"),
            "stableService": format!("{name}-stable"),
            "maxSurge": "25%",
            "maxUnavailable": 0,
            "steps": steps,
        }},
    })
}

fn owner(kind: &str, api_version: &str, namespace: &str, name: &str) -> Value {
    json!([{"apiVersion": api_version, "kind": kind, "name": name,
            "uid": uid(kind, namespace, name), "controller": true, "blockOwnerDeletion": true}])
}

fn pod_name(rollout: &str, hash: &str, index: u32) -> String {
    let uid = fake_uid(&format!("{rollout}-{hash}-{index}"));
    let suffix = &uid[uid.len() - 5..];
    format!("{rollout}-{hash}-{suffix}")
}

/// A ReplicaSet of `rollout` for `release` (with `ready` of its replicas ready) and its pods.
fn replica_set(namespace: &str, rollout: &str, release: Release, ready: u32) -> Vec<Value> {
    let name = format!("{rollout}-{}", release.hash);
    let mut labels = labels(rollout);
    labels["rollouts-pod-template-hash"] = json!(release.hash);
    let mut pod_template = template(rollout, release.image);
    pod_template["metadata"]["labels"] = labels.clone();
    let replica_set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": name, "namespace": namespace, "uid": uid("ReplicaSet", namespace, &name),
            "labels": labels,
            "annotations": {"rollout.argoproj.io/revision": release.revision.to_string(),
                            "rollout.argoproj.io/desired-replicas": release.replicas.to_string()},
            "ownerReferences": owner("Rollout", "argoproj.io/v1alpha1", namespace, rollout),
        },
        "spec": {"replicas": release.replicas, "selector": {"matchLabels": labels},
                 "template": pod_template},
        "status": {"replicas": release.replicas, "fullyLabeledReplicas": release.replicas,
                   "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": 1},
    });
    let mut objects = vec![replica_set];
    for index in 0..release.replicas {
        let running = index < ready;
        objects.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name(rollout, release.hash, index), "namespace": namespace,
                         "labels": labels,
                         "ownerReferences": owner("ReplicaSet", "apps/v1", namespace, &name)},
            "spec": pod_template["spec"].clone(),
            "status": {
                "phase": if running { "Running" } else { "Pending" },
                "podIP": format!("10.42.{}.{}", release.revision, 10 + index),
                "startTime": EARLIER,
                "containerStatuses": [{"name": rollout, "image": release.image, "ready": running,
                                       "restartCount": 0, "started": running}],
            },
        }));
    }
    objects
}

fn analysis_template(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"args": [{"name": "service-name"}], "metrics": [error_rate_metric()]},
    })
}

fn error_rate_metric() -> Value {
    json!({
        "name": "error-rate", "interval": "1m", "count": 5, "failureLimit": 2,
        "successCondition": "result[0] < 0.01",
        "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090",
            "query": "sum(rate(http_requests_total{service=\"{{args.service-name}}\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{service=\"{{args.service-name}}\"}[5m]))"}},
    })
}

/// An AnalysisRun of `rollout` for `release` with one metric's results.
fn analysis_run(
    namespace: &str,
    rollout: &str,
    release: Release,
    step: Option<u32>,
    phase: &str,
    counts: [u32; 4],
    message: &str,
) -> Value {
    let name = match step {
        Some(step) => format!("{rollout}-{}-{}-{step}", release.hash, release.revision),
        None => format!("{rollout}-{}-{}", release.hash, release.revision),
    };
    let [successful, failed, inconclusive, error] = counts;
    let count = successful + failed + inconclusive + error;
    let measurements: Vec<Value> = (0..count)
        .map(|index| {
            let phase = if index < successful {
                "Successful"
            } else if index < successful + failed {
                "Failed"
            } else {
                "Inconclusive"
            };
            json!({"phase": phase, "startedAt": EARLIER, "finishedAt": EARLIER,
                   "value": if phase == "Successful" { "[0.004]" } else { "[0.031]" }})
        })
        .collect();
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {
            "name": name, "namespace": namespace,
            "labels": {"rollout-type": if step.is_some() { "Step" } else { "Background" },
                       "rollouts-pod-template-hash": release.hash},
            "annotations": {"rollout.argoproj.io/revision": release.revision.to_string()},
            "ownerReferences": owner("Rollout", "argoproj.io/v1alpha1", namespace, rollout),
        },
        "spec": {"args": [{"name": "service-name", "value": format!("{rollout}-canary")}],
                 "metrics": [error_rate_metric()]},
        "status": {
            "phase": phase, "message": message, "startedAt": EARLIER,
            "metricResults": [{"name": "error-rate", "phase": phase, "message": message,
                               "count": count, "successful": successful, "failed": failed,
                               "inconclusive": inconclusive, "error": error,
                               "measurements": measurements}],
            "runSummary": {"count": 1, "successful": u32::from(phase == "Successful"),
                           "failed": u32::from(phase == "Failed"),
                           "inconclusive": u32::from(phase == "Inconclusive")},
        },
    })
}

fn pause(reason: &str) -> Value {
    json!([{"reason": reason, "startTime": EARLIER}])
}

fn payments_api() -> Vec<Value> {
    let stable = Release {
        hash: "6f7d9b8c4",
        revision: 6,
        image: "ghcr.io/example-org/payments-api:2.13.2",
        replicas: 5,
    };
    let canary = Release {
        hash: "84c9d7f6b",
        revision: 7,
        image: "ghcr.io/example-org/payments-api:2.14.0",
        replicas: 1,
    };
    let steps = json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "10m"}}]);
    let status = json!({
        "phase": "Paused", "message": "CanaryPauseStep", "observedGeneration": "7",
        "replicas": 6, "updatedReplicas": 1, "readyReplicas": 6, "availableReplicas": 6,
        "currentPodHash": canary.hash, "stableRS": stable.hash, "currentStepIndex": 1,
        "currentStepHash": "5f8b6d7c9",
        "pauseConditions": pause("CanaryPauseStep"), "controllerPause": true,
        "canary": {"weights": {"canary": {"podTemplateHash": canary.hash, "weight": 20},
                               "stable": {"podTemplateHash": stable.hash, "weight": 80}}},
        "selector": "app.kubernetes.io/name=payments-api",
        "conditions": [
            condition("Paused", "True", "RolloutPaused", "Rollout is paused"),
            condition("Available", "True", "AvailableReason", "Rollout has minimum availability"),
        ],
    });
    let mut objects = vec![rollout(
        "payments",
        "payments-api",
        7,
        canary_spec("payments-api", canary.image, 5, steps),
        status,
    )];
    objects.extend(replica_set("payments", "payments-api", stable, 5));
    objects.extend(replica_set("payments", "payments-api", canary, 1));
    objects
}

fn payments_worker() -> Vec<Value> {
    let previous = Release {
        hash: "4b7c9d6f5",
        revision: 8,
        image: "ghcr.io/example-org/payments-worker:2.13.3",
        replicas: 0,
    };
    let current = Release {
        hash: "6f7d9b8c4",
        revision: 9,
        image: "ghcr.io/example-org/payments-worker:2.13.4",
        replicas: 2,
    };
    let steps = json!([
        {"experiment": {"duration": "10m", "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}]}},
        {"setWeight": 50}, {"pause": {"duration": "10m"}},
    ]);
    let status = json!({
        "phase": "Healthy", "observedGeneration": "9",
        "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
        "currentPodHash": current.hash, "stableRS": current.hash, "currentStepIndex": 3,
        "selector": "app.kubernetes.io/name=payments-worker",
        "conditions": [
            condition("Available", "True", "AvailableReason", "Rollout has minimum availability"),
            condition("Healthy", "True", "RolloutHealthy", "Rollout is healthy"),
        ],
    });
    let mut objects = vec![rollout(
        "payments",
        "payments-worker",
        9,
        canary_spec("payments-worker", current.image, 2, steps),
        status,
    )];
    objects.extend(replica_set("payments", "payments-worker", previous, 0));
    objects.extend(replica_set("payments", "payments-worker", current, 2));
    let name = format!("payments-worker-{}-{}-0", current.hash, current.revision);
    let mut experiment = experiment("payments", &name, "Successful", "Experiment completed");
    experiment["metadata"]["ownerReferences"] = owner(
        "Rollout",
        "argoproj.io/v1alpha1",
        "payments",
        "payments-worker",
    );
    objects.push(experiment);
    objects
}

fn experiment(namespace: &str, name: &str, phase: &str, message: &str) -> Value {
    let spec_template = |variant: &str| {
        let mut template = template(name, "ghcr.io/example-org/payments-worker:2.13.4");
        template["metadata"]["labels"]["variant"] = json!(variant);
        json!({"name": variant, "replicas": 1,
               "selector": {"matchLabels": {"app.kubernetes.io/name": name, "variant": variant}},
               "template": template})
    };
    let template_status = |variant: &str| {
        json!({"name": variant, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
               "availableReplicas": 1, "status": if phase == "Running" { "Running" } else { "Successful" },
               "lastTransitionTime": EARLIER})
    };
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Experiment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"duration": "10m", "templates": [spec_template("baseline"), spec_template("canary")]},
        "status": {"phase": phase, "message": message, "availableAt": EARLIER,
                   "templateStatuses": [template_status("baseline"), template_status("canary")]},
    })
}

fn load_test_experiment() -> Value {
    experiment("search", "search-api-load-test", "Running", "")
}

fn checkout_web() -> Vec<Value> {
    let active = Release {
        hash: "5c4b8d7f9",
        revision: 11,
        image: "ghcr.io/example-org/checkout-web:5.1.3",
        replicas: 4,
    };
    let preview = Release {
        hash: "7d9f8c6b5",
        revision: 12,
        image: "ghcr.io/example-org/checkout-web:5.2.0",
        replicas: 4,
    };
    let spec = json!({
        "replicas": 4,
        "selector": {"matchLabels": labels("checkout-web")},
        "template": template("checkout-web", preview.image),
        "strategy": {"blueGreen": {"activeService": "checkout-web-active", "previewService": "checkout-web-preview",
                                    "autoPromotionEnabled": false}},
    });
    let status = json!({
        "phase": "Paused", "message": "BlueGreenPause", "observedGeneration": "12",
        "replicas": 8, "updatedReplicas": 4, "readyReplicas": 7, "availableReplicas": 7,
        "currentPodHash": preview.hash, "stableRS": active.hash,
        "pauseConditions": pause("BlueGreenPause"), "controllerPause": true,
        "blueGreen": {"activeSelector": active.hash, "previewSelector": preview.hash},
        "selector": "app.kubernetes.io/name=checkout-web",
        "conditions": [condition("Available", "True", "AvailableReason", "Rollout has minimum availability")],
    });
    let mut objects = vec![rollout("checkout", "checkout-web", 12, spec, status)];
    objects.extend(replica_set("checkout", "checkout-web", active, 4));
    objects.extend(replica_set("checkout", "checkout-web", preview, 3));
    objects
}

fn search_api() -> Vec<Value> {
    let stable = Release {
        hash: "5d8f7c9b6",
        revision: 4,
        image: "ghcr.io/example-org/search-api:3.8.1",
        replicas: 3,
    };
    let canary = Release {
        hash: "7f6d4c8b9",
        revision: 5,
        image: "ghcr.io/example-org/search-api:3.9.0",
        replicas: 1,
    };
    let steps = json!([
        {"setWeight": 20}, {"pause": {"duration": "5m"}},
        {"analysis": {"templates": [{"templateName": "error-rate"}],
                      "args": [{"name": "service-name", "value": "search-api-canary"}]}},
        {"setWeight": 60}, {"pause": {}},
    ]);
    let message = "Metric \"error-rate\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)";
    let run = analysis_run(
        "search",
        "search-api",
        canary,
        Some(2),
        "Inconclusive",
        [2, 0, 1, 0],
        message,
    );
    let status = json!({
        "phase": "Paused", "message": "InconclusiveAnalysisRun", "observedGeneration": "5",
        "replicas": 4, "updatedReplicas": 1, "readyReplicas": 4, "availableReplicas": 4,
        "currentPodHash": canary.hash, "stableRS": stable.hash, "currentStepIndex": 2,
        "pauseConditions": pause("InconclusiveAnalysisRun"), "controllerPause": true,
        "canary": {"currentStepAnalysisRunStatus": {"name": run["metadata"]["name"], "status": "Inconclusive", "message": message}},
        "selector": "app.kubernetes.io/name=search-api",
        "conditions": [condition("Paused", "True", "RolloutPaused", "Rollout is paused")],
    });
    let mut objects = vec![rollout(
        "search",
        "search-api",
        5,
        canary_spec("search-api", canary.image, 3, steps),
        status,
    )];
    objects.extend(replica_set("search", "search-api", stable, 3));
    objects.extend(replica_set("search", "search-api", canary, 1));
    objects.push(run);
    objects
}

fn search_indexer() -> Vec<Value> {
    let current = Release {
        hash: "8c5f9d7b6",
        revision: 3,
        image: "ghcr.io/example-org/search-indexer:1.4.2",
        replicas: 2,
    };
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "search-indexer", "namespace": "search", "generation": 4,
                     "uid": uid("Deployment", "search", "search-indexer"), "labels": labels("search-indexer")},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels("search-indexer")},
                 "template": template("search-indexer", current.image)},
        "status": {"observedGeneration": 4},
    });
    let spec = json!({
        "replicas": 2,
        "selector": {"matchLabels": labels("search-indexer")},
        "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "search-indexer"},
        "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2m"}}]}},
    });
    let status = json!({
        "phase": "Healthy", "observedGeneration": "3", "workloadObservedGeneration": "4",
        "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
        "currentPodHash": current.hash, "stableRS": current.hash, "currentStepIndex": 2,
        "selector": "app.kubernetes.io/name=search-indexer",
        "conditions": [condition("Healthy", "True", "RolloutHealthy", "Rollout is healthy")],
    });
    let mut rollout = rollout("search", "search-indexer", 3, spec, status);
    rollout["metadata"]["annotations"] = json!({"rollout.argoproj.io/workload-generation": "4"});
    let mut objects = vec![rollout, deployment];
    objects.extend(replica_set("search", "search-indexer", current, 2));
    objects
}

fn recommendations() -> Vec<Value> {
    let stable = Release {
        hash: "6f7d9b8c4",
        revision: 6,
        image: "ghcr.io/example-org/recommendations:1.30.2",
        replicas: 3,
    };
    let canary = Release {
        hash: "9b6c5d4f8",
        revision: 7,
        image: "ghcr.io/example-org/recommendations:1.31.0",
        replicas: 0,
    };
    let failure = "Metric \"error-rate\" assessed Failed due to failed (3) > failureLimit (2)";
    let message = format!("Rollout aborted update to revision 7: {failure}");
    let run = analysis_run(
        "data",
        "recommendations",
        canary,
        None,
        "Failed",
        [1, 3, 0, 0],
        failure,
    );
    let mut spec = canary_spec(
        "recommendations",
        canary.image,
        3,
        json!([{"setWeight": 20}, {"pause": {"duration": "10m"}}, {"setWeight": 50}, {"pause": {"duration": "10m"}}]),
    );
    spec["strategy"]["canary"]["analysis"] = json!({"templates": [{"templateName": "error-rate"}],
        "args": [{"name": "service-name", "value": "recommendations-canary"}]});
    let status = json!({
        "phase": "Degraded", "message": format!("RolloutAborted: {message}"),
        "observedGeneration": "7", "abort": true, "abortedAt": NOW,
        "replicas": 3, "updatedReplicas": 0, "readyReplicas": 3, "availableReplicas": 3,
        "currentPodHash": canary.hash, "stableRS": stable.hash, "currentStepIndex": 0,
        "canary": {"currentBackgroundAnalysisRunStatus": {"name": run["metadata"]["name"], "status": "Failed", "message": failure}},
        "selector": "app.kubernetes.io/name=recommendations",
        "conditions": [condition("Progressing", "False", "RolloutAborted", &message)],
    });
    let mut objects = vec![rollout("data", "recommendations", 7, spec, status)];
    objects.extend(replica_set("data", "recommendations", stable, 3));
    objects.extend(replica_set("data", "recommendations", canary, 0));
    objects.push(run);
    objects
}
