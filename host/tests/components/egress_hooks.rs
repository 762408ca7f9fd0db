//! The egress gate's `wasi:http` send hook, driven directly: hand-built requests, a recording
//! upstream on 127.0.0.1, and the refusals the hook emits on the call's event sink. No guest,
//! no capstan process.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use capstan::egress::{
    CallContext, Credentials, EgressPolicy, EgressSettings, RefusalReason, ResolveOverrides,
    Secret, Target, TargetScope,
};
use capstan::events::{EventSink, GuestEvent};
use http_body_util::{BodyExt as _, Empty};
use tokio::sync::mpsc;
use wasmtime_wasi_http::{Error as HttpError, WasiBody, WasiHttpHooks as _};

/// One request the upstream saw: its path and its `Authorization` header.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    path: String,
    authorization: Option<String>,
}

/// A recording upstream on 127.0.0.1 with a few scripted routes.
struct Upstream {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(answer).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(seen): State<Arc<Mutex<Vec<Seen>>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap().to_owned());
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization,
    });
    let redirect = |to: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, to.parse().unwrap());
        (StatusCode::FOUND, headers).into_response()
    };
    match path.as_str() {
        "/api/hop" => redirect("/api/ok"),
        "/api/loop" => redirect("/api/loop"),
        "/api/to-other" => redirect("/other/ok"),
        "/api/outside" => redirect("http://outside.test/steal"),
        _ => (StatusCode::OK, format!("answered {path}")).into_response(),
    }
}

/// A policy for instance `inst` with `targets`, and a sink to watch.
struct Gate {
    policy: Arc<EgressPolicy>,
    events: EventSink,
    receiver: mpsc::Receiver<GuestEvent>,
}

impl Gate {
    fn new(targets: Vec<Target>) -> Self {
        Self::with_settings(targets, EgressSettings::default())
    }

    fn with_settings(targets: Vec<Target>, settings: EgressSettings) -> Self {
        let policy = EgressPolicy::new("inst", targets, 4, &settings).expect("a valid policy");
        let (events, receiver) = EventSink::channel(16);
        Self {
            policy: Arc::new(policy),
            events,
            receiver,
        }
    }

    /// Sends a GET for `url` through the hook, with the guest's `headers`; returns the body.
    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<String, HttpError> {
        self.get_scoped(url, headers, TargetScope::All).await
    }

    /// Sends a GET for `url` from a call allowed to reach `scope`.
    async fn get_scoped(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        scope: TargetScope,
    ) -> Result<String, HttpError> {
        let context = CallContext {
            scope,
            ..CallContext::default()
        };
        let mut hooks = self.policy.hooks(self.events.clone(), context);
        let mut request = http::Request::get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body: WasiBody = Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let sent = hooks.send_request(
            request.body(body).unwrap(),
            None,
            Box::new(async { Ok(()) }),
        );
        let (response, _io) = Box::into_pin(sent).await?;
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The refusals emitted so far: reason and message.
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

fn target(name: &str, url: &str) -> Target {
    Target::parse(name, url).unwrap()
}

/// A bearer credential read from a file (the hook reads it at every request).
fn bearer(dir: &tempfile::TempDir, token: &str) -> Credentials {
    let file = dir.path().join(format!("{token}.token"));
    std::fs::write(&file, token).unwrap();
    Credentials::Bearer(Secret::File(file))
}

#[tokio::test]
async fn a_url_outside_the_targets_is_refused_with_its_reason() {
    let upstream = Upstream::start().await;
    let mut gate = Gate::new(vec![target("api", &upstream.url("/api"))]);
    let error = gate.get(&upstream.url("/admin"), &[]).await.unwrap_err();
    assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    let refusals = gate.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let (reason, message) = &refusals[0];
    assert_eq!(*reason, RefusalReason::OutsideTargets);
    assert_eq!(reason.label(), "outside_targets");
    assert!(
        message.contains("is not inside any target of plugin instance `inst`")
            && message.contains("allowed targets: api (http://127.0.0.1:"),
        "{message}"
    );
    assert!(upstream.seen().is_empty(), "nothing may reach the upstream");
}

#[tokio::test]
async fn user_info_and_other_schemes_are_refused_before_matching() {
    let upstream = Upstream::start().await;
    let mut gate = Gate::new(vec![target("api", &upstream.url("/api"))]);
    let with_user = format!("http://{}@outside.test/api/ok", upstream.address);
    gate.get(&with_user, &[]).await.unwrap_err();
    let refusals = gate.refusals();
    assert_eq!(refusals[0].0, RefusalReason::UserInfo, "{refusals:?}");
    assert!(
        refusals[0].1.contains("URLs with user info"),
        "{refusals:?}"
    );
    gate.get(&format!("ftp://{}/api/ok", upstream.address), &[])
        .await
        .unwrap_err();
    assert_eq!(gate.refusals()[0].0, RefusalReason::Scheme);
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_unless_a_target_names_the_address() {
    let upstream = Upstream::start().await;
    let settings = EgressSettings {
        overrides: Arc::new(ResolveOverrides::parse(["up.test=127.0.0.1"]).unwrap()),
        ..EgressSettings::default()
    };
    let url = format!("http://up.test:{}/api", upstream.address.port());
    let mut gate = Gate::with_settings(vec![target("api", &url)], settings);
    let error = gate.get(&format!("{url}/ok"), &[]).await.unwrap_err();
    assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    let refusals = gate.refusals();
    assert_eq!(refusals[0].0, RefusalReason::AddressRefused, "{refusals:?}");
    assert!(refusals[0].1.contains("refused addresses"), "{refusals:?}");
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn the_targets_bearer_replaces_the_guests_authorization() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api = target("api", &upstream.url("/api")).with_credentials(bearer(&dir, "host-token"));
    let mut gate = Gate::new(vec![api]);
    let body = gate
        .get(
            &upstream.url("/api/ok"),
            &[("authorization", "Bearer guest-made")],
        )
        .await
        .unwrap();
    assert_eq!(body, "answered /api/ok");
    assert_eq!(
        upstream.seen(),
        [Seen {
            path: "/api/ok".into(),
            authorization: Some("Bearer host-token".into()),
        }]
    );
    assert!(gate.refusals().is_empty());
}

#[tokio::test]
async fn redirects_are_followed_hop_by_hop_with_each_targets_own_credential() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let api = target("api", &upstream.url("/api")).with_credentials(bearer(&dir, "api-token"));
    let other = target("other", &upstream.url("/other"));
    let mut gate = Gate::new(vec![api, other]);
    let body = gate.get(&upstream.url("/api/hop"), &[]).await.unwrap();
    assert_eq!(body, "answered /api/ok");
    let body = gate.get(&upstream.url("/api/to-other"), &[]).await.unwrap();
    assert_eq!(body, "answered /other/ok");
    let token = Some("Bearer api-token".to_owned());
    assert_eq!(
        upstream.seen(),
        [
            Seen {
                path: "/api/hop".into(),
                authorization: token.clone(),
            },
            Seen {
                path: "/api/ok".into(),
                authorization: token.clone(),
            },
            Seen {
                path: "/api/to-other".into(),
                authorization: token,
            },
            Seen {
                path: "/other/ok".into(),
                authorization: None,
            },
        ]
    );
    assert!(gate.refusals().is_empty());
}

#[tokio::test]
async fn a_redirect_outside_the_targets_is_refused_and_not_followed() {
    let upstream = Upstream::start().await;
    let mut gate = Gate::new(vec![target("api", &upstream.url("/api"))]);
    let error = gate
        .get(&upstream.url("/api/outside"), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    let refusals = gate.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].0, RefusalReason::OutsideTargets);
    assert!(
        refusals[0].1.starts_with(&format!(
            "redirected from {}: ",
            upstream.url("/api/outside")
        )) && refusals[0].1.contains("http://outside.test/steal"),
        "{refusals:?}"
    );
    assert_eq!(upstream.seen().len(), 1, "only the first hop was sent");
}

#[tokio::test]
async fn a_call_reaches_only_the_target_it_was_authorised_for_even_through_a_redirect() {
    let upstream = Upstream::start().await;
    let api = target("api", &upstream.url("/api"));
    let other = target("other", &upstream.url("/other"));
    let mut gate = Gate::new(vec![api, other]);
    let only_api = || TargetScope::Only("api".into());
    let body = gate
        .get_scoped(&upstream.url("/api/ok"), &[], only_api())
        .await
        .unwrap();
    assert_eq!(body, "answered /api/ok");
    for (url, scope) in [
        ("/other/ok", only_api()),
        ("/api/to-other", only_api()),
        ("/api/ok", TargetScope::Nothing),
    ] {
        let error = gate
            .get_scoped(&upstream.url(url), &[], scope)
            .await
            .unwrap_err();
        assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    }
    let refusals = gate.refusals();
    assert_eq!(refusals.len(), 3, "{refusals:?}");
    assert!(
        refusals
            .iter()
            .all(|(reason, _)| *reason == RefusalReason::OutsideCallTarget),
        "{refusals:?}"
    );
    assert!(
        refusals[0].1.contains("authorised for target `api` only")
            && refusals[0].1.contains("pass `target` = \"other\""),
        "{refusals:?}"
    );
    assert!(
        refusals[2].1.contains("authorised without a target"),
        "{refusals:?}"
    );
    let paths: Vec<String> = upstream.seen().into_iter().map(|seen| seen.path).collect();
    assert_eq!(
        paths,
        ["/api/ok", "/api/to-other"],
        "nothing reached `other`"
    );
}

#[tokio::test]
async fn too_many_redirects_are_refused() {
    let upstream = Upstream::start().await;
    let mut gate = Gate::new(vec![target("api", &upstream.url("/api"))]);
    let error = gate.get(&upstream.url("/api/loop"), &[]).await.unwrap_err();
    assert!(matches!(error, HttpError::HttpRequestDenied), "{error:?}");
    let refusals = gate.refusals();
    assert_eq!(
        refusals[0].0,
        RefusalReason::TooManyRedirects,
        "{refusals:?}"
    );
    assert!(
        refusals[0].1.starts_with("more than 5 redirects"),
        "{refusals:?}"
    );
    let max_redirects = EgressSettings::default().max_redirects;
    assert_eq!(upstream.seen().len(), max_redirects + 1);
}

#[tokio::test]
async fn a_credential_that_cannot_be_read_refuses_the_request() {
    let upstream = Upstream::start().await;
    let missing = Credentials::Bearer(Secret::File("/nonexistent/capstan/token".into()));
    let api = target("api", &upstream.url("/api")).with_credentials(missing);
    let mut gate = Gate::new(vec![api]);
    gate.get(&upstream.url("/api/ok"), &[]).await.unwrap_err();
    let refusals = gate.refusals();
    assert_eq!(refusals[0].0, RefusalReason::Credentials, "{refusals:?}");
    assert!(
        refusals[0]
            .1
            .contains("capstan could not add the credentials of target `api`"),
        "{refusals:?}"
    );
    assert!(upstream.seen().is_empty());
}
