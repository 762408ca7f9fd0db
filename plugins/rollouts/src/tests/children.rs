//! The AnalysisRun and Experiment actions: one merge patch of the main resource each.

use capstan_sdk::json;

use super::*;

#[test]
fn analysis_runs_and_experiments_are_terminated_and_retried_on_the_main_resource() {
    let run = format!("{ROLLOUTS}/search/analysisruns/search-api-7f6d4c8b9-5-2");
    let experiment = format!("{ROLLOUTS}/search/experiments/search-api-load-test");
    let fixture = fixture()
        .on_json("PATCH", &run, recorded!("terminate-analysisrun.json"))
        .on_json("PATCH", &experiment, recorded!("terminate-experiment.json"))
        .on_json("PATCH", &experiment, recorded!("retry-experiment.json"));
    let terminated = ok(
        &fixture,
        "terminate_analysis_run",
        json!({"namespace": "search", "name": "search-api-7f6d4c8b9-5-2"}),
    );
    assert_eq!(
        (
            terminated["target"].as_str(),
            terminated["action"].as_str(),
            terminated["request"].as_str(),
            terminated["status"].as_str(),
            terminated["object"]["terminate"].as_bool(),
        ),
        (
            Some("prod"),
            Some("terminate_analysis_run"),
            Some(
                r#"PATCH analysisruns/search-api-7f6d4c8b9-5-2 (merge) {"spec":{"terminate":true}}"#
            ),
            Some("Inconclusive"),
            Some(true)
        )
    );
    let stopped = ok(
        &fixture,
        "terminate_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    );
    assert_eq!(
        (
            stopped["status"].as_str(),
            stopped["object"]["terminate"].as_bool()
        ),
        (Some("Running"), Some(true))
    );
    let retried = ok(
        &fixture,
        "retry_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    );
    assert_eq!(
        (retried["request"].as_str(), retried["status"].as_str()),
        (
            Some(r#"PATCH experiments/search-api-load-test (merge) {"status":null}"#),
            Some("Pending")
        ),
        "a cleared status reads as Pending"
    );
    assert_eq!(
        writes(&fixture),
        [
            merge(&run, json!({"spec": {"terminate": true}})),
            merge(&experiment, json!({"spec": {"terminate": true}})),
            merge(&experiment, json!({"status": null})),
        ]
    );
    assert_json_accepted(&fixture);
}
