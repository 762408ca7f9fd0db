//! create_application, update_application and delete_application: full specs kept, merge
//! patches that keep what was not sent, cascade and propagation on delete.

use capstan_tests::fakes::argocd::IN_CLUSTER;
use serde_json::{Value, json};

use super::{Env, lines};

fn multi_source(name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {
            "project": "default",
            "sources": [
                {"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.2.0",
                 "helm": {"valueFiles": ["$values/web/values-prod.yaml"], "valuesObject": {"replicas": 3}}},
                {"repoURL": "https://github.com/example-org/values.git", "targetRevision": "main", "ref": "values"},
            ],
            "destination": {"server": IN_CLUSTER, "namespace": "web"},
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    })
}

#[tokio::test]
async fn create_sends_the_full_spec_and_honours_upsert_and_validate() {
    let env = Env::demo().await;
    let created = env
        .ok(
            "create_application",
            json!({"application": multi_source("web")}),
        )
        .await;
    assert_eq!(created["summary"]["repo"], "https://charts.example.com");
    let sent = env.api();
    assert_eq!(lines(&sent), ["POST /api/v1/applications"]);
    let mut expected = multi_source("web");
    expected
        .as_object_mut()
        .unwrap()
        .retain(|key, _| key == "metadata" || key == "spec");
    assert_eq!(
        sent[0].body, expected,
        "nothing stripped but apiVersion and kind"
    );
    let stored = env.argocd.application("web").unwrap();
    assert_eq!(
        stored["spec"]["sources"][0]["helm"]["valuesObject"]["replicas"],
        3
    );
    let mut changed = multi_source("web");
    changed["spec"]["sources"][0]["targetRevision"] = json!("1.3.0");
    let refused = env
        .fails(
            "create_application",
            json!({"application": changed.clone()}),
        )
        .await;
    assert!(
        refused.contains("existing application spec is different")
            && refused.contains("InvalidArgument"),
        "{refused}"
    );
    env.ok(
        "create_application",
        json!({"application": changed, "upsert": true}),
    )
    .await;
    assert_eq!(
        env.argocd.application("web").unwrap()["spec"]["sources"][0]["targetRevision"],
        "1.3.0"
    );
    let mut elsewhere = multi_source("other");
    elsewhere["spec"]["project"] = json!("missing-project");
    let invalid = env
        .fails(
            "create_application",
            json!({"application": elsewhere.clone()}),
        )
        .await;
    assert!(invalid.contains("does not exist"), "{invalid}");
    env.ok(
        "create_application",
        json!({"application": elsewhere, "validate": false}),
    )
    .await;
    let queries: Vec<_> = env.api().iter().map(|s| s.query.clone()).collect();
    assert_eq!(queries[2], [("upsert".to_owned(), "true".to_owned())]);
    assert_eq!(queries[4], [("validate".to_owned(), "false".to_owned())]);
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn update_is_a_merge_patch_that_keeps_what_was_not_sent() {
    let env = Env::demo().await;
    env.ok(
        "create_application",
        json!({"application": multi_source("web")}),
    )
    .await;
    let changes = json!({"metadata": {"labels": {"tier": "frontend"}},
                         "spec": {"syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}});
    let updated = env
        .ok(
            "update_application",
            json!({"applicationName": "web", "application": changes.clone()}),
        )
        .await;
    assert_eq!(updated["summary"]["autoSync"], true);
    let sent = env.api().pop().unwrap();
    assert_eq!(sent.line(), "PATCH /api/v1/applications/web");
    assert_eq!(sent.body["patchType"], "merge");
    let patch: Value = serde_json::from_str(sent.body["patch"].as_str().unwrap()).unwrap();
    assert_eq!(patch, changes);
    let stored = env.argocd.application("web").unwrap();
    assert_eq!(
        stored["spec"]["sources"][0]["helm"]["valuesObject"]["replicas"], 3,
        "helm values survive"
    );
    assert_eq!(
        stored["metadata"]["labels"],
        json!({"team": "web", "tier": "frontend"})
    );
    assert_eq!(
        stored["spec"]["syncPolicy"]["syncOptions"],
        json!(["CreateNamespace=true"])
    );
    let empty = env
        .fails(
            "update_application",
            json!({"applicationName": "web", "application": {}}),
        )
        .await;
    assert!(empty.contains("no changes"), "{empty}");
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn delete_passes_cascade_and_policy_and_reports_a_missing_app() {
    let env = Env::demo().await;
    let deleted = env
        .ok("delete_application", json!({"applicationName": "guestbook", "cascade": true, "propagationPolicy": "background"}))
        .await;
    assert_eq!(
        (deleted["deleted"].as_bool(), deleted["cascade"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        lines(&env.api()),
        ["DELETE /api/v1/applications/guestbook?cascade=true&propagationPolicy=background"]
    );
    assert!(env.argocd.application("guestbook").is_none());
    let again = env
        .fails(
            "delete_application",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert!(again.contains("HTTP 404"), "{again}");
    let refused = env
        .fails("delete_application", json!({"applicationName": "search-api", "cascade": false, "propagationPolicy": "foreground"}))
        .await;
    assert!(refused.contains("cascading is disabled"), "{refused}");
    assert!(env.argocd.application("search-api").is_some());
    env.argocd.assert_no_violations();
}
