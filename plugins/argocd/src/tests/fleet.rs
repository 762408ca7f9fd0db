//! `fleet_applications`: one list per target, `concurrency` at a time, filtered by Argo CD and
//! then here, rows from every target sorted Degraded and OutOfSync first and paged, and a
//! partial answer when some targets fail (timed out, unreachable, token refused, another
//! status), an error only when none answers.
//!
//! The fixture answers `/api/v1/applications` once per request, in order: the targets are asked
//! in the order of the manifest (or of `targets`), so the n-th answer is the n-th target's.

use std::time::Duration;

use capstan_sdk::fixture::Fixture;
use capstan_sdk::http::HttpError;
use capstan_sdk::{Value, json};

use super::{APPS, fails, hosts, ok};

const TOOL: &str = "fleet_applications";

/// An Application as Argo CD lists it (only what the rows read, and some they skip).
fn app(name: &str, project: &str, health: &str, sync: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": project},
                     "managedFields": [{"manager": "argocd-server"}]},
        "spec": {"project": project,
                 "source": {"repoURL": "https://git.example.com/apps.git", "path": name, "targetRevision": "main"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": project}},
        "status": {"sync": {"status": sync, "revision": "4f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39"},
                   "health": {"status": health},
                   "resources": [{"kind": "Deployment", "name": name}]},
    })
}

fn list(apps: &[Value]) -> String {
    json!({"metadata": {"resourceVersion": "1"}, "items": apps}).to_string()
}

/// Targets `eu`, `us`, `ap` (in that order), no default.
fn fleet() -> Fixture {
    Fixture::new()
        .target("eu", "https://argocd-eu.example.com")
        .target("us", "https://argocd-us.example.com")
        .target("ap", "https://argocd-ap.example.com")
}

/// `eu`: two healthy apps; `us`: one Degraded, one OutOfSync, one healthy; `ap`: one
/// Progressing, one Degraded and OutOfSync.
fn three_lists(mut fixture: Fixture) -> Fixture {
    let lists = [
        vec![
            app("checkout", "payments", "Healthy", "Synced"),
            app("web", "shop", "Healthy", "Synced"),
        ],
        vec![
            app("checkout", "payments", "Degraded", "Synced"),
            app("ledger", "payments", "Healthy", "OutOfSync"),
            app("web", "shop", "Healthy", "Synced"),
        ],
        vec![
            app("web", "shop", "Progressing", "Synced"),
            app("ledger", "payments", "Degraded", "OutOfSync"),
        ],
    ];
    for apps in lists {
        fixture = fixture.on_json("GET", APPS, &list(&apps));
    }
    fixture
}

/// `target/name` of every row.
fn rows(answer: &Value) -> Vec<String> {
    answer["applications"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            format!(
                "{}/{}",
                row["target"].as_str().unwrap(),
                row["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn transport(host: &str, message: &str) -> HttpError {
    HttpError::Transport {
        url: format!("https://{host}/api/v1/applications"),
        message: message.into(),
    }
}

#[test]
fn every_target_lists_once_and_what_needs_attention_comes_first() {
    let fixture = three_lists(fleet());
    let answer = ok(&fixture, TOOL, json!({}));
    assert_eq!(
        hosts(&fixture),
        [
            "GET argocd-eu.example.com",
            "GET argocd-us.example.com",
            "GET argocd-ap.example.com",
        ]
    );
    assert_eq!(fixture.request_lines(), vec![format!("GET {APPS}"); 3]);
    assert_eq!(
        rows(&answer),
        [
            "ap/ledger",   // Degraded and OutOfSync
            "us/checkout", // Degraded
            "us/ledger",   // OutOfSync
            "ap/web",      // Progressing
            "eu/checkout",
            "eu/web",
            "us/web",
        ]
    );
    assert_eq!(
        answer["applications"][0],
        json!({"target": "ap", "name": "ledger", "project": "payments", "sync": "OutOfSync",
               "health": "Degraded", "revision": "4f1c2a9", "destination": "payments@in-cluster"})
    );
    assert_eq!(
        answer["targets"],
        json!({"asked": 3, "answered": 3, "failed": 0})
    );
    assert_eq!(answer["listed"], 7);
    assert_eq!(answer["total"], 7);
    assert_eq!(answer["hasMore"], false);
    assert_eq!(
        answer["counts"],
        json!({"health": {"Degraded": 2, "Healthy": 4, "Progressing": 1},
               "sync": {"OutOfSync": 2, "Synced": 5}})
    );
    assert_eq!(
        answer["byTarget"],
        json!([
            {"target": "eu", "listed": 2, "matched": 2, "health": {"Healthy": 2}, "sync": {"Synced": 2}},
            {"target": "us", "listed": 3, "matched": 3, "health": {"Degraded": 1, "Healthy": 2},
             "sync": {"OutOfSync": 1, "Synced": 2}},
            {"target": "ap", "listed": 2, "matched": 2, "health": {"Degraded": 1, "Progressing": 1},
             "sync": {"OutOfSync": 1, "Synced": 1}},
        ])
    );
    assert_eq!(answer["failed"], json!([]));
    assert!(answer.get("hint").is_none(), "{answer}");
}

#[test]
fn argo_cd_filters_by_project_selector_and_exact_name() {
    let fixture = fleet()
        .on_json(
            "GET",
            APPS,
            &list(&[app("ledger", "payments", "Healthy", "Synced")]),
        )
        // Argo CD answers NotFound when no application has the name: not a failure.
        .on_status_json(
            "GET",
            APPS,
            404,
            r#"{"error": "application 'ledger' not found", "code": 5, "message": "application 'ledger' not found"}"#,
        )
        .on_json(
            "GET",
            APPS,
            &list(&[app("ledger", "payments", "Degraded", "Synced")]),
        );
    let answer = ok(
        &fixture,
        TOOL,
        json!({"projects": ["payments", "pay ments"], "selector": "team=payments,env in (prod)",
               "applicationName": "ledger"}),
    );
    let query = "?projects=payments&projects=pay%20ments&selector=team%3Dpayments%2Cenv%20in%20%28prod%29&name=ledger";
    assert_eq!(
        fixture.request_lines(),
        vec![format!("GET {APPS}{query}"); 3]
    );
    assert_eq!(rows(&answer), ["ap/ledger", "eu/ledger"]);
    assert_eq!(answer["targets"]["failed"], 0);
    assert_eq!(
        answer["byTarget"][1],
        json!({"target": "us", "listed": 0, "matched": 0})
    );
}

#[test]
fn name_health_and_sync_filter_here_and_counts_cover_the_matches() {
    let fixture = three_lists(fleet());
    let answer = ok(
        &fixture,
        TOOL,
        json!({"name": "LEDG", "health": ["Degraded", "Missing"], "sync": ["OutOfSync"]}),
    );
    assert_eq!(
        fixture.request_lines(),
        vec![format!("GET {APPS}"); 3],
        "nothing of these goes to Argo CD"
    );
    assert_eq!(rows(&answer), ["ap/ledger"]);
    assert_eq!(answer["listed"], 7);
    assert_eq!(answer["total"], 1);
    assert_eq!(
        answer["counts"],
        json!({"health": {"Degraded": 1}, "sync": {"OutOfSync": 1}})
    );
    assert_eq!(
        answer["byTarget"][0],
        json!({"target": "eu", "listed": 2, "matched": 0})
    );
    let nothing = ok(&three_lists(fleet()), TOOL, json!({"health": ["Missing"]}));
    assert_eq!(nothing["total"], 0);
    assert!(nothing.get("counts").is_none(), "{nothing}");
}

#[test]
fn pages_run_across_targets_in_the_same_order() {
    let first = ok(&three_lists(fleet()), TOOL, json!({"limit": 3}));
    assert_eq!(rows(&first), ["ap/ledger", "us/checkout", "us/ledger"]);
    assert_eq!(
        (
            &first["total"],
            &first["returned"],
            &first["hasMore"],
            &first["nextOffset"]
        ),
        (&json!(7), &json!(3), &json!(true), &json!(3))
    );
    assert_eq!(
        first["hint"],
        "4 more applications match: call again with offset 3, or narrow with targets, projects, \
         selector, health or sync."
    );
    let second = ok(
        &three_lists(fleet()),
        TOOL,
        json!({"limit": 3, "offset": 3}),
    );
    assert_eq!(rows(&second), ["ap/web", "eu/checkout", "eu/web"]);
    assert_eq!(second["nextOffset"], 6);
    let last = ok(
        &three_lists(fleet()),
        TOOL,
        json!({"limit": 3, "offset": 6}),
    );
    assert_eq!(rows(&last), ["us/web"]);
    assert_eq!(last["hasMore"], false);
    assert!(last.get("nextOffset").is_none());
    assert_eq!(
        last["counts"], first["counts"],
        "counts cover every match, not the page"
    );
}

#[test]
fn targets_that_fail_are_named_with_why_and_the_others_still_answer() {
    let fixture = Fixture::new()
        .target("eu", "https://argocd-eu.example.com")
        .target("slow", "https://argocd-slow.example.com")
        .target("down", "https://argocd-down.example.com")
        .target("locked", "https://argocd-locked.example.com")
        .target("expired", "https://argocd-expired.example.com")
        .target("broken", "https://argocd-broken.example.com")
        .target("proxy", "https://argocd-proxy.example.com")
        .on_json(
            "GET",
            APPS,
            &list(&[app("web", "shop", "Degraded", "Synced")]),
        )
        .on_error(
            "GET",
            APPS,
            transport("argocd-slow.example.com", "ErrorCode::ConnectionTimeout"),
        )
        .on_error(
            "GET",
            APPS,
            transport("argocd-down.example.com", "ErrorCode::ConnectionRefused"),
        )
        .on_status_json(
            "GET",
            APPS,
            403,
            r#"{"error": "permission denied", "code": 7, "message": "permission denied"}"#,
        )
        .on_status_json(
            "GET",
            APPS,
            401,
            r#"{"error": "invalid session: token has invalid claims: token is expired", "code": 16}"#,
        )
        .on_status_json(
            "GET",
            APPS,
            503,
            r#"{"error": "unavailable", "code": 14, "message": "connection closed"}"#,
        )
        .on("GET", APPS, 200, "<html>Sign in</html>");
    let answer = ok(&fixture, TOOL, json!({}));
    assert_eq!(
        answer["targets"],
        json!({"asked": 7, "answered": 1, "failed": 6})
    );
    assert_eq!(rows(&answer), ["eu/web"]);
    let failed = answer["failed"].as_array().unwrap();
    let reasons: Vec<(&str, &str, Option<u64>)> = failed
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap(),
                f["reason"].as_str().unwrap(),
                f["status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("slow", "timeout", None),
            ("down", "unreachable", None),
            ("locked", "credentials", Some(403)),
            ("expired", "credentials", Some(401)),
            ("broken", "status", Some(503)),
            ("proxy", "invalid", Some(200)),
        ]
    );
    let message = |n: usize| failed[n]["message"].as_str().unwrap();
    assert!(
        message(0).starts_with("no answer in time (ErrorCode::ConnectionTimeout)")
            && message(0).contains("raise target `slow`'s `timeout`"),
        "{}",
        message(0)
    );
    assert!(
        message(1).starts_with("could not be reached (ErrorCode::ConnectionRefused)"),
        "{}",
        message(1)
    );
    assert!(
        message(2).starts_with(
            "refused the token (HTTP 403 (gRPC code 7 PermissionDenied): permission denied)"
        ) && message(2).contains("check the `auth` of target `locked`"),
        "{}",
        message(2)
    );
    assert!(
        message(3).contains("token is expired")
            && message(3).contains("check the `auth` of target `expired`"),
        "{}",
        message(3)
    );
    assert_eq!(
        message(4),
        "HTTP 503 (gRPC code 14 Unavailable): connection closed"
    );
    assert!(
        message(5).contains("not an Application list"),
        "{}",
        message(5)
    );
    assert_eq!(
        answer["hint"],
        "6 of 7 targets did not answer (see `failed`); the counts and rows cover the 1 that did."
    );
}

#[test]
fn no_target_answering_is_an_error_naming_each() {
    let fixture = fleet()
        .on_error(
            "GET",
            APPS,
            transport("argocd-eu.example.com", "ErrorCode::ConnectionTimeout"),
        )
        .on_status_json(
            "GET",
            APPS,
            403,
            r#"{"error": "permission denied", "code": 7}"#,
        )
        .on_error(
            "GET",
            APPS,
            transport("argocd-ap.example.com", "ErrorCode::ConnectionRefused"),
        );
    let message = fails(&fixture, TOOL, json!({}));
    assert!(
        message.starts_with("none of the 3 targets asked answered. eu: no answer in time"),
        "{message}"
    );
    assert!(
        message.contains("; us: refused the token (HTTP 403")
            && message.contains("; ap: could not be reached (ErrorCode::ConnectionRefused)"),
        "{message}"
    );
}

#[test]
fn named_targets_are_the_only_ones_asked_and_unknown_ones_send_nothing() {
    let fixture = fleet().on_json(
        "GET",
        APPS,
        &list(&[app("web", "shop", "Healthy", "Synced")]),
    );
    let answer = ok(&fixture, TOOL, json!({"targets": ["ap", "eu", "ap"]}));
    assert_eq!(
        hosts(&fixture),
        ["GET argocd-ap.example.com", "GET argocd-eu.example.com"]
    );
    assert_eq!(rows(&answer), ["ap/web", "eu/web"], "in the order named");
    let fixture = fleet();
    let message = fails(&fixture, TOOL, json!({"targets": ["eu", "asia"]}));
    assert_eq!(
        message,
        "no target named `asia`; this instance has: eu, us, ap"
    );
    assert!(fixture.requests().is_empty());
}

/// Seven targets all answering the same list.
fn seven() -> Fixture {
    let mut fixture = Fixture::new();
    for n in 0..7 {
        fixture = fixture.target(&format!("t{n}"), &format!("https://argocd-{n}.example.com"));
    }
    fixture.on_json(
        "GET",
        APPS,
        &list(&[app("web", "shop", "Healthy", "Synced")]),
    )
}

fn progress(fixture: &Fixture) -> Vec<f64> {
    fixture.progress().iter().map(|p| p.done).collect()
}

#[test]
fn targets_are_asked_concurrency_at_a_time() {
    let fixture = seven();
    let answer = ok(&fixture, TOOL, json!({"concurrency": 3}));
    assert_eq!(answer["targets"]["answered"], 7);
    assert_eq!(progress(&fixture), [3.0, 6.0, 7.0], "three waves");
    assert_eq!(
        fixture.progress()[0].message.as_deref(),
        Some("3 of 7 targets answered")
    );

    let fixture = seven().setting("fleet_concurrency", "4");
    ok(&fixture, TOOL, json!({}));
    assert_eq!(progress(&fixture), [4.0, 7.0], "the manifest's default");

    let fixture = seven();
    ok(&fixture, TOOL, json!({}));
    assert!(
        progress(&fixture).is_empty(),
        "sixteen at a time: one wave, no progress"
    );

    let timeouts: Vec<_> = fixture.requests().iter().map(|sent| sent.timeout).collect();
    assert_eq!(
        timeouts,
        [Some(Duration::from_secs(10)); 7],
        "the default per target"
    );
    let fixture = seven();
    ok(&fixture, TOOL, json!({"targetTimeoutSeconds": 2.5}));
    assert!(
        fixture
            .requests()
            .iter()
            .all(|sent| sent.timeout == Some(Duration::from_millis(2500)))
    );

    let fixture = seven().setting("fleet_concurrency", "100");
    let message = fails(&fixture, TOOL, json!({}));
    assert_eq!(
        message,
        "the manifest's [config] fleet_concurrency = `100` is not a number from 1 to 64; fix it, or pass `concurrency`"
    );
    assert!(fixture.requests().is_empty());
}
