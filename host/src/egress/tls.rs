//! Per-target TLS: extra or exclusive trust anchors, a client certificate, and the explicit,
//! loudly logged choice to skip verification. Files are read at load time, so a missing or
//! malformed certificate is a load error, not a failed call.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A TLS setting that cannot be used; the message names the file or the part at fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read.
    #[error("cannot read the {what} {}: {error}", path.display())]
    Unreadable {
        /// Which setting the file belongs to.
        what: String,
        /// The file.
        path: PathBuf,
        /// Why.
        error: Arc<std::io::Error>,
    },
    /// A file that should be PEM is not.
    #[error("the {what} {} is not PEM (expected a -----BEGIN ...----- block)", path.display())]
    NotPem {
        /// Which setting the file belongs to.
        what: String,
        /// The file.
        path: PathBuf,
    },
    /// The CA certificates do not parse.
    #[error("the CA certificates do not parse: {0}")]
    Ca(Arc<reqwest::Error>),
    /// The client certificate and key do not parse.
    #[error("the client certificate and key do not parse: {0}")]
    Identity(Arc<reqwest::Error>),
}

/// How the host's TLS client treats one target.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificates to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Trust only `ca_pem`, not the system's roots (a Kubernetes cluster CA).
    pub ca_only: bool,
    /// PEM client certificate chain followed by its private key.
    pub identity_pem: Option<Vec<u8>>,
    /// Accept any server certificate. Dangerous; logged at every load.
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| pem.len()))
            .field("ca_only", &self.ca_only)
            .field(
                "identity_pem",
                &self.identity_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

impl TlsSettings {
    /// True when nothing differs from the defaults (system roots, no client certificate).
    pub fn is_default(&self) -> bool {
        self == &TlsSettings::default()
    }

    /// Reads a PEM file, saying which setting it belongs to when that fails.
    pub fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
        let pem = std::fs::read(path).map_err(|error| TlsError::Unreadable {
            what: what.to_owned(),
            path: path.to_path_buf(),
            error: Arc::new(error),
        })?;
        if !pem.windows(11).any(|window| window == b"-----BEGIN ") {
            return Err(TlsError::NotPem {
                what: what.to_owned(),
                path: path.to_path_buf(),
            });
        }
        Ok(pem)
    }

    /// Applies these settings to a client under construction.
    pub fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, TlsError> {
        if let Some(pem) = &self.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|error| TlsError::Ca(Arc::new(error)))?;
            builder = if self.ca_only {
                builder.tls_certs_only(certificates)
            } else {
                builder.tls_certs_merge(certificates)
            };
        }
        if let Some(pem) = &self.identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|error| TlsError::Identity(Arc::new(error)))?;
            builder = builder.identity(identity);
        }
        if self.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }
}
