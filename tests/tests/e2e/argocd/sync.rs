//! sync_application: the body it sends (options as `{items}`), the operation it starts and
//! how the application settles; a sync refused while another runs; dry runs.

use capstan_tests::fakes::argocd::Cause;
use serde_json::json;

use super::{Env, lines};

#[tokio::test]
async fn a_sync_sends_the_contract_body_and_the_app_settles() {
    let env = Env::demo().await;
    let started = env
        .ok("sync_application", json!({"applicationName": "helm-guestbook", "revision": "main", "prune": true,
                                       "syncOptions": ["ServerSideApply=true"], "strategy": "apply"}))
        .await;
    assert_eq!(started["operation"]["phase"], "Running");
    assert_eq!(started["dryRun"], false);
    let sent = env.api();
    assert_eq!(
        lines(&sent),
        ["POST /api/v1/applications/helm-guestbook/sync"]
    );
    assert_eq!(
        sent[0].body,
        json!({"name": "helm-guestbook", "revision": "main", "prune": true,
               "syncOptions": {"items": ["ServerSideApply=true"]}, "strategy": {"apply": {"force": false}}})
    );
    let mut phases = Vec::new();
    for _ in 0..3 {
        let app = env
            .ok(
                "get_application",
                json!({"applicationName": "helm-guestbook"}),
            )
            .await;
        phases.push((
            app["summary"]["operation"].as_str().unwrap().to_owned(),
            app["summary"]["health"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        phases.last().unwrap(),
        &("Succeeded".to_owned(), "Healthy".to_owned()),
        "{phases:?}"
    );
    let app = env.argocd.application("helm-guestbook").unwrap();
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    assert_eq!(app["status"]["history"].as_array().unwrap().len(), 3);
    let settled = env
        .ok(
            "get_application",
            json!({"applicationName": "helm-guestbook"}),
        )
        .await;
    let revision = app["status"]["sync"]["revision"].as_str().unwrap();
    assert_eq!(settled["summary"]["revision"], revision);
    assert_eq!(
        settled["status"]["operation"],
        json!({"finishedAt": "2026-08-20T11:42:31Z"}),
        "the phase (Succeeded) is in the summary, the revision is the deployed one"
    );
    assert_eq!(
        settled["status"]["recentHistory"][0],
        json!({"id": 3, "revision": &revision[..7], "deployedAt": "2026-08-20T11:42:31Z", "by": "capstan"})
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_sync_while_another_runs_is_refused_with_the_grpc_code() {
    let env = Env::demo().await;
    env.argocd.degrade_next_sync("guestbook", Cause::CrashLoop);
    env.ok("sync_application", json!({"applicationName": "guestbook"}))
        .await;
    let busy = env
        .fails("sync_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(
        busy.contains("HTTP 400 (gRPC code 9 FailedPrecondition)")
            && busy.contains("another operation"),
        "{busy}"
    );
    let body = &env.api()[0].body;
    assert_eq!(
        body,
        &json!({"name": "guestbook"}),
        "no options sent when none given"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_dry_run_selective_sync_changes_nothing() {
    let env = Env::demo().await;
    let answer = env
        .ok("sync_application", json!({"applicationName": "guestbook", "appNamespace": "argocd", "dryRun": true,
                                       "resources": [{"group": "apps", "kind": "Deployment", "name": "guestbook",
                                                      "namespace": "guestbook"}]}))
        .await;
    assert_eq!(answer["dryRun"], true);
    assert!(answer["operation"].is_null());
    assert_eq!(env.api()[0].body["resources"][0]["kind"], "Deployment");
    assert_eq!(env.api()[0].body["appNamespace"], "argocd");
    assert!(env.argocd.application("guestbook").unwrap()["status"]["operationState"].is_null());
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_failing_or_forbidden_sync_is_an_error_result_and_changes_nothing() {
    let env = Env::demo().await;
    env.argocd.inject(
        "ApplicationService_Sync",
        capstan_tests::fakes::argocd::Fault::Status(403),
    );
    let denied = env
        .fails("sync_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(
        denied.contains("HTTP 403 (gRPC code 7 PermissionDenied)"),
        "{denied}"
    );
    env.argocd.inject(
        "ApplicationService_Sync",
        capstan_tests::fakes::argocd::Fault::Status(500),
    );
    let failed = env
        .fails("sync_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(failed.contains("HTTP 500"), "{failed}");
    assert!(env.argocd.application("guestbook").unwrap()["status"]["operationState"].is_null());
    env.argocd.assert_no_violations();
}
