//! Scenario fixtures for the Flux tests: a small platform whose objects each show one state
//! the tools must explain, and a reactor that plays the Flux controllers' side of the
//! reconcile handshake.
//!
//! - `fleet` (GitRepository, Ready) feeds the Kustomizations `crds` ← `infra` ← `platform`
//!   (a dependsOn chain) and `apps` (failing: BuildFailed, with Warning events); `platform`
//!   applied `apps` (its inventory), which applied the HelmRelease `podinfo`.
//! - `legacy` (GitRepository) is suspended, and so is its Kustomization `legacy-apps`.
//! - `bitnami` (HelmRepository) → HelmChart `data-redis` → HelmRelease `data/redis`, Stalled
//!   after exhausting its retries.
//! - HelmRelease `podinfo/podinfo` (applied by `apps`, chart `podinfo-podinfo`, release v2 in
//!   its Helm storage Secret) manages Deployment `podinfo`, whose
//!   ReplicaSet owns a Pod.
//! - The controllers run in `flux-system` with JSON logs; helm-controller has no ready pod.

use capstan_tests::fakes::kube::{Cluster, Event, Store};
use serde_json::{Value, json};

pub const NOW: &str = "2026-06-02T09:30:00Z";
pub const EARLIER: &str = "2026-06-02T09:00:00Z";
pub const FLEET_REVISION: &str = "main@sha1:4d2c7e0a9b1f";
pub const BUILD_FAILED: &str =
    "kustomize build failed: accumulating resources: missing Resource metadata";
pub const RETRIES_EXHAUSTED: &str =
    "Failed to install after 3 attempt(s): context deadline exceeded";
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

pub const KUSTOMIZE: &str = "kustomize.toolkit.fluxcd.io/v1";
pub const HELM: &str = "helm.toolkit.fluxcd.io/v2";
pub const SOURCE: &str = "source.toolkit.fluxcd.io/v1";

/// A metav1 condition.
pub fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": EARLIER, "observedGeneration": 1})
}

fn object(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    spec: Value,
    status: Value,
) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
           "metadata": {"name": name, "namespace": namespace},
           "spec": spec, "status": status})
}

fn ready_status(message: &str) -> Value {
    json!({"observedGeneration": 1, "conditions": [condition("Ready", "True", "Succeeded", message)]})
}

fn artifact(revision: &str) -> Value {
    json!({"path": "gitrepository/flux-system/fleet/4d2c7e0a.tar.gz",
           "url": "http://source-controller.flux-system.svc.cluster.local./gitrepository/flux-system/fleet/latest.tar.gz",
           "revision": revision, "digest": format!("sha256:{}", "ab".repeat(32)),
           "lastUpdateTime": NOW, "size": 4096})
}

fn git_repository(name: &str, suspend: bool, status: Value) -> Value {
    let spec = json!({"interval": "1m0s", "url": format!("https://github.com/example-org/{name}"),
                      "ref": {"branch": "main"}, "suspend": suspend});
    object(SOURCE, "GitRepository", "flux-system", name, spec, status)
}

fn kustomization(
    name: &str,
    source: &str,
    depends_on: &[&str],
    suspend: bool,
    status: Value,
) -> Value {
    let depends: Vec<Value> = depends_on
        .iter()
        .map(|name| json!({"name": name}))
        .collect();
    let spec = json!({"interval": "10m0s", "path": format!("./{name}"), "prune": true,
                      "suspend": suspend, "dependsOn": depends,
                      "sourceRef": {"kind": "GitRepository", "name": source}});
    object(
        KUSTOMIZE,
        "Kustomization",
        "flux-system",
        name,
        spec,
        status,
    )
}

fn applied() -> Value {
    json!({"observedGeneration": 1, "lastAppliedRevision": FLEET_REVISION,
           "lastAttemptedRevision": FLEET_REVISION,
           "conditions": [condition("Ready", "True", "ReconciliationSucceeded",
                                    &format!("Applied revision: {FLEET_REVISION}"))]})
}

fn sources() -> Vec<Value> {
    vec![
        git_repository(
            "fleet",
            false,
            json!({"observedGeneration": 1, "artifact": artifact(FLEET_REVISION),
            "conditions": [condition("Ready", "True", "Succeeded", "stored artifact for revision 'main@sha1:4d2c7e0a9b1f'")]}),
        ),
        git_repository(
            "legacy",
            true,
            ready_status("stored artifact for revision 'main@sha1:0000'"),
        ),
        object(
            SOURCE,
            "HelmRepository",
            "flux-system",
            "bitnami",
            json!({"interval": "1h0m0s", "url": "https://charts.bitnami.com/bitnami"}),
            ready_status("stored artifact: revision 'sha256:4f0b7a1c'"),
        ),
        object(
            SOURCE,
            "HelmChart",
            "flux-system",
            "data-redis",
            json!({"chart": "redis", "version": "20.6.1", "interval": "1h0m0s",
                      "sourceRef": {"kind": "HelmRepository", "name": "bitnami"}}),
            ready_status("pulled 'redis' chart with version '20.6.1'"),
        ),
        object(
            SOURCE,
            "HelmChart",
            "flux-system",
            "podinfo-podinfo",
            json!({"chart": "podinfo", "version": "*", "interval": "1h0m0s",
                      "sourceRef": {"kind": "HelmRepository", "name": "bitnami"}}),
            ready_status("pulled 'podinfo' chart with version '6.9.2'"),
        ),
    ]
}

fn kustomizations() -> Vec<Value> {
    let inventory = |ids: &[&str]| -> Value {
        json!({"entries": ids.iter().map(|id| json!({"id": id, "v": "v1"})).collect::<Vec<_>>()})
    };
    let mut failing = json!({"observedGeneration": 1, "lastAppliedRevision": "main@sha1:0ld",
        "lastAttemptedRevision": FLEET_REVISION,
        "conditions": [condition("Ready", "False", "BuildFailed", BUILD_FAILED)]});
    failing["inventory"] = inventory(&[
        "_podinfo__Namespace",
        "podinfo_podinfo_helm.toolkit.fluxcd.io_HelmRelease",
    ]);
    let mut platform = applied();
    platform["inventory"] = inventory(&[
        "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization",
        "flux-system_fleet_source.toolkit.fluxcd.io_GitRepository",
        "flux-system_platform-settings__ConfigMap",
    ]);
    vec![
        kustomization("crds", "fleet", &[], false, applied()),
        kustomization("infra", "fleet", &["crds"], false, applied()),
        kustomization("platform", "fleet", &["infra"], false, platform),
        kustomization("apps", "fleet", &["infra"], false, failing),
        kustomization("legacy-apps", "legacy", &[], true, applied()),
    ]
}

fn helm_release(namespace: &str, name: &str, status: Value) -> Value {
    let spec = json!({"interval": "30m0s",
        "chart": {"spec": {"chart": name, "version": "*",
                           "sourceRef": {"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}}}});
    let mut release = object(HELM, "HelmRelease", namespace, name, spec, status);
    release["metadata"]["labels"] = json!({"kustomize.toolkit.fluxcd.io/name": "apps",
                                            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"});
    release
}

fn helm_releases() -> Vec<Value> {
    let stalled = json!({"observedGeneration": 1, "lastAttemptedRevision": "20.6.1", "installFailures": 3,
        "conditions": [condition("Ready", "False", "InstallFailed", RETRIES_EXHAUSTED),
                       condition("Stalled", "True", "RetriesExceeded", RETRIES_EXHAUSTED)]});
    let released = json!({"observedGeneration": 1, "lastAttemptedRevision": "6.9.2", "storageNamespace": "podinfo",
        "conditions": [condition("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded for release podinfo/podinfo.v2 with chart podinfo@6.9.2")],
        "history": [{"name": "podinfo", "namespace": "podinfo", "version": 2, "status": "deployed",
                     "chartName": "podinfo", "chartVersion": "6.9.2", "appVersion": "6.9.2",
                     "configDigest": format!("sha256:{}", "cd".repeat(32)),
                     "digest": format!("sha256:{}", "ef".repeat(32)),
                     "firstDeployed": EARLIER, "lastDeployed": NOW}]});
    vec![
        helm_release("data", "redis", stalled),
        helm_release("podinfo", "podinfo", released),
    ]
}

fn workload() -> Vec<Value> {
    let labels = json!({"app": "podinfo", "helm.toolkit.fluxcd.io/name": "podinfo",
                        "helm.toolkit.fluxcd.io/namespace": "podinfo"});
    let owner = |kind: &str, name: &str| {
        json!([{"apiVersion": "apps/v1", "kind": kind, "name": name,
                                                 "uid": format!("uid-{name}"), "controller": true}])
    };
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "podinfo", "namespace": "podinfo", "labels": labels},
               "spec": {"selector": {"matchLabels": {"app": "podinfo"}}}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "podinfo-7d9f", "namespace": "podinfo", "labels": {"app": "podinfo"},
                            "ownerReferences": owner("Deployment", "podinfo")},
               "spec": {}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "podinfo-7d9f-x2k4q", "namespace": "podinfo", "labels": {"app": "podinfo"},
                            "ownerReferences": owner("ReplicaSet", "podinfo-7d9f")},
               "spec": {"containers": [{"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.9.2"}]},
               "status": {"phase": "Running"}}),
    ]
}

/// Helm's storage Secret of release `podinfo/podinfo` v2: `release` is base64 of Helm's base64
/// of a gzip of the release JSON (values with a `secretToken`, and a manifest with a Service, a
/// Deployment and a ClusterRole).
fn helm_storage() -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": "sh.helm.release.v1.podinfo.v2", "namespace": "podinfo",
                        "labels": {"owner": "helm", "name": "podinfo", "status": "deployed", "version": "2"}},
           "data": {"release": HELM_RELEASE}})
}

/// See [`helm_storage`].
const HELM_RELEASE: &str = "SDRzSUFBQUFBQUFDQTRXU01XL0RJQkNGL3dxaWE0M1ZERlhydFYyeVZVM1ZpZVVDbHdRWkh3aHdwRFRLZnkvR1R0Skdsc0xHNDNIZnU0TWpKK2lRTjR4N3B3MXRISDlrUllvZTFLMit4eENObzZ3dThxNm9EVHZ5bUNEMWNmQnE5TllkVVBOVFBsYzdDS2tZT2t5Z0lVSFp6UEN1ZGZtemVCVUxmaXIzSFczTWRpU2dDcGkrWEl2RnRPc3BZVmdVU2dka05oZ0hFSytxU3RJRFc3aytLR3pZUktnVGR0NUN3bGhIREh1alVCeWdzNUxBbSsrUjNMRDlrNlRXa0c3WWF2UklPcWR1SkRFMnBMNVVIQVFMYTdTeG5ERUczb3UyWDJNZ3pCaGhYSDNqang1VjhhYUR6L3FiN1dQdVlQa2g2VzdtY2FZZFVwcUpuY0d4dm1aL3YzanZ4Yjg4OFd6SUNUNTE5Ni9Tc01acVprc3VvSjVhK0pzcXJFRUo2TlBPQmZNREtXdWlmU2xqdVVhZFJ2RHA3UHlvNWZtRFZBRkJZNUJjRWovOUFqQ0p5bEN2QWdBQQ==";

fn event(
    name: &str,
    kind: &str,
    object: &str,
    kind_type: &str,
    reason: &str,
    message: &str,
    at: &str,
) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
           "metadata": {"name": name, "namespace": "flux-system"},
           "involvedObject": {"kind": kind, "name": object, "namespace": "flux-system",
                              "apiVersion": if kind == "Kustomization" { KUSTOMIZE } else { SOURCE }},
           "type": kind_type, "reason": reason, "message": message, "count": 1,
           "firstTimestamp": at, "lastTimestamp": at,
           "source": {"component": "kustomize-controller"}})
}

fn events() -> Vec<Value> {
    vec![
        event(
            "apps.1",
            "Kustomization",
            "apps",
            "Warning",
            "BuildFailed",
            BUILD_FAILED,
            NOW,
        ),
        event(
            "apps.0",
            "Kustomization",
            "apps",
            "Normal",
            "ReconciliationSucceeded",
            "Reconciliation finished",
            EARLIER,
        ),
        event(
            "fleet.1",
            "GitRepository",
            "fleet",
            "Normal",
            "NewArtifact",
            "stored artifact for commit 'Add podinfo'",
            EARLIER,
        ),
        event(
            "infra.1",
            "Kustomization",
            "infra",
            "Normal",
            "Progressing",
            "Deployment/ingress-nginx configured",
            EARLIER,
        ),
    ]
}

/// One Flux controller: a Deployment labelled part-of=flux and its running pod.
fn controller(name: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "flux-system",
                            "labels": {"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/component": name}},
               "spec": {"selector": {"matchLabels": {"app": name}},
                        "template": {"spec": {"containers": [{"name": "manager", "image": format!("ghcr.io/fluxcd/{name}:v1.9.1")}]}}},
               "status": {"replicas": 1, "readyReplicas": if name == "helm-controller" { 0 } else { 1 }}}),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("{name}-6c9f4-abcde"), "namespace": "flux-system", "labels": {"app": name}},
               "spec": {"containers": [{"name": "manager"}]},
               "status": {"phase": "Running"}}),
    ]
}

pub const KUSTOMIZE_LOG: &[(&str, &str)] = &[
    (
        "2026-06-02T09:10:00Z",
        r#"{"level":"info","ts":"2026-06-02T09:10:00.000Z","msg":"server-side apply completed","controllerKind":"Kustomization","name":"infra","namespace":"flux-system"}"#,
    ),
    (
        "2026-06-02T09:20:00Z",
        r#"{"level":"error","ts":"2026-06-02T09:20:00.000Z","msg":"Reconciler error","controllerKind":"Kustomization","name":"apps","namespace":"flux-system","error":"kustomize build failed"}"#,
    ),
    (
        "2026-06-02T09:21:00Z",
        r#"{"level":"info","ts":"2026-06-02T09:21:00.000Z","msg":"dependencies ready","controllerKind":"Kustomization","name":"apps","namespace":"flux-system"}"#,
    ),
];

pub const HELM_LOG: &[(&str, &str)] = &[(
    "2026-06-02T09:25:00Z",
    r#"{"level":"error","ts":"2026-06-02T09:25:00.000Z","msg":"install retries exhausted","controllerKind":"HelmRelease","name":"redis","namespace":"data","error":"context deadline exceeded"}"#,
)];

/// The whole scenario.
pub fn cluster() -> Cluster {
    let objects = sources()
        .into_iter()
        .chain(kustomizations())
        .chain(helm_releases())
        .chain(workload())
        .chain([helm_storage()])
        .chain(events())
        .chain(
            [
                "kustomize-controller",
                "helm-controller",
                "source-controller",
            ]
            .into_iter()
            .flat_map(controller),
        );
    let cluster = objects.fold(Cluster::new(), |cluster, object| {
        cluster
            .with(object)
            .unwrap_or_else(|error| panic!("invalid Flux fixture: {error:#}"))
    });
    cluster
        .with_logs(
            "flux-system",
            "kustomize-controller-6c9f4-abcde",
            "manager",
            KUSTOMIZE_LOG,
        )
        .with_logs(
            "flux-system",
            "helm-controller-6c9f4-abcde",
            "manager",
            HELM_LOG,
        )
}

/// Plays the Flux controllers: when a patch leaves a `requestedAt` annotation the object has
/// not handled yet, it records `status.lastHandledReconcileAt` (suspended objects too, as the
/// real controllers do) and, unless suspended, marks the current generation Ready.
pub fn flux_controllers(store: &mut Store, event: &Event) {
    if event.verb != "patch" || !event.api_version.contains("toolkit.fluxcd.io") {
        return;
    }
    let (Some(namespace), Some(name)) = (&event.namespace, &event.name) else {
        return;
    };
    let Some(object) = store.object(&event.api_version, &event.kind, namespace, name) else {
        return;
    };
    let requested = object["metadata"]["annotations"][REQUESTED_AT].clone();
    if requested.is_null() || object["status"]["lastHandledReconcileAt"] == requested {
        return;
    }
    store
        .update(&event.api_version, &event.kind, namespace, name, |object| {
            object["status"]["lastHandledReconcileAt"] = requested.clone();
            if object["spec"]["suspend"] != true {
                let generation = object["metadata"]["generation"].clone();
                let mut ready = condition("Ready", "True", "Succeeded", "reconciled on request");
                ready["observedGeneration"] = generation.clone();
                object["status"]["observedGeneration"] = generation;
                object["status"]["conditions"] = json!([ready]);
            }
        })
        .expect("the controller's status update is valid");
}
