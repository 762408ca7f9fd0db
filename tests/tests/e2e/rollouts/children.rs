//! The AnalysisRun and Experiment actions.

use serde_json::json;

use super::*;

#[tokio::test]
async fn analysis_runs_and_experiments_are_terminated_and_retried_on_the_main_resource() {
    let s = setup().await;
    let run = s
        .ok(
            "terminate_analysis_run",
            json!({"namespace": "search", "name": "search-api-7f6d4c8b9-5-2"}),
        )
        .await;
    assert_eq!(run["object"]["terminate"], true);
    s.ok(
        "terminate_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    )
    .await;
    s.ok(
        "retry_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    )
    .await;
    let base = "/apis/argoproj.io/v1alpha1/namespaces/search";
    assert_eq!(
        s.writes(),
        [
            merge(
                "PATCH",
                &format!("{base}/analysisruns/search-api-7f6d4c8b9-5-2"),
                json!({"spec": {"terminate": true}})
            ),
            merge(
                "PATCH",
                &format!("{base}/experiments/search-api-load-test"),
                json!({"spec": {"terminate": true}})
            ),
            merge(
                "PATCH",
                &format!("{base}/experiments/search-api-load-test"),
                json!({"status": null})
            ),
        ]
    );
    let experiment = s
        .kube
        .object(V1ALPHA1, "Experiment", "search", "search-api-load-test")
        .unwrap();
    assert_eq!(
        (
            experiment["spec"]["terminate"].as_bool(),
            experiment.get("status")
        ),
        (Some(true), None)
    );
    s.kube.assert_no_violations();
}
