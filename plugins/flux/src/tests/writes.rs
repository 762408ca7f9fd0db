//! The write tools against recorded answers: each sends exactly the merge patch the `flux` CLI
//! sends, and a wait follows the reconcile handshake. The answers after a patch were recorded
//! from the scenario with stand-in controllers (`scenario/`) or with none (`idle/`); the
//! fixture's clock stamps every request `2026-01-01T00:00:00Z`, as the recorded patches were.

use std::time::Duration;

use capstan_sdk::fixture::{Fixture, Progress};
use capstan_sdk::{Value, json};

use super::{HELM_RELEASES, KUSTOMIZATIONS, SOURCES, cluster, error, fixture, lines, ok};

/// The fixture clock's time, as a reconcile request carries it.
const AT: &str = "2026-01-01T00:00:00Z";
const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Every PATCH as (path, content type, body).
fn patches(fixture: &Fixture) -> Vec<(String, String, Value)> {
    fixture
        .requests()
        .iter()
        .filter(|sent| sent.method == "PATCH")
        .map(|sent| {
            let content_type = sent.header("content-type").unwrap_or_default().to_owned();
            (sent.path.clone(), content_type, sent.json())
        })
        .collect()
}

/// The merge patch that sets `names` (annotations) to the request time.
fn annotations(names: &[&str]) -> Value {
    let map: capstan_sdk::Map<String, Value> = names
        .iter()
        .map(|name| ((*name).to_owned(), json!(AT)))
        .collect();
    json!({"metadata": {"annotations": map}})
}

fn kustomization(name: &str) -> String {
    format!("{KUSTOMIZATIONS}/{name}")
}

#[test]
fn reconcile_sets_requested_at_and_waits_for_the_handshake() {
    let infra = kustomization("infra");
    let fixture = cluster()
        .on_json("GET", &infra, fixture!("scenario/kustomization-infra.json"))
        .on_json(
            "PATCH",
            &infra,
            fixture!("scenario/patched-kustomization-infra.json"),
        )
        .on_json(
            "GET",
            &infra,
            fixture!("scenario/handled-kustomization-infra.json"),
        );
    let answer = ok(
        &fixture,
        "reconcile",
        json!({"kind": "Kustomization", "name": "infra", "namespace": "flux-system",
               "wait": true, "timeout": "1m"}),
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {infra}"),
            format!("PATCH {infra}"),
            format!("GET {infra}")
        ]
    );
    assert_eq!(
        patches(&fixture),
        [(
            infra.clone(),
            MERGE_PATCH.to_owned(),
            annotations(&[REQUESTED_AT])
        )]
    );
    assert_eq!(
        answer,
        json!({"target": "prod", "steps": [{
            "kind": "Kustomization", "name": "infra", "namespace": "flux-system",
            "action": "reconcile requested", "requestedAt": AT, "completed": true,
            "ready": {"status": "True", "reason": "Succeeded", "message": "reconciled on request"},
            "health": {"state": "Ready", "reason": "Succeeded", "message": "reconciled on request"},
            "revision": "main@sha1:4d2c7e0a9b1f"}]})
    );
    assert_eq!(fixture.slept(), Duration::ZERO, "handled at the first look");
    assert!(fixture.progress().is_empty());
}

#[test]
fn a_helm_release_with_source_reconciles_its_generated_chart_first_and_forces_only_when_asked() {
    let redis = format!("{HELM_RELEASES}/data/helmreleases/redis");
    let chart = format!("{SOURCES}/helmcharts/data-redis");
    let repository = format!("{SOURCES}/helmrepositories/bitnami");
    let fixture = cluster()
        .on_json("GET", &redis, fixture!("scenario/helmrelease-redis.json"))
        .on_json(
            "GET",
            &chart,
            fixture!("scenario/helmchart-data-redis.json"),
        )
        .on_json(
            "GET",
            &repository,
            fixture!("scenario/helmrepository-bitnami.json"),
        )
        .on_json(
            "PATCH",
            &repository,
            fixture!("scenario/patched-helmrepository-bitnami.json"),
        )
        .on_json(
            "PATCH",
            &chart,
            fixture!("scenario/patched-helmchart-data-redis.json"),
        )
        .on_json(
            "PATCH",
            &redis,
            fixture!("scenario/patched-helmrelease-redis-forced.json"),
        );
    let answer = ok(
        &fixture,
        "reconcile",
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "data",
               "withSource": true, "force": true, "reset": true}),
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {redis}"),
            format!("GET {chart}"),
            format!("GET {repository}"),
            format!("PATCH {repository}"),
            format!("PATCH {chart}"),
            format!("PATCH {redis}"),
        ],
        "the source chain is read first, then reconciled farthest first"
    );
    assert_eq!(
        patches(&fixture),
        [
            (
                repository,
                MERGE_PATCH.to_owned(),
                annotations(&[REQUESTED_AT])
            ),
            (chart, MERGE_PATCH.to_owned(), annotations(&[REQUESTED_AT])),
            (
                redis,
                MERGE_PATCH.to_owned(),
                annotations(&[
                    REQUESTED_AT,
                    "reconcile.fluxcd.io/forceAt",
                    "reconcile.fluxcd.io/resetAt"
                ])
            ),
        ]
    );
    let steps: Vec<String> = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            format!(
                "{} {}: {} ({})",
                step["kind"].as_str().unwrap(),
                step["name"].as_str().unwrap(),
                step["action"].as_str().unwrap(),
                step["health"]["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "HelmRepository bitnami: reconcile requested (Ready)",
            "HelmChart data-redis: reconcile requested (Ready)",
            "HelmRelease redis: reconcile requested with reconcile.fluxcd.io/forceAt, \
             reconcile.fluxcd.io/resetAt (Stalled)",
        ]
    );
    assert!(
        answer["steps"][2].get("completed").is_none(),
        "no wait, no outcome"
    );

    let podinfo = format!("{HELM_RELEASES}/podinfo/helmreleases/podinfo");
    let fixture = cluster()
        .on_json(
            "GET",
            &podinfo,
            fixture!("scenario/helmrelease-podinfo.json"),
        )
        .on_json(
            "PATCH",
            &podinfo,
            fixture!("scenario/patched-helmrelease-podinfo.json"),
        );
    ok(
        &fixture,
        "reconcile",
        json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "podinfo"}),
    );
    assert_eq!(
        patches(&fixture),
        [(
            podinfo,
            MERGE_PATCH.to_owned(),
            annotations(&[REQUESTED_AT])
        )],
        "no force or reset unasked"
    );

    let fixture = cluster();
    let refused = error(
        &fixture,
        "reconcile",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system", "force": true}),
    );
    assert_eq!(
        refused,
        "`force` and `reset` apply to HelmReleases only; reconcile the Kustomization without them"
    );
    assert!(fixture.requests().is_empty());
}

#[test]
fn suspended_objects_are_refused_and_their_handshake_is_not_trusted() {
    let fixture = cluster()
        .on_json(
            "GET",
            &kustomization("legacy-apps"),
            fixture!("scenario/kustomization-legacy-apps.json"),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/gitrepositories/legacy"),
            fixture!("scenario/gitrepository-legacy.json"),
        );
    let refused = error(
        &fixture,
        "reconcile",
        json!({"kind": "Kustomization", "name": "legacy-apps", "namespace": "flux-system"}),
    );
    assert_eq!(
        refused,
        "Kustomization `flux-system/legacy-apps` is suspended, so its controller would not \
         reconcile it; resume it first (the `resume` tool, optionally with `reconcile: true`)"
    );
    let source = error(
        &fixture,
        "reconcile",
        json!({"kind": "GitRepository", "name": "legacy", "namespace": "flux-system"}),
    );
    assert!(
        source.contains("GitRepository `flux-system/legacy` is suspended"),
        "{source}"
    );
    assert!(patches(&fixture).is_empty());

    // `infra` is suspended while the request is in flight; its controller still records the
    // handshake, as the real controllers do for suspended objects.
    let infra = kustomization("infra");
    let fixture = cluster()
        .on_json("GET", &infra, fixture!("scenario/kustomization-infra.json"))
        .on_json(
            "PATCH",
            &infra,
            fixture!("scenario/suspended-patched-kustomization-infra.json"),
        )
        .on_json(
            "GET",
            &infra,
            fixture!("scenario/suspended-kustomization-infra.json"),
        );
    let answer = ok(
        &fixture,
        "reconcile",
        json!({"kind": "Kustomization", "name": "infra", "namespace": "flux-system", "wait": true}),
    );
    let step = &answer["steps"][0];
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(false), &json!("Suspended")),
        "{step}"
    );
    assert_eq!(lines(&fixture).len(), 3, "the wait ends at the first look");
}

#[test]
fn waiting_ends_early_on_stalled() {
    let redis = format!("{HELM_RELEASES}/data/helmreleases/redis");
    let fixture = cluster()
        .on_json("GET", &redis, fixture!("scenario/helmrelease-redis.json"))
        .on_json(
            "PATCH",
            &redis,
            fixture!("idle/patched-helmrelease-redis.json"),
        )
        .on_json("GET", &redis, fixture!("idle/helmrelease-redis.json"));
    let answer = ok(
        &fixture,
        "reconcile",
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "data",
               "wait": true, "timeout": "5m"}),
    );
    let step = &answer["steps"][0];
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(false), &json!("Stalled"))
    );
    assert_eq!(
        step["ready"],
        json!({"status": "False", "reason": "InstallFailed",
               "message": "Failed to install after 3 attempt(s): context deadline exceeded"})
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {redis}"),
            format!("PATCH {redis}"),
            format!("GET {redis}")
        ],
        "one GET before the patch, one after: stalled ends the wait"
    );
    assert_eq!(fixture.slept(), Duration::ZERO);
}

#[test]
fn a_wait_that_times_out_reports_progress_and_answers_with_the_ready_condition() {
    let apps = kustomization("apps");
    let fixture = cluster()
        .on_json("GET", &apps, fixture!("scenario/kustomization-apps.json"))
        .on_json(
            "PATCH",
            &apps,
            fixture!("idle/patched-kustomization-apps.json"),
        )
        .on_json("GET", &apps, fixture!("idle/kustomization-apps.json"));
    let answer = ok(
        &fixture,
        "reconcile",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
               "wait": true, "timeout": "3s"}),
    );
    let step = &answer["steps"][0];
    let failed = "kustomize build failed: accumulating resources: missing Resource metadata";
    assert_eq!(step["completed"], false);
    assert_eq!(
        step["ready"],
        json!({"status": "False", "reason": "BuildFailed", "message": failed})
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {apps}"),
            format!("PATCH {apps}"),
            format!("GET {apps}"),
            format!("GET {apps}"),
            format!("GET {apps}"),
        ],
        "looks at 0s, 2s and at the deadline"
    );
    assert_eq!(fixture.slept(), Duration::from_secs(3));
    let message = format!("waiting for Kustomization flux-system/apps: NotReady ({failed})");
    let report = |done: f64| Progress {
        done,
        total: Some(3.0),
        message: Some(message.clone()),
    };
    assert_eq!(fixture.progress(), [report(0.0), report(2.0)]);
}

#[test]
fn suspend_and_resume_send_the_cli_patches() {
    let fleet = format!("{SOURCES}/gitrepositories/fleet");
    let fixture = cluster()
        .on_json(
            "PATCH",
            &fleet,
            fixture!("scenario/suspended-gitrepository-fleet.json"),
        )
        .on_json(
            "PATCH",
            &fleet,
            fixture!("scenario/resumed-gitrepository-fleet.json"),
        )
        .on_json(
            "GET",
            &fleet,
            fixture!("scenario/handled-gitrepository-fleet.json"),
        );
    let suspended = ok(
        &fixture,
        "suspend",
        json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}),
    );
    assert_eq!(
        suspended["steps"][0],
        json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system",
               "action": "suspended", "revision": "main@sha1:4d2c7e0a9b1f",
               "health": {"state": "Suspended", "reason": "Succeeded",
                          "message": "stored artifact for revision 'main@sha1:4d2c7e0a9b1f'"}}),
        "a suspended object keeps its last Ready condition as the explanation"
    );
    let resumed = ok(
        &fixture,
        "resume",
        json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system",
               "reconcile": true, "wait": true}),
    );
    let step = &resumed["steps"][0];
    assert_eq!(
        patches(&fixture),
        [
            (
                fleet.clone(),
                MERGE_PATCH.to_owned(),
                json!({"spec": {"suspend": true}})
            ),
            (
                fleet.clone(),
                MERGE_PATCH.to_owned(),
                json!({"metadata": {"annotations": {REQUESTED_AT: AT}}, "spec": {"suspend": null}})
            ),
        ]
    );
    assert_eq!(
        (
            &step["action"],
            &step["requestedAt"],
            &step["completed"],
            &step["health"]["state"]
        ),
        (
            &json!("resumed, reconcile requested"),
            &json!(AT),
            &json!(true),
            &json!("Ready")
        )
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("PATCH {fleet}"),
            format!("PATCH {fleet}"),
            format!("GET {fleet}")
        ],
        "suspend and resume patch without reading first"
    );
}

#[test]
fn reconcile_dependencies_walks_the_depends_on_chain_in_order() {
    let mut fixture = cluster();
    for name in ["crds", "infra", "platform"] {
        let path = kustomization(name);
        let (before, patched, handled) = match name {
            "crds" => (
                fixture!("scenario/kustomization-crds.json"),
                fixture!("scenario/patched-kustomization-crds.json"),
                fixture!("scenario/handled-kustomization-crds.json"),
            ),
            "infra" => (
                fixture!("scenario/kustomization-infra.json"),
                fixture!("scenario/patched-kustomization-infra.json"),
                fixture!("scenario/handled-kustomization-infra.json"),
            ),
            _ => (
                fixture!("scenario/kustomization-platform.json"),
                fixture!("scenario/patched-kustomization-platform.json"),
                fixture!("scenario/handled-kustomization-platform.json"),
            ),
        };
        // Read by the walk, then before the patch, then by the wait.
        fixture = fixture
            .on_json("GET", &path, before)
            .on_json("GET", &path, before)
            .on_json("GET", &path, handled)
            .on_json("PATCH", &path, patched);
    }
    let answer = ok(
        &fixture,
        "reconcile_dependencies",
        json!({"name": "platform", "namespace": "flux-system", "wait": true}),
    );
    let [crds, infra, platform] = ["crds", "infra", "platform"].map(kustomization);
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {platform}"),
            format!("GET {infra}"),
            format!("GET {crds}"),
            format!("GET {crds}"),
            format!("PATCH {crds}"),
            format!("GET {crds}"),
            format!("GET {infra}"),
            format!("PATCH {infra}"),
            format!("GET {infra}"),
            format!("GET {platform}"),
            format!("PATCH {platform}"),
            format!("GET {platform}"),
        ]
    );
    let steps: Vec<(Value, Value, Value)> = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].clone(),
                s["completed"].clone(),
                s["health"]["state"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (json!("crds"), json!(true), json!("Ready")),
            (json!("infra"), json!(true), json!("Ready")),
            (json!("platform"), json!(true), json!("Ready")),
        ]
    );

    // A suspended Kustomization stops the chain before anything is patched.
    let legacy = kustomization("legacy-apps");
    let fixture = cluster().on_json(
        "GET",
        &legacy,
        fixture!("scenario/kustomization-legacy-apps.json"),
    );
    let refused = error(
        &fixture,
        "reconcile_dependencies",
        json!({"name": "legacy-apps", "namespace": "flux-system"}),
    );
    assert!(
        refused.contains("is suspended")
            && refused.ends_with("Nothing after it was reconciled; steps done: []"),
        "{refused}"
    );
    assert_eq!(
        lines(&fixture),
        [format!("GET {legacy}"), format!("GET {legacy}")]
    );
}

#[test]
fn the_steps_of_a_chain_share_one_deadline() {
    let mut fixture = cluster();
    for name in ["crds", "infra", "apps"] {
        let path = kustomization(name);
        let (before, patched, after) = match name {
            "crds" => (
                fixture!("scenario/kustomization-crds.json"),
                fixture!("idle/patched-kustomization-crds.json"),
                fixture!("idle/kustomization-crds.json"),
            ),
            "infra" => (
                fixture!("scenario/kustomization-infra.json"),
                fixture!("idle/patched-kustomization-infra.json"),
                fixture!("idle/kustomization-infra.json"),
            ),
            _ => (
                fixture!("scenario/kustomization-apps.json"),
                fixture!("idle/patched-kustomization-apps.json"),
                fixture!("idle/kustomization-apps.json"),
            ),
        };
        fixture = fixture
            .on_json("GET", &path, before)
            .on_json("GET", &path, before)
            .on_json("GET", &path, after)
            .on_json("PATCH", &path, patched);
    }
    let answer = ok(
        &fixture,
        "reconcile_dependencies",
        json!({"name": "apps", "namespace": "flux-system", "wait": true, "timeout": "2s"}),
    );
    let completed: Vec<&Value> = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| &step["completed"])
        .collect();
    assert_eq!(completed, [&json!(false), &json!(false), &json!(false)]);
    let [crds, infra, apps] = ["crds", "infra", "apps"].map(kustomization);
    assert_eq!(
        lines(&fixture)[3..],
        [
            format!("GET {crds}"),
            format!("PATCH {crds}"),
            format!("GET {crds}"),
            format!("GET {crds}"),
            format!("GET {infra}"),
            format!("PATCH {infra}"),
            format!("GET {infra}"),
            format!("GET {apps}"),
            format!("PATCH {apps}"),
            format!("GET {apps}"),
        ],
        "crds uses up the 2s; infra and apps are looked at once each"
    );
    assert_eq!(fixture.slept(), Duration::from_secs(2));
}
