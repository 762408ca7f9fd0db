//! sync_application: the body it sends (options as `{items}`, a strategy, selective and
//! multi-source syncs), the operation it reports, and Argo CD's refusals.

use capstan_sdk::json;

use super::{argocd, fails, ok, parse, recorded};
use capstan_sdk::Value;

const HELM_GUESTBOOK: &str = "/api/v1/applications/helm-guestbook";

#[test]
fn a_sync_sends_the_contract_body_and_the_app_settles() {
    let fixture = argocd()
        .on_json(
            "POST",
            "/api/v1/applications/helm-guestbook/sync",
            recorded!("sync/helm-guestbook-started.json"),
        )
        .on_json(
            "GET",
            HELM_GUESTBOOK,
            recorded!("sync/helm-guestbook-get-1.json"),
        )
        .on_json(
            "GET",
            HELM_GUESTBOOK,
            recorded!("sync/helm-guestbook-get-2.json"),
        )
        .on_json(
            "GET",
            HELM_GUESTBOOK,
            recorded!("sync/helm-guestbook-get-3.json"),
        );
    let started = ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "helm-guestbook", "revision": "main", "prune": true,
               "syncOptions": ["ServerSideApply=true"], "strategy": "apply"}),
    );
    assert_eq!(started["operation"]["phase"], "Running");
    assert_eq!(started["dryRun"], false);
    assert_eq!(started["summary"]["operation"], "Running");
    assert_eq!(
        started["next"],
        "Poll get_application until summary.operation is Succeeded and health settles, or use deploy_and_watch."
    );
    let sent = fixture.requests();
    assert_eq!(
        sent[0].line(),
        "POST /api/v1/applications/helm-guestbook/sync"
    );
    assert_eq!(
        sent[0].json(),
        json!({"name": "helm-guestbook", "revision": "main", "prune": true,
               "syncOptions": {"items": ["ServerSideApply=true"]}, "strategy": {"apply": {"force": false}}})
    );
    let mut phases = Vec::new();
    let mut settled = json!(null);
    for _ in 0..3 {
        settled = ok(
            &fixture,
            "get_application",
            json!({"applicationName": "helm-guestbook"}),
        );
        phases.push(format!(
            "{} {}",
            settled["summary"]["operation"].as_str().unwrap(),
            settled["summary"]["health"].as_str().unwrap()
        ));
    }
    assert_eq!(
        phases,
        [
            "Running Progressing",
            "Succeeded Progressing",
            "Succeeded Healthy"
        ]
    );
    let app = parse(recorded!("sync/helm-guestbook-get-3.json"));
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
}

#[test]
fn a_sync_while_another_runs_is_refused_with_the_grpc_code() {
    let fixture = argocd()
        .on_json(
            "POST",
            "/api/v1/applications/guestbook/sync",
            recorded!("sync/guestbook-started.json"),
        )
        .on_status_json(
            "POST",
            "/api/v1/applications/guestbook/sync",
            400,
            recorded!("sync/guestbook-busy-400.json"),
        );
    ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook"}),
    );
    let busy = fails(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        busy.contains("HTTP 400 (gRPC code 9 FailedPrecondition)")
            && busy.contains("another operation"),
        "{busy}"
    );
    assert_eq!(
        fixture.requests()[0].json(),
        json!({"name": "guestbook"}),
        "no options sent when none given"
    );
}

#[test]
fn a_dry_run_selective_sync_reports_no_operation() {
    let fixture = argocd().on_json(
        "POST",
        "/api/v1/applications/guestbook/sync",
        recorded!("sync/guestbook-dry-run.json"),
    );
    let resources = json!([{"group": "apps", "kind": "Deployment", "name": "guestbook", "namespace": "guestbook"}]);
    let answer = ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook", "appNamespace": "argocd", "dryRun": true,
               "resources": resources}),
    );
    assert_eq!(answer["dryRun"], true);
    assert!(answer["operation"].is_null(), "{answer}");
    assert_eq!(
        fixture.requests()[0].json(),
        json!({"name": "guestbook", "appNamespace": "argocd", "dryRun": true, "resources": resources})
    );
}

#[test]
fn multi_source_revisions_hooks_and_force_are_shaped_as_argo_cd_takes_them() {
    let fixture = argocd().on_json(
        "POST",
        "/api/v1/applications/guestbook/sync",
        recorded!("sync/guestbook-started.json"),
    );
    ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook", "revisions": ["v2", "main"], "sourcePositions": [1, 2],
               "strategy": "hook", "force": true, "dryRun": false}),
    );
    ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook", "force": true}),
    );
    let bodies: Vec<_> = fixture.requests().iter().map(|sent| sent.json()).collect();
    assert_eq!(
        bodies[0],
        json!({"name": "guestbook", "revisions": ["v2", "main"], "sourcePositions": ["1", "2"],
               "dryRun": false, "strategy": {"hook": {"syncStrategyApply": {"force": true}}}})
    );
    assert_eq!(
        bodies[1]["strategy"],
        json!({"hook": {"syncStrategyApply": {"force": true}}}),
        "force alone means a forced hook sync"
    );
}

#[test]
fn a_forbidden_or_failing_sync_is_an_error() {
    let fixture = argocd()
        .on_status_json(
            "POST",
            "/api/v1/applications/guestbook/sync",
            403,
            recorded!("errors/403.json"),
        )
        .on_status_json(
            "POST",
            "/api/v1/applications/guestbook/sync",
            500,
            recorded!("errors/500.json"),
        );
    let denied = fails(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        denied.contains(
            "HTTP 403 (gRPC code 7 PermissionDenied) to POST /api/v1/applications/guestbook/sync"
        ) && denied.contains("check with can_i"),
        "{denied}"
    );
    let failed = fails(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        failed.contains("HTTP 500 (gRPC code 13 Internal)"),
        "{failed}"
    );
}

/// The answer to a sync of `guestbook` whose status still holds a finished operation: as Argo CD
/// (or a proxy) might answer when it does not clear the previous state.
fn answered_with_finished(previous: Value) -> String {
    let mut answer = parse(recorded!("sync/guestbook-started.json"));
    answer["status"]["operationState"] = previous;
    answer.to_string()
}

#[test]
fn a_sync_reports_the_operation_it_started_never_the_previous_one() {
    let requested = parse(recorded!("sync/guestbook-started.json"))["operation"].clone();
    // The previous operation requested exactly the same and finished.
    let identical = json!({"operation": requested, "phase": "Succeeded",
                           "message": "successfully synced (all tasks run)",
                           "startedAt": "2026-08-20T10:00:00Z", "finishedAt": "2026-08-20T10:00:09Z",
                           "syncResult": {"revision": "0000000000000000000000000000000000000000"}});
    let fixture = argocd().on_json(
        "POST",
        "/api/v1/applications/guestbook/sync",
        &answered_with_finished(identical),
    );
    let answer = ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook"}),
    );
    assert_eq!(answer["operation"]["phase"], "Requested", "{answer}");
    assert_eq!(
        answer["operation"]["revision"], requested["sync"]["revision"],
        "the revision it requested, not the previous one's result"
    );
    assert_eq!(answer["operation"]["finishedAt"], "");
    assert_eq!(answer["summary"]["operation"], "Requested");

    // An answer without `operation` does not show what started: still not the previous state.
    let mut bare = parse(recorded!("sync/guestbook-started.json"));
    bare.as_object_mut().unwrap().remove("operation");
    bare["status"]["operationState"] = json!({"phase": "Failed", "message": "one or more objects failed to apply",
                                              "operation": {"sync": {"revision": "v1"}}});
    let fixture = argocd().on_json(
        "POST",
        "/api/v1/applications/guestbook/sync",
        &bare.to_string(),
    );
    let answer = ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "guestbook", "revision": "v2"}),
    );
    assert_eq!(
        (
            answer["operation"]["phase"].as_str(),
            answer["operation"]["revision"].as_str()
        ),
        (Some("Requested"), Some("v2")),
        "{answer}"
    );
    assert!(
        answer["operation"]["message"]
            .as_str()
            .unwrap()
            .contains("follow it with get_application"),
        "{answer}"
    );
    assert_eq!(answer["summary"]["operation"], "Requested");
}
