//! Fake upstreams for end-to-end tests and demo mode: an Argo CD API server ([`argocd`]) and a
//! Kubernetes API server ([`kube`]) that hold their data in memory, listen on loopback only,
//! record every request, and hold every request to the real API's contract (vendored in
//! `fakes/contracts/`), so a test can assert that a plugin only sent requests the real server
//! would accept.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use capstan_tests::fakes::{argocd, demo};
//!
//! let server = argocd::start(demo::argocd().with_base_path("/argocd")).await?;
//! // … point a plugin target at server.base_url() and call its tools …
//! assert!(server.requests().iter().all(|request| request.method == "GET"));
//! server.assert_no_violations();
//! # Ok(())
//! # }
//! ```

pub mod argocd;
pub mod demo;
mod ids;
pub mod kube;
mod selector;
mod server;

pub use server::{FakeServer, RecordedRequest, Violation};

/// Checks `value` against a contract's schema; the error lists the first few problems with
/// their JSON pointers.
pub(crate) fn check_schema(
    validator: &jsonschema::Validator,
    value: &serde_json::Value,
) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(5)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    /// An HTTP client for the fakes' own tests.
    pub(crate) fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }
}
