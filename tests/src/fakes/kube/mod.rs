//! A fake Kubernetes API server: stateful and writable, holding Argo Rollouts, Flux and External
//! Secrets Operator custom resources (validated against their vendored CRDs) and the built-in
//! kinds around them.
//!
//! 1. Build a [`Cluster`]: [`Cluster::with`] fixtures (each checked against its CRD's schema,
//!    so a fixture the real API server would refuse fails right there), attach pod logs with
//!    [`Cluster::with_logs`], deny RBAC verbs with [`Cluster::forbidding`], uninstall a CRD
//!    with [`Cluster::without_crd`].
//! 2. [`start`] it (or [`serve_on`] a fixed port) and point the plugin at
//!    [`FakeServer::base_url`] (a [`KubeServer`] dereferences to its [`FakeServer`]).
//! 3. Simulate controllers with [`KubeServer::react`]: a reactor runs after every accepted
//!    request, with mutable access to the [`Store`] and the request's [`Event`].
//! 4. Assert on [`FakeServer::requests`] (method, path, query, headers, body), on live state
//!    with [`KubeServer::object`], and finish with [`FakeServer::assert_no_violations`].
//!
//! Served: `/version`; discovery (`discovery.rs`); GET, LIST, POST, PUT, PATCH and DELETE on
//! `/api/v1/…` and `/apis/{group}/{version}/…`, namespaced and cluster-scoped, with the
//! `status` and `pods/log` subresources (`verbs.rs`, `patch.rs`, `logs.rs`). The write rules —
//! conflicts, status subresource, generation, schema validation — are in `store.rs`. Errors
//! are `Status` objects worded like the real server's (`status.rs`). A request the real server
//! would reject as malformed — an unknown path or type, an undeclared query parameter, a patch
//! type the resource does not take, a write that would store an invalid object — is a contract
//! violation: answered as the API server would, and recorded.

// A refusal carries a Status whose JSON `details` is large with serde_json's `preserve_order`
// (which cedar-policy turns on for the whole build); a fake server has no use for boxing it.
#![allow(clippy::result_large_err)]

mod builtin;
mod cluster;
mod crd;
mod discovery;
mod list;
mod logs;
mod patch;
mod status;
mod store;
pub mod types;
mod verbs;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

pub use self::cluster::Cluster;
pub use self::status::Status;
use self::store::Refusal;
pub use self::store::Store;
use self::verbs::Route;
use crate::fakes::server::{
    FakeServer, Journal, RecordedRequest, normalize_base_path, strip_base_path,
};

/// The identity RBAC denials name, as a service account's would.
const USER: &str = "system:serviceaccount:capstan:capstan";

/// An accepted request, as reactors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The RBAC verb: `get`, `list`, `create`, `update`, `patch` or `delete`.
    pub verb: &'static str,
    /// The addressed type's `apiVersion`.
    pub api_version: String,
    /// The addressed type's kind.
    pub kind: String,
    /// The namespace in the path.
    pub namespace: Option<String>,
    /// The object's name, for requests to one object.
    pub name: Option<String>,
    /// `status` or `log`, for subresource requests.
    pub subresource: Option<String>,
    /// Whether the request was a dry run (nothing was stored).
    pub dry_run: bool,
}

impl Event {
    /// Whether the request changed (or, dry run, would have changed) the store.
    pub fn is_write(&self) -> bool {
        matches!(self.verb, "create" | "update" | "patch" | "delete")
    }

    /// Whether the request addressed the object `kind` `name`.
    pub fn is_about(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name.as_deref() == Some(name)
    }
}

/// A controller simulation: runs after each accepted request.
type Reactor = Arc<dyn Fn(&mut Store, &Event) + Send + Sync>;

/// A running fake Kubernetes API; dereferences to its [`FakeServer`].
pub struct KubeServer {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl Deref for KubeServer {
    type Target = FakeServer;
    fn deref(&self) -> &FakeServer {
        &self.server
    }
}

impl std::fmt::Debug for KubeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeServer")
            .field("server", &self.server)
            .finish()
    }
}

impl KubeServer {
    /// A copy of the object as currently stored (`namespace` is ignored for cluster-scoped
    /// kinds).
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .store()
            .object(api_version, kind, namespace, name)
            .cloned()
    }

    /// Runs `f` with the live store, e.g. to change an object between two calls.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.shared.store())
    }

    /// Adds a reactor: after every accepted request (reads included, so a reactor can make
    /// state progress over several reads) it runs with the live store and the request's
    /// [`Event`]. Dry runs and refused requests do not trigger reactors.
    pub fn react(&self, reactor: impl Fn(&mut Store, &Event) + Send + Sync + 'static) {
        lock(&self.shared.reactors).push(Arc::new(reactor));
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves `cluster` on a free port of 127.0.0.1.
pub async fn start(cluster: Cluster) -> Result<KubeServer> {
    serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), cluster).await
}

/// Serves `cluster` on `addr`, which must be a loopback address.
pub async fn serve_on(addr: SocketAddr, cluster: Cluster) -> Result<KubeServer> {
    let base_path = normalize_base_path(&cluster.base_path)?;
    let journal = Arc::new(Journal::default());
    let shared = Arc::new(Shared {
        store: Mutex::new(cluster.store),
        reactors: Mutex::new(Vec::new()),
        base_path: base_path.clone(),
        token: cluster.token,
        journal: journal.clone(),
    });
    let router = Router::new().fallback(dispatch).with_state(shared.clone());
    let server = FakeServer::spawn("Kubernetes API", addr, &base_path, router, journal).await?;
    Ok(KubeServer { server, shared })
}

struct Shared {
    store: Mutex<Store>,
    reactors: Mutex<Vec<Reactor>>,
    base_path: String,
    token: Option<String>,
    journal: Arc<Journal>,
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let request = RecordedRequest::read(request).await;
    shared.journal.record(&request);
    let answer = shared.answer(&request);
    match answer {
        Ok((response, event)) => {
            if let Some(event) = event.filter(|event| !event.dry_run) {
                shared.react(&event);
            }
            response
        }
        Err(Refusal::Answer(status)) => status.into_response(),
        Err(Refusal::Violation(status, reason)) => {
            shared.journal.violation(&request, &reason);
            status.into_response()
        }
    }
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn react(&self, event: &Event) {
        let reactors: Vec<Reactor> = lock(&self.reactors).clone();
        let mut store = self.store();
        for reactor in reactors {
            reactor(&mut store, event);
        }
    }

    fn answer(&self, request: &RecordedRequest) -> Result<(Response, Option<Event>), Refusal> {
        let path = strip_base_path(&self.base_path, &request.path).ok_or_else(|| {
            let reason = format!("the path is outside the base path `{}`", self.base_path);
            Refusal::Violation(Status::path_not_found(), reason)
        })?;
        self.authenticate(request)?;
        let mut store = self.store();
        let address = match verbs::route(&store, path)? {
            Route::Resource(address) => address,
            discovery => {
                if request.method != "GET" {
                    let reason = format!("{} on a discovery path", request.method);
                    return Err(Refusal::Violation(Status::method_not_allowed(), reason));
                }
                return Ok((verbs::discover(&store, &discovery)?, None));
            }
        };
        let verb = verbs::rbac_verb(&request.method, &address)?;
        let resource = match &address.sub {
            Some(sub) => format!("{}/{sub}", address.rt.plural),
            None => address.rt.plural.clone(),
        };
        if store
            .forbidden
            .iter()
            .any(|(v, r)| v == verb && *r == resource)
        {
            let status = Status::forbidden(
                address.rt,
                address.name.as_deref(),
                verb,
                &resource,
                address.namespace.as_deref(),
                USER,
            );
            return Err(Refusal::Answer(status));
        }
        let (response, event) = verbs::serve(&mut store, request, &address, verb)?;
        Ok((response, Some(event)))
    }

    fn authenticate(&self, request: &RecordedRequest) -> Result<(), Refusal> {
        let Some(token) = self.token.as_deref() else {
            return Ok(());
        };
        match request
            .authorization()
            .and_then(|header| header.strip_prefix("Bearer "))
        {
            Some(sent) if sent == token => Ok(()),
            _ => Err(Refusal::Answer(Status::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Unauthorized",
            ))),
        }
    }
}

/// A poisoned lock only means a test thread panicked; the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
