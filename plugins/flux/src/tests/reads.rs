//! The read tools against recorded answers: `list_flux_resources` over the demo data set, and
//! `get_flux_resource`, `get_flux_events`, `get_flux_logs`, `trace_resource`,
//! `get_flux_status` and `flux_tree` over the scenario of the end-to-end tests.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Value, json};

use super::{HELM_RELEASES, KUSTOMIZATIONS, SOURCES, cluster, fixture, lines, ok};

/// Every Flux kind's list of the demo data set, in the order the plugin lists them.
fn demo() -> Fixture {
    cluster()
        .on_json(
            "GET",
            "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations",
            fixture!("demo/kustomizations.json"),
        )
        .on_json(
            "GET",
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
            fixture!("demo/helmreleases.json"),
        )
        .on_json(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/gitrepositories",
            fixture!("demo/gitrepositories.json"),
        )
        .on_json(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/ocirepositories",
            fixture!("demo/ocirepositories.json"),
        )
        .on_json(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/helmrepositories",
            fixture!("demo/helmrepositories.json"),
        )
        .on_json(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/helmcharts",
            fixture!("demo/helmcharts.json"),
        )
        .on_json(
            "GET",
            "/apis/source.toolkit.fluxcd.io/v1/buckets",
            fixture!("demo/buckets.json"),
        )
}

/// The lists of every kind in every namespace, as the plugin sends them.
pub(super) const EVERY_KIND: [&str; 7] = [
    "GET /apis/kustomize.toolkit.fluxcd.io/v1/kustomizations?limit=500",
    "GET /apis/helm.toolkit.fluxcd.io/v2/helmreleases?limit=500",
    "GET /apis/source.toolkit.fluxcd.io/v1/gitrepositories?limit=500",
    "GET /apis/source.toolkit.fluxcd.io/v1/ocirepositories?limit=500",
    "GET /apis/source.toolkit.fluxcd.io/v1/helmrepositories?limit=500",
    "GET /apis/source.toolkit.fluxcd.io/v1/helmcharts?limit=500",
    "GET /apis/source.toolkit.fluxcd.io/v1/buckets?limit=500",
];

fn row<'a>(rows: &'a Value, kind: &str, name: &str) -> &'a Value {
    rows["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["kind"] == kind && row["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {rows}"))
}

#[test]
fn list_rows_carry_health_revision_and_why() {
    let fixture = demo();
    let all = ok(&fixture, "list_flux_resources", json!({}));
    assert_eq!(lines(&fixture), EVERY_KIND);
    assert_eq!(
        (&all["target"], &all["count"]),
        (&json!("prod"), &json!(11))
    );
    assert_eq!(all["missingKinds"], json!([]));
    let names: Vec<String> = all["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            format!(
                "{} {}/{} {}",
                row["kind"].as_str().unwrap(),
                row["namespace"].as_str().unwrap(),
                row["name"].as_str().unwrap(),
                row["health"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "Kustomization flux-system/apps NotReady",
            "Kustomization flux-system/flux-system Ready",
            "Kustomization flux-system/infrastructure Ready",
            "Kustomization flux-system/staging-apps Suspended",
            "HelmRelease data/redis NotReady",
            "HelmRelease podinfo/podinfo Ready",
            "GitRepository flux-system/flux-system Ready",
            "GitRepository flux-system/legacy-config NotReady",
            "GitRepository flux-system/podinfo Ready",
            "HelmRepository flux-system/bitnami Ready",
            "HelmRepository flux-system/podinfo-oci Ready",
        ],
        "kinds in order, each as the API lists them"
    );
    assert_eq!(
        row(&all, "Kustomization", "apps"),
        &json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                "health": "NotReady", "reason": "BuildFailed", "ready": "False",
                "revision": "main@sha1:7cad8f94b875ce2328eb6e359b2772be057afb16",
                "suspended": false,
                "message": "kustomize build failed: accumulating resources: accumulation err='accumulating resources from './podinfo': missing Resource metadata'",
                "lastReconcile": "2026-08-20T11:42:31Z"})
    );
    let legacy = row(&all, "GitRepository", "legacy-config");
    assert_eq!(
        (&legacy["reason"], &legacy["ready"], legacy.get("revision")),
        (&json!("GitOperationFailed"), &json!("False"), None)
    );
    assert!(
        legacy["message"]
            .as_str()
            .unwrap()
            .contains("authentication required")
    );
    let staging = row(&all, "Kustomization", "staging-apps");
    assert_eq!(staging["suspended"], true);
    let redis = row(&all, "HelmRelease", "redis");
    assert_eq!(
        (&redis["reason"], &redis["revision"]),
        (&json!("InstallFailed"), &json!("20.6.1"))
    );
    assert_eq!(row(&all, "HelmRelease", "podinfo")["revision"], "6.9.2");
    let oci = row(&all, "HelmRepository", "podinfo-oci");
    assert_eq!(
        (&oci["ready"], oci.get("lastReconcile")),
        (&json!("True"), None),
        "a static OCI repository is Ready without conditions"
    );
}

#[test]
fn a_selected_list_sends_the_namespace_and_label_selector() {
    let fixture = cluster().on_json(
        "GET",
        &format!("{HELM_RELEASES}/podinfo/helmreleases"),
        fixture!("demo/helmreleases-podinfo-selected.json"),
    );
    let selected = ok(
        &fixture,
        "list_flux_resources",
        json!({"kind": "HelmRelease", "namespace": "podinfo",
               "labelSelector": "kustomize.toolkit.fluxcd.io/name=flux-system"}),
    );
    assert_eq!(
        lines(&fixture),
        [
            "GET /apis/helm.toolkit.fluxcd.io/v2/namespaces/podinfo/helmreleases?limit=500\
          &labelSelector=kustomize.toolkit.fluxcd.io%2Fname%3Dflux-system"
        ]
    );
    assert_eq!(selected["count"], 1);
    assert_eq!(selected["resources"][0]["name"], "podinfo");
}

/// The scenario's answers to the reads of one object's events: `kind/name`, without the
/// routine successes (as `get_flux_resource` asks) or all of them (as `get_flux_events` does).
const EVENTS: &str = "/api/v1/namespaces/flux-system/events";

fn events_query(kind: &str, name: &str, unroutine: bool) -> String {
    let mut query = format!(
        "{EVENTS}?limit=500&fieldSelector=involvedObject.kind%3D{kind}%2CinvolvedObject.name%3D{name}"
    );
    if unroutine {
        query.push_str("%2Creason%21%3DReconciliationSucceeded");
    }
    query
}

#[test]
fn get_projects_fields_and_brings_the_events_of_the_object_and_its_source() {
    let apps = format!("{KUSTOMIZATIONS}/apps");
    let fixture = cluster()
        .on_json("GET", &apps, fixture!("scenario/kustomization-apps.json"))
        .on_json(
            "GET",
            &events_query("Kustomization", "apps", true),
            fixture!("scenario/events-apps-unroutine.json"),
        )
        .on_json(
            "GET",
            &events_query("GitRepository", "fleet", true),
            fixture!("scenario/events-fleet-unroutine.json"),
        );
    let got = ok(
        &fixture,
        "get_flux_resource",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
               "fields": ["spec.sourceRef", "status.lastAttemptedRevision", "status.nope"]}),
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {apps}"),
            format!("GET {}", events_query("Kustomization", "apps", true)),
            format!("GET {}", events_query("GitRepository", "fleet", true)),
        ]
    );
    let failed = "kustomize build failed: accumulating resources: missing Resource metadata";
    assert_eq!(
        got,
        json!({
            "target": "prod", "kind": "Kustomization", "name": "apps", "namespace": "flux-system",
            "health": {"state": "NotReady", "reason": "BuildFailed", "message": failed},
            "revision": "main@sha1:0ld",
            "source": {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"},
            "events": [{"lastSeen": "2026-06-02T09:30:00Z", "type": "Warning", "reason": "BuildFailed",
                        "object": "Kustomization/apps", "namespace": "flux-system",
                        "message": failed, "count": 1}],
            "sourceEvents": [{"lastSeen": "2026-06-02T09:00:00Z", "type": "Normal",
                              "reason": "NewArtifact", "object": "GitRepository/fleet",
                              "namespace": "flux-system",
                              "message": "stored artifact for commit 'Add podinfo'", "count": 1}],
            "object": {"spec": {"sourceRef": {"kind": "GitRepository", "name": "fleet"}},
                       "status": {"lastAttemptedRevision": "main@sha1:4d2c7e0a9b1f"}},
        })
    );

    let redis = format!("{HELM_RELEASES}/data/helmreleases/redis");
    let fixture = cluster().on_json("GET", &redis, fixture!("scenario/helmrelease-redis.json"));
    let whole = ok(
        &fixture,
        "get_flux_resource",
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "data", "events": false}),
    );
    assert_eq!(lines(&fixture), [format!("GET {redis}")], "no events asked");
    let mut recorded: Value =
        capstan_sdk::serde_json::from_str(fixture!("scenario/helmrelease-redis.json")).unwrap();
    crate::resources::clean(&mut recorded);
    assert_eq!(whole["object"], recorded);
    assert_eq!(
        (
            &whole["health"]["state"],
            &whole["revision"],
            &whole["source"]
        ),
        (
            &json!("Stalled"),
            &json!("20.6.1"),
            &json!({"kind": "HelmChart", "name": "data-redis", "namespace": "flux-system"})
        )
    );
    assert!(whole.get("events").is_none());
}

#[test]
fn events_read_like_flux_events() {
    let fixture = cluster()
        .on_json("GET", EVENTS, fixture!("scenario/events-flux-system.json"))
        .on_json("GET", "/api/v1/events", fixture!("scenario/events.json"));
    let all = ok(
        &fixture,
        "get_flux_events",
        json!({"namespace": "flux-system"}),
    );
    let seen: Vec<String> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["lastSeen"].as_str().unwrap(),
                e["object"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "2026-06-02T09:00:00Z Kustomization/apps ReconciliationSucceeded",
            "2026-06-02T09:00:00Z GitRepository/fleet NewArtifact",
            "2026-06-02T09:00:00Z Kustomization/infra Progressing",
            "2026-06-02T09:30:00Z Kustomization/apps BuildFailed",
        ],
        "oldest first"
    );
    let warnings = ok(&fixture, "get_flux_events", json!({"type": "Warning"}));
    assert_eq!(warnings["count"], 1);
    assert_eq!(warnings["events"][0]["reason"], "BuildFailed");
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {EVENTS}?limit=500"),
            "GET /api/v1/events?limit=500".to_owned()
        ]
    );

    let fixture = cluster().on_json(
        "GET",
        &format!("{EVENTS}?limit=500&fieldSelector=involvedObject.kind%3DKustomization"),
        fixture!("scenario/events-kustomization.json"),
    );
    let kustomizations = ok(
        &fixture,
        "get_flux_events",
        json!({"kind": "Kustomization", "namespace": "flux-system"}),
    );
    assert_eq!(kustomizations["count"], 3);
}

#[test]
fn events_of_one_object_come_with_its_sources() {
    let apps = format!("{KUSTOMIZATIONS}/apps");
    let fixture = cluster()
        .on_json("GET", &apps, fixture!("scenario/kustomization-apps.json"))
        .on_json(
            "GET",
            &events_query("Kustomization", "apps", false),
            fixture!("scenario/events-apps.json"),
        )
        .on_json(
            "GET",
            &events_query("GitRepository", "fleet", false),
            fixture!("scenario/events-fleet.json"),
        );
    let apps_events = ok(
        &fixture,
        "get_flux_events",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
    );
    let seen: Vec<(Value, Value)> = apps_events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["object"].clone(), e["reason"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                json!("Kustomization/apps"),
                json!("ReconciliationSucceeded")
            ),
            (json!("GitRepository/fleet"), json!("NewArtifact")),
            (json!("Kustomization/apps"), json!("BuildFailed")),
        ],
        "oldest first, with the source's"
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {apps}"),
            format!("GET {}", events_query("Kustomization", "apps", false)),
            format!("GET {}", events_query("GitRepository", "fleet", false)),
        ]
    );
}

/// The controllers of the scenario, their pods and logs.
fn controllers() -> Fixture {
    let mut fixture = cluster().on_json(
        "GET",
        "/apis/apps/v1/namespaces/flux-system/deployments",
        fixture!("scenario/controllers.json"),
    );
    for (controller, pods, log) in [
        (
            "kustomize-controller",
            fixture!("scenario/pods-kustomize-controller.json"),
            fixture!("scenario/kustomize-controller.log"),
        ),
        (
            "helm-controller",
            fixture!("scenario/pods-helm-controller.json"),
            fixture!("scenario/helm-controller.log"),
        ),
        (
            "source-controller",
            fixture!("scenario/pods-source-controller.json"),
            fixture!("scenario/source-controller.log"),
        ),
    ] {
        fixture = fixture
            .on_json(
                "GET",
                &format!(
                    "/api/v1/namespaces/flux-system/pods?limit=500&labelSelector=app%3D{controller}"
                ),
                pods,
            )
            .on(
                "GET",
                &format!("/api/v1/namespaces/flux-system/pods/{controller}-6c9f4-abcde/log"),
                200,
                log,
            );
    }
    fixture
}

#[test]
fn logs_come_from_the_controller_filtered_like_flux_logs() {
    let fixture = controllers();
    let errors = ok(
        &fixture,
        "get_flux_logs",
        json!({"kind": "Kustomization", "name": "apps", "level": "error", "since": "10m"}),
    );
    assert_eq!(
        errors,
        json!({"target": "prod", "count": 1, "controllers": ["kustomize-controller"],
               "lines": [{"controller": "kustomize-controller", "ts": "2026-06-02T09:20:00.000Z",
                          "level": "error", "message": "Reconciler error", "kind": "Kustomization",
                          "name": "apps", "namespace": "flux-system",
                          "error": "kustomize build failed"}]})
    );
    assert_eq!(
        lines(&fixture),
        [
            "GET /apis/apps/v1/namespaces/flux-system/deployments?limit=500\
             &labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
            "GET /api/v1/namespaces/flux-system/pods?limit=500&labelSelector=app%3Dkustomize-controller",
            "GET /api/v1/namespaces/flux-system/pods/kustomize-controller-6c9f4-abcde/log\
             ?container=manager&tailLines=5000&sinceSeconds=600",
        ]
    );

    let fixture = controllers();
    let everything = ok(
        &fixture,
        "get_flux_logs",
        json!({"level": "error", "limit": 1}),
    );
    assert_eq!(
        everything["controllers"],
        json!([
            "helm-controller",
            "kustomize-controller",
            "source-controller"
        ])
    );
    assert_eq!(everything["count"], 1, "the newest line only");
    assert_eq!(
        everything["lines"][0]["message"],
        "install retries exhausted"
    );
    let logs: Vec<String> = lines(&fixture)
        .into_iter()
        .filter(|line| line.contains("/log?"))
        .collect();
    assert_eq!(logs.len(), 3, "one log per controller: {logs:?}");
}

#[test]
fn a_pod_traces_up_to_its_helm_release_kustomization_and_sources() {
    let fixture = cluster()
        .on_json(
            "GET",
            "/api/v1/namespaces/podinfo/pods/podinfo-7d9f-x2k4q",
            fixture!("scenario/pod-podinfo.json"),
        )
        .on_json(
            "GET",
            "/apis/apps/v1/namespaces/podinfo/replicasets/podinfo-7d9f",
            fixture!("scenario/replicaset-podinfo.json"),
        )
        .on_json(
            "GET",
            "/apis/apps/v1/namespaces/podinfo/deployments/podinfo",
            fixture!("scenario/deployment-podinfo.json"),
        )
        .on_json(
            "GET",
            &format!("{HELM_RELEASES}/podinfo/helmreleases/podinfo"),
            fixture!("scenario/helmrelease-podinfo.json"),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/helmcharts/podinfo-podinfo"),
            fixture!("scenario/helmchart-podinfo-podinfo.json"),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/helmrepositories/bitnami"),
            fixture!("scenario/helmrepository-bitnami.json"),
        )
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            fixture!("scenario/kustomization-apps.json"),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/gitrepositories/fleet"),
            fixture!("scenario/gitrepository-fleet.json"),
        );
    let traced = ok(
        &fixture,
        "trace_resource",
        json!({"kind": "Pod", "name": "podinfo-7d9f-x2k4q", "namespace": "podinfo"}),
    );
    let steps: Vec<String> = traced["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}/{} {}",
                s["role"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
                s["namespace"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
                s["health"]["state"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "object Pod podinfo/podinfo-7d9f-x2k4q -",
            "owner ReplicaSet podinfo/podinfo-7d9f -",
            "owner Deployment podinfo/podinfo -",
            "managed by HelmRelease podinfo/podinfo Ready",
            "source HelmChart flux-system/podinfo-podinfo Ready",
            "source HelmRepository flux-system/bitnami Ready",
            "managed by Kustomization flux-system/apps NotReady",
            "source GitRepository flux-system/fleet Ready",
        ]
    );
    assert_eq!(traced["managed"], true);
    assert_eq!(traced["steps"][3]["revision"], "6.9.2");
    assert_eq!(traced["steps"][7]["revision"], "main@sha1:4d2c7e0a9b1f");
    assert_eq!(lines(&fixture).len(), 8, "one GET per step");
}

#[test]
fn status_reports_crds_controllers_and_versions() {
    let fixture = cluster()
        .on_json(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            fixture!("scenario/crds.json"),
        )
        .on_json(
            "GET",
            "/apis/apps/v1/namespaces/flux-system/deployments",
            fixture!("scenario/controllers.json"),
        );
    let status = ok(&fixture, "get_flux_status", json!({}));
    assert_eq!(
        lines(&fixture),
        [
            "GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions?limit=500\
             &labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
            "GET /apis/apps/v1/namespaces/flux-system/deployments?limit=500\
             &labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
        ]
    );
    assert_eq!(
        (&status["installed"], &status["healthy"], &status["version"]),
        (&json!(true), &json!(false), &json!("v2.9.0"))
    );
    assert_eq!(
        status["crds"][3],
        json!({"name": "helmreleases.helm.toolkit.fluxcd.io", "version": "v2.9.0",
               "storedVersions": ["v2"], "established": true})
    );
    assert_eq!(status["crds"].as_array().map(Vec::len), Some(7));
    let ready: Vec<(Value, Value)> = status["controllers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].clone(), c["ready"].clone()))
        .collect();
    assert_eq!(
        ready,
        [
            (json!("helm-controller"), json!(false)),
            (json!("kustomize-controller"), json!(true)),
            (json!("source-controller"), json!(true)),
        ]
    );
    assert_eq!(status["controllers"][1]["version"], "v1.9.1");

    let fixture = cluster()
        .on_json(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            fixture!("scenario/crds.json"),
        )
        .on_json(
            "GET",
            "/apis/apps/v1/namespaces/flux-system/deployments",
            fixture!("demo/controllers.json"),
        );
    let without = ok(&fixture, "get_flux_status", json!({}));
    assert_eq!(
        (
            &without["installed"],
            &without["healthy"],
            &without["controllers"]
        ),
        (&json!(true), &json!(false), &json!([])),
        "CRDs without controllers are not healthy"
    );
}

/// The tree of `platform`: its inventory, `apps` in it, and the HelmRelease `podinfo` that
/// `apps` applied, with the objects of its deployed release.
fn platform() -> Fixture {
    cluster()
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/platform"),
            fixture!("scenario/kustomization-platform.json"),
        )
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            fixture!("scenario/kustomization-apps.json"),
        )
        .on_json(
            "GET",
            &format!("{HELM_RELEASES}/podinfo/helmreleases/podinfo"),
            fixture!("scenario/helmrelease-podinfo.json"),
        )
        .on_json(
            "GET",
            "/api/v1/namespaces/podinfo/secrets/sh.helm.release.v1.podinfo.v2",
            fixture!("scenario/helm-storage-podinfo-v2.json"),
        )
}

#[test]
fn the_tree_walks_nested_kustomizations_down_to_helm_releases() {
    let fixture = platform();
    let tree = ok(
        &fixture,
        "flux_tree",
        json!({"name": "platform", "namespace": "flux-system"}),
    );
    assert_eq!(
        lines(&fixture),
        [
            format!("GET {KUSTOMIZATIONS}/platform"),
            format!("GET {KUSTOMIZATIONS}/apps"),
            format!("GET {HELM_RELEASES}/podinfo/helmreleases/podinfo"),
            "GET /api/v1/namespaces/podinfo/secrets/sh.helm.release.v1.podinfo.v2".to_owned(),
        ]
    );
    assert_eq!(tree["count"], 9, "{tree}");
    let root = &tree["tree"];
    assert_eq!(
        (&root["kind"], &root["health"]["state"], &root["revision"]),
        (
            &json!("Kustomization"),
            &json!("Ready"),
            &json!("main@sha1:4d2c7e0a9b1f")
        )
    );
    let apps = &root["children"][0];
    assert_eq!(
        (&apps["name"], &apps["health"]["state"]),
        (&json!("apps"), &json!("NotReady"))
    );
    assert_eq!(
        root["children"][1],
        json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system",
               "group": "source.toolkit.fluxcd.io"})
    );
    assert_eq!(
        root["children"][2],
        json!({"kind": "ConfigMap", "name": "platform-settings", "namespace": "flux-system"})
    );
    assert_eq!(
        apps["children"][0],
        json!({"kind": "Namespace", "name": "podinfo"})
    );
    let release = &apps["children"][1];
    assert_eq!(release["health"]["state"], "Ready");
    assert_eq!(
        release["release"],
        json!({"name": "podinfo", "namespace": "podinfo", "version": 2, "chart": "podinfo",
               "chartVersion": "6.9.2", "status": "deployed"})
    );
    assert_eq!(
        release["children"],
        json!([{"kind": "Service", "name": "podinfo", "namespace": "podinfo"},
               {"kind": "Deployment", "name": "podinfo", "namespace": "podinfo", "group": "apps"},
               {"kind": "ClusterRole", "name": "podinfo-reader", "group": "rbac.authorization.k8s.io"}])
    );
    assert!(
        !tree.to_string().contains("hunter2"),
        "release values never leave the plugin"
    );

    let fixture = platform();
    let compact = ok(
        &fixture,
        "flux_tree",
        json!({"name": "platform", "namespace": "flux-system", "compact": true}),
    );
    assert_eq!(compact["count"], 4, "{compact}");
    assert_eq!(
        lines(&fixture).len(),
        3,
        "compact reads no Helm storage Secret"
    );
}

#[test]
fn an_unreadable_release_or_a_missing_child_leaves_a_note() {
    let release = format!("{HELM_RELEASES}/podinfo/helmreleases/podinfo");
    let secret = "/api/v1/namespaces/podinfo/secrets/sh.helm.release.v1.podinfo.v2";
    let fixture = cluster()
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            fixture!("scenario/kustomization-apps.json"),
        )
        .on_json(
            "GET",
            &release,
            fixture!("scenario/helmrelease-podinfo.json"),
        )
        .on_status_json(
            "GET",
            secret,
            403,
            fixture!("restricted/helm-storage-podinfo-v2-403.json"),
        );
    let tree = ok(
        &fixture,
        "flux_tree",
        json!({"name": "apps", "namespace": "flux-system"}),
    );
    let podinfo = &tree["tree"]["children"][1];
    assert_eq!(podinfo["release"]["version"], 2);
    let note = podinfo["note"].as_str().unwrap();
    assert!(
        note.contains("HTTP 403")
            && note.contains(
                "RBAC verb `get` on resource `secrets` in API group `` in namespace `podinfo`"
            ),
        "{note}"
    );
    assert!(podinfo.get("children").is_none());
    assert_eq!(tree["count"], 3, "apps, the Namespace and the HelmRelease");

    let fixture = cluster()
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            fixture!("scenario/kustomization-apps.json"),
        )
        .on_status_json(
            "GET",
            &release,
            404,
            fixture!("restricted/helmrelease-redis-404.json"),
        );
    let tree = ok(
        &fixture,
        "flux_tree",
        json!({"name": "apps", "namespace": "flux-system"}),
    );
    assert_eq!(
        tree["tree"]["children"][1],
        json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "podinfo",
               "group": "helm.toolkit.fluxcd.io", "note": "not found"})
    );
}

#[test]
fn a_self_managed_kustomization_ends_the_trace_instead_of_repeating() {
    let bootstrap = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1,
                     "labels": {"kustomize.toolkit.fluxcd.io/name": "flux-system",
                                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": {"interval": "10m", "path": "./clusters/prod", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        "status": {"observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied"}]}
    });
    let source = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1},
        "spec": {"interval": "1m", "url": "https://github.com/example-org/fleet"},
        "status": {"observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "stored"}]}
    });
    let fixture = cluster()
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/flux-system"),
            &bootstrap.to_string(),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/gitrepositories/flux-system"),
            &source.to_string(),
        );
    let traced = ok(
        &fixture,
        "trace_resource",
        json!({"kind": "Kustomization", "name": "flux-system", "namespace": "flux-system"}),
    );
    let roles: Vec<&str> = traced["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["object", "source"], "{traced}");
    assert_eq!(traced["managed"], false);
    assert_eq!(lines(&fixture).len(), 2, "no request repeats");
}

/// The standard bootstrap layout: an app's Kustomization reads the `flux-system` GitRepository
/// and is applied by the `flux-system` Kustomization, which applies itself from that same
/// repository. Each object shows once, the source with its URL and revision.
#[test]
fn a_bootstrap_layout_trace_shows_each_object_once_with_the_source_url() {
    let labels = |name: &str| {
        json!({"kustomize.toolkit.fluxcd.io/name": name,
               "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
    };
    let kustomization = |name: &str, applied_by: &str| {
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system", "generation": 2,
                         "labels": labels(applied_by)},
            "spec": {"interval": "10m", "path": format!("./{name}"), "prune": true,
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            "status": {"observedGeneration": 2, "conditions": [
                {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
                 "message": "Applied revision: main@sha1:7c1e"}]}
        })
    };
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": labels("apps")},
        "spec": {}
    });
    let source = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1},
        "spec": {"interval": "1m", "url": "ssh://git@github.com/example-org/fleet"},
        "status": {"observedGeneration": 1,
                   "artifact": {"revision": "main@sha1:7c1e"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                   "message": "stored artifact for revision 'main@sha1:7c1e'"}]}
    });
    let fixture = cluster()
        .on_json(
            "GET",
            "/apis/apps/v1/namespaces/shop/deployments/web",
            &deployment.to_string(),
        )
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            &kustomization("apps", "flux-system").to_string(),
        )
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/flux-system"),
            &kustomization("flux-system", "flux-system").to_string(),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/gitrepositories/flux-system"),
            &source.to_string(),
        );
    let traced = ok(
        &fixture,
        "trace_resource",
        json!({"kind": "Deployment", "name": "web", "namespace": "shop"}),
    );
    let steps: Vec<String> = traced["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| format!("{} {} {}", step["role"], step["kind"], step["name"]))
        .collect();
    assert_eq!(
        steps,
        [
            r#""object" "Deployment" "web""#,
            r#""managed by" "Kustomization" "apps""#,
            r#""source" "GitRepository" "flux-system""#,
            r#""managed by" "Kustomization" "flux-system""#,
        ],
        "{traced}"
    );
    assert_eq!(
        traced["steps"][2]["url"],
        "ssh://git@github.com/example-org/fleet"
    );
    assert_eq!(traced["steps"][2]["revision"], "main@sha1:7c1e");
    assert_eq!(lines(&fixture).len(), 4, "one GET per object");
}

/// A Kustomization whose build fails while Flux retries is listed as failing, with the
/// failure, not as reconciling.
#[test]
fn a_failure_flux_retries_is_listed_as_not_ready_with_the_failure() {
    let failing = json!({"items": [{
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system", "generation": 4},
        "spec": {"interval": "10m", "path": "./apps", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        "status": {"observedGeneration": 4, "conditions": [
            {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
             "message": "Detecting drift for revision main@sha1:9f1c with a timeout of 5m0s",
             "observedGeneration": 4},
            {"type": "Ready", "status": "False", "reason": "BuildFailed",
             "message": "kustomize build failed: accumulating resources from 'web.yaml': open web.yaml: no such file or directory",
             "observedGeneration": 4}]}
    }]});
    let fixture = cluster().on_json(
        "GET",
        &format!("{KUSTOMIZATIONS}?limit=500"),
        &failing.to_string(),
    );
    let listed = ok(
        &fixture,
        "list_flux_resources",
        json!({"kind": "Kustomization", "namespace": "flux-system"}),
    );
    let row = &listed["resources"][0];
    assert_eq!(row["health"], "NotReady", "{row}");
    assert_eq!(row["reason"], "BuildFailed");
    assert_eq!(row["retrying"], true);
    assert!(
        row["message"]
            .as_str()
            .unwrap()
            .starts_with("kustomize build failed:"),
        "{row}"
    );
    let got = ok(
        &fixture_for_get(&failing["items"][0]),
        "get_flux_resource",
        json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
    );
    assert_eq!(got["health"]["state"], "NotReady", "{got}");
    assert_eq!(got["health"]["retrying"], true);
}

fn fixture_for_get(object: &Value) -> Fixture {
    cluster()
        .on_json(
            "GET",
            &format!("{KUSTOMIZATIONS}/apps"),
            &object.to_string(),
        )
        .on_json(
            "GET",
            &format!("{SOURCES}/gitrepositories/flux-system"),
            r#"{"metadata": {"name": "flux-system", "namespace": "flux-system"}, "spec": {}, "status": {}}"#,
        )
        .on_json(
            "GET",
            "/api/v1/namespaces/flux-system/events",
            r#"{"items": []}"#,
        )
}
