//! list_applications, get_application and get_application_resource_tree: the requests they
//! send, the summaries they answer, paging at scale, and every error path.

use capstan_tests::fakes::argocd::Fault;
use serde_json::json;

use super::{Env, lines};

fn names(answer: &serde_json::Value, key: &str) -> Vec<String> {
    answer[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_applications_filters_on_the_server_then_here() {
    let env = Env::demo().await;
    let answer = env
        .ok(
            "list_applications",
            json!({"projects": ["payments", "data"], "selector": "env=prod",
                                        "healthStatus": "Degraded"}),
        )
        .await;
    assert_eq!(names(&answer, "applications"), ["recommendations"]);
    assert_eq!(answer["total"], 1);
    let row = &answer["applications"][0];
    assert_eq!(
        row,
        &json!({"name": "recommendations", "project": "data", "sync": "Synced", "health": "Degraded",
                "healthMessage": "RolloutAborted: metric \"error-rate\" assessed Failed",
                "autoSync": true, "destination": "data@prod-eu-west-1.k8s.example.com"}),
        "a lean row: no namespace (Argo CD's own), no source"
    );
    assert_eq!(answer["counts"]["health"], json!({"Degraded": 1}));
    let sent = env.api();
    assert_eq!(
        lines(&sent),
        ["GET /api/v1/applications?projects=payments&projects=data&selector=env=prod"]
    );
    assert!(sent[0].authorized, "the host added the target's token");
    let searched = env
        .ok(
            "list_applications",
            json!({"search": "PAYMENTS", "limit": 1}),
        )
        .await;
    assert_eq!(names(&searched, "applications"), ["payments-api"]);
    assert_eq!(
        searched["counts"]["health"],
        json!({"Healthy": 1, "Suspended": 1}),
        "counts cover every match, not just the page"
    );
    assert_eq!(
        (
            searched["hasMore"].as_bool(),
            searched["nextOffset"].as_u64()
        ),
        (Some(true), Some(1))
    );
    assert!(searched["hint"].as_str().unwrap().contains("offset 1"));
    let wide = env
        .ok(
            "list_applications",
            json!({"cluster": "prod-eu-west-1.k8s.example.com", "search": "checkout", "wide": true}),
        )
        .await;
    assert_eq!(
        wide["applications"][0],
        json!({"name": "checkout-web", "project": "checkout", "sync": "OutOfSync", "health": "Progressing",
               "healthMessage": "Waiting for the preview ReplicaSet to become available", "autoSync": true,
               "destination": "checkout@prod-eu-west-1.k8s.example.com",
               "repo": "https://github.com/example-org/checkout-deploy.git",
               "path": "apps/checkout-web/overlays/prod", "targetRevision": "release",
               "revision": env.argocd.application("checkout-web").unwrap()["status"]["sync"]["revision"]}),
        "`wide` adds the source and the deployed revision; `cluster` takes the row's short form"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_selector_with_an_ampersand_stays_one_query_value() {
    let env = Env::demo().await;
    let message = env
        .fails(
            "list_applications",
            json!({"selector": "env=prod&projects=x"}),
        )
        .await;
    assert!(
        message.contains("HTTP 400") && message.contains("selector"),
        "{message}"
    );
    let request = &env.argocd.requests()[0];
    assert_eq!(request.query_values("selector"), ["env=prod&projects=x"]);
    assert!(request.query_values("projects").is_empty());
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn get_application_answers_a_summary_and_compact_status() {
    let env = Env::demo().await;
    let answer = env
        .ok(
            "get_application",
            json!({"applicationName": "recommendations"}),
        )
        .await;
    let app = env.argocd.application("recommendations").unwrap();
    let revision = app["status"]["sync"]["revision"].as_str().unwrap();
    assert_eq!(answer["summary"]["health"], "Degraded");
    assert_eq!(answer["summary"]["revision"], revision);
    assert_eq!(
        answer["summary"]["repo"],
        "https://github.com/example-org/data-deploy.git"
    );
    assert_eq!(
        answer["status"]["resources"],
        json!({"total": 3, "byHealth": {"Degraded": 1, "Healthy": 1, "None": 1},
               "notHealthyOrOutOfSync": [{"kind": "Deployment", "name": "recommendations",
                                          "sync": "Synced", "health": "Degraded"}]})
    );
    assert_eq!(
        answer["status"]["recentHistory"][0],
        json!({"id": 2, "revision": &revision[..7], "deployedAt": "2026-08-20T11:42:31Z",
               "by": "automated sync"})
    );
    assert_eq!(
        answer["status"]["images"],
        json!(["ghcr.io/example-org/recommendations:1.31.0"])
    );
    assert!(
        answer["status"].get("operation").is_none(),
        "no operation ran yet"
    );
    assert!(
        answer.get("spec").is_none() && answer.get("application").is_none(),
        "the spec and the full object only with detail"
    );
    let full = env
        .ok(
            "get_application",
            json!({"applicationName": "guestbook", "applicationNamespace": "argocd",
                                      "refresh": "hard", "detail": true}),
        )
        .await;
    assert_eq!(
        full["application"]["metadata"]["annotations"]["argocd.argoproj.io/refresh"],
        "hard"
    );
    assert_eq!(full["spec"]["project"], "default");
    assert_eq!(
        lines(&env.api()),
        [
            "GET /api/v1/applications/recommendations",
            "GET /api/v1/applications/guestbook?appNamespace=argocd&refresh=hard"
        ]
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn argo_cd_errors_become_error_results_with_status_code_and_advice() {
    let env = Env::demo().await;
    let missing = env
        .fails("get_application", json!({"applicationName": "nope"}))
        .await;
    assert!(
        missing.contains("HTTP 404 (gRPC code 5 NotFound)"),
        "{missing}"
    );
    assert!(
        missing.contains("list_applications"),
        "says what to do: {missing}"
    );
    env.argocd
        .inject("ApplicationService_Get", Fault::Status(403));
    let denied = env
        .fails("get_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(
        denied.contains("HTTP 403 (gRPC code 7 PermissionDenied)") && denied.contains("can_i"),
        "{denied}"
    );
    env.argocd
        .inject("ApplicationService_List", Fault::Status(500));
    let broken = env.fails("list_applications", json!({})).await;
    assert!(
        broken.contains("HTTP 500 (gRPC code 13 Internal)") && broken.contains("retry"),
        "{broken}"
    );
    env.argocd
        .inject("ApplicationService_ResourceTree", Fault::Malformed);
    let malformed = env
        .fails(
            "get_application_resource_tree",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert!(
        malformed.contains("not JSON") && malformed.contains("<html>"),
        "{malformed}"
    );
    assert!(!denied.contains(super::TOKEN) && !broken.contains(super::TOKEN));
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_slow_argo_cd_times_out_with_advice() {
    let env =
        Env::start_with_target(capstan_tests::fakes::demo::argocd(), "", "timeout = \"1s\"").await;
    env.argocd.inject(
        "ApplicationService_Get",
        Fault::Slow(std::time::Duration::from_secs(5)),
    );
    let message = env
        .fails("get_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(message.contains("timeout"), "{message}");
    env.argocd.clear_faults();
    env.ok("get_application", json!({"applicationName": "guestbook"}))
        .await;
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn hostile_names_are_refused_before_anything_is_sent() {
    let env = Env::demo().await;
    for name in [
        "../projects/default",
        "x?name=y&selector=a",
        "a/b",
        "%2e%2e",
    ] {
        env.fails("get_application", json!({"applicationName": name}))
            .await;
        env.fails("sync_application", json!({"applicationName": name}))
            .await;
    }
    assert!(env.api().is_empty(), "{:?}", env.api());
}

#[tokio::test]
async fn the_resource_tree_is_summarised_counted_and_filtered() {
    let env = Env::demo().await;
    let tree = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": "recommendations"}),
        )
        .await;
    assert_eq!(tree["counts"]["byKind"]["Pod"], 2);
    assert_eq!(
        tree["counts"]["byKind"]["ReplicaSet"], 2,
        "the current ReplicaSet and the previous deployment's"
    );
    assert_eq!(tree["total"], 9);
    let attention: Vec<(&str, &str)> = tree["attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap(), n["health"].as_str().unwrap()))
        .collect();
    assert_eq!(
        attention,
        [
            ("Deployment", "Degraded"),
            ("ReplicaSet", "Degraded"),
            ("Pod", "Degraded"),
            ("Pod", "Degraded")
        ],
        "only what needs attention, not the old ReplicaSet, the Service or the ConfigMap"
    );
    assert!(
        tree.get("nodes").is_none() && tree["hint"].as_str().unwrap().contains("all: true"),
        "{tree}"
    );
    let all = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": "recommendations", "all": true}),
        )
        .await;
    assert_eq!(
        (all["total"].as_u64(), all["returned"].as_u64()),
        (Some(9), Some(9))
    );
    let healthy = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert!(healthy.get("attention").is_none(), "{healthy}");
    assert!(
        healthy["hint"]
            .as_str()
            .unwrap()
            .starts_with("Nothing needs attention")
    );
    let pods = env
        .ok("get_application_resource_tree",
            json!({"applicationName": "recommendations", "kind": "Pod", "health": "Degraded", "limit": 1}))
        .await;
    assert_eq!(
        (pods["total"].as_u64(), pods["returned"].as_u64()),
        (Some(2), Some(1))
    );
    let pod = &pods["nodes"][0];
    assert!(
        pod["info"].as_str().unwrap().contains("CrashLoopBackOff"),
        "{pod}"
    );
    assert!(
        pod["parent"]
            .as_str()
            .unwrap()
            .starts_with("ReplicaSet/recommendations-")
    );
    env.argocd.clear_journal();
    let raw = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": "guestbook", "detail": true}),
        )
        .await;
    assert!(
        raw["nodes"][0]["resourceVersion"].is_string(),
        "detail gives Argo CD's nodes"
    );
    assert_eq!(
        lines(&env.api())[0],
        "GET /api/v1/applications/guestbook/resource-tree"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_read_only_instance_lists_and_runs_only_read_tools() {
    let env = Env::start(capstan_tests::fakes::demo::argocd(), "read_only = true").await;
    let tools = env.client.tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert!(
        names.contains(&"get_application") && names.contains(&"list_applications"),
        "{names:?}"
    );
    assert!(!names.contains(&"sync_application"), "{names:?}");
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has an output schema",
            tool.name
        );
    }
    let refused = env
        .client
        .call("sync_application", json!({"applicationName": "guestbook"}))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("unknown tool"), "{refused}");
    assert!(
        env.api().is_empty(),
        "a refused write sends nothing: {:?}",
        env.api()
    );
}

#[tokio::test]
async fn every_tool_is_annotated_targetable_and_has_an_output_schema() {
    let env = Env::demo().await;
    let tools = env.client.tools().await.unwrap();
    let destructive = [
        "create_application",
        "update_application",
        "delete_application",
        "sync_application",
        "rollback_application",
        "run_resource_action",
        "create_applicationset",
        "delete_applicationset",
        "deploy_and_watch",
    ];
    let other_writes = [
        "refresh_application",
        "terminate_operation",
        "create_applications_from_directories",
    ];
    assert_eq!(tools.len(), 35);
    for tool in &tools {
        let name = tool.name.as_ref();
        let annotations = tool.annotations.as_ref().expect("annotations");
        let writes = destructive.contains(&name) || other_writes.contains(&name);
        assert_eq!(annotations.read_only_hint, Some(!writes), "{name}");
        assert_eq!(
            annotations.destructive_hint,
            Some(destructive.contains(&name)),
            "{name}"
        );
        assert_eq!(annotations.open_world_hint, Some(true), "{name}");
        assert!(tool.output_schema.is_some(), "{name} has an output schema");
        assert!(
            tool.input_schema
                .get("properties")
                .and_then(|p| p.get("target"))
                .is_some(),
            "{name} takes a target"
        );
        assert!(
            tool.description.as_deref().unwrap_or_default().len() > 80,
            "{name} says when to use it"
        );
    }
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    for argocd_mcp in [
        "list_applications",
        "get_application",
        "create_application",
        "update_application",
        "delete_application",
        "sync_application",
        "get_application_resource_tree",
        "get_application_managed_resources",
        "get_application_workload_logs",
        "get_application_events",
        "get_resource_events",
        "get_resources",
        "get_resource_actions",
        "run_resource_action",
        "list_clusters",
        "get_appproject",
    ] {
        assert!(
            names.contains(&argocd_mcp),
            "{argocd_mcp} keeps argocd-mcp's name"
        );
    }
}
