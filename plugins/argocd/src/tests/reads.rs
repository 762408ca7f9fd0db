//! list_applications, get_application and get_application_resource_tree: the requests they
//! send, the lean rows and compact status they answer, paging and filters.

use capstan_sdk::json;

use super::{APPS, BASE, argocd, names, ok, parse, recorded};

const LIST: &str = recorded!("apps/list.json");

#[test]
fn list_applications_filters_on_the_server_then_here() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications?projects=payments&projects=data&selector=env%3Dprod",
            recorded!("apps/list-payments-data-prod.json"),
        )
        .on_json("GET", APPS, LIST);
    let answer = ok(
        &fixture,
        "list_applications",
        json!({"projects": ["payments", "data"], "selector": "env=prod", "healthStatus": "Degraded"}),
    );
    assert_eq!(names(&answer, "applications"), ["recommendations"]);
    assert_eq!(
        answer,
        json!({"target": "prod", "total": 1, "offset": 0, "returned": 1, "hasMore": false,
               "applications": [{"name": "recommendations", "project": "data", "sync": "Synced", "health": "Degraded",
                                 "healthMessage": "RolloutAborted: metric \"error-rate\" assessed Failed",
                                 "autoSync": true, "destination": "data@prod-eu-west-1.k8s.example.com"}],
               "counts": {"health": {"Degraded": 1}, "sync": {"Synced": 1}}}),
        "a lean row: no namespace (Argo CD's own), no source"
    );
    let sent = &fixture.requests()[0];
    assert_eq!(
        sent.url,
        format!("{BASE}/api/v1/applications?projects=payments&projects=data&selector=env%3Dprod")
    );
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert!(sent.body.is_empty());

    let searched = ok(
        &fixture,
        "list_applications",
        json!({"search": "PAYMENTS", "limit": 1}),
    );
    assert_eq!(names(&searched, "applications"), ["payments-api"]);
    assert_eq!(
        searched["counts"]["health"],
        json!({"Healthy": 1, "Suspended": 1}),
        "counts cover every match, not just the page"
    );
    assert_eq!(
        (
            searched["total"].as_u64(),
            searched["hasMore"].as_bool(),
            searched["nextOffset"].as_u64()
        ),
        (Some(2), Some(true), Some(1))
    );
    assert_eq!(
        searched["hint"],
        "1 more applications match: call again with offset 1, or narrow with projects, selector, syncStatus or healthStatus."
    );

    let checkout = parse(LIST)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|app| app["metadata"]["name"] == "checkout-web")
        .cloned()
        .unwrap();
    let wide = ok(
        &fixture,
        "list_applications",
        json!({"cluster": "prod-eu-west-1.k8s.example.com", "search": "checkout", "wide": true}),
    );
    assert_eq!(
        wide["applications"],
        json!([{"name": "checkout-web", "project": "checkout", "sync": "OutOfSync", "health": "Progressing",
                "healthMessage": "Waiting for the preview ReplicaSet to become available", "autoSync": true,
                "destination": "checkout@prod-eu-west-1.k8s.example.com",
                "repo": "https://github.com/example-org/checkout-deploy.git",
                "path": "apps/checkout-web/overlays/prod", "targetRevision": "release",
                "revision": checkout["status"]["sync"]["revision"]}]),
        "`wide` adds the source and the deployed revision; `cluster` takes the row's short form"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications?projects=payments&projects=data&selector=env%3Dprod",
            "GET /api/v1/applications",
            "GET /api/v1/applications",
        ],
        "client-side filters send nothing"
    );
}

#[test]
fn list_applications_counts_pages_and_returns_full_objects_on_request() {
    let fixture = argocd().on_json("GET", APPS, LIST);
    let all = ok(&fixture, "list_applications", json!({}));
    assert_eq!(
        (
            all["total"].as_u64(),
            all["returned"].as_u64(),
            all["hasMore"].as_bool()
        ),
        (Some(10), Some(10), Some(false))
    );
    assert!(all.get("hint").is_none() && all.get("nextOffset").is_none());
    assert_eq!(
        all["counts"],
        json!({"health": {"Degraded": 2, "Healthy": 6, "Progressing": 1, "Suspended": 1},
               "sync": {"OutOfSync": 3, "Synced": 7}})
    );
    let page = ok(
        &fixture,
        "list_applications",
        json!({"offset": 8, "limit": 5}),
    );
    assert_eq!(
        names(&page, "applications"),
        ["recommendations", "search-api"]
    );
    assert_eq!(
        (page["returned"].as_u64(), page["hasMore"].as_bool()),
        (Some(2), Some(false))
    );
    let filtered = ok(
        &fixture,
        "list_applications",
        json!({"syncStatus": "OutOfSync", "healthStatus": "Degraded"}),
    );
    assert_eq!(names(&filtered, "applications"), ["kube-prometheus-stack"]);
    let detail = ok(
        &fixture,
        "list_applications",
        json!({"detail": true, "limit": 2}),
    );
    let objects = detail["applications"].as_array().unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["metadata"]["name"], "cert-manager");
    assert!(objects[0]["status"]["resources"].is_array(), "full objects");
    assert!(objects[0]["metadata"].get("managedFields").is_none());
    assert_eq!(
        (detail["total"].as_u64(), detail["nextOffset"].as_u64()),
        (Some(10), Some(2))
    );
    let none = ok(
        &fixture,
        "list_applications",
        json!({"search": "nothing-like-this"}),
    );
    assert_eq!(
        none,
        json!({"target": "prod", "applications": [], "total": 0, "offset": 0, "returned": 0, "hasMore": false}),
        "no counts when nothing matches"
    );
    let empty = argocd().on_json("GET", APPS, r#"{"metadata": {}, "items": null}"#);
    assert_eq!(ok(&empty, "list_applications", json!({}))["total"], 0);
}

#[test]
fn a_selector_with_an_ampersand_stays_one_query_value() {
    let fixture = argocd().on_status_json(
        "GET",
        "/api/v1/applications?selector=env%3Dprod%26projects%3Dx",
        400,
        recorded!("apps/list-bad-selector.json"),
    );
    let message = super::fails(
        &fixture,
        "list_applications",
        json!({"selector": "env=prod&projects=x"}),
    );
    assert!(
        message.contains("HTTP 400 (gRPC code 3 InvalidArgument)") && message.contains("selector"),
        "{message}"
    );
    assert_eq!(
        fixture.request_lines(),
        ["GET /api/v1/applications?selector=env%3Dprod%26projects%3Dx"]
    );
}

#[test]
fn get_application_answers_a_summary_and_compact_status() {
    let recorded = parse(recorded!("apps/recommendations.json"));
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/recommendations",
            recorded!("apps/recommendations.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook?appNamespace=argocd&refresh=hard",
            recorded!("apps/guestbook-refresh-hard.json"),
        );
    let answer = ok(
        &fixture,
        "get_application",
        json!({"applicationName": "recommendations"}),
    );
    let revision = recorded["status"]["sync"]["revision"].as_str().unwrap();
    assert_eq!(
        answer["summary"],
        json!({"name": "recommendations", "project": "data", "sync": "Synced", "health": "Degraded",
               "healthMessage": "RolloutAborted: metric \"error-rate\" assessed Failed", "autoSync": true,
               "destination": "data@prod-eu-west-1.k8s.example.com",
               "repo": "https://github.com/example-org/data-deploy.git",
               "path": "apps/recommendations/overlays/prod", "targetRevision": "release", "revision": revision})
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

    let full = ok(
        &fixture,
        "get_application",
        json!({"applicationName": "guestbook", "applicationNamespace": "argocd",
               "refresh": "hard", "detail": true}),
    );
    assert_eq!(
        full["application"]["metadata"]["annotations"]["argocd.argoproj.io/refresh"],
        "hard"
    );
    assert_eq!(full["spec"]["project"], "default");
    assert_eq!(full["spec"], full["application"]["spec"]);
    assert!(
        full["application"]["metadata"]
            .get("managedFields")
            .is_none()
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/recommendations",
            "GET /api/v1/applications/guestbook?appNamespace=argocd&refresh=hard"
        ]
    );
}

#[test]
fn both_spellings_of_the_application_namespace_are_sent_as_app_namespace() {
    let fixture = argocd().on_json(
        "GET",
        "/api/v1/applications/guestbook",
        recorded!("apps/guestbook.json"),
    );
    ok(
        &fixture,
        "get_application",
        json!({"applicationName": "guestbook", "appNamespace": "team-a"}),
    );
    ok(
        &fixture,
        "get_application",
        json!({"applicationName": "guestbook", "applicationNamespace": "team-b", "appNamespace": "team-a"}),
    );
    ok(
        &fixture,
        "get_application",
        json!({"applicationName": "guestbook", "applicationNamespace": ""}),
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/guestbook?appNamespace=team-a",
            "GET /api/v1/applications/guestbook?appNamespace=team-b",
            "GET /api/v1/applications/guestbook",
        ]
    );
}

#[test]
fn the_resource_tree_is_summarised_counted_and_filtered() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/recommendations/resource-tree",
            recorded!("tree/recommendations.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource-tree",
            recorded!("tree/guestbook.json"),
        );
    let tree = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": "recommendations"}),
    );
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
    assert_eq!(
        tree["hint"],
        "4 of 9 objects need attention. all: true lists every object; kind, health or search filter them."
    );
    assert!(tree.get("nodes").is_none(), "{tree}");

    let all = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": "recommendations", "all": true}),
    );
    assert_eq!(
        (all["total"].as_u64(), all["returned"].as_u64()),
        (Some(9), Some(9))
    );
    let healthy = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": "guestbook"}),
    );
    assert!(healthy.get("attention").is_none(), "{healthy}");
    assert_eq!(
        healthy["hint"],
        "Nothing needs attention; all: true lists the 9 objects."
    );
    let pods = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": "recommendations", "kind": "Pod", "health": "Degraded", "limit": 1}),
    );
    assert_eq!(
        (
            pods["total"].as_u64(),
            pods["returned"].as_u64(),
            pods["nextOffset"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        pods["hint"],
        "More objects match: call again with offset 1."
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
    let raw = ok(
        &fixture,
        "get_application_resource_tree",
        json!({"applicationName": "guestbook", "detail": true}),
    );
    assert!(
        raw["nodes"][0]["resourceVersion"].is_string(),
        "detail gives Argo CD's nodes"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/recommendations/resource-tree",
            "GET /api/v1/applications/recommendations/resource-tree",
            "GET /api/v1/applications/guestbook/resource-tree",
            "GET /api/v1/applications/recommendations/resource-tree",
            "GET /api/v1/applications/guestbook/resource-tree",
        ]
    );
}

#[test]
fn names_from_arguments_stay_in_their_own_path_segment() {
    let fixture = argocd()
        .on_status_json(
            "GET",
            "/api/v1/applications/..%2Fprojects%2Fdefault",
            404,
            recorded!("apps/nope-404.json"),
        )
        .on_status_json(
            "GET",
            "/api/v1/applications/x%3Fname%3Dy%26selector%3Da",
            404,
            recorded!("apps/nope-404.json"),
        );
    for name in ["../projects/default", "..", "x?name=y&selector=a"] {
        super::fails(
            &fixture,
            "get_application",
            json!({"applicationName": name}),
        );
    }
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/..%2Fprojects%2Fdefault",
            "GET /api/v1/applications/x%3Fname%3Dy%26selector%3Da",
        ],
        "`..` is refused before any request"
    );
}
