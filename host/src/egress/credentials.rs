//! Credentials the host adds to requests for a target; plugins never see them.

use std::path::PathBuf;

use http::{HeaderName, HeaderValue};

/// Where a target's credential comes from. Values are read when a request is sent, so a
/// rotated token file or changed environment takes effect without a reload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <value of the environment variable>`.
    BearerEnv(String),
    /// `Authorization: Bearer <contents of the file, trimmed>`.
    BearerFile(PathBuf),
    /// A header whose value comes from an environment variable.
    HeaderEnv(HeaderName, String),
    /// A header whose value comes from a file.
    HeaderFile(HeaderName, PathBuf),
}

/// A credential could not be read; the message names the source, never a value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(String);

impl Credentials {
    /// The header this credential sets and its current value, or `None` for no credentials.
    pub fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, CredentialError> {
        let (name, value) = match self {
            Credentials::None => return Ok(None),
            Credentials::BearerEnv(var) => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", from_env(var)?),
            ),
            Credentials::BearerFile(path) => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", from_file(path)?),
            ),
            Credentials::HeaderEnv(name, var) => (name.clone(), from_env(var)?),
            Credentials::HeaderFile(name, path) => (name.clone(), from_file(path)?),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            CredentialError(format!(
                "the credential for header `{name}` contains characters not allowed in a header"
            ))
        })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }
}

fn from_env(var: &str) -> Result<String, CredentialError> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        _ => Err(CredentialError(format!(
            "the environment variable {var} that holds this target's credential is not set"
        ))),
    }
}

fn from_file(path: &std::path::Path) -> Result<String, CredentialError> {
    match std::fs::read_to_string(path) {
        Ok(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
        Ok(_) => Err(CredentialError(format!(
            "the credential file {} is empty",
            path.display()
        ))),
        Err(error) => Err(CredentialError(format!(
            "could not read the credential file {}: {error}",
            path.display()
        ))),
    }
}
