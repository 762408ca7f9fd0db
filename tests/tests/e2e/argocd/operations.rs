//! refresh_application, get_application_history, rollback_application and
//! terminate_operation: requests, Argo CD's refusals, and the state they leave.

use serde_json::json;

use super::{Env, lines};

#[tokio::test]
async fn refresh_asks_for_a_normal_or_hard_refresh() {
    let env = Env::demo().await;
    env.ok(
        "refresh_application",
        json!({"applicationName": "guestbook"}),
    )
    .await;
    env.ok(
        "refresh_application",
        json!({"applicationName": "guestbook", "kind": "hard"}),
    )
    .await;
    assert_eq!(
        lines(&env.api()),
        [
            "GET /api/v1/applications/guestbook?refresh=normal",
            "GET /api/v1/applications/guestbook?refresh=hard"
        ]
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn history_lists_deployments_with_commit_metadata() {
    let env = Env::demo().await;
    let history = env
        .ok(
            "get_application_history",
            json!({"applicationName": "search-api"}),
        )
        .await;
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries[0]["id"], 2, "newest first");
    assert_eq!(history["current"], entries[0]["revision"]);
    assert!(
        entries[0]["commit"]["author"]
            .as_str()
            .unwrap()
            .contains('@')
    );
    let sent = lines(&env.api());
    assert_eq!(sent.len(), 3);
    assert!(
        sent[1].starts_with("GET /api/v1/applications/search-api/revisions/")
            && sent[1].ends_with("/metadata")
    );
    env.argocd.clear_journal();
    let helm = env
        .ok(
            "get_application_history",
            json!({"applicationName": "cert-manager"}),
        )
        .await;
    assert!(
        helm["history"][0].get("commit").is_none(),
        "no commit metadata for charts"
    );
    assert_eq!(env.api().len(), 1);
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn rollback_goes_to_the_previous_deployment_unless_auto_sync_is_on() {
    let env = Env::demo().await;
    let refused = env
        .fails(
            "rollback_application",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert!(
        refused.contains("FailedPrecondition") && refused.contains("auto-sync"),
        "{refused}"
    );
    let rolled = env
        .ok(
            "rollback_application",
            json!({"applicationName": "helm-guestbook", "prune": true}),
        )
        .await;
    assert_eq!(rolled["rolledBackTo"]["id"], 1);
    assert_eq!(rolled["operation"]["phase"], "Running");
    let sent = env.api().pop().unwrap();
    assert_eq!(
        sent.line(),
        "POST /api/v1/applications/helm-guestbook/rollback"
    );
    assert_eq!(
        sent.body,
        json!({"name": "helm-guestbook", "id": 1, "prune": true})
    );
    let app = env.argocd.application("helm-guestbook").unwrap();
    assert_eq!(
        app["operation"]["sync"]["revision"],
        app["status"]["history"][0]["revision"]
    );
    let missing = env
        .fails(
            "rollback_application",
            json!({"applicationName": "helm-guestbook", "id": 42}),
        )
        .await;
    assert!(missing.contains("no such earlier deployment"), "{missing}");
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn terminate_stops_a_running_operation_and_says_when_none_runs() {
    let env = Env::demo().await;
    let idle = env
        .fails(
            "terminate_operation",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert!(idle.contains("No operation is in progress"), "{idle}");
    env.ok("sync_application", json!({"applicationName": "guestbook"}))
        .await;
    let stopped = env
        .ok(
            "terminate_operation",
            json!({"applicationName": "guestbook", "appNamespace": "argocd"}),
        )
        .await;
    assert_eq!(stopped["terminated"], true);
    assert_eq!(
        lines(&env.api()).pop().unwrap(),
        "DELETE /api/v1/applications/guestbook/operation?appNamespace=argocd"
    );
    let state = &env.argocd.application("guestbook").unwrap()["status"]["operationState"];
    assert_eq!(
        (state["phase"].as_str(), state["message"].as_str()),
        (Some("Failed"), Some("Operation terminated"))
    );
    env.argocd.assert_no_violations();
}
