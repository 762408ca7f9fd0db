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
    /// Each vendored contract and the project copy it came from (`shared/contracts/…`).
    const VENDORED: &[(&str, &str)] = &[
        ("argocd-swagger.json", "argocd/swagger.json"),
        ("argoproj.io_rollouts.yaml", "rollouts/rollout-crd.yaml"),
        (
            "argoproj.io_analysisruns.yaml",
            "rollouts/analysis-run-crd.yaml",
        ),
        (
            "argoproj.io_analysistemplates.yaml",
            "rollouts/analysis-template-crd.yaml",
        ),
        (
            "argoproj.io_clusteranalysistemplates.yaml",
            "rollouts/cluster-analysis-template-crd.yaml",
        ),
        (
            "argoproj.io_experiments.yaml",
            "rollouts/experiment-crd.yaml",
        ),
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
        (
            "source.toolkit.fluxcd.io_helmcharts.yaml",
            "flux/source.toolkit.fluxcd.io_helmcharts.yaml",
        ),
        (
            "source.toolkit.fluxcd.io_ocirepositories.yaml",
            "flux/source.toolkit.fluxcd.io_ocirepositories.yaml",
        ),
        (
            "source.toolkit.fluxcd.io_buckets.yaml",
            "flux/source.toolkit.fluxcd.io_buckets.yaml",
        ),
    ];

    /// The copies in `fakes/contracts/` are byte-for-byte those of the project's
    /// `shared/contracts/` (skipped when that folder is not next to the repository).
    #[test]
    fn contracts_match_shared_copies() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fakes/contracts");
        let shared = crate::paths::repo_root().join("../shared/contracts");
        if !shared.is_dir() {
            return;
        }
        for (copy, origin) in VENDORED {
            let copy_bytes = std::fs::read(here.join(copy)).unwrap();
            let origin_bytes = std::fs::read(shared.join(origin)).unwrap();
            assert!(
                copy_bytes == origin_bytes,
                "fakes/contracts/{copy} drifted from shared/contracts/{origin}; copy it again"
            );
        }
    }

    /// An HTTP client for the fakes' own tests.
    pub(crate) fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }
}
