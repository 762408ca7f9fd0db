//! A scriptable HTTP upstream on a loopback address that records every request it receives,
//! for tests of the egress gate: what reached it, with which headers.
//!
//! Routes (any method):
//! - `/api/ok`: 200 `fine` when the `Authorization` header is `Bearer <token>` (if a token is
//!   set), else 401;
//! - `/api/redirect?to=<url>&status=<code>`: a redirect to `to` (default status 302);
//! - `/api/slow?ms=<n>`: answers after `n` milliseconds (default 60 s);
//! - `/api/endless`: a body that never ends;
//! - anything else: 200 `reached <path>`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use futures::stream;

/// One request an upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Path and query.
    pub target: String,
    /// All headers, as `name: value` lines.
    pub headers: Vec<String>,
}

/// A running upstream.
#[derive(Clone)]
pub struct Upstream {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    load: Arc<Load>,
}

#[derive(Default)]
struct Load {
    now: AtomicUsize,
    peak: AtomicUsize,
}

#[derive(Clone)]
struct State {
    seen: Arc<Mutex<Vec<Seen>>>,
    token: Option<String>,
    load: Arc<Load>,
}

impl Upstream {
    /// Starts an upstream on `ip` (a loopback address) and a free port; `/api/ok` requires
    /// `Bearer <token>` when `token` is set.
    pub async fn start(ip: &str, token: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .unwrap_or_else(|error| panic!("binding {ip}: {error}"));
        let address = listener.local_addr().expect("a bound address");
        let state = State {
            seen: Arc::default(),
            token: token.map(str::to_owned),
            load: Arc::default(),
        };
        let seen = state.seen.clone();
        let load = state.load.clone();
        let app = Router::new().fallback(any(move |request: Request| {
            let state = state.clone();
            async move { handle(state, request).await }
        }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            seen,
            load,
        }
    }

    /// The most requests it was handling at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.load.peak.load(Ordering::SeqCst)
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("the record lock").clone()
    }

    /// Requests whose path contains `marker`.
    pub fn seen_with(&self, marker: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| seen.path.contains(marker))
            .collect()
    }
}

async fn handle(state: State, request: Request) -> Response {
    let _in_flight = InFlight::enter(state.load.clone());
    respond(&state, request).await
}

/// Counts a request as in flight until dropped (also when the client hangs up).
struct InFlight(Arc<Load>);

impl InFlight {
    fn enter(load: Arc<Load>) -> Self {
        let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
        load.peak.fetch_max(now, Ordering::SeqCst);
        Self(load)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn respond(state: &State, request: Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    state.seen.lock().expect("the record lock").push(Seen {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        target: target.clone(),
        headers: header_lines(request.headers()),
    });
    let query: Query<Vec<(String, String)>> =
        Query::try_from_uri(request.uri()).unwrap_or(Query(Vec::new()));
    let param = |name: &str| {
        query
            .0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match request.uri().path() {
        "/api/ok" => ok(state, request.headers()),
        "/api/redirect" => redirect(param("to").unwrap_or_default(), param("status")),
        "/api/slow" => {
            let ms = param("ms").and_then(|ms| ms.parse().ok()).unwrap_or(60_000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            "slow answer".into_response()
        }
        "/api/endless" => endless(),
        path => format!("reached {path}").into_response(),
    }
}

fn ok(state: &State, headers: &HeaderMap) -> Response {
    let Some(token) = &state.token else {
        return "fine".into_response();
    };
    let expected = format!("Bearer {token}");
    match headers.get(header::AUTHORIZATION) {
        Some(value) if value.as_bytes() == expected.as_bytes() => "fine".into_response(),
        _ => (StatusCode::UNAUTHORIZED, "no or wrong token").into_response(),
    }
}

fn redirect(to: String, status: Option<String>) -> Response {
    let status = status
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, to)]).into_response()
}

fn endless() -> Response {
    let chunk = Bytes::from(vec![b'x'; 64 << 10]);
    let body = stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
    Response::new(Body::from_stream(body))
}

fn header_lines(headers: &HeaderMap) -> Vec<String> {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect()
}
