//! A fake Argo CD API server: stateful, in memory, and held to the real API's contract (Argo CD
//! v3.5.1's `swagger.json`).
//!
//! 1. Build the data: [`ArgoCd::new`], then [`ArgoCd::with_app`] / [`ArgoCd::with_generated_apps`]
//!    (or [`crate::fakes::demo::argocd`]; [`ArgoCd::with_listed_apps`] for lists of ten thousand
//!    made while they are written); projects, clusters, ApplicationSets and repositories
//!    with the other `with_*` methods (projects and clusters default to those the applications
//!    use); optionally [`ArgoCd::with_base_path`] (serve under `/argocd`, like `argocd-server
//!    --rootpath`) and [`ArgoCd::with_token`] (require a bearer token on `/api/v1/*`).
//! 2. [`start`] it on a free loopback port (or [`serve_on`] a fixed one) and point the plugin's
//!    target at [`ArgoCdServer::base_url`] (the handle derefs to [`FakeServer`]).
//! 3. Steer it while it runs: inject faults per operation ([`ArgoCdServer::inject`]: 403, 500,
//!    slow answers, malformed bodies, broken log streams), make the next sync fail or leave the
//!    app Degraded, deny RBAC checks; read its state back ([`ArgoCdServer::application`], …).
//! 4. Assert on [`FakeServer::requests`] and [`FakeServer::assert_no_violations`].
//!
//! Every request is matched to a swagger operation: its path template must exist for the
//! method, every query parameter must be declared for that operation with a value of the
//! declared type, and its body must be valid against the operation's body schema (unknown
//! fields refused). A request that fails is a contract violation: it is answered 400 and
//! recorded. Operations the contract has but the fake does not implement answer 501 (gRPC code
//! 12). Errors look like Argo CD's: `{"error": …, "code": <gRPC code>, "message": …}` with the
//! HTTP status grpc-gateway maps the code to.
//!
//! Implemented: applications (List, Get with `refresh`, Create with `upsert`/`validate`, Update,
//! Patch (a changed source of an app with automated sync on starts an automated sync, as the
//! application controller does), Delete, Sync, Rollback (refused while automated sync is on,
//! with Argo CD's message), TerminateOperation, ResourceTree, ManagedResources,
//! GetResource, ListResourceActions, RunResourceAction v1 and v2, ListResourceEvents, PodLogs
//! and PodLogs2, GetManifests, ServerSideDiff, RevisionMetadata), ApplicationSets (List, Get,
//! Create, Delete, Generate), clusters (List), projects (List, Get), repositories (ListApps),
//! account (CanI), session (GetUserInfo) and the version. A sync runs as described in
//! `operations.rs` and records what `history.rs` describes; live objects, their manifests,
//! events and logs are derived from each application's state and the objects it declares
//! (`managed.rs`, `live.rs`, `tree.rs`, `manifest.rs`, `events.rs`, `logs.rs`). Generated applications
//! (`generated.rs`) are as large as real ones: 8 to 16 managed objects, ten deployments, the
//! last sync's result.

mod app;
mod applications;
mod appsets;
mod catalog;
mod contract;
mod events;
mod generated;
mod history;
mod live;
mod logs;
mod managed;
mod manifest;
mod operations;
mod resources;
mod routes;
mod schema;
mod store;
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use axum::Router;
use serde_json::Value;

pub use app::{Application, Cause, IN_CLUSTER};
pub use catalog::{USERNAME, VERSION};
pub use generated::generate;
pub use managed::Resource;
pub use store::{CONTROL_PLANE_NAMESPACE, Fault};

use self::routes::{Shared, dispatch, lock};
use self::schema::validate_application;
use self::store::{AppRecord, Simulated, Store};
use crate::fakes::server::{FakeServer, Journal, normalize_base_path};

/// The repository of Argo CD's example applications, which the fake knows the layout of.
pub const EXAMPLE_APPS_REPO: &str = "https://github.com/argoproj/argocd-example-apps.git";

/// The data a fake Argo CD starts with.
#[derive(Debug, Clone, Default)]
pub struct ArgoCd {
    applications: Vec<(Value, Simulated)>,
    projects: Vec<String>,
    clusters: Vec<(String, String)>,
    appsets: Vec<Value>,
    repos: BTreeMap<String, Vec<(String, String)>>,
    broken_images: Vec<(String, Cause)>,
    base_path: String,
    token: Option<String>,
    listed: usize,
}

impl ArgoCd {
    /// No applications, served at the root, no token required.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an application built with [`Application`].
    pub fn with_app(mut self, application: Application) -> Self {
        let simulated = Simulated {
            cause: application.failure_cause(),
            replicas: application.replica_count(),
        };
        self.applications.push((application.to_json(), simulated));
        self
    }

    /// Adds `count` generated applications (see [`generate`]); each gets a resource tree,
    /// events and logs that match its state.
    pub fn with_generated_apps(self, count: usize) -> Self {
        generate(count).into_iter().fold(self, Self::with_app)
    }

    /// Adds `count` generated applications (numbers 0 to `count - 1`, as [`generate`] makes
    /// them) that only ApplicationService List serves, after the other applications: each is
    /// made while the answer is written and dropped once written, so a list of ten thousand
    /// (over 100 MB) streams out of a fake that holds none of them. Get and the other operations
    /// do not know them, and they are not sorted in among the others. Don't combine with
    /// [`ArgoCd::with_generated_apps`] (the names would repeat).
    pub fn with_listed_apps(mut self, count: usize) -> Self {
        self.listed = count;
        self
    }

    /// Adds an application given as raw JSON, refusing one the real API could not serve (an
    /// unknown field, a wrong type, no name).
    pub fn with_raw_app(mut self, application: Value) -> Result<Self> {
        let name = application["metadata"]["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            return Err(anyhow!("the application fixture has no metadata.name"));
        }
        validate_application(&application).map_err(|error| {
            anyhow!("the application fixture `{name}` breaks Argo CD's contract: {error}")
        })?;
        self.applications.push((application, Simulated::default()));
        Ok(self)
    }

    /// Adds an AppProject (projects the applications use exist anyway).
    pub fn with_project(mut self, name: &str) -> Self {
        self.projects.push(name.to_owned());
        self
    }

    /// Registers a cluster (the destinations the applications use are registered anyway).
    pub fn with_cluster(mut self, name: &str, server: &str) -> Self {
        self.clusters.push((name.to_owned(), server.to_owned()));
        self
    }

    /// Adds an ApplicationSet, refusing one that breaks the contract.
    pub fn with_appset(mut self, appset: Value) -> Result<Self> {
        schema::check_definition("v1alpha1ApplicationSet", &appset).map_err(|error| {
            anyhow!("the ApplicationSet fixture breaks Argo CD's contract: {error}")
        })?;
        self.appsets.push(appset);
        Ok(self)
    }

    /// Says which application directories Argo CD finds in `repo`: (path, type) pairs such as
    /// `("apps/web", "Kustomize")`.
    pub fn with_repo(mut self, repo: &str, apps: &[(&str, &str)]) -> Self {
        let entry = self.repos.entry(repo.to_owned()).or_default();
        entry.extend(apps.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())));
        self
    }

    /// Makes `image` a release that cannot start: every sync or rollback that deploys it as a
    /// Kustomize image (`registry/name:tag`, or `name=registry/name:tag`) succeeds but leaves the
    /// application Degraded because of `cause`, every time (unlike
    /// [`ArgoCdServer::degrade_next_sync`], which acts once).
    pub fn with_broken_image(mut self, image: &str, cause: Cause) -> Self {
        self.broken_images.push((image.to_owned(), cause));
        self
    }

    /// Serves the API under `path` (e.g. `/argocd`), like `argocd-server --rootpath`.
    pub fn with_base_path(mut self, path: &str) -> Self {
        self.base_path = path.to_owned();
        self
    }

    /// Requires `Authorization: Bearer <token>` on every `/api/v1/` request.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// The applications, as they will be served at start.
    pub fn applications(&self) -> Vec<Value> {
        self.applications
            .iter()
            .map(|(app, _)| app.clone())
            .collect()
    }

    fn into_store(self) -> Store {
        let mut store = Store::default();
        let mut projects: BTreeSet<String> = self.projects.into_iter().collect();
        projects.insert("default".into());
        let mut clusters: Vec<(String, String)> = vec![("in-cluster".into(), IN_CLUSTER.into())];
        clusters.extend(self.clusters);
        let mut repos = self.repos;
        repos
            .entry(EXAMPLE_APPS_REPO.into())
            .or_insert_with(example_apps);
        for (app, simulated) in self.applications {
            let spec = &app["spec"];
            projects.insert(spec["project"].as_str().unwrap_or("default").to_owned());
            let server = spec["destination"]["server"].as_str().unwrap_or_default();
            if !server.is_empty() && !clusters.iter().any(|(_, s)| s == server) {
                clusters.push((cluster_name(server), server.to_owned()));
            }
            if let (Some(repo), Some(path)) = (
                spec["source"]["repoURL"].as_str(),
                spec["source"]["path"].as_str(),
            ) {
                let paths = repos.entry(repo.to_owned()).or_default();
                if !paths.iter().any(|(p, _)| p == path) {
                    paths.push((path.to_owned(), source_type(&app).to_owned()));
                }
            }
            let mut record = AppRecord::new(app, simulated);
            record.broken_images = self.broken_images.clone();
            store.apps.push(record);
        }
        store.sort();
        for paths in repos.values_mut() {
            paths.sort();
        }
        let count = |server: &str| {
            store
                .apps
                .iter()
                .filter(|r| r.app["spec"]["destination"]["server"] == server)
                .count()
        };
        store.clusters = clusters
            .iter()
            .map(|(name, server)| catalog::cluster(name, server, count(server)))
            .collect();
        store.projects = projects.iter().map(|name| catalog::project(name)).collect();
        store.appsets = self.appsets;
        store.broken_images = self.broken_images;
        store.repos = repos;
        store.listed.count = self.listed;
        store
    }
}

fn source_type(app: &Value) -> &str {
    app["status"]["sourceType"].as_str().unwrap_or("Directory")
}

/// `https://prod-eu-west-1.k8s.example.com` → `prod-eu-west-1`.
fn cluster_name(server: &str) -> String {
    let host = server.split("://").nth(1).unwrap_or(server);
    host.split(['.', ':', '/'])
        .next()
        .unwrap_or(host)
        .to_owned()
}

/// The application directories of argoproj/argocd-example-apps.
fn example_apps() -> Vec<(String, String)> {
    [
        ("apps", "Helm"),
        ("blue-green", "Helm"),
        ("guestbook", "Directory"),
        ("helm-dependency", "Helm"),
        ("helm-guestbook", "Helm"),
        ("jsonnet-guestbook", "Directory"),
        ("kustomize-guestbook", "Kustomize"),
        ("sock-shop", "Directory"),
        ("sync-waves", "Directory"),
    ]
    .iter()
    .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
    .collect()
}

/// A running fake Argo CD: the server (this derefs to [`FakeServer`]) and handles on its state.
#[derive(Debug)]
pub struct ArgoCdServer {
    server: FakeServer,
    store: Arc<Mutex<Store>>,
}

impl Deref for ArgoCdServer {
    type Target = FakeServer;

    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl ArgoCdServer {
    /// Makes every request to `operation` (a swagger operationId such as
    /// `ApplicationService_Get`) fail or misbehave as `fault` says, until
    /// [`ArgoCdServer::clear_faults`].
    pub fn inject(&self, operation: &str, fault: Fault) {
        lock(&self.store).faults.insert(operation.to_owned(), fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.store).faults.clear();
    }

    /// The next sync or rollback of `app` (in Argo CD's namespace) succeeds but leaves it
    /// Degraded because of `cause`.
    pub fn degrade_next_sync(&self, app: &str, cause: Cause) {
        if let Ok(record) = lock(&self.store).app_mut(app, None) {
            record.degrade_next = Some(cause);
        }
    }

    /// The next sync or rollback of `app` (in Argo CD's namespace) succeeds and leaves it
    /// Degraded because of `cause` for `reads` reads of the application, then Healthy: a
    /// transient Degraded, such as pods restarting once before they become ready.
    pub fn degrade_next_sync_briefly(&self, app: &str, cause: Cause, reads: u32) {
        if let Ok(record) = lock(&self.store).app_mut(app, None) {
            record.degrade_next = Some(cause);
            record.degrade_next_for = Some(reads);
        }
    }

    /// The next sync or rollback of `app` fails with `message`.
    pub fn fail_next_sync(&self, app: &str, message: &str) {
        if let Ok(record) = lock(&self.store).app_mut(app, None) {
            record.fail_next = Some(message.to_owned());
        }
    }

    /// Makes `can-i` answer `no` for `resource/action/object` (each part may use `*`), e.g.
    /// `applications/sync/payments/*`.
    pub fn deny(&self, rule: &str) {
        lock(&self.store).denied.push(rule.to_owned());
    }

    /// The application `name` in Argo CD's namespace as the fake holds it now (without
    /// advancing a running operation).
    pub fn application(&self, name: &str) -> Option<Value> {
        self.application_in(CONTROL_PLANE_NAMESPACE, name)
    }

    /// The application `name` in `namespace`.
    pub fn application_in(&self, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.store)
            .app(name, Some(namespace))
            .ok()
            .map(|record| record.app.clone())
    }

    /// How many applications the fake holds.
    pub fn application_count(&self) -> usize {
        lock(&self.store).apps.len()
    }

    /// The bytes of the List answers written so far as streams (an instance with
    /// [`ArgoCd::with_listed_apps`]), counted as they go out.
    pub fn listed_bytes(&self) -> u64 {
        lock(&self.store)
            .listed
            .bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The ApplicationSet `name` in Argo CD's namespace.
    pub fn appset(&self, name: &str) -> Option<Value> {
        lock(&self.store)
            .appsets
            .iter()
            .find(|set| set["metadata"]["name"] == name)
            .cloned()
    }

    /// Every resource action run so far, as `{application, kind, name, namespace, action,
    /// parameters, endpoint}`.
    pub fn actions_run(&self) -> Vec<Value> {
        lock(&self.store).actions_run.clone()
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves `data` on a free port of 127.0.0.1.
pub async fn start(data: ArgoCd) -> Result<ArgoCdServer> {
    serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), data).await
}

/// Serves `data` on `addr`, which must be a loopback address.
pub async fn serve_on(addr: SocketAddr, data: ArgoCd) -> Result<ArgoCdServer> {
    let base_path = normalize_base_path(&data.base_path)?;
    let token = data.token.clone();
    let store = Arc::new(Mutex::new(data.into_store()));
    let journal = Arc::new(Journal::default());
    let shared = Arc::new(Shared {
        base_path: base_path.clone(),
        token,
        journal: journal.clone(),
        store: store.clone(),
    });
    let router = Router::new().fallback(dispatch).with_state(shared);
    let server = FakeServer::spawn("Argo CD", addr, &base_path, router, journal).await?;
    Ok(ArgoCdServer { server, store })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod state_tests;

#[cfg(test)]
mod generated_tests;
