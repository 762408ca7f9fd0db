//! Promote (its four branches), promote_full, pause, resume, abort, retry, restart, and the
//! optional wait on the virtual clock.

use std::time::Duration;

use capstan_sdk::fixture::Progress;
use capstan_sdk::json;

use super::*;

#[test]
fn promote_clears_a_canary_pause_step_through_the_status_subresource() {
    let path = rollout_path("payments", "payments-api");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-payments-api.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-payments-api.json"),
        );
    let result = ok(
        &fixture,
        "promote",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(
        result,
        json!({"target": "prod", "namespace": "payments", "name": "payments-api", "action": "promote",
               "changed": true,
               "requests": [r#"PATCH rollouts/payments-api/status (merge) {"status":{"pauseConditions":null}}"#],
               "status": "Progressing", "message": "waiting for rollout to unpause"})
    );
    assert_eq!(
        fixture.request_lines(),
        [format!("GET {path}"), format!("PATCH {path}/status")]
    );
    assert_eq!(
        writes(&fixture),
        [merge(
            &format!("{path}/status"),
            json!({"status": {"pauseConditions": null}})
        )]
    );
    assert_json_accepted(&fixture);
}

#[test]
fn promote_moves_past_an_inconclusive_analysis_step() {
    let path = rollout_path("search", "search-api");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-search-api.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-search-api.json"),
        );
    let result = ok(
        &fixture,
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    );
    assert_eq!(
        writes(&fixture),
        [merge(
            &format!("{path}/status"),
            json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": 3}})
        )]
    );
    assert_eq!(result["changed"], true);
}

#[test]
fn promote_mid_step_patches_the_step_then_unpauses() {
    let path = rollout_path("search", "search-api");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-search-api-mid-step.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-search-api-mid-step.json"),
        )
        .on_json("PATCH", &path, recorded!("unpause-search-api.json"));
    let result = ok(
        &fixture,
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    );
    assert_eq!(
        writes(&fixture),
        [
            merge(
                &format!("{path}/status"),
                json!({"status": {"pauseConditions": null, "currentStepIndex": 3}})
            ),
            merge(&path, json!({"spec": {"paused": false}})),
        ]
    );
    assert_eq!(
        result["requests"],
        json!([
            r#"PATCH rollouts/search-api/status (merge) {"status":{"currentStepIndex":3,"pauseConditions":null}}"#,
            r#"PATCH rollouts/search-api (merge) {"spec":{"paused":false}}"#
        ])
    );
}

#[test]
fn promote_of_a_blue_green_pause_clears_its_pause_condition() {
    let path = rollout_path("checkout", "checkout-web");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-checkout-web.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-checkout-web.json"),
        );
    ok(
        &fixture,
        "promote",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    );
    assert_eq!(
        writes(&fixture),
        [merge(
            &format!("{path}/status"),
            json!({"status": {"pauseConditions": null}})
        )]
    );
}

#[test]
fn promote_full_unpauses_and_requests_full_promotion_once() {
    let path = rollout_path("checkout", "checkout-web");
    let worker = rollout_path("payments", "payments-worker");
    let fixture = fixture()
        // The API answers a PATCH with the object as stored: what the next GET reads.
        .on_json("GET", &path, recorded!("pause-checkout-web.json"))
        .on_json("PATCH", &path, recorded!("pause-checkout-web.json"))
        .on_json("PATCH", &path, recorded!("unpause-checkout-web.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-full-checkout-web.json"),
        )
        .on_json("GET", &worker, recorded!("rollout-payments-worker.json"));
    let checkout = json!({"namespace": "checkout", "name": "checkout-web"});
    ok(&fixture, "pause", checkout.clone());
    let result = ok(&fixture, "promote_full", checkout);
    assert_eq!(
        (
            result["changed"].as_bool(),
            result["requests"].as_array().map(Vec::len)
        ),
        (Some(true), Some(2))
    );
    let healthy = ok(
        &fixture,
        "promote_full",
        json!({"namespace": "payments", "name": "payments-worker"}),
    );
    assert_eq!(
        (
            healthy["changed"].as_bool(),
            healthy["requests"].as_array().map(Vec::len),
            healthy["status"].as_str(),
        ),
        (Some(false), Some(0), Some("Healthy"))
    );
    assert!(
        healthy["note"]
            .as_str()
            .is_some_and(|note| note.starts_with("nothing to promote")),
        "{healthy}"
    );
    assert_eq!(
        writes(&fixture),
        [
            merge(&path, json!({"spec": {"paused": true}})),
            merge(
                &format!("{path}/status"),
                json!({"status": {"promoteFull": true}})
            ),
            merge(&path, json!({"spec": {"paused": false}})),
        ]
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("PATCH {path}"),
            format!("GET {path}"),
            format!("PATCH {path}/status"),
            format!("PATCH {path}"),
            format!("GET {worker}"),
        ]
    );
}

#[test]
fn pause_and_resume_toggle_spec_paused_and_resume_promotes_a_pause_step() {
    let worker = rollout_path("payments", "payments-worker");
    let api = rollout_path("payments", "payments-api");
    let indexer = rollout_path("search", "search-indexer");
    let fixture = fixture()
        .on_json("PATCH", &worker, recorded!("pause-payments-worker.json"))
        .on_json("PATCH", &worker, recorded!("unpause-payments-worker.json"))
        .on_json("GET", &worker, recorded!("pause-payments-worker.json"))
        .on_json("GET", &api, recorded!("rollout-payments-api.json"))
        .on_json(
            "PATCH",
            &format!("{api}/status"),
            recorded!("promote-payments-api.json"),
        )
        .on_json("GET", &indexer, recorded!("rollout-search-indexer.json"));
    let paused = ok(
        &fixture,
        "pause",
        json!({"namespace": "payments", "name": "payments-worker"}),
    );
    assert_eq!(
        (paused["status"].as_str(), paused["message"].as_str()),
        (
            Some("Progressing"),
            Some("waiting for rollout spec update to be observed")
        ),
        "the controller has not observed generation 10 yet"
    );
    let resumed = ok(
        &fixture,
        "resume",
        json!({"namespace": "payments", "name": "payments-worker"}),
    );
    assert_eq!(resumed["changed"], true);
    ok(
        &fixture,
        "resume",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    let idle = ok(
        &fixture,
        "resume",
        json!({"namespace": "search", "name": "search-indexer"}),
    );
    assert_eq!(
        (idle["changed"].as_bool(), idle["note"].as_str()),
        (
            Some(false),
            Some("the Rollout is not paused; nothing to resume")
        )
    );
    assert_eq!(
        writes(&fixture),
        [
            merge(&worker, json!({"spec": {"paused": true}})),
            merge(&worker, json!({"spec": {"paused": false}})),
            merge(
                &format!("{api}/status"),
                json!({"status": {"pauseConditions": null}})
            ),
        ]
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("PATCH {worker}"),
            format!("GET {worker}"),
            format!("PATCH {worker}"),
            format!("GET {api}"),
            format!("GET {api}"),
            format!("PATCH {api}/status"),
            format!("GET {indexer}"),
        ],
        "resume reads the Rollout, and promote reads it again"
    );
}

#[test]
fn abort_waits_for_the_controller_and_retry_answers_as_the_api_did() {
    let path = rollout_path("payments", "payments-api");
    let fixture = fixture()
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("abort-payments-api.json"),
        )
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("retry-payments-api.json"),
        )
        .on_json("GET", &path, recorded!("rollout-payments-api-aborted.json"));
    let aborted = ok(
        &fixture,
        "abort",
        json!({"namespace": "payments", "name": "payments-api", "waitFor": "degraded", "timeout": 10}),
    );
    let message = "RolloutAborted: Rollout aborted update to revision 7";
    assert_eq!(
        aborted["wait"],
        json!({"for": "degraded", "outcome": "reached", "polls": 1, "seconds": 0,
               "status": "Degraded", "message": message})
    );
    assert_eq!(
        (aborted["status"].as_str(), aborted["message"].as_str()),
        (Some("Degraded"), Some(message))
    );
    assert_eq!(
        fixture.progress(),
        [Progress {
            done: 0.0,
            total: Some(10.0),
            message: Some(format!("Degraded - {message}"))
        }]
    );
    let retried = ok(
        &fixture,
        "retry",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(
        retried["status"], "Degraded",
        "as the API answered the patch, before the controller ran"
    );
    assert!(retried.get("wait").is_none());
    assert_eq!(
        writes(&fixture),
        [
            merge(
                &format!("{path}/status"),
                json!({"status": {"abort": true}})
            ),
            merge(
                &format!("{path}/status"),
                json!({"status": {"abort": false}})
            ),
        ]
    );
    assert_eq!(fixture.slept(), Duration::ZERO);
}

#[test]
fn waiting_for_healthy_polls_each_second_and_reports_progress() {
    let path = rollout_path("checkout", "checkout-web");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-checkout-web.json"))
        .on_json("GET", &path, recorded!("rollout-checkout-web-cutover.json"))
        .on_json("GET", &path, recorded!("rollout-checkout-web-cutover.json"))
        .on_json("GET", &path, recorded!("rollout-checkout-web-healthy.json"))
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("promote-full-checkout-web-fresh.json"),
        );
    let result = ok(
        &fixture,
        "promote_full",
        json!({"namespace": "checkout", "name": "checkout-web", "waitFor": "healthy", "timeout": 20}),
    );
    assert_eq!(
        result["wait"],
        json!({"for": "healthy", "outcome": "reached", "polls": 3, "seconds": 2,
               "status": "Healthy", "message": ""})
    );
    assert_eq!(
        (result["status"].as_str(), result["message"].as_str()),
        (Some("Healthy"), Some(""))
    );
    let waiting = Some("Progressing - waiting for rollout to unpause".to_owned());
    assert_eq!(
        fixture.progress(),
        [
            Progress {
                done: 0.0,
                total: Some(20.0),
                message: waiting.clone()
            },
            Progress {
                done: 1.0,
                total: Some(20.0),
                message: waiting
            },
            Progress {
                done: 2.0,
                total: Some(20.0),
                message: Some("Healthy".into())
            },
        ]
    );
    assert_eq!(fixture.slept(), Duration::from_secs(2));
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {path}"),
            format!("PATCH {path}/status"),
            format!("GET {path}"),
            format!("GET {path}"),
            format!("GET {path}"),
        ]
    );
}

#[test]
fn waiting_for_healthy_stops_at_paused() {
    let path = rollout_path("payments", "payments-api");
    let fixture = fixture()
        .on_json(
            "PATCH",
            &format!("{path}/status"),
            recorded!("retry-payments-api.json"),
        )
        .on_json("GET", &path, recorded!("rollout-payments-api.json"));
    let stopped = ok(
        &fixture,
        "retry",
        json!({"namespace": "payments", "name": "payments-api", "waitFor": "healthy", "timeout": 10}),
    );
    assert_eq!(
        (
            stopped["wait"]["outcome"].as_str(),
            stopped["wait"]["polls"].as_u64(),
            stopped["status"].as_str(),
            stopped["message"].as_str(),
        ),
        (
            Some("stopped"),
            Some(1),
            Some("Paused"),
            Some("CanaryPauseStep")
        )
    );
    assert_eq!(fixture.slept(), Duration::ZERO);
}

#[test]
fn restart_sets_restart_at_after_the_delay() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture().on_json("PATCH", &path, recorded!("restart-payments-worker.json"));
    let result = ok(
        &fixture,
        "restart",
        json!({"namespace": "payments", "name": "payments-worker", "delaySeconds": 600}),
    );
    // The fixture's clock reads 2026-01-01T00:00:00Z.
    assert_eq!(
        writes(&fixture),
        [merge(
            &path,
            json!({"spec": {"restartAt": "2026-01-01T00:10:00Z"}})
        )]
    );
    assert_eq!(
        result["requests"],
        json!([
            r#"PATCH rollouts/payments-worker (merge) {"spec":{"restartAt":"2026-01-01T00:10:00Z"}}"#
        ])
    );
}

#[test]
fn a_wait_that_times_out_answers_the_current_phase() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture()
        .on_json("PATCH", &path, recorded!("restart-payments-worker.json"))
        .on_json("GET", &path, recorded!("restart-payments-worker.json"));
    let timed_out = ok(
        &fixture,
        "restart",
        json!({"namespace": "payments", "name": "payments-worker", "waitFor": "degraded", "timeout": 3}),
    );
    let message = "waiting for rollout spec update to be observed";
    assert_eq!(
        timed_out["wait"],
        json!({"for": "degraded", "outcome": "timed_out", "polls": 4, "seconds": 3,
               "status": "Progressing", "message": message})
    );
    assert_eq!(
        (timed_out["status"].as_str(), timed_out["message"].as_str()),
        (Some("Progressing"), Some(message))
    );
    assert_eq!(
        writes(&fixture)[0].3,
        json!({"spec": {"restartAt": "2026-01-01T00:00:00Z"}})
    );
    let done: Vec<f64> = fixture.progress().iter().map(|p| p.done).collect();
    assert_eq!(done, [0.0, 1.0, 2.0, 3.0]);
    assert_eq!(fixture.slept(), Duration::from_secs(3));
}

#[test]
fn without_a_status_subresource_status_patches_fall_back_to_the_main_resource() {
    let data = rollout_path("data", "recommendations");
    let payments = rollout_path("payments", "payments-api");
    let fixture = fixture()
        .on_status_json(
            "PATCH",
            &format!("{data}/status"),
            404,
            recorded!("not-served.404.json"),
        )
        .on_json("PATCH", &data, recorded!("abort-recommendations-main.json"))
        .on_json("GET", &payments, recorded!("rollout-payments-api.json"))
        .on_status_json(
            "PATCH",
            &format!("{payments}/status"),
            404,
            recorded!("not-served.404.json"),
        )
        .on_json(
            "PATCH",
            &payments,
            recorded!("promote-payments-api-main.json"),
        );
    let aborted = ok(
        &fixture,
        "abort",
        json!({"namespace": "data", "name": "recommendations"}),
    );
    assert_eq!(
        aborted["requests"],
        json!([
            r#"PATCH rollouts/recommendations/status (merge) {"status":{"abort":true}}: HTTP 404"#,
            r#"PATCH rollouts/recommendations (merge) {"status":{"abort":true}}"#
        ])
    );
    let promoted = ok(
        &fixture,
        "promote",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(promoted["changed"], true);
    assert_eq!(
        writes(&fixture),
        [
            merge(
                &format!("{data}/status"),
                json!({"status": {"abort": true}})
            ),
            merge(&data, json!({"status": {"abort": true}})),
            merge(
                &format!("{payments}/status"),
                json!({"status": {"pauseConditions": null}})
            ),
            merge(
                &payments,
                json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})
            ),
        ]
    );
}
