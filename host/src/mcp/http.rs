//! The HTTP face: `/mcp` (Streamable HTTP), `/healthz`, `/readyz`, `/metrics` and, with OAuth,
//! the protected resource metadata at `/.well-known/oauth-protected-resource` (and its
//! path-suffixed form).
//!
//! Order of checks on `/mcp`: authentication runs first (the [`Authenticator`] turns the request
//! into a [`Caller`], put in the request's extensions as `Arc<Caller>`, where handlers find it
//! through rmcp's `http::request::Parts`), then rmcp's Host and Origin allowlists, then the MCP
//! session or stateless handling. `/readyz` and `/metrics` pass the same `Host` allowlist
//! ([`host_check`](super::host_check)); `/metrics` moves to its own app ([`metrics_app`]) when
//! it has a listen address of its own.
//!
//! During a [`Drain`] `/readyz` answers 503, and once new work is refused an `/mcp` request
//! without an `Mcp-Session-Id` gets 503 with `Retry-After` ([`drain_gate`]); every `/mcp`
//! `POST` counts as a call in flight until its response body ends ([`Tracked`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::host_check::{HostAllowlist, check_host};
use super::server::McpServer;
use crate::caller::Caller;
use crate::drain::{Drain, InFlight};
use crate::identity::Authenticator;
use crate::metrics::Metrics;
use crate::registry::Readiness;

/// How the HTTP face is exposed.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Serve only stateless requests (no legacy MCP sessions), for replicas behind a balancer.
    pub stateless: bool,
    /// Who may call: every `/mcp` request goes through it.
    pub authenticator: Arc<Authenticator>,
    /// `Host` values accepted besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides loopback origins.
    pub allowed_origins: Vec<String>,
    /// `/metrics` is served on an address of its own ([`metrics_app`]), not here.
    pub separate_metrics: bool,
    /// The drain state `serve` starts on SIGTERM.
    pub drain: Arc<Drain>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            stateless: false,
            authenticator: Arc::new(Authenticator::open()),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            separate_metrics: false,
            drain: Arc::new(Drain::default()),
        }
    }
}

/// Builds the app: `server` answers MCP (each session gets its own
/// [`session`](McpServer::session) of it), `readiness` backs `/readyz` and `metrics`
/// `/metrics`. `shutdown` ends open MCP streams when cancelled.
pub fn app(
    server: McpServer,
    readiness: Arc<dyn Readiness>,
    metrics: Arc<Metrics>,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> Router {
    let config = mcp_config(options, shutdown);
    let mcp = StreamableHttpService::new(
        move || Ok(server.session()),
        LocalSessionManager::default().into(),
        config,
    );
    let gate = Gate {
        authenticator: options.authenticator.clone(),
        metrics: metrics.clone(),
    };
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn(session_end_status))
        .layer(middleware::from_fn_with_state(gate, authenticate))
        .layer(middleware::from_fn_with_state(
            options.drain.clone(),
            drain_gate,
        ));
    let probe = Probe {
        readiness,
        drain: options.drain.clone(),
    };
    let mut guarded = Router::new().route("/readyz", get(readyz).with_state(probe));
    if !options.separate_metrics {
        guarded = guarded.route("/metrics", get(metrics_text).with_state(metrics));
    }
    let hosts = HostAllowlist::new(allowed_hosts(options).iter().map(String::as_str));
    let guarded = guarded.route_layer(middleware::from_fn_with_state(hosts, check_host));
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(guarded)
        .merge(mcp_routes);
    if let Some(resource) = options.authenticator.resource() {
        let document = Arc::new(resource.document().clone());
        for path in resource.paths() {
            let document = document.clone();
            router = router.route(
                path,
                get(move || async move { Json(document.as_ref().clone()) }),
            );
        }
    }
    router
}

/// The app of a separate metrics address: `/metrics` only, behind the same `Host` allowlist.
pub fn metrics_app(metrics: Arc<Metrics>, options: &HttpOptions) -> Router {
    let hosts = HostAllowlist::new(allowed_hosts(options).iter().map(String::as_str));
    Router::new()
        .route("/metrics", get(metrics_text).with_state(metrics))
        .route_layer(middleware::from_fn_with_state(hosts, check_host))
}

/// Loopback names and the configured ones.
fn allowed_hosts(options: &HttpOptions) -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .chain(options.allowed_hosts.iter().cloned())
        .collect()
}

fn mcp_config(options: &HttpOptions, shutdown: CancellationToken) -> StreamableHttpServerConfig {
    let hosts = allowed_hosts(options);
    let origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        .into_iter()
        .map(String::from)
        .chain(options.allowed_origins.iter().cloned());
    StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!options.stateless)
        // A self-contained (2026-07-28 or --stateless) request whose handler sends nothing before
        // its answer gets plain JSON; one that reports progress or logs gets an SSE stream.
        .with_json_response(true)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_cancellation_token(shutdown)
}

#[derive(Clone)]
struct Probe {
    readiness: Arc<dyn Readiness>,
    drain: Arc<Drain>,
}

async fn readyz(State(probe): State<Probe>) -> Response {
    if probe.drain.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "draining: shutting down"})),
        )
            .into_response();
    }
    match probe.readiness.report() {
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "plugins are still loading"})),
        )
            .into_response(),
        Some(report) => (StatusCode::OK, Json(report)).into_response(),
    }
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], metrics.render()).into_response()
}

/// Refuses what would start new work on a draining replica (see the module docs), and counts
/// every `POST` as a call in flight until its response body ends.
async fn drain_gate(State(drain): State<Arc<Drain>>, request: Request, next: Next) -> Response {
    let in_session = request.headers().contains_key("mcp-session-id");
    if drain.refuses_new_work() && !in_session {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")],
            Json(json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": -32000, "message": "this capstan replica is shutting down; retry, and another replica will answer"}
            })),
        )
            .into_response();
    }
    if request.method() != http::Method::POST {
        return next.run(request).await;
    }
    let call = drain.call();
    let response = next.run(request).await;
    response.map(|body| {
        Body::new(Tracked {
            inner: body,
            _call: call,
        })
    })
}

/// rmcp answers a session's `DELETE` with 202 Accepted, though the session is already closed
/// when it answers; clients expect 200 or 204 (the Python SDK logs a failed termination on
/// anything else). 204 No Content says what happened.
async fn session_end_status(request: Request, next: Next) -> Response {
    let ends_session = request.method() == http::Method::DELETE;
    let mut response = next.run(request).await;
    if ends_session && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// A response body that keeps its request counted as in flight until it ends or is dropped.
struct Tracked {
    inner: Body,
    _call: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Clone)]
struct Gate {
    authenticator: Arc<Authenticator>,
    metrics: Arc<Metrics>,
}

/// Authenticates the request and hands its [`Caller`] on in the extensions, or refuses it.
async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate.authenticator.authenticate(request.headers()).await {
        Ok(caller) => {
            request.extensions_mut().insert(Arc::new(caller));
            next.run(request).await
        }
        Err(failure) => {
            gate.metrics.record_auth_refusal(failure.reason());
            tracing::debug!(
                reason = failure.reason().label(),
                "refused a request: {failure}"
            );
            gate.authenticator.refuse(&failure)
        }
    }
}

/// The caller a request authenticated as (anonymous when it carries none, e.g. over stdio).
pub fn caller_of(parts: Option<&http::request::Parts>) -> Arc<Caller> {
    parts
        .and_then(|parts| parts.extensions.get::<Arc<Caller>>())
        .cloned()
        .unwrap_or_else(|| Arc::new(Caller::anonymous()))
}
