//! Every tool of the plugin through a real capstan against the fake Kubernetes API: the
//! requests the native tests assert are ones the real API accepts (the fake validates each one
//! against the Argo Rollouts CRDs and the Kubernetes API contract), and the host adds the
//! target's credentials, validates arguments and forwards progress.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn every_tool_runs_through_capstan_against_the_api_contract() {
    let s = setup().await;

    // The tools and their hints, as an MCP client sees them.
    let tools = s.client.tools().await.unwrap();
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

    // The read tools.
    assert_eq!(s.ok("list_rollouts", json!({})).await["count"], 6);
    let filtered = s
        .ok(
            "list_rollouts",
            json!({"namespace": "search", "labelSelector": "team=search"}),
        )
        .await;
    assert_eq!(filtered["count"], 2);
    for (namespace, name) in [
        ("payments", "payments-api"),
        ("checkout", "checkout-web"),
        ("search", "search-indexer"),
    ] {
        let info = s
            .ok("get_rollout", json!({"namespace": namespace, "name": name}))
            .await;
        assert_eq!(info["rollout"]["objectMeta"]["name"], name);
    }
    let owned = s
        .ok(
            "list_analysis_runs",
            json!({"namespace": "search", "rollout": "search-api"}),
        )
        .await;
    assert_eq!(owned["count"], 1);
    assert_eq!(s.ok("list_analysis_runs", json!({})).await["count"], 2);
    let run = s
        .ok(
            "get_analysis_run",
            json!({"namespace": "data", "name": "recommendations-9b6c5d4f8-7"}),
        )
        .await;
    assert_eq!(run["analysisRun"]["status"], "Failed");
    let experiments = s
        .ok("list_experiments", json!({"namespace": "search"}))
        .await;
    assert_eq!(experiments["count"], 1);

    // The write tools, each leaving the state the real API would.
    s.ok(
        "promote",
        json!({"namespace": "payments", "name": "payments-api"}),
    )
    .await;
    let promoted = s.rollout("payments", "payments-api");
    assert!(promoted["status"].get("pauseConditions").is_none());
    assert_eq!(
        promoted["metadata"]["generation"], 7,
        "a status write keeps the generation"
    );
    s.ok(
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    )
    .await;
    assert_eq!(
        s.rollout("search", "search-api")["status"]["currentStepIndex"],
        3
    );
    let worker = json!({"namespace": "payments", "name": "payments-worker"});
    s.ok("pause", worker.clone()).await;
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        true
    );
    s.ok("resume", worker.clone()).await;
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        false
    );
    let recommendations = json!({"namespace": "data", "name": "recommendations"});
    s.ok("abort", recommendations.clone()).await;
    assert_eq!(
        s.rollout("data", "recommendations")["status"]["abort"],
        true
    );
    s.ok("retry", recommendations).await;
    assert_eq!(
        s.rollout("data", "recommendations")["status"]["abort"],
        false
    );
    s.ok(
        "promote_full",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    )
    .await;
    assert_eq!(
        s.rollout("checkout", "checkout-web")["status"]["promoteFull"],
        true
    );

    // A wait that times out, its progress forwarded as MCP notifications.
    let restarted = s
        .client
        .call_with_progress(
            "rollouts_restart",
            json!({"namespace": "payments", "name": "payments-worker", "waitFor": "degraded", "timeout": 1}),
            "restart-1",
        )
        .await
        .unwrap();
    assert!(!is_error(&restarted), "{}", text(&restarted));
    let restarted = restarted.structured_content.unwrap();
    assert_eq!(restarted["wait"]["outcome"], "timed_out");
    let at = s.rollout("payments", "payments-worker")["spec"]["restartAt"].clone();
    let at = at.as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(at).is_ok() && at.len() == 20,
        "RFC 3339 in UTC, whole seconds: {at}"
    );
    let forwarded = s
        .client
        .wait_for(Duration::from_secs(5), |recorded| {
            recorded.progress.iter().any(|p| {
                p.message.as_deref()
                    == Some("Progressing - waiting for rollout spec update to be observed")
            })
        })
        .await;
    assert!(forwarded, "{:?}", s.client.recorded().progress);

    let image =
        |object: &Value| object["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    s.ok("set_image", json!({"namespace": "payments", "name": "payments-worker", "container": "payments-worker", "image": "ghcr.io/example-org/payments-worker:2.14.0"})).await;
    assert_eq!(
        image(&s.rollout("payments", "payments-worker")),
        "ghcr.io/example-org/payments-worker:2.14.0"
    );
    let undone = s.ok("undo", worker).await;
    assert_eq!(undone["note"], "rolled back to the template of revision 8");
    assert_eq!(
        image(&s.rollout("payments", "payments-worker")),
        "ghcr.io/example-org/payments-worker:2.13.3"
    );
    let deployment = || {
        s.kube
            .object("apps/v1", "Deployment", "search", "search-indexer")
            .unwrap()
    };
    s.ok("set_image", json!({"namespace": "search", "name": "search-indexer", "container": "*", "image": "ghcr.io/example-org/search-indexer:1.5.0"})).await;
    assert_eq!(
        image(&deployment()),
        "ghcr.io/example-org/search-indexer:1.5.0"
    );
    s.ok(
        "undo",
        json!({"namespace": "search", "name": "search-indexer", "toRevision": 3}),
    )
    .await;
    assert_eq!(
        image(&deployment()),
        "ghcr.io/example-org/search-indexer:1.4.2"
    );
    s.ok(
        "terminate_analysis_run",
        json!({"namespace": "search", "name": "search-api-7f6d4c8b9-5-2"}),
    )
    .await;
    let experiment = json!({"namespace": "search", "name": "search-api-load-test"});
    s.ok("terminate_experiment", experiment.clone()).await;
    s.ok("retry_experiment", experiment).await;
    let stored = s
        .kube
        .object(V1ALPHA1, "Experiment", "search", "search-api-load-test")
        .unwrap();
    assert_eq!(
        (stored["spec"]["terminate"].as_bool(), stored.get("status")),
        (Some(true), None)
    );

    // A hostile name stays in its path segment; a bad namespace never reaches the plugin.
    let sneaky = s
        .error(
            "get_rollout",
            json!({"namespace": "payments", "name": "x/../../../../api/v1/secrets"}),
        )
        .await;
    assert!(sneaky.contains("HTTP 404"), "{sneaky}");
    let sent = s.kube.requests().len();
    let bad_namespace = s
        .client
        .call(
            "rollouts_abort",
            json!({"namespace": "../kube-system", "name": "web"}),
        )
        .await;
    assert!(bad_namespace.is_err() || is_error(bad_namespace.as_ref().unwrap()));
    assert_eq!(s.kube.requests().len(), sent, "nothing reached the API");

    // Every request carried the target's credentials, added by the host.
    let requests = s.kube.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.authorization() == Some(&format!("Bearer {TOKEN}"))),
        "the host authenticates every request"
    );
    let methods: std::collections::BTreeSet<&str> =
        requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        ["GET", "PATCH", "PUT"].into_iter().collect(),
        "reads, merge and JSON patches, and replaces"
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn a_rollout_is_read_by_uri_as_get_rollout_answers_it() {
    use rmcp::model::{ReadResourceRequestParams, ResourceContents};
    let s = setup().await;
    let uri = "rollouts://prod/payments/payments-api";
    let read = s
        .client
        .service()
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("{read:?}");
    };
    let info: Value = serde_json::from_str(text).unwrap();
    assert_eq!(info["rollout"]["objectMeta"]["name"], "payments-api");
    let missing = s
        .client
        .service()
        .read_resource(ReadResourceRequestParams::new(
            "rollouts://prod/payments/no-such-rollout",
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("no-such-rollout"), "{missing}");
}
