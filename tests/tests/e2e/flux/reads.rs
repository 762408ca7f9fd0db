//! The read tools: list, get, events, logs, trace, prompts, and their error paths.

use serde_json::{Value, json};

use super::fixtures::{BUILD_FAILED, FLEET_REVISION, RETRIES_EXHAUSTED};
use super::{Flux, fixtures};
use capstan_tests::client::is_error;

fn row<'a>(rows: &'a Value, kind: &str, name: &str) -> &'a Value {
    rows["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["kind"] == kind && row["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {rows}"))
}

#[tokio::test]
async fn list_rows_carry_health_revision_and_why() {
    let flux = Flux::start().await;
    let all = flux.ok("list_flux_resources", json!({})).await;
    assert_eq!(all["count"], 12, "{all}");
    assert_eq!(all["missingKinds"], json!([]));
    assert_eq!(
        row(&all, "Kustomization", "apps"),
        &json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                "health": "NotReady", "reason": "BuildFailed", "ready": "False",
                "revision": "main@sha1:0ld", "suspended": false, "message": BUILD_FAILED,
                "lastReconcile": fixtures::EARLIER})
    );
    let redis = row(&all, "HelmRelease", "redis");
    assert_eq!(
        (&redis["health"], &redis["reason"], &redis["message"]),
        (
            &json!("Stalled"),
            &json!("RetriesExceeded"),
            &json!(RETRIES_EXHAUSTED)
        )
    );
    assert_eq!(row(&all, "GitRepository", "legacy")["health"], "Suspended");
    assert_eq!(
        row(&all, "GitRepository", "fleet")["revision"],
        FLEET_REVISION
    );
    assert_eq!(row(&all, "HelmRelease", "podinfo")["revision"], "6.9.2");

    flux.kube.clear_journal();
    let selected = flux
        .ok(
            "list_flux_resources",
            json!({"kind": "HelmRelease", "namespace": "podinfo",
               "labelSelector": "kustomize.toolkit.fluxcd.io/name=apps"}),
        )
        .await;
    assert_eq!(selected["count"], 1, "{selected}");
    let lists: Vec<String> = flux.requests("GET").iter().map(|r| r.target()).collect();
    assert_eq!(
        lists,
        [
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/podinfo/helmreleases?limit=500\
          &labelSelector=kustomize.toolkit.fluxcd.io%2Fname%3Dapps"
        ]
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn get_projects_fields_and_brings_the_events_of_the_object_and_its_source() {
    let flux = Flux::start().await;
    let got = flux
        .ok("get_flux_resource", json!({"kind": "Kustomization", "name": "apps",
               "namespace": "flux-system", "fields": ["spec.sourceRef", "status.lastAttemptedRevision"]}))
        .await;
    assert_eq!(
        got["object"],
        json!({"spec": {"sourceRef": {"kind": "GitRepository", "name": "fleet"}},
               "status": {"lastAttemptedRevision": FLEET_REVISION}})
    );
    assert_eq!(
        got["health"],
        json!({"state": "NotReady", "reason": "BuildFailed", "message": BUILD_FAILED})
    );
    assert_eq!(
        got["source"],
        json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"})
    );
    let reasons = |field: &str| -> Vec<Value> {
        got[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["reason"].clone())
            .collect()
    };
    assert_eq!(
        reasons("events"),
        [json!("BuildFailed")],
        "routine successes are left out"
    );
    assert_eq!(reasons("sourceEvents"), [json!("NewArtifact")]);
    let event_lists: Vec<Vec<String>> = flux
        .requests("GET")
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/flux-system/events")
        .map(|r| r.query_values("fieldSelector"))
        .collect();
    assert_eq!(
        event_lists,
        [
            [
                "involvedObject.kind=Kustomization,involvedObject.name=apps,reason!=ReconciliationSucceeded"
            ],
            [
                "involvedObject.kind=GitRepository,involvedObject.name=fleet,reason!=ReconciliationSucceeded"
            ],
        ]
    );
    let whole = flux
        .ok(
            "get_flux_resource",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "data", "events": false}),
        )
        .await;
    assert_eq!(whole["object"]["metadata"]["name"], "redis");
    assert!(whole["object"]["metadata"].get("managedFields").is_none());
    assert_eq!(
        whole["source"],
        json!({"kind": "HelmChart", "name": "data-redis", "namespace": "flux-system"})
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn missing_objects_crds_and_permissions_say_what_to_do() {
    let cluster = fixtures::cluster()
        .without_crd("helmreleases.helm.toolkit.fluxcd.io")
        .forbidding("list", "gitrepositories");
    let flux = Flux::with(cluster).await;
    let missing = flux
        .error(
            "get_flux_resource",
            json!({"kind": "Kustomization", "name": "nope", "namespace": "flux-system"}),
        )
        .await;
    assert!(
        missing.contains("HTTP 404") && missing.contains("does not exist"),
        "{missing}"
    );
    let no_crd = flux
        .error(
            "get_flux_resource",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "data"}),
        )
        .await;
    assert!(
        no_crd.contains("helmreleases.helm.toolkit.fluxcd.io CRD"),
        "{no_crd}"
    );
    let denied = flux
        .error("list_flux_resources", json!({"kind": "GitRepository"}))
        .await;
    assert!(
        denied.contains("HTTP 403")
            && denied.contains("RBAC verb `list` on resource `gitrepositories` in API group `source.toolkit.fluxcd.io`"),
        "{denied}"
    );
    let partial = flux
        .ok(
            "list_flux_resources",
            json!({"namespace": "flux-system", "kind": "Kustomization"}),
        )
        .await;
    assert_eq!(partial["count"], 5);
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn hostile_names_stay_in_their_path_segment() {
    let flux = Flux::start().await;
    for name in ["../../../api/v1/secrets", "..", ".", "a/b?watch=true"] {
        let answer = flux
            .error(
                "get_flux_resource",
                json!({"kind": "Kustomization", "name": name, "namespace": "flux-system"}),
            )
            .await;
        let expected = if name.starts_with("../") || name.contains('/') {
            "HTTP 404"
        } else {
            "not a valid Kustomization name"
        };
        assert!(answer.contains(expected), "{answer}");
    }
    let paths: Vec<String> = flux.requests("GET").iter().map(|r| r.target()).collect();
    assert_eq!(
        paths,
        [
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/..%2F..%2F..%2Fapi%2Fv1%2Fsecrets",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/a%2Fb%3Fwatch%3Dtrue",
        ]
    );
    let refused = flux
        .client
        .call(
            "flux_get_flux_resource",
            json!({"kind": "Kustomization", "name": "x", "namespace": "../kube-system"}),
        )
        .await;
    assert!(
        refused.as_ref().is_ok_and(is_error) || refused.is_err(),
        "{refused:?}"
    );
    assert_eq!(
        flux.requests("GET").len(),
        2,
        "`.`, `..` and an invalid namespace never reach the API"
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn events_read_like_flux_events_for_one_object() {
    let flux = Flux::start().await;
    let all = flux
        .ok("get_flux_events", json!({"namespace": "flux-system"}))
        .await;
    assert_eq!(all["count"], 4);
    let warnings = flux.ok("get_flux_events", json!({"type": "Warning"})).await;
    assert_eq!(warnings["events"].as_array().unwrap().len(), 1);
    let apps = flux
        .ok(
            "get_flux_events",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        )
        .await;
    let seen: Vec<(Value, Value)> = apps["events"]
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
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn logs_come_from_the_controller_filtered_like_flux_logs() {
    let flux = Flux::start().await;
    let errors = flux
        .ok(
            "get_flux_logs",
            json!({"kind": "Kustomization", "name": "apps", "level": "error"}),
        )
        .await;
    assert_eq!(errors["controllers"], json!(["kustomize-controller"]));
    assert_eq!(
        errors["lines"],
        json!([{"controller": "kustomize-controller", "ts": "2026-06-02T09:20:00.000Z", "level": "error",
                "message": "Reconciler error", "kind": "Kustomization", "name": "apps",
                "namespace": "flux-system", "error": "kustomize build failed"}])
    );
    let logs: Vec<String> = flux
        .requests("GET")
        .iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| r.target())
        .collect();
    assert_eq!(
        logs,
        [
            "/api/v1/namespaces/flux-system/pods/kustomize-controller-6c9f4-abcde/log?container=manager&tailLines=5000"
        ]
    );
    let everything = flux.ok("get_flux_logs", json!({"level": "error"})).await;
    assert_eq!(everything["count"], 2, "{everything}");
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn a_pod_traces_up_to_its_helm_release_kustomization_and_sources() {
    let flux = Flux::start().await;
    let traced = flux
        .ok(
            "trace_resource",
            json!({"kind": "Pod", "name": "podinfo-7d9f-x2k4q", "namespace": "podinfo"}),
        )
        .await;
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
    assert_eq!(traced["steps"][7]["revision"], FLEET_REVISION);
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn a_read_only_instance_lists_only_the_read_tools_and_the_prompts_render() {
    let flux = Flux::start().await;
    let tools = flux.client.tools().await.unwrap();
    let names = |prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = tools
            .iter()
            .filter_map(|t| t.name.strip_prefix(prefix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("fluxro_"),
        [
            "flux_tree",
            "get_flux_events",
            "get_flux_logs",
            "get_flux_resource",
            "get_flux_status",
            "list_flux_resources",
            "trace_resource"
        ]
    );
    assert_eq!(
        names("flux_"),
        [
            "flux_tree",
            "get_flux_events",
            "get_flux_logs",
            "get_flux_resource",
            "get_flux_status",
            "list_flux_resources",
            "reconcile",
            "reconcile_dependencies",
            "resume",
            "suspend",
            "trace_resource"
        ]
    );
    for tool in tools.iter().filter(|t| t.name.starts_with("flux_")) {
        let hints = tool.annotations.as_ref().expect("annotations");
        let writes = [
            "flux_reconcile",
            "flux_reconcile_dependencies",
            "flux_resume",
            "flux_suspend",
        ];
        assert_eq!(
            hints.read_only_hint,
            Some(!writes.contains(&tool.name.as_ref())),
            "{}",
            tool.name
        );
        assert_eq!(hints.destructive_hint, Some(false), "{}", tool.name);
        assert_eq!(hints.open_world_hint, Some(false), "{}", tool.name);
        assert!(tool.output_schema.is_some(), "{}", tool.name);
        assert!(
            tool.input_schema
                .get("properties")
                .and_then(|p| p.get("target"))
                .is_some()
        );
    }
    let denied = flux
        .client
        .call(
            "fluxro_reconcile",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        )
        .await;
    assert!(denied.is_err() || is_error(denied.as_ref().unwrap()));

    let prompt = flux
        .client
        .service()
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("flux_debug_helmrelease").with_arguments(
                json!({"name": "redis", "namespace": "data"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let rendered = serde_json::to_string(&prompt).unwrap();
    assert!(
        rendered.contains("HelmRelease `redis` in namespace `data`")
            && rendered.contains("data-redis"),
        "{rendered}"
    );
    let prompts = flux.client.service().list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.starts_with("flux_"))
        .collect();
    assert_eq!(
        names,
        ["flux_debug_helmrelease", "flux_debug_kustomization"]
    );
    assert!(flux.requests("PATCH").is_empty());
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn status_reports_crds_controllers_and_versions() {
    let flux = Flux::start().await;
    let status = flux.ok("get_flux_status", json!({})).await;
    assert_eq!(
        (&status["installed"], &status["healthy"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(status["version"], "v2.9.0");
    let crds: Vec<&str> = status["crds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(crds.len(), 7, "{crds:?}");
    assert!(crds.contains(&"helmreleases.helm.toolkit.fluxcd.io"));
    let ready: Vec<(String, bool)> = status["controllers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["ready"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ready,
        [
            ("helm-controller".to_owned(), false),
            ("kustomize-controller".to_owned(), true),
            ("source-controller".to_owned(), true)
        ]
    );
    let lists: Vec<String> = flux.requests("GET").iter().map(|r| r.target()).collect();
    assert_eq!(
        lists,
        [
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?limit=500&labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
            "/apis/apps/v1/namespaces/flux-system/deployments?limit=500&labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
        ]
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn the_tree_walks_nested_kustomizations_down_to_helm_releases() {
    let flux = Flux::start().await;
    let tree = flux
        .ok(
            "flux_tree",
            json!({"name": "platform", "namespace": "flux-system"}),
        )
        .await;
    assert_eq!(tree["count"], 9, "{tree}");
    let root = &tree["tree"];
    assert_eq!(
        (&root["kind"], &root["health"]["state"]),
        (&json!("Kustomization"), &json!("Ready"))
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
    let secret_reads: Vec<String> = flux
        .requests("GET")
        .iter()
        .filter(|r| r.path.contains("/secrets/"))
        .map(|r| r.target())
        .collect();
    assert_eq!(
        secret_reads,
        ["/api/v1/namespaces/podinfo/secrets/sh.helm.release.v1.podinfo.v2"]
    );
    assert!(
        !tree.to_string().contains("hunter2"),
        "release values never leave the plugin"
    );
    let compact = flux
        .ok(
            "flux_tree",
            json!({"name": "platform", "namespace": "flux-system", "compact": true}),
        )
        .await;
    assert_eq!(compact["count"], 4, "{compact}");
    flux.kube.assert_no_violations();
}
