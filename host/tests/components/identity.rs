//! Inbound identity through the real HTTP app: a loopback issuer (discovery document and JWKS)
//! with RSA, EC P-256 and Ed25519 keys, tokens signed in the test, API keys in a file, and
//! `/mcp` driven with `oneshot`. Every refusal is checked for its status and challenge, and
//! neither responses nor logs may contain a presented token.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use base64::Engine as _;
use capstan::identity::keys::{CHECK_INTERVAL, entry};
use capstan::identity::{Authenticator, IdentitySettings, OAuthSettings};
use capstan::mcp::http::{HttpOptions, app};
use capstan::mcp::notify::Broadcaster;
use capstan::mcp::server::{McpServer, ServeOptions};
use capstan::metrics::Metrics;
use capstan::registry::{LoadStatus, Registry};
use http_body_util::BodyExt as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

const AUDIENCE: &str = "https://capstan.example.com/mcp";
const METADATA: &str = "https://capstan.example.com/.well-known/oauth-protected-resource/mcp";
const API_KEY: &str = "capstan_ci-deployer-0123456789abcdefghijklmnopqrstuvwxyz";
const OTHER_KEY: &str = "capstan_release-bot-0123456789abcdefghijklmnopqrstuvwxyz";

/// The loopback authorization server: its discovery document and a key set the test edits.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(Vec::new()));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        let (served, fetches) = (keys.clone(), jwks_fetches.clone());
        let router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = served.lock().unwrap().clone();
                    axum::Json(json!({ "keys": keys }))
                }),
            );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url,
            keys,
            jwks_fetches,
        }
    }

    fn publish(&self, signer: &Signer) {
        self.keys.lock().unwrap().push(signer.jwk.clone());
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

/// A signing key and its public JWK.
struct Signer {
    algorithm: Algorithm,
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/components/identity_keys")
            .join(name),
    )
    .unwrap()
}

fn signer(algorithm: Algorithm, kid: &str) -> Signer {
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&key_file("ec.pem")),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&key_file("ed25519.pem")),
        _ => EncodingKey::from_rsa_pem(&key_file("rsa.pem")),
    }
    .unwrap();
    let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, algorithm).unwrap()).unwrap();
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    Signer {
        algorithm,
        kid: kid.to_owned(),
        key,
        jwk,
    }
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims of a token `issuer` would issue for capstan; tests change what they refuse.
fn claims(issuer: &Issuer) -> Value {
    json!({
        "iss": issuer.url,
        "aud": [AUDIENCE, "other"],
        "sub": "u-ada",
        "preferred_username": "ada",
        "groups": ["ops"],
        "azp": "claude-code",
        "scope": "openid capstan",
        "iat": now(),
        "exp": now() + 300,
    })
}

fn sign(signer: &Signer, claims: &Value) -> String {
    let mut header = Header::new(signer.algorithm);
    header.kid = Some(signer.kid.clone());
    jsonwebtoken::encode(&header, claims, &signer.key).unwrap()
}

fn settings(issuer: &Issuer, keys_file: Option<PathBuf>) -> IdentitySettings {
    IdentitySettings {
        api_keys_file: keys_file,
        oauth: Some(OAuthSettings {
            issuer: issuer.url.clone(),
            audience: AUDIENCE.into(),
            required_scopes: vec!["capstan".into()],
            jwks_uri: None,
            groups_claim: "groups".into(),
            name_claim: None,
            client_id_claim: None,
            leeway: Duration::from_secs(5),
            jwks_refresh_interval: Duration::from_secs(60),
            authorization_servers: vec![issuer.url.clone()],
            scopes_supported: vec!["capstan".into()],
        }),
    }
}

struct Fixture {
    app: Router,
    metrics: Arc<Metrics>,
}

fn fixture(settings: &IdentitySettings) -> Fixture {
    let authenticator = Arc::new(Authenticator::new(settings, None).unwrap());
    let registry = Arc::new(Registry::default());
    let server = McpServer::new(registry, Broadcaster::default(), ServeOptions::default());
    let metrics = Arc::new(Metrics::default());
    let options = HttpOptions {
        stateless: true,
        authenticator,
        ..HttpOptions::default()
    };
    let app = app(
        server,
        Arc::new(LoadStatus::default()),
        metrics.clone(),
        &options,
        CancellationToken::new(),
    );
    Fixture { app, metrics }
}

/// A self-contained `tools/call`, which reaches the handler without a session.
fn call(authorization: Option<&str>) -> Request<Body> {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}}
    });
    let mut request = Request::post("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

async fn send(app: &Router, token: Option<&str>) -> Answer {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let response = app
        .clone()
        .oneshot(call(authorization.as_deref()))
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer = Answer {
        status,
        challenge,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Some(token) = token {
        assert!(!answer.body.contains(token), "the body echoes the token");
        assert!(
            !answer.challenge.as_deref().unwrap_or("").contains(token),
            "the challenge echoes the token"
        );
    }
    answer
}

/// Asserts a 401 `invalid_token` whose description contains `says`.
async fn refused(app: &Router, token: &str, says: &str) {
    let answer = send(app, Some(token)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let challenge = answer.challenge.unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer resource_metadata=\"{METADATA}\", error=\"invalid_token\", error_description=\""
        )),
        "{challenge}"
    );
    assert!(challenge.contains(says), "{challenge} should say {says}");
    assert!(answer.body.contains(says), "{}", answer.body);
}

/// Log lines written while the returned guard lives.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_of_every_accepted_algorithm_reach_the_handler_as_their_caller() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let issuer = Issuer::start().await;
    let signers: Vec<Signer> = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(|algorithm| signer(algorithm, &format!("{algorithm:?}")))
    .collect();
    for signer in &signers {
        issuer.publish(signer);
    }
    let Fixture { app, .. } = fixture(&settings(&issuer, None));
    let mut tokens = Vec::new();
    for signer in &signers {
        let mut claims = claims(&issuer);
        claims["sub"] = json!(format!("u-{:?}", signer.algorithm));
        let token = sign(signer, &claims);
        let answer = send(&app, Some(&token)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{:?}: {}",
            signer.algorithm,
            answer.body
        );
        assert!(
            logs.text()
                .contains(&format!("caller=u-{:?} tool=whoami", signer.algorithm)),
            "the handler did not see the caller of {:?}:\n{}",
            signer.algorithm,
            logs.text()
        );
        tokens.push(token);
    }
    assert_eq!(issuer.fetches(), 1, "one key set fetch serves every key");
    let logged = logs.text();
    for token in &tokens {
        assert!(!logged.contains(token.as_str()), "a token was logged");
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !logged.contains(signature),
            "a token's signature was logged"
        );
    }
}

#[tokio::test]
async fn refused_tokens_get_a_challenge_that_says_why() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let issuer = Issuer::start().await;
    let rsa = signer(Algorithm::RS256, "rsa");
    issuer.publish(&rsa);
    let Fixture { app, metrics } = fixture(&settings(&issuer, None));

    let missing = send(&app, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.challenge.unwrap(),
        format!("Bearer resource_metadata=\"{METADATA}\"")
    );
    assert!(missing.body.contains("Authorization: Bearer <token>"));

    let mut expired = claims(&issuer);
    expired["exp"] = json!(now() - 60);
    let mut early = claims(&issuer);
    early["nbf"] = json!(now() + 600);
    let mut audience = claims(&issuer);
    audience["aud"] = json!("https://elsewhere.example.com/mcp");
    let mut foreign = claims(&issuer);
    foreign["iss"] = json!("https://evil.example.com");
    let cases = [
        (sign(&rsa, &expired), "expired"),
        (sign(&rsa, &early), "not valid yet"),
        (sign(&rsa, &audience), "is not for this server"),
        (sign(&rsa, &foreign), "is not from"),
    ];
    for (token, says) in &cases {
        refused(&app, token, says).await;
    }

    let valid = sign(&rsa, &claims(&issuer));
    let (message, signature) = valid.rsplit_once('.').unwrap();
    let other_signature = sign(&rsa, &json!({"other": true}));
    let forged = format!("{message}.{}", other_signature.rsplit('.').next().unwrap());
    assert_ne!(signature, forged.rsplit('.').next().unwrap());
    refused(&app, &forged, "signature does not verify").await;

    let base64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = base64.encode(claims(&issuer).to_string());
    let none = format!(
        "{}.{payload}.",
        base64.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    refused(&app, &none, "not a JWT signed with an accepted algorithm").await;

    let public_pem = rsa_public_pem();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa".into());
    let hs256 = jsonwebtoken::encode(
        &header,
        &claims(&issuer),
        &EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    refused(&app, &hs256, "HS256 are not accepted").await;

    refused(&app, "not-a-jwt-nor-a-key", "neither a known API key").await;

    let mut unscoped = claims(&issuer);
    unscoped["scope"] = json!("openid");
    let scope = send(&app, Some(&sign(&rsa, &unscoped))).await;
    assert_eq!(scope.status, StatusCode::FORBIDDEN);
    assert_eq!(
        scope.challenge.unwrap(),
        format!(
            "Bearer resource_metadata=\"{METADATA}\", error=\"insufficient_scope\", scope=\"capstan\""
        )
    );
    assert!(
        scope.body.contains("lacks the scope capstan"),
        "{}",
        scope.body
    );

    let text = metrics.render();
    for label in [
        "missing",
        "expired",
        "not_yet_valid",
        "audience",
        "issuer",
        "signature",
        "malformed",
        "algorithm",
        "invalid",
        "scope",
    ] {
        assert!(
            text.contains(&format!(
                "capstan_auth_refusals_total{{reason=\"{label}\"}} 1"
            )),
            "{label}:\n{text}"
        );
    }
    let logged = logs.text();
    for (token, _) in &cases {
        assert!(
            !logged.contains(token.as_str()),
            "a refused token was logged"
        );
    }
    assert!(!logged.contains(&hs256) && !logged.contains(&forged));
}

/// The RSA test key's public half as PEM, the bytes an attacker would HMAC with.
fn rsa_public_pem() -> Vec<u8> {
    key_file("rsa.pub.pem")
}

#[tokio::test]
async fn an_unknown_key_refetches_once_per_interval_and_a_rotated_key_is_accepted() {
    let issuer = Issuer::start().await;
    let first = signer(Algorithm::ES256, "first");
    issuer.publish(&first);
    let Fixture { app, .. } = fixture(&settings(&issuer, None));
    let ok = send(&app, Some(&sign(&first, &claims(&issuer)))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(issuer.fetches(), 1);

    // A key published after start: one refetch, then accepted.
    let rotated = signer(Algorithm::EdDSA, "rotated");
    issuer.publish(&rotated);
    let ok = send(&app, Some(&sign(&rotated, &claims(&issuer)))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(issuer.fetches(), 2);

    // A key the issuer does not publish: the refetch just made counts for the interval.
    let stranger = signer(Algorithm::RS256, "stranger");
    refused(
        &app,
        &sign(&stranger, &claims(&issuer)),
        "key the issuer does not publish",
    )
    .await;
    assert_eq!(issuer.fetches(), 2, "no refetch inside the interval");
}

#[tokio::test]
async fn an_unknown_key_triggers_exactly_one_refetch_shared_by_concurrent_requests() {
    let issuer = Issuer::start().await;
    let known = signer(Algorithm::RS256, "known");
    issuer.publish(&known);
    let Fixture { app, .. } = fixture(&settings(&issuer, None));
    assert_eq!(
        send(&app, Some(&sign(&known, &claims(&issuer))))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(issuer.fetches(), 1);
    let unknown = sign(&signer(Algorithm::ES256, "unknown"), &claims(&issuer));
    let another = sign(&signer(Algorithm::EdDSA, "another"), &claims(&issuer));
    let (a, b) = tokio::join!(send(&app, Some(&unknown)), send(&app, Some(&unknown)));
    assert_eq!(
        (a.status, b.status),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        issuer.fetches(),
        2,
        "exactly one refetch for the unknown key"
    );
    refused(&app, &another, "key the issuer does not publish").await;
    assert_eq!(
        issuer.fetches(),
        2,
        "another unknown key inside the interval fetches nothing"
    );
}

fn write(path: &Path, text: &str) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[tokio::test]
async fn api_keys_authenticate_and_follow_the_file_without_a_restart() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let issuer = Issuer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    write(&keys, &entry("ci-deployer", &["ci".into()], API_KEY));
    let Fixture { app, .. } = fixture(&settings(&issuer, Some(keys.clone())));

    let ok = send(&app, Some(API_KEY)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(
        logs.text().contains("caller=ci-deployer"),
        "{}",
        logs.text()
    );
    refused(&app, OTHER_KEY, "neither a known API key").await;

    let both = format!(
        "{}{}",
        entry("ci-deployer", &["ci".into()], API_KEY),
        entry("release-bot", &[], OTHER_KEY)
    );
    write(&keys, &both);
    tokio::time::sleep(CHECK_INTERVAL + Duration::from_millis(100)).await;
    assert_eq!(send(&app, Some(OTHER_KEY)).await.status, StatusCode::OK);
    assert!(logs.text().contains("caller=release-bot"));

    write(&keys, "[[key]]\nname = \"broken\"\nsha256 = ");
    tokio::time::sleep(CHECK_INTERVAL + Duration::from_millis(100)).await;
    assert_eq!(send(&app, Some(API_KEY)).await.status, StatusCode::OK);
    assert_eq!(send(&app, Some(OTHER_KEY)).await.status, StatusCode::OK);
    let logged = logs.text();
    assert!(
        logged.contains("previous API keys keep working"),
        "{logged}"
    );
    assert!(!logged.contains(API_KEY) && !logged.contains(OTHER_KEY));
}

#[tokio::test]
async fn the_protected_resource_metadata_is_served_on_both_paths_without_a_token() {
    let issuer = Issuer::start().await;
    let Fixture { app, .. } = fixture(&settings(&issuer, None));
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let document: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": AUDIENCE,
                "authorization_servers": [issuer.url],
                "scopes_supported": ["capstan"],
                "bearer_methods_supported": ["header"],
                "resource_name": "capstan",
            })
        );
    }
}

#[tokio::test]
async fn without_oauth_there_is_no_metadata_and_everyone_is_anonymous() {
    let Fixture { app, .. } = fixture(&IdentitySettings::default());
    let response = app
        .clone()
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(send(&app, None).await.status, StatusCode::OK);
}
