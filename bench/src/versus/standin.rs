//! The upstream stand-in: a minimal HTTP/1.1 server on loopback, with keep-alive, that answers
//! each Argo CD request with the bytes the fake Argo CD answered the same request with (same
//! method, path and query, and body), recorded once before the measurements. It checks nothing
//! and keeps no state, so the servers under test are not held back by the fake's contract checks
//! and bookkeeping: it is the upstream as fast as loopback allows.
//!
//! A request it has not seen is sent on to the fake, and the answer recorded and counted as a
//! miss (the comparison primes every request its workloads make, then reports misses during the
//! measurements). `/mcp` answers every request with one canned MCP result and a session id: the
//! load generator's own ceiling, with no server work behind it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

use super::http1::Connection;

/// The prefix of the stand-in's thread names, for its CPU time.
pub const THREAD_NAME: &str = "standin";

/// The canned answer of `/mcp`: an initialize result, which is also a result for any other call.
const CANNED_MCP: &str = r#"{"jsonrpc":"2.0","id":"0000000000","result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"canned","version":"0"}}}"#;

/// A running stand-in; stopped when dropped.
pub struct StandIn {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

struct Shared {
    /// Whole answers (head and body) by request: method, space, target, newline, body.
    answers: RwLock<HashMap<Vec<u8>, Arc<[u8]>>>,
    canned_mcp: Arc<[u8]>,
    upstream: Upstream,
    misses: AtomicUsize,
}

/// Where unseen requests go.
struct Upstream {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl StandIn {
    /// Starts in front of the Argo CD API at `upstream` (which wants `token`), on its own
    /// threads so serving never waits for the load generator or the other way round.
    pub fn start(upstream: &str, token: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()?;
        // Bound here, served on the stand-in's runtime (this may run inside another runtime).
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            answers: RwLock::default(),
            canned_mcp: canned_mcp().into(),
            upstream: Upstream {
                http: capstan_tests::http_client(),
                base: upstream.trim_end_matches('/').to_owned(),
                token: token.to_owned(),
            },
            misses: AtomicUsize::new(0),
        });
        runtime.spawn(accept(listener, shared.clone()));
        Ok(Self {
            address,
            shared,
            runtime: Some(runtime),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The base URL to point an Argo CD client at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Records the fake's answer to `method` `target` with `body` ahead of use.
    pub async fn record(&self, method: &str, target: &str, body: &[u8]) -> anyhow::Result<()> {
        let key = key(method.as_bytes(), target.as_bytes(), body);
        let shared = self.shared.clone();
        let runtime = self.runtime.as_ref().context("the stand-in stopped")?;
        runtime
            .spawn(async move { shared.fetch(key).await })
            .await??;
        Ok(())
    }

    /// Requests sent on to the fake since the last [`StandIn::reset_misses`].
    pub fn misses(&self) -> usize {
        self.shared.misses.load(Ordering::Relaxed)
    }

    /// Starts counting misses from zero.
    pub fn reset_misses(&self) {
        self.shared.misses.store(0, Ordering::Relaxed);
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(Connection::over(stream), shared.clone()));
    }
}

/// Answers requests on one connection until the client closes it.
async fn serve(mut connection: Connection, shared: Arc<Shared>) {
    let mut key = Vec::new();
    loop {
        let (answer, closes) = match connection.receive().await {
            Ok(Some(request)) => {
                let Some((method, target)) = request.method_and_target() else {
                    return;
                };
                let answer = if target.starts_with(b"/mcp") {
                    Some(shared.canned_mcp.clone())
                } else {
                    write_key(&mut key, method, target, request.body);
                    shared.recorded(&key)
                };
                (answer, request.closes())
            }
            _ => return,
        };
        let answer = match answer {
            Some(answer) => answer,
            None => {
                shared.misses.fetch_add(1, Ordering::Relaxed);
                match shared.fetch(key.clone()).await {
                    Ok(answer) => answer,
                    Err(_) => BAD_GATEWAY.as_bytes().into(),
                }
            }
        };
        if connection.send(&answer).await.is_err() || closes {
            return;
        }
    }
}

const BAD_GATEWAY: &str = "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n";

impl Shared {
    fn recorded(&self, key: &[u8]) -> Option<Arc<[u8]>> {
        let answers = self.answers.read().unwrap_or_else(|e| e.into_inner());
        answers.get(key).cloned()
    }

    /// Sends the request `key` stands for to the fake and records the answer.
    async fn fetch(&self, key: Vec<u8>) -> anyhow::Result<Arc<[u8]>> {
        let (method, target, body) = split_key(&key).context("a malformed request key")?;
        let mut request = self
            .upstream
            .http
            .request(
                reqwest::Method::from_bytes(method)?,
                format!("{}{}", self.upstream.base, std::str::from_utf8(target)?),
            )
            .bearer_auth(&self.upstream.token);
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body.to_vec());
        }
        let response = request.send().await?;
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let body = response.bytes().await?;
        let answer: Arc<[u8]> = render_answer(status, &kind, &[], &body).into();
        let mut answers = self.answers.write().unwrap_or_else(|e| e.into_inner());
        answers.insert(key, answer.clone());
        Ok(answer)
    }
}

fn key(method: &[u8], target: &[u8], body: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(method.len() + target.len() + body.len() + 2);
    write_key(&mut key, method, target, body);
    key
}

/// Replaces `key`'s bytes with the key of `method` `target` with `body`.
fn write_key(key: &mut Vec<u8>, method: &[u8], target: &[u8], body: &[u8]) {
    key.clear();
    key.extend_from_slice(method);
    key.push(b' ');
    key.extend_from_slice(target);
    key.push(b'\n');
    key.extend_from_slice(body);
}

fn split_key(key: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let space = key.iter().position(|&b| b == b' ')?;
    let newline = space + key[space..].iter().position(|&b| b == b'\n')?;
    Some((&key[..space], &key[space + 1..newline], &key[newline + 1..]))
}

fn canned_mcp() -> Vec<u8> {
    render_answer(
        http::StatusCode::OK,
        "application/json",
        &[("mcp-session-id", "canned")],
        CANNED_MCP.as_bytes(),
    )
}

/// A whole answer: status line, content type, extra headers, length and body.
fn render_answer(
    status: http::StatusCode,
    kind: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Unknown"),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let key = key(b"POST", b"/api/v1/applications/a/sync?x=1", b"{\"a\":\n1}");
        let (method, target, body) = split_key(&key).unwrap();
        assert_eq!(method, b"POST");
        assert_eq!(target, b"/api/v1/applications/a/sync?x=1");
        assert_eq!(body, b"{\"a\":\n1}");
    }
}
