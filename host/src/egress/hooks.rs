//! The `wasi:http` send hook: normalise, match, inject credentials, send, follow redirects
//! hop by hop, cap the response (at the target's `max_response`, or its `max_streamed` when the
//! plugin declared a streamed read with [`STREAM_HEADER`], which is removed before sending). Each allowed request runs in an `egress` trace span (method,
//! target, server address, status) whose `traceparent` the host sets on every hop, replacing
//! any trace context the plugin wrote (when traces are off, the plugin's headers pass as before).
//! Every decision (allowed to a target with the answer's status or failure, or refused with the
//! reason) also goes to the call's egress watch when its event sink has one
//! ([`EgressWatch`](crate::events::EgressWatch), used by `capstan call`).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::audit::{self, AuditedBody, Caller, DenialLog, Exchange};
use super::credentials::Credentials;
use super::exchange::Exchanger;
use super::normalise::NormalUrl;
use super::resolve::{AddressRefused, GuardedResolver, ResolveOverrides};
use super::target::Target;
use super::tls::TlsError;
use super::{STREAM_HEADER, STREAM_VALUE};
use crate::caller::Caller as Principal;
use crate::events::{EgressDecision, EgressNote, EventSink, GuestEvent, RefusalReason};
use crate::trace_context;

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

/// Host-wide egress settings, shared by every instance.
#[derive(Debug, Clone)]
pub struct EgressSettings {
    /// Largest request body a plugin may send.
    pub request_body_bytes: usize,
    /// Redirects followed for one request, each hop checked against the targets.
    pub max_redirects: usize,
    /// Name → address pins applied before DNS.
    pub overrides: Arc<ResolveOverrides>,
    /// MCP clients authenticate to capstan with `Authorization`, so that header carries
    /// capstan's own token and must never be passed through.
    pub inbound_authorization: bool,
}

impl Default for EgressSettings {
    fn default() -> Self {
        Self {
            request_body_bytes: 8 << 20,
            max_redirects: 5,
            overrides: Arc::default(),
            inbound_authorization: false,
        }
    }
}

/// Why an instance's egress policy cannot be built; the message names the target and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EgressError {
    /// A target would forward capstan's own inbound token.
    #[error(
        "target `{target}` passes through the MCP client's Authorization header, which carries capstan's own inbound token; have clients send their upstream credential in another header and pass that one through"
    )]
    ForwardsInboundToken {
        /// The target.
        target: String,
    },
    /// A target's TLS settings do not apply.
    #[error("target `{target}`: {error}")]
    Tls {
        /// The target.
        target: String,
        /// What is wrong with them.
        error: TlsError,
    },
    /// A target's HTTP client cannot be built.
    #[error("target `{target}`: cannot build its HTTP client: {error}")]
    Client {
        /// The target.
        target: String,
        /// reqwest's reason.
        error: Arc<reqwest::Error>,
    },
}

/// A refused request: the URL as shown, the kind of refusal and the message for the agent.
#[derive(Debug)]
struct Refused {
    shown: String,
    reason: RefusalReason,
    message: String,
}

impl Refused {
    fn new(shown: String, reason: RefusalReason, message: impl Into<String>) -> Self {
        Self {
            shown,
            reason,
            message: message.into(),
        }
    }
}

/// The egress rules of one plugin instance: its targets and the clients that reach them.
pub struct EgressPolicy {
    instance: String,
    targets: Arc<[Target]>,
    clients: Vec<reqwest::Client>,
    settings: EgressSettings,
    outbound: Arc<Semaphore>,
    budget: RequestBudget,
    exchanger: Exchanger,
}

/// What the host holds for an instance's outgoing requests: the bytes of buffered bodies and
/// headers across all its calls (one permit a byte), and how many requests one call may start.
struct RequestBudget {
    bytes: Arc<Semaphore>,
    limit: usize,
    per_call: u32,
}

impl RequestBudget {
    fn new(limit: usize, per_call: u32) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(limit)),
            limit,
            per_call,
        }
    }

    /// Adds `bytes` to `held` without waiting; `Err` when the instance's budget is spent.
    fn take(&self, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> Result<(), HttpError> {
        if crate::budget::try_take(&self.bytes, held, bytes) {
            return Ok(());
        }
        Err(HttpError::InternalError(Some(format!(
            "the instance's outgoing requests hold its whole [limits].request_buffer ({}); send fewer or smaller request bodies at once, or raise it",
            bytesize::ByteSize::b(self.limit as u64).display().iec()
        ))))
    }
}

/// The largest write a guest may make into an outgoing body at once; a request waiting for an
/// outbound slot holds at most two such writes in host memory.
const BODY_CHUNK: usize = 64 << 10;

/// What a call adds to the policy: who is calling, and the MCP request's headers (for
/// targets that forward one of them).
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The tool being called (empty while listing).
    pub tool: String,
    /// Headers of the MCP client's HTTP request.
    pub client_headers: HeaderMap,
    /// The principal the call runs for; targets with a token exchange act as this caller.
    pub caller: Arc<Principal>,
    /// Which of the instance's targets the call may reach.
    pub scope: TargetScope,
    /// What the client can answer if the plugin asks for input.
    pub inputs: crate::events::ClientInputs,
}

/// Which of an instance's targets one call may reach. With a policy, a call is authorised for
/// one target, and the gate holds the plugin to it, whatever URL the plugin builds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TargetScope {
    /// Every target of the instance (no policy, and listing).
    #[default]
    All,
    /// Only the named target.
    Only(String),
    /// None: the call was authorised without a target.
    Nothing,
}

impl Default for CallContext {
    /// No tool, no headers, and the anonymous caller.
    fn default() -> Self {
        Self {
            tool: String::new(),
            client_headers: HeaderMap::new(),
            caller: Arc::new(Principal::anonymous()),
            scope: TargetScope::All,
            inputs: crate::events::ClientInputs::default(),
        }
    }
}

impl EgressPolicy {
    /// The policy of instance `instance`, allowing only `targets`, with at most
    /// `max_outbound` requests in flight at once.
    pub fn new(
        instance: &str,
        targets: Vec<Target>,
        max_outbound: usize,
        settings: &EgressSettings,
    ) -> Result<Self, EgressError> {
        install_crypto_provider();
        refuse_forwarding_capstans_token(&targets, settings)?;
        let targets: Arc<[Target]> = targets.into();
        let resolver = Arc::new(GuardedResolver::new(
            settings.overrides.clone(),
            targets.clone(),
        ));
        let clients = targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let own = GuardedResolver::for_target(settings.overrides.clone(), &targets, index);
                client_for(target, Arc::new(own))
            })
            .collect::<Result<_, _>>()?;
        let exchanger = Exchanger::new(instance, &targets, &resolver)?;
        Ok(Self {
            instance: instance.to_owned(),
            targets,
            clients,
            settings: settings.clone(),
            outbound: Arc::new(Semaphore::new(max_outbound.max(1))),
            budget: RequestBudget::new(32 << 20, 1024),
            exchanger,
        })
    }

    /// Holds at most `buffer_bytes` of request bodies and headers for the instance at once,
    /// and lets one call start at most `per_call` requests.
    pub fn with_budget(mut self, buffer_bytes: usize, per_call: u32) -> Self {
        self.budget = RequestBudget::new(buffer_bytes, per_call);
        self
    }

    /// The instance's targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Hooks for one call; refusals are reported on `events`.
    pub fn hooks(self: &Arc<Self>, events: EventSink, context: CallContext) -> EgressHooks {
        let caller = Caller {
            instance: self.instance.clone(),
            tool: context.tool,
        };
        EgressHooks {
            policy: self.clone(),
            events,
            denials: Arc::new(DenialLog::new(caller.clone())),
            caller,
            client_headers: Arc::new(context.client_headers),
            principal: context.caller,
            scope: Arc::new(context.scope),
            started: 0,
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

    /// The normalised URL and the index of the target it falls in; `Err` says why not.
    fn check(&self, raw: &str) -> Result<(NormalUrl, usize), Refused> {
        let url = NormalUrl::parse(raw)
            .map_err(|error| Refused::new(shown_raw(raw), error.reason(), error.to_string()))?;
        self.locate(url)
    }

    /// Holds a located URL to the call's `scope`.
    fn within(
        &self,
        scope: &TargetScope,
        (url, index): (NormalUrl, usize),
    ) -> Result<(NormalUrl, usize), Refused> {
        let name = self.targets[index].name();
        let why = match scope {
            TargetScope::All => return Ok((url, index)),
            TargetScope::Only(allowed) if allowed == name => return Ok((url, index)),
            TargetScope::Only(allowed) => format!(
                "{} belongs to target `{name}`, but this call was authorised for target `{allowed}` only; pass `target` = \"{name}\" to address it",
                url.shown()
            ),
            TargetScope::Nothing => format!(
                "{} belongs to target `{name}`, but this call was authorised without a target (it named none and the instance has no default); pass `target` = \"{name}\" to address it",
                url.shown()
            ),
        };
        Err(Refused::new(
            url.shown(),
            RefusalReason::OutsideCallTarget,
            why,
        ))
    }

    /// Holds a located request to its target's method, path and header rules.
    fn permits(
        &self,
        (url, index): (NormalUrl, usize),
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<(NormalUrl, usize), Refused> {
        let target = &self.targets[index];
        let path = target.relative_path(&url);
        match target.rules().check(target.name(), method, path, headers) {
            Ok(()) => Ok((url, index)),
            Err(refused) => Err(Refused::new(url.shown(), refused.reason, refused.message)),
        }
    }

    fn locate(&self, url: NormalUrl) -> Result<(NormalUrl, usize), Refused> {
        match self.targets.iter().position(|target| target.matches(&url)) {
            Some(index) => Ok((url, index)),
            None => Err(Refused::new(
                url.shown(),
                RefusalReason::OutsideTargets,
                format!(
                    "{} is not inside any target of plugin instance `{}`",
                    url.shown(),
                    self.instance
                ),
            )),
        }
    }
}

fn refuse_forwarding_capstans_token(
    targets: &[Target],
    settings: &EgressSettings,
) -> Result<(), EgressError> {
    let forwards_authorization = |target: &&Target| matches!(target.credentials(), Credentials::Passthrough(name) if name == http::header::AUTHORIZATION);
    match targets.iter().find(forwards_authorization) {
        Some(target) if settings.inbound_authorization => Err(EgressError::ForwardsInboundToken {
            target: target.name().to_owned(),
        }),
        _ => Ok(()),
    }
}

fn client_for(
    target: &Target,
    resolver: Arc<GuardedResolver>,
) -> Result<reqwest::Client, EgressError> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(resolver)
        .connect_timeout(target.limits().connect_timeout)
        .timeout(target.limits().timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(60));
    let builder = target
        .tls()
        .apply(builder)
        .map_err(|error| EgressError::Tls {
            target: target.name().to_owned(),
            error,
        })?;
    builder.build().map_err(|error| EgressError::Client {
        target: target.name().to_owned(),
        error: Arc::new(error),
    })
}

/// Keeps only scheme, authority and path of a URL that did not parse, for messages.
fn shown_raw(raw: &str) -> String {
    audit::clean(raw.split(['?', '#']).next().unwrap_or(raw))
}

/// The per-call face of an [`EgressPolicy`], installed as the store's `wasi:http` hooks.
pub struct EgressHooks {
    policy: Arc<EgressPolicy>,
    events: EventSink,
    denials: Arc<DenialLog>,
    caller: Caller,
    client_headers: Arc<HeaderMap>,
    principal: Arc<Principal>,
    scope: Arc<TargetScope>,
    started: u32,
}

/// One request on its way out, shared by its redirect hops.
struct Outgoing {
    policy: Arc<EgressPolicy>,
    events: EventSink,
    denials: Arc<DenialLog>,
    caller: Caller,
    client_headers: Arc<HeaderMap>,
    principal: Arc<Principal>,
    scope: Arc<TargetScope>,
    method: Method,
    guest_headers: HeaderMap,
    body: bytes::Bytes,
    first_byte_timeout: Option<std::time::Duration>,
    /// Whether the plugin reads the response as a stream ([`STREAM_HEADER`]): its body is held
    /// to the target's `max_streamed` instead of its `max_response`.
    streamed: bool,
    _buffered: Option<OwnedSemaphorePermit>,
    /// When the request left: its outbound slot taken and its body buffered.
    started: Instant,
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> SendFuture {
        drop(fut);
        if self.started >= self.policy.budget.per_call {
            return Box::new(std::future::ready(Err(too_many_requests(
                self.policy.budget.per_call,
            ))));
        }
        self.started += 1;
        let method = request.method().clone();
        let checked = self
            .policy
            .check(&request.uri().to_string())
            .and_then(|located| self.policy.within(&self.scope, located))
            .and_then(|located| self.policy.permits(located, &method, request.headers()));
        let (url, target) = match checked {
            Ok(allowed) => allowed,
            Err(refused) => {
                report_denial(&self.events, &self.denials, &self.policy, &method, refused);
                return Box::new(drain_then_deny(request.into_body()));
            }
        };
        self.events.count_request();
        let span = egress_span(&self.policy, &method, &url, target);
        let policy = self.policy.clone();
        let events = self.events.clone();
        let caller = self.caller.clone();
        let denials = self.denials.clone();
        let client_headers = self.client_headers.clone();
        let principal = self.principal.clone();
        let scope = self.scope.clone();
        let sent = async move {
            // The slot first: a request waiting for one holds only what its body stream
            // buffers (two writes of BODY_CHUNK), not a whole body.
            let permit =
                policy.outbound.clone().acquire_owned().await.map_err(|_| {
                    HttpError::InternalError(Some("capstan is shutting down".into()))
                })?;
            let (parts, body) = request.into_parts();
            let streamed = reads_as_stream(&parts.headers);
            let guest_headers = guest_headers(parts.headers);
            let mut buffered = None;
            policy
                .budget
                .take(&mut buffered, header_bytes(&guest_headers))?;
            let body = buffer_body(body, &policy, &mut buffered).await?;
            let outgoing = Outgoing {
                policy,
                events,
                denials,
                caller,
                client_headers,
                principal,
                scope,
                method: parts.method,
                guest_headers,
                body,
                first_byte_timeout: options.and_then(|o| o.first_byte_timeout),
                streamed,
                _buffered: buffered,
                started: Instant::now(),
            };
            outgoing.send(url, target, permit).await
        };
        Box::new(record_status(sent).instrument(span))
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK
    }
}

/// The span of one allowed request (its redirects included), a child of the sandbox call's:
/// method, target, server address and port; never the path or the query.
fn egress_span(
    policy: &EgressPolicy,
    method: &Method,
    url: &NormalUrl,
    target: usize,
) -> tracing::Span {
    let target = policy.targets[target].name();
    tracing::info_span!(
        target: trace_context::TARGET,
        "egress",
        otel.name = %format_args!("{method} {target}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        "http.request.method" = %method,
        "server.address" = url.url().host_str().unwrap_or_default(),
        "server.port" = i64::from(url.port()),
        "capstan.target" = target,
        "capstan.instance" = policy.instance.as_str(),
        "http.response.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
    )
}

/// Notes on the current (egress) span how the request ended: the status, or the kind of
/// failure.
async fn record_status<F>(sent: F) -> F::Output
where
    F: Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>>,
{
    let result = sent.await;
    let span = tracing::Span::current();
    if span.is_disabled() {
        return result;
    }
    let error_type = match &result {
        Ok((response, _)) => {
            let status = response.status();
            span.record("http.response.status_code", i64::from(status.as_u16()));
            status.is_server_error().then(|| status.as_str().to_owned())
        }
        Err(HttpError::ConnectionTimeout) => Some("timeout".to_owned()),
        Err(HttpError::ConnectionRefused) => Some("connection_refused".to_owned()),
        Err(_) => Some("_OTHER".to_owned()),
    };
    if let Some(error_type) = error_type {
        span.record("otel.status_code", "error");
        span.record("error.type", error_type.as_str());
    }
    result
}

fn too_many_requests(per_call: u32) -> HttpError {
    HttpError::InternalError(Some(format!(
        "this call has started its [limits].max_requests_per_call ({per_call}) outgoing requests; make fewer per call, or raise the limit"
    )))
}

/// What a header map holds in memory, roughly: names and values.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

fn report_denial(
    events: &EventSink,
    denials: &DenialLog,
    policy: &EgressPolicy,
    method: &Method,
    refused: Refused,
) {
    denials.denied(method, &refused.shown, refused.reason, &refused.message);
    let url = audit::clean(&refused.shown);
    let message = format!(
        "{}; allowed targets: {}",
        audit::clean(&refused.message),
        policy.allowed_targets()
    );
    events.note_egress(|| EgressNote {
        method: method.to_string(),
        url: url.clone(),
        decision: EgressDecision::Refused {
            reason: refused.reason,
            message: message.clone(),
        },
    });
    events.emit(GuestEvent::Denied {
        url,
        reason: refused.reason,
        message,
    });
}

impl Outgoing {
    async fn send(
        mut self,
        mut url: NormalUrl,
        mut target: usize,
        permit: OwnedSemaphorePermit,
    ) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
        let mut hops = 0;
        loop {
            let response = self.hop(&url, target).await?;
            let Some(location) = redirect_location(&response) else {
                return Ok(self.deliver(response, target, &url, permit));
            };
            hops += 1;
            if hops > self.policy.settings.max_redirects {
                return Err(self.refuse(Refused::new(
                    url.shown(),
                    RefusalReason::TooManyRedirects,
                    format!("more than {} redirects", self.policy.settings.max_redirects),
                )));
            }
            let next = url.join(&location).map_err(|error| {
                self.refuse(Refused::new(url.shown(), error.reason(), error.to_string()))
            })?;
            let from = url.shown();
            (url, target) = self
                .policy
                .locate(next)
                .and_then(|located| self.policy.within(&self.scope, located))
                .map_err(|mut refused| {
                    refused.message = format!("redirected from {from}: {}", refused.message);
                    self.refuse(refused)
                })?;
            self.follow(response.status());
            (url, target) = self
                .policy
                .permits((url, target), &self.method, &self.guest_headers)
                .map_err(|refused| self.refuse(refused))?;
        }
    }

    /// Sends one hop to `url` with `target`'s credentials.
    async fn hop(&self, url: &NormalUrl, index: usize) -> Result<reqwest::Response, HttpError> {
        let target = &self.policy.targets[index];
        let mut headers = self.headers_for(index, url).await?;
        // The host's trace context (the egress span), in place of any the plugin set.
        trace_context::inject_current(&mut headers);
        let mut request = reqwest::Request::new(self.method.clone(), url.url().clone());
        *request.headers_mut() = headers;
        *request.body_mut() = Some(reqwest::Body::from(self.body.clone()));
        if let Some(timeout) = self.first_byte_timeout {
            *request.timeout_mut() = Some(timeout.min(target.limits().timeout));
        }
        self.policy.clients[index]
            .execute(request)
            .await
            .map_err(|error| self.send_failed(target, url, &error))
    }

    /// The guest's headers with the credential of target `index` set over any header of the
    /// same name.
    async fn headers_for(&self, index: usize, url: &NormalUrl) -> Result<HeaderMap, HttpError> {
        let target = &self.policy.targets[index];
        let mut headers = self.guest_headers.clone();
        if let Credentials::TokenExchange(_) = target.credentials() {
            let value = self
                .policy
                .exchanger
                .authorization(index, target.name(), &self.principal)
                .await
                .map_err(|error| {
                    self.refuse(Refused::new(url.shown(), error.reason(), error.to_string()))
                })?;
            headers.insert(http::header::AUTHORIZATION, value);
            return Ok(headers);
        }
        match target.credentials().header(&self.client_headers) {
            Ok(Some((name, value))) => {
                headers.insert(name, value);
            }
            Ok(None) => {}
            Err(error) => {
                let message = format!(
                    "capstan could not add the credentials of target `{}`: {error}",
                    target.name()
                );
                return Err(self.refuse(Refused::new(
                    url.shown(),
                    RefusalReason::Credentials,
                    message,
                )));
            }
        }
        Ok(headers)
    }

    /// Rewrites method and body for the next hop as browsers and curl do.
    fn follow(&mut self, status: StatusCode) {
        let keeps_method = matches!(status.as_u16(), 307 | 308);
        let to_get = status == StatusCode::SEE_OTHER && self.method != Method::HEAD
            || matches!(status.as_u16(), 301 | 302) && self.method == Method::POST;
        if !keeps_method && to_get {
            self.method = Method::GET;
            self.body = bytes::Bytes::new();
            self.guest_headers.remove(http::header::CONTENT_TYPE);
            self.guest_headers.remove(http::header::CONTENT_LENGTH);
        }
    }

    fn send_failed(&self, target: &Target, url: &NormalUrl, error: &reqwest::Error) -> HttpError {
        if let Some(refused) = find_source::<AddressRefused>(error) {
            return self.refuse(Refused::new(
                url.shown(),
                RefusalReason::AddressRefused,
                refused.to_string(),
            ));
        }
        // reqwest's message is only "error sending request"; the TLS reason is buried.
        let tls = find_source::<rustls::Error>(error);
        let detail = match tls {
            Some(tls) => format!("{error}: {tls}"),
            None => error.to_string(),
        };
        audit::failed(
            &self.caller,
            (target.name(), self.started),
            &self.method,
            &url.shown(),
            &detail,
            target.credentials().is_exchanged(),
        );
        self.note_allowed(target, url, Err(audit::clean(&detail)));
        if let Some(tls) = tls {
            tls_error(tls)
        } else if error.is_timeout() {
            HttpError::ConnectionTimeout
        } else if error.is_connect() {
            HttpError::ConnectionRefused
        } else {
            HttpError::InternalError(Some(format!(
                "request to target `{}` failed",
                target.name()
            )))
        }
    }

    fn refuse(&self, refused: Refused) -> HttpError {
        report_denial(
            &self.events,
            &self.denials,
            &self.policy,
            &self.method,
            refused,
        );
        HttpError::HttpRequestDenied
    }

    /// Tells the call's egress watch, if any, that the request went to `target`.
    fn note_allowed(&self, target: &Target, url: &NormalUrl, answer: Result<u16, String>) {
        self.events.note_egress(|| EgressNote {
            method: self.method.to_string(),
            url: url.shown(),
            decision: EgressDecision::Allowed {
                target: target.name().to_owned(),
                answer,
            },
        });
    }

    fn deliver(
        &self,
        response: reqwest::Response,
        target: usize,
        url: &NormalUrl,
        permit: OwnedSemaphorePermit,
    ) -> (http::Response<WasiBody>, IoFuture) {
        let target = &self.policy.targets[target];
        self.note_allowed(target, url, Ok(response.status().as_u16()));
        let exchange = Exchange::new(
            self.caller.clone(),
            target.name(),
            self.method.clone(),
            url.shown(),
            response.status().as_u16(),
            self.started,
        )
        .exchanged(target.credentials().is_exchanged());
        let cap = target.limits().body_cap(self.streamed);
        let response: http::Response<reqwest::Body> = response.into();
        let response = response.map(|body| {
            AuditedBody::new(body, exchange)
                .map_err(move |error| {
                    let _held_until_the_body_ends = &permit;
                    map_body_error(error)
                })
                .boxed_unsync()
        });
        let response = response.map(|body| {
            Limited::new(body, cap)
                .map_err(move |error| match error.downcast::<HttpError>() {
                    Ok(error) => *error,
                    Err(_) => HttpError::HttpResponseBodySize(Some(cap as u64)),
                })
                .boxed_unsync()
        });
        (response, Box::new(async { Ok(()) }))
    }
}

fn map_body_error(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::ConnectionReadTimeout
    } else {
        HttpError::HttpProtocolError
    }
}

fn redirect_location(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED {
        return None;
    }
    response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Whether the guest declared that it reads the response as a stream.
fn reads_as_stream(headers: &HeaderMap) -> bool {
    headers.get_all(STREAM_HEADER).iter().any(|value| {
        value
            .as_bytes()
            .eq_ignore_ascii_case(STREAM_VALUE.as_bytes())
    })
}

/// The guest's headers minus those the host owns: `Host` (the URL decides where a request
/// goes), hop-by-hop headers, proxy credentials and capstan's own [`STREAM_HEADER`].
fn guest_headers(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        http::header::HOST,
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::header::TE,
        http::header::TRAILER,
        http::header::PROXY_AUTHORIZATION,
        http::header::CONTENT_LENGTH,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    headers.remove(STREAM_HEADER);
    headers
}

/// Reads the guest's whole request body, up to the host's request-body cap, taking every
/// chunk from the instance's request budget into `held` before keeping it.
async fn buffer_body(
    body: WasiBody,
    policy: &EgressPolicy,
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<bytes::Bytes, HttpError> {
    let cap = policy.settings.request_body_bytes;
    let too_big = || HttpError::HttpRequestBodySize(Some(cap as u64));
    let mut body = Limited::new(body, cap);
    let mut chunks = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| too_big())?.into_data() else {
            continue;
        };
        policy.budget.take(held, data.len())?;
        chunks.extend_from_slice(&data);
    }
    Ok(chunks.freeze())
}

/// Reads (a capped amount of) the guest's request body before refusing, so a guest that is
/// still writing its body sees the refusal rather than a reset stream.
async fn drain_then_deny(
    body: WasiBody,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let _ = Limited::new(body, 64 << 10).collect().await;
    Err(HttpError::HttpRequestDenied)
}

/// A TLS failure as the `wasi:http` error the guest sees: an untrusted or invalid server
/// certificate is not a refused connection.
fn tls_error(error: &rustls::Error) -> HttpError {
    match error {
        rustls::Error::InvalidCertificate(_) => HttpError::TlsCertificateError,
        rustls::Error::AlertReceived(alert) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => HttpError::TlsProtocolError,
    }
}

fn find_source<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        // `io::Error::source` skips the error it wraps (rustls' errors arrive that way).
        current = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    None
}

fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_wrapped_in_io_errors_are_found_and_named() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            untrusted,
        ));
        let found = find_source::<rustls::Error>(&wrapped).expect("the TLS error");
        assert!(matches!(tls_error(found), HttpError::TlsCertificateError));
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert!(matches!(
            tls_error(&alert),
            HttpError::TlsAlertReceived {
                alert_id: Some(116),
                ..
            }
        ));
    }

    #[test]
    fn a_streamed_read_is_declared_by_a_header_that_never_leaves() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", "application/json".parse().unwrap());
        assert!(!reads_as_stream(&headers));
        headers.insert(STREAM_HEADER, "Stream".parse().unwrap());
        assert!(reads_as_stream(&headers));
        let sent = guest_headers(headers.clone());
        assert!(sent.get(STREAM_HEADER).is_none(), "{sent:?}");
        assert_eq!(sent.len(), 1);
        headers.insert(STREAM_HEADER, "whole".parse().unwrap());
        assert!(!reads_as_stream(&headers), "another value reads whole");
        assert!(guest_headers(headers).get(STREAM_HEADER).is_none());
    }

    #[test]
    fn buffered_bytes_share_the_instance_budget_until_dropped() {
        let budget = RequestBudget::new(100, 1);
        let (mut first, mut second) = (None, None);
        budget.take(&mut first, 60).expect("within the budget");
        budget.take(&mut first, 30).expect("within the budget");
        let refused = budget.take(&mut second, 20).expect_err("past the budget");
        assert!(refused.to_string().contains("request_buffer"), "{refused}");
        budget.take(&mut second, 10).expect("the rest");
        drop(first);
        budget.take(&mut second, 90).expect("given back");
        assert_eq!(budget.bytes.available_permits(), 0);
    }

    #[test]
    fn capstans_own_token_is_never_passed_through() {
        let forward = Target::parse("t", "https://a.example")
            .unwrap()
            .with_credentials(Credentials::Passthrough(http::header::AUTHORIZATION));
        let guarded = EgressSettings {
            inbound_authorization: true,
            ..EgressSettings::default()
        };
        let error = EgressPolicy::new("i", vec![forward.clone()], 1, &guarded)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("capstan's own inbound token"), "{error}");
        assert!(EgressPolicy::new("i", vec![forward], 1, &EgressSettings::default()).is_ok());
    }
}
