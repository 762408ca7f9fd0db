//! A Rollout's phase and message, computed exactly as `kubectl argo rollouts` and the dashboard
//! do (`GetRolloutPhase` and `CalculateRolloutPhase` in argo-rollouts `utils/rollout`): first
//! the observed-generation and controller-pause checks, then `status.phase` when the controller
//! wrote one, otherwise the full calculation from spec and status.

use capstan_sdk::Value;

/// Healthy, Progressing, Paused or Degraded, and why.
pub(crate) fn phase(rollout: &Value) -> (String, String) {
    let status = &rollout["status"];
    if !generation_observed(rollout) {
        return progressing("waiting for rollout spec update to be observed");
    }
    let pause_conditions = status["pauseConditions"].as_array().map_or(0, Vec::len);
    if status["controllerPause"] == true && pause_conditions == 0 {
        return progressing("waiting for rollout to unpause");
    }
    match status["phase"].as_str() {
        Some(phase) if !phase.is_empty() => (phase.to_owned(), text(&status["message"])),
        _ => calculate(&rollout["spec"], status),
    }
}

/// `status.observedGeneration` is a string; a non-numeric one (v0.9 hash) counts as observed.
fn generation_observed(rollout: &Value) -> bool {
    let observed = rollout["status"]["observedGeneration"]
        .as_str()
        .and_then(|text| text.parse::<i64>().ok());
    match observed {
        None => true,
        Some(observed) => Some(observed) == rollout["metadata"]["generation"].as_i64(),
    }
}

fn progressing(message: &str) -> (String, String) {
    ("Progressing".to_owned(), message.to_owned())
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// `CalculateRolloutPhase`.
fn calculate(spec: &Value, status: &Value) -> (String, String) {
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    for condition in &conditions {
        if condition["type"] == "InvalidSpec" {
            return (
                "Degraded".into(),
                format!("InvalidSpec: {}", text(&condition["message"])),
            );
        }
        let reason = text(&condition["reason"]);
        if reason == "RolloutAborted" || reason == "ProgressDeadlineExceeded" {
            return (
                "Degraded".into(),
                format!("{reason}: {}", text(&condition["message"])),
            );
        }
    }
    if spec["paused"] == true {
        return ("Paused".into(), "manually paused".into());
    }
    if let Some(pause) = status["pauseConditions"]
        .as_array()
        .and_then(|conditions| conditions.first())
    {
        return ("Paused".into(), text(&pause["reason"]));
    }
    let restart_at = spec["restartAt"].as_str().filter(|at| !at.is_empty());
    if restart_at.is_some() && restart_at != status["restartedAt"].as_str() {
        return progressing("rollout is restarting");
    }
    let count = |value: &Value| value.as_i64().unwrap_or(0);
    let desired = spec["replicas"].as_i64().unwrap_or(1);
    let (updated, available, replicas) = (
        count(&status["updatedReplicas"]),
        count(&status["availableReplicas"]),
        count(&status["replicas"]),
    );
    if updated < desired {
        return progressing("more replicas need to be updated");
    }
    if available < updated {
        return progressing("updated replicas are still becoming available");
    }
    let current = text(&status["currentPodHash"]);
    let stable = text(&status["stableRS"]);
    let strategy = &spec["strategy"];
    if strategy["blueGreen"].is_object() {
        let active = text(&status["blueGreen"]["activeSelector"]);
        if active.is_empty() || active != current {
            return progressing("active service cutover pending");
        }
        if stable.is_empty() || stable != current {
            let analysis = strategy["blueGreen"]["postPromotionAnalysis"].is_object();
            let run = status["blueGreen"]["postPromotionAnalysisRunStatus"]["status"]
                .as_str()
                .unwrap_or_default();
            let completed = ["Successful", "Failed", "Error", "Inconclusive"].contains(&run);
            return progressing(if analysis && !completed {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            });
        }
    } else if strategy["canary"].is_object() {
        if strategy["canary"]["trafficRouting"].is_null() && replicas > updated {
            return progressing("old replicas are pending termination");
        }
        if stable.is_empty() || stable != current {
            return progressing("waiting for all steps to complete");
        }
    }
    ("Healthy".into(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sdk::json;

    fn rollout(spec: Value, status: Value) -> Value {
        json!({"metadata": {"generation": 3}, "spec": spec, "status": status})
    }

    #[test]
    fn generation_and_controller_pause_come_first() {
        let ro = rollout(
            json!({}),
            json!({"observedGeneration": "2", "phase": "Healthy"}),
        );
        assert_eq!(
            phase(&ro).1,
            "waiting for rollout spec update to be observed"
        );
        let ro = rollout(
            json!({}),
            json!({"observedGeneration": "abc123", "phase": "Healthy"}),
        );
        assert_eq!(phase(&ro).0, "Healthy");
        let ro = rollout(
            json!({}),
            json!({"observedGeneration": "3", "controllerPause": true, "phase": "Paused"}),
        );
        assert_eq!(
            phase(&ro),
            (
                "Progressing".into(),
                "waiting for rollout to unpause".into()
            )
        );
        let ro = rollout(
            json!({}),
            json!({"phase": "Degraded", "message": "RolloutAborted: x"}),
        );
        assert_eq!(phase(&ro), ("Degraded".into(), "RolloutAborted: x".into()));
    }

    #[test]
    fn without_a_phase_the_full_calculation_runs() {
        let aborted = json!({"conditions": [{"type": "Progressing", "reason": "RolloutAborted", "message": "m"}]});
        assert_eq!(
            phase(&rollout(json!({"paused": true}), aborted)),
            ("Degraded".into(), "RolloutAborted: m".into())
        );
        assert_eq!(
            phase(&rollout(json!({"paused": true}), json!({}))).1,
            "manually paused"
        );
        let paused = json!({"pauseConditions": [{"reason": "CanaryPauseStep"}]});
        assert_eq!(
            phase(&rollout(json!({}), paused)),
            ("Paused".into(), "CanaryPauseStep".into())
        );
        let restarting = rollout(json!({"restartAt": "2026-01-01T00:00:00Z"}), json!({}));
        assert_eq!(phase(&restarting).1, "rollout is restarting");
        assert_eq!(
            phase(&rollout(
                json!({"replicas": 2}),
                json!({"updatedReplicas": 1})
            ))
            .1,
            "more replicas need to be updated"
        );
        let canary = json!({"strategy": {"canary": {}}, "replicas": 2});
        let status = json!({"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2, "currentPodHash": "a", "stableRS": "a"});
        assert_eq!(
            phase(&rollout(canary.clone(), status)).1,
            "old replicas are pending termination"
        );
        let status = json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "currentPodHash": "b", "stableRS": "a"});
        assert_eq!(
            phase(&rollout(canary.clone(), status)).1,
            "waiting for all steps to complete"
        );
        let status = json!({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "currentPodHash": "a", "stableRS": "a"});
        assert_eq!(phase(&rollout(canary, status)).0, "Healthy");
        let blue_green = json!({"strategy": {"blueGreen": {"postPromotionAnalysis": {}}}});
        let status = json!({"updatedReplicas": 1, "availableReplicas": 1, "currentPodHash": "b", "stableRS": "a",
                            "blueGreen": {"activeSelector": "b"}});
        assert_eq!(
            phase(&rollout(blue_green.clone(), status)).1,
            "waiting for analysis to complete"
        );
        let status = json!({"updatedReplicas": 1, "availableReplicas": 1, "currentPodHash": "b", "blueGreen": {"activeSelector": "a"}});
        assert_eq!(
            phase(&rollout(blue_green, status)).1,
            "active service cutover pending"
        );
    }
}
