//! What an instance is built from, read from disk in one go: the validated manifest, the
//! component's bytes, and a [`Fingerprint`] of both, by which a rescan tells an unchanged
//! instance (kept as it is, calls and all) from a changed one (loaded anew).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::FailureCause;
use crate::distribution::{self, DistributionError, DistributionSettings};
use crate::manifest::{ComponentSource, Manifest, ManifestError};

/// Why a manifest and its component cannot be read; the message leaves out the manifest's path
/// (reports show it separately) and says what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The manifest file cannot be read.
    #[error("cannot be read: {0}")]
    Unreadable(Arc<std::io::Error>),
    /// The manifest is invalid.
    #[error("{}", .0.message_without_path())]
    Manifest(ManifestError),
    /// The component file cannot be read.
    #[error("{}: cannot be read: {error}; check the `component` path and the file's permissions", path.display())]
    Component {
        /// The component file.
        path: PathBuf,
        /// Why.
        error: Arc<std::io::Error>,
    },
    /// The component file is not the one the manifest's `sha256` pins.
    #[error(
        "{}: is {actual}, but the manifest's `sha256` pins {expected}; put back the pinned component or pin the new one after checking it",
        path.display()
    )]
    Pinned {
        /// The component file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// The component cannot be pulled from its registry.
    #[error("{reference}: {error}")]
    Pull {
        /// The `oci://` reference.
        reference: String,
        /// Why.
        error: DistributionError,
    },
}

/// The sha256 of a manifest file, of the component it names and of the files its targets read
/// at load (kubeconfigs, CA bundles, client certificates). Two loads with equal fingerprints
/// would build the same instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    manifest: [u8; 32],
    component: [u8; 32],
    files: [u8; 32],
}

/// A manifest with its component's bytes, ready to load.
pub struct Source {
    /// The validated manifest.
    pub manifest: Manifest,
    /// The component's bytes.
    pub wasm: Vec<u8>,
    /// What the manifest and component hash to.
    pub fingerprint: Fingerprint,
}

/// What is read from the local disk: the manifest, and the component when it is a file.
struct Local {
    manifest: Manifest,
    manifest_digest: [u8; 32],
    wasm: Option<Vec<u8>>,
}

impl Source {
    /// Reads and validates the manifest at `path` (`max_memory` is the engine's ceiling) and reads
    /// the component it names: a file off the async runtime, or an `oci://` component from the
    /// cache or its registry.
    pub async fn read(
        path: &Path,
        max_memory: u64,
        distribution: &DistributionSettings,
    ) -> Result<Self, FailureCause> {
        let owned = path.to_path_buf();
        let local = tokio::task::spawn_blocking(move || Local::read(&owned, max_memory))
            .await
            .map_err(|error| FailureCause::ReadPanicked(error.to_string()))??;
        let wasm = match (local.wasm, &local.manifest.component) {
            (Some(wasm), _) => wasm,
            (None, ComponentSource::Oci(reference)) => {
                distribution::fetch(distribution, reference, &local.manifest.signature_keys)
                    .await
                    .map_err(|error| SourceError::Pull {
                        reference: reference.to_string(),
                        error,
                    })?
            }
            (None, ComponentSource::File { .. }) => unreachable!("a file component is read"),
        };
        let fingerprint = Fingerprint {
            manifest: local.manifest_digest,
            component: Sha256::digest(&wasm).into(),
            files: files_digest(&local.manifest.files),
        };
        Ok(Self {
            manifest: local.manifest,
            wasm,
            fingerprint,
        })
    }
}

impl Local {
    fn read(path: &Path, max_memory: u64) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| SourceError::Unreadable(Arc::new(error)))?;
        let manifest = Manifest::parse(path, &text, max_memory).map_err(SourceError::Manifest)?;
        let wasm = match &manifest.component {
            ComponentSource::File { path, sha256 } => Some(read_file(path, sha256.as_deref())?),
            ComponentSource::Oci(_) => None,
        };
        Ok(Self {
            manifest_digest: Sha256::digest(text.as_bytes()).into(),
            manifest,
            wasm,
        })
    }
}

/// A component file, checked against its pin if the manifest has one.
fn read_file(path: &Path, pinned: Option<&str>) -> Result<Vec<u8>, SourceError> {
    let wasm = std::fs::read(path).map_err(|error| SourceError::Component {
        path: path.to_path_buf(),
        error: Arc::new(error),
    })?;
    if let Some(expected) = pinned {
        let actual = distribution::sha256(&wasm);
        if actual != expected {
            return Err(SourceError::Pinned {
                path: path.to_path_buf(),
                expected: expected.to_owned(),
                actual,
            });
        }
    }
    Ok(wasm)
}

/// One digest of each file's path and contents (a file that cannot be read counts as absent;
/// loading the manifest already reported why).
fn files_digest(files: &[std::path::PathBuf]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for file in files {
        digest.update(file.as_os_str().as_encoded_bytes());
        digest.update([0]);
        match std::fs::read(file) {
            Ok(bytes) => digest.update(Sha256::digest(&bytes)),
            Err(_) => digest.update([0xff; 32]),
        }
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    fn read(path: &Path) -> Result<Source, FailureCause> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(Source::read(
            path,
            1 << 30,
            &DistributionSettings::default(),
        ))
    }

    fn fingerprint(dir: &Path) -> Fingerprint {
        read(&dir.join("p.toml")).unwrap().fingerprint
    }

    #[test]
    fn the_fingerprint_changes_with_the_manifest_or_the_component_only() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.wasm", b"\0asm one");
        write(dir.path(), "p.toml", b"component = \"p.wasm\"\n");
        let first = fingerprint(dir.path());
        assert_eq!(first, fingerprint(dir.path()));
        write(dir.path(), "p.wasm", b"\0asm two");
        let second = fingerprint(dir.path());
        assert_ne!(first, second);
        write(
            dir.path(),
            "p.toml",
            b"component = \"p.wasm\"\nprefix = \"q\"\n",
        );
        assert_ne!(second, fingerprint(dir.path()));
    }

    #[test]
    fn a_changed_ca_bundle_changes_the_fingerprint_a_token_file_does_not() {
        const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.wasm", b"\0asm");
        write(dir.path(), "ca.pem", PEM.as_bytes());
        write(dir.path(), "token", b"one");
        write(
            dir.path(),
            "p.toml",
            b"component = \"p.wasm\"\n[[targets]]\nname = \"api\"\nurl = \"https://api.test\"\n\
              auth = { bearer_file = \"token\" }\ntls = { ca_file = \"ca.pem\" }\n",
        );
        let first = fingerprint(dir.path());
        write(dir.path(), "token", b"two");
        assert_eq!(
            first,
            fingerprint(dir.path()),
            "token files are read per request"
        );
        write(dir.path(), "ca.pem", format!("{PEM}{PEM}").as_bytes());
        assert_ne!(first, fingerprint(dir.path()));
    }

    #[test]
    fn a_missing_component_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.toml", b"component = \"gone.wasm\"\n");
        let error = read(&dir.path().join("p.toml")).err().unwrap().to_string();
        assert!(error.contains("gone.wasm"), "{error}");
    }

    #[test]
    fn a_component_that_is_not_the_pinned_one_is_refused_naming_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.wasm", b"\0asm two");
        let pinned = distribution::sha256(b"\0asm one");
        let manifest = format!("component = \"p.wasm\"\nsha256 = \"{pinned}\"\n");
        write(dir.path(), "p.toml", manifest.as_bytes());
        let error = read(&dir.path().join("p.toml")).err().unwrap().to_string();
        let actual = distribution::sha256(b"\0asm two");
        assert!(
            error.contains(&pinned) && error.contains(&actual),
            "{error}"
        );
        write(dir.path(), "p.wasm", b"\0asm one");
        assert!(read(&dir.path().join("p.toml")).is_ok());
    }
}
