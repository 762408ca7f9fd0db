//! The `wasi:http` send hook: normalise, match, inject credentials, send, cap the response.

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use http::HeaderMap;
use http_body_util::{BodyExt as _, Limited};
use tokio::sync::mpsc;
use url::Url;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::target::Target;
use crate::runtime::GuestEvent;

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Size and time limits on outgoing requests.
#[derive(Debug, Clone)]
pub struct EgressLimits {
    /// Largest request body a plugin may send.
    pub request_body_bytes: usize,
    /// Largest response body a plugin may read.
    pub response_body_bytes: usize,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, response body included.
    pub request_timeout: Duration,
}

impl Default for EgressLimits {
    fn default() -> Self {
        Self {
            request_body_bytes: 8 << 20,
            response_body_bytes: 32 << 20,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The egress rules of one plugin instance: its targets and the client that reaches them.
pub struct EgressPolicy {
    instance: String,
    targets: Vec<Target>,
    limits: EgressLimits,
    client: reqwest::Client,
}

impl EgressPolicy {
    /// The policy of instance `instance`, allowing only `targets`.
    pub fn new(instance: &str, targets: Vec<Target>, limits: EgressLimits) -> anyhow::Result<Self> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            instance: instance.to_owned(),
            targets,
            limits,
            client,
        })
    }

    /// The instance's targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Hooks for one call; refusals are reported on `events`.
    pub fn hooks(self: &Arc<Self>, events: Option<mpsc::Sender<GuestEvent>>) -> EgressHooks {
        EgressHooks {
            policy: self.clone(),
            events,
        }
    }

    fn allowed_targets(&self) -> String {
        if self.targets.is_empty() {
            return "none (the manifest has no [[targets]])".into();
        }
        self.targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The per-call face of an [`EgressPolicy`], installed as the store's `wasi:http` hooks.
pub struct EgressHooks {
    policy: Arc<EgressPolicy>,
    events: Option<mpsc::Sender<GuestEvent>>,
}

impl EgressHooks {
    fn deny(&self, url: &str, reason: String, method: &http::Method) {
        tracing::warn!(
            target: "capstan::audit",
            instance = %self.policy.instance,
            decision = "denied",
            %method,
            url,
            reason = %reason,
            "egress denied"
        );
        if let Some(events) = &self.events {
            let _ = events.try_send(GuestEvent::Denied {
                url: url.to_owned(),
                reason: format!(
                    "{reason}; allowed targets: {}",
                    self.policy.allowed_targets()
                ),
            });
        }
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        let method = request.method().clone();
        let decision = check(&self.policy, request.uri());
        let (url, target) = match decision {
            Ok(allowed) => allowed,
            Err((shown, reason)) => {
                self.deny(&shown, reason, &method);
                return Box::new(drain_then_deny(request.into_body()));
            }
        };
        let policy = self.policy.clone();
        Box::new(async move { send(policy, target, url, request, options).await })
    }
}

/// Matches the request URI against the targets; `Err` carries the URL to show and the reason.
fn check(policy: &EgressPolicy, uri: &http::Uri) -> Result<(Url, usize), (String, String)> {
    let raw = uri.to_string();
    let url = Url::parse(&raw)
        .map_err(|error| (raw.clone(), format!("the URL does not parse ({error})")))?;
    let shown = without_query(&url);
    if !url.username().is_empty() || url.password().is_some() {
        return Err((shown, "URLs with user info are refused".into()));
    }
    match policy
        .targets
        .iter()
        .position(|target| target.matches(&url))
    {
        Some(index) => Ok((url, index)),
        None => Err((
            shown,
            format!(
                "{} is not inside any target of instance `{}`",
                without_query(&url),
                policy.instance
            ),
        )),
    }
}

fn without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Reads (a capped amount of) the guest's request body before refusing, so a guest that is
/// still writing its body sees the refusal rather than a reset stream.
async fn drain_then_deny(
    body: WasiBody,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let _ = Limited::new(body, 64 << 10).collect().await;
    Err(HttpError::HttpRequestDenied)
}

async fn send(
    policy: Arc<EgressPolicy>,
    target: usize,
    url: Url,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let started = Instant::now();
    let target = &policy.targets[target];
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, policy.limits.request_body_bytes)
        .collect()
        .await
        .map_err(|_| HttpError::HttpRequestBodySize(Some(policy.limits.request_body_bytes as u64)))?
        .to_bytes();
    let headers = outgoing_headers(parts.headers, target)?;
    let mut outgoing = reqwest::Request::new(parts.method.clone(), url.clone());
    *outgoing.headers_mut() = headers;
    *outgoing.body_mut() = Some(reqwest::Body::from(body));
    if let Some(timeout) = options.and_then(|o| o.first_byte_timeout) {
        *outgoing.timeout_mut() = Some(timeout.min(policy.limits.request_timeout));
    }
    let result = policy.client.execute(outgoing).await;
    let audit_url = without_query(&url);
    let response = result.map_err(|error| {
        tracing::info!(target: "capstan::audit", instance = %policy.instance, target = target.name(), decision = "allowed", method = %parts.method, url = audit_url, error = %error, "egress failed");
        map_reqwest_error(&error)
    })?;
    tracing::info!(
        target: "capstan::audit",
        instance = %policy.instance,
        target = target.name(),
        decision = "allowed",
        method = %parts.method,
        url = audit_url,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "egress"
    );
    Ok((
        capped_response(response, policy.limits.response_body_bytes),
        Box::new(async { Ok(()) }),
    ))
}

/// The guest's headers minus hop-by-hop and host headers, with the target's credential set
/// over anything the guest put in the same header.
fn outgoing_headers(mut headers: HeaderMap, target: &Target) -> Result<HeaderMap, HttpError> {
    headers.remove(http::header::HOST);
    match target.credentials().header() {
        Ok(Some((name, value))) => {
            headers.insert(name, value);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(target = target.name(), "{error}");
            return Err(HttpError::InternalError(Some(format!(
                "capstan could not add the credentials of target `{}`: {error}",
                target.name()
            ))));
        }
    }
    Ok(headers)
}

fn capped_response(response: reqwest::Response, cap: usize) -> http::Response<WasiBody> {
    let response: http::Response<reqwest::Body> = response.into();
    response.map(|body| {
        Limited::new(body, cap)
            .map_err(move |error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    HttpError::HttpResponseBodySize(Some(cap as u64))
                } else {
                    HttpError::InternalError(Some(error.to_string()))
                }
            })
            .boxed_unsync()
    })
}

fn map_reqwest_error(error: &reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::ConnectionTimeout
    } else if error.is_connect() {
        HttpError::ConnectionRefused
    } else {
        HttpError::InternalError(Some(error.to_string()))
    }
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
