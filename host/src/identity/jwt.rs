//! JWT access tokens: the signature against the issuer's keys (asymmetric algorithms only),
//! `iss` exactly, `aud` containing capstan's resource URI, `exp` (required) and `nbf` with the
//! configured leeway, then the required scopes; the claims become a [`Caller`]. A token that
//! passed is remembered (by its SHA-256, until it expires or the key set changes), so a client
//! presenting it again costs a hash and a lookup instead of a signature check.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::jwks::{Jwks, JwksSource, Lookup};
use super::settings::OAuthSettings;
use super::{AuthFailure, RefusalReason};
use crate::caller::{Caller, CallerKind, SubjectToken};

/// The signature algorithms accepted: never `none`, never a shared secret (HS*).
pub const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The most tokens remembered as valid.
const REMEMBERED: usize = 4096;

/// Checks the access tokens of one issuer.
pub struct JwtValidator {
    settings: OAuthSettings,
    jwks: Jwks,
    remembered: Mutex<HashMap<[u8; 32], Remembered>>,
}

struct Remembered {
    caller: Caller,
    /// `exp` plus leeway, in seconds since the epoch.
    until: u64,
    /// The key set generation that verified it.
    generation: u64,
}

impl JwtValidator {
    /// A validator for `settings`; keys are fetched on first use or by [`JwtValidator::jwks`]`.prefetch()`.
    pub fn new(settings: OAuthSettings) -> Result<Self, reqwest::Error> {
        let jwks = Jwks::new(JwksSource {
            issuer: settings.issuer.clone(),
            jwks_uri: settings.jwks_uri.clone(),
            refresh_interval: settings.jwks_refresh_interval,
        })?;
        Ok(Self {
            settings,
            jwks,
            remembered: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer's key cache.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The settings.
    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// The caller `token` authenticates, or why it does not.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthFailure> {
        let hash = super::keys::sha256(token);
        let caller = match self.recall(&hash) {
            Some(caller) => caller,
            None => {
                let (caller, until, generation) = self.verify(token).await?;
                self.remember(hash, &caller, until, generation);
                caller
            }
        };
        self.check_scopes(&caller)?;
        Ok(caller)
    }

    fn recall(&self, hash: &[u8; 32]) -> Option<Caller> {
        let generation = self.jwks.ring().generation;
        let now = jsonwebtoken::get_current_timestamp();
        let remembered = self.remembered.lock().expect("not poisoned");
        remembered
            .get(hash)
            .filter(|entry| entry.until > now && entry.generation == generation)
            .map(|entry| entry.caller.clone())
    }

    fn remember(&self, hash: [u8; 32], caller: &Caller, until: u64, generation: u64) {
        let mut remembered = self.remembered.lock().expect("not poisoned");
        if remembered.len() >= REMEMBERED {
            let now = jsonwebtoken::get_current_timestamp();
            remembered.retain(|_, entry| entry.until > now && entry.generation == generation);
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
        }
        remembered.insert(
            hash,
            Remembered {
                caller: caller.clone(),
                until,
                generation,
            },
        );
    }

    /// Verifies the signature and claims: the caller, until when it may be remembered, and
    /// the key set generation used.
    async fn verify(&self, token: &str) -> Result<(Caller, u64, u64), AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            AuthFailure::invalid(
                RefusalReason::Malformed,
                "the token is not a JWT signed with an accepted algorithm",
            )
        })?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(AuthFailure::invalid(
                RefusalReason::Algorithm,
                format!(
                    "tokens signed with {:?} are not accepted; the issuer must sign with RS256, PS256, ES256, EdDSA or a stronger variant",
                    header.alg
                ),
            ));
        }
        let key = match self.jwks.key(header.kid.as_deref(), header.alg).await {
            Lookup::Found(key) => key,
            Lookup::Unknown => {
                return Err(AuthFailure::invalid(
                    RefusalReason::UnknownKey,
                    "the token is signed with a key the issuer does not publish",
                ));
            }
            Lookup::Unavailable => return Err(AuthFailure::KeysUnavailable),
        };
        let generation = self.jwks.ring().generation;
        let data = jsonwebtoken::decode::<Map<String, Value>>(
            token,
            &key.key,
            &self.validation(header.alg),
        )
        .map_err(|error| refusal(error.kind(), &self.settings))?;
        let claims = data.claims;
        let caller = self.caller(&claims, token)?;
        let leeway = self.settings.leeway.as_secs();
        let until = claims
            .get("exp")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .saturating_add(leeway);
        Ok((caller, until, generation))
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&[&self.settings.audience]);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    }

    fn caller(&self, claims: &Map<String, Value>, token: &str) -> Result<Caller, AuthFailure> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| {
                AuthFailure::invalid(RefusalReason::Invalid, "the token has no `sub` claim")
            })?;
        let settings = &self.settings;
        let name = match &settings.name_claim {
            Some(claim) => string_claim(claims, claim),
            None => ["name", "preferred_username", "email"]
                .iter()
                .find_map(|claim| string_claim(claims, claim)),
        };
        let client_id = match &settings.client_id_claim {
            Some(claim) => string_claim(claims, claim),
            None => string_claim(claims, "client_id").or_else(|| string_claim(claims, "azp")),
        };
        Ok(Caller {
            subject: subject.to_owned(),
            name,
            groups: claim(claims, &settings.groups_claim)
                .map(list)
                .unwrap_or_default(),
            client_id,
            scopes: scopes(claims),
            kind: CallerKind::Token {
                issuer: settings.issuer.clone(),
            },
            token: Some(SubjectToken::new(token)),
        })
    }

    fn check_scopes(&self, caller: &Caller) -> Result<(), AuthFailure> {
        let missing: Vec<String> = self
            .settings
            .required_scopes
            .iter()
            .filter(|scope| !caller.scopes.contains(scope))
            .cloned()
            .collect();
        match missing.is_empty() {
            true => Ok(()),
            false => Err(AuthFailure::InsufficientScope {
                missing,
                required: self.settings.required_scopes.clone(),
            }),
        }
    }
}

/// What a failed validation tells the client.
fn refusal(kind: &ErrorKind, settings: &OAuthSettings) -> AuthFailure {
    let (reason, description) = match kind {
        ErrorKind::ExpiredSignature => (RefusalReason::Expired, "the token has expired".into()),
        ErrorKind::ImmatureSignature => (
            RefusalReason::NotYetValid,
            "the token is not valid yet (`nbf` is in the future)".into(),
        ),
        ErrorKind::InvalidAudience => (
            RefusalReason::Audience,
            format!(
                "the token is not for this server: its `aud` does not contain {}",
                settings.audience
            ),
        ),
        ErrorKind::InvalidIssuer => (
            RefusalReason::Issuer,
            format!("the token is not from {}", settings.issuer),
        ),
        ErrorKind::InvalidSignature => (
            RefusalReason::Signature,
            "the token's signature does not verify".into(),
        ),
        ErrorKind::InvalidAlgorithm => (
            RefusalReason::Algorithm,
            "the token's algorithm does not fit its signing key".into(),
        ),
        ErrorKind::MissingRequiredClaim(claim) => (
            RefusalReason::Invalid,
            format!("the token has no `{claim}` claim"),
        ),
        ErrorKind::InvalidClaimFormat(claim) => (
            RefusalReason::Invalid,
            format!("the token's `{claim}` claim has the wrong type"),
        ),
        _ => (
            RefusalReason::Malformed,
            "the token is not a well-formed JWT".into(),
        ),
    };
    AuthFailure::invalid(reason, description)
}

/// A claim by name, or by a dotted path into nested objects (`realm_access.roles`).
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claim(claims, name)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// An array of strings, or one string of names separated by spaces or commas.
pub fn list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(text) => text
            .split([' ', ','])
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The granted scopes: `scope` (space-separated) or `scp` (array or string).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .get("scope")
        .or_else(|| claims.get("scp"))
        .map(list)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn settings() -> OAuthSettings {
        OAuthSettings {
            issuer: "https://idp.example.com".into(),
            audience: "https://capstan.example.com/mcp".into(),
            required_scopes: vec!["capstan".into()],
            jwks_uri: Some("https://idp.example.com/jwks".into()),
            groups_claim: "groups".into(),
            name_claim: None,
            client_id_claim: None,
            leeway: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(60),
            authorization_servers: vec![],
            scopes_supported: vec![],
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn claims_become_a_caller() {
        let validator = JwtValidator::new(settings()).unwrap();
        let claims = object(json!({
            "sub": "u-42", "preferred_username": "ada", "email": "ada@example.com",
            "groups": ["ops", "dev"], "azp": "claude", "scope": "openid capstan"
        }));
        let caller = validator.caller(&claims, "t.o.k").unwrap();
        assert_eq!(caller.subject, "u-42");
        assert_eq!(caller.name.as_deref(), Some("ada"));
        assert_eq!(caller.groups, ["ops", "dev"]);
        assert_eq!(caller.client_id.as_deref(), Some("claude"));
        assert_eq!(caller.scopes, ["openid", "capstan"]);
        assert_eq!(
            caller.kind,
            CallerKind::Token {
                issuer: "https://idp.example.com".into()
            }
        );
        assert_eq!(caller.token.unwrap().expose(), "t.o.k");
        assert!(
            validator
                .check_scopes(&validator.caller(&claims, "t").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn configured_claims_and_nested_paths_are_used() {
        let validator = JwtValidator::new(OAuthSettings {
            groups_claim: "realm_access.roles".into(),
            name_claim: Some("upn".into()),
            client_id_claim: Some("appid".into()),
            ..settings()
        })
        .unwrap();
        let claims = object(json!({
            "sub": "s", "upn": "ada@corp", "appid": "app-1", "client_id": "other",
            "realm_access": {"roles": ["admin"]}, "scp": "capstan.read capstan"
        }));
        let caller = validator.caller(&claims, "t").unwrap();
        assert_eq!(caller.name.as_deref(), Some("ada@corp"));
        assert_eq!(caller.client_id.as_deref(), Some("app-1"));
        assert_eq!(caller.groups, ["admin"]);
        assert_eq!(caller.scopes, ["capstan.read", "capstan"]);
    }

    #[test]
    fn groups_and_scopes_parse_from_arrays_and_strings() {
        assert_eq!(list(&json!("a, b c,,d")), ["a", "b", "c", "d"]);
        assert_eq!(list(&json!(["a", 1, "b"])), ["a", "b"]);
        assert!(list(&json!(7)).is_empty());
        assert_eq!(scopes(&object(json!({"scp": ["x", "y"]}))), ["x", "y"]);
        assert!(scopes(&object(json!({}))).is_empty());
    }

    #[test]
    fn a_missing_scope_is_named() {
        let validator = JwtValidator::new(settings()).unwrap();
        let claims = object(json!({"sub": "s", "scope": "openid"}));
        let caller = validator.caller(&claims, "t").unwrap();
        match validator.check_scopes(&caller) {
            Err(AuthFailure::InsufficientScope { missing, .. }) => assert_eq!(missing, ["capstan"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_subject_is_refused() {
        let validator = JwtValidator::new(settings()).unwrap();
        let error = validator.caller(&object(json!({})), "t").unwrap_err();
        assert!(error.to_string().contains("`sub`"), "{error}");
    }
}
