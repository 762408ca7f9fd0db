//! The `Host` allowlist for the routes rmcp does not guard (`/readyz`, `/metrics`): the same
//! names `/mcp` accepts (loopback, plus `--allowed-host`), so a page on another site that
//! rebinds its DNS name to capstan's address cannot read them either. A `Host` that is an IP
//! address is admitted too: rebinding needs a name, and the kubelet's probes and Prometheus'
//! scrapes address a pod by its IP.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Accepted `Host` values: a name (any port) or `name:port`.
#[derive(Debug, Clone)]
pub struct HostAllowlist(Arc<Vec<(String, Option<u16>)>>);

impl HostAllowlist {
    /// The list from `allowed` entries (`name` or `name:port`, IPv6 in brackets).
    pub fn new<'a>(allowed: impl IntoIterator<Item = &'a str>) -> Self {
        Self(Arc::new(allowed.into_iter().filter_map(parse).collect()))
    }

    /// Whether a request with this `Host` header may be served.
    pub fn admits(&self, host: Option<&str>) -> bool {
        let Some((name, port)) = host.and_then(parse) else {
            return false;
        };
        if name.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        self.0.iter().any(|(allowed, allowed_port)| {
            *allowed == name && allowed_port.is_none_or(|p| Some(p) == port)
        })
    }
}

/// `name` or `name:port`, the name lower-cased and without IPv6 brackets.
fn parse(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    if authority.is_empty() {
        return None;
    }
    let (name, port) = match authority.parse::<http::uri::Authority>() {
        Ok(parsed) => (parsed.host().to_owned(), parsed.port_u16()),
        Err(_) => (authority.to_owned(), None),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    Some((name.to_ascii_lowercase(), port))
}

/// Refuses a request whose `Host` is not on the list with 403, as rmcp does on `/mcp`.
pub async fn check_host(
    State(allowed): State<HostAllowlist>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if allowed.admits(host) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        "Forbidden: Host header is not allowed; add it with --allowed-host\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_and_configured_names_pass_other_names_do_not() {
        let list = HostAllowlist::new(["localhost", "127.0.0.1", "::1", "mcp.example.com:443"]);
        for ok in [
            "localhost",
            "LOCALHOST:8931",
            "127.0.0.1:1",
            "[::1]:8931",
            "mcp.example.com:443",
            "10.244.3.17:8931",
            "[fd00::17]:8931",
        ] {
            assert!(list.admits(Some(ok)), "{ok}");
        }
        for refused in [
            "evil.test",
            "evil.test:8931",
            "mcp.example.com:80",
            "localhost.evil.test",
            "",
        ] {
            assert!(!list.admits(Some(refused)), "{refused}");
        }
        assert!(!list.admits(None));
    }
}
