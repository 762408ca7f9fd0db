//! The cost of inbound authentication: `Authenticator::authenticate` with the issuer's keys
//! already cached, for RS256 and ES256 tokens seen for the first time (a full signature check)
//! and for a token presented again (remembered), against the shared-token comparison as the
//! baseline, in the same run. The issuer is a loopback server publishing the test keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use capstan::identity::{Authenticator, IdentitySettings, OAuthSettings};
use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::stats::Sample;

const AUDIENCE: &str = "https://capstan.example.com/mcp";
const SHARED: &str = "bench-shared-token-0123456789abcdef";

/// The samples of one run.
pub struct AuthSamples {
    /// The shared token (baseline).
    pub shared: Sample,
    /// RS256 tokens, each new.
    pub rs256: Sample,
    /// ES256 tokens, each new.
    pub es256: Sample,
    /// One RS256 token presented again and again.
    pub remembered: Sample,
}

/// Measures `calls` authentications of each kind.
pub async fn measure(calls: usize) -> anyhow::Result<AuthSamples> {
    let rsa = key(Algorithm::RS256, "rsa.pem", "rsa")?;
    let ec = key(Algorithm::ES256, "ec.pem", "ec")?;
    let issuer = issuer(vec![rsa.1.clone(), ec.1.clone()]).await?;
    let settings = IdentitySettings {
        api_keys_file: None,
        oauth: Some(OAuthSettings {
            issuer: issuer.clone(),
            audience: AUDIENCE.into(),
            required_scopes: vec![],
            jwks_uri: Some(format!("{issuer}/jwks")),
            groups_claim: "groups".into(),
            name_claim: None,
            client_id_claim: None,
            leeway: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(60),
            authorization_servers: vec![issuer.clone()],
            scopes_supported: vec![],
        }),
    };
    let authenticator = Arc::new(Authenticator::new(&settings, Some(SHARED.into()))?);
    authenticator.prefetch().await;
    let tokens = |key: &Key| -> anyhow::Result<Vec<String>> {
        (0..calls).map(|n| token(key, &issuer, n)).collect()
    };
    let (rs256_tokens, es256_tokens) = (tokens(&rsa)?, tokens(&ec)?);
    let shared = time(
        &authenticator,
        std::iter::repeat_n(SHARED.to_owned(), calls),
    )
    .await?;
    let rs256 = time(&authenticator, rs256_tokens.iter().cloned()).await?;
    let es256 = time(&authenticator, es256_tokens.iter().cloned()).await?;
    let remembered = time(
        &authenticator,
        std::iter::repeat_n(rs256_tokens[0].clone(), calls),
    )
    .await?;
    Ok(AuthSamples {
        shared,
        rs256,
        es256,
        remembered,
    })
}

async fn time(
    authenticator: &Authenticator,
    tokens: impl Iterator<Item = String>,
) -> anyhow::Result<Sample> {
    let mut sample = Sample::default();
    for token in tokens {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        let started = Instant::now();
        let outcome = authenticator.authenticate(&headers).await;
        sample.push(started.elapsed());
        outcome.map_err(|failure| anyhow::anyhow!("a bench token was refused: {failure}"))?;
    }
    Ok(sample)
}

type Key = (EncodingKey, serde_json::Value, Algorithm, &'static str);

fn key(algorithm: Algorithm, file: &str, kid: &'static str) -> anyhow::Result<Key> {
    let pem = std::fs::read(
        capstan_tests::paths::repo_root()
            .join("host/tests/components/identity_keys")
            .join(file),
    )?;
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem)?,
        _ => EncodingKey::from_rsa_pem(&pem)?,
    };
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, algorithm)?)?;
    jwk["kid"] = json!(kid);
    Ok((key, jwk, algorithm, kid))
}

fn token(key: &Key, issuer: &str, n: usize) -> anyhow::Result<String> {
    let mut header = Header::new(key.2);
    header.kid = Some(key.3.to_owned());
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "iss": issuer, "aud": AUDIENCE, "sub": format!("bench-{n}"),
        "groups": ["ops"], "scope": "capstan", "iat": now, "exp": now + 600,
    });
    Ok(jsonwebtoken::encode(&header, &claims, &key.0)?)
}

/// A loopback issuer serving `keys` at `/jwks`; returns its URL.
async fn issuer(keys: Vec<serde_json::Value>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let set = json!({ "keys": keys });
    let router = Router::new().route("/jwks", get(move || async move { axum::Json(set) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}
