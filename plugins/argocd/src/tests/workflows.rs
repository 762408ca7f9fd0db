//! The workflow tools: applications from a repository's directories (a dry run until asked),
//! deploy_and_watch (progress, the deadline and the rollback on the virtual clock), and
//! diagnose_application on the demo's degraded applications.

use std::time::Duration;

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Value, json};

use super::{APPS, argocd, ok, parse, recorded, replay};

const PLATFORM_APPS: &str =
    "/api/v1/repositories/https%3A%2F%2Fgithub.com%2Fexample-org%2Fplatform-apps.git/apps";
const SEARCH_API: &str = "/api/v1/applications/search-api";
const HELM_GUESTBOOK: &str = "/api/v1/applications/helm-guestbook";

fn created(fixture: Fixture) -> Fixture {
    [
        recorded!("workflows/created-platform-external-dns.json"),
        recorded!("workflows/created-platform-kyverno.json"),
        recorded!("workflows/created-platform-sealed-secrets.json"),
        recorded!("workflows/created-platform-velero.json"),
        recorded!("workflows/created-platform-root.json"),
    ]
    .into_iter()
    .fold(fixture, |fixture, answer| {
        fixture.on_json("POST", APPS, answer)
    })
}

#[test]
fn applications_from_directories_are_a_dry_run_until_asked() {
    let fixture = created(argocd().on_json(
        "GET",
        PLATFORM_APPS,
        recorded!("workflows/platform-apps-platform.json"),
    ))
    .on_status_json(
        "POST",
        APPS,
        400,
        recorded!("workflows/create-existing-400.json"),
    );
    let arguments = json!({"repo": "https://github.com/example-org/platform-apps.git", "path": "apps",
                           "project": "platform", "namePrefix": "platform-",
                           "appOfApps": "platform-root", "appOfAppsPath": "bootstrap"});
    let plan = ok(
        &fixture,
        "create_applications_from_directories",
        arguments.clone(),
    );
    assert_eq!(plan["dryRun"], true);
    assert_eq!(
        super::names(&plan, "applications"),
        [
            "platform-external-dns",
            "platform-kyverno",
            "platform-sealed-secrets",
            "platform-velero",
            "platform-root"
        ]
    );
    assert_eq!(
        plan["applications"][0],
        json!({"name": "platform-external-dns", "path": "apps/external-dns", "project": "platform", "automated": false,
               "destination": {"server": "https://kubernetes.default.svc", "namespace": "external-dns"}})
    );
    assert_eq!(
        plan["next"],
        "Nothing was created. Call again with dryRun: false to create these applications."
    );
    assert_eq!(
        fixture.request_lines(),
        [format!("GET {PLATFORM_APPS}?appProject=platform")],
        "a dry run writes nothing"
    );

    let mut create = arguments;
    create["dryRun"] = json!(false);
    let done = ok(&fixture, "create_applications_from_directories", create);
    assert_eq!(done["created"].as_array().unwrap().len(), 5);
    assert_eq!(done["failed"], json!([]));
    let sent = fixture.requests();
    let posted: Vec<Value> = sent[2..].iter().map(|sent| sent.json()).collect();
    assert_eq!(posted.len(), 5);
    assert_eq!(
        posted[3],
        json!({"metadata": {"name": "platform-velero", "namespace": "argocd",
                            "labels": {"app.kubernetes.io/part-of": "platform-root"}},
               "spec": {"project": "platform",
                        "source": {"repoURL": "https://github.com/example-org/platform-apps.git",
                                   "path": "apps/velero", "targetRevision": "HEAD"},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": "velero"},
                        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}})
    );
    assert_eq!(posted[4]["spec"]["source"]["path"], "bootstrap");
    assert_eq!(
        posted[4]["spec"]["destination"],
        json!({"server": "https://kubernetes.default.svc", "namespace": "argocd"})
    );

    let again = ok(
        &fixture,
        "create_applications_from_directories",
        json!({"repo": "https://github.com/example-org/platform-apps.git", "path": "apps",
               "namePrefix": "platform-", "dryRun": false, "automated": true, "revision": "main",
               "destinationName": "prod-eu-west-1"}),
    );
    let failed = again["failed"].as_array().unwrap();
    assert_eq!(
        failed.len(),
        4,
        "existing apps with another spec are reported, not replaced"
    );
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("existing application spec is different"),
        "{failed:?}"
    );
    let sent = fixture.requests();
    assert_eq!(sent[7].line(), format!("GET {PLATFORM_APPS}?revision=main"));
    let body = sent[8].json();
    assert_eq!(body["spec"]["project"], "default");
    assert_eq!(
        body["spec"]["syncPolicy"],
        json!({"syncOptions": ["CreateNamespace=true"], "automated": {"prune": true, "selfHeal": true}})
    );
    assert_eq!(
        body["spec"]["destination"],
        json!({"name": "prod-eu-west-1", "namespace": "external-dns"})
    );
    assert_eq!(body["spec"]["source"]["targetRevision"], "main");
    assert_eq!(sent.len(), 12);
}

#[test]
fn no_directories_under_the_path_is_an_error() {
    let fixture = argocd().on_json(
        "GET",
        PLATFORM_APPS,
        recorded!("workflows/platform-apps-platform.json"),
    );
    let message = super::fails(
        &fixture,
        "create_applications_from_directories",
        json!({"repo": "https://github.com/example-org/platform-apps.git", "path": "charts"}),
    );
    assert_eq!(
        message,
        "Argo CD finds no application directories directly under `charts` in \
         https://github.com/example-org/platform-apps.git; list_repository_apps shows where they are"
    );
}

/// The events of the steps of a deploy_and_watch answer.
fn events(answer: &Value) -> Vec<String> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["event"].as_str().unwrap().to_owned())
        .collect()
}

fn seconds(answer: &Value) -> Vec<f64> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["seconds"].as_f64().unwrap())
        .collect()
}

fn search_api_deploy() -> Fixture {
    search_api_deploy_after(recorded!("workflows/search-api-sync.json"), &[])
}

/// The recorded deploy of search-api, with Argo CD answering the sync with `synced` and the
/// first reads with `early` before the recorded ones.
fn search_api_deploy_after(synced: &str, early: &[&str]) -> Fixture {
    let fixture = argocd().on_json("POST", "/api/v1/applications/search-api/sync", synced);
    early
        .iter()
        .fold(fixture, |fixture, read| {
            fixture.on_json("GET", SEARCH_API, read)
        })
        .on_json(
            "GET",
            SEARCH_API,
            recorded!("workflows/search-api-get-1.json"),
        )
        .on_json(
            "GET",
            SEARCH_API,
            recorded!("workflows/search-api-get-2.json"),
        )
        .on_json(
            "GET",
            SEARCH_API,
            recorded!("workflows/search-api-get-3.json"),
        )
}

#[test]
fn deploy_and_watch_reports_progress_until_healthy() {
    let fixture = search_api_deploy();
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "search-api", "revision": "v3.9.0", "pollSeconds": 0.1, "timeoutSeconds": 20}),
    );
    let deployed = parse(recorded!("workflows/search-api-get-3.json"));
    let revision = deployed["status"]["sync"]["revision"].as_str().unwrap();
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    assert_eq!(answer["revision"], revision);
    assert_eq!(answer["summary"]["sync"], "Synced");
    assert_eq!(
        answer["summary"]["revision"], answer["revision"],
        "the summary names the revision now deployed"
    );
    assert_eq!(
        events(&answer),
        [
            format!("sync started to revision {revision}"),
            "operation Running, sync Synced, health Progressing".to_owned(),
            "operation Succeeded, sync Synced, health Progressing".to_owned(),
            "operation Succeeded, sync Synced, health Healthy".to_owned(),
        ]
    );
    assert_eq!(seconds(&answer), [0.0, 0.1, 0.2, 0.3]);
    let progress = fixture.progress();
    let reported: Vec<(f64, Option<f64>, String)> = progress
        .iter()
        .map(|p| (p.done, p.total, p.message.clone().unwrap()))
        .collect();
    let expected: Vec<(f64, Option<f64>, String)> = events(&answer)
        .into_iter()
        .enumerate()
        .map(|(n, event)| (n as f64 + 1.0, None, event))
        .collect();
    assert_eq!(reported, expected, "one progress report per step");
    assert_eq!(fixture.slept(), Duration::from_millis(300));
    let sent = fixture.requests();
    assert_eq!(
        fixture.request_lines(),
        [
            "POST /api/v1/applications/search-api/sync",
            "GET /api/v1/applications/search-api",
            "GET /api/v1/applications/search-api",
            "GET /api/v1/applications/search-api",
        ]
    );
    assert_eq!(
        sent[0].json(),
        json!({"name": "search-api", "revision": "v3.9.0"})
    );
}

#[test]
fn deploy_and_watch_stops_at_the_deadline() {
    let fixture = argocd()
        .on_json(
            "POST",
            "/api/v1/applications/search-api/sync",
            recorded!("workflows/search-api-sync.json"),
        )
        .on_json(
            "GET",
            SEARCH_API,
            recorded!("workflows/search-api-get-1.json"),
        );
    let timed = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "search-api", "pollSeconds": 0.5, "timeoutSeconds": 1}),
    );
    assert_eq!(timed["outcome"], "TimedOut", "{timed}");
    assert_eq!(
        events(&timed)[1..],
        [
            "operation Running, sync Synced, health Progressing",
            "stopped watching after 1 seconds"
        ]
    );
    assert_eq!(seconds(&timed), [0.0, 0.5, 1.0]);
    assert_eq!(fixture.slept(), Duration::from_secs(1));
    assert_eq!(
        fixture.requests().len(),
        3,
        "a look at 0.5 s and one at 1 s"
    );

    // The defaults: a look every 3 seconds while it fits in 25.
    let defaults = progressing_search_api(argocd());
    let timed = ok(
        &defaults,
        "deploy_and_watch",
        json!({"applicationName": "search-api"}),
    );
    assert_eq!(timed["outcome"], "TimedOut");
    assert_eq!(
        events(&timed).last().unwrap(),
        "stopped watching after 25 seconds"
    );
    assert_eq!(seconds(&timed), [0.0, 3.0, 24.0]);
    assert_eq!(defaults.slept(), Duration::from_secs(24));
    assert_eq!(
        defaults.requests().len(),
        9,
        "the sync and eight looks, the last at 24 s"
    );
}

/// `fixture` answering a sync of search-api, whose health then stays Progressing.
fn progressing_search_api(fixture: Fixture) -> Fixture {
    fixture
        .on_json(
            "POST",
            "/api/v1/applications/search-api/sync",
            recorded!("workflows/search-api-sync.json"),
        )
        .on_json(
            "GET",
            SEARCH_API,
            recorded!("workflows/search-api-get-1.json"),
        )
}

#[test]
fn deploy_and_watch_watches_as_long_as_its_call_may_run() {
    // As an MCP task with ten minutes left, the watch goes on for nine (a tenth kept to answer).
    let fixture = progressing_search_api(argocd().time_limit(Duration::from_secs(600)));
    let timed = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "search-api"}),
    );
    assert_eq!(timed["outcome"], "TimedOut");
    assert_eq!(
        events(&timed).last().unwrap(),
        "stopped watching after 540 seconds"
    );
}

#[test]
fn deploy_and_watch_stops_at_a_failed_sync() {
    let fixture = argocd()
        .on_json(
            "POST",
            "/api/v1/applications/guestbook/sync",
            recorded!("workflows/guestbook-failing-sync.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook",
            recorded!("workflows/guestbook-failing-get-1.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook",
            recorded!("workflows/guestbook-failing-get-2.json"),
        );
    let failed = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.1}),
    );
    assert_eq!(failed["outcome"], "SyncFailed");
    assert_eq!(
        events(&failed)[2..],
        [
            "operation Failed, sync Synced, health Progressing",
            "sync failed: one or more objects failed to apply"
        ]
    );
    assert_eq!(fixture.requests().len(), 3);
    assert_eq!(fixture.progress().len(), 4);
}

fn degrading_deploy() -> Fixture {
    [
        recorded!("workflows/helm-guestbook-broken-get-1.json"),
        recorded!("workflows/helm-guestbook-broken-get-2.json"),
        recorded!("workflows/helm-guestbook-broken-get-3.json"),
        recorded!("workflows/helm-guestbook-rollback-get-1.json"),
        recorded!("workflows/helm-guestbook-rollback-get-2.json"),
        recorded!("workflows/helm-guestbook-rollback-get-3.json"),
    ]
    .into_iter()
    .fold(
        argocd().on_json(
            "POST",
            "/api/v1/applications/helm-guestbook/sync",
            recorded!("workflows/helm-guestbook-broken-sync.json"),
        ),
        |fixture, answer| fixture.on_json("GET", HELM_GUESTBOOK, answer),
    )
}

#[test]
fn deploy_and_watch_rolls_back_a_degraded_deployment_when_asked() {
    let fixture = degrading_deploy().on_json(
        "POST",
        "/api/v1/applications/helm-guestbook/rollback",
        recorded!("workflows/helm-guestbook-rollback.json"),
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "helm-guestbook", "revision": "broken", "pollSeconds": 0.1,
               "rollbackOnDegraded": true, "degradedGraceSeconds": 0}),
    );
    assert_eq!(answer["outcome"], "RolledBack", "{answer}");
    let settled = parse(recorded!("workflows/helm-guestbook-rollback-get-3.json"));
    let previous = &settled["status"]["history"][1];
    let events = events(&answer);
    assert_eq!(
        events[4],
        "Degraded for 0.0 s, past the 0 s grace period: Deployment has exceeded its progress deadline"
    );
    assert_eq!(
        events[5],
        format!(
            "degraded: rolling back to deployment 2 (revision {})",
            previous["revision"].as_str().unwrap()
        )
    );
    assert_eq!(
        events[6],
        format!(
            "rollback to deployment 2 (revision {}) requested",
            previous["revision"].as_str().unwrap()
        )
    );
    assert_eq!(
        answer["decision"]["reason"], events[4],
        "the decision that ended the watch"
    );
    assert_eq!(answer["decision"]["evidence"]["health"], "Degraded");
    assert_eq!(answer["rollback"]["to"]["id"], 2);
    assert!(
        answer.get("automatedSync").is_none(),
        "automated sync was off: {answer}"
    );
    assert_eq!(
        events[3],
        "operation Succeeded, sync Synced, health Degraded"
    );
    assert_eq!(
        events.last().unwrap(),
        "operation Succeeded, sync Synced, health Healthy"
    );
    assert_eq!(answer["summary"]["health"], "Healthy");
    assert_eq!(answer["summary"]["revision"], previous["revision"]);
    let lines = fixture.request_lines();
    assert_eq!(lines.len(), 8);
    assert_eq!(
        lines[4],
        "POST /api/v1/applications/helm-guestbook/rollback"
    );
    assert_eq!(
        fixture.requests()[4].json(),
        json!({"name": "helm-guestbook", "id": 2})
    );
    assert_eq!(fixture.slept(), Duration::from_millis(600));
}

#[test]
fn a_refused_rollback_or_none_asked_for_leaves_the_deployment_degraded() {
    let refused = degrading_deploy().on_status_json(
        "POST",
        "/api/v1/applications/helm-guestbook/rollback",
        400,
        recorded!("operations/rollback-auto-sync-400.json"),
    );
    let answer = ok(
        &refused,
        "deploy_and_watch",
        json!({"applicationName": "helm-guestbook", "pollSeconds": 0.1, "rollbackOnDegraded": true,
               "degradedGraceSeconds": 0}),
    );
    assert_eq!(answer["outcome"], "RollbackFailed");
    let last = events(&answer).pop().unwrap();
    assert!(
        last.starts_with("rollback refused: Argo CD (target `prod`) answered HTTP 400 (gRPC code 9 FailedPrecondition)"),
        "{last}"
    );
    assert_eq!(answer["summary"]["health"], "Degraded");
    let degraded = degrading_deploy();
    let answer = ok(
        &degraded,
        "deploy_and_watch",
        json!({"applicationName": "helm-guestbook", "pollSeconds": 0.1, "degradedGraceSeconds": 0}),
    );
    assert_eq!(answer["outcome"], "Degraded");
    assert!(
        degraded
            .request_lines()
            .iter()
            .all(|line| !line.contains("rollback"))
    );
}

fn causes(answer: &Value) -> Vec<&str> {
    answer["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap())
        .collect()
}

/// diagnose_application on `application` against a recorded exchange list: the causes, and
/// the answer after checking that it sent exactly the recorded requests.
fn diagnose(application: &str, bundle: &str) -> Value {
    let (fixture, recorded_lines) = replay(argocd(), bundle);
    let answer = ok(
        &fixture,
        "diagnose_application",
        json!({"applicationName": application}),
    );
    assert_eq!(fixture.request_lines(), recorded_lines);
    answer
}

#[test]
fn diagnose_names_the_causes_it_recognises() {
    let report = diagnose(
        "recommendations",
        recorded!("workflows/diagnose-recommendations.json"),
    );
    assert_eq!(causes(&report), ["CrashLoop", "WrongEnvironmentConfig"]);
    assert!(!report["events"].as_array().unwrap().is_empty());
    let logs = report["logs"].as_object().unwrap();
    assert_eq!(logs.len(), 2);
    assert!(
        logs.values()
            .all(|lines| !lines.as_array().unwrap().is_empty())
    );
    assert!(
        report["causes"][0]["advice"]
            .as_str()
            .unwrap()
            .contains("logs")
    );
    assert_eq!(
        report["causes"][1]["advice"],
        "The application is for `prod` but its configuration points at another environment: check the values, overlays or ConfigMaps it uses for that environment's hosts."
    );
    assert_eq!(report["summary"]["health"], "Degraded");
    assert_eq!(
        report["unhealthy"].as_array().unwrap().len(),
        4,
        "the Deployment, its ReplicaSet and two pods"
    );
    assert_eq!(
        causes(&diagnose(
            "kube-prometheus-stack",
            recorded!("workflows/diagnose-kube-prometheus-stack.json")
        )),
        ["OOMKilled", "CrashLoop"]
    );
    for (bundle, expected) in [
        (
            recorded!("workflows/diagnose-search-api-image-pull.json"),
            "ImagePullError",
        ),
        (
            recorded!("workflows/diagnose-search-api-probe-failed.json"),
            "ProbeFailure",
        ),
        (
            recorded!("workflows/diagnose-search-api-quota.json"),
            "QuotaOrLimitExceeded",
        ),
    ] {
        assert_eq!(causes(&diagnose("search-api", bundle)), [expected]);
    }
}

#[test]
fn diagnose_reports_evidence_it_could_not_read() {
    // The recorded diagnosis, with every event list and log refused.
    let mut fixture = argocd();
    for exchange in parse(recorded!("workflows/diagnose-recommendations.json"))
        .as_array()
        .unwrap()
    {
        let path = exchange["path"].as_str().unwrap();
        fixture = if path.contains("/events?") || path.contains("/logs?") {
            fixture.on_status_json("GET", path, 403, recorded!("errors/403.json"))
        } else {
            fixture.on_json("GET", path, &exchange["body"].to_string())
        };
    }
    let answer = ok(
        &fixture,
        "diagnose_application",
        json!({"applicationName": "recommendations"}),
    );
    assert_eq!(
        answer["events"],
        json!([]),
        "events that cannot be read are left out"
    );
    let logs = answer["logs"].as_object().unwrap();
    assert_eq!(logs.len(), 2);
    for lines in logs.values() {
        let line = lines[0].as_str().unwrap();
        assert!(
            line.starts_with("(logs unavailable: Argo CD (target `prod`) answered HTTP 403"),
            "{line}"
        );
    }
    assert_eq!(
        causes(&answer),
        ["CrashLoop"],
        "the pods' status still shows the crash loop; the logs that showed the environment are missing"
    );
}

/// Argo CD answers a sync request before its application controller starts the operation: the
/// answer, and a read right after it, still show the previous operation, Succeeded and Healthy.
/// The watch waits while `operation` is set instead of reporting the old success.
#[test]
fn deploy_and_watch_does_not_mistake_the_previous_operation_for_this_one() {
    let mut stale = parse(recorded!("workflows/search-api-get-3.json"));
    stale["operation"] = json!({"sync": {"revision": "v3.9.0"},
                                "initiatedBy": {"username": "capstan"}});
    let stale = stale.to_string();
    let fixture = search_api_deploy_after(&stale, &[&stale]);
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "search-api", "revision": "v3.9.0", "pollSeconds": 0.1, "timeoutSeconds": 20}),
    );
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    let events = events(&answer);
    assert_eq!(events[0], "sync started to revision v3.9.0");
    assert_eq!(
        events[1], "operation Requested, sync Synced, health Healthy",
        "{events:?}"
    );
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(fixture.request_lines().len(), 5, "every answer was read");
}

/// sync_application reports the operation it requested, not the previous one still in the
/// answer's status.
#[test]
fn sync_application_reports_the_requested_operation() {
    let mut stale = parse(recorded!("workflows/search-api-get-3.json"));
    stale["operation"] = json!({"sync": {"revision": "v3.9.0"},
                                "initiatedBy": {"username": "capstan"}});
    let fixture = argocd().on_json(
        "POST",
        "/api/v1/applications/search-api/sync",
        &stale.to_string(),
    );
    let answer = ok(
        &fixture,
        "sync_application",
        json!({"applicationName": "search-api", "revision": "v3.9.0"}),
    );
    assert_eq!(answer["operation"]["phase"], "Requested", "{answer}");
    assert_eq!(answer["operation"]["revision"], "v3.9.0");
    assert_eq!(answer["summary"]["operation"], "Requested");
}
