//! Who is calling: the principal an inbound request authenticated as. `identity` builds a
//! [`Caller`] from a bearer token or an API key and puts it in the HTTP request's extensions;
//! `access` decides what it may do, `mcp` audits it, and `egress` may exchange its token for an
//! upstream one. The token itself is a [`SubjectToken`], which never prints.

use std::fmt;
use std::sync::Arc;

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// An OAuth access token from `issuer`.
    Token {
        /// The token's `iss`.
        issuer: String,
    },
    /// A named API key from the keys file.
    ApiKey,
    /// The single shared token of `--auth-token-file`: an anonymous administrator.
    SharedToken,
    /// No authentication configured (loopback, stdio): an anonymous administrator.
    Anonymous,
}

/// An authenticated principal.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable subject: the token's `sub`, the API key's name, or `anonymous`.
    pub subject: String,
    /// A display name (`name`, `preferred_username` or `email` claim), if known.
    pub name: Option<String>,
    /// Groups or roles, from the configured claim or the key's entry.
    pub groups: Vec<String>,
    /// The OAuth client the token was issued to (`client_id`, `azp`), if any.
    pub client_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// How the caller authenticated.
    pub kind: CallerKind,
    /// The inbound access token, kept only for token exchange; never logged or forwarded.
    pub token: Option<SubjectToken>,
}

impl Caller {
    /// The caller when nothing authenticates requests (loopback without a token, stdio).
    pub fn anonymous() -> Self {
        Self::unnamed("anonymous", CallerKind::Anonymous)
    }

    /// The holder of the single shared `--auth-token-file` token.
    pub fn shared_token() -> Self {
        Self::unnamed("shared-token", CallerKind::SharedToken)
    }

    fn unnamed(subject: &str, kind: CallerKind) -> Self {
        Self {
            subject: subject.to_owned(),
            name: None,
            groups: Vec::new(),
            client_id: None,
            scopes: Vec::new(),
            kind,
            token: None,
        }
    }

    /// Whether this caller is a person or machine with an identity (a token or a named key),
    /// as opposed to the anonymous or shared-token administrator.
    pub fn is_identified(&self) -> bool {
        matches!(self.kind, CallerKind::Token { .. } | CallerKind::ApiKey)
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("subject", &self.subject)
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("kind", &self.kind)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A bearer token that never appears in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectToken(Arc<str>);

impl SubjectToken {
    /// Wraps `token`.
    pub fn new(token: &str) -> Self {
        Self(Arc::from(token))
    }

    /// The token, for the one place that sends it: a token-exchange request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let caller = Caller {
            token: Some(SubjectToken::new("eyJhbGciOiJSUzI1NiJ9.secret.sig")),
            ..Caller::anonymous()
        };
        let printed = format!("{caller:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
