//! A call that names an application but no target, on an instance with several Argo CD
//! targets and no default: the target holding it is found with one GET per target.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::http::HttpError;
use capstan_sdk::json;

use super::{fails, hosts, ok, recorded};

const APP: &str = "/api/v1/applications/helm-guestbook";

/// Three targets, no default; the fixture answers the application's path once per request, in
/// order (the targets are asked in the order of the manifest).
fn fleet() -> Fixture {
    Fixture::new()
        .target("eu", "https://argocd-eu.example.com")
        .target("us", "https://argocd-us.example.com")
        .target("ap", "https://argocd-ap.example.com")
}

fn not_found() -> &'static str {
    r#"{"error": "applications.argoproj.io \"helm-guestbook\" not found", "code": 5}"#
}

#[test]
fn the_one_target_that_holds_the_application_answers_the_call() {
    let app = recorded!("apps/helm-guestbook.json");
    let fixture = fleet()
        .on_status_json("GET", APP, 404, not_found())
        .on_json("GET", APP, app)
        .on_status_json(
            "GET",
            APP,
            403,
            r#"{"error": "permission denied", "code": 7}"#,
        )
        .on_json("GET", APP, app);
    let answer = ok(
        &fixture,
        "refresh_application",
        json!({"applicationName": "helm-guestbook"}),
    );
    assert_eq!(answer["target"], "us", "{answer}");
    assert_eq!(
        hosts(&fixture),
        [
            "GET argocd-eu.example.com",
            "GET argocd-us.example.com",
            "GET argocd-ap.example.com",
            "GET argocd-us.example.com",
        ]
    );
}

#[test]
fn an_application_on_several_targets_asks_the_caller_to_choose() {
    let app = recorded!("apps/helm-guestbook.json");
    let fixture = fleet()
        .on_json("GET", APP, app)
        .on_status_json("GET", APP, 404, not_found())
        .on_json("GET", APP, app);
    let message = fails(
        &fixture,
        "sync_application",
        json!({"applicationName": "helm-guestbook"}),
    );
    assert_eq!(
        message,
        "application `helm-guestbook` exists on several targets (eu, ap); pass `target` to choose one"
    );
    assert_eq!(fixture.requests().len(), 3, "nothing was synced");
}

#[test]
fn an_application_found_nowhere_names_the_targets_that_could_not_answer() {
    let fixture = fleet()
        .on_status_json("GET", APP, 404, not_found())
        .on_error(
            "GET",
            APP,
            HttpError::Transport {
                url: "https://argocd-us.example.com/api/v1/applications/helm-guestbook".into(),
                message: "connection refused".into(),
            },
        )
        .on_status_json("GET", APP, 503, r#"{"error": "unavailable"}"#)
        .on_status_json("GET", APP, 404, not_found());
    let message = fails(
        &fixture,
        "get_application",
        json!({"applicationName": "helm-guestbook"}),
    );
    assert!(
        message.starts_with("no application `helm-guestbook` on any target (eu, us, ap)"),
        "{message}"
    );
    assert!(message.contains("us: request to https://argocd-us.example.com/api/v1/applications/helm-guestbook failed: connection refused"), "{message}");
    assert!(message.contains("ap: HTTP 503"), "{message}");
}

#[test]
fn a_named_target_or_a_default_is_used_without_looking() {
    let app = recorded!("apps/helm-guestbook.json");
    let fixture = fleet().on_json("GET", APP, app);
    let answer = ok(
        &fixture,
        "refresh_application",
        json!({"applicationName": "helm-guestbook", "target": "ap"}),
    );
    assert_eq!(answer["target"], "ap");
    assert_eq!(hosts(&fixture), ["GET argocd-ap.example.com"]);
    let fixture = fleet()
        .setting("default_target", "eu")
        .on_json("GET", APP, app);
    ok(
        &fixture,
        "refresh_application",
        json!({"applicationName": "helm-guestbook"}),
    );
    assert_eq!(hosts(&fixture), ["GET argocd-eu.example.com"]);
}
