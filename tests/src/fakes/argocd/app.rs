//! Argo CD Application fixtures: a builder that renders the JSON the Argo CD API serves, and a
//! generator of N realistic, deterministic applications for scale tests.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::fakes::ids::{fake_hash, fake_sha, fake_uid};

use super::store::CONTROL_PLANE_NAMESPACE;

/// The in-cluster destination server.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

const CREATED_AT: &str = "2026-06-02T09:14:07Z";
/// When the fake's clock stands: every timestamp it serves is at or before this.
pub(crate) const RECONCILED_AT: &str = "2026-08-20T11:42:31Z";
const PREVIOUS_DEPLOY_AT: &str = "2026-08-18T15:20:44Z";

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
/// sync, `Synced` and `Healthy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    name: String,
    namespace: String,
    project: String,
    labels: BTreeMap<String, String>,
    repo_url: String,
    path: String,
    chart: Option<String>,
    target_revision: String,
    revision: String,
    dest_server: String,
    dest_namespace: String,
    automated: bool,
    sync: String,
    health: String,
    health_message: Option<String>,
    images: Vec<String>,
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
            repo_url: "https://github.com/argoproj/argocd-example-apps.git".to_owned(),
            path: name.to_owned(),
            chart: None,
            target_revision: "HEAD".to_owned(),
            revision: fake_sha(name),
            dest_server: IN_CLUSTER.to_owned(),
            dest_namespace: name.to_owned(),
            automated: true,
            sync: "Synced".to_owned(),
            health: "Healthy".to_owned(),
            health_message: None,
            images: Vec::new(),
            cause: Cause::default(),
        }
    }

    /// The application's name.
    pub fn name(&self) -> &str {
        &self.name
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

    /// The Application as Argo CD's API serves it.
    pub fn to_json(&self) -> Value {
        json!({
            "metadata": self.metadata(),
            "spec": {
                "project": self.project,
                "source": self.source(),
                "destination": self.destination_json(),
                "syncPolicy": self.sync_policy(),
            },
            "status": {
                "sync": {
                    "status": self.sync,
                    "revision": self.revision,
                    "comparedTo": {"source": self.source(), "destination": self.destination_json()},
                },
                "health": self.health_json(),
                "summary": {"images": self.images},
                "history": self.history(),
                "resources": self.resources(),
                "reconciledAt": RECONCILED_AT,
                "observedAt": RECONCILED_AT,
                "sourceType": self.source_type(),
                "controllerNamespace": CONTROL_PLANE_NAMESPACE,
            },
        })
    }

    /// Two deployments: the previous revision, then the current one.
    fn history(&self) -> Value {
        let previous = match &self.chart {
            Some(_) => format!("{}-previous", self.revision),
            None => fake_sha(&format!("{}-previous", self.name)),
        };
        json!([
            {"id": 1, "revision": previous, "deployedAt": PREVIOUS_DEPLOY_AT,
             "deployStartedAt": PREVIOUS_DEPLOY_AT, "source": self.source(),
             "initiatedBy": {"username": "admin"}},
            {"id": 2, "revision": self.revision, "deployedAt": RECONCILED_AT,
             "deployStartedAt": RECONCILED_AT, "source": self.source(),
             "initiatedBy": {"automated": self.automated}},
        ])
    }

    fn metadata(&self) -> Value {
        let key = format!("{}/{}", self.namespace, self.name);
        let mut metadata = json!({
            "name": self.name,
            "namespace": self.namespace,
            "uid": fake_uid(&key),
            "resourceVersion": (fake_hash(&key) % 900_000 + 100_000).to_string(),
            "generation": fake_hash(&self.name) % 40 + 2,
            "creationTimestamp": CREATED_AT,
        });
        if !self.labels.is_empty() {
            metadata["labels"] = json!(self.labels);
        }
        metadata
    }

    fn source(&self) -> Value {
        let mut source = Map::new();
        source.insert("repoURL".into(), json!(self.repo_url));
        match &self.chart {
            Some(chart) => source.insert("chart".into(), json!(chart)),
            None => source.insert("path".into(), json!(self.path)),
        };
        source.insert("targetRevision".into(), json!(self.target_revision));
        Value::Object(source)
    }

    fn destination_json(&self) -> Value {
        json!({"server": self.dest_server, "namespace": self.dest_namespace})
    }

    fn sync_policy(&self) -> Value {
        let mut policy = json!({"syncOptions": ["CreateNamespace=true"]});
        if self.automated {
            policy["automated"] = json!({"prune": true, "selfHeal": true});
        }
        policy
    }

    fn health_json(&self) -> Value {
        let mut health = json!({"status": self.health, "lastTransitionTime": RECONCILED_AT});
        if let Some(message) = &self.health_message {
            health["message"] = json!(message);
        }
        health
    }

    fn source_type(&self) -> &'static str {
        match (&self.chart, self.path.contains("overlays")) {
            (Some(_), _) => "Helm",
            (None, true) => "Kustomize",
            (None, false) => "Directory",
        }
    }

    /// A Deployment and a Service, carrying the app's sync and health.
    fn resources(&self) -> Value {
        json!([
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": self.dest_namespace,
             "name": self.name, "status": self.sync, "health": {"status": self.health}},
            {"version": "v1", "kind": "Service", "namespace": self.dest_namespace,
             "name": self.name, "status": "Synced", "health": {"status": "Healthy"}},
        ])
    }
}

impl From<Application> for Value {
    fn from(application: Application) -> Self {
        application.to_json()
    }
}

const TEAMS: [&str; 8] = [
    "payments", "checkout", "search", "identity", "catalog", "billing", "platform", "data",
];
const SERVICES: [&str; 6] = ["api", "worker", "web", "gateway", "scheduler", "migrations"];
const ENVIRONMENTS: [(&str, &str); 3] = [
    ("dev", IN_CLUSTER),
    ("staging", "https://staging-eu-west-1.k8s.example.com"),
    ("prod", "https://prod-eu-west-1.k8s.example.com"),
];

/// `count` distinct applications spread over 8 team projects, 6 services and 3 environments
/// (names like `payments-api-prod`, with a numeric suffix once the combinations run out), with a
/// deterministic mix of sync and health states: mostly `Synced`/`Healthy`, some `OutOfSync`,
/// `Progressing`, `Degraded`, `Missing`, `Suspended` and `Unknown`.
pub fn generate(count: usize) -> Vec<Application> {
    (0..count).map(generated).collect()
}

fn generated(index: usize) -> Application {
    let team = TEAMS[index % TEAMS.len()];
    let service = SERVICES[(index / TEAMS.len()) % SERVICES.len()];
    let combinations = TEAMS.len() * SERVICES.len();
    let (env, server) = ENVIRONMENTS[(index / combinations) % ENVIRONMENTS.len()];
    let round = index / (combinations * ENVIRONMENTS.len());
    let name = match round {
        0 => format!("{team}-{service}-{env}"),
        round => format!("{team}-{service}-{env}-{round}"),
    };
    let (sync, health, message) = generated_state(index);
    Application::new(&name)
        .project(team)
        .label("team", team)
        .label("env", env)
        .label("app.kubernetes.io/name", &format!("{team}-{service}"))
        .git(
            &format!("https://github.com/example-org/{team}-deploy.git"),
            &format!("apps/{service}/overlays/{env}"),
            if env == "prod" { "release" } else { "main" },
        )
        .destination(server, &format!("{team}-{env}"))
        .automated(env != "prod")
        .sync(sync)
        .health(health, message)
        .image(&format!(
            "ghcr.io/example-org/{team}-{service}:1.{}.{}",
            index % 17,
            index % 5
        ))
        .cause(Cause::ALL[(index / 11) % Cause::ALL.len()])
}

fn generated_state(index: usize) -> (&'static str, &'static str, Option<&'static str>) {
    match index {
        i if i % 23 == 22 => ("Unknown", "Unknown", None),
        i if i % 13 == 12 => ("OutOfSync", "Missing", None),
        i if i % 11 == 10 => (
            "Synced",
            "Degraded",
            Some("Deployment has exceeded its progress deadline"),
        ),
        i if i % 17 == 16 => ("Synced", "Suspended", Some("Rollout is paused")),
        i if i % 7 == 6 => ("OutOfSync", "Healthy", None),
        i if i % 5 == 4 => (
            "Synced",
            "Progressing",
            Some("Waiting for rollout to finish"),
        ),
        _ => ("Synced", "Healthy", None),
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
        for app in [Application::new("guestbook"), helm] {
            validate_application(&app.to_json()).unwrap();
        }
        for app in generate(200) {
            validate_application(&app.to_json())
                .unwrap_or_else(|error| panic!("{}: {error}", app.name()));
        }
    }

    #[test]
    fn generated_names_are_unique_and_states_mixed() {
        let apps = generate(500);
        let names: std::collections::BTreeSet<&str> = apps.iter().map(Application::name).collect();
        assert_eq!(names.len(), 500);
        let degraded = apps.iter().filter(|app| app.health == "Degraded").count();
        let out_of_sync = apps.iter().filter(|app| app.sync == "OutOfSync").count();
        assert!(
            degraded > 10 && out_of_sync > 10,
            "{degraded} degraded, {out_of_sync} out of sync"
        );
    }
}
