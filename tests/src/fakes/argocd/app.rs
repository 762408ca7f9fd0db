//! Argo CD Application fixtures: a builder that renders an Application as the Argo CD API
//! serves it. The defaults make a small application (a Deployment, a Service and a ConfigMap,
//! two deployments in its history); the other setters add what real applications carry
//! (more managed objects, a longer history, the last sync's result, annotations, finalizers,
//! sync retries, Kustomize images or Helm values, info, ignored differences), as the
//! generated applications of [`super::generated`] do.

mod render;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fakes::ids::fake_sha;

use super::managed::Resource;
use super::store::CONTROL_PLANE_NAMESPACE;

/// The in-cluster destination server.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

const CREATED_AT: &str = "2026-06-02T09:14:07Z";
/// When the fake's clock stands: every timestamp it serves is at or before this.
pub(crate) const RECONCILED_AT: &str = "2026-08-20T11:42:31Z";
/// Seconds between two earlier deployments, before a per-deployment jitter.
const DAY: u64 = 86_400;

/// Why an application's workload fails when it is Degraded; the fake's pods, events and logs
/// show the matching symptoms (what a diagnosis should find).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cause {
    /// The container exits at start-up: `CrashLoopBackOff`, `BackOff` events, an error in the
    /// logs.
    #[default]
    CrashLoop,
    /// The image cannot be pulled: `ImagePullBackOff`, `Failed` events.
    ImagePull,
    /// The container is killed for memory: last state `OOMKilled`.
    OomKilled,
    /// The readiness probe fails: `Unhealthy` events.
    ProbeFailed,
    /// The namespace's ResourceQuota refuses new pods: `FailedCreate` events on the ReplicaSet.
    Quota,
    /// The configuration points at another environment: the logs show connections to
    /// staging hosts from production.
    WrongEnvironment,
}

impl Cause {
    /// Every cause, in a fixed order.
    pub const ALL: [Cause; 6] = [
        Cause::CrashLoop,
        Cause::ImagePull,
        Cause::OomKilled,
        Cause::ProbeFailed,
        Cause::Quota,
        Cause::WrongEnvironment,
    ];
}

/// An Argo CD Application, built with chained setters and rendered with
/// [`Application::to_json`] as `GET /api/v1/applications/{name}` serves it.
///
/// Defaults: namespace `argocd`, project `default`, the argocd-example-apps repository with
/// path = name at `HEAD`, in-cluster destination into a namespace named like the app, automated
/// sync with `CreateNamespace=true`, `Synced` and `Healthy`, managing [`Resource::BASIC`] with
/// two replicas, two deployments in its history and no operation state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    name: String,
    namespace: String,
    project: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    finalizers: Vec<String>,
    repo_url: String,
    path: String,
    chart: Option<String>,
    target_revision: String,
    revision: String,
    kustomize_images: Vec<String>,
    helm_value_files: Vec<String>,
    helm_parameters: Vec<(String, String)>,
    dest_server: String,
    dest_namespace: String,
    automated: bool,
    sync_options: Vec<String>,
    retry_limit: Option<u32>,
    info: Vec<(String, String)>,
    ignored: Vec<(String, String, String)>,
    conditions: Vec<(String, String)>,
    sync: String,
    health: String,
    health_message: Option<String>,
    images: Vec<String>,
    external_urls: Vec<String>,
    resources: Vec<Resource>,
    replicas: u32,
    deployments: usize,
    last_sync: Option<Option<String>>,
    managed_fields: bool,
    cause: Cause,
}

impl Application {
    /// An application called `name` with the defaults above.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            namespace: CONTROL_PLANE_NAMESPACE.to_owned(),
            project: "default".to_owned(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            finalizers: Vec::new(),
            repo_url: "https://github.com/argoproj/argocd-example-apps.git".to_owned(),
            path: name.to_owned(),
            chart: None,
            target_revision: "HEAD".to_owned(),
            revision: fake_sha(name),
            kustomize_images: Vec::new(),
            helm_value_files: Vec::new(),
            helm_parameters: Vec::new(),
            dest_server: IN_CLUSTER.to_owned(),
            dest_namespace: name.to_owned(),
            automated: true,
            sync_options: vec!["CreateNamespace=true".to_owned()],
            retry_limit: None,
            info: Vec::new(),
            ignored: Vec::new(),
            conditions: Vec::new(),
            sync: "Synced".to_owned(),
            health: "Healthy".to_owned(),
            health_message: None,
            images: Vec::new(),
            external_urls: Vec::new(),
            resources: Resource::BASIC.to_vec(),
            replicas: 2,
            deployments: 2,
            last_sync: None,
            managed_fields: false,
            cause: Cause::default(),
        }
    }

    /// The application's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace the application deploys into.
    pub fn destination_namespace(&self) -> &str {
        &self.dest_namespace
    }

    /// Sets the namespace the Application object lives in (Argo CD's `appNamespace`).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_owned();
        self
    }

    /// Sets the AppProject.
    pub fn project(mut self, project: &str) -> Self {
        self.project = project.to_owned();
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds an annotation, e.g. a notifications subscription.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds a finalizer, e.g. `resources-finalizer.argocd.argoproj.io` (cascading delete).
    pub fn finalizer(mut self, finalizer: &str) -> Self {
        self.finalizers.push(finalizer.to_owned());
        self
    }

    /// Sets a Git source: repository URL, path in it and target revision (branch, tag or SHA).
    pub fn git(mut self, repo_url: &str, path: &str, target_revision: &str) -> Self {
        self.repo_url = repo_url.to_owned();
        self.path = path.to_owned();
        self.chart = None;
        self.target_revision = target_revision.to_owned();
        self
    }

    /// Sets a Helm repository source: repository URL, chart and chart version.
    pub fn helm(mut self, repo_url: &str, chart: &str, version: &str) -> Self {
        self.repo_url = repo_url.to_owned();
        self.path = String::new();
        self.chart = Some(chart.to_owned());
        self.target_revision = version.to_owned();
        self.revision = version.to_owned();
        self
    }

    /// Adds a Kustomize image override (`name=registry/name:tag` or `registry/name:tag`).
    pub fn kustomize_image(mut self, image: &str) -> Self {
        self.kustomize_images.push(image.to_owned());
        self
    }

    /// Adds a Helm values file.
    pub fn helm_values(mut self, file: &str) -> Self {
        self.helm_value_files.push(file.to_owned());
        self
    }

    /// Adds a Helm parameter (`--set name=value`).
    pub fn helm_parameter(mut self, name: &str, value: &str) -> Self {
        self.helm_parameters
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the revision the live state was last compared to (a commit SHA for Git sources).
    pub fn revision(mut self, revision: &str) -> Self {
        self.revision = revision.to_owned();
        self
    }

    /// Sets the destination cluster (server URL) and namespace.
    pub fn destination(mut self, server: &str, namespace: &str) -> Self {
        self.dest_server = server.to_owned();
        self.dest_namespace = namespace.to_owned();
        self
    }

    /// Turns automated sync on or off.
    pub fn automated(mut self, automated: bool) -> Self {
        self.automated = automated;
        self
    }

    /// Adds a sync option, e.g. `ServerSideApply=true`.
    pub fn sync_option(mut self, option: &str) -> Self {
        self.sync_options.push(option.to_owned());
        self
    }

    /// Retries failed syncs up to `limit` times with exponential backoff (5s, doubling, up to
    /// 3 minutes).
    pub fn retry(mut self, limit: u32) -> Self {
        self.retry_limit = Some(limit);
        self
    }

    /// Adds a `spec.info` entry (shown in the UI), e.g. `("Owner", "team-payments")`.
    pub fn info(mut self, name: &str, value: &str) -> Self {
        self.info.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Ignores differences at a JSON pointer of the objects of a group and kind, e.g.
    /// `("apps", "Deployment", "/spec/replicas")` when an autoscaler owns the replicas.
    pub fn ignore_difference(mut self, group: &str, kind: &str, pointer: &str) -> Self {
        self.ignored
            .push((group.to_owned(), kind.to_owned(), pointer.to_owned()));
        self
    }

    /// Sets the sync status: `Synced`, `OutOfSync` or `Unknown`.
    pub fn sync(mut self, status: &str) -> Self {
        self.sync = status.to_owned();
        self
    }

    /// Sets the health status (`Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`,
    /// `Unknown`) and an optional message.
    pub fn health(mut self, status: &str, message: Option<&str>) -> Self {
        self.health = status.to_owned();
        self.health_message = message.map(str::to_owned);
        self
    }

    /// Adds a `status.conditions` entry, e.g. `("ComparisonError", "…")`.
    pub fn condition(mut self, kind: &str, message: &str) -> Self {
        self.conditions.push((kind.to_owned(), message.to_owned()));
        self
    }

    /// Sets why the workload fails while the application is Degraded.
    pub fn cause(mut self, cause: Cause) -> Self {
        self.cause = cause;
        self
    }

    /// Why the workload fails while the application is Degraded.
    pub fn failure_cause(&self) -> Cause {
        self.cause
    }

    /// Adds a container image the application runs.
    pub fn image(mut self, image: &str) -> Self {
        self.images.push(image.to_owned());
        self
    }

    /// Adds an external URL (`status.summary.externalURLs`, from an Ingress).
    pub fn external_url(mut self, url: &str) -> Self {
        self.external_urls.push(url.to_owned());
        self
    }

    /// Sets the objects the application declares (in this order, the Deployment first).
    pub fn manages(mut self, resources: &[Resource]) -> Self {
        self.resources = resources.to_vec();
        self
    }

    /// Sets how many pods the Deployment runs.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// How many pods the Deployment runs.
    pub fn replica_count(&self) -> u32 {
        self.replicas
    }

    /// Sets how many deployments `status.history` records (at least one: the current one).
    pub fn deployments(mut self, count: usize) -> Self {
        self.deployments = count.max(1);
        self
    }

    /// Records the sync that deployed the current revision as `status.operationState`, with
    /// its sync result.
    pub fn last_sync(mut self) -> Self {
        self.last_sync = Some(None);
        self
    }

    /// Records a later sync that failed because an object was refused with `reason` (an
    /// Ingress if the app has one, else the Deployment).
    pub fn failed_sync(mut self, reason: &str) -> Self {
        self.last_sync = Some(Some(reason.to_owned()));
        self
    }

    /// Serves `metadata.managedFields` as the API server records them: the spec written by
    /// `argocd-server`, the status by `argocd-application-controller`.
    pub fn managed_fields(mut self) -> Self {
        self.managed_fields = true;
        self
    }
}

impl From<Application> for Value {
    fn from(application: Application) -> Self {
        application.to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::argocd::schema::validate_application;

    #[test]
    fn built_applications_match_the_contract() {
        let helm = Application::new("ingress")
            .helm(
                "https://kubernetes.github.io/ingress-nginx",
                "ingress-nginx",
                "4.11.2",
            )
            .label("team", "platform")
            .health("Degraded", Some("1 of 2 replicas unavailable"))
            .image("registry.k8s.io/ingress-nginx/controller:v1.11.2");
        let full = Application::new("shop")
            .manages(&[Resource::Deployment, Resource::Service, Resource::Ingress])
            .annotation(
                "notifications.argoproj.io/subscribe.on-sync-failed.slack",
                "shop",
            )
            .finalizer("resources-finalizer.argocd.argoproj.io")
            .kustomize_image("ghcr.io/example-org/shop:1.2.3")
            .helm_values("values-prod.yaml")
            .helm_parameter("replicaCount", "3")
            .retry(5)
            .info("Owner", "team-shop")
            .ignore_difference("apps", "Deployment", "/spec/replicas")
            .external_url("https://shop.example.com")
            .deployments(10)
            .failed_sync("admission webhook denied the request");
        for app in [Application::new("guestbook"), helm, full] {
            validate_application(&app.to_json()).unwrap();
        }
        for app in super::super::generated::generate(200) {
            validate_application(&app.to_json())
                .unwrap_or_else(|error| panic!("{}: {error}", app.name()));
        }
    }

    #[test]
    fn history_counts_up_to_the_current_revision() {
        let app = Application::new("web")
            .deployments(10)
            .last_sync()
            .to_json();
        let history = app["status"]["history"].as_array().unwrap();
        assert_eq!(history.len(), 10);
        assert_eq!(history[9]["id"], 10);
        assert_eq!(history[9]["revision"], app["status"]["sync"]["revision"]);
        let times: Vec<&str> = history
            .iter()
            .map(|e| e["deployedAt"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "{times:?}");
        let state = &app["status"]["operationState"];
        assert_eq!(state["phase"], "Succeeded");
        assert_eq!(
            state["syncResult"]["resources"].as_array().unwrap().len(),
            3
        );
        assert_eq!(
            state["syncResult"]["resources"][0]["message"],
            "deployment.apps/web configured"
        );
    }
}
