//! The read tools, and which tools a read-only instance lists.

use serde_json::json;

use super::*;

#[tokio::test]
async fn a_read_only_instance_lists_only_the_read_tools_with_their_hints() {
    let read_only = setup_with(demo::cluster(), true).await;
    let mut names: Vec<String> = read_only
        .client
        .tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rollouts_get_analysis_run",
            "rollouts_get_rollout",
            "rollouts_list_analysis_runs",
            "rollouts_list_experiments",
            "rollouts_list_rollouts"
        ]
    );
    let writable = setup().await;
    let tools = writable.client.tools().await.unwrap();
    assert_eq!(tools.len(), 17);
    let hints = |name: &str| {
        let tool = tools
            .iter()
            .find(|t| t.name == format!("rollouts_{name}"))
            .unwrap();
        let hints = tool.annotations.clone().unwrap();
        (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
        )
    };
    assert_eq!(hints("get_rollout"), (Some(true), Some(false), Some(true)));
    for destructive in [
        "abort",
        "undo",
        "set_image",
        "promote_full",
        "terminate_analysis_run",
        "terminate_experiment",
    ] {
        assert_eq!(hints(destructive).1, Some(true), "{destructive}");
    }
    for gentle in [
        "promote",
        "pause",
        "resume",
        "retry",
        "restart",
        "retry_experiment",
    ] {
        assert_eq!(hints(gentle).1, Some(false), "{gentle}");
    }
    assert_eq!(hints("pause").2, Some(true));
    assert_eq!(hints("promote").2, Some(false));
    read_only.kube.assert_no_violations();
}

#[tokio::test]
async fn list_rollouts_rows_show_phase_step_weights_and_replicas() {
    let s = setup().await;
    let listed = s.ok("list_rollouts", json!({})).await;
    assert_eq!(listed["count"], 6);
    let row = |name: &str| {
        listed["rollouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
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
            row("checkout-web")["strategy"].as_str()
        ),
        (Some("Degraded"), Some("BlueGreen"))
    );
    assert_eq!(
        row("search-indexer")["workloadRef"]["name"],
        "search-indexer"
    );
    let filtered = s
        .ok(
            "list_rollouts",
            json!({"namespace": "search", "labelSelector": "team=search"}),
        )
        .await;
    assert_eq!(filtered["count"], 2);
    assert_eq!(
        s.gets(),
        [
            "/apis/argoproj.io/v1alpha1/rollouts?limit=500",
            "/apis/argoproj.io/v1alpha1/namespaces/search/rollouts?limit=500&labelSelector=team%3Dsearch",
        ]
    );
    assert!(
        s.kube
            .requests()
            .iter()
            .all(|r| r.authorization() == Some(&format!("Bearer {TOKEN}")))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn get_rollout_answers_the_dashboard_shape() {
    let s = setup().await;
    let info = &s
        .ok(
            "get_rollout",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await["rollout"];
    assert_eq!(
        (
            info["status"].as_str(),
            info["step"].as_str(),
            info["setWeight"].as_str()
        ),
        (Some("Paused"), Some("1/4"), Some("20"))
    );
    let sets = info["replicaSets"].as_array().unwrap();
    let roles: Vec<(String, bool, bool, usize)> = sets
        .iter()
        .map(|rs| {
            (
                rs["revision"].as_str().unwrap().to_owned(),
                rs["canary"] == true,
                rs["stable"] == true,
                rs["pods"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("7".to_owned(), true, false, 1),
            ("6".to_owned(), false, true, 5)
        ]
    );
    assert_eq!(sets[0]["pods"][0]["ready"], "1/1");
    assert_eq!(
        info["containers"],
        json!([{"name": "payments-api", "image": "ghcr.io/example-org/payments-api:2.14.0"}])
    );
    let blue_green = &s
        .ok(
            "get_rollout",
            json!({"namespace": "checkout", "name": "checkout-web"}),
        )
        .await["rollout"];
    let sets = blue_green["replicaSets"].as_array().unwrap();
    assert_eq!(
        (
            sets[0]["preview"].as_bool(),
            sets[1]["active"].as_bool(),
            sets[0]["status"].as_str()
        ),
        (Some(true), Some(true), Some("Progressing"))
    );
    let inconclusive = &s
        .ok(
            "get_rollout",
            json!({"namespace": "search", "name": "search-api"}),
        )
        .await["rollout"];
    assert_eq!(inconclusive["analysisRuns"][0]["status"], "Inconclusive");
    let worker = &s
        .ok(
            "get_rollout",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await["rollout"];
    assert_eq!(worker["experiments"][0]["status"], "Successful");
    assert_eq!(worker["replicaSets"][1]["status"], "ScaledDown");
    let indexer = &s
        .ok(
            "get_rollout",
            json!({"namespace": "search", "name": "search-indexer"}),
        )
        .await["rollout"];
    assert_eq!(
        indexer["containers"][0]["image"],
        "ghcr.io/example-org/search-indexer:1.4.2"
    );
    assert!(
        s.gets()
            .contains(&"/apis/apps/v1/namespaces/search/deployments/search-indexer".to_owned())
    );
    assert!(s.gets().contains(&"/apis/apps/v1/namespaces/payments/replicasets?limit=500&labelSelector=app.kubernetes.io%2Fname%3Dpayments-api".to_owned()));
    assert!(s.writes().is_empty());
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn analysis_runs_and_experiments_are_listed_with_metric_results() {
    let s = setup().await;
    let runs = s
        .ok(
            "list_analysis_runs",
            json!({"namespace": "search", "rollout": "search-api"}),
        )
        .await;
    assert_eq!(runs["count"], 1);
    let run = s
        .ok(
            "get_analysis_run",
            json!({"namespace": "data", "name": "recommendations-9b6c5d4f8-7"}),
        )
        .await;
    let run = &run["analysisRun"];
    assert_eq!(
        (
            run["status"].as_str(),
            run["failed"].as_i64(),
            run["successful"].as_i64()
        ),
        (Some("Failed"), Some(3), Some(1))
    );
    assert_eq!(run["metrics"][0]["name"], "error-rate");
    assert_eq!(run["revision"], "7");
    let all = s.ok("list_analysis_runs", json!({})).await;
    assert_eq!(all["count"], 2);
    let experiments = s
        .ok("list_experiments", json!({"namespace": "search"}))
        .await;
    assert_eq!(
        (
            experiments["count"].as_i64(),
            experiments["experiments"][0]["status"].as_str()
        ),
        (Some(1), Some("Running"))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn the_target_argument_picks_the_cluster() {
    let prod = kube::start(demo::cluster().with_token(TOKEN))
        .await
        .unwrap();
    let staging = kube::start(Cluster::new().with_token(TOKEN)).await.unwrap();
    let plugins = PluginDir::new();
    let target = |name: &str, url: String| {
        format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\nauth = {{ bearer_env = \"KUBE_TOKEN\" }}\n"
        )
    };
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!(
            "prefix = \"rollouts\"\nread_only = true\n[config]\ndefault_target = \"prod\"\n{}{}",
            target("prod", prod.base_url()),
            target("staging", staging.base_url())
        ),
    );
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("KUBE_TOKEN".into(), TOKEN.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    let count = |result: rmcp::model::CallToolResult| {
        assert!(!is_error(&result), "{}", text(&result));
        let structured = result.structured_content.unwrap();
        (
            structured["target"].as_str().unwrap().to_owned(),
            structured["count"].as_u64().unwrap(),
        )
    };
    let default = client
        .call("rollouts_list_rollouts", json!({}))
        .await
        .unwrap();
    assert_eq!(count(default), ("prod".to_owned(), 6));
    let chosen = client
        .call("rollouts_list_rollouts", json!({"target": "staging"}))
        .await
        .unwrap();
    assert_eq!(count(chosen), ("staging".to_owned(), 0));
    let unknown = client
        .call("rollouts_list_rollouts", json!({"target": "dev"}))
        .await
        .unwrap();
    assert!(
        is_error(&unknown)
            && text(&unknown).contains("no target named `dev`; this instance has: prod, staging"),
        "{}",
        text(&unknown)
    );
    assert_eq!((prod.requests().len(), staging.requests().len()), (1, 1));
    prod.assert_no_violations();
    staging.assert_no_violations();
}
