//! Token exchange (RFC 8693) through the egress gate's send hook: a loopback token endpoint
//! that checks the grant, capstan's client authentication and the subject token, and a
//! loopback upstream that records what it receives. No guest, no capstan process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use bytes::Bytes;
use capstan::caller::{Caller, CallerKind, SubjectToken};
use capstan::egress::{
    CallContext, Credentials, EgressPolicy, EgressSettings, RefusalReason, ResolveOverrides,
    Secret, Target, TlsSettings, TokenExchange,
};
use capstan::events::{EventSink, GuestEvent};
use http_body_util::{BodyExt as _, Empty};
use serde_json::json;
use tokio::sync::mpsc;
use wasmtime_wasi_http::{Error as HttpError, WasiBody, WasiHttpHooks as _};

const CLIENT_ID: &str = "capstan";
const CLIENT_SECRET: &str = "client-s3cret";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What the token endpoint hands out and how slowly.
struct Script {
    expires_in: u64,
    delay: Duration,
    issued: usize,
    subjects: Vec<String>,
}

/// A token endpoint on 127.0.0.1 that checks every exchange like an identity provider would.
struct TokenEndpoint {
    address: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl TokenEndpoint {
    async fn start(expires_in: u64) -> Self {
        let script = Arc::new(Mutex::new(Script {
            expires_in,
            delay: Duration::ZERO,
            issued: 0,
            subjects: Vec::new(),
        }));
        let app = Router::new()
            .route("/token", post(exchange))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, script }
    }

    fn url(&self) -> String {
        format!("http://{}/token", self.address)
    }

    /// The subject tokens it exchanged (or refused), in order.
    fn subjects(&self) -> Vec<String> {
        self.script.lock().unwrap().subjects.clone()
    }

    fn slow_down(&self, delay: Duration) {
        self.script.lock().unwrap().delay = delay;
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, axum::Json(body)).into_response()
}

async fn exchange(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap());
    if authorization != Some(&format!("Basic {expected}")) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "bad client");
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    let well_formed = field("grant_type") == Some(GRANT)
        && field("subject_token_type") == Some(ACCESS_TOKEN)
        && field("requested_token_type") == Some(ACCESS_TOKEN)
        && field("audience") == Some("argocd")
        && field("scope") == Some("openid");
    if !well_formed {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "malformed");
    }
    let subject = field("subject_token").unwrap_or_default().to_owned();
    let (delay, expires_in, issued) = {
        let mut script = script.lock().unwrap();
        script.subjects.push(subject.clone());
        script.issued += 1;
        (script.delay, script.expires_in, script.issued)
    };
    tokio::time::sleep(delay).await;
    if subject.starts_with("revoked") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &format!("subject token {subject} was revoked"),
        );
    }
    let body = json!({
        "access_token": format!("upstream-{issued}"),
        "issued_token_type": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    axum::Json(body).into_response()
}

/// A recording upstream on 127.0.0.1: every request's headers, as text.
struct Upstream {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Upstream {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(
                |State(seen): State<Arc<Mutex<Vec<HeaderMap>>>>, request: Request| async move {
                    seen.lock().unwrap().push(request.headers().clone());
                    "answered"
                },
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The `Authorization` of each request it received.
    fn authorizations(&self) -> Vec<Option<String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|headers| {
                headers
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_owned())
            })
            .collect()
    }

    /// Every header value it received, for searching.
    fn everything(&self) -> String {
        format!("{:?}", self.seen.lock().unwrap())
    }
}

/// An upstream target whose token is exchanged at `endpoint`.
fn exchanging(name: &str, url: &str, endpoint: &str, secret: &tempfile::NamedTempFile) -> Target {
    let exchange = TokenExchange {
        endpoint: url::Url::parse(endpoint).unwrap(),
        audience: Some("argocd".into()),
        resource: None,
        scope: Some("openid".into()),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::File(secret.path().to_owned()),
        tls: TlsSettings::default(),
    };
    Target::parse(name, url)
        .unwrap()
        .with_credentials(Credentials::TokenExchange(Arc::new(exchange)))
}

fn secret_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{CLIENT_SECRET}\n")).unwrap();
    file
}

/// A person signed in with an OAuth access token.
fn person(subject: &str, token: &str) -> Arc<Caller> {
    Arc::new(Caller {
        subject: subject.into(),
        kind: CallerKind::Token {
            issuer: "https://idp.example".into(),
        },
        token: Some(SubjectToken::new(token)),
        ..Caller::anonymous()
    })
}

/// An instance's policy and the sink its refusals arrive on.
struct Gate {
    policy: Arc<EgressPolicy>,
    events: EventSink,
    receiver: mpsc::Receiver<GuestEvent>,
}

impl Gate {
    fn new(instance: &str, targets: Vec<Target>, settings: EgressSettings) -> Self {
        let policy = EgressPolicy::new(instance, targets, 8, &settings).expect("a valid policy");
        let (events, receiver) = EventSink::channel(16);
        Self {
            policy: Arc::new(policy),
            events,
            receiver,
        }
    }

    /// A GET for `url` on behalf of `caller`, with a guest-made `Authorization`.
    async fn get(&self, url: &str, caller: &Arc<Caller>) -> Result<String, HttpError> {
        let context = CallContext {
            tool: "t".into(),
            caller: caller.clone(),
            ..CallContext::default()
        };
        let mut hooks = self.policy.hooks(self.events.clone(), context);
        let request = http::Request::get(url)
            .header("authorization", "Bearer guest-made")
            .body::<WasiBody>(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap();
        let sent = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        let (response, _io) = Box::into_pin(sent).await?;
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn refusals(&mut self) -> Vec<(RefusalReason, String)> {
        let mut refusals = Vec::new();
        while let Ok(event) = self.receiver.try_recv() {
            if let GuestEvent::Denied {
                reason, message, ..
            } = event
            {
                refusals.push((reason, message));
            }
        }
        refusals
    }
}

/// An upstream, a token endpoint issuing tokens for `expires_in` seconds, and a gate.
async fn setup(
    instance: &str,
    expires_in: u64,
) -> (Upstream, TokenEndpoint, Gate, tempfile::NamedTempFile) {
    let upstream = Upstream::start().await;
    let endpoint = TokenEndpoint::start(expires_in).await;
    let secret = secret_file();
    let api = exchanging("api", &upstream.url("/api"), &endpoint.url(), &secret);
    let gate = Gate::new(instance, vec![api], EgressSettings::default());
    (upstream, endpoint, gate, secret)
}

#[tokio::test]
async fn the_upstream_sees_the_exchanged_token_reused_within_its_lifetime() {
    let (upstream, endpoint, mut gate, _secret) = setup("reuse", 3600).await;
    let alice = person("alice", "inbound-alice");
    for _ in 0..2 {
        let body = gate.get(&upstream.url("/api/apps"), &alice).await.unwrap();
        assert_eq!(body, "answered");
    }
    let exchanged = Some("Bearer upstream-1".to_owned());
    assert_eq!(upstream.authorizations(), [exchanged.clone(), exchanged]);
    assert_eq!(endpoint.subjects(), ["inbound-alice"], "one exchange");
    assert!(
        !upstream.everything().contains("inbound-alice"),
        "the inbound token never reaches the upstream"
    );
    assert!(gate.refusals().is_empty());
    let metrics = capstan::metrics::Metrics::default().render();
    assert!(
        metrics.contains(
            "capstan_egress_token_exchanges_total{instance=\"reuse\",outcome=\"issued\"} 1\n"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn each_caller_gets_its_own_exchange() {
    let (upstream, endpoint, gate, _secret) = setup("inst", 3600).await;
    gate.get(&upstream.url("/api/a"), &person("alice", "inbound-alice"))
        .await
        .unwrap();
    gate.get(&upstream.url("/api/b"), &person("bob", "inbound-bob"))
        .await
        .unwrap();
    gate.get(&upstream.url("/api/c"), &person("alice", "inbound-alice-2"))
        .await
        .unwrap();
    assert_eq!(
        endpoint.subjects(),
        ["inbound-alice", "inbound-bob", "inbound-alice-2"]
    );
    let seen: Vec<_> = upstream.authorizations().into_iter().flatten().collect();
    assert_eq!(
        seen,
        [
            "Bearer upstream-1",
            "Bearer upstream-2",
            "Bearer upstream-3"
        ]
    );
}

#[tokio::test]
async fn an_expiring_token_is_exchanged_again() {
    let (upstream, endpoint, gate, _secret) = setup("inst", 1).await;
    let alice = person("alice", "inbound-alice");
    gate.get(&upstream.url("/api/a"), &alice).await.unwrap();
    gate.get(&upstream.url("/api/a"), &alice).await.unwrap();
    assert_eq!(endpoint.subjects().len(), 1, "still fresh");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    gate.get(&upstream.url("/api/a"), &alice).await.unwrap();
    assert_eq!(endpoint.subjects().len(), 2, "refreshed before expiry");
    assert_eq!(
        upstream.authorizations().last().unwrap().as_deref(),
        Some("Bearer upstream-2")
    );
}

#[tokio::test]
async fn concurrent_calls_of_one_caller_share_one_exchange() {
    let (upstream, endpoint, gate, _secret) = setup("inst", 3600).await;
    endpoint.slow_down(Duration::from_millis(200));
    let alice = person("alice", "inbound-alice");
    let url = upstream.url("/api/a");
    let calls = (0..5).map(|_| gate.get(&url, &alice));
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap(), "answered");
    }
    assert_eq!(endpoint.subjects().len(), 1, "{:?}", endpoint.subjects());
    assert_eq!(upstream.authorizations().len(), 5);
}

#[tokio::test]
async fn a_caller_without_a_token_is_refused_and_nothing_is_sent() {
    let (upstream, endpoint, mut gate, _secret) = setup("inst", 3600).await;
    let api_key = Arc::new(Caller {
        subject: "ci-bot".into(),
        kind: CallerKind::ApiKey,
        ..Caller::anonymous()
    });
    for caller in [
        Arc::new(Caller::anonymous()),
        Arc::new(Caller::shared_token()),
        api_key,
    ] {
        let error = gate
            .get(&upstream.url("/api/a"), &caller)
            .await
            .unwrap_err();
        assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
        let refusals = gate.refusals();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        let (reason, message) = &refusals[0];
        assert_eq!(*reason, RefusalReason::NoCallerIdentity);
        assert_eq!(reason.label(), "no_caller_identity");
        assert!(
            message.contains("target `api` acts as the signed-in person")
                && message.contains(&format!("caller `{}`", caller.subject))
                && message.contains("sign in"),
            "{message}"
        );
    }
    assert!(upstream.authorizations().is_empty());
    assert!(endpoint.subjects().is_empty());
}

#[tokio::test]
async fn a_refused_exchange_refuses_the_request_with_the_providers_error() {
    let (upstream, endpoint, mut gate, _secret) = setup("inst", 3600).await;
    let revoked = person("mallory", "revoked-token");
    let error = gate
        .get(&upstream.url("/api/a"), &revoked)
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    let refusals = gate.refusals();
    let (reason, message) = &refusals[0];
    assert_eq!(*reason, RefusalReason::TokenExchange);
    assert_eq!(reason.label(), "token_exchange");
    assert!(
        message.contains(&format!(
            "the token endpoint {} of target `api` refused the exchange (HTTP 400): invalid_grant: subject token <redacted> was revoked",
            endpoint.url()
        )),
        "{message}"
    );
    assert!(!message.contains("revoked-token"), "{message}");
    assert!(upstream.authorizations().is_empty());
    // A failure is not cached: the next call asks again.
    gate.get(&upstream.url("/api/a"), &revoked)
        .await
        .unwrap_err();
    assert_eq!(endpoint.subjects().len(), 2);
}

#[tokio::test]
async fn an_unreachable_endpoint_or_wrong_client_secret_refuses_the_request() {
    let upstream = Upstream::start().await;
    let endpoint = TokenEndpoint::start(3600).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let secret = secret_file();
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-secret").unwrap();
    let mut gate = Gate::new(
        "inst",
        vec![
            exchanging("down", &upstream.url("/down"), &down, &secret),
            exchanging("wrong", &upstream.url("/wrong"), &endpoint.url(), &wrong),
        ],
        EgressSettings::default(),
    );
    let alice = person("alice", "inbound-alice");
    gate.get(&upstream.url("/down/a"), &alice)
        .await
        .unwrap_err();
    gate.get(&upstream.url("/wrong/a"), &alice)
        .await
        .unwrap_err();
    let refusals = gate.refusals();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals[0]
            .1
            .contains("of target `down` could not be reached"),
        "{refusals:?}"
    );
    assert!(
        refusals[1]
            .1
            .contains("(HTTP 401): invalid_client: bad client"),
        "{refusals:?}"
    );
    assert!(
        refusals
            .iter()
            .all(|(r, _)| *r == RefusalReason::TokenExchange)
    );
    assert!(upstream.authorizations().is_empty());
}

#[tokio::test]
async fn the_token_endpoint_is_reached_under_the_address_policy() {
    let upstream = Upstream::start().await;
    let endpoint = TokenEndpoint::start(3600).await;
    let secret = secret_file();
    let settings = EgressSettings {
        overrides: Arc::new(ResolveOverrides::parse(["idp.test=127.0.0.1"]).unwrap()),
        ..EgressSettings::default()
    };
    let by_name = format!("http://idp.test:{}/token", endpoint.address.port());
    let api = exchanging(
        "api",
        &format!("http://api.test:{}/api", upstream.address.port()),
        &by_name,
        &secret,
    );
    let mut gate = Gate::new("inst", vec![api], settings);
    let alice = person("alice", "inbound-alice");
    let url = format!("http://api.test:{}/api/a", upstream.address.port());
    gate.get(&url, &alice).await.unwrap_err();
    let refusals = gate.refusals();
    assert_eq!(refusals[0].0, RefusalReason::TokenExchange, "{refusals:?}");
    assert!(
        refusals[0]
            .1
            .contains("idp.test resolves only to refused addresses"),
        "{refusals:?}"
    );
    assert!(endpoint.subjects().is_empty(), "the token never left");
}
