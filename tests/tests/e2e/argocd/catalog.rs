//! Projects, clusters, repositories, identity, version, desired manifests and the
//! server-side diff.

use capstan_tests::fakes::argocd::{USERNAME, VERSION};
use capstan_tests::fakes::demo::PLATFORM_REPO;
use serde_json::json;

use super::{Env, lines};

#[tokio::test]
async fn projects_and_clusters_are_summarised_without_secrets_or_api_lists() {
    let env = Env::demo().await;
    let project = env
        .ok("get_appproject", json!({"projectName": "payments"}))
        .await;
    assert_eq!(project["project"]["roles"][0]["name"], "deployer");
    assert_eq!(project["project"]["sourceRepos"], json!(["*"]));
    let projects = env.ok("list_projects", json!({})).await;
    assert_eq!(projects["total"], 6);
    let clusters = env.ok("list_clusters", json!({})).await;
    let rows = clusters["clusters"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["connection"], "Successful");
    assert!(
        !clusters.to_string().contains("apiVersions")
            && !clusters.to_string().contains("tlsClientConfig")
    );
    let one = env
        .ok(
            "list_clusters",
            json!({"server": "https://prod-eu-west-1.k8s.example.com"}),
        )
        .await;
    assert_eq!(one["clusters"][0]["name"], "prod-eu-west-1");
    let missing = env
        .fails("get_appproject", json!({"projectName": "nope"}))
        .await;
    assert!(
        missing.contains("404") && missing.contains("list_projects"),
        "{missing}"
    );
    assert_eq!(
        lines(&env.api()),
        [
            "GET /api/v1/projects/payments",
            "GET /api/v1/projects",
            "GET /api/v1/clusters",
            "GET /api/v1/clusters?server=https://prod-eu-west-1.k8s.example.com",
            "GET /api/v1/projects/nope"
        ]
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_repository_url_stays_one_path_segment() {
    let env = Env::demo().await;
    let apps = env
        .ok(
            "list_repository_apps",
            json!({"repo": PLATFORM_REPO, "revision": "main", "path": "apps"}),
        )
        .await;
    assert_eq!(apps["apps"].as_array().unwrap().len(), 4);
    let request = &env.argocd.requests()[0];
    assert_eq!(
        request.path,
        "/argocd/api/v1/repositories/https%3A%2F%2Fgithub.com%2Fexample-org%2Fplatform-apps.git/apps"
    );
    assert_eq!(request.query.as_deref(), Some("revision=main"));
    let unknown = env
        .fails(
            "list_repository_apps",
            json!({"repo": "https://example.com/x.git"}),
        )
        .await;
    assert!(unknown.contains("repository not found"), "{unknown}");
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn identity_rbac_and_version() {
    let env = Env::demo().await;
    let user = env.ok("get_user_info", json!({})).await;
    assert_eq!(
        (user["loggedIn"].as_bool(), user["username"].as_str()),
        (Some(true), Some(USERNAME))
    );
    env.argocd.deny("applications/sync/payments/*");
    let denied = env.ok("can_i", json!({"resource": "applications", "action": "sync", "object": "payments/payments-api"})).await;
    assert_eq!(denied["allowed"], false);
    let allowed = env
        .ok(
            "can_i",
            json!({"resource": "applications", "action": "get", "object": "payments/payments-api"}),
        )
        .await;
    assert_eq!(allowed["allowed"], true);
    let version = env.ok("get_version", json!({"target": "prod"})).await;
    assert_eq!(version["version"], VERSION);
    let sent = env.argocd.requests();
    assert_eq!(
        sent[1].path,
        "/argocd/api/v1/account/can-i/applications/sync/payments%2Fpayments-api"
    );
    let by_url = env
        .ok(
            "get_version",
            json!({"argocdBaseUrl": format!("{}/", env.argocd.base_url())}),
        )
        .await;
    assert_eq!(
        by_url["target"], "prod",
        "argocd-mcp's argocdBaseUrl picks the target with that URL"
    );
    let elsewhere = env
        .fails(
            "get_version",
            json!({"argocdBaseUrl": "https://argocd.evil.example.com"}),
        )
        .await;
    assert!(
        elsewhere.contains("not one of this instance's Argo CD targets"),
        "{elsewhere}"
    );
    let unknown = env.fails("get_version", json!({"target": "staging"})).await;
    assert!(
        unknown.contains("no target named `staging`") && unknown.contains("prod"),
        "{unknown}"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn manifests_and_the_server_side_diff() {
    let env = Env::demo().await;
    let manifests = env
        .ok(
            "get_application_manifests",
            json!({"applicationName": "helm-guestbook", "revision": "v2"}),
        )
        .await;
    assert_eq!(manifests["revision"], "v2");
    let kinds: Vec<&str> = manifests["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Deployment", "Service", "ConfigMap"]);
    let diff = env
        .ok(
            "diff_application",
            json!({"applicationName": "helm-guestbook"}),
        )
        .await;
    assert_eq!(
        (diff["modified"].as_bool(), diff["changed"].as_u64()),
        (Some(true), Some(1))
    );
    let deployment = &diff["resources"][0];
    assert_eq!(deployment["changedPaths"], json!(["/spec/replicas"]));
    let request = env.argocd.requests().pop().unwrap();
    assert_eq!(
        request.path,
        "/argocd/api/v1/applications/helm-guestbook/server-side-diff"
    );
    assert_eq!(request.query_values("targetManifests").len(), 3);
    env.argocd.assert_no_violations();
}
