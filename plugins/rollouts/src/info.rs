//! What the read tools answer: a row per Rollout (`list_rollouts`) and the dashboard's
//! `RolloutInfo` shape (`get_rollout`): replica sets with revision and role, their pods,
//! analysis runs, experiments and containers. Children are matched by controller
//! `ownerReferences` UID, as `kubectl argo rollouts get` does.

use capstan_sdk::{Map, Value, json};

use crate::phase::phase;

fn count(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

fn meta(object: &Value) -> Value {
    let metadata = &object["metadata"];
    let mut meta = json!({"name": metadata["name"], "namespace": metadata["namespace"],
                          "uid": metadata["uid"], "creationTimestamp": metadata["creationTimestamp"]});
    for key in ["labels", "annotations"] {
        if metadata[key].is_object() {
            meta[key] = metadata[key].clone();
        }
    }
    meta
}

/// `Canary`, `BlueGreen` or `None`.
pub(crate) fn strategy(spec: &Value) -> &'static str {
    if spec["strategy"]["canary"].is_object() {
        "Canary"
    } else if spec["strategy"]["blueGreen"].is_object() {
        "BlueGreen"
    } else {
        "None"
    }
}

/// The canary steps and `i/N`, or `None` without steps.
fn step(rollout: &Value) -> Option<String> {
    let steps = rollout["spec"]["strategy"]["canary"]["steps"]
        .as_array()?
        .len();
    let current = rollout["status"]["currentStepIndex"].as_u64().unwrap_or(0);
    (steps > 0).then(|| format!("{}/{steps}", current.min(steps as u64)))
}

/// The weight the last `setWeight` step at or before the current one sets (100 when done).
fn set_weight(rollout: &Value) -> Option<i64> {
    let steps = rollout["spec"]["strategy"]["canary"]["steps"].as_array()?;
    let status = &rollout["status"];
    if status["stableRS"].is_string() && status["stableRS"] == status["currentPodHash"] {
        return Some(100);
    }
    let index = status["currentStepIndex"].as_u64().unwrap_or(0) as usize;
    let weight = steps
        .iter()
        .take(index + 1)
        .filter_map(|step| step["setWeight"].as_i64())
        .next_back();
    Some(weight.unwrap_or(0))
}

/// The actual canary weight: from traffic routing when reported, else the set weight.
fn actual_weight(rollout: &Value) -> Option<i64> {
    rollout["status"]["canary"]["weights"]["canary"]["weight"]
        .as_i64()
        .or_else(|| set_weight(rollout))
}

fn containers(template: &Value, field: &str) -> Vec<Value> {
    template["spec"][field]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"name": c["name"], "image": c["image"]}))
        .collect()
}

/// One `list_rollouts` row.
pub(crate) fn row(rollout: &Value) -> Value {
    let (spec, status) = (&rollout["spec"], &rollout["status"]);
    let (phase, message) = phase(rollout);
    let mut row = Map::new();
    row.insert("name".into(), rollout["metadata"]["name"].clone());
    row.insert("namespace".into(), rollout["metadata"]["namespace"].clone());
    row.insert("strategy".into(), json!(strategy(spec)));
    row.insert("status".into(), json!(phase));
    if !message.is_empty() {
        row.insert("message".into(), json!(message));
    }
    if let Some(step) = step(rollout) {
        row.insert("step".into(), json!(step));
    }
    if let Some(weight) = set_weight(rollout) {
        row.insert("setWeight".into(), json!(weight));
    }
    if let Some(weight) = actual_weight(rollout) {
        row.insert("actualWeight".into(), json!(weight));
    }
    row.insert(
        "replicas".into(),
        json!(spec["replicas"].as_i64().unwrap_or(1)),
    );
    row.insert("ready".into(), json!(count(&status["readyReplicas"])));
    row.insert("updated".into(), json!(count(&status["updatedReplicas"])));
    row.insert(
        "available".into(),
        json!(count(&status["availableReplicas"])),
    );
    let images: Vec<Value> = containers(&spec["template"], "containers")
        .into_iter()
        .map(|c| c["image"].clone())
        .collect();
    row.insert("images".into(), json!(images));
    if spec["workloadRef"].is_object() {
        row.insert("workloadRef".into(), spec["workloadRef"].clone());
    }
    Value::Object(row)
}

/// Whether `child` names `owner` as its controller.
pub(crate) fn controlled_by(child: &Value, owner: &Value) -> bool {
    let uid = &owner["metadata"]["uid"];
    child["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|reference| reference["controller"] == true && reference["uid"] == *uid)
}

/// The revision annotation of a ReplicaSet, AnalysisRun or Experiment.
pub(crate) fn revision(object: &Value) -> Option<i64> {
    object["metadata"]["annotations"]["rollout.argoproj.io/revision"]
        .as_str()?
        .parse()
        .ok()
}

/// The dashboard's `RolloutInfo` from the rollout and the objects of its namespace.
pub(crate) fn rollout_info(
    rollout: &Value,
    replica_sets: &[Value],
    pods: &[Value],
    runs: &[Value],
    experiments: &[Value],
    workload: Option<&Value>,
) -> Value {
    let (spec, status) = (&rollout["spec"], &rollout["status"]);
    let (phase, message) = phase(rollout);
    let template = workload.map_or(&spec["template"], |workload| &workload["spec"]["template"]);
    let mut owned: Vec<&Value> = replica_sets
        .iter()
        .filter(|rs| controlled_by(rs, rollout))
        .collect();
    owned.sort_by_key(|rs| std::cmp::Reverse(revision(rs).unwrap_or(0)));
    let replica_sets: Vec<Value> = owned
        .iter()
        .map(|rs| replica_set_info(rs, status, pods))
        .collect();
    let analysis_runs: Vec<Value> = runs
        .iter()
        .filter(|run| controlled_by(run, rollout))
        .map(analysis_run_info)
        .collect();
    let experiments: Vec<Value> = experiments
        .iter()
        .filter(|e| controlled_by(e, rollout))
        .map(experiment_info)
        .collect();
    let mut info = json!({
        "objectMeta": meta(rollout),
        "status": phase, "message": message, "strategy": strategy(spec),
        "desired": spec["replicas"].as_i64().unwrap_or(1), "current": count(&status["replicas"]),
        "updated": count(&status["updatedReplicas"]), "ready": count(&status["readyReplicas"]),
        "available": count(&status["availableReplicas"]),
        "generation": rollout["metadata"]["generation"].as_i64().map(|g| g.to_string()),
        "containers": containers(template, "containers"),
        "initContainers": containers(template, "initContainers"),
        "replicaSets": replica_sets, "analysisRuns": analysis_runs, "experiments": experiments,
    });
    if let Some(step) = step(rollout) {
        info["step"] = json!(step);
        info["steps"] = spec["strategy"]["canary"]["steps"].clone();
    }
    if let Some(weight) = set_weight(rollout) {
        info["setWeight"] = json!(weight.to_string());
    }
    if let Some(weight) = actual_weight(rollout) {
        info["actualWeight"] = json!(weight.to_string());
    }
    if let Some(at) = status["restartedAt"].as_str() {
        info["restartedAt"] = json!(at);
    }
    if spec["workloadRef"].is_object() {
        info["workloadRef"] = spec["workloadRef"].clone();
    }
    info
}

fn replica_set_info(rs: &Value, rollout_status: &Value, pods: &[Value]) -> Value {
    let hash = rs["metadata"]["labels"]["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default();
    let role = |value: &Value| !hash.is_empty() && value.as_str() == Some(hash);
    let replicas = count(&rs["spec"]["replicas"]);
    let available = count(&rs["status"]["availableReplicas"]);
    let status = if replicas == 0 {
        "ScaledDown"
    } else if available < replicas {
        "Progressing"
    } else {
        "Healthy"
    };
    let pods: Vec<Value> = pods
        .iter()
        .filter(|pod| controlled_by(pod, rs))
        .map(pod_info)
        .collect();
    let images: Vec<Value> = containers(&rs["spec"]["template"], "containers")
        .into_iter()
        .map(|c| c["image"].clone())
        .collect();
    json!({
        "objectMeta": meta(rs), "status": status,
        "revision": revision(rs).map(|r| r.to_string()),
        "stable": role(&rollout_status["stableRS"]),
        "canary": role(&rollout_status["currentPodHash"]) && rollout_status["blueGreen"].is_null() && !role(&rollout_status["stableRS"]),
        "active": role(&rollout_status["blueGreen"]["activeSelector"]),
        "preview": role(&rollout_status["blueGreen"]["previewSelector"]) && !role(&rollout_status["blueGreen"]["activeSelector"]),
        "replicas": replicas, "available": available, "images": images, "pods": pods,
    })
}

fn pod_info(pod: &Value) -> Value {
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let restarts: i64 = statuses.iter().map(|s| count(&s["restartCount"])).sum();
    let waiting = statuses
        .iter()
        .find_map(|s| s["state"]["waiting"]["reason"].as_str());
    json!({
        "objectMeta": meta(pod),
        "status": waiting.or(pod["status"]["phase"].as_str()).unwrap_or("Unknown"),
        "ready": format!("{ready}/{total}"), "restarts": restarts,
    })
}

/// An AnalysisRun's phase and per-metric results.
pub(crate) fn analysis_run_info(run: &Value) -> Value {
    let status = &run["status"];
    let mut totals = [0i64; 4];
    let metrics: Vec<Value> = status["metricResults"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|metric| {
            for (total, key) in totals.iter_mut().zip(["successful", "failed", "inconclusive", "error"]) {
                *total += count(&metric[key]);
            }
            let last = metric["measurements"].as_array().and_then(|m| m.last()).cloned();
            json!({"name": metric["name"], "phase": metric["phase"], "message": metric["message"],
                   "count": count(&metric["count"]), "successful": count(&metric["successful"]),
                   "failed": count(&metric["failed"]), "inconclusive": count(&metric["inconclusive"]),
                   "error": count(&metric["error"]), "lastMeasurement": last})
        })
        .collect();
    json!({
        "objectMeta": meta(run), "revision": revision(run).map(|r| r.to_string()),
        "status": status["phase"].as_str().unwrap_or("Pending"), "message": status["message"],
        "successful": totals[0], "failed": totals[1], "inconclusive": totals[2], "error": totals[3],
        "metrics": metrics, "terminate": run["spec"]["terminate"] == true,
    })
}

/// An Experiment's phase, templates and analyses.
pub(crate) fn experiment_info(experiment: &Value) -> Value {
    let status = &experiment["status"];
    json!({
        "objectMeta": meta(experiment), "revision": revision(experiment).map(|r| r.to_string()),
        "status": status["phase"].as_str().unwrap_or("Pending"), "message": status["message"],
        "templates": status["templateStatuses"], "analysisRuns": status["analysisRuns"],
        "terminate": experiment["spec"]["terminate"] == true,
    })
}

/// A `LabelSelector` object as the string a list's `labelSelector` takes.
pub(crate) fn selector_string(selector: &Value) -> String {
    let mut terms: Vec<String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
        .collect();
    for expression in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        terms.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_steps_and_full_promotion() {
        let steps = json!([{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]);
        let rollout = |index: u64, current: &str| {
            json!({"spec": {"strategy": {"canary": {"steps": steps}}},
                   "status": {"currentStepIndex": index, "currentPodHash": current, "stableRS": "a"}})
        };
        assert_eq!(set_weight(&rollout(1, "b")), Some(20));
        assert_eq!(set_weight(&rollout(3, "b")), Some(50));
        assert_eq!(set_weight(&rollout(4, "a")), Some(100));
        assert_eq!(step(&rollout(9, "b")).as_deref(), Some("4/4"));
        let mut routed = rollout(1, "b");
        routed["status"]["canary"] = json!({"weights": {"canary": {"weight": 15}}});
        assert_eq!(actual_weight(&routed), Some(15));
        assert_eq!(
            set_weight(&json!({"spec": {"strategy": {"blueGreen": {}}}})),
            None
        );
    }

    #[test]
    fn label_selectors_render_match_labels_and_expressions() {
        let selector = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&selector), "app=web,tier in (a,b),!legacy");
    }

    #[test]
    fn children_are_matched_by_controller_uid() {
        let owner = json!({"metadata": {"uid": "u1"}});
        let child = |uid: &str, controller: bool| json!({"metadata": {"ownerReferences": [{"uid": uid, "controller": controller}]}});
        assert!(controlled_by(&child("u1", true), &owner));
        assert!(!controlled_by(&child("u1", false), &owner));
        assert!(!controlled_by(&child("u2", true), &owner));
    }
}
