//! A scriptable upstream on a loopback address that records every request it receives, for
//! tests of the egress gate: what reached it, over which scheme, with which headers.
//!
//! 1. Start one with [`Upstream::http`], [`Upstream::https`] or [`Upstream::builder`] (another
//!    loopback address, a token for `/api/ok`, redirects, TLS or mutual TLS with a
//!    [`Pki`]).
//! 2. Point capstan at [`Upstream::url`] (or a name pinned to [`Upstream::address`]).
//! 3. Read what arrived with [`Upstream::seen`], [`Upstream::only_request`] and
//!    [`Seen::values`]; [`Upstream::peak_concurrency`] says how many requests overlapped.
//!
//! Routes (any method):
//! - a path given to [`Builder::redirect`]: `302` to its location;
//! - `/api/ok`: 200 `fine` when the `Authorization` header is `Bearer <token>` (if a token is
//!   set), else 401;
//! - `/api/redirect?to=<url>&status=<code>`: a redirect to `to` (default status 302);
//! - `/api/slow?ms=<n>`: answers after `n` milliseconds (default 60 s);
//! - `/api/endless`: a body that never ends;
//! - anything else: 200 `reached <path>`.
//!
//! A TLS upstream also answers plain HTTP on the same port, recorded with scheme `http`, so a
//! request that should have been encrypted shows up instead of dying in a failed handshake.

use std::collections::HashMap;
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
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::pki::Pki;

/// One request an upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `https` when it came over TLS, else `http`.
    pub scheme: &'static str,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Path and query.
    pub target: String,
    /// Every header, as received.
    pub headers: HeaderMap,
}

impl Seen {
    /// Every value of header `name`, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect()
    }

    /// Whether any header value contains `text`.
    pub fn mentions(&self, text: &str) -> bool {
        self.headers
            .values()
            .any(|value| String::from_utf8_lossy(value.as_bytes()).contains(text))
    }
}

/// A running upstream; it serves until the test's runtime ends.
#[derive(Clone)]
pub struct Upstream {
    url: String,
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    load: Arc<Load>,
}

/// How to start an [`Upstream`]: plain HTTP on 127.0.0.1, no token, no redirects, unless
/// told otherwise.
#[must_use = "an upstream starts only with `start`"]
pub struct Builder {
    ip: String,
    token: Option<String>,
    redirects: HashMap<String, String>,
    tls: Option<rustls::ServerConfig>,
}

impl Builder {
    /// Listens on `ip`, a loopback address.
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip.to_owned();
        self
    }

    /// Makes `/api/ok` require `Bearer <token>`.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Answers `path` with `302` to `location`.
    pub fn redirect(mut self, path: &str, location: impl Into<String>) -> Self {
        self.redirects.insert(path.to_owned(), location.into());
        self
    }

    /// Serves HTTPS with `pki`'s server certificate.
    pub fn tls(mut self, pki: &Pki) -> Self {
        self.tls = Some(pki.server_config(false));
        self
    }

    /// Serves HTTPS with `pki`'s server certificate and completes only handshakes that show a
    /// client certificate `pki`'s CA signed.
    pub fn mutual_tls(mut self, pki: &Pki) -> Self {
        self.tls = Some(pki.server_config(true));
        self
    }

    /// Binds a free port and starts serving.
    pub async fn start(self) -> Upstream {
        let listener = TcpListener::bind((self.ip.as_str(), 0))
            .await
            .unwrap_or_else(|error| panic!("binding {}: {error}", self.ip));
        let address = listener.local_addr().expect("a bound address");
        let state = State {
            seen: Arc::default(),
            token: self.token,
            redirects: Arc::new(self.redirects),
            load: Arc::default(),
            scheme: "http",
        };
        let (seen, load) = (state.seen.clone(), state.load.clone());
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let tls = self.tls.map(|config| {
            let secure = router(State {
                scheme: "https",
                ..state.clone()
            });
            (TlsAcceptor::from(Arc::new(config)), secure)
        });
        tokio::spawn(serve(listener, router(state), tls));
        Upstream {
            url: format!("{scheme}://{address}"),
            address,
            seen,
            load,
        }
    }
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
    redirects: Arc<HashMap<String, String>>,
    load: Arc<Load>,
    scheme: &'static str,
}

impl Upstream {
    /// Starts configuring an upstream.
    pub fn builder() -> Builder {
        Builder {
            ip: "127.0.0.1".to_owned(),
            token: None,
            redirects: HashMap::new(),
            tls: None,
        }
    }

    /// A plain HTTP upstream on 127.0.0.1.
    pub async fn http() -> Self {
        Self::builder().start().await
    }

    /// An HTTPS upstream on 127.0.0.1 presenting `pki`'s server certificate.
    pub async fn https(pki: &Pki) -> Self {
        Self::builder().tls(pki).start().await
    }

    /// `http[s]://<ip>:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The most requests it was handling at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.load.peak.load(Ordering::SeqCst)
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

    /// The one request received so far; panics unless there is exactly one.
    pub fn only_request(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "expected exactly one request: {seen:#?}");
        seen.into_iter().next().expect("one request")
    }
}

fn router(state: State) -> Router {
    Router::new().fallback(any(move |request: Request| {
        let state = state.clone();
        async move { handle(state, request).await }
    }))
}

/// Accepts connections until the runtime ends, one task each. With `tls`, a connection that
/// opens with a TLS handshake record goes to the TLS side (a failed handshake ends it); any
/// other goes to `plain`.
async fn serve(listener: TcpListener, plain: Router, tls: Option<(TlsAcceptor, Router)>) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // Out of file descriptors, say: let connections drain, then go on.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let plain = plain.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let opens_tls = tls.is_some() && opens_tls(&tcp).await;
            match tls {
                Some((acceptor, secure)) if opens_tls => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        serve_connection(stream, secure).await;
                    }
                }
                _ => serve_connection(tcp, plain).await,
            }
        });
    }
}

/// Whether the client's first byte starts a TLS handshake record (RFC 8446, section 5.1).
async fn opens_tls(tcp: &TcpStream) -> bool {
    const HANDSHAKE: u8 = 0x16;
    let mut first = [0u8; 1];
    matches!(tcp.peek(&mut first).await, Ok(1) if first[0] == HANDSHAKE)
}

async fn serve_connection(io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static, app: Router) {
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
        .await;
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
    let path = request.uri().path().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    state.seen.lock().expect("the record lock").push(Seen {
        scheme: state.scheme,
        method: request.method().to_string(),
        path: path.clone(),
        target,
        headers: request.headers().clone(),
    });
    if let Some(location) = state.redirects.get(&path) {
        return (StatusCode::FOUND, [(header::LOCATION, location.clone())]).into_response();
    }
    let query: Query<Vec<(String, String)>> =
        Query::try_from_uri(request.uri()).unwrap_or(Query(Vec::new()));
    let param = |name: &str| {
        query
            .0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    match path.as_str() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tls_upstream_records_plain_http_on_its_port_as_http() {
        let pki = Pki::new();
        let upstream = Upstream::https(&pki).await;
        let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).expect("the test CA");
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .expect("a client");
        let secure = format!("{}/api/ok", upstream.url());
        let plain = format!("http://{}/api/never", upstream.address());

        let over_tls = client.get(&secure).send().await.expect("an HTTPS request");
        let in_clear = client.get(&plain).send().await.expect("a plain request");

        assert_eq!(over_tls.status(), StatusCode::OK);
        assert_eq!(in_clear.status(), StatusCode::OK);
        let seen: Vec<_> = upstream
            .seen()
            .iter()
            .map(|seen| (seen.scheme, seen.path.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                ("https", "/api/ok".to_owned()),
                ("http", "/api/never".to_owned())
            ]
        );
    }
}
