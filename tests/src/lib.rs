//! Test support for capstan's end-to-end tests and benchmarks: start real `capstan` processes
//! on loopback with real compiled plugins, connect real MCP clients to them, and run fake
//! upstream APIs that validate requests against the real API contracts.
//!
//! - [`capstan`]: a running `capstan serve` process and the plugin folder it serves.
//! - [`client`]: an rmcp MCP client that records the notifications it receives.
//! - [`fakes`]: fake Argo CD and Kubernetes API servers.
//! - [`haproxy`]: HAProxy with capstan's shipped configuration, in front of replicas.
//! - [`oidc`]: a real OpenID provider (oidc-provider on Node) and real OAuth client flows.
//! - [`paths`]: where the built binary, plugins and shared caches are.
//! - [`pki`]: a throwaway test CA for HTTPS upstreams and mutual TLS.
//! - [`registry`]: an OCI registry (CNCF distribution) on loopback, for plugins pulled by digest.
//! - [`upstream`]: a recording HTTP or HTTPS upstream for tests of the egress gate.
//! - [`wasm`]: distinct versions of a compiled plugin, for reload tests.

pub mod capstan;
pub mod client;
pub mod fakes;
pub mod haproxy;
pub mod oidc;
pub mod paths;
pub mod pki;
pub mod registry;
pub mod upstream;
pub mod wasm;

/// Installs rustls' ring provider once; reqwest (built without a default provider, like the
/// host) needs one before any client exists.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A plain HTTP client for tests that speak raw HTTP to capstan or the fakes.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}
