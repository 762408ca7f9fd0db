//! One pass over the Flux tools through a real capstan against the fake Kubernetes API, which
//! holds every request to the Flux CRDs and the Kubernetes API contract. The tools' cases (every
//! answer, error path and exact request) are the plugin's native tests; this keeps what needs
//! the whole stack: the component running in the host, the host adding the target's
//! credentials, progress forwarded to the client, and requests the real API would accept.

use serde_json::{Value, json};

use super::fixtures::{self, FLEET_REVISION, KUSTOMIZE, REQUESTED_AT, SOURCE};
use super::{Flux, TOKEN};

#[tokio::test]
async fn the_tools_work_end_to_end_within_the_api_contract() {
    let flux = Flux::start().await;

    // Reads.
    let all = flux.ok("list_flux_resources", json!({})).await;
    assert_eq!(
        (&all["count"], &all["missingKinds"]),
        (&json!(12), &json!([])),
        "{all}"
    );
    let got = flux
        .ok(
            "get_flux_resource",
            json!({"kind": "Kustomization", "name": "apps",
               "namespace": "flux-system", "fields": ["spec.sourceRef"]}),
        )
        .await;
    assert_eq!(got["health"]["reason"], "BuildFailed");
    assert_eq!(got["sourceEvents"][0]["reason"], "NewArtifact");
    let events = flux
        .ok(
            "get_flux_events",
            json!({"kind": "Kustomization", "name": "apps",
               "namespace": "flux-system"}),
        )
        .await;
    assert_eq!(events["count"], 3, "{events}");
    let logs = flux.ok("get_flux_logs", json!({"level": "error"})).await;
    assert_eq!(logs["count"], 2, "{logs}");
    let traced = flux
        .ok(
            "trace_resource",
            json!({"kind": "Pod", "name": "podinfo-7d9f-x2k4q",
               "namespace": "podinfo"}),
        )
        .await;
    assert_eq!(
        traced["steps"].as_array().map(Vec::len),
        Some(8),
        "{traced}"
    );
    assert_eq!(traced["steps"][7]["revision"], FLEET_REVISION);
    let status = flux.ok("get_flux_status", json!({})).await;
    assert_eq!(
        (&status["installed"], &status["version"]),
        (&json!(true), &json!("v2.9.0"))
    );
    let tree = flux
        .ok(
            "flux_tree",
            json!({"name": "platform", "namespace": "flux-system"}),
        )
        .await;
    assert_eq!(tree["count"], 9, "{tree}");
    assert!(
        !tree.to_string().contains("hunter2"),
        "Helm release values never leave the plugin"
    );

    // A wait that times out, with its progress forwarded to the client.
    let result = flux
        .client
        .call_with_progress(
            "flux_reconcile",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                   "wait": true, "timeout": "3s"}),
            "apps-1",
        )
        .await
        .unwrap();
    assert_eq!(super::structured(&result)["steps"][0]["completed"], false);
    let progress = flux.client.recorded().progress;
    assert!(
        progress.iter().any(|p| p
            .message
            .as_deref()
            .is_some_and(|m| m.contains("Kustomization flux-system/apps"))),
        "{progress:?}"
    );

    // Writes, answered by stand-in controllers.
    flux.kube.react(fixtures::flux_controllers);
    let reconciled = flux
        .ok(
            "reconcile_dependencies",
            json!({"name": "platform", "namespace": "flux-system",
               "wait": true}),
        )
        .await;
    let steps: Vec<(Value, Value)> = reconciled["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| (step["name"].clone(), step["completed"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!("crds"), json!(true)),
            (json!("infra"), json!(true)),
            (json!("platform"), json!(true))
        ]
    );
    let infra = flux.object(KUSTOMIZE, "Kustomization", "flux-system", "infra");
    assert_eq!(
        infra["status"]["lastHandledReconcileAt"],
        infra["metadata"]["annotations"][REQUESTED_AT]
    );
    flux.ok(
        "reconcile",
        json!({"kind": "HelmRelease", "name": "redis", "namespace": "data",
               "withSource": true, "force": true}),
    )
    .await;
    flux.ok(
        "suspend",
        json!({"kind": "GitRepository", "name": "fleet",
               "namespace": "flux-system"}),
    )
    .await;
    assert_eq!(
        flux.object(SOURCE, "GitRepository", "flux-system", "fleet")["spec"]["suspend"],
        true
    );
    let resumed = flux
        .ok(
            "resume",
            json!({"kind": "GitRepository", "name": "fleet",
               "namespace": "flux-system", "reconcile": true, "wait": true}),
        )
        .await;
    assert_eq!(resumed["steps"][0]["completed"], true, "{resumed}");
    assert!(
        flux.object(SOURCE, "GitRepository", "flux-system", "fleet")["spec"]
            .get("suspend")
            .is_none()
    );

    // Every request carried the credentials the host added, and the real API would have
    // accepted each one.
    let requests = flux.kube.requests();
    assert!(requests.len() > 40, "{} requests", requests.len());
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        requests
            .iter()
            .all(|request| request.authorization() == Some(bearer.as_str())),
        "a request without the target's token"
    );
    let patches = requests.iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(
        patches,
        3 + 3 + 1 + 1 + 1,
        "reconcile apps, the chain, redis with source, suspend, resume"
    );
    flux.kube.assert_no_violations();
}
