//! The fake's mutable state (applications, projects, clusters, ApplicationSets, repositories,
//! scenario hooks) and the error type its handlers answer with, shaped like grpc-gateway's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::app::Cause;

/// The namespace Argo CD runs in; applications live there unless "apps in any namespace" is on.
pub const CONTROL_PLANE_NAMESPACE: &str = "argocd";

/// gRPC status codes Argo CD puts in its error bodies.
pub(crate) mod code {
    pub const INVALID_ARGUMENT: u16 = 3;
    pub const NOT_FOUND: u16 = 5;
    pub const ALREADY_EXISTS: u16 = 6;
    pub const PERMISSION_DENIED: u16 = 7;
    pub const FAILED_PRECONDITION: u16 = 9;
    pub const UNIMPLEMENTED: u16 = 12;
    pub const INTERNAL: u16 = 13;
    pub const UNAVAILABLE: u16 = 14;
    pub const UNAUTHENTICATED: u16 = 16;
}

/// A failure a test injects for one operation (by swagger `operationId`, e.g.
/// `ApplicationService_Get`) until [`crate::fakes::argocd::ArgoCdServer::clear_faults`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and the matching gRPC code and message, as Argo CD does
    /// (403 → PermissionDenied, 500 → Internal, 503 → Unavailable, …).
    Status(u16),
    /// Wait this long before answering normally (for client timeouts).
    Slow(Duration),
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// For the log operations: stream some lines, then an error entry in the stream.
    StreamError,
}

/// An error answer: HTTP status, gRPC code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u16,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, message)
    }

    pub(crate) fn precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::FAILED_PRECONDITION, message)
    }

    /// What Argo CD answers for `status` (used by injected faults).
    pub(crate) fn for_status(status: u16) -> Self {
        let (code, message) = match status {
            401 => (code::UNAUTHENTICATED, "invalid session: token has expired"),
            403 => (
                code::PERMISSION_DENIED,
                "permission denied: applications, get, default/guestbook, sub: capstan, iat: 2026-08-20T09:00:00Z",
            ),
            404 => (code::NOT_FOUND, "not found"),
            409 => (code::ALREADY_EXISTS, "already exists"),
            501 => (code::UNIMPLEMENTED, "not implemented"),
            503 => (
                code::UNAVAILABLE,
                "connection error: desc = \"transport: Error while dialing: dial tcp 10.96.0.12:8081: connect: connection refused\"",
            ),
            _ => (
                code::INTERNAL,
                "rpc error: code = Internal desc = repository server is overloaded",
            ),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// What a handler answers: a JSON document (built, already serialized, or written as it is
/// made), or newline-delimited JSON (a stream).
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    Serialized(Vec<u8>),
    Body(axum::body::Body),
    Stream(String),
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::Json(value) => Json(value).into_response(),
            Reply::Serialized(body) => {
                ([("content-type", "application/json")], body).into_response()
            }
            Reply::Body(body) => ([("content-type", "application/json")], body).into_response(),
            Reply::Stream(lines) => ([("content-type", "application/json")], lines).into_response(),
        }
    }
}

/// Generated applications only List serves ([`super::ArgoCd::with_listed_apps`]), made while
/// the answer is written, and the bytes of the List answers written so far.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    pub count: usize,
    pub bytes: Arc<AtomicU64>,
}

/// A handler's outcome.
pub(crate) type Answer = Result<Reply, ApiError>;

/// A JSON answer.
pub(crate) fn ok(value: Value) -> Answer {
    Ok(Reply::Json(value))
}

/// What the fake simulates about an application beyond its JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Simulated {
    /// Why its workload fails whenever the application is Degraded.
    pub cause: Cause,
    /// Pods its Deployment runs.
    pub replicas: u32,
}

impl Default for Simulated {
    fn default() -> Self {
        Self {
            cause: Cause::default(),
            replicas: 2,
        }
    }
}

/// One application and what the fake simulates about it.
#[derive(Debug, Clone)]
pub(crate) struct AppRecord {
    pub app: Value,
    /// Why its workload fails whenever the application is Degraded.
    pub cause: Cause,
    /// Pods its Deployment runs.
    pub replicas: u32,
    /// A sync or rollback in flight.
    pub progression: Option<Progression>,
    /// Scenario: the next operation leaves the app Degraded with this cause.
    pub degrade_next: Option<Cause>,
    /// Scenario: ... for this many reads only, then Healthy again (a transient Degraded).
    pub degrade_next_for: Option<u32>,
    /// Scenario: the next operation fails with this message.
    pub fail_next: Option<String>,
    /// Scenario, every time: an operation that deploys one of these Kustomize images leaves the
    /// app Degraded with the cause (see [`super::ArgoCd::with_broken_image`]).
    pub broken_images: Vec<(String, Cause)>,
}

/// A running operation, advanced by reads of the application.
#[derive(Debug, Clone)]
pub(crate) struct Progression {
    /// Reads seen since the operation started.
    pub reads: u32,
    pub revision: String,
    pub outcome: Outcome,
}

/// How a running operation ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Healthy,
    Degraded(Cause),
    /// Degraded for this many reads after the health settles, then Healthy.
    Transient(Cause, u32),
    Failed(String),
}

impl AppRecord {
    pub(crate) fn new(app: Value, simulated: Simulated) -> Self {
        Self {
            app,
            cause: simulated.cause,
            replicas: simulated.replicas,
            progression: None,
            degrade_next: None,
            degrade_next_for: None,
            fail_next: None,
            broken_images: Vec::new(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.app["metadata"]["name"].as_str().unwrap_or_default()
    }

    pub(crate) fn namespace(&self) -> &str {
        self.app["metadata"]["namespace"]
            .as_str()
            .unwrap_or(CONTROL_PLANE_NAMESPACE)
    }

    pub(crate) fn project(&self) -> &str {
        self.app["spec"]["project"].as_str().unwrap_or("default")
    }
}

/// Everything the fake serves, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub apps: Vec<AppRecord>,
    /// Kustomize images whose deployment leaves any application Degraded, with the cause.
    pub broken_images: Vec<(String, Cause)>,
    pub projects: Vec<Value>,
    pub clusters: Vec<Value>,
    pub appsets: Vec<Value>,
    /// Repository URL → the application directories Argo CD finds in it: (path, type).
    pub repos: BTreeMap<String, Vec<(String, String)>>,
    pub faults: HashMap<String, Fault>,
    /// `resource/action/object` triples `can-i` answers `no` to (`*` matches anything).
    pub denied: Vec<String>,
    /// Every resource action run, as `{app, kind, name, namespace, action, parameters}`.
    pub actions_run: Vec<Value>,
    /// A counter for resource versions.
    pub version: u64,
    /// Applications only List serves.
    pub listed: Listed,
}

impl Store {
    /// The application `name` in `namespace` (default: Argo CD's own), or Argo CD's 404.
    pub(crate) fn app(&self, name: &str, namespace: Option<&str>) -> Result<&AppRecord, ApiError> {
        let index = self.app_index(name, namespace)?;
        Ok(&self.apps[index])
    }

    /// The application, mutably.
    pub(crate) fn app_mut(
        &mut self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<&mut AppRecord, ApiError> {
        let index = self.app_index(name, namespace)?;
        Ok(&mut self.apps[index])
    }

    pub(crate) fn app_index(&self, name: &str, namespace: Option<&str>) -> Result<usize, ApiError> {
        let namespace = namespace
            .filter(|ns| !ns.is_empty())
            .unwrap_or(CONTROL_PLANE_NAMESPACE);
        self.apps
            .iter()
            .position(|record| record.name() == name && record.namespace() == namespace)
            .ok_or_else(|| {
                ApiError::not_found(format!("applications.argoproj.io \"{name}\" not found"))
            })
    }

    /// Keeps applications sorted by name then namespace, as Argo CD lists them.
    pub(crate) fn sort(&mut self) {
        self.apps
            .sort_by(|a, b| (a.name(), a.namespace()).cmp(&(b.name(), b.namespace())));
    }

    /// A fresh `metadata.resourceVersion`.
    pub(crate) fn next_version(&mut self) -> String {
        self.version += 1;
        (2_000_000 + self.version).to_string()
    }

    pub(crate) fn project(&self, name: &str) -> Option<&Value> {
        self.projects
            .iter()
            .find(|project| project["metadata"]["name"] == name)
    }

    pub(crate) fn cluster_known(&self, server: &str, name: &str) -> bool {
        self.clusters.iter().any(|cluster| {
            (!server.is_empty() && cluster["server"] == server)
                || (!name.is_empty() && cluster["name"] == name)
        })
    }
}

/// The decoded query of a request.
pub(crate) struct Query<'a>(pub &'a [(String, String)]);

impl Query<'_> {
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// A boolean parameter the way Go's strconv.ParseBool reads it.
    pub(crate) fn flag(&self, name: &str) -> Option<bool> {
        self.first(name)
            .map(|value| matches!(value, "1" | "t" | "T" | "TRUE" | "true" | "True"))
    }

    pub(crate) fn number(&self, name: &str) -> Option<i64> {
        self.first(name).and_then(|value| value.parse().ok())
    }

    /// `projects` (repeatable), or the older `project` when `projects` is absent.
    pub(crate) fn projects(&self) -> Vec<&str> {
        let projects = self.all("projects");
        if projects.is_empty() {
            self.all("project")
        } else {
            projects
        }
    }
}

/// The request a handler works on: path parameters, query and parsed body.
pub(crate) struct Call<'a> {
    pub params: &'a HashMap<String, String>,
    pub query: Query<'a>,
    pub body: Value,
}

impl Call<'_> {
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// `appNamespace` from the query or, failing that, from the body.
    pub(crate) fn app_namespace(&self) -> Option<&str> {
        self.query
            .first("appNamespace")
            .or_else(|| self.body["appNamespace"].as_str())
            .filter(|ns| !ns.is_empty())
    }
}
