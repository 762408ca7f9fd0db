//! A fake Kubernetes API server that holds custom resources in memory: Argo Rollouts
//! (`argoproj.io/v1alpha1` Rollout) and Flux (`kustomize.toolkit.fluxcd.io/v1` Kustomization,
//! `helm.toolkit.fluxcd.io/v2` HelmRelease, `source.toolkit.fluxcd.io/v1` GitRepository and
//! HelmRepository), each from its vendored CRD.
//!
//! 1. Build a [`Cluster`] and [`Cluster::add`] objects. Each is checked against its CRD's
//!    schema (see `crd.rs`), so a fixture the real API server would refuse fails right there.
//!    [`Cluster::without_crd`] uninstalls a CRD (its requests then get 404, as on a cluster
//!    without Flux, say).
//! 2. [`start`] it (or [`serve_on`] a fixed port) and point the plugin at
//!    [`FakeServer::base_url`].
//! 3. Assert on [`FakeServer::requests`] and [`FakeServer::assert_no_violations`].
//!
//! Served (GET only): `/version`, `/apis/{group}/{version}/{plural}` (every namespace),
//! `/apis/{group}/{version}/namespaces/{ns}/{plural}`, `…/{plural}/{name}` and
//! `…/{plural}/{name}/status`. Lists honour `labelSelector`, `fieldSelector`
//! (`metadata.name`, `metadata.namespace`), `limit` and `continue`. Errors are Kubernetes
//! `Status` objects. A request for a resource no known CRD defines, a query parameter the API
//! does not declare for the verb, or a path outside the base path is a contract violation:
//! answered like the API server would (404 or 400) and recorded.

mod cluster;
mod crd;
mod list;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

pub use self::cluster::Cluster;
use self::crd::Crd;
use self::list::{FieldSelector, Page};
use crate::fakes::ids::fake_sha;
use crate::fakes::selector::Selector;
use crate::fakes::server::{
    FakeServer, Journal, RecordedRequest, check_segments, decode_segment, normalize_base_path,
    raw_segments, strip_base_path,
};

/// Query parameters the API server declares for LIST (and WATCH) of a resource.
const LIST_PARAMS: [&str; 11] = [
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "pretty",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];

/// Query parameters the API server declares for GET of one object.
const GET_PARAMS: [&str; 2] = ["pretty", "resourceVersion"];

/// Serves `cluster` on a free port of 127.0.0.1.
pub async fn start(cluster: Cluster) -> Result<FakeServer> {
    serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), cluster).await
}

/// Serves `cluster` on `addr`, which must be a loopback address.
pub async fn serve_on(addr: SocketAddr, mut cluster: Cluster) -> Result<FakeServer> {
    cluster.base_path = normalize_base_path(&cluster.base_path)?;
    let journal = Arc::new(Journal::default());
    let base_path = cluster.base_path.clone();
    let shared = Arc::new(Shared {
        cluster,
        journal: journal.clone(),
    });
    let router = Router::new().fallback(dispatch).with_state(shared);
    FakeServer::spawn("Kubernetes API", addr, &base_path, router, journal).await
}

struct Shared {
    cluster: Cluster,
    journal: Arc<Journal>,
}

/// What a request path addresses.
enum Target {
    Version,
    List {
        crd: &'static Crd,
        namespace: Option<String>,
    },
    Get {
        crd: &'static Crd,
        namespace: String,
        name: String,
    },
}

/// Why a request is not answered with data.
enum Refusal {
    /// The client broke the API contract: record why, answer with this Status.
    Violation(Status, String),
    /// A legitimate error answer (unknown object, uninstalled CRD, unsupported verb).
    Answer(Status),
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let request = RecordedRequest::read(request).await;
    shared.journal.record(&request);
    match shared.answer(&request) {
        Ok(response) => response,
        Err(Refusal::Answer(status)) => status.into_response(),
        Err(Refusal::Violation(status, reason)) => {
            shared.journal.violation(&request, &reason);
            status.into_response()
        }
    }
}

impl Shared {
    fn answer(&self, request: &RecordedRequest) -> Result<Response, Refusal> {
        let path = strip_base_path(&self.cluster.base_path, &request.path).ok_or_else(|| {
            let reason = format!(
                "the path is outside the base path `{}`",
                self.cluster.base_path
            );
            Refusal::Violation(Status::path_not_found(), reason)
        })?;
        self.authenticate(request)?;
        if request.method != "GET" {
            let message = format!(
                "the capstan fake Kubernetes API does not implement {} yet",
                request.method
            );
            return Err(Refusal::Answer(Status::method_not_allowed(message)));
        }
        let target = self.target(path)?;
        let query = request.query_pairs();
        match target {
            Target::Version => Ok(Json(version()).into_response()),
            Target::List { crd, namespace } => {
                check_query(&query, &LIST_PARAMS, "list")?;
                self.list(crd, namespace.as_deref(), &query)
            }
            Target::Get {
                crd,
                namespace,
                name,
            } => {
                check_query(&query, &GET_PARAMS, "get")?;
                self.get(crd, &namespace, &name)
            }
        }
    }

    fn authenticate(&self, request: &RecordedRequest) -> Result<(), Refusal> {
        let Some(token) = self.cluster.token.as_deref() else {
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

    fn target(&self, path: &str) -> Result<Target, Refusal> {
        let raw = raw_segments(path);
        let bad_path = |reason: String| Refusal::Violation(Status::path_not_found(), reason);
        check_segments(&raw).map_err(bad_path)?;
        let segments: Vec<String> = raw
            .iter()
            .map(|s| decode_segment(s))
            .collect::<Result<_, _>>()
            .map_err(bad_path)?;
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (group, version, rest) = match parts.as_slice() {
            ["version"] => return Ok(Target::Version),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => {
                return Err(bad_path(format!(
                    "`{path}` is not a path this fake Kubernetes API serves"
                )));
            }
        };
        let crd = |plural: &str| self.crd(group, version, plural);
        match rest {
            [plural] => Ok(Target::List {
                crd: crd(plural)?,
                namespace: None,
            }),
            ["namespaces", namespace, plural] => Ok(Target::List {
                crd: crd(plural)?,
                namespace: Some((*namespace).to_owned()),
            }),
            ["namespaces", namespace, plural, name]
            | ["namespaces", namespace, plural, name, "status"] => Ok(Target::Get {
                crd: crd(plural)?,
                namespace: (*namespace).to_owned(),
                name: (*name).to_owned(),
            }),
            _ => Err(bad_path(format!(
                "`{path}` is not a resource path of {group}/{version}"
            ))),
        }
    }

    /// The installed CRD serving `group/version/plural`.
    fn crd(&self, group: &str, version: &str, plural: &str) -> Result<&'static Crd, Refusal> {
        let known = crd::all()
            .iter()
            .find(|crd| crd.group == group && crd.plural == plural);
        match known {
            Some(crd) if crd.version != version => Err(Refusal::Violation(
                Status::path_not_found(),
                format!(
                    "{} is served as {}, not {group}/{version}",
                    crd.name,
                    crd.api_version()
                ),
            )),
            Some(crd) if self.cluster.installed.contains(&crd.name) => Ok(crd),
            Some(_) => Err(Refusal::Answer(Status::path_not_found())),
            None => Err(Refusal::Violation(
                Status::path_not_found(),
                format!("no known CRD defines `{plural}` in group `{group}`"),
            )),
        }
    }

    fn get(&self, crd: &Crd, namespace: &str, name: &str) -> Result<Response, Refusal> {
        let object = self
            .cluster
            .objects
            .get(&crd.name)
            .and_then(|objects| objects.get(&(namespace.to_owned(), name.to_owned())));
        match object {
            Some(object) => Ok(Json(object.clone()).into_response()),
            None => Err(Refusal::Answer(Status::object_not_found(crd, name))),
        }
    }

    fn list(
        &self,
        crd: &Crd,
        namespace: Option<&str>,
        query: &[(String, String)],
    ) -> Result<Response, Refusal> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        if param("watch").is_some_and(|watch| watch == "true" || watch == "1") {
            let message = "the capstan fake Kubernetes API does not implement watch";
            return Err(Refusal::Answer(Status::method_not_allowed(message)));
        }
        let labels =
            Selector::parse(param("labelSelector").unwrap_or_default()).map_err(bad_request)?;
        let fields = FieldSelector::parse(param("fieldSelector").unwrap_or_default())
            .map_err(bad_request)?;
        let items: Vec<&Value> = self
            .cluster
            .objects
            .get(&crd.name)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|object| namespace.is_none_or(|ns| object["metadata"]["namespace"] == ns))
            .filter(|object| labels.matches(object["metadata"]["labels"].as_object()))
            .filter(|object| fields.matches(object))
            .collect();
        let page = Page::parse(param("limit"), param("continue")).map_err(bad_request)?;
        Ok(Json(page.render(crd, &items, self.cluster.resource_version)).into_response())
    }
}

fn check_query(query: &[(String, String)], declared: &[&str], verb: &str) -> Result<(), Refusal> {
    match query
        .iter()
        .find(|(name, _)| !declared.contains(&name.as_str()))
    {
        None => Ok(()),
        Some((name, _)) => {
            let reason = format!(
                "query parameter `{name}` is not declared for {verb}; declared: {}",
                declared.join(", ")
            );
            let status = Status::new(StatusCode::BAD_REQUEST, "BadRequest", &reason);
            Err(Refusal::Violation(status, reason))
        }
    }
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.4",
        "gitCommit": fake_sha("kubernetes v1.33.4"), "gitTreeState": "clean",
        "buildDate": "2026-08-13T07:55:12Z", "goVersion": "go1.24.6", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn bad_request(message: String) -> Refusal {
    Refusal::Answer(Status::new(StatusCode::BAD_REQUEST, "BadRequest", message))
}

/// A `Status` object, the body of every Kubernetes API error.
struct Status {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Value,
}

impl Status {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: json!({}),
        }
    }

    /// What the API server answers for a path it does not serve.
    fn path_not_found() -> Self {
        let message = "the server could not find the requested resource";
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    fn object_not_found(crd: &Crd, name: &str) -> Self {
        let message = format!("{} \"{name}\" not found", crd.name);
        Self {
            details: json!({"name": name, "group": crd.group, "kind": crd.plural}),
            ..Self::new(StatusCode::NOT_FOUND, "NotFound", message)
        }
    }

    fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    fn into_response(self) -> Response {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "details": self.details,
            "code": self.code.as_u16(),
        });
        (self.code, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests;
