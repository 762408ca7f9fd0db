//! Credentials the host adds to requests for a target; plugins never see them.
//!
//! Secrets are read when a request is sent, so a rotated token file (Kubernetes re-projects
//! service-account tokens) or a changed environment takes effect without a reload. Whatever
//! header the guest set under the same name is overwritten, never merged.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::exchange::TokenExchange;

/// Where a secret value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable of the capstan process.
    Env(String),
    /// A file, re-read for every request.
    File(PathBuf),
    /// A value read at load time (from a kubeconfig).
    Inline(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(var) => write!(f, "Env({var})"),
            Secret::File(path) => write!(f, "File({})", path.display()),
            Secret::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

impl Secret {
    /// The current value, trimmed; the error names the source, never a value.
    pub fn read(&self) -> Result<String, CredentialError> {
        match self {
            Secret::Env(var) => from_env(var),
            Secret::File(path) => from_file(path),
            Secret::Inline(value) => Ok(value.clone()),
        }
    }
}

/// How requests to a target are authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer(Secret),
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// Any header, e.g. a zero-trust proxy's token header.
    Header(HeaderName, Secret),
    /// This header of the MCP client's request, forwarded to this target only.
    Passthrough(HeaderName),
    /// `Authorization: Bearer <token>`, the token exchanged per caller at an identity
    /// provider (RFC 8693); set by the egress gate, which knows the caller.
    TokenExchange(Arc<TokenExchange>),
}

/// A credential could not be produced; the message names the source, never a value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(String);

impl Credentials {
    /// The header this credential sets and its current value, or `None` for no credentials.
    /// `client_headers` are the headers of the MCP request that started the call.
    pub fn header(
        &self,
        client_headers: &HeaderMap,
    ) -> Result<Option<(HeaderName, HeaderValue)>, CredentialError> {
        let (name, value) = match self {
            Credentials::None => return Ok(None),
            Credentials::Bearer(secret) => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", secret.read()?),
            ),
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.read()?);
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                (http::header::AUTHORIZATION, format!("Basic {encoded}"))
            }
            Credentials::Header(name, secret) => (name.clone(), secret.read()?),
            Credentials::Passthrough(name) => return passthrough(name, client_headers),
            Credentials::TokenExchange(_) => {
                return Err(CredentialError(
                    "this target's token is exchanged per caller by the egress gate".into(),
                ));
            }
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            CredentialError(format!(
                "the credential for header `{name}` contains characters not allowed in a header (a line break?)"
            ))
        })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }

    /// Whether this is a token exchanged per caller.
    pub fn is_exchanged(&self) -> bool {
        matches!(self, Credentials::TokenExchange(_))
    }

    /// The header name this credential sets, if any.
    pub fn header_name(&self) -> Option<HeaderName> {
        match self {
            Credentials::None => None,
            Credentials::Bearer(_) | Credentials::Basic { .. } | Credentials::TokenExchange(_) => {
                Some(http::header::AUTHORIZATION)
            }
            Credentials::Header(name, _) | Credentials::Passthrough(name) => Some(name.clone()),
        }
    }
}

fn passthrough(
    name: &HeaderName,
    client_headers: &HeaderMap,
) -> Result<Option<(HeaderName, HeaderValue)>, CredentialError> {
    let mut value = client_headers.get(name).cloned().ok_or_else(|| {
        CredentialError(format!(
            "the MCP client's request has no `{name}` header, which this target forwards; \
             send it with the MCP request"
        ))
    })?;
    value.set_sensitive(true);
    Ok(Some((name.clone(), value)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn value(credentials: &Credentials, client: &HeaderMap) -> String {
        let (_, value) = credentials.header(client).unwrap().unwrap();
        value.to_str().unwrap().to_owned()
    }

    #[test]
    fn basic_credentials_are_encoded() {
        let basic = Credentials::Basic {
            username: "admin".into(),
            password: Secret::Inline("s3cret".into()),
        };
        assert_eq!(value(&basic, &HeaderMap::new()), "Basic YWRtaW46czNjcmV0");
    }

    #[test]
    fn token_files_are_re_read_for_every_request() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let bearer = Credentials::Bearer(Secret::File(file.path().to_owned()));
        std::fs::write(file.path(), "first\n").unwrap();
        assert_eq!(value(&bearer, &HeaderMap::new()), "Bearer first");
        std::fs::write(file.path(), "rotated\n").unwrap();
        assert_eq!(value(&bearer, &HeaderMap::new()), "Bearer rotated");
    }

    #[test]
    fn passthrough_forwards_only_the_named_client_header() {
        let name = HeaderName::from_static("x-user-token");
        let forward = Credentials::Passthrough(name.clone());
        let mut client = HeaderMap::new();
        client.insert(&name, HeaderValue::from_static("user-1"));
        client.insert("authorization", HeaderValue::from_static("Bearer capstan"));
        assert_eq!(value(&forward, &client), "user-1");
        let error = forward.header(&HeaderMap::new()).unwrap_err();
        assert!(error.to_string().contains("x-user-token"));
    }

    #[test]
    fn errors_and_debug_output_never_show_values() {
        let secret = Secret::Inline("hunter2".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
        let bad = Credentials::Header(
            HeaderName::from_static("x-token"),
            Secret::Inline("a\r\nInjected: hunter2".into()),
        );
        let error = bad.header(&HeaderMap::new()).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
