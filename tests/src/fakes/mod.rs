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

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The vendored contracts are byte-for-byte the project's shared copies (when those are
    /// next to the repository, as in CI).
    #[test]
    fn contracts_match_shared_copies() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fakes/contracts");
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts");
        if !shared.is_dir() {
            eprintln!("skipped: {} is not there", shared.display());
            return;
        }
        let pairs = [
            ("argocd-swagger.json", "argocd/swagger.json"),
            ("argoproj.io_rollouts.yaml", "rollouts/rollout-crd.yaml"),
            (
                "kustomize.toolkit.fluxcd.io_kustomizations.yaml",
                "flux/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
            ),
            (
                "helm.toolkit.fluxcd.io_helmreleases.yaml",
                "flux/helm.toolkit.fluxcd.io_helmreleases.yaml",
            ),
            (
                "source.toolkit.fluxcd.io_gitrepositories.yaml",
                "flux/source.toolkit.fluxcd.io_gitrepositories.yaml",
            ),
            (
                "source.toolkit.fluxcd.io_helmrepositories.yaml",
                "flux/source.toolkit.fluxcd.io_helmrepositories.yaml",
            ),
        ];
        for (vendored, original) in pairs {
            let vendored_bytes = std::fs::read(here.join(vendored)).unwrap();
            let original_bytes = std::fs::read(shared.join(original)).unwrap();
            assert!(
                vendored_bytes == original_bytes,
                "tests/src/fakes/contracts/{vendored} differs from shared/contracts/{original}; copy it again"
            );
        }
    }

    /// An HTTP client for the fakes' own tests.
    pub(crate) fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }
}
