//! The demo data set: a small, realistic estate for `capstan-fakes` and for tests that want
//! "a cluster that looks real". Argo CD manages ten applications (guestbook, payments, checkout,
//! search, recommendations, platform add-ons) in mixed sync and health states; the cluster runs
//! Argo Rollouts for the services (one paused mid-canary, one aborted) and Flux for the platform
//! (a failing Kustomization, a suspended one, a HelmRelease whose install failed, a Git source
//! that cannot authenticate, a static OCI Helm repository). One release is broken on purpose:
//! deploying [`BROKEN_RELEASE`] to `search-api` always leaves it Degraded (the image cannot be
//! pulled), so a deploy that watches and rolls back has something to roll back.

use serde_json::{Value, json};

use crate::fakes::argocd::{Application, ArgoCd, Cause, IN_CLUSTER};
use crate::fakes::ids::fake_sha;
use crate::fakes::kube::Cluster;

mod rollouts;

const PROD: &str = "https://prod-eu-west-1.k8s.example.com";
const NOW: &str = "2026-08-20T11:42:31Z";
const EARLIER: &str = "2026-08-19T16:05:12Z";

/// The GitOps repository of the platform team: one directory per add-on under `apps/`.
pub const PLATFORM_REPO: &str = "https://github.com/example-org/platform-apps.git";

/// A search-api release whose image cannot be pulled: every sync that deploys it as a Kustomize
/// image leaves the application Degraded.
pub const BROKEN_RELEASE: &str = "ghcr.io/example-org/search-api:4.0.0";

/// The demo Argo CD: ten applications in projects `default`, `payments`, `checkout`, `search`,
/// `data` and `platform`, the platform team's repository of add-ons and an ApplicationSet that
/// deploys the guestbook to every environment; [`BROKEN_RELEASE`] cannot start.
pub fn argocd() -> ArgoCd {
    demo_applications()
        .into_iter()
        .fold(ArgoCd::new(), ArgoCd::with_app)
        .with_repo(
            PLATFORM_REPO,
            &[
                ("apps/external-dns", "Helm"),
                ("apps/kyverno", "Helm"),
                ("apps/sealed-secrets", "Kustomize"),
                ("apps/velero", "Helm"),
                ("bootstrap", "Directory"),
            ],
        )
        .with_broken_image(BROKEN_RELEASE, Cause::ImagePull)
        .with_appset(guestbook_appset())
        .unwrap_or_else(|error| panic!("the demo data set is invalid: {error:#}"))
}

fn guestbook_appset() -> Value {
    json!({
        "metadata": {"name": "guestbook-envs", "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {
            "generators": [{"list": {"elements": [
                {"env": "dev", "server": IN_CLUSTER},
                {"env": "staging", "server": "https://staging-eu-west-1.k8s.example.com"},
            ]}}],
            "template": {
                "metadata": {"name": "guestbook-{{env}}", "labels": {"env": "{{env}}"}},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                               "path": "guestbook", "targetRevision": "HEAD"},
                    "destination": {"server": "{{server}}", "namespace": "guestbook-{{env}}"},
                },
            },
        },
    })
}

fn demo_applications() -> Vec<Application> {
    let team_repo = |team: &str| format!("https://github.com/example-org/{team}-deploy.git");
    vec![
        Application::new("guestbook")
            .label("env", "dev")
            .image("gcr.io/heptio-images/ks-guestbook-demo:0.2"),
        Application::new("helm-guestbook")
            .automated(false)
            .sync("OutOfSync")
            .label("env", "dev")
            .image("gcr.io/heptio-images/ks-guestbook-demo:0.1"),
        service("payments-api", "payments", &team_repo("payments"))
            .health(
                "Suspended",
                Some("Rollout is paused at step 1 of 4 (canary 20%)"),
            )
            .image("ghcr.io/example-org/payments-api:2.14.0"),
        service("payments-worker", "payments", &team_repo("payments"))
            .image("ghcr.io/example-org/payments-worker:2.13.4"),
        service("checkout-web", "checkout", &team_repo("checkout"))
            .sync("OutOfSync")
            .health(
                "Progressing",
                Some("Waiting for the preview ReplicaSet to become available"),
            )
            .image("ghcr.io/example-org/checkout-web:5.2.0"),
        service("search-api", "search", &team_repo("search"))
            .image("ghcr.io/example-org/search-api:3.8.1"),
        service("recommendations", "data", &team_repo("data"))
            .health(
                "Degraded",
                Some("RolloutAborted: metric \"error-rate\" assessed Failed"),
            )
            .cause(Cause::WrongEnvironment)
            .image("ghcr.io/example-org/recommendations:1.31.0"),
        platform(
            "ingress-nginx",
            "https://kubernetes.github.io/ingress-nginx",
            "4.11.2",
        )
        .image("registry.k8s.io/ingress-nginx/controller:v1.11.2"),
        platform("cert-manager", "https://charts.jetstack.io", "v1.16.1")
            .image("quay.io/jetstack/cert-manager-controller:v1.16.1"),
        platform(
            "kube-prometheus-stack",
            "https://prometheus-community.github.io/helm-charts",
            "65.1.1",
        )
        .sync("OutOfSync")
        .health(
            "Degraded",
            Some("StatefulSet prometheus-main has 0 of 2 ready replicas"),
        )
        .cause(Cause::OomKilled)
        .image("quay.io/prometheus/prometheus:v2.54.1"),
    ]
}

/// A team's production service, deployed from its `-deploy` repository.
fn service(name: &str, team: &str, repo: &str) -> Application {
    Application::new(name)
        .project(team)
        .label("team", team)
        .label("env", "prod")
        .git(repo, &format!("apps/{name}/overlays/prod"), "release")
        .destination(PROD, team)
}

/// A platform add-on installed from a Helm repository.
fn platform(chart: &str, repo: &str, version: &str) -> Application {
    Application::new(chart)
        .project("platform")
        .label("team", "platform")
        .label("env", "prod")
        .helm(repo, chart, version)
        .destination(IN_CLUSTER, chart)
}

/// The demo cluster: six Rollouts with their ReplicaSets, Pods, AnalysisRuns and Experiments
/// (see [`rollouts`]), and eleven Flux objects.
pub fn cluster() -> Cluster {
    let objects = rollouts::objects()
        .into_iter()
        .chain(flux_sources())
        .chain(flux_appliers());
    let cluster = objects.fold(Cluster::new(), |cluster, object| {
        cluster
            .with(object)
            .unwrap_or_else(|error| panic!("the demo data set is invalid: {error:#}"))
    });
    rollouts::logs()
        .into_iter()
        .fold(cluster, |cluster, (namespace, pod, container, lines)| {
            cluster.with_logs(&namespace, &pod, &container, &lines)
        })
}

/// A Rollout condition (all six fields are required by the CRD).
fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": EARLIER, "lastUpdateTime": NOW})
}

/// A Flux (metav1) `Ready` condition.
fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!([{"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": NOW, "observedGeneration": 1}])
}

fn flux_object(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    spec: Value,
    status: Value,
) -> Value {
    json!({
        "apiVersion": api_version, "kind": kind,
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"kustomize.toolkit.fluxcd.io/name": "flux-system",
                                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}},
        "spec": spec,
        "status": status,
    })
}

fn artifact(kind: &str, namespace: &str, name: &str, revision: &str) -> Value {
    json!({
        "path": format!("{kind}/{namespace}/{name}/{}.tar.gz", &fake_sha(revision)[..12]),
        "url": format!("http://source-controller.flux-system.svc.cluster.local./{kind}/{namespace}/{name}/latest.tar.gz"),
        "revision": revision,
        "digest": format!("sha256:{}", fake_sha(revision).repeat(2)[..64].to_owned()),
        "lastUpdateTime": NOW,
        "size": 48213,
    })
}

fn git_repository(namespace: &str, name: &str, url: &str, branch: &str, status: Value) -> Value {
    let spec = json!({"interval": "1m0s", "url": url, "ref": {"branch": branch}, "timeout": "60s"});
    flux_object(
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
        namespace,
        name,
        spec,
        status,
    )
}

fn ready_git_status(namespace: &str, name: &str, revision: &str) -> Value {
    json!({
        "observedGeneration": 1,
        "conditions": ready("True", "Succeeded", &format!("stored artifact for revision '{revision}'")),
        "artifact": artifact("gitrepository", namespace, name, revision),
    })
}

/// The fleet repository's newest commit, and the one before it.
fn fleet_revisions() -> (String, String) {
    let head = format!("main@sha1:{}", fake_sha("fleet-infra head"));
    let previous = format!("main@sha1:{}", fake_sha("fleet-infra previous"));
    (head, previous)
}

fn flux_sources() -> Vec<Value> {
    let fleet = "ssh://git@github.com/example-org/fleet-infra";
    let legacy = "https://github.com/example-org/legacy-config";
    let auth_failed = format!(
        "failed to checkout and determine revision: unable to clone '{legacy}': authentication required"
    );
    vec![
        git_repository(
            "flux-system",
            "flux-system",
            fleet,
            "main",
            ready_git_status("flux-system", "flux-system", &fleet_revisions().0),
        ),
        git_repository(
            "flux-system",
            "podinfo",
            "https://github.com/stefanprodan/podinfo",
            "master",
            ready_git_status(
                "flux-system",
                "podinfo",
                &format!("master@sha1:{}", fake_sha("podinfo")),
            ),
        ),
        git_repository(
            "flux-system",
            "legacy-config",
            legacy,
            "main",
            json!({
                "observedGeneration": 1,
                "conditions": ready("False", "GitOperationFailed", &auth_failed),
            }),
        ),
        flux_object(
            "source.toolkit.fluxcd.io/v1",
            "HelmRepository",
            "flux-system",
            "bitnami",
            json!({"interval": "1h0m0s", "url": "https://charts.bitnami.com/bitnami"}),
            json!({
                "observedGeneration": 1,
                "url": "http://source-controller.flux-system.svc.cluster.local./helmrepository/flux-system/bitnami/index.yaml",
                "conditions": ready("True", "Succeeded", "stored artifact: revision 'sha256:4f0b7a1c'"),
                "artifact": artifact("helmrepository", "flux-system", "bitnami", "sha256:4f0b7a1c9e2d"),
            }),
        ),
        // An OCI Helm repository is static: the controller never sets conditions on it.
        flux_object(
            "source.toolkit.fluxcd.io/v1",
            "HelmRepository",
            "flux-system",
            "podinfo-oci",
            json!({"interval": "5m0s", "type": "oci", "url": "oci://ghcr.io/stefanprodan/charts"}),
            json!({}),
        ),
    ]
}

fn kustomization(name: &str, path: &str, suspend: bool, status: Value) -> Value {
    let spec = json!({
        "interval": "10m0s", "path": path, "prune": true, "suspend": suspend, "wait": true,
        "timeout": "5m0s", "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    });
    flux_object(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        name,
        spec,
        status,
    )
}

fn applied(revision: &str) -> Value {
    json!({
        "observedGeneration": 1,
        "lastAppliedRevision": revision,
        "lastAttemptedRevision": revision,
        "conditions": ready("True", "ReconciliationSucceeded", &format!("Applied revision: {revision}")),
        "inventory": {"entries": [{"id": "flux-system_podinfo_apps_Deployment", "v": "v1"}]},
    })
}

fn helm_release(namespace: &str, name: &str, chart: &str, version: &str, status: Value) -> Value {
    let spec = json!({
        "interval": "30m0s", "releaseName": name, "targetNamespace": namespace,
        "chart": {"spec": {"chart": chart, "version": version,
                           "sourceRef": {"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}}},
        "install": {"remediation": {"retries": 3}},
        "values": {"replicaCount": 2},
    });
    flux_object(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        namespace,
        name,
        spec,
        status,
    )
}

fn released(namespace: &str, name: &str, chart: &str, version: &str) -> Value {
    json!({
        "observedGeneration": 1,
        "lastAttemptedRevision": version,
        "storageNamespace": namespace,
        "conditions": ready("True", "UpgradeSucceeded",
            &format!("Helm upgrade succeeded for release {namespace}/{name}.v3 with chart {chart}@{version}")),
        "history": [{
            "name": name, "namespace": namespace, "version": 3, "status": "deployed",
            "chartName": chart, "chartVersion": version, "appVersion": version,
            "configDigest": format!("sha256:{}", &fake_sha(name).repeat(2)[..64]),
            "digest": format!("sha256:{}", &fake_sha(chart).repeat(2)[..64]),
            "firstDeployed": EARLIER, "lastDeployed": NOW,
        }],
    })
}

fn flux_appliers() -> Vec<Value> {
    let (head, previous) = fleet_revisions();
    let build_failed = "kustomize build failed: accumulating resources: accumulation err='accumulating resources from './podinfo': missing Resource metadata'";
    let install_failed = "Helm install failed for release data/redis with chart redis@20.6.1: context deadline exceeded";
    vec![
        kustomization(
            "flux-system",
            "./clusters/production",
            false,
            applied(&head),
        ),
        kustomization(
            "infrastructure",
            "./infrastructure/production",
            false,
            applied(&head),
        ),
        kustomization(
            "apps",
            "./apps/production",
            false,
            json!({
                "observedGeneration": 1,
                "lastAppliedRevision": previous,
                "lastAttemptedRevision": head,
                "conditions": ready("False", "BuildFailed", build_failed),
            }),
        ),
        kustomization("staging-apps", "./apps/staging", true, applied(&previous)),
        helm_release(
            "podinfo",
            "podinfo",
            "podinfo",
            "6.9.2",
            released("podinfo", "podinfo", "podinfo", "6.9.2"),
        ),
        helm_release(
            "data",
            "redis",
            "redis",
            "20.6.1",
            json!({
                "observedGeneration": 1,
                "lastAttemptedRevision": "20.6.1",
                "installFailures": 3,
                "failures": 3,
                "conditions": ready("False", "InstallFailed", install_failed),
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_data_set_is_valid() {
        assert_eq!(argocd().applications().len(), 10);
        let cluster = cluster();
        let kinds: Vec<&str> = cluster
            .all_objects()
            .filter_map(|object| object["kind"].as_str())
            .collect();
        let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
        assert_eq!(count("Rollout"), 6);
        assert_eq!(count("ReplicaSet"), 11);
        assert_eq!((count("AnalysisRun"), count("Experiment")), (2, 2));
        assert_eq!(count("Kustomization") + count("HelmRelease"), 6);
    }

    #[test]
    fn demo_applications_match_the_contract() {
        for app in demo_applications() {
            ArgoCd::new().with_raw_app(app.to_json()).unwrap();
        }
    }
}
