//! The HTTP app (`/mcp`, `/healthz`, `/readyz`, `/metrics`) driven in-process with
//! `tower::ServiceExt::oneshot`: no listening socket, no plugins.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use capstan::identity::{Authenticator, IdentitySettings};
use capstan::mcp::http::{HttpOptions, app};
use capstan::mcp::notify::Broadcaster;
use capstan::mcp::server::{McpServer, ServeOptions};
use capstan::metrics::Metrics;
use capstan::registry::{LoadStatus, Registry, Snapshot};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

const TOKEN: &str = "0123456789abcdef-inbound";

struct Fixture {
    app: Router,
    status: Arc<LoadStatus>,
    metrics: Arc<Metrics>,
}

fn fixture(bearer_token: Option<&str>) -> Fixture {
    let registry = Arc::new(Registry::default());
    let server = McpServer::new(registry, Broadcaster::default(), ServeOptions::default());
    let status = Arc::new(LoadStatus::default());
    let metrics = Arc::new(Metrics::default());
    let authenticator = Authenticator::new(
        &IdentitySettings::default(),
        bearer_token.map(str::to_owned),
    )
    .unwrap();
    let options = HttpOptions {
        authenticator: Arc::new(authenticator),
        ..HttpOptions::default()
    };
    let app = app(
        server,
        status.clone(),
        metrics.clone(),
        &options,
        CancellationToken::new(),
    );
    Fixture {
        app,
        status,
        metrics,
    }
}

fn initialize() -> String {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "oneshot", "version": "1"}
        }
    })
    .to_string()
}

/// A POST to `/mcp` with `headers`.
fn post(headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(initialize())).unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap()
}

async fn text(response: axum::response::Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

const BEARER: &str = "Bearer 0123456789abcdef-inbound";

#[tokio::test]
async fn auth_comes_before_the_host_and_origin_checks() {
    let Fixture { app, .. } = fixture(Some(TOKEN));
    let missing = app
        .clone()
        .oneshot(post(&[("host", "evil.example")]))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(
        text(missing)
            .await
            .contains("Authorization: Bearer <token>")
    );

    let wrong = app
        .clone()
        .oneshot(post(&[
            ("host", "localhost"),
            ("authorization", "Bearer not-the-token-at-all"),
        ]))
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.headers()[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\", error_description=\"the token is not one this server accepts\""
    );

    let authorized = app
        .oneshot(post(&[("host", "evil.example"), ("authorization", BEARER)]))
        .await
        .unwrap();
    assert_eq!(authorized.status(), StatusCode::FORBIDDEN);
    assert!(
        text(authorized)
            .await
            .contains("Host header is not allowed")
    );
}

#[tokio::test]
async fn ending_a_session_answers_no_content_and_the_session_is_gone() {
    let Fixture { app, .. } = fixture(None);
    let opened = app
        .clone()
        .oneshot(post(&[("host", "localhost")]))
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let end = || {
        Request::delete("/mcp")
            .header(header::HOST, "localhost")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .body(Body::empty())
            .unwrap()
    };
    let ended = app.clone().oneshot(end()).await.unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert!(text(ended).await.is_empty());
    let list = Request::post("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(Body::from(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string(),
        ))
        .unwrap();
    let after = app.oneshot(list).await.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::NOT_FOUND,
        "the session outlived its DELETE"
    );
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_a_loopback_one_served() {
    let Fixture { app, .. } = fixture(None);
    let foreign = app
        .clone()
        .oneshot(post(&[
            ("host", "localhost"),
            ("origin", "https://evil.example"),
        ]))
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(text(foreign).await.contains("Origin header is not allowed"));

    let local = app
        .oneshot(post(&[
            ("host", "127.0.0.1:8931"),
            ("origin", "http://localhost:3000"),
        ]))
        .await
        .unwrap();
    assert_eq!(local.status(), StatusCode::OK);
    let body = text(local).await;
    assert!(
        body.contains("\"serverInfo\"") && body.contains("capstan"),
        "{body}"
    );
}

#[tokio::test]
async fn readyz_is_503_until_the_first_load_and_then_reports_it() {
    let Fixture { app, status, .. } = fixture(Some(TOKEN));
    let loading = app.clone().oneshot(get("/readyz")).await.unwrap();
    assert_eq!(loading.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&text(loading).await).unwrap();
    assert_eq!(
        body,
        json!({"ready": false, "reason": "plugins are still loading"})
    );

    status.record(&Snapshot::default(), 1);
    let ready = app.oneshot(get("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&text(ready).await).unwrap();
    assert_eq!(
        body,
        json!({"ready": true, "instances": [], "failures": [], "reloads": 1})
    );
}

#[tokio::test]
async fn metrics_are_openmetrics_text_with_the_reload_counters() {
    let Fixture { app, metrics, .. } = fixture(Some(TOKEN));
    metrics.record_reload(3, 1);
    let response = app.oneshot(get("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = text(response).await;
    for line in [
        "capstan_reloads_total{result=\"failed\"} 1",
        "capstan_reloads_total{result=\"ok\"} 0",
        "capstan_plugin_instances 3",
        "capstan_plugin_load_failures 1",
        "# EOF",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let Fixture { app, .. } = fixture(Some(TOKEN));
    let response = app.oneshot(get("/healthz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "ok\n");
}
