//! The issuer's signing keys: found through discovery (OpenID Connect, then RFC 8414), fetched
//! and cached by `kid`. A token signed with a key not in the cache triggers at most one refetch
//! per refresh interval, shared by every request waiting for it; a failed fetch keeps the keys
//! already known.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// How long one discovery or JWKS request may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The least time between two attempts at the first load while it keeps failing.
const FIRST_LOAD_RETRY: Duration = Duration::from_secs(5);

/// The largest discovery document or key set read.
const MAX_DOCUMENT: usize = 1 << 20;

/// Why the signing keys could not be fetched; names the URL, never a token.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The request failed.
    #[error("cannot fetch {url}: {error}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        error: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// What was fetched.
        url: String,
        /// The status.
        status: reqwest::StatusCode,
    },
    /// The answer is not the expected JSON.
    #[error("{url} is not {what}: {problem}")]
    Document {
        /// What was fetched.
        url: String,
        /// What was expected.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Discovery names another issuer.
    #[error(
        "the discovery document at {url} is for the issuer `{found}`, not `{expected}`; set `oauth.issuer` to the exact `iss` of the tokens"
    )]
    IssuerMismatch {
        /// The document.
        url: String,
        /// Its `issuer`.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// Neither discovery document exists.
    #[error(
        "no discovery document for {issuer} (tried {tried}); set `oauth.jwks_uri` to the issuer's key set"
    )]
    NoDiscovery {
        /// The issuer.
        issuer: String,
        /// The URLs tried and how each failed.
        tried: String,
    },
}

/// A verification key from the issuer's key set.
pub struct SigningKey {
    /// The key.
    pub key: DecodingKey,
    /// The `alg` it is published for, if named.
    pub algorithm: Option<Algorithm>,
}

impl SigningKey {
    fn fits(&self, algorithm: Algorithm) -> bool {
        self.key.family() == algorithm.family()
            && self.algorithm.is_none_or(|named| named == algorithm)
    }
}

/// One fetched key set.
#[derive(Default)]
pub struct KeyRing {
    by_kid: HashMap<String, Arc<SigningKey>>,
    unnamed: Vec<Arc<SigningKey>>,
    /// Counts the key sets fetched, so caches built on one can tell it was replaced.
    pub generation: u64,
}

impl KeyRing {
    /// Parses a JWKS document, keeping the signature keys capstan can use.
    pub fn parse(document: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Value>,
        }
        let set: Set = serde_json::from_slice(document).map_err(|error| error.to_string())?;
        let mut ring = KeyRing::default();
        for value in set.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(key) = signing_key(&jwk) else {
                continue;
            };
            match jwk.common.key_id {
                Some(kid) => {
                    ring.by_kid.insert(kid, Arc::new(key));
                }
                None => ring.unnamed.push(Arc::new(key)),
            }
        }
        Ok(ring)
    }

    /// The key for a token's `kid` and `alg`.
    pub fn find(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<Arc<SigningKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).filter(|key| key.fits(algorithm)),
            None => self.unnamed.iter().find(|key| key.fits(algorithm)),
        }
        .cloned()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.unnamed.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A signature key capstan accepts: RSA, EC or OKP, not for encryption, never symmetric.
fn signing_key(jwk: &Jwk) -> Option<SigningKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    if !matches!(
        jwk.algorithm,
        AlgorithmParameters::RSA(_)
            | AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::OctetKeyPair(_)
    ) {
        return None;
    }
    let algorithm = match jwk.common.key_algorithm {
        Some(named) => Some(named.to_string().parse::<Algorithm>().ok()?),
        None => None,
    };
    if algorithm.is_some_and(|a| !super::jwt::ACCEPTED.contains(&a)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(SigningKey { key, algorithm })
}

/// Where the key set is and how often it may be refetched.
#[derive(Debug, Clone)]
pub struct JwksSource {
    /// The issuer, for discovery.
    pub issuer: String,
    /// The key set's URL, when not discovered.
    pub jwks_uri: Option<String>,
    /// The least time between refetches for unknown keys.
    pub refresh_interval: Duration,
}

/// The cached key set of one issuer.
pub struct Jwks {
    source: JwksSource,
    client: reqwest::Client,
    ring: ArcSwap<KeyRing>,
    fetching: tokio::sync::Mutex<FetchState>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct FetchState {
    jwks_uri: Option<String>,
    loaded: bool,
    last_attempt: Option<Instant>,
    last_refetch: Option<Instant>,
}

/// What a lookup found.
pub enum Lookup {
    /// The key.
    Found(Arc<SigningKey>),
    /// The issuer has no such key (after a refetch, or too soon for one).
    Unknown,
    /// No key set could be fetched yet.
    Unavailable,
}

impl Jwks {
    /// A cache for `source`, empty until the first lookup or [`Jwks::prefetch`].
    pub fn new(source: JwksSource) -> Result<Self, reqwest::Error> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT / 2)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self {
            fetching: tokio::sync::Mutex::new(FetchState {
                jwks_uri: source.jwks_uri.clone(),
                ..FetchState::default()
            }),
            source,
            client,
            ring: ArcSwap::from_pointee(KeyRing::default()),
            fetches: AtomicU64::new(0),
        })
    }

    /// The current key set.
    pub fn ring(&self) -> arc_swap::Guard<Arc<KeyRing>> {
        self.ring.load()
    }

    /// How many key set fetches were made (successful or not).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Loads the key set now, so the first request need not wait; failures are logged.
    pub async fn prefetch(&self) {
        let mut state = self.fetching.lock().await;
        if !state.loaded {
            self.fetch(&mut state).await;
        }
    }

    /// The key for `kid` and `algorithm`, refetching the set once if it is not known.
    pub async fn key(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup {
        if let Some(key) = self.ring.load().find(kid, algorithm) {
            return Lookup::Found(key);
        }
        let mut state = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.ring.load().find(kid, algorithm) {
            return Lookup::Found(key);
        }
        let (last, wait) = match state.loaded {
            true => (state.last_refetch, self.source.refresh_interval),
            false => (
                state.last_attempt,
                self.source.refresh_interval.min(FIRST_LOAD_RETRY),
            ),
        };
        if last.is_none_or(|at| at.elapsed() >= wait) {
            if state.loaded {
                state.last_refetch = Some(Instant::now());
            }
            self.fetch(&mut state).await;
        }
        match self.ring.load().find(kid, algorithm) {
            Some(key) => Lookup::Found(key),
            None if state.loaded => Lookup::Unknown,
            None => Lookup::Unavailable,
        }
    }

    async fn fetch(&self, state: &mut FetchState) {
        state.last_attempt = Some(Instant::now());
        match self.fetch_ring(state).await {
            Ok(mut ring) => {
                ring.generation = self.ring.load().generation + 1;
                tracing::info!(
                    issuer = %self.source.issuer,
                    keys = ring.len(),
                    "fetched the issuer's signing keys"
                );
                self.ring.store(Arc::new(ring));
                state.loaded = true;
            }
            Err(error) => tracing::warn!(
                issuer = %self.source.issuer,
                "{error}; the signing keys already known keep working"
            ),
        }
    }

    async fn fetch_ring(&self, state: &mut FetchState) -> Result<KeyRing, JwksError> {
        let uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.get(&uri).await?;
        KeyRing::parse(&body).map_err(|problem| JwksError::Document {
            url: uri,
            what: "a JWK set",
            problem,
        })
    }

    /// The `jwks_uri` of the issuer's OpenID Connect or RFC 8414 metadata.
    async fn discover(&self) -> Result<String, JwksError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let mut tried = Vec::new();
        for url in discovery_urls(&self.source.issuer) {
            let body = match self.get(&url).await {
                Ok(body) => body,
                Err(error) => {
                    tried.push(error.to_string());
                    continue;
                }
            };
            let document: Discovery =
                serde_json::from_slice(&body).map_err(|error| JwksError::Document {
                    url: url.clone(),
                    what: "an authorization server metadata document",
                    problem: error.to_string(),
                })?;
            if document.issuer != self.source.issuer {
                return Err(JwksError::IssuerMismatch {
                    url,
                    found: document.issuer,
                    expected: self.source.issuer.clone(),
                });
            }
            return Ok(document.jwks_uri);
        }
        Err(JwksError::NoDiscovery {
            issuer: self.source.issuer.clone(),
            tried: tried.join("; "),
        })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, JwksError> {
        let failed = |error| JwksError::Fetch {
            url: url.to_owned(),
            error,
        };
        let response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        if !response.status().is_success() {
            return Err(JwksError::Status {
                url: url.to_owned(),
                status: response.status(),
            });
        }
        let body = response.bytes().await.map_err(failed)?;
        if body.len() > MAX_DOCUMENT {
            return Err(JwksError::Document {
                url: url.to_owned(),
                what: "a document of at most 1 MiB",
                problem: format!("it has {} bytes", body.len()),
            });
        }
        Ok(body.to_vec())
    }
}

/// rustls's ring provider, as egress installs it: reqwest is built without a provider of its own.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The metadata URLs to try for `issuer`: OpenID Connect discovery (appended to the issuer),
/// then RFC 8414 (the well-known prefix inserted before the issuer's path).
pub fn discovery_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let mut urls = vec![format!("{trimmed}/.well-known/openid-configuration")];
    if let Ok(url) = Url::parse(issuer) {
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        urls.push(format!(
            "{origin}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_tries_openid_then_rfc_8414_with_path_insertion() {
        assert_eq!(
            discovery_urls("https://idp.example.com/realms/ops"),
            [
                "https://idp.example.com/realms/ops/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/ops",
            ]
        );
        assert_eq!(
            discovery_urls("https://tenant.example.com/"),
            [
                "https://tenant.example.com/.well-known/openid-configuration",
                "https://tenant.example.com/.well-known/oauth-authorization-server",
            ]
        );
    }

    #[test]
    fn the_ring_keeps_signature_keys_and_drops_symmetric_and_encryption_ones() {
        let document = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "use": "sig", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "w"}
        ]});
        let ring = KeyRing::parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(ring.len(), 1);
        assert!(ring.find(Some("ec"), Algorithm::ES256).is_some());
        assert!(ring.find(Some("ec"), Algorithm::RS256).is_none());
        assert!(ring.find(Some("secret"), Algorithm::HS256).is_none());
        assert!(ring.find(Some("enc"), Algorithm::ES256).is_none());
    }
}
