//! The HTTP face: `/mcp` (Streamable HTTP), `/healthz`, `/readyz` and `/metrics`.
//!
//! Order of checks on `/mcp`: inbound bearer auth (when configured) runs first, then rmcp's
//! Host and Origin allowlists, then the MCP session or stateless handling.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::server::McpServer;
use crate::metrics::Metrics;
use crate::registry::Readiness;

/// How the HTTP face is exposed.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Serve only stateless requests (no legacy MCP sessions), for replicas behind a balancer.
    pub stateless: bool,
    /// The bearer token inbound requests must carry, if any.
    pub bearer_token: Option<String>,
    /// `Host` values accepted besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides loopback origins.
    pub allowed_origins: Vec<String>,
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
    let mut mcp_routes = Router::new().nest_service("/mcp", mcp);
    if let Some(token) = &options.bearer_token {
        mcp_routes = mcp_routes.layer(middleware::from_fn_with_state(
            Arc::new(token.clone()),
            require_bearer,
        ));
    }
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz).with_state(readiness))
        .route("/metrics", get(metrics_text).with_state(metrics))
        .merge(mcp_routes)
}

fn mcp_config(options: &HttpOptions, shutdown: CancellationToken) -> StreamableHttpServerConfig {
    let hosts = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .chain(options.allowed_hosts.iter().cloned());
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

async fn readyz(State(readiness): State<Arc<dyn Readiness>>) -> Response {
    match readiness.report() {
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

async fn require_bearer(
    State(token): State<Arc<String>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "a valid bearer token is required: send `Authorization: Bearer <token>`\n",
    )
        .into_response();
    let challenge = if presented.is_some() {
        "Bearer error=\"invalid_token\""
    } else {
        "Bearer"
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
