//! A fake Argo CD API server that holds its applications in memory and holds every request to
//! the real API's contract (Argo CD v3.5.1's `swagger.json`).
//!
//! 1. Build the data: [`ArgoCd::new`], then [`ArgoCd::with_app`] / [`ArgoCd::with_generated_apps`]
//!    (or [`crate::fakes::demo::argocd`]); optionally [`ArgoCd::with_base_path`] (serve under
//!    `/argocd`, like `argocd-server --rootpath`) and [`ArgoCd::with_token`] (require a bearer
//!    token on `/api/v1/*`).
//! 2. [`start`] it on a free loopback port (or [`serve_on`] a fixed one) and point the plugin's
//!    target at [`FakeServer::base_url`].
//! 3. Assert on [`FakeServer::requests`] and [`FakeServer::assert_no_violations`].
//!
//! Every request is matched to a swagger operation: its path template must exist for the method
//! and every query parameter must be declared for that operation, with a value of the declared
//! type. A request that fails is a contract violation: it is answered 400 and recorded.
//! Operations the contract has but the fake does not implement yet answer 501 (gRPC code 12).
//! Implemented: `GET /api/version`, `GET /api/v1/applications` (filters `name`, `projects`,
//! `project`, `selector`, `repo`, `appNamespace`) and `GET /api/v1/applications/{name}`.
//! Errors look like Argo CD's: `{"error": …, "code": <gRPC code>, "message": …}`.

mod app;
mod contract;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

pub use app::{Application, CONTROL_PLANE_NAMESPACE, IN_CLUSTER, generate};

use self::contract::{Contract, Matched, validate_application};
use crate::fakes::selector::Selector;
use crate::fakes::server::{
    FakeServer, Journal, RecordedRequest, normalize_base_path, strip_base_path,
};

/// The version the fake reports; the contract is this release's swagger.json.
pub const VERSION: &str = "v3.5.1+109ca7c";

/// gRPC status codes Argo CD puts in its error bodies.
mod code {
    pub const INVALID_ARGUMENT: u16 = 3;
    pub const NOT_FOUND: u16 = 5;
    pub const UNIMPLEMENTED: u16 = 12;
    pub const UNAUTHENTICATED: u16 = 16;
}

/// The data a fake Argo CD serves.
#[derive(Debug, Clone, Default)]
pub struct ArgoCd {
    applications: Vec<Value>,
    base_path: String,
    token: Option<String>,
}

impl ArgoCd {
    /// No applications, served at the root, no token required.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an application built with [`Application`].
    pub fn with_app(mut self, application: Application) -> Self {
        self.applications.push(application.to_json());
        self
    }

    /// Adds `count` generated applications (see [`generate`]).
    pub fn with_generated_apps(self, count: usize) -> Self {
        generate(count).into_iter().fold(self, Self::with_app)
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
        self.applications.push(application);
        Ok(self)
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

    /// The applications, as served.
    pub fn applications(&self) -> &[Value] {
        &self.applications
    }
}

/// Serves `data` on a free port of 127.0.0.1.
pub async fn start(data: ArgoCd) -> Result<FakeServer> {
    serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), data).await
}

/// Serves `data` on `addr`, which must be a loopback address.
pub async fn serve_on(addr: SocketAddr, mut data: ArgoCd) -> Result<FakeServer> {
    data.base_path = normalize_base_path(&data.base_path)?;
    data.applications.sort_by_key(app_key);
    let journal = Arc::new(Journal::default());
    let base_path = data.base_path.clone();
    let shared = Arc::new(Shared {
        data,
        journal: journal.clone(),
    });
    let router = Router::new().fallback(dispatch).with_state(shared);
    FakeServer::spawn("Argo CD", addr, &base_path, router, journal).await
}

/// Argo CD sorts lists by name.
fn app_key(application: &Value) -> (String, String) {
    let metadata = &application["metadata"];
    let text = |field: &str| metadata[field].as_str().unwrap_or_default().to_owned();
    (text("name"), text("namespace"))
}

struct Shared {
    data: ArgoCd,
    journal: Arc<Journal>,
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let request = RecordedRequest::read(request).await;
    shared.journal.record(&request);
    let Some(path) = strip_base_path(&shared.data.base_path, &request.path) else {
        let reason = format!(
            "the path is outside the base path `{}`",
            shared.data.base_path
        );
        return shared.violation(&request, &reason, StatusCode::NOT_FOUND);
    };
    let query = request.query_pairs();
    match Contract::get().check(&request.method, path, &query) {
        Ok(matched) => shared.answer(&request, &matched, &query),
        Err(reason) => shared.violation(&request, &reason, StatusCode::BAD_REQUEST),
    }
}

impl Shared {
    fn violation(&self, request: &RecordedRequest, reason: &str, status: StatusCode) -> Response {
        self.journal.violation(request, reason);
        let message = format!("capstan fake Argo CD: contract violation: {reason}");
        error(status, code::INVALID_ARGUMENT, &message)
    }

    fn answer(
        &self,
        request: &RecordedRequest,
        matched: &Matched<'_>,
        query: &[(String, String)],
    ) -> Response {
        if let Some(denied) = self.authenticate(request, &matched.operation.id) {
            return denied;
        }
        let query = Query(query);
        match matched.operation.id.as_str() {
            "VersionService_Version" => Json(version()).into_response(),
            "ApplicationService_List" => self.list_applications(&query),
            "ApplicationService_Get" => self.get_application(&matched.path_params["name"], &query),
            other => error(
                StatusCode::NOT_IMPLEMENTED,
                code::UNIMPLEMENTED,
                &format!(
                    "capstan fake Argo CD: {other} is in the contract but not implemented by the fake yet"
                ),
            ),
        }
    }

    /// `None` when the request may proceed. `/api/version` answers without a session, as in
    /// Argo CD.
    fn authenticate(&self, request: &RecordedRequest, operation: &str) -> Option<Response> {
        let token = self.data.token.as_deref()?;
        if operation == "VersionService_Version" {
            return None;
        }
        let message = match request.authorization() {
            None => "no session information",
            Some(header) if header.strip_prefix("Bearer ") == Some(token) => return None,
            Some(_) => "invalid session: token signature is invalid",
        };
        Some(error(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            message,
        ))
    }

    fn list_applications(&self, query: &Query<'_>) -> Response {
        let selector = match Selector::parse(query.first("selector").unwrap_or_default()) {
            Ok(selector) => selector,
            Err(message) => {
                let message = format!("error parsing the selector: {message}");
                return error(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, &message);
            }
        };
        let projects = query.projects();
        let items: Vec<&Value> = self
            .data
            .applications
            .iter()
            .filter(|app| selector.matches(app["metadata"]["labels"].as_object()))
            .filter(|app| {
                query
                    .first("appNamespace")
                    .is_none_or(|ns| app["metadata"]["namespace"] == ns)
            })
            .filter(|app| {
                projects.is_empty() || projects.iter().any(|p| app["spec"]["project"] == *p)
            })
            .filter(|app| query.first("repo").is_none_or(|repo| uses_repo(app, repo)))
            .collect();
        if let Some(name) = query.first("name") {
            return match items.iter().find(|app| app["metadata"]["name"] == name) {
                Some(app) => Json(list(&[app])).into_response(),
                None => not_found(&format!("application '{name}' not found")),
            };
        }
        Json(list(&items)).into_response()
    }

    fn get_application(&self, name: &str, query: &Query<'_>) -> Response {
        let namespace = query
            .first("appNamespace")
            .unwrap_or(CONTROL_PLANE_NAMESPACE);
        let projects = query.projects();
        let found = self.data.applications.iter().find(|app| {
            app["metadata"]["name"] == name
                && app["metadata"]["namespace"] == namespace
                && (projects.is_empty() || projects.iter().any(|p| app["spec"]["project"] == *p))
        });
        match found {
            Some(app) => Json(app.clone()).into_response(),
            None => not_found(&format!("applications.argoproj.io \"{name}\" not found")),
        }
    }
}

/// The decoded query of a request.
struct Query<'a>(&'a [(String, String)]);

impl Query<'_> {
    fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `projects` (repeatable), or the older `project` when `projects` is absent.
    fn projects(&self) -> Vec<&str> {
        let values = |name: &str| -> Vec<&str> {
            self.0
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        let projects = values("projects");
        if projects.is_empty() {
            values("project")
        } else {
            projects
        }
    }
}

/// Whether the app's source (or one of its sources) is `repo`.
fn uses_repo(application: &Value, repo: &str) -> bool {
    let spec = &application["spec"];
    spec["source"]["repoURL"] == repo
        || spec["sources"]
            .as_array()
            .is_some_and(|sources| sources.iter().any(|source| source["repoURL"] == repo))
}

fn list(items: &[&Value]) -> Value {
    json!({"metadata": {"resourceVersion": "1207"}, "items": items})
}

fn version() -> Value {
    json!({
        "Version": VERSION,
        "BuildDate": "2026-08-12T14:03:11Z",
        "GitCommit": "109ca7ca71139e514114499d294a492e7910a965",
        "GitTag": "v3.5.1",
        "GitTreeState": "clean",
        "GoVersion": "go1.25.0",
        "Compiler": "gc",
        "Platform": "linux/amd64",
        "KustomizeVersion": "v5.7.1 2025-07-23T12:45:29Z",
        "HelmVersion": "v3.18.4+gd80839c",
        "KubectlVersion": "v0.34.0",
        "JsonnetVersion": "v0.21.0",
    })
}

fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
}

/// An error body the way Argo CD's grpc-gateway writes it.
fn error(status: StatusCode, code: u16, message: &str) -> Response {
    let body = json!({"error": message, "code": code, "message": message});
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests;
