//! Deploying a version and rolling back the way clusters behave: deploy_and_watch changing Helm
//! parameters and values or Kustomize images first (merge patches of the spec, multi-source
//! applications by position), the grace period for a Degraded application, and rollbacks of
//! applications with automated sync (turned off first, reported, restored on request with
//! set_automated_sync). The answers are the recorded applications with the states each test
//! needs.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Value, json};

use super::{argocd, fails, ok, parse, recorded};

const GUESTBOOK: &str = "/api/v1/applications/guestbook";
const GUESTBOOK_SYNC: &str = "/api/v1/applications/guestbook/sync";
const GUESTBOOK_ROLLBACK: &str = "/api/v1/applications/guestbook/rollback";

/// The recorded guestbook (automated sync on with prune and selfHeal, Synced, Healthy, two
/// deployments) with `source` as its source of type `kind`.
fn guestbook(source: Value, kind: &str) -> Value {
    let mut app = parse(recorded!("apps/guestbook.json"));
    app["spec"]["source"] = source;
    app["status"]["sourceType"] = json!(kind);
    app
}

fn helm_source() -> Value {
    json!({"repoURL": "https://charts.example.com", "chart": "guestbook", "targetRevision": "1.2.0",
           "helm": {"releaseName": "guestbook",
                    "parameters": [{"name": "image.tag", "value": "0.1"}],
                    "valuesObject": {"replicaCount": 2}}})
}

fn kustomize_source() -> Value {
    json!({"repoURL": "https://github.com/example-org/shop-deploy.git", "path": "overlays/prod",
           "targetRevision": "main",
           "kustomize": {"images": ["ghcr.io/example-org/shop:1.2.3", "redis:7.2"]}})
}

/// `app` in the state a read shows: the operation's phase, the health (with a message when
/// Degraded), no operation requested.
fn state(app: &Value, phase: &str, health: &str) -> Value {
    let mut app = app.clone();
    if let Some(map) = app.as_object_mut() {
        map.remove("operation");
    }
    app["status"]["operationState"] = json!({"phase": phase, "message": "successfully synced (all tasks run)",
        "operation": {"sync": {"revision": "abc"}}, "syncResult": {"revision": "abc", "resources": []}});
    app["status"]["health"] = json!({"status": health});
    if health == "Degraded" {
        app["status"]["health"]["message"] = json!("Deployment has exceeded its progress deadline");
        app["status"]["resources"] = json!([
            {"kind": "Deployment", "group": "apps", "namespace": "guestbook", "name": "guestbook",
             "status": "Synced", "health": {"status": "Degraded", "message": "Deployment has exceeded its progress deadline"}},
            {"kind": "Service", "namespace": "guestbook", "name": "guestbook", "status": "Synced",
             "health": {"status": "Healthy"}}]);
    }
    app
}

/// `app` with automated sync as `automated`.
fn automated(app: &Value, automated: Value) -> Value {
    let mut app = app.clone();
    app["spec"]["syncPolicy"]["automated"] = automated;
    app
}

/// Argo CD's answer to a sync: the app with the operation requested.
fn sync_answer(app: &Value) -> String {
    let mut app = app.clone();
    app["operation"] = json!({"sync": {"revision": "abc"}, "initiatedBy": {"username": "capstan"}});
    app.to_string()
}

/// The reads a watch sees, in order.
fn reads(fixture: Fixture, reads: &[Value]) -> Fixture {
    reads.iter().fold(fixture, |fixture, read| {
        fixture.on_json("GET", GUESTBOOK, &read.to_string())
    })
}

/// `app` read, changed (PATCH) and synced, then Healthy.
fn changed_then_healthy(app: &Value) -> Fixture {
    reads(
        argocd()
            .on_json("GET", GUESTBOOK, &app.to_string())
            .on_json("PATCH", GUESTBOOK, &app.to_string())
            .on_json("POST", GUESTBOOK_SYNC, &sync_answer(app)),
        &[state(app, "Succeeded", "Healthy")],
    )
}

fn events(answer: &Value) -> Vec<String> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["event"].as_str().unwrap().to_owned())
        .collect()
}

/// The merge patch a PATCH request carried.
fn patch_of(sent: &capstan_sdk::fixture::Sent) -> Value {
    let body = sent.json();
    assert_eq!(body["patchType"], "merge", "{body}");
    serde_json::from_str(body["patch"].as_str().unwrap()).unwrap()
}

fn patches(fixture: &Fixture) -> Vec<Value> {
    fixture
        .requests()
        .iter()
        .filter(|sent| sent.line().starts_with("PATCH "))
        .map(patch_of)
        .collect()
}

#[test]
fn helm_parameters_and_values_are_merged_into_the_source_before_the_sync() {
    let app = guestbook(helm_source(), "Helm");
    let fixture = changed_then_healthy(&app);
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.1,
               "helmParameters": [{"name": "image.tag", "value": "0.2"},
                                  {"name": "replicaCount", "value": "3", "forceString": true}],
               "helmValues": "ingress:\n  enabled: true\n"}),
    );
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {GUESTBOOK}"),
            format!("PATCH {GUESTBOOK}"),
            format!("POST {GUESTBOOK_SYNC}"),
            format!("GET {GUESTBOOK}"),
        ],
        "the spec is changed before the sync"
    );
    let helm = &patches(&fixture)[0]["spec"]["source"]["helm"];
    assert_eq!(
        helm["parameters"],
        json!([{"name": "image.tag", "value": "0.2"},
               {"name": "replicaCount", "value": "3", "forceString": true}]),
        "merged by name, like `argocd app set -p`"
    );
    assert_eq!(helm["values"], "ingress:\n  enabled: true\n");
    assert_eq!(
        helm["valuesObject"],
        Value::Null,
        "valuesObject would win over values, so it is removed"
    );
    assert!(helm.get("valuesObject").is_some(), "sent as null: {helm}");
    assert_eq!(helm["releaseName"], "guestbook", "the rest is kept");
    let events = events(&answer);
    assert_eq!(
        events[0],
        "spec changed: helm parameter image.tag=0.2 (was 0.1), helm parameter replicaCount=3 (new), \
         helm values replaced (2 lines); valuesObject removed, since it would override them"
    );
    assert_eq!(answer["change"]["multiSource"], false);
    assert_eq!(answer["change"]["reverted"], false);
    assert_eq!(
        answer["change"]["undo"],
        json!({"tool": "update_application", "arguments": {
            "target": "prod", "applicationName": "guestbook",
            "application": {"spec": {"source": {"helm": {
                "parameters": [{"name": "image.tag", "value": "0.1"}],
                "values": null, "valuesObject": {"replicaCount": 2}}}}}}})
    );
    assert_eq!(fixture.progress().len(), events.len());
}

#[test]
fn kustomize_images_are_merged_by_name_and_refused_for_a_helm_source() {
    let app = guestbook(kustomize_source(), "Kustomize");
    let fixture = changed_then_healthy(&app);
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.1, "revision": "main",
               "kustomizeImages": ["ghcr.io/example-org/shop:1.3.0", "busybox:1.36"]}),
    );
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    assert_eq!(
        patches(&fixture)[0],
        json!({"spec": {"source": {"kustomize": {"images": [
            "ghcr.io/example-org/shop:1.3.0", "redis:7.2", "busybox:1.36"]}}}})
    );
    assert_eq!(
        events(&answer)[0],
        "spec changed: kustomize image ghcr.io/example-org/shop:1.3.0 (was ghcr.io/example-org/shop:1.2.3), \
         kustomize image busybox:1.36 (new)"
    );
    assert_eq!(
        fixture.requests()[2].json(),
        json!({"name": "guestbook", "revision": "main"})
    );

    let helm = argocd().on_json(
        "GET",
        GUESTBOOK,
        &guestbook(helm_source(), "Helm").to_string(),
    );
    let refused = fails(
        &helm,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "kustomizeImages": ["ghcr.io/example-org/shop:1.3.0"]}),
    );
    assert_eq!(
        refused,
        "guestbook is a Helm source; kustomizeImages apply to Kustomize sources only"
    );
    assert_eq!(helm.request_lines(), [format!("GET {GUESTBOOK}")]);
    let both = fails(
        &argocd(),
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "kustomizeImages": ["a:1"], "helmValues": "a: 1"}),
    );
    assert!(both.contains("not both"), "{both}");
}

fn multi_source(sources: Value, kinds: Value) -> Value {
    let mut app = parse(recorded!("apps/guestbook.json"));
    if let Some(spec) = app["spec"].as_object_mut() {
        spec.remove("source");
    }
    app["spec"]["sources"] = sources;
    app["status"]["sourceTypes"] = kinds;
    app
}

#[test]
fn a_multi_source_application_changes_the_source_it_names_or_asks_which() {
    let values = json!({"repoURL": "https://github.com/example-org/values.git", "targetRevision": "main", "ref": "values"});
    let app = multi_source(
        json!([helm_source(), values.clone()]),
        json!(["Helm", "Directory"]),
    );
    let fixture = changed_then_healthy(&app);
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.1,
               "helmParameters": [{"name": "image.tag", "value": "0.2"}]}),
    );
    let sources = &patches(&fixture)[0]["spec"]["sources"];
    assert_eq!(
        sources[0]["helm"]["parameters"],
        json!([{"name": "image.tag", "value": "0.2"}])
    );
    assert_eq!(
        sources[1], values,
        "a merge patch replaces lists whole: every source is sent"
    );
    assert_eq!(answer["change"]["multiSource"], true);
    assert_eq!(answer["change"]["sourcePosition"], 1);
    assert_eq!(
        events(&answer)[0],
        "spec changed: helm parameter image.tag=0.2 (was 0.1) on source 1 of 2 \
         (chart guestbook from https://charts.example.com) of the multi-source application"
    );
    assert_eq!(
        answer["change"]["undo"]["arguments"]["application"],
        json!({"spec": {"sources": [helm_source(), values]}})
    );

    // Two Helm sources: which one is not guessed.
    let mut other = helm_source();
    other["chart"] = json!("redis");
    let two = multi_source(json!([helm_source(), other]), json!(["Helm", "Helm"]));
    let fixture = argocd().on_json("GET", GUESTBOOK, &two.to_string());
    let message = fails(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "helmValues": "a: 1"}),
    );
    assert_eq!(
        message,
        "guestbook is a multi-source application with 2 Helm sources, so it is not clear which to change: \
         1: chart guestbook from https://charts.example.com (Helm); 2: chart redis from \
         https://charts.example.com (Helm). Pass sourcePosition (1-based) to name the source."
    );
    assert_eq!(fixture.request_lines(), [format!("GET {GUESTBOOK}")]);
    let message = fails(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "helmValues": "a: 1", "sourcePosition": 3}),
    );
    assert!(
        message.starts_with("guestbook has 2 sources, so sourcePosition must be 1 to 2"),
        "{message}"
    );
    let fixture = changed_then_healthy(&two);
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "helmValues": "a: 1", "sourcePosition": 2, "pollSeconds": 0.1}),
    );
    assert_eq!(answer["change"]["sourcePosition"], 2);
    let sources = &patches(&fixture)[0]["spec"]["sources"];
    assert_eq!(sources[1]["helm"]["values"], "a: 1");
    assert!(sources[0]["helm"].get("values").is_none());
}

#[test]
fn a_transient_degraded_within_the_grace_period_does_not_end_the_watch() {
    let app = automated(&guestbook(kustomize_source(), "Kustomize"), Value::Null);
    let fixture = reads(
        argocd().on_json("POST", GUESTBOOK_SYNC, &sync_answer(&app)),
        &[
            state(&app, "Running", "Progressing"),
            state(&app, "Succeeded", "Degraded"),
            state(&app, "Succeeded", "Degraded"),
            state(&app, "Succeeded", "Healthy"),
        ],
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.5, "degradedGraceSeconds": 2,
               "rollbackOnDegraded": true}),
    );
    assert_eq!(answer["outcome"], "Healthy", "{answer}");
    assert_eq!(
        events(&answer)[1..],
        [
            "operation Running, sync Synced, health Progressing",
            "operation Succeeded, sync Synced, health Degraded",
            "Degraded (Deployment has exceeded its progress deadline): within the 2 s grace period, watching on",
            "operation Succeeded, sync Synced, health Healthy",
            "recovered from Degraded after 1.0 s (health Healthy)",
        ]
    );
    assert_eq!(
        answer["decision"]["reason"],
        "Healthy: the operation Succeeded and the application is Healthy"
    );
    assert!(
        fixture
            .request_lines()
            .iter()
            .all(|line| !line.contains("rollback"))
    );
}

#[test]
fn a_sustained_degraded_ends_the_watch_after_the_grace_period_with_its_evidence() {
    let app = automated(&guestbook(kustomize_source(), "Kustomize"), Value::Null);
    let degraded = state(&app, "Succeeded", "Degraded");
    let fixture = reads(
        argocd().on_json("POST", GUESTBOOK_SYNC, &sync_answer(&app)),
        &[state(&app, "Running", "Progressing"), degraded.clone()],
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.5, "degradedGraceSeconds": 2}),
    );
    assert_eq!(answer["outcome"], "Degraded", "{answer}");
    let reason = "Degraded for 2.0 s, past the 2 s grace period: Deployment has exceeded its progress deadline";
    assert_eq!(answer["decision"]["reason"], reason);
    assert_eq!(events(&answer).last().unwrap(), reason);
    let evidence = &answer["decision"]["evidence"];
    assert_eq!(evidence["health"], "Degraded");
    assert_eq!(
        evidence["healthMessage"],
        "Deployment has exceeded its progress deadline"
    );
    assert_eq!(evidence["operation"]["phase"], "Succeeded");
    assert_eq!(
        evidence["failingResources"],
        json!([{"kind": "Deployment", "namespace": "guestbook", "name": "guestbook", "health": "Degraded",
                "message": "Deployment has exceeded its progress deadline"}])
    );
    assert_eq!(
        fixture.request_lines().len(),
        7,
        "the sync, a look at 0.5 s, then Degraded from 1 s to 3 s"
    );

    // The instance's setting replaces the default; the call's argument wins over both.
    let fixture = reads(
        argocd().setting("degraded_grace_seconds", "0").on_json(
            "POST",
            GUESTBOOK_SYNC,
            &sync_answer(&app),
        ),
        std::slice::from_ref(&degraded),
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.5}),
    );
    assert_eq!(answer["outcome"], "Degraded");
    assert_eq!(fixture.request_lines().len(), 2);

    // The deadline comes first: out of time, still within the grace period, nothing rolled back.
    let fixture = reads(
        argocd().on_json("POST", GUESTBOOK_SYNC, &sync_answer(&app)),
        &[degraded],
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.5, "timeoutSeconds": 2,
               "degradedGraceSeconds": 30, "rollbackOnDegraded": true}),
    );
    assert_eq!(answer["outcome"], "TimedOut", "{answer}");
    assert_eq!(
        answer["decision"]["reason"],
        "deadline: stopped watching after 2 seconds while Degraded for 1.5 s, within the 30 s grace \
         period (nothing rolled back): Deployment has exceeded its progress deadline"
    );
    assert!(
        fixture
            .request_lines()
            .iter()
            .all(|line| !line.contains("rollback"))
    );
}

#[test]
fn the_default_grace_period_leaves_room_for_a_rollback() {
    let app = automated(&guestbook(kustomize_source(), "Kustomize"), Value::Null);
    let fixture = reads(
        argocd().on_json("POST", GUESTBOOK_SYNC, &sync_answer(&app)),
        &[state(&app, "Succeeded", "Degraded")],
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 1, "timeoutSeconds": 9}),
    );
    assert_eq!(
        answer["decision"]["reason"],
        "Degraded for 3.0 s, past the 3 s grace period: Deployment has exceeded its progress deadline",
        "60 s, held to a third of timeoutSeconds"
    );
}

/// The Kustomize deploy of an app with automated sync that degrades and is rolled back.
#[test]
fn a_degraded_deploy_with_automated_sync_is_rolled_back_and_says_automated_sync_is_off() {
    let app = guestbook(kustomize_source(), "Kustomize");
    let off = automated(
        &app,
        json!({"prune": true, "selfHeal": true, "enabled": false}),
    );
    let fixture = reads(
        argocd()
            .on_json("GET", GUESTBOOK, &app.to_string())
            .on_json("PATCH", GUESTBOOK, &app.to_string())
            .on_json("PATCH", GUESTBOOK, &off.to_string())
            .on_json("PATCH", GUESTBOOK, &off.to_string())
            .on_status_json(
                "POST",
                GUESTBOOK_SYNC,
                400,
                recorded!("sync/guestbook-busy-400.json"),
            )
            .on_json("POST", GUESTBOOK_ROLLBACK, &sync_answer(&off)),
        &[
            state(&app, "Running", "Progressing"),
            state(&app, "Succeeded", "Degraded"),
            state(&off, "Running", "Progressing"),
            state(&off, "Succeeded", "Healthy"),
        ],
    );
    let answer = ok(
        &fixture,
        "deploy_and_watch",
        json!({"applicationName": "guestbook", "pollSeconds": 0.1, "degradedGraceSeconds": 0,
               "rollbackOnDegraded": true, "kustomizeImages": ["ghcr.io/example-org/shop:1.3.0-broken"]}),
    );
    assert_eq!(answer["outcome"], "RolledBack", "{answer}");
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {GUESTBOOK}"),
            format!("PATCH {GUESTBOOK}"),
            format!("POST {GUESTBOOK_SYNC}"),
            format!("GET {GUESTBOOK}"),
            format!("GET {GUESTBOOK}"),
            format!("PATCH {GUESTBOOK}"),
            format!("POST {GUESTBOOK_ROLLBACK}"),
            format!("PATCH {GUESTBOOK}"),
            format!("GET {GUESTBOOK}"),
            format!("GET {GUESTBOOK}"),
        ]
    );
    let patches = patches(&fixture);
    assert_eq!(
        patches[1],
        json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
        "turned off keeping prune and selfHeal in the spec"
    );
    assert_eq!(
        patches[2],
        json!({"spec": {"source": {"kustomize": {"images": ["ghcr.io/example-org/shop:1.2.3", "redis:7.2"]}}}}),
        "the image change is reverted"
    );
    assert_eq!(
        fixture.requests()[6].json(),
        json!({"name": "guestbook", "id": 1})
    );
    let events = events(&answer);
    for expected in [
        "automated sync had already started syncing the change; watching that operation",
        "degraded: rolling back to deployment 1 (revision 4aecb358a1caf34e5ffd2e7f547fe3f7e3510380)",
        "automated sync turned off (it was on: prune, selfHeal), since Argo CD refuses a rollback while it is on",
        "rollback to deployment 1 (revision 4aecb358a1caf34e5ffd2e7f547fe3f7e3510380) requested",
        "spec change reverted (kustomize image ghcr.io/example-org/shop:1.3.0-broken (was ghcr.io/example-org/shop:1.2.3))",
    ] {
        assert!(
            events.iter().any(|event| event == expected),
            "{expected} in {events:?}"
        );
    }
    assert!(
        events.last().unwrap().starts_with(
            "automated sync stays OFF; once Git holds a good revision, set_automated_sync"
        ),
        "{events:?}"
    );
    let automated = &answer["automatedSync"];
    assert_eq!(automated["enabled"], false);
    assert_eq!(automated["turnedOff"], true);
    assert_eq!(
        automated["restore"],
        json!({"tool": "set_automated_sync", "arguments": {"target": "prod", "applicationName": "guestbook",
               "enabled": true, "prune": true, "selfHeal": true, "allowEmpty": false}})
    );
    let message = automated["message"].as_str().unwrap();
    assert!(
        message.starts_with("Automated sync of guestbook is now OFF"),
        "{message}"
    );
    assert_eq!(answer["change"]["reverted"], true);
    assert!(answer["change"].get("undo").is_none());
    assert_eq!(answer["rollback"]["to"]["id"], 1);
    assert_eq!(answer["summary"]["health"], "Healthy");
    assert_eq!(fixture.progress().len(), events.len());
}

#[test]
fn rollback_application_turns_automated_sync_off_first_and_says_how_to_restore_it() {
    let app = parse(recorded!("apps/guestbook.json"));
    let off = automated(
        &app,
        json!({"prune": true, "selfHeal": true, "enabled": false}),
    );
    let fixture = argocd()
        .on_json("GET", GUESTBOOK, &app.to_string())
        .on_json("PATCH", GUESTBOOK, &off.to_string())
        .on_json("POST", GUESTBOOK_ROLLBACK, &sync_answer(&off));
    let answer = ok(
        &fixture,
        "rollback_application",
        json!({"applicationName": "guestbook", "applicationNamespace": "argocd"}),
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {GUESTBOOK}?appNamespace=argocd"),
            format!("PATCH {GUESTBOOK}"),
            format!("POST {GUESTBOOK_ROLLBACK}"),
        ]
    );
    assert_eq!(
        fixture.requests()[1].json(),
        json!({"name": "guestbook", "appNamespace": "argocd", "patchType": "merge",
               "patch": "{\"spec\":{\"syncPolicy\":{\"automated\":{\"enabled\":false}}}}"})
    );
    assert_eq!(answer["operation"]["phase"], "Requested");
    assert_eq!(
        answer["automatedSync"]["restore"]["arguments"],
        json!({"target": "prod", "applicationName": "guestbook", "applicationNamespace": "argocd",
               "enabled": true, "prune": true, "selfHeal": true, "allowEmpty": false})
    );
    assert_eq!(
        answer["automatedSync"]["was"],
        json!({"prune": true, "selfHeal": true, "allowEmpty": false})
    );
    assert_eq!(events(&answer).len(), 2);
    assert!(answer["summary"].get("autoSync").is_none(), "{answer}");

    // An Argo CD before 3.1 drops `enabled`: automated sync is removed instead.
    let fixture = argocd()
        .on_json("GET", GUESTBOOK, &app.to_string())
        .on_json("PATCH", GUESTBOOK, &app.to_string())
        .on_json(
            "PATCH",
            GUESTBOOK,
            &automated(&app, Value::Null).to_string(),
        )
        .on_json("POST", GUESTBOOK_ROLLBACK, &sync_answer(&app));
    ok(
        &fixture,
        "rollback_application",
        json!({"applicationName": "guestbook"}),
    );
    assert_eq!(
        patches(&fixture),
        [
            json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
            json!({"spec": {"syncPolicy": {"automated": null}}}),
        ]
    );
}

#[test]
fn a_refused_rollback_turns_automated_sync_back_on_and_a_dry_run_changes_nothing() {
    let app = parse(recorded!("apps/guestbook.json"));
    let off = automated(
        &app,
        json!({"prune": true, "selfHeal": true, "enabled": false}),
    );
    let fixture = argocd()
        .on_json("GET", GUESTBOOK, &app.to_string())
        .on_json("PATCH", GUESTBOOK, &off.to_string())
        .on_json("PATCH", GUESTBOOK, &app.to_string())
        .on_status_json(
            "POST",
            GUESTBOOK_ROLLBACK,
            400,
            recorded!("sync/guestbook-busy-400.json"),
        );
    let message = fails(
        &fixture,
        "rollback_application",
        json!({"applicationName": "guestbook"}),
    );
    assert!(
        message.contains("another operation is already in progress")
            && message.ends_with("(automated sync was turned back on as it was)"),
        "{message}"
    );
    assert_eq!(
        patches(&fixture)[1],
        json!({"spec": {"syncPolicy": {"automated": {"enabled": true, "prune": true, "selfHeal": true, "allowEmpty": false}}}})
    );

    let fixture = argocd().on_json("GET", GUESTBOOK, &app.to_string());
    let answer = ok(
        &fixture,
        "rollback_application",
        json!({"applicationName": "guestbook", "dryRun": true}),
    );
    assert_eq!(fixture.request_lines(), [format!("GET {GUESTBOOK}")]);
    assert_eq!(answer["automatedSync"]["enabled"], true);
    assert_eq!(answer["operation"], Value::Null);
}

#[test]
fn set_automated_sync_turns_it_on_with_the_remembered_settings_or_off() {
    let app = parse(recorded!("apps/guestbook.json"));
    let mut out_of_sync = app.clone();
    out_of_sync["status"]["sync"]["status"] = json!("OutOfSync");
    let off = automated(
        &app,
        json!({"prune": true, "selfHeal": true, "enabled": false}),
    );
    let fixture = argocd()
        .on_json(
            "PATCH",
            GUESTBOOK,
            &automated(
                &out_of_sync,
                json!({"prune": true, "selfHeal": true, "enabled": true}),
            )
            .to_string(),
        )
        .on_json("PATCH", GUESTBOOK, &off.to_string());
    let on = ok(
        &fixture,
        "set_automated_sync",
        json!({"applicationName": "guestbook", "enabled": true}),
    );
    assert_eq!(
        on["automatedSync"],
        json!({"enabled": true, "prune": true, "selfHeal": true, "allowEmpty": false})
    );
    assert_eq!(
        on["message"],
        "Automated sync of guestbook is on (prune, selfHeal): Argo CD syncs it to `HEAD` whenever it is \
         OutOfSync. It is OutOfSync now, so Argo CD starts a sync shortly; follow it with get_application."
    );
    assert_eq!(on["summary"]["autoSync"], true);
    let turned_off = ok(
        &fixture,
        "set_automated_sync",
        json!({"applicationName": "guestbook", "enabled": false}),
    );
    assert_eq!(turned_off["automatedSync"]["enabled"], false);
    assert_eq!(
        patches(&fixture),
        [
            json!({"spec": {"syncPolicy": {"automated": {"enabled": true}}}}),
            json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}}),
        ],
        "without settings the spec's are kept"
    );
    let fixture = argocd().on_json("PATCH", GUESTBOOK, &app.to_string());
    ok(
        &fixture,
        "set_automated_sync",
        json!({"applicationName": "guestbook", "enabled": true, "prune": false, "selfHeal": true, "allowEmpty": false}),
    );
    assert_eq!(
        patches(&fixture)[0],
        json!({"spec": {"syncPolicy": {"automated": {"enabled": true, "prune": false, "selfHeal": true, "allowEmpty": false}}}})
    );
}

#[test]
fn the_prompts_say_a_rollback_leaves_automated_sync_off_and_how_to_restore_it() {
    use capstan_sdk::{Content, Map, Plugin};
    for (name, arguments) in [
        (
            "safe_deploy",
            json!({"applicationName": "guestbook", "revision": "v2"}),
        ),
        (
            "troubleshoot_application",
            json!({"applicationName": "guestbook"}),
        ),
    ] {
        let arguments: Map<String, Value> = serde_json::from_value(arguments).unwrap();
        let ctx = capstan_sdk::fixture::Fixture::new().context();
        let result = crate::ArgoCd::get_prompt(&ctx, name, arguments).unwrap();
        let Content::Text(text) = &result.messages[0].content else {
            panic!("{name} is text");
        };
        assert!(
            text.contains("set_automated_sync") && !text.contains("refused"),
            "{name}: {text}"
        );
    }
}
