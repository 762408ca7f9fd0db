//! ApplicationSets: list, get, a preview of what a set generates (new or existing), create and
//! delete.

use capstan_sdk::{Value, json};

use super::{argocd, fails, ok, parse, recorded};

const PLATFORM_REPO: &str = "https://github.com/example-org/platform-apps.git";

fn platform_set() -> Value {
    json!({
        "metadata": {"name": "platform-addons"},
        "spec": {
            "generators": [{"git": {"repoURL": PLATFORM_REPO, "revision": "HEAD",
                                    "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "addon-{{path.basename}}"},
                "spec": {"project": "platform",
                         "source": {"repoURL": PLATFORM_REPO, "path": "{{path}}", "targetRevision": "HEAD"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{path.basename}}"}},
            },
        },
    })
}

#[test]
fn applicationsets_are_listed_read_and_previewed() {
    let existing = parse(recorded!("appsets/guestbook-envs.json"));
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applicationsets",
            recorded!("appsets/list-team-web.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applicationsets/guestbook-envs",
            recorded!("appsets/guestbook-envs.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applicationsets/generate",
            recorded!("appsets/generated-guestbook-envs.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applicationsets/generate",
            recorded!("appsets/generated-platform.json"),
        );
    let list = ok(
        &fixture,
        "list_applicationsets",
        json!({"selector": "team=web", "projects": ["default"], "appsetNamespace": "argocd"}),
    );
    assert_eq!(
        list["applicationSets"],
        json!([{"name": "guestbook-envs", "namespace": "argocd", "generators": ["list"],
                "template": "guestbook-{{env}}", "project": "default", "health": "",
                "applications": 0, "conditions": []}])
    );
    let one = ok(
        &fixture,
        "get_applicationset",
        json!({"name": "guestbook-envs"}),
    );
    assert_eq!(one["spec"], existing["spec"]);
    assert_eq!(one["summary"], list["applicationSets"][0]);
    assert!(one.get("status").is_none());
    let preview = ok(
        &fixture,
        "generate_applicationset",
        json!({"name": "guestbook-envs"}),
    );
    assert_eq!(
        super::names(&preview, "applications"),
        ["guestbook-dev", "guestbook-staging"]
    );
    assert_eq!(preview["count"], 2);
    assert_eq!(
        preview["applications"][1]["destination"],
        "guestbook-staging@staging-eu-west-1.k8s.example.com"
    );
    let new = ok(
        &fixture,
        "generate_applicationset",
        json!({"applicationSet": platform_set()}),
    );
    assert_eq!(new["count"], 4);
    assert_eq!(new["applications"][0]["name"], "addon-external-dns");
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applicationsets?projects=default&selector=team%3Dweb&appsetNamespace=argocd",
            "GET /api/v1/applicationsets/guestbook-envs",
            "GET /api/v1/applicationsets/guestbook-envs",
            "POST /api/v1/applicationsets/generate",
            "POST /api/v1/applicationsets/generate"
        ]
    );
    let bodies: Vec<Value> = fixture.requests().iter().map(|sent| sent.json()).collect();
    assert_eq!(
        bodies[3],
        json!({"applicationSet": {"metadata": {"name": "guestbook-envs", "namespace": "argocd"},
                                  "spec": existing["spec"]}}),
        "an existing set is previewed by its name, namespace and spec"
    );
    assert_eq!(bodies[4], json!({"applicationSet": platform_set()}));
}

#[test]
fn a_preview_needs_a_set_or_a_name() {
    let fixture = argocd();
    assert_eq!(
        fails(&fixture, "generate_applicationset", json!({})),
        "pass `applicationSet` (a new set) or `name` (an existing one)"
    );
    assert!(fixture.requests().is_empty());
}

#[test]
fn applicationsets_are_created_and_deleted() {
    let fixture = argocd()
        .on_json(
            "POST",
            "/api/v1/applicationsets?dryRun=true",
            recorded!("appsets/created-dry-run.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applicationsets",
            recorded!("appsets/created.json"),
        )
        .on_json(
            "DELETE",
            "/api/v1/applicationsets/platform-addons",
            recorded!("appsets/deleted.json"),
        )
        .on_status_json(
            "DELETE",
            "/api/v1/applicationsets/platform-addons",
            404,
            recorded!("appsets/delete-missing-404.json"),
        );
    let mut with_status = platform_set();
    with_status["apiVersion"] = json!("argoproj.io/v1alpha1");
    with_status["kind"] = json!("ApplicationSet");
    with_status["status"] = json!({"conditions": []});
    let dry = ok(
        &fixture,
        "create_applicationset",
        json!({"applicationSet": with_status, "dryRun": true}),
    );
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["summary"]["generators"], json!(["git"]));
    let created = ok(
        &fixture,
        "create_applicationset",
        json!({"applicationSet": platform_set(), "upsert": false}),
    );
    assert_eq!(
        created,
        json!({"target": "prod", "dryRun": false, "summary": {
            "name": "platform-addons", "namespace": "argocd", "generators": ["git"],
            "template": "addon-{{path.basename}}", "project": "platform", "health": "",
            "applications": 0, "conditions": []}})
    );
    let deleted = ok(
        &fixture,
        "delete_applicationset",
        json!({"name": "platform-addons"}),
    );
    assert_eq!(
        deleted,
        json!({"target": "prod", "name": "platform-addons", "deleted": true})
    );
    let missing = fails(
        &fixture,
        "delete_applicationset",
        json!({"name": "platform-addons"}),
    );
    assert!(
        missing.contains("HTTP 404")
            && missing.ends_with(
                "No ApplicationSet `platform-addons` exists there; list_applicationsets shows them."
            ),
        "{missing}"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "POST /api/v1/applicationsets?dryRun=true",
            "POST /api/v1/applicationsets?upsert=false",
            "DELETE /api/v1/applicationsets/platform-addons",
            "DELETE /api/v1/applicationsets/platform-addons"
        ]
    );
    let bodies: Vec<Value> = fixture.requests().iter().map(|sent| sent.json()).collect();
    assert_eq!(
        bodies[0],
        platform_set(),
        "apiVersion, kind and status are not sent"
    );
    assert_eq!(bodies[1], platform_set());
}
