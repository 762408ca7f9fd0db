//! What every fake shares: the handle of a running fake, the journal of the requests it received
//! and of the contract violations among them, and the small URL helpers (base path, segments,
//! query pairs) both fakes parse requests with.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::Request;
use axum::serve::ListenerExt as _;
use percent_encoding::percent_decode_str;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bodies larger than this are cut when recorded; the fakes never need more.
const MAX_RECORDED_BODY: usize = 16 * 1024 * 1024;

/// One request a fake received, as it arrived on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path as sent (still percent-encoded), including any base path prefix.
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: Option<String>,
    /// Every header in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The media type of the body, without parameters: `application/merge-patch+json`.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
            .map(|value| value.split(';').next().unwrap_or_default().trim())
    }

    /// The body parsed as JSON (`Value::Null` when it is empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// The query parameters, percent-decoded, in order (repeated names appear repeatedly).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(self.query.as_deref())
    }

    /// Every value of the query parameter `name`, decoded.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        self.query_pairs()
            .into_iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .collect()
    }

    /// The path and query as sent: `/api/v1/applications?projects=a`.
    pub fn target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    /// Reads a request's parts and body into a record.
    pub(crate) async fn read(request: Request) -> Self {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_RECORDED_BODY)
            .await
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body,
        }
    }
}

/// A request that broke the upstream's API contract: a path or query parameter the real API
/// does not declare, a request outside the base path, a dot segment, and the like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending request.
    pub request: RecordedRequest,
    /// What was wrong with it.
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.request.method,
            self.request.target(),
            self.reason
        )
    }
}

/// Every request a fake received and every contract violation among them.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    requests: Mutex<Vec<RecordedRequest>>,
    violations: Mutex<Vec<Violation>>,
}

impl Journal {
    /// Records a received request.
    pub(crate) fn record(&self, request: &RecordedRequest) {
        lock(&self.requests).push(request.clone());
    }

    /// Records that `request` broke the contract because of `reason`.
    pub(crate) fn violation(&self, request: &RecordedRequest, reason: &str) {
        lock(&self.violations).push(Violation {
            request: request.clone(),
            reason: reason.to_owned(),
        });
    }
}

/// A poisoned journal only means a test thread panicked; the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fake upstream serving on a loopback address. Dropping it stops the server gracefully (in
/// the background); [`FakeServer::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct FakeServer {
    name: &'static str,
    addr: SocketAddr,
    base_path: String,
    journal: Arc<Journal>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Binds `addr` (which must be loopback) and serves `router` on it.
    pub(crate) async fn spawn(
        name: &'static str,
        addr: SocketAddr,
        base_path: &str,
        router: Router,
        journal: Arc<Journal>,
    ) -> Result<Self> {
        ensure_loopback(addr)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind the fake {name} to {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // As Go's net/http (the real API servers) does: no Nagle delay on small writes.
            let listener = listener.tap_io(|connection| {
                let _ = connection.set_nodelay(true);
            });
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!("the fake {name} stopped with an error: {error}");
            }
        });
        Ok(Self {
            name,
            addr,
            base_path: base_path.to_owned(),
            journal,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The socket address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a client uses as the API's base: `http://127.0.0.1:<port>` plus the base path,
    /// without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.base_path)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.journal.requests).clone()
    }

    /// Every contract violation so far, oldest first.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.journal.violations).clone()
    }

    /// Panics, listing them, if any request broke the contract.
    #[track_caller]
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "the fake {} saw {} contract violation(s):\n  {}",
                self.name,
                list.len(),
                list.join("\n  ")
            );
        }
    }

    /// Forgets the requests and violations recorded so far.
    pub fn clear_journal(&self) {
        lock(&self.journal.requests).clear();
        lock(&self.journal.violations).clear();
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Refuses any address that is not loopback: the fakes are for this machine only.
pub(crate) fn ensure_loopback(addr: SocketAddr) -> Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address; the fakes only listen on 127.0.0.0/8 or [::1]");
    }
    Ok(())
}

/// `""` or a path like `/argocd` (leading slash, no trailing slash, no query or fragment).
pub(crate) fn normalize_base_path(path: &str) -> Result<String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') || trimmed.contains(['?', '#']) {
        bail!("base path `{path}` must look like `/argocd`: a leading slash and no query");
    }
    Ok(trimmed.to_owned())
}

/// The rest of `path` under `base` (which `normalize_base_path` produced), or `None` when the
/// path is outside it.
pub(crate) fn strip_base_path<'a>(base: &str, path: &'a str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(if rest.is_empty() { "/" } else { rest })
}

/// The raw (still encoded) segments of an absolute path: `/a/b%2Fc` → `["a", "b%2Fc"]`.
/// `/` alone has no segments; a trailing slash yields a final empty segment.
pub(crate) fn raw_segments(path: &str) -> Vec<&str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    }
}

/// Why a path cannot be taken apart safely: an empty or dot segment, or bad percent-encoding.
pub(crate) fn check_segments(segments: &[&str]) -> Result<(), String> {
    for segment in segments {
        if segment.is_empty() {
            return Err("the path has an empty segment (`//` or a trailing `/`)".into());
        }
        let decoded = decode_segment(segment)?;
        if decoded == "." || decoded == ".." {
            return Err(format!(
                "the path has a dot segment `{segment}`; a client must never send `.` or `..` as a name"
            ));
        }
    }
    Ok(())
}

/// A path segment, percent-decoded as UTF-8.
pub(crate) fn decode_segment(segment: &str) -> Result<String, String> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("the path segment `{segment}` is not percent-encoded UTF-8"))
}

/// A query string's pairs, decoded the way Go's `url.ParseQuery` does (`+` is a space).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalized_and_stripped() {
        assert_eq!(normalize_base_path("/argocd/").unwrap(), "/argocd");
        assert_eq!(normalize_base_path("").unwrap(), "");
        assert!(normalize_base_path("argocd").is_err());
        assert_eq!(
            strip_base_path("/argocd", "/argocd/api/version"),
            Some("/api/version")
        );
        assert_eq!(strip_base_path("/argocd", "/argocd"), Some("/"));
        assert_eq!(strip_base_path("/argocd", "/argocdx/api"), None);
        assert_eq!(strip_base_path("", "/api"), Some("/api"));
    }

    #[test]
    fn dot_and_empty_segments_are_refused() {
        assert!(check_segments(&raw_segments("/api/v1/applications/..")).is_err());
        assert!(check_segments(&raw_segments("/api/v1/applications/%2E%2E")).is_err());
        assert!(check_segments(&raw_segments("/api/v1/applications/")).is_err());
        assert!(check_segments(&raw_segments("/api/v1/applications/a%2Fb")).is_ok());
    }

    #[test]
    fn non_loopback_addresses_are_refused() {
        assert!(ensure_loopback("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(ensure_loopback("[::1]:0".parse().unwrap()).is_ok());
        assert!(ensure_loopback("0.0.0.0:0".parse().unwrap()).is_err());
        assert!(ensure_loopback("10.0.0.1:80".parse().unwrap()).is_err());
    }
}
