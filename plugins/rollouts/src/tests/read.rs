//! The read tools, and the `target` argument.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::json;

use super::*;

const ALL_ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/rollouts";

#[test]
fn list_rollouts_rows_show_phase_step_weights_and_replicas() {
    let fixture = fixture()
        .on_json("GET", ALL_ROLLOUTS, recorded!("rollouts.json"))
        .on_json(
            "GET",
            &format!("{ROLLOUTS}/search/rollouts"),
            recorded!("rollouts-search-team.json"),
        );
    let listed = ok(&fixture, "list_rollouts", json!({}));
    assert_eq!(
        (listed["target"].as_str(), listed["count"].as_u64()),
        (Some("prod"), Some(6))
    );
    let row = |name: &str| {
        listed["rollouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["name"] == name)
            .unwrap_or_else(|| panic!("no row for {name}"))
            .clone()
    };
    assert_eq!(
        row("payments-api"),
        json!({"name": "payments-api", "namespace": "payments", "strategy": "Canary", "status": "Paused",
               "message": "CanaryPauseStep", "step": "1/4", "setWeight": 20, "actualWeight": 20,
               "replicas": 5, "ready": 6, "updated": 1, "available": 6,
               "images": ["ghcr.io/example-org/payments-api:2.14.0"]})
    );
    assert_eq!(
        (
            row("recommendations")["status"].as_str(),
            row("checkout-web")["strategy"].as_str(),
            row("payments-worker")["status"].as_str(),
        ),
        (Some("Degraded"), Some("BlueGreen"), Some("Healthy"))
    );
    assert_eq!(
        row("search-indexer")["workloadRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "search-indexer"})
    );
    let filtered = ok(
        &fixture,
        "list_rollouts",
        json!({"namespace": "search", "labelSelector": "team=search"}),
    );
    assert_eq!(filtered["count"], 2);
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /apis/argoproj.io/v1alpha1/rollouts?limit=500",
            "GET /apis/argoproj.io/v1alpha1/namespaces/search/rollouts?limit=500&labelSelector=team%3Dsearch",
        ]
    );
    assert_json_accepted(&fixture);
}

/// Every answer `get_rollout` needs for the five Rollouts with children.
fn dashboard() -> Fixture {
    let selected = |kind: &str, namespace: &str, name: &str| {
        let group = if kind == "pods" {
            "/api/v1"
        } else {
            "/apis/apps/v1"
        };
        format!(
            "{group}/namespaces/{namespace}/{kind}?limit=500&labelSelector=app.kubernetes.io%2Fname%3D{name}"
        )
    };
    let mut fixture = fixture();
    for (namespace, name, rollout, replica_sets, pods) in [
        (
            "payments",
            "payments-api",
            recorded!("rollout-payments-api.json"),
            recorded!("replicasets-payments-api.json"),
            recorded!("pods-payments-api.json"),
        ),
        (
            "payments",
            "payments-worker",
            recorded!("rollout-payments-worker.json"),
            recorded!("replicasets-payments-worker.json"),
            recorded!("pods-payments-worker.json"),
        ),
        (
            "checkout",
            "checkout-web",
            recorded!("rollout-checkout-web.json"),
            recorded!("replicasets-checkout-web.json"),
            recorded!("pods-checkout-web.json"),
        ),
        (
            "search",
            "search-api",
            recorded!("rollout-search-api.json"),
            recorded!("replicasets-search-api.json"),
            recorded!("pods-search-api.json"),
        ),
        (
            "search",
            "search-indexer",
            recorded!("rollout-search-indexer.json"),
            recorded!("replicasets-search-indexer.json"),
            recorded!("pods-search-indexer.json"),
        ),
    ] {
        fixture = fixture
            .on_json("GET", &rollout_path(namespace, name), rollout)
            .on_json(
                "GET",
                &selected("replicasets", namespace, name),
                replica_sets,
            )
            .on_json("GET", &selected("pods", namespace, name), pods);
    }
    for (namespace, runs, experiments) in [
        (
            "payments",
            recorded!("analysisruns-payments.json"),
            recorded!("experiments-payments.json"),
        ),
        (
            "checkout",
            recorded!("analysisruns-checkout.json"),
            recorded!("experiments-checkout.json"),
        ),
        (
            "search",
            recorded!("analysisruns-search.json"),
            recorded!("experiments-search.json"),
        ),
    ] {
        fixture = fixture
            .on_json("GET", &format!("{ROLLOUTS}/{namespace}/analysisruns"), runs)
            .on_json(
                "GET",
                &format!("{ROLLOUTS}/{namespace}/experiments"),
                experiments,
            );
    }
    fixture.on_json(
        "GET",
        "/apis/apps/v1/namespaces/search/deployments/search-indexer",
        recorded!("deployment-search-indexer.json"),
    )
}

#[test]
fn get_rollout_answers_the_dashboard_shape_of_a_paused_canary() {
    let fixture = dashboard();
    let answer = ok(
        &fixture,
        "get_rollout",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(answer["target"], "prod");
    let info = &answer["rollout"];
    assert_eq!(
        (
            info["status"].as_str(),
            info["message"].as_str(),
            info["strategy"].as_str(),
            info["step"].as_str(),
            info["setWeight"].as_str(),
            info["actualWeight"].as_str(),
        ),
        (
            Some("Paused"),
            Some("CanaryPauseStep"),
            Some("Canary"),
            Some("1/4"),
            Some("20"),
            Some("20")
        )
    );
    assert_eq!(info["objectMeta"]["name"], "payments-api");
    assert_eq!(info["steps"].as_array().map(Vec::len), Some(4));
    let sets = info["replicaSets"].as_array().unwrap();
    let roles: Vec<(&str, bool, bool, usize)> = sets
        .iter()
        .map(|rs| {
            (
                rs["revision"].as_str().unwrap(),
                rs["canary"] == true,
                rs["stable"] == true,
                rs["pods"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(roles, [("7", true, false, 1), ("6", false, true, 5)]);
    assert_eq!(sets[0]["pods"][0]["ready"], "1/1");
    assert_eq!(
        info["containers"],
        json!([{"name": "payments-api", "image": "ghcr.io/example-org/payments-api:2.14.0"}])
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /apis/argoproj.io/v1alpha1/namespaces/payments/rollouts/payments-api",
            "GET /apis/apps/v1/namespaces/payments/replicasets?limit=500&labelSelector=app.kubernetes.io%2Fname%3Dpayments-api",
            "GET /api/v1/namespaces/payments/pods?limit=500&labelSelector=app.kubernetes.io%2Fname%3Dpayments-api",
            "GET /apis/argoproj.io/v1alpha1/namespaces/payments/analysisruns?limit=500",
            "GET /apis/argoproj.io/v1alpha1/namespaces/payments/experiments?limit=500",
        ]
    );
    assert_json_accepted(&fixture);
}

#[test]
fn get_rollout_shows_blue_green_roles_analyses_experiments_and_workload_refs() {
    let fixture = dashboard();
    let get = |namespace: &str, name: &str| {
        ok(
            &fixture,
            "get_rollout",
            json!({"namespace": namespace, "name": name}),
        )["rollout"]
            .clone()
    };
    let blue_green = get("checkout", "checkout-web");
    let sets = blue_green["replicaSets"].as_array().unwrap();
    assert_eq!(
        (
            blue_green["strategy"].as_str(),
            sets[0]["preview"].as_bool(),
            sets[1]["active"].as_bool(),
            sets[0]["status"].as_str()
        ),
        (
            Some("BlueGreen"),
            Some(true),
            Some(true),
            Some("Progressing")
        )
    );
    assert!(blue_green.get("step").is_none(), "blue-green has no steps");
    let inconclusive = get("search", "search-api");
    assert_eq!(inconclusive["analysisRuns"][0]["status"], "Inconclusive");
    let worker = get("payments", "payments-worker");
    assert_eq!(worker["experiments"][0]["status"], "Successful");
    assert_eq!(worker["replicaSets"][1]["status"], "ScaledDown");
    let indexer = get("search", "search-indexer");
    assert_eq!(
        indexer["containers"][0]["image"], "ghcr.io/example-org/search-indexer:1.4.2",
        "the containers of the workloadRef Deployment"
    );
    assert_eq!(indexer["workloadRef"]["kind"], "Deployment");
    let lines = fixture.request_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("GET /apis/apps/v1/namespaces/search/deployments/search-indexer"),
        "the Deployment is read last"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.contains("/deployments/"))
            .count(),
        1,
        "only the Rollout with a workloadRef reads a Deployment"
    );
    assert!(writes(&fixture).is_empty());
}

#[test]
fn analysis_runs_and_experiments_are_listed_with_metric_results() {
    let fixture = fixture()
        .on_json(
            "GET",
            &format!("{ROLLOUTS}/search/analysisruns"),
            recorded!("analysisruns-search.json"),
        )
        .on_json(
            "GET",
            &rollout_path("search", "search-api"),
            recorded!("rollout-search-api.json"),
        )
        .on_json(
            "GET",
            "/apis/argoproj.io/v1alpha1/analysisruns",
            recorded!("analysisruns.json"),
        )
        .on_json(
            "GET",
            &format!("{ROLLOUTS}/data/analysisruns/recommendations-9b6c5d4f8-7"),
            recorded!("analysisrun-recommendations-9b6c5d4f8-7.json"),
        )
        .on_json(
            "GET",
            &format!("{ROLLOUTS}/search/experiments"),
            recorded!("experiments-search.json"),
        );
    let owned = ok(
        &fixture,
        "list_analysis_runs",
        json!({"namespace": "search", "rollout": "search-api"}),
    );
    assert_eq!(owned["count"], 1);
    assert_eq!(
        owned["analysisRuns"][0]["objectMeta"]["name"],
        "search-api-7f6d4c8b9-5-2"
    );
    let all = ok(&fixture, "list_analysis_runs", json!({}));
    assert_eq!(all["count"], 2);
    let run = ok(
        &fixture,
        "get_analysis_run",
        json!({"namespace": "data", "name": "recommendations-9b6c5d4f8-7"}),
    );
    let run = &run["analysisRun"];
    assert_eq!(
        (
            run["status"].as_str(),
            run["failed"].as_i64(),
            run["successful"].as_i64(),
            run["revision"].as_str(),
            run["terminate"].as_bool(),
        ),
        (Some("Failed"), Some(3), Some(1), Some("7"), Some(false))
    );
    assert_eq!(run["metrics"][0]["name"], "error-rate");
    assert!(run["metrics"][0]["lastMeasurement"].is_object());
    assert_eq!(
        run["args"],
        json!([{"name": "service-name", "value": "recommendations-canary"}])
    );
    let experiments = ok(&fixture, "list_experiments", json!({"namespace": "search"}));
    assert_eq!(
        (
            experiments["count"].as_i64(),
            experiments["experiments"][0]["status"].as_str()
        ),
        (Some(1), Some("Running"))
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /apis/argoproj.io/v1alpha1/namespaces/search/analysisruns?limit=500",
            "GET /apis/argoproj.io/v1alpha1/namespaces/search/rollouts/search-api",
            "GET /apis/argoproj.io/v1alpha1/analysisruns?limit=500",
            "GET /apis/argoproj.io/v1alpha1/namespaces/data/analysisruns/recommendations-9b6c5d4f8-7",
            "GET /apis/argoproj.io/v1alpha1/namespaces/search/experiments?limit=500",
        ]
    );
}

#[test]
fn runs_of_a_rollout_need_its_namespace() {
    let fixture = fixture().on_json(
        "GET",
        "/apis/argoproj.io/v1alpha1/analysisruns",
        recorded!("analysisruns.json"),
    );
    let message = error(
        &fixture,
        "list_analysis_runs",
        json!({"rollout": "search-api"}),
    );
    assert_eq!(
        message,
        "`rollout` needs `namespace`: pass the Rollout's namespace"
    );
}

#[test]
fn the_target_argument_picks_the_cluster() {
    let fixture = Fixture::new()
        .target("prod", "https://prod.test")
        .target("staging", "https://staging.test/k8s/")
        .setting("default_target", "prod")
        .on_json("GET", ALL_ROLLOUTS, recorded!("rollouts.json"));
    let default = ok(&fixture, "list_rollouts", json!({}));
    let chosen = ok(&fixture, "list_rollouts", json!({"target": "staging"}));
    assert_eq!(
        (default["target"].as_str(), chosen["target"].as_str()),
        (Some("prod"), Some("staging"))
    );
    let unknown = error(&fixture, "list_rollouts", json!({"target": "dev"}));
    assert_eq!(
        unknown,
        "no target named `dev`; this instance has: prod, staging"
    );
    let urls: Vec<String> = fixture
        .requests()
        .into_iter()
        .map(|sent| sent.url)
        .collect();
    assert_eq!(
        urls,
        [
            "https://prod.test/apis/argoproj.io/v1alpha1/rollouts?limit=500",
            "https://staging.test/k8s/apis/argoproj.io/v1alpha1/rollouts?limit=500",
        ]
    );
}

#[test]
fn several_targets_and_no_default_ask_for_a_target() {
    let fixture = Fixture::new()
        .target("prod", "https://prod.test")
        .target("staging", "https://staging.test");
    let message = error(
        &fixture,
        "get_rollout",
        json!({"namespace": "a", "name": "b"}),
    );
    assert_eq!(
        message,
        "this instance has several targets (prod, staging); pass `target` to choose one"
    );
    assert!(fixture.requests().is_empty());
}
