//! Promote (its four branches), promote_full, pause, resume, abort, retry, restart, and the
//! optional wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;

#[tokio::test]
async fn promote_clears_a_canary_pause_step_through_the_status_subresource() {
    let s = setup().await;
    let result = s
        .ok(
            "promote",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/payments/rollouts/payments-api/status"),
            json!({"status": {"pauseConditions": null}})
        )]
    );
    let rollout = s.rollout("payments", "payments-api");
    assert!(rollout["status"].get("pauseConditions").is_none());
    assert_eq!(
        rollout["metadata"]["generation"], 7,
        "a status write keeps the generation"
    );
    assert_eq!(
        (result["status"].as_str(), result["message"].as_str()),
        (Some("Progressing"), Some("waiting for rollout to unpause"))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_moves_past_an_inconclusive_analysis_step() {
    let s = setup().await;
    s.ok(
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    )
    .await;
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/search/rollouts/search-api/status"),
            json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": 3}})
        )]
    );
    let status = &s.rollout("search", "search-api")["status"];
    assert_eq!(
        (
            status["currentStepIndex"].as_i64(),
            status["controllerPause"].as_bool()
        ),
        (Some(3), Some(false))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_mid_step_and_blue_green_and_manual_pause() {
    let s = setup().await;
    s.kube.with_store(|store| {
        store
            .update(V1ALPHA1, "Rollout", "search", "search-api", |rollout| {
                let status = rollout["status"].as_object_mut().unwrap();
                status.remove("pauseConditions");
                status.remove("controllerPause");
                rollout["status"]["canary"]["currentStepAnalysisRunStatus"]["status"] =
                    json!("Running");
                rollout["spec"]["paused"] = json!(true);
            })
            .unwrap();
    });
    s.ok(
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    )
    .await;
    s.ok(
        "promote",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    )
    .await;
    assert_eq!(
        s.writes(),
        [
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/search/rollouts/search-api/status"),
                json!({"status": {"pauseConditions": null, "currentStepIndex": 3}})
            ),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/search/rollouts/search-api"),
                json!({"spec": {"paused": false}})
            ),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/checkout/rollouts/checkout-web/status"),
                json!({"status": {"pauseConditions": null}})
            ),
        ]
    );
    assert_eq!(s.rollout("search", "search-api")["spec"]["paused"], false);
    assert!(
        s.rollout("checkout", "checkout-web")["status"]
            .get("pauseConditions")
            .is_none()
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_full_unpauses_and_requests_full_promotion_once() {
    let s = setup().await;
    s.ok(
        "pause",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    )
    .await;
    let result = s
        .ok(
            "promote_full",
            json!({"namespace": "checkout", "name": "checkout-web"}),
        )
        .await;
    assert_eq!(result["changed"], true);
    let healthy = s
        .ok(
            "promote_full",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert_eq!(
        (
            healthy["changed"].as_bool(),
            healthy["requests"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0))
    );
    let path = format!("{ROLLOUTS}/checkout/rollouts/checkout-web");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &path, json!({"spec": {"paused": true}})),
            merge(
                "PATCH",
                &format!("{path}/status"),
                json!({"status": {"promoteFull": true}})
            ),
            merge("PATCH", &path, json!({"spec": {"paused": false}})),
        ]
    );
    let rollout = s.rollout("checkout", "checkout-web");
    assert_eq!(
        (
            rollout["status"]["promoteFull"].as_bool(),
            rollout["spec"]["paused"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(rollout["metadata"]["generation"], 14, "two spec changes");
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn pause_and_resume_toggle_spec_paused_and_resume_promotes_a_pause_step() {
    let s = setup().await;
    let paused = s
        .ok(
            "pause",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        true
    );
    assert_eq!(
        paused["status"], "Progressing",
        "the controller has not observed generation 10 yet"
    );
    s.ok(
        "resume",
        json!({"namespace": "payments", "name": "payments-worker"}),
    )
    .await;
    s.ok(
        "resume",
        json!({"namespace": "payments", "name": "payments-api"}),
    )
    .await;
    let idle = s
        .ok(
            "resume",
            json!({"namespace": "search", "name": "search-indexer"}),
        )
        .await;
    assert_eq!(idle["changed"], false);
    let worker = format!("{ROLLOUTS}/payments/rollouts/payments-worker");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &worker, json!({"spec": {"paused": true}})),
            merge("PATCH", &worker, json!({"spec": {"paused": false}})),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/payments/rollouts/payments-api/status"),
                json!({"status": {"pauseConditions": null}})
            ),
        ]
    );
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        false
    );
    s.kube.assert_no_violations();
}

/// A Rollouts controller: an abort turns the Rollout Degraded, a retry brings it back.
fn abort_controller(kube: &KubeServer) {
    kube.react(|store, event| {
        if !(event.is_write()
            && event.kind == "Rollout"
            && event.subresource.as_deref() == Some("status"))
        {
            return;
        }
        let (namespace, name) = (
            event.namespace.clone().unwrap(),
            event.name.clone().unwrap(),
        );
        store
            .update(V1ALPHA1, "Rollout", &namespace, &name, |rollout| {
                let status = &mut rollout["status"];
                if status["abort"] == true {
                    status["phase"] = json!("Degraded");
                    status["message"] =
                        json!("RolloutAborted: Rollout aborted update to revision 7");
                    status["abortedAt"] = json!("2026-08-20T11:50:00Z");
                } else {
                    status["phase"] = json!("Progressing");
                    status["message"] = json!("more replicas need to be updated");
                    status.as_object_mut().unwrap().remove("abortedAt");
                }
            })
            .unwrap();
    });
}

#[tokio::test]
async fn abort_and_retry_patch_status_and_wait_for_the_controller() {
    let s = setup().await;
    abort_controller(&s.kube);
    let aborted = s.ok("abort", json!({"namespace": "payments", "name": "payments-api", "wait_for": "degraded", "timeout": 10})).await;
    assert_eq!(aborted["wait"]["outcome"], "reached");
    assert_eq!(
        (aborted["status"].as_str(), aborted["message"].as_str()),
        (
            Some("Degraded"),
            Some("RolloutAborted: Rollout aborted update to revision 7")
        )
    );
    let retried = s
        .ok(
            "retry",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert_eq!(
        retried["status"], "Degraded",
        "as the API answered the patch, before the controller ran"
    );
    assert_eq!(
        s.rollout("payments", "payments-api")["status"]["phase"],
        "Progressing"
    );
    let path = format!("{ROLLOUTS}/payments/rollouts/payments-api/status");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &path, json!({"status": {"abort": true}})),
            merge("PATCH", &path, json!({"status": {"abort": false}}))
        ]
    );
    assert_eq!(
        s.rollout("payments", "payments-api")["status"]["abort"],
        false
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn waiting_reports_progress_stops_at_paused_and_times_out_with_the_phase() {
    let s = setup().await;
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    s.kube.react(move |store, event| {
        if event.verb == "patch"
            && event.is_about("Rollout", "checkout-web")
            && event.subresource.is_some()
        {
            store
                .update(V1ALPHA1, "Rollout", "checkout", "checkout-web", |rollout| {
                    let status = &mut rollout["status"];
                    status.as_object_mut().unwrap().remove("pauseConditions");
                    status["phase"] = json!("Progressing");
                    status["message"] = json!("active service cutover pending");
                })
                .unwrap();
            return;
        }
        let promoted = store
            .object(V1ALPHA1, "Rollout", "checkout", "checkout-web")
            .unwrap()["status"]["promoteFull"]
            == true;
        if event.verb == "get"
            && event.is_about("Rollout", "checkout-web")
            && promoted
            && counter.fetch_add(1, Ordering::SeqCst) == 2
        {
            store
                .update(V1ALPHA1, "Rollout", "checkout", "checkout-web", |rollout| {
                    let status = &mut rollout["status"];
                    status["phase"] = json!("Healthy");
                    status["message"] = json!("");
                    status["stableRS"] = status["currentPodHash"].clone();
                    status["controllerPause"] = json!(false);
                })
                .unwrap();
        }
    });
    let arguments = json!({"namespace": "checkout", "name": "checkout-web", "wait_for": "healthy", "timeout": 20});
    let result = s
        .client
        .call_with_progress("rollouts_promote_full", arguments, "wait-1")
        .await
        .unwrap();
    let result = result.structured_content.unwrap();
    assert_eq!(
        (
            result["wait"]["outcome"].as_str(),
            result["status"].as_str()
        ),
        (Some("reached"), Some("Healthy"))
    );
    assert!(result["wait"]["polls"].as_u64().unwrap() >= 2);
    assert!(
        s.client
            .recorded()
            .progress
            .iter()
            .any(|p| p.message.as_deref() == Some("Healthy"))
    );
    let stopped = s.ok("retry", json!({"namespace": "payments", "name": "payments-api", "wait_for": "healthy", "timeout": 10})).await;
    assert_eq!(
        (
            stopped["wait"]["outcome"].as_str(),
            stopped["status"].as_str()
        ),
        (Some("stopped"), Some("Paused"))
    );
    let timed_out = s.ok("restart", json!({"namespace": "payments", "name": "payments-worker", "wait_for": "degraded", "timeout": 1})).await;
    assert_eq!(timed_out["wait"]["outcome"], "timed_out");
    assert_eq!(timed_out["status"], "Progressing");
    assert_eq!(
        timed_out["message"],
        "waiting for rollout spec update to be observed"
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn restart_sets_restart_at_after_the_delay() {
    let s = setup().await;
    let before = std::time::SystemTime::now();
    s.ok(
        "restart",
        json!({"namespace": "payments", "name": "payments-worker", "delay_seconds": 600}),
    )
    .await;
    let rollout = s.rollout("payments", "payments-worker");
    let at = rollout["spec"]["restartAt"].as_str().unwrap().to_owned();
    assert!(
        at.ends_with('Z') && at.len() == 20,
        "RFC 3339 in UTC, whole seconds: {at}"
    );
    let parsed = humantime::parse_rfc3339(&at).unwrap();
    assert!(
        parsed >= before + std::time::Duration::from_secs(599),
        "{at} is at least ten minutes out"
    );
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/payments/rollouts/payments-worker"),
            json!({"spec": {"restartAt": at}})
        )]
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn without_a_status_subresource_status_patches_fall_back_to_the_main_resource() {
    let cluster = demo::cluster().without_status_subresource("rollouts.argoproj.io");
    let s = setup_with(cluster, false).await;
    s.ok(
        "abort",
        json!({"namespace": "data", "name": "recommendations"}),
    )
    .await;
    s.ok(
        "promote",
        json!({"namespace": "payments", "name": "payments-api"}),
    )
    .await;
    let data = format!("{ROLLOUTS}/data/rollouts/recommendations");
    let payments = format!("{ROLLOUTS}/payments/rollouts/payments-api");
    assert_eq!(
        s.writes(),
        [
            merge(
                "PATCH",
                &format!("{data}/status"),
                json!({"status": {"abort": true}})
            ),
            merge("PATCH", &data, json!({"status": {"abort": true}})),
            merge(
                "PATCH",
                &format!("{payments}/status"),
                json!({"status": {"pauseConditions": null}})
            ),
            merge(
                "PATCH",
                &payments,
                json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})
            ),
        ]
    );
    let rollout = s.rollout("payments", "payments-api");
    assert_eq!(
        (
            rollout["spec"]["paused"].as_bool(),
            rollout["status"].get("pauseConditions")
        ),
        (Some(false), None)
    );
    s.kube.assert_no_violations();
}
