//! Inbound identity: turns the `Authorization` header of a request into a [`Caller`] or a
//! refusal, following the MCP authorization spec (RFC 9728 metadata, RFC 8707 audience,
//! RFC 6750 challenges).
//!
//! Checks, in order: the shared `--auth-token-file` token (constant time; an anonymous
//! administrator), a named API key ([`keys`]), an OAuth JWT access token ([`jwt`], keys from
//! [`jwks`]). With nothing configured, every request is [`Caller::anonymous`]. The presented
//! token never appears in a log line, an error or a response.

pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod metadata;
pub mod settings;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::caller::Caller;
pub use settings::{IdentityFile, IdentityOverrides, IdentitySettings, OAuthFile, OAuthSettings};

/// Why a request was refused, as the stable label of `capstan_auth_refusals_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// No bearer token.
    Missing,
    /// A token that matches nothing configured, or lacks a required claim.
    Invalid,
    /// Not a JWT, or not one capstan can read.
    Malformed,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
    /// `aud` does not name capstan.
    Audience,
    /// `iss` is another issuer.
    Issuer,
    /// The signature does not verify.
    Signature,
    /// `none`, HS*, or an algorithm that does not fit the key.
    Algorithm,
    /// Signed with a key the issuer does not publish.
    UnknownKey,
    /// The issuer's keys could not be fetched.
    KeysUnavailable,
    /// A required scope is missing.
    Scope,
}

impl RefusalReason {
    /// Every reason, for pre-creating the metric's series.
    pub const ALL: [RefusalReason; 12] = [
        Self::Missing,
        Self::Invalid,
        Self::Malformed,
        Self::Expired,
        Self::NotYetValid,
        Self::Audience,
        Self::Issuer,
        Self::Signature,
        Self::Algorithm,
        Self::UnknownKey,
        Self::KeysUnavailable,
        Self::Scope,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Signature => "signature",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::KeysUnavailable => "keys_unavailable",
            Self::Scope => "scope",
        }
    }
}

/// A refused request. The messages say what is wrong; none contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required: send `Authorization: Bearer <token>`")]
    Missing,
    /// A token was presented and refused.
    #[error("{description}")]
    Invalid {
        /// The metric label.
        reason: RefusalReason,
        /// What is wrong, for `error_description` (no quotes, no token).
        description: String,
    },
    /// The token lacks required scopes.
    #[error("the token lacks the scope {}; request a token with scope \"{}\"", missing.join(" "), required.join(" "))]
    InsufficientScope {
        /// The scopes missing.
        missing: Vec<String>,
        /// All required scopes.
        required: Vec<String>,
    },
    /// The issuer's signing keys could not be fetched, so no token can be checked.
    #[error(
        "capstan cannot fetch the signing keys of its token issuer; try again shortly (the server log says why)"
    )]
    KeysUnavailable,
}

impl AuthFailure {
    /// A refused token.
    pub fn invalid(reason: RefusalReason, description: impl Into<String>) -> Self {
        Self::Invalid {
            reason,
            description: description.into(),
        }
    }

    /// The metric label.
    pub fn reason(&self) -> RefusalReason {
        match self {
            Self::Missing => RefusalReason::Missing,
            Self::Invalid { reason, .. } => *reason,
            Self::InsufficientScope { .. } => RefusalReason::Scope,
            Self::KeysUnavailable => RefusalReason::KeysUnavailable,
        }
    }

    /// The HTTP answer: 401 or 403 with an RFC 6750 challenge naming the resource metadata
    /// (when OAuth is configured), 503 when the keys are unavailable; a one-line body.
    pub fn response(&self, resource_metadata: Option<&str>) -> Response {
        let mut challenge = vec![];
        if let Some(url) = resource_metadata {
            challenge.push(format!("resource_metadata=\"{url}\""));
        }
        let status = match self {
            Self::Missing => StatusCode::UNAUTHORIZED,
            Self::Invalid { description, .. } => {
                challenge.push("error=\"invalid_token\"".into());
                challenge.push(format!("error_description=\"{}\"", quotable(description)));
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope { required, .. } => {
                challenge.push("error=\"insufficient_scope\"".into());
                challenge.push(format!("scope=\"{}\"", quotable(&required.join(" "))));
                StatusCode::FORBIDDEN
            }
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let body = match self {
            Self::Invalid { .. } => format!("the bearer token was refused: {self}\n"),
            _ => format!("{self}\n"),
        };
        let mut response = (status, body).into_response();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            let value = match challenge.is_empty() {
                true => "Bearer".to_owned(),
                false => format!("Bearer {}", challenge.join(", ")),
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Text safe inside a quoted challenge parameter.
fn quotable(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}

/// Authenticates inbound requests; built once at start.
pub struct Authenticator {
    shared_token: Option<String>,
    api_keys: Option<keys::ApiKeys>,
    jwt: Option<jwt::JwtValidator>,
    resource: Option<metadata::ProtectedResource>,
}

impl Authenticator {
    /// From the identity settings and the shared token of `--auth-token-file`, if any. Fails
    /// when the API keys file cannot be read.
    pub fn new(settings: &IdentitySettings, shared_token: Option<String>) -> anyhow::Result<Self> {
        let api_keys = settings
            .api_keys_file
            .as_deref()
            .map(keys::ApiKeys::load)
            .transpose()?;
        let jwt = settings
            .oauth
            .clone()
            .map(jwt::JwtValidator::new)
            .transpose()
            .map_err(|error| {
                anyhow::anyhow!("cannot build the HTTP client for the token issuer: {error}")
            })?;
        Ok(Self {
            shared_token,
            api_keys,
            resource: settings
                .oauth
                .as_ref()
                .map(metadata::ProtectedResource::new),
            jwt,
        })
    }

    /// Lets every request in as [`Caller::anonymous`].
    pub fn open() -> Self {
        Self {
            shared_token: None,
            api_keys: None,
            jwt: None,
            resource: None,
        }
    }

    /// Whether requests must authenticate at all.
    pub fn is_enabled(&self) -> bool {
        self.shared_token.is_some() || self.api_keys.is_some() || self.jwt.is_some()
    }

    /// The protected resource metadata, when OAuth is configured.
    pub fn resource(&self) -> Option<&metadata::ProtectedResource> {
        self.resource.as_ref()
    }

    /// The token validator, when OAuth is configured.
    pub fn jwt(&self) -> Option<&jwt::JwtValidator> {
        self.jwt.as_ref()
    }

    /// Fetches the issuer's signing keys now rather than on the first request.
    pub async fn prefetch(&self) {
        if let Some(jwt) = &self.jwt {
            jwt.jwks().prefetch().await;
        }
    }

    /// Warns, when a policy is configured, that the shared token bypasses it as an anonymous
    /// administrator; `serve` calls it at start.
    pub fn warn_shared_token_with_policy(&self, policy_configured: bool) {
        if policy_configured && self.shared_token.is_some() {
            tracing::warn!(
                "the shared --auth-token-file token is set together with an access policy: its holder is an anonymous administrator the policy cannot tell apart; prefer named API keys or OAuth"
            );
        }
    }

    /// The caller the request's headers authenticate, or why not.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthFailure> {
        if !self.is_enabled() {
            return Ok(Caller::anonymous());
        }
        let token = bearer(headers).ok_or(AuthFailure::Missing)?;
        if let Some(shared) = &self.shared_token
            && constant_time_eq(token.as_bytes(), shared.as_bytes())
        {
            return Ok(Caller::shared_token());
        }
        if let Some(caller) = self
            .api_keys
            .as_ref()
            .and_then(|keys| keys.authenticate(token))
        {
            return Ok(caller);
        }
        match &self.jwt {
            Some(jwt) if looks_like_jwt(token) => jwt.authenticate(token).await,
            Some(_) => Err(AuthFailure::invalid(
                RefusalReason::Invalid,
                "the token is neither a known API key nor a JWT access token",
            )),
            None => Err(AuthFailure::invalid(
                RefusalReason::Invalid,
                "the token is not one this server accepts",
            )),
        }
    }

    /// The refusal as an HTTP answer.
    pub fn refuse(&self, failure: &AuthFailure) -> Response {
        failure.response(self.resource.as_ref().map(metadata::ProtectedResource::url))
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field(
                "shared_token",
                &self.shared_token.as_ref().map(|_| "<redacted>"),
            )
            .field("api_keys", &self.api_keys.is_some())
            .field(
                "oauth",
                &self.jwt.as_ref().map(|jwt| &jwt.settings().issuer),
            )
            .finish()
    }
}

/// A shared, immutable authenticator.
pub type SharedAuthenticator = Arc<Authenticator>;

/// The token of an `Authorization: Bearer` header (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn nothing_configured_lets_everyone_in_anonymously() {
        let caller = Authenticator::open()
            .authenticate(&HeaderMap::new())
            .await
            .unwrap();
        assert_eq!(caller, Caller::anonymous());
    }

    #[tokio::test]
    async fn the_shared_token_is_an_anonymous_administrator() {
        let authenticator =
            Authenticator::new(&IdentitySettings::default(), Some("s".repeat(20))).unwrap();
        let ok = authenticator
            .authenticate(&headers(&format!("bearer {}", "s".repeat(20))))
            .await
            .unwrap();
        assert_eq!(ok, Caller::shared_token());
        let missing = authenticator.authenticate(&HeaderMap::new()).await;
        assert_eq!(missing, Err(AuthFailure::Missing));
        let wrong = authenticator
            .authenticate(&headers("Bearer not-it"))
            .await
            .unwrap_err();
        assert_eq!(wrong.reason(), RefusalReason::Invalid);
    }

    #[test]
    fn refusals_carry_rfc_6750_challenges() {
        let url = Some("https://c/.well-known/oauth-protected-resource/mcp");
        let missing = AuthFailure::Missing.response(url);
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"https://c/.well-known/oauth-protected-resource/mcp\""
        );
        let expired =
            AuthFailure::invalid(RefusalReason::Expired, "the token has expired").response(url);
        assert_eq!(
            expired.headers()[header::WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"https://c/.well-known/oauth-protected-resource/mcp\", error=\"invalid_token\", error_description=\"the token has expired\""
        );
        let scope = AuthFailure::InsufficientScope {
            missing: vec!["b".into()],
            required: vec!["a".into(), "b".into()],
        }
        .response(None);
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            scope.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"insufficient_scope\", scope=\"a b\""
        );
    }

    #[test]
    fn labels_are_distinct() {
        let labels: std::collections::HashSet<_> = RefusalReason::ALL
            .iter()
            .map(|reason| reason.label())
            .collect();
        assert_eq!(labels.len(), RefusalReason::ALL.len());
    }
}
