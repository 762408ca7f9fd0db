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

    /// Contracts vendored straight from their upstream repository (no `shared/contracts` copy),
    /// each with where it came from; `contracts/README.md` names the release.
    const FROM_UPSTREAM: &[(&str, &str)] = &[
        (
            "external-secrets.io_externalsecrets.yaml",
            "external-secrets/external-secrets config/crds/bases/external-secrets.io_externalsecrets.yaml",
        ),
        (
            "external-secrets.io_secretstores.yaml",
            "external-secrets/external-secrets config/crds/bases/external-secrets.io_secretstores.yaml",
        ),
        (
            "external-secrets.io_clustersecretstores.yaml",
            "external-secrets/external-secrets config/crds/bases/external-secrets.io_clustersecretstores.yaml",
        ),
    ];

    /// The folder of the vendored copies.
    fn vendored_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fakes/contracts")
    }

    /// How to regenerate `SHA256SUMS` after copying the contracts again.
    const REGENERATE: &str = "cd tests/src/fakes/contracts && sha256sum *.json *.yaml > SHA256SUMS";

    /// The sums in `fakes/contracts/SHA256SUMS` (`sha256sum` format), by file name.
    fn recorded_sums() -> std::collections::BTreeMap<String, String> {
        let path = vendored_dir().join("SHA256SUMS");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (sum, name) = line.split_once(' ').unwrap_or_else(|| {
                    panic!(
                        "SHA256SUMS line {line:?} is not `<sha256>  <file>`; regenerate the \
                         file: `{REGENERATE}`"
                    )
                });
                let name = name.trim_start_matches(' ').trim_start_matches('*');
                (name.to_owned(), sum.to_ascii_lowercase())
            })
            .collect()
    }

    /// The hex SHA-256 of a file's bytes.
    fn sha256_hex(path: &std::path::Path) -> String {
        use sha2::Digest as _;
        let bytes = std::fs::read(path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// `SHA256SUMS` lists exactly the vendored contracts, and each copy in `fakes/contracts/`
    /// still hashes to its recorded sum (runs on every clone, shared folder or not).
    #[test]
    fn vendored_contracts_match_recorded_sums() {
        let sums = recorded_sums();
        let listed: std::collections::BTreeSet<&str> = sums.keys().map(String::as_str).collect();
        let vendored: std::collections::BTreeSet<&str> = VENDORED
            .iter()
            .chain(FROM_UPSTREAM)
            .map(|(copy, _)| *copy)
            .collect();
        assert_eq!(
            listed, vendored,
            "fakes/contracts/SHA256SUMS does not list exactly the vendored contracts (VENDORED \
             in fakes/mod.rs); regenerate it: `{REGENERATE}`"
        );
        for (copy, origin) in VENDORED {
            let actual = sha256_hex(&vendored_dir().join(copy));
            assert_eq!(
                actual, sums[*copy],
                "fakes/contracts/{copy} does not match its sum in fakes/contracts/SHA256SUMS. \
                 Contracts are byte-for-byte copies of the project's shared/contracts: copy it \
                 again (`cp ../shared/contracts/{origin} tests/src/fakes/contracts/{copy}`, from \
                 the repository root), then regenerate the sums: `{REGENERATE}`"
            );
        }
        for (copy, origin) in FROM_UPSTREAM {
            let actual = sha256_hex(&vendored_dir().join(copy));
            assert_eq!(
                actual, sums[*copy],
                "fakes/contracts/{copy} does not match its sum in fakes/contracts/SHA256SUMS. \
                 It is a byte-for-byte copy of {origin} at the release contracts/README.md \
                 names: copy it again from there, then regenerate the sums: `{REGENERATE}`"
            );
        }
    }

    /// The project's originals in `../shared/contracts` hash to the recorded sums, so the
    /// vendored copies have not drifted from the source of truth (checked where that folder is
    /// next to the repository; the sums themselves are checked on every clone above).
    #[test]
    fn contracts_match_shared_copies() {
        let shared = crate::paths::repo_root().join("../shared/contracts");
        if !shared.is_dir() {
            return;
        }
        let sums = recorded_sums();
        for (copy, origin) in VENDORED {
            let actual = sha256_hex(&shared.join(origin));
            assert!(
                sums.get(*copy) == Some(&actual),
                "shared/contracts/{origin} changed: fakes/contracts/{copy} and its sum in \
                 fakes/contracts/SHA256SUMS drifted from it. Copy it again \
                 (`cp ../shared/contracts/{origin} tests/src/fakes/contracts/{copy}`, from the \
                 repository root), then regenerate the sums: `{REGENERATE}`"
            );
        }
    }

    /// An HTTP client for the fakes' own tests.
    pub(crate) fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }
}
