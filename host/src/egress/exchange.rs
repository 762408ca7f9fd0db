//! Token exchange (RFC 8693): a target that acts as the signed-in person.
//!
//! For a target with [`Credentials::TokenExchange`](super::Credentials), the gate sends the
//! caller's inbound access token to the operator-configured token endpoint, authenticating as
//! capstan's OAuth client (HTTP Basic), and puts the token it gets back on the upstream request
//! as `Authorization: Bearer`. The inbound token goes to that endpoint and nowhere else.
//! Exchanged tokens are cached per (target, caller subject, hash of the inbound token) until
//! shortly before they expire; concurrent misses for the same key share one exchange; the
//! cache is bounded. The endpoint is reached through the instance's guarded resolver, like a
//! target. Errors carry the endpoint's `error` and `error_description`, never a token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::HeaderValue;
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;
use url::Url;

use super::audit;
use super::credentials::{CredentialError, Credentials, Secret};
use super::hooks::EgressError;
use super::resolve::{AddressRefused, GuardedResolver};
use super::target::Target;
use super::tls::TlsSettings;
use crate::caller::{Caller, SubjectToken};
use crate::events::RefusalReason;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Exchanged tokens cached per instance; the soonest to expire go first when it is full.
const CACHE_ENTRIES: usize = 1024;
/// The largest token endpoint response read.
const RESPONSE_BYTES: usize = 64 << 10;
/// Error text from the endpoint is cut to this many characters.
const ERROR_CHARS: usize = 300;
/// An exchanged token is used until at most this long before it expires.
const EARLY_REFRESH: Duration = Duration::from_secs(30);

/// How a target exchanges the caller's token for its own: the `token_exchange` auth form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchange {
    /// The identity provider's token endpoint (https, or http on a loopback host).
    pub endpoint: Url,
    /// `audience`: the upstream's name at the identity provider.
    pub audience: Option<String>,
    /// `resource`: the upstream's URL, for providers that use resource indicators.
    pub resource: Option<String>,
    /// `scope`, space-separated.
    pub scope: Option<String>,
    /// The OAuth client capstan authenticates as.
    pub client_id: String,
    /// That client's secret, read at every exchange.
    pub client_secret: Secret,
    /// Extra trust anchors for the endpoint's certificate.
    pub tls: TlsSettings,
}

/// A token endpoint URL that cannot be used; the message says how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EndpointError(String);

impl TokenExchange {
    /// Parses a token endpoint: an absolute https URL (http only for a loopback host), without
    /// user info or fragment.
    pub fn endpoint(text: &str) -> Result<Url, EndpointError> {
        let url = Url::parse(text).map_err(|error| {
            EndpointError(format!(
                "`{text}` is not a URL ({error}); write the token endpoint, e.g. https://idp.example.com/oauth2/token"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError(format!(
                "`{text}` contains credentials; give them as `client_id` and `client_secret_env` (or `client_secret_file`)"
            )));
        }
        if url.fragment().is_some() {
            return Err(EndpointError(format!("`{text}` has a fragment; remove it")));
        }
        match url.scheme() {
            "https" => Ok(url),
            "http" if is_loopback(&url) => Ok(url),
            "http" => Err(EndpointError(format!(
                "`{text}` would send the caller's token in clear text; use https (http is allowed only on a loopback host)"
            ))),
            scheme => Err(EndpointError(format!(
                "`{text}`: scheme `{scheme}` is not supported; use https"
            ))),
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(v4)) => v4.is_loopback(),
        Some(url::Host::Ipv6(v6)) => v6.is_loopback(),
        None => false,
    }
}

/// Why no exchanged token could be added; the message never contains a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The caller has no inbound token to exchange.
    #[error(
        "target `{target}` acts as the signed-in person (token exchange), but caller `{subject}` has no OAuth access token (anonymous, the shared token or an API key); sign in to capstan with OAuth to use this target"
    )]
    NoSubjectToken {
        /// The target.
        target: String,
        /// The caller's subject.
        subject: String,
    },
    /// The client secret cannot be read.
    #[error(
        "the token exchange for target `{target}` cannot read capstan's client secret: {error}"
    )]
    ClientSecret {
        /// The target.
        target: String,
        /// Which source, never a value.
        error: CredentialError,
    },
    /// The endpoint could not be reached.
    #[error("the token endpoint {endpoint} of target `{target}` could not be reached: {detail}")]
    Unreachable {
        /// The target.
        target: String,
        /// The endpoint.
        endpoint: String,
        /// Why.
        detail: String,
    },
    /// The endpoint refused the exchange.
    #[error(
        "the token endpoint {endpoint} of target `{target}` refused the exchange (HTTP {status}): {error}{}",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Refused {
        /// The target.
        target: String,
        /// The endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code, e.g. `invalid_grant`.
        error: String,
        /// The OAuth `error_description`, if any.
        description: Option<String>,
    },
    /// The endpoint answered with something capstan cannot use.
    #[error("the token endpoint {endpoint} of target `{target}` answered unusably: {detail}")]
    BadResponse {
        /// The target.
        target: String,
        /// The endpoint.
        endpoint: String,
        /// What is wrong.
        detail: String,
    },
}

impl ExchangeError {
    /// The kind of refusal this is.
    pub fn reason(&self) -> RefusalReason {
        match self {
            ExchangeError::NoSubjectToken { .. } => RefusalReason::NoCallerIdentity,
            _ => RefusalReason::TokenExchange,
        }
    }
}

/// How long an exchanged token that expires in `expires_in` seconds is reused: its lifetime
/// less 30 s or 10 %, whichever is less; `None` (not reused) without a lifetime.
pub fn reuse_for(expires_in: Option<u64>) -> Option<Duration> {
    let lifetime = Duration::from_secs(expires_in.filter(|secs| *secs > 0)?);
    Some(lifetime - EARLY_REFRESH.min(lifetime / 10))
}

/// An exchanged token and until when it is reused.
#[derive(Clone)]
struct Exchanged {
    authorization: HeaderValue,
    reuse_until: Option<Instant>,
}

impl Exchanged {
    fn fresh(&self, now: Instant) -> bool {
        self.reuse_until.is_some_and(|until| now < until)
    }
}

type Key = (usize, String, [u8; 32]);
type Slot = Arc<OnceCell<Result<Exchanged, ExchangeError>>>;

/// The exchanging targets of one instance, their clients, and the cache of exchanged tokens.
pub(super) struct Exchanger {
    instance: String,
    /// Per target index: its exchange and the client that reaches the endpoint.
    endpoints: Vec<Option<(Arc<TokenExchange>, reqwest::Client)>>,
    slots: Mutex<HashMap<Key, Slot>>,
}

impl Exchanger {
    /// The exchanger of `targets`: a client for the endpoint of each that exchanges tokens.
    pub(super) fn new(
        instance: &str,
        targets: &[Target],
        resolver: &Arc<GuardedResolver>,
    ) -> Result<Self, EgressError> {
        let endpoints = targets
            .iter()
            .map(|target| match target.credentials() {
                Credentials::TokenExchange(exchange) => {
                    let client = client_for(target, exchange, resolver.clone())?;
                    Ok(Some((exchange.clone(), client)))
                }
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            instance: instance.to_owned(),
            endpoints,
            slots: Mutex::default(),
        })
    }

    /// The `Authorization` value for target `index` acting as `caller`: cached, or exchanged now.
    pub(super) async fn authorization(
        &self,
        index: usize,
        target: &str,
        caller: &Caller,
    ) -> Result<HeaderValue, ExchangeError> {
        let Some((exchange, client)) = &self.endpoints[index] else {
            return Err(ExchangeError::BadResponse {
                target: target.to_owned(),
                endpoint: "(none)".into(),
                detail: "the target has no token exchange".into(),
            });
        };
        let Some(token) = &caller.token else {
            return Err(ExchangeError::NoSubjectToken {
                target: target.to_owned(),
                subject: caller.subject.clone(),
            });
        };
        let key = (index, caller.subject.clone(), digest(token));
        for _ in 0..3 {
            let slot = self.slot(&key);
            let mut ran = false;
            let outcome = slot
                .get_or_init(|| {
                    ran = true;
                    self.counted(client, exchange, target, token)
                })
                .await
                .clone();
            match outcome {
                Ok(found) if found.fresh(Instant::now()) => return Ok(found.authorization),
                Ok(found) if ran => {
                    self.forget(&key, &slot);
                    return Ok(found.authorization);
                }
                Ok(_) => self.forget(&key, &slot),
                Err(error) => {
                    self.forget(&key, &slot);
                    return Err(error);
                }
            }
        }
        self.counted(client, exchange, target, token)
            .await
            .map(|exchanged| exchanged.authorization)
    }

    /// One exchange, counted in the metrics.
    async fn counted(
        &self,
        client: &reqwest::Client,
        exchange: &TokenExchange,
        target: &str,
        token: &SubjectToken,
    ) -> Result<Exchanged, ExchangeError> {
        let result = exchange_token(client, exchange, target, token).await;
        let outcome = match &result {
            Ok(_) => "issued",
            Err(ExchangeError::Refused { .. }) => "refused",
            Err(_) => "failed",
        };
        audit::token_exchange(&self.instance, outcome);
        result
    }

    /// The slot for `key`, made (evicting if full) when there is none.
    fn slot(&self, key: &Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        if slots.len() >= CACHE_ENTRIES {
            evict(&mut slots, Instant::now());
        }
        let slot = Slot::default();
        slots.insert(key.clone(), slot.clone());
        slot
    }

    /// Drops `slot` from the cache unless another has replaced it.
    fn forget(&self, key: &Key, slot: &Slot) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
        {
            slots.remove(key);
        }
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.slots.lock().unwrap().len()
    }
}

/// Makes room in a full cache: drops stale and failed entries, then the soonest to expire.
fn evict(slots: &mut HashMap<Key, Slot>, now: Instant) {
    slots.retain(|_, slot| match slot.get() {
        None => true,
        Some(Ok(exchanged)) => exchanged.fresh(now),
        Some(Err(_)) => false,
    });
    if slots.len() < CACHE_ENTRIES {
        return;
    }
    let soonest = slots
        .iter()
        .filter_map(|(key, slot)| match slot.get() {
            Some(Ok(exchanged)) => Some((key, exchanged.reuse_until)),
            _ => None,
        })
        .min_by_key(|(_, until)| *until)
        .map(|(key, _)| key);
    let victim = soonest.or_else(|| slots.keys().next()).cloned();
    if let Some(key) = victim {
        slots.remove(&key);
    }
}

fn digest(token: &SubjectToken) -> [u8; 32] {
    Sha256::digest(token.expose().as_bytes()).into()
}

fn client_for(
    target: &Target,
    exchange: &TokenExchange,
    resolver: Arc<GuardedResolver>,
) -> Result<reqwest::Client, EgressError> {
    let name = || format!("{} (token endpoint)", target.name());
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(resolver)
        .connect_timeout(target.limits().connect_timeout)
        .timeout(target.limits().timeout);
    let builder = exchange
        .tls
        .apply(builder)
        .map_err(|error| EgressError::Tls {
            target: name(),
            error,
        })?;
    builder.build().map_err(|error| EgressError::Client {
        target: name(),
        error: Arc::new(error),
    })
}

/// One exchange at the endpoint.
async fn exchange_token(
    client: &reqwest::Client,
    exchange: &TokenExchange,
    target: &str,
    token: &SubjectToken,
) -> Result<Exchanged, ExchangeError> {
    let endpoint = exchange.endpoint.as_str();
    let secret = exchange
        .client_secret
        .read()
        .map_err(|error| ExchangeError::ClientSecret {
            target: target.to_owned(),
            error,
        })?;
    let sent = Instant::now();
    let response = client
        .post(exchange.endpoint.clone())
        .header(
            http::header::AUTHORIZATION,
            basic(&exchange.client_id, &secret),
        )
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(form(exchange, token))
        .send()
        .await
        .map_err(|error| ExchangeError::Unreachable {
            target: target.to_owned(),
            endpoint: endpoint.to_owned(),
            detail: describe(&error),
        })?;
    let status = response.status();
    let body = read_capped(response)
        .await
        .map_err(|detail| ExchangeError::Unreachable {
            target: target.to_owned(),
            endpoint: endpoint.to_owned(),
            detail,
        })?;
    let answer = Answer {
        target,
        endpoint,
        token,
    };
    if !status.is_success() {
        return Err(answer.refused(status.as_u16(), &body));
    }
    let exchanged = answer.issued(&body)?;
    tracing::debug!(target, endpoint, "token exchanged for the caller");
    Ok(Exchanged {
        authorization: exchanged.0,
        reuse_until: exchanged.1.map(|reuse| sent + reuse),
    })
}

/// The form body of the exchange request.
fn form(exchange: &TokenExchange, token: &SubjectToken) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", GRANT_TYPE)
        .append_pair("subject_token", token.expose())
        .append_pair("subject_token_type", ACCESS_TOKEN_TYPE)
        .append_pair("requested_token_type", ACCESS_TOKEN_TYPE);
    for (name, value) in [
        ("audience", &exchange.audience),
        ("resource", &exchange.resource),
        ("scope", &exchange.scope),
    ] {
        if let Some(value) = value {
            form.append_pair(name, value);
        }
    }
    form.finish()
}

/// Client authentication as RFC 6749 §2.3.1 has it: id and secret form-encoded, then Basic.
fn basic(client_id: &str, secret: &str) -> HeaderValue {
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value =
        HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header");
    value.set_sensitive(true);
    value
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
        body.extend_from_slice(&chunk);
        if body.len() > RESPONSE_BYTES {
            return Err(format!(
                "the response is larger than {RESPONSE_BYTES} bytes"
            ));
        }
    }
    Ok(body)
}

/// A reqwest error with its causes, which hold the useful part (refused address, TLS).
fn describe(error: &reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return refused.to_string();
        }
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// Reads the endpoint's answer for one exchange.
struct Answer<'a> {
    target: &'a str,
    endpoint: &'a str,
    token: &'a SubjectToken,
}

impl Answer<'_> {
    fn refused(&self, status: u16, body: &[u8]) -> ExchangeError {
        let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |name: &str| {
            parsed
                .get(name)
                .and_then(|v| v.as_str())
                .map(|t| self.clean(t))
        };
        ExchangeError::Refused {
            target: self.target.to_owned(),
            endpoint: self.endpoint.to_owned(),
            status,
            error: text("error").unwrap_or_else(|| "no OAuth error in the response".into()),
            description: text("error_description"),
        }
    }

    /// The `Authorization` value and reuse time of a successful answer.
    fn issued(&self, body: &[u8]) -> Result<(HeaderValue, Option<Duration>), ExchangeError> {
        let parsed: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| self.bad("the response is not JSON".into()))?;
        let access_token = parsed
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| self.bad("the response has no `access_token`".into()))?;
        let token_type = parsed
            .get("token_type")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(self.bad(format!(
                "the issued token has `token_type` `{}`, not Bearer; request an access token the upstream accepts as a bearer token",
                self.clean(token_type)
            )));
        }
        let expires_in = match parsed.get("expires_in") {
            Some(serde_json::Value::String(text)) => text.trim().parse().ok(),
            Some(value) => value.as_u64(),
            None => None,
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {access_token}")).map_err(|_| {
            self.bad("the `access_token` has characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        Ok((value, reuse_for(expires_in)))
    }

    fn bad(&self, detail: String) -> ExchangeError {
        ExchangeError::BadResponse {
            target: self.target.to_owned(),
            endpoint: self.endpoint.to_owned(),
            detail,
        }
    }

    /// Endpoint text fit for a message: no control characters, cut short, and never the
    /// caller's token even if the endpoint echoes it.
    fn clean(&self, text: &str) -> String {
        let text = text.replace(self.token.expose(), "<redacted>");
        let mut clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(ERROR_CHARS)
            .collect();
        if text.chars().count() > ERROR_CHARS {
            clean.push('…');
        }
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_reused_until_shortly_before_they_expire() {
        assert_eq!(reuse_for(Some(3600)), Some(Duration::from_secs(3570)));
        assert_eq!(reuse_for(Some(300)), Some(Duration::from_secs(270)));
        assert_eq!(reuse_for(Some(60)), Some(Duration::from_secs(54)));
        assert_eq!(reuse_for(Some(1)), Some(Duration::from_millis(900)));
        assert_eq!(reuse_for(Some(0)), None);
        assert_eq!(reuse_for(None), None);
    }

    #[test]
    fn endpoints_are_https_except_on_loopback() {
        for good in [
            "https://idp.example.com/token",
            "http://127.0.0.1:8080/token",
            "http://[::1]:8080/token",
            "http://localhost:9000/oidc/token",
        ] {
            assert!(TokenExchange::endpoint(good).is_ok(), "{good}");
        }
        for (bad, hint) in [
            ("http://idp.example.com/token", "use https"),
            ("idp.example.com/token", "not a URL"),
            ("ftp://idp.example.com/token", "use https"),
            ("https://id:secret@idp.example.com/token", "client_id"),
            ("https://idp.example.com/token#x", "fragment"),
        ] {
            let error = TokenExchange::endpoint(bad).unwrap_err().to_string();
            assert!(error.contains(hint), "{bad}: {error}");
        }
    }

    fn exchange() -> TokenExchange {
        TokenExchange {
            endpoint: Url::parse("https://idp.example/token").unwrap(),
            audience: Some("argocd".into()),
            resource: None,
            scope: Some("openid groups".into()),
            client_id: "capstan".into(),
            client_secret: Secret::Inline("s3cret".into()),
            tls: TlsSettings::default(),
        }
    }

    #[test]
    fn the_request_carries_the_grant_and_the_client_id_is_form_encoded() {
        let body = form(&exchange(), &SubjectToken::new("in+bound"));
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs["grant_type"], GRANT_TYPE);
        assert_eq!(pairs["subject_token"], "in+bound");
        assert_eq!(pairs["subject_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(pairs["requested_token_type"], ACCESS_TOKEN_TYPE);
        assert_eq!(pairs["audience"], "argocd");
        assert_eq!(pairs["scope"], "openid groups");
        assert!(!pairs.contains_key("resource"));
        let value = basic("a:b", "s");
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"a%3Ab:s");
        assert!(value.is_sensitive());
    }

    #[test]
    fn answers_are_read_and_errors_never_echo_the_token() {
        let token = SubjectToken::new("inbound-secret");
        let answer = Answer {
            target: "prod",
            endpoint: "https://idp.example/token",
            token: &token,
        };
        let (value, reuse) = answer
            .issued(br#"{"access_token":"up","token_type":"bearer","expires_in":"120"}"#)
            .unwrap();
        assert_eq!(value.to_str().unwrap(), "Bearer up");
        assert_eq!(reuse, Some(Duration::from_secs(108)));
        let error = answer
            .issued(br#"{"access_token":"up","token_type":"N_A"}"#)
            .unwrap_err();
        assert!(error.to_string().contains("not Bearer"), "{error}");
        let refused = answer.refused(
            400,
            br#"{"error":"invalid_grant","error_description":"token inbound-secret\nexpired"}"#,
        );
        let message = refused.to_string();
        assert!(
            message.contains("(HTTP 400): invalid_grant: token <redacted> expired"),
            "{message}"
        );
        assert!(!message.contains("inbound-secret"));
        assert_eq!(refused.reason(), RefusalReason::TokenExchange);
    }

    fn cached(reuse_until: Option<Instant>) -> Slot {
        let slot = Slot::default();
        let exchanged = Exchanged {
            authorization: HeaderValue::from_static("Bearer x"),
            reuse_until,
        };
        slot.set(Ok(exchanged)).ok().unwrap();
        slot
    }

    #[test]
    fn a_full_cache_drops_stale_entries_then_the_soonest_to_expire() {
        let now = Instant::now();
        let key = |n: usize| (n, "s".to_owned(), [0; 32]);
        let mut slots: HashMap<Key, Slot> = (0..CACHE_ENTRIES)
            .map(|n| {
                let until = now + Duration::from_secs(100 + n as u64);
                (key(n), cached(Some(until)))
            })
            .collect();
        slots.insert(key(0), cached(Some(now - Duration::from_secs(1))));
        evict(&mut slots, now);
        assert_eq!(slots.len(), CACHE_ENTRIES - 1);
        assert!(!slots.contains_key(&key(0)));
        slots.insert(key(0), Slot::default());
        evict(&mut slots, now);
        assert_eq!(slots.len(), CACHE_ENTRIES - 1);
        assert!(slots.contains_key(&key(0)), "an exchange in flight stays");
        assert!(!slots.contains_key(&key(1)), "the soonest to expire goes");
    }

    #[tokio::test]
    async fn a_caller_without_a_token_is_refused_before_any_exchange() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let target = Target::parse("prod", "https://argocd.example")
            .unwrap()
            .with_credentials(Credentials::TokenExchange(Arc::new(exchange())));
        let targets: Arc<[Target]> = vec![target].into();
        let resolver = Arc::new(GuardedResolver::new(Arc::default(), targets.clone()));
        let exchanger = Exchanger::new("i", &targets, &resolver).unwrap();
        let error = exchanger
            .authorization(0, "prod", &Caller::anonymous())
            .await
            .unwrap_err();
        assert_eq!(error.reason(), RefusalReason::NoCallerIdentity);
        assert!(error.to_string().contains("sign in"), "{error}");
        assert_eq!(exchanger.cached(), 0);
    }
}
