//! Projects, clusters, repositories, identity, version, desired manifests and the server-side
//! diff.

use capstan_sdk::json;
use capstan_sdk::url::encode;

use super::{argocd, fails, ok, parse, recorded};

const PLATFORM_APPS: &str =
    "/api/v1/repositories/https%3A%2F%2Fgithub.com%2Fexample-org%2Fplatform-apps.git/apps";

#[test]
fn projects_and_clusters_are_summarised_without_secrets_or_api_lists() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/projects/payments",
            recorded!("catalog/project-payments.json"),
        )
        .on_status_json(
            "GET",
            "/api/v1/projects/nope",
            404,
            recorded!("catalog/project-nope-404.json"),
        )
        .on_json(
            "GET",
            "/api/v1/projects",
            recorded!("catalog/projects.json"),
        )
        .on_json(
            "GET",
            "/api/v1/clusters",
            recorded!("catalog/clusters.json"),
        )
        .on_json(
            "GET",
            "/api/v1/clusters?server=https%3A%2F%2Fprod-eu-west-1.k8s.example.com",
            recorded!("catalog/clusters-prod-eu-west-1.json"),
        );
    let project = ok(
        &fixture,
        "get_appproject",
        json!({"projectName": "payments"}),
    );
    assert_eq!(
        project["project"],
        json!({"name": "payments", "description": "Applications of the payments team",
               "sourceRepos": ["*"], "destinations": [{"namespace": "*", "server": "*"}],
               "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
               "roles": [{"name": "deployer", "description": "CI deploys",
                          "policies": ["p, proj:payments:deployer, applications, sync, payments/*, allow"],
                          "groups": ["example-org:payments"]}],
               "syncWindows": [{"applications": ["*-prod"], "duration": "8h", "kind": "deny",
                                "manualSync": true, "schedule": "0 22 * * *"}]})
    );
    assert!(project.get("appProject").is_none());
    let full = ok(
        &fixture,
        "get_appproject",
        json!({"projectName": "payments", "detail": true}),
    );
    assert_eq!(
        full["appProject"]["metadata"]["uid"],
        "d7b5a1bc-e072-cffa-4e81-20d2c9808c0b"
    );
    let projects = ok(&fixture, "list_projects", json!({}));
    assert_eq!(projects["total"], 6);
    assert_eq!(
        projects["projects"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["description", "destinations", "name", "sourceRepos"]
    );
    let paged = ok(&fixture, "list_projects", json!({"limit": 4, "offset": 4}));
    assert_eq!(
        (paged["returned"].as_u64(), paged["hasMore"].as_bool()),
        (Some(2), Some(false))
    );
    let clusters = ok(&fixture, "list_clusters", json!({}));
    let rows = clusters["clusters"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        json!({"name": "in-cluster", "server": "https://kubernetes.default.svc", "version": "1.33",
               "connection": "Successful", "message": "", "applications": 5, "labels": {"env": "dev"}})
    );
    assert!(
        !clusters.to_string().contains("apiVersions")
            && !clusters.to_string().contains("tlsClientConfig")
    );
    let one = ok(
        &fixture,
        "list_clusters",
        json!({"server": "https://prod-eu-west-1.k8s.example.com"}),
    );
    assert_eq!(one["clusters"][0]["name"], "prod-eu-west-1");
    let missing = fails(&fixture, "get_appproject", json!({"projectName": "nope"}));
    assert!(
        missing.contains("HTTP 404")
            && missing
                .ends_with("No project `nope` exists there; list_projects shows the projects."),
        "{missing}"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/projects/payments",
            "GET /api/v1/projects/payments",
            "GET /api/v1/projects",
            "GET /api/v1/projects",
            "GET /api/v1/clusters",
            "GET /api/v1/clusters?server=https%3A%2F%2Fprod-eu-west-1.k8s.example.com",
            "GET /api/v1/projects/nope"
        ]
    );
}

#[test]
fn role_tokens_never_reach_the_agent() {
    let mut project = parse(recorded!("catalog/project-payments.json"));
    project["spec"]["roles"][0]["jwtTokens"] = json!([{"iat": 1, "id": "ci"}]);
    let fixture = argocd().on_json("GET", "/api/v1/projects/payments", &project.to_string());
    let answer = ok(
        &fixture,
        "get_appproject",
        json!({"projectName": "payments", "detail": true}),
    );
    assert!(!answer.to_string().contains("jwtTokens"), "{answer}");
}

#[test]
fn a_repository_url_stays_one_path_segment() {
    let fixture = argocd()
        .on_json(
            "GET",
            &format!("{PLATFORM_APPS}?revision=main"),
            recorded!("catalog/platform-apps.json"),
        )
        .on_status_json(
            "GET",
            "/api/v1/repositories/https%3A%2F%2Fexample.com%2Fx.git/apps",
            400,
            recorded!("catalog/repo-unknown-400.json"),
        );
    let apps = ok(
        &fixture,
        "list_repository_apps",
        json!({"repo": "https://github.com/example-org/platform-apps.git", "revision": "main", "path": "apps/"}),
    );
    assert_eq!(
        apps,
        json!({"target": "prod", "repo": "https://github.com/example-org/platform-apps.git",
               "apps": [{"path": "apps/external-dns", "type": "Helm"}, {"path": "apps/kyverno", "type": "Helm"},
                        {"path": "apps/sealed-secrets", "type": "Kustomize"}, {"path": "apps/velero", "type": "Helm"}]}),
        "only the directories under `path`"
    );
    let unknown = fails(
        &fixture,
        "list_repository_apps",
        json!({"repo": "https://example.com/x.git"}),
    );
    assert!(unknown.contains("repository not found"), "{unknown}");
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {PLATFORM_APPS}?revision=main"),
            "GET /api/v1/repositories/https%3A%2F%2Fexample.com%2Fx.git/apps".to_owned(),
        ]
    );
}

#[test]
fn identity_rbac_and_version() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/session/userinfo",
            recorded!("catalog/userinfo.json"),
        )
        .on_json(
            "GET",
            "/api/v1/account/can-i/applications/sync/payments%2Fpayments-api",
            recorded!("catalog/can-i-no.json"),
        )
        .on_json(
            "GET",
            "/api/v1/account/can-i/applications/get/payments%2Fpayments-api",
            recorded!("catalog/can-i-yes.json"),
        )
        .on_json("GET", "/api/version", recorded!("catalog/version.json"));
    assert_eq!(
        ok(&fixture, "get_user_info", json!({})),
        json!({"target": "prod", "loggedIn": true, "username": "capstan-bot", "issuer": "argocd",
               "groups": ["example-org:platform"]})
    );
    let denied = ok(
        &fixture,
        "can_i",
        json!({"resource": "applications", "action": "sync", "object": "payments/payments-api"}),
    );
    assert_eq!(
        denied,
        json!({"target": "prod", "allowed": false, "resource": "applications", "action": "sync",
               "object": "payments/payments-api"})
    );
    let allowed = ok(
        &fixture,
        "can_i",
        json!({"resource": "applications", "action": "get", "object": "payments/payments-api"}),
    );
    assert_eq!(allowed["allowed"], true);
    let version = ok(&fixture, "get_version", json!({"target": "prod"}));
    assert_eq!(version["version"], "v3.5.1+109ca7c");
    assert_eq!(version["details"], parse(recorded!("catalog/version.json")));
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/session/userinfo",
            "GET /api/v1/account/can-i/applications/sync/payments%2Fpayments-api",
            "GET /api/v1/account/can-i/applications/get/payments%2Fpayments-api",
            "GET /api/version",
        ]
    );
}

#[test]
fn manifests_and_the_server_side_diff() {
    let rendered = recorded!("manifests/helm-guestbook.json");
    let targets: Vec<String> = parse(rendered)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|manifest| format!("targetManifests={}", encode(manifest.as_str().unwrap())))
        .collect();
    let diff_path = format!(
        "/api/v1/applications/helm-guestbook/server-side-diff?{}",
        targets.join("&")
    );
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/helm-guestbook/manifests?revision=v2",
            recorded!("manifests/helm-guestbook-v2.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/helm-guestbook/manifests",
            rendered,
        )
        .on_json(
            "GET",
            &diff_path,
            recorded!("manifests/helm-guestbook-diff.json"),
        );
    let manifests = ok(
        &fixture,
        "get_application_manifests",
        json!({"applicationName": "helm-guestbook", "revision": "v2"}),
    );
    assert_eq!(manifests["revision"], "v2");
    assert_eq!(
        manifests["manifests"][0],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "helm-guestbook", "name": "helm-guestbook"})
    );
    let kinds: Vec<&str> = manifests["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Deployment", "Service", "ConfigMap"]);
    let full = ok(
        &fixture,
        "get_application_manifests",
        json!({"applicationName": "helm-guestbook", "revision": "v2", "detail": true, "limit": 1}),
    );
    assert_eq!(full["manifests"][0]["spec"]["replicas"].as_u64(), Some(3));
    assert_eq!(full["hasMore"], true);

    let diff = ok(
        &fixture,
        "diff_application",
        json!({"applicationName": "helm-guestbook"}),
    );
    assert_eq!(
        (diff["modified"].as_bool(), diff["changed"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(
        diff["resources"][0],
        json!({"kind": "Deployment", "name": "helm-guestbook", "namespace": "helm-guestbook",
               "modified": true, "new": false, "changedPaths": ["/spec/replicas"]})
    );
    assert_eq!(diff["resources"][1]["changedPaths"], json!([]));
    assert!(diff.get("omitted").is_none());
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/helm-guestbook/manifests?revision=v2".to_owned(),
            "GET /api/v1/applications/helm-guestbook/manifests?revision=v2".to_owned(),
            "GET /api/v1/applications/helm-guestbook/manifests".to_owned(),
            format!("GET {diff_path}"),
        ],
        "the diff sends the rendered manifests, each as one query value"
    );
}
