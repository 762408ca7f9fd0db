//! How failures reach the agent: Argo CD's error answers (HTTP status, gRPC code, message, what
//! to do), bodies that are not JSON, requests that fail on the way, and the target a call
//! addresses.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::http::HttpError;
use capstan_sdk::json;

use super::{APPS, BASE, argocd, fails, ok, recorded};

const GUESTBOOK: &str = "/api/v1/applications/guestbook";

#[test]
fn argo_cd_errors_become_messages_with_status_code_and_advice() {
    let fixture = argocd()
        .on_status_json(
            "GET",
            "/api/v1/applications/nope",
            404,
            recorded!("apps/nope-404.json"),
        )
        .on_status_json("GET", GUESTBOOK, 403, recorded!("errors/403.json"))
        .on_status_json("GET", APPS, 500, recorded!("errors/500.json"));
    assert_eq!(
        fails(
            &fixture,
            "get_application",
            json!({"applicationName": "nope"})
        ),
        "Argo CD (target `prod`) answered HTTP 404 (gRPC code 5 NotFound) to GET \
         /api/v1/applications/nope: applications.argoproj.io \"nope\" not found. No application \
         `nope` exists there (or the object asked about is not part of it); find the right name, \
         and applicationNamespace for apps outside Argo CD's namespace, with list_applications."
    );
    assert_eq!(
        fails(
            &fixture,
            "get_application",
            json!({"applicationName": "guestbook"})
        ),
        "Argo CD (target `prod`) answered HTTP 403 (gRPC code 7 PermissionDenied) to GET \
         /api/v1/applications/guestbook: permission denied: applications, get, default/guestbook, \
         sub: capstan, iat: 2026-08-20T09:00:00Z. The token lacks Argo CD RBAC permission for this \
         request; check with can_i, and ask an Argo CD admin for the permission on the \
         application's project."
    );
    assert_eq!(
        fails(&fixture, "list_applications", json!({})),
        "Argo CD (target `prod`) answered HTTP 500 (gRPC code 13 Internal) to GET \
         /api/v1/applications: rpc error: code = Internal desc = repository server is overloaded. \
         Argo CD failed on its side; retry later or check the argocd-server and repo-server logs."
    );
}

#[test]
fn a_401_points_at_the_targets_auth_and_other_statuses_quote_the_body() {
    let fixture = argocd()
        .on_status_json(
            "GET",
            "/api/v1/session/userinfo",
            401,
            recorded!("errors/401.json"),
        )
        .on("GET", "/api/version", 429, "Too Many Requests\n");
    let rejected = fails(&fixture, "get_user_info", json!({}));
    assert!(
        rejected.starts_with(
            "Argo CD (target `prod`) answered HTTP 401 (gRPC code 16 Unauthenticated) to GET /api/v1/session/userinfo: "
        ) && rejected.ends_with(
            "check the `auth` of target `prod` in the capstan manifest (the token may have expired)."
        ),
        "{rejected}"
    );
    assert_eq!(
        fails(&fixture, "get_version", json!({})),
        "Argo CD (target `prod`) answered HTTP 429 to GET /api/version: Too Many Requests."
    );
}

#[test]
fn a_body_that_is_not_json_is_reported_with_its_start() {
    let fixture = argocd().on_json(
        "GET",
        "/api/v1/applications/guestbook/resource-tree",
        recorded!("errors/malformed.html"),
    );
    assert_eq!(
        fails(
            &fixture,
            "get_application_resource_tree",
            json!({"applicationName": "guestbook"})
        ),
        "Argo CD target `prod` answered GET /api/v1/applications/guestbook/resource-tree with a body \
         that is not JSON (expected value at line 1 column 1): \"<html><body>upstream proxy \
         error</body></html>\". Check that the target's URL (and path prefix) points at the Argo CD \
         API server and not at a proxy or login page."
    );
    let list = argocd().on_json("GET", APPS, recorded!("errors/malformed.html"));
    assert!(fails(&list, "list_applications", json!({})).contains("not JSON"));
    let detail = argocd().on_json("GET", APPS, recorded!("errors/malformed.html"));
    assert!(fails(&detail, "list_applications", json!({"detail": true})).contains("not JSON"));
}

#[test]
fn requests_that_fail_on_the_way_say_why_and_what_to_do() {
    let url = format!("{BASE}{GUESTBOOK}");
    let fixture = argocd().on_error(
        "GET",
        GUESTBOOK,
        HttpError::Transport {
            url: url.clone(),
            message: "ConnectionReadTimeout".into(),
        },
    );
    assert_eq!(
        fails(
            &fixture,
            "get_application",
            json!({"applicationName": "guestbook"})
        ),
        format!(
            "GET /api/v1/applications/guestbook to Argo CD target `prod` failed: request to {url} \
             failed: ConnectionReadTimeout. Argo CD did not answer in time: retry later, narrow the \
             request, or raise the target's `timeout` in the capstan manifest."
        )
    );
    let refused = argocd().on_error("GET", GUESTBOOK, HttpError::Denied { url: url.clone() });
    let message = fails(
        &refused,
        "get_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        message.contains("capstan refused the request")
            && message.ends_with(
                "capstan's egress policy refused it: the URL is outside the instance's targets."
            ),
        "{message}"
    );
    let unreachable = argocd().on_error(
        "GET",
        GUESTBOOK,
        HttpError::Transport {
            url,
            message: "DestinationNotFound".into(),
        },
    );
    let message = fails(
        &unreachable,
        "get_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        message
            .ends_with("Check that Argo CD is reachable from capstan (URL, DNS, TLS) and retry."),
        "{message}"
    );
}

#[test]
fn a_call_picks_its_target_by_name_by_argocd_base_url_or_by_default() {
    let two = Fixture::new()
        .target("prod", BASE)
        .target("staging", "https://argocd.staging.example.com/")
        .on_json("GET", "/api/version", recorded!("catalog/version.json"));
    assert_eq!(
        fails(&two, "get_version", json!({})),
        "this instance has several targets (prod, staging); pass `target` to choose one"
    );
    assert_eq!(
        ok(&two, "get_version", json!({"target": "staging"}))["target"],
        "staging"
    );
    let by_url = ok(
        &two,
        "get_version",
        json!({"argocdBaseUrl": "https://ARGOCD.staging.example.com"}),
    );
    assert_eq!(
        by_url["target"], "staging",
        "argocd-mcp's argocdBaseUrl picks the target with that URL"
    );
    assert_eq!(
        ok(
            &two,
            "get_version",
            json!({"argocdBaseUrl": format!("{BASE}/"), "target": "staging"})
        )["target"],
        "staging",
        "`target` wins"
    );
    let urls: Vec<String> = two.requests().iter().map(|sent| sent.url.clone()).collect();
    assert_eq!(
        urls,
        [
            "https://argocd.staging.example.com/api/version",
            "https://argocd.staging.example.com/api/version",
            "https://argocd.staging.example.com/api/version",
        ]
    );
    let elsewhere = fails(
        &two,
        "get_version",
        json!({"argocdBaseUrl": "https://argocd.evil.example.com"}),
    );
    assert_eq!(
        elsewhere,
        "argocdBaseUrl `https://argocd.evil.example.com` is not one of this instance's Argo CD \
         targets (prod, staging); pass `target` with one of those names instead"
    );
    let unknown = fails(&two, "get_version", json!({"target": "dev"}));
    assert_eq!(
        unknown,
        "no target named `dev`; this instance has: prod, staging"
    );
    let defaulted = Fixture::new()
        .target("prod", BASE)
        .target("staging", "https://argocd.staging.example.com")
        .setting("default_target", "prod")
        .on_json("GET", "/api/version", recorded!("catalog/version.json"));
    assert_eq!(ok(&defaulted, "get_version", json!({}))["target"], "prod");
    assert_eq!(defaulted.requests()[0].url, format!("{BASE}/api/version"));
    assert_eq!(two.requests().len(), 3, "refusals send nothing");
}
