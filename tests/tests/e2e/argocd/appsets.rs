//! ApplicationSets: list, get, a preview of what a set generates, create and delete.

use serde_json::{Value, json};

use super::{Env, lines};

fn platform_set() -> Value {
    json!({
        "metadata": {"name": "platform-addons"},
        "spec": {
            "generators": [{"git": {"repoURL": capstan_tests::fakes::demo::PLATFORM_REPO, "revision": "HEAD",
                                    "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "addon-{{path.basename}}"},
                "spec": {"project": "platform",
                         "source": {"repoURL": capstan_tests::fakes::demo::PLATFORM_REPO, "path": "{{path}}", "targetRevision": "HEAD"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{path.basename}}"}},
            },
        },
    })
}

#[tokio::test]
async fn applicationsets_are_listed_read_and_previewed() {
    let env = Env::demo().await;
    let list = env
        .ok("list_applicationsets", json!({"selector": "team=web"}))
        .await;
    let row = &list["applicationSets"][0];
    assert_eq!(
        (row["name"].as_str(), row["generators"][0].as_str()),
        (Some("guestbook-envs"), Some("list"))
    );
    let one = env
        .ok("get_applicationset", json!({"name": "guestbook-envs"}))
        .await;
    assert_eq!(
        one["spec"]["template"]["metadata"]["name"],
        "guestbook-{{env}}"
    );
    let existing = env
        .ok("generate_applicationset", json!({"name": "guestbook-envs"}))
        .await;
    let names: Vec<&str> = existing["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["guestbook-dev", "guestbook-staging"]);
    let preview = env
        .ok(
            "generate_applicationset",
            json!({"applicationSet": platform_set()}),
        )
        .await;
    assert_eq!(preview["count"], 4);
    assert_eq!(preview["applications"][0]["name"], "addon-external-dns");
    let sent = env.api();
    assert_eq!(
        lines(&sent),
        [
            "GET /api/v1/applicationsets?selector=team=web",
            "GET /api/v1/applicationsets/guestbook-envs",
            "GET /api/v1/applicationsets/guestbook-envs",
            "POST /api/v1/applicationsets/generate",
            "POST /api/v1/applicationsets/generate"
        ]
    );
    assert_eq!(sent[4].body, json!({"applicationSet": platform_set()}));
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn applicationsets_are_created_and_deleted() {
    let env = Env::demo().await;
    let dry = env
        .ok(
            "create_applicationset",
            json!({"applicationSet": platform_set(), "dryRun": true}),
        )
        .await;
    assert_eq!(dry["dryRun"], true);
    assert!(env.argocd.appset("platform-addons").is_none());
    env.ok(
        "create_applicationset",
        json!({"applicationSet": platform_set()}),
    )
    .await;
    assert!(env.argocd.appset("platform-addons").is_some());
    env.ok("delete_applicationset", json!({"name": "platform-addons"}))
        .await;
    assert!(env.argocd.appset("platform-addons").is_none());
    let missing = env
        .fails("delete_applicationset", json!({"name": "platform-addons"}))
        .await;
    assert!(missing.contains("404"), "{missing}");
    assert_eq!(
        lines(&env.api()),
        [
            "POST /api/v1/applicationsets?dryRun=true",
            "POST /api/v1/applicationsets",
            "DELETE /api/v1/applicationsets/platform-addons",
            "DELETE /api/v1/applicationsets/platform-addons"
        ]
    );
    env.argocd.assert_no_violations();
}
