//! The write tools: each sends exactly the merge patch the `flux` CLI sends, and the wait
//! follows the reconcile handshake (played here by a reactor standing in for the controllers).

use serde_json::{Value, json};

use super::Flux;
use super::fixtures::{self, HELM, KUSTOMIZE, REQUESTED_AT, RETRIES_EXHAUSTED, SOURCE};

const MERGE_PATCH: &str = "application/merge-patch+json";

/// Every PATCH as (path, content type, body).
fn patches(flux: &Flux) -> Vec<(String, String, Value)> {
    flux.requests("PATCH")
        .iter()
        .map(|r| {
            (
                r.target(),
                r.content_type().unwrap_or_default().to_owned(),
                r.json(),
            )
        })
        .collect()
}

fn annotations(at: &Value, names: &[&str]) -> Value {
    let map: serde_json::Map<String, Value> = names
        .iter()
        .map(|name| ((*name).to_owned(), at.clone()))
        .collect();
    json!({"metadata": {"annotations": map}})
}

#[tokio::test]
async fn reconcile_sets_requested_at_and_waits_for_the_handshake() {
    let flux = Flux::start().await;
    flux.kube.react(fixtures::flux_controllers);
    let answer = flux
        .ok(
            "reconcile",
            json!({"kind": "Kustomization", "name": "infra", "namespace": "flux-system",
                                "wait": true, "timeout": "1m"}),
        )
        .await;
    let step = &answer["steps"][0];
    let at = step["requestedAt"].clone();
    assert!(
        at.as_str()
            .is_some_and(|at| at.ends_with('Z') && at.len() > 20),
        "{at}"
    );
    assert_eq!(
        patches(&flux),
        [(
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/infra"
                .to_owned(),
            MERGE_PATCH.to_owned(),
            annotations(&at, &[REQUESTED_AT]),
        )]
    );
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(true), &json!("Ready"))
    );
    assert_eq!(
        step["ready"],
        json!({"status": "True", "reason": "Succeeded", "message": "reconciled on request"})
    );
    let stored = flux.object(KUSTOMIZE, "Kustomization", "flux-system", "infra");
    assert_eq!(stored["metadata"]["annotations"][REQUESTED_AT], at);
    assert_eq!(stored["status"]["lastHandledReconcileAt"], at);
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn a_helm_release_with_source_reconciles_its_generated_chart_first_and_forces_only_when_asked()
 {
    let flux = Flux::start().await;
    let answer = flux
        .ok(
            "reconcile",
            json!({"kind": "HelmRelease", "name": "redis", "namespace": "data",
                                "with_source": true, "force": true, "reset": true}),
        )
        .await;
    let at: Vec<Value> = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requestedAt"].clone())
        .collect();
    assert_eq!(
        patches(&flux),
        [
            (
                "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/helmrepositories/bitnami"
                    .to_owned(),
                MERGE_PATCH.to_owned(),
                annotations(&at[0], &[REQUESTED_AT])
            ),
            (
                "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/helmcharts/data-redis"
                    .to_owned(),
                MERGE_PATCH.to_owned(),
                annotations(&at[1], &[REQUESTED_AT])
            ),
            (
                "/apis/helm.toolkit.fluxcd.io/v2/namespaces/data/helmreleases/redis".to_owned(),
                MERGE_PATCH.to_owned(),
                annotations(
                    &at[2],
                    &[
                        REQUESTED_AT,
                        "reconcile.fluxcd.io/forceAt",
                        "reconcile.fluxcd.io/resetAt"
                    ]
                )
            ),
        ]
    );
    flux.kube.clear_journal();
    flux.ok(
        "reconcile",
        json!({"kind": "HelmRelease", "name": "podinfo", "namespace": "podinfo"}),
    )
    .await;
    let body = &patches(&flux)[0].2;
    assert_eq!(
        body["metadata"]["annotations"].as_object().unwrap().len(),
        1,
        "no force or reset unasked: {body}"
    );
    let refused = flux
        .error("reconcile", json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system", "force": true}))
        .await;
    assert!(refused.contains("HelmReleases only"), "{refused}");
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn suspended_objects_are_refused_and_their_handshake_is_not_trusted() {
    let flux = Flux::start().await;
    let refused = flux
        .error(
            "reconcile",
            json!({"kind": "Kustomization", "name": "legacy-apps", "namespace": "flux-system"}),
        )
        .await;
    assert!(
        refused.contains("is suspended") && refused.contains("resume"),
        "{refused}"
    );
    let source = flux
        .error(
            "reconcile",
            json!({"kind": "GitRepository", "name": "legacy", "namespace": "flux-system"}),
        )
        .await;
    assert!(source.contains("suspended"), "{source}");
    assert!(flux.requests("PATCH").is_empty());

    // A controller suspends `infra` while the request is in flight, yet still records the
    // handshake, as the real controllers do for suspended objects.
    flux.kube.react(|store, event| {
        if event.verb == "patch" && event.is_about("Kustomization", "infra") {
            store
                .update(
                    KUSTOMIZE,
                    "Kustomization",
                    "flux-system",
                    "infra",
                    |object| object["spec"]["suspend"] = json!(true),
                )
                .unwrap();
        }
    });
    flux.kube.react(fixtures::flux_controllers);
    let answer = flux
        .ok("reconcile", json!({"kind": "Kustomization", "name": "infra", "namespace": "flux-system", "wait": true}))
        .await;
    let step = &answer["steps"][0];
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(false), &json!("Suspended")),
        "{step}"
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn waiting_ends_early_on_stalled_and_answers_with_ready_on_timeout() {
    let flux = Flux::start().await;
    let stalled = flux
        .ok("reconcile", json!({"kind": "HelmRelease", "name": "redis", "namespace": "data", "wait": true, "timeout": "5m"}))
        .await;
    let step = &stalled["steps"][0];
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(false), &json!("Stalled"))
    );
    assert_eq!(
        step["ready"],
        json!({"status": "False", "reason": "InstallFailed", "message": RETRIES_EXHAUSTED})
    );
    assert_eq!(
        flux.requests("GET").len(),
        2,
        "one GET before the patch, one after: stalled ends the wait"
    );

    let result = flux
        .client
        .call_with_progress(
            "flux_reconcile",
            json!({"kind": "Kustomization", "name": "apps",
                            "namespace": "flux-system", "wait": true, "timeout": "3s"}),
            "apps-1",
        )
        .await
        .unwrap();
    let timed_out = super::structured(&result);
    let step = &timed_out["steps"][0];
    assert_eq!(step["completed"], false);
    assert_eq!(
        step["ready"],
        json!({"status": "False", "reason": "BuildFailed", "message": fixtures::BUILD_FAILED})
    );
    let progress = flux.client.recorded().progress;
    assert!(
        progress.iter().any(|p| p
            .message
            .as_deref()
            .is_some_and(|m| m.contains("Kustomization flux-system/apps"))),
        "{progress:?}"
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn suspend_and_resume_send_the_cli_patches() {
    let flux = Flux::start().await;
    flux.kube.react(fixtures::flux_controllers);
    let suspended = flux
        .ok(
            "suspend",
            json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}),
        )
        .await;
    assert_eq!(suspended["steps"][0]["health"]["state"], "Suspended");
    assert_eq!(
        flux.object(SOURCE, "GitRepository", "flux-system", "fleet")["spec"]["suspend"],
        true
    );
    let resumed = flux
        .ok(
            "resume",
            json!({"kind": "GitRepository", "name": "fleet", "namespace": "flux-system",
                             "reconcile": true, "wait": true}),
        )
        .await;
    let step = &resumed["steps"][0];
    let at = step["requestedAt"].clone();
    let path = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/fleet";
    assert_eq!(
        patches(&flux),
        [
            (
                path.to_owned(),
                MERGE_PATCH.to_owned(),
                json!({"spec": {"suspend": true}})
            ),
            (
                path.to_owned(),
                MERGE_PATCH.to_owned(),
                json!({"metadata": {"annotations": {REQUESTED_AT: at}}, "spec": {"suspend": null}})
            ),
        ]
    );
    assert_eq!(
        (&step["completed"], &step["health"]["state"]),
        (&json!(true), &json!("Ready"))
    );
    let stored = flux.object(SOURCE, "GitRepository", "flux-system", "fleet");
    assert!(stored["spec"].get("suspend").is_none(), "{stored}");
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn reconcile_dependencies_walks_the_depends_on_chain_in_order() {
    let flux = Flux::start().await;
    flux.kube.react(fixtures::flux_controllers);
    let answer = flux
        .ok(
            "reconcile_dependencies",
            json!({"name": "platform", "namespace": "flux-system", "wait": true}),
        )
        .await;
    let order: Vec<String> = patches(&flux)
        .into_iter()
        .map(|(path, _, _)| path)
        .collect();
    let path = |name: &str| {
        format!("/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/{name}")
    };
    assert_eq!(order, [path("crds"), path("infra"), path("platform")]);
    assert!(
        answer["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["completed"] == true && s["health"]["state"] == "Ready")
    );

    // A suspended Kustomization stops the chain before anything is patched.
    flux.kube.clear_journal();
    let missing = flux
        .error(
            "reconcile_dependencies",
            json!({"name": "legacy-apps", "namespace": "flux-system"}),
        )
        .await;
    assert!(missing.contains("suspended"), "{missing}");
    assert!(flux.requests("PATCH").is_empty());
    let released = flux.object(HELM, "HelmRelease", "data", "redis");
    assert!(
        released["metadata"].get("annotations").is_none(),
        "untouched"
    );
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn a_forbidden_patch_says_which_permission_is_missing() {
    let flux = Flux::with(fixtures::cluster().forbidding("patch", "kustomizations")).await;
    let denied = flux
        .error(
            "suspend",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        )
        .await;
    assert!(
        denied.contains("HTTP 403")
            && denied.contains("RBAC verb `patch` on resource `kustomizations` in API group `kustomize.toolkit.fluxcd.io`"),
        "{denied}"
    );
    assert_eq!(
        flux.object(KUSTOMIZE, "Kustomization", "flux-system", "apps")["spec"]["suspend"],
        false
    );
    flux.kube.assert_no_violations();
}
