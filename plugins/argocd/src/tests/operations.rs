//! refresh_application, get_application_history, rollback_application and
//! terminate_operation: the requests they send and Argo CD's refusals.

use capstan_sdk::json;

use super::{argocd, fails, ok, parse, recorded};

const GUESTBOOK: &str = "/api/v1/applications/guestbook";

#[test]
fn refresh_asks_for_a_normal_or_hard_refresh() {
    let fixture = argocd().on_json("GET", GUESTBOOK, recorded!("apps/guestbook.json"));
    let refreshed = ok(
        &fixture,
        "refresh_application",
        json!({"applicationName": "guestbook"}),
    );
    assert_eq!(refreshed["summary"]["name"], "guestbook");
    assert!(refreshed["operation"].is_null());
    ok(
        &fixture,
        "refresh_application",
        json!({"applicationName": "guestbook", "kind": "hard", "appNamespace": "argocd"}),
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/guestbook?refresh=normal",
            "GET /api/v1/applications/guestbook?appNamespace=argocd&refresh=hard"
        ]
    );
}

#[test]
fn history_lists_deployments_newest_first_with_commit_metadata() {
    let app = parse(recorded!("apps/search-api.json"));
    let revisions: Vec<String> = app["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["revision"].as_str().unwrap().to_owned())
        .collect();
    let metadata = |n: usize| {
        format!(
            "/api/v1/applications/search-api/revisions/{}/metadata",
            revisions[n]
        )
    };
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/search-api",
            recorded!("apps/search-api.json"),
        )
        .on_json(
            "GET",
            &metadata(0),
            recorded!("operations/search-api-revision-0.json"),
        )
        .on_json(
            "GET",
            &metadata(1),
            recorded!("operations/search-api-revision-1.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/cert-manager",
            recorded!("apps/cert-manager.json"),
        );
    let history = ok(
        &fixture,
        "get_application_history",
        json!({"applicationName": "search-api"}),
    );
    let entries = history["history"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["id"], 2, "newest first");
    assert_eq!(history["current"], entries[0]["revision"]);
    assert_eq!(entries[0]["revision"], revisions[1]);
    let commit = &entries[0]["commit"];
    assert!(commit["author"].as_str().unwrap().contains('@'), "{commit}");
    assert_eq!(
        commit,
        &json!({"author": commit["author"], "date": commit["date"], "message": commit["message"], "tags": commit["tags"]})
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/search-api".to_owned(),
            format!("GET {}", metadata(1)),
            format!("GET {}", metadata(0))
        ]
    );

    let fixture_limit = argocd().on_json(
        "GET",
        "/api/v1/applications/search-api",
        recorded!("apps/search-api.json"),
    );
    let bare = ok(
        &fixture_limit,
        "get_application_history",
        json!({"applicationName": "search-api", "limit": 1, "metadata": false}),
    );
    assert_eq!(bare["history"].as_array().unwrap().len(), 1);
    assert!(bare["history"][0].get("commit").is_none());
    assert_eq!(fixture_limit.requests().len(), 1, "no metadata asked for");

    let helm = ok(
        &fixture,
        "get_application_history",
        json!({"applicationName": "cert-manager"}),
    );
    assert!(
        helm["history"][0].get("commit").is_none(),
        "no commit metadata for charts"
    );
    assert_eq!(fixture.requests().len(), 4);
}

#[test]
fn missing_commit_metadata_is_reported_per_entry() {
    let app = parse(recorded!("apps/search-api.json"));
    let newest = app["status"]["history"][1]["revision"]
        .as_str()
        .unwrap()
        .to_owned();
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/search-api",
            recorded!("apps/search-api.json"),
        )
        .on_status_json(
            "GET",
            &format!("/api/v1/applications/search-api/revisions/{newest}/metadata"),
            404,
            recorded!("apps/nope-404.json"),
        );
    let history = ok(
        &fixture,
        "get_application_history",
        json!({"applicationName": "search-api", "limit": 1}),
    );
    let error = history["history"][0]["commitError"].as_str().unwrap();
    assert!(
        error.contains("HTTP 404")
            && error.ends_with(&format!("Argo CD does not know revision {newest}.")),
        "{error}"
    );
}

#[test]
fn rollback_goes_to_the_previous_deployment() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/helm-guestbook",
            recorded!("apps/helm-guestbook.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applications/helm-guestbook/rollback",
            recorded!("operations/helm-guestbook-rolled-back.json"),
        );
    let rolled = ok(
        &fixture,
        "rollback_application",
        json!({"applicationName": "helm-guestbook", "prune": true}),
    );
    let previous = &parse(recorded!("apps/helm-guestbook.json"))["status"]["history"][0];
    assert_eq!(rolled["rolledBackTo"]["id"], 1);
    assert_eq!(rolled["rolledBackTo"]["revision"], previous["revision"]);
    assert_eq!(rolled["operation"]["phase"], "Running");
    assert!(
        rolled.get("automatedSync").is_none(),
        "automated sync was off, so nothing is said about it: {rolled}"
    );
    let sent = fixture.requests().pop().unwrap();
    assert_eq!(
        sent.line(),
        "POST /api/v1/applications/helm-guestbook/rollback"
    );
    assert_eq!(
        sent.json(),
        json!({"name": "helm-guestbook", "id": 1, "prune": true})
    );
    ok(
        &fixture,
        "rollback_application",
        json!({"applicationName": "helm-guestbook", "id": 2, "dryRun": true, "applicationNamespace": "argocd"}),
    );
    assert_eq!(
        fixture.requests().pop().unwrap().json(),
        json!({"name": "helm-guestbook", "id": 2, "appNamespace": "argocd", "dryRun": true})
    );
    let count = fixture.requests().len();
    let missing = fails(
        &fixture,
        "rollback_application",
        json!({"applicationName": "helm-guestbook", "id": 42}),
    );
    assert_eq!(
        missing,
        "helm-guestbook has no such earlier deployment; get_application_history lists the ids"
    );
    assert_eq!(
        fixture.requests().len(),
        count + 1,
        "only the application was read"
    );
}

#[test]
fn terminate_stops_a_running_operation_and_says_when_none_runs() {
    let fixture = argocd()
        .on_status_json(
            "DELETE",
            "/api/v1/applications/guestbook/operation",
            400,
            recorded!("operations/terminate-idle-400.json"),
        )
        .on_json(
            "DELETE",
            "/api/v1/applications/guestbook/operation?appNamespace=argocd",
            recorded!("operations/terminated-200.json"),
        );
    let idle = fails(
        &fixture,
        "terminate_operation",
        json!({"applicationName": "guestbook"}),
    );
    assert!(idle.contains("No operation is in progress"), "{idle}");
    let stopped = ok(
        &fixture,
        "terminate_operation",
        json!({"applicationName": "guestbook", "appNamespace": "argocd"}),
    );
    assert_eq!(
        stopped,
        json!({"target": "prod", "application": "guestbook", "terminated": true})
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "DELETE /api/v1/applications/guestbook/operation",
            "DELETE /api/v1/applications/guestbook/operation?appNamespace=argocd"
        ]
    );
}
