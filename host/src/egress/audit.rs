//! The audit trail of the egress gate: one record per decision, written to the
//! `capstan::audit` log target. Records carry who asked (instance and tool), where to
//! (target, method, host, path without query), the outcome (status, bytes, duration), whether
//! the credential was a token exchanged for the caller (`exchanged`), and never a header value
//! or a body. The same calls feed the egress counters on `/metrics`
//! (`capstan_egress_requests_total{instance,decision}`, `capstan_egress_response_bytes_total`,
//! `capstan_egress_denials_total{instance,reason}`), the token exchanges
//! (`capstan_egress_token_exchanges_total{instance,outcome}`), and the latency histogram
//! `capstan_egress_request_duration_seconds{instance,target,status_class}`: from the request
//! leaving (its outbound slot taken and body buffered) to the final response's headers, redirects
//! included, or to the failure when no response came (`status_class="failed"`).
//!
//! A flood of refusals stays small: a call's first [`FULL_DENIALS`] refusals are recorded in
//! full, the rest only counted, with one summary line when the call ends ([`DenialLog`]); URLs
//! and reasons are cut to [`MAX_SHOWN`] bytes and never carry a query string ([`clean`]).

use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::events::RefusalReason;

/// Labels of the egress counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    instance: String,
    decision: &'static str,
}

/// Labels of the refusal counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    instance: String,
    reason: &'static str,
}

/// Labels of the token exchange counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExchangeLabels {
    instance: String,
    outcome: &'static str,
}

/// Labels of the latency histogram: the instance, the target, and the status class of the
/// final response (`1xx` to `5xx`) or `failed` when none came.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    instance: String,
    target: String,
    status_class: &'static str,
}

/// Upper bounds of the egress latency buckets, in seconds: a loopback answer takes well under a
/// millisecond, a Kubernetes list a few hundred, a stuck upstream the target's timeout.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

type LatencyFamily = Family<LatencyLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The egress counters, process-wide (every record goes through this module).
struct EgressMetrics {
    requests: Family<Labels, Counter>,
    response_bytes: Family<Labels, Counter>,
    denials: Family<DenialLabels, Counter>,
    exchanges: Family<ExchangeLabels, Counter>,
    latency: LatencyFamily,
}

static METRICS: LazyLock<EgressMetrics> = LazyLock::new(|| EgressMetrics {
    requests: Family::default(),
    response_bytes: Family::default(),
    denials: Family::default(),
    exchanges: Family::default(),
    latency: Family::new_with_constructor(latency_histogram),
});

/// The status class label of an HTTP status: `1xx` to `5xx` (anything else counts as `5xx`).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Observes one request's latency: `started` to now, for `target` with `status_class`.
fn observe_latency(caller: &Caller, target: &str, status_class: &'static str, started: Instant) {
    let labels = LatencyLabels {
        instance: caller.instance.clone(),
        target: target.to_owned(),
        status_class,
    };
    METRICS
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
}

/// Adds the egress counters to `registry`.
pub fn register_metrics(registry: &mut Registry) {
    registry.register(
        "capstan_egress_requests",
        "Outgoing plugin requests by instance and decision (allowed, denied, failed)",
        METRICS.requests.clone(),
    );
    registry.register(
        "capstan_egress_response_bytes",
        "Response body bytes plugins read, by instance",
        METRICS.response_bytes.clone(),
    );
    registry.register(
        "capstan_egress_denials",
        "Outgoing plugin requests the egress gate refused, by instance and reason",
        METRICS.denials.clone(),
    );
    registry.register(
        "capstan_egress_token_exchanges",
        "Token exchanges at identity providers for callers, by instance and outcome (issued, refused, failed); cached tokens are not counted",
        METRICS.exchanges.clone(),
    );
    registry.register_with_unit(
        "capstan_egress_request_duration",
        "Seconds from an outgoing plugin request leaving to its final response's headers (redirects included) or its failure, by instance, target and status class (1xx to 5xx, failed)",
        Unit::Seconds,
        METRICS.latency.clone(),
    );
}

/// Counts one token exchange: `issued`, `refused` by the endpoint, or `failed` otherwise.
pub fn token_exchange(instance: &str, outcome: &'static str) {
    let labels = ExchangeLabels {
        instance: instance.to_owned(),
        outcome,
    };
    METRICS.exchanges.get_or_create(&labels).inc();
}

/// Counts one request; returns its labels for further counters.
fn count(caller: &Caller, decision: &'static str) -> Labels {
    let labels = Labels {
        instance: caller.instance.clone(),
        decision,
    };
    METRICS.requests.get_or_create(&labels).inc();
    labels
}

/// Who made a request: the instance and the tool being called.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The plugin instance.
    pub instance: String,
    /// The tool whose call sent it (empty while listing tools).
    pub tool: String,
}

/// Refusals of one call recorded in full; later ones are counted and summed up.
pub const FULL_DENIALS: u32 = 5;

/// The longest URL or reason text a record, event or message carries, in bytes.
pub const MAX_SHOWN: usize = 1024;

/// `text` without the query string or fragment of any URL in it, and cut to [`MAX_SHOWN`]
/// bytes with a marker: what audit records, events and messages may carry of a URL.
pub fn clean(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len().min(MAX_SHOWN + 32));
    let mut in_url = false;
    let mut skipping = false;
    for (at, c) in text.char_indices() {
        if c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '`' | '<' | '>' | ',') {
            in_url = false;
            skipping = false;
        } else if text[at..].starts_with("://") {
            in_url = true;
        } else if in_url && matches!(c, '?' | '#') {
            skipping = true;
        }
        if !skipping {
            cleaned.push(c);
        }
    }
    if cleaned.len() > MAX_SHOWN {
        let mut cut = MAX_SHOWN;
        while !cleaned.is_char_boundary(cut) {
            cut -= 1;
        }
        let dropped = cleaned.len() - cut;
        cleaned.truncate(cut);
        cleaned.push_str(&format!("… [{dropped} more bytes]"));
    }
    cleaned
}

/// The refusals of one call: the first [`FULL_DENIALS`] are recorded in full, the rest only
/// counted on `/metrics`, and one line sums them up when the call's hooks are dropped.
#[derive(Debug)]
pub struct DenialLog {
    caller: Caller,
    seen: AtomicU32,
}

impl DenialLog {
    /// The log of a call by `caller`.
    pub fn new(caller: Caller) -> Self {
        Self {
            caller,
            seen: AtomicU32::new(0),
        }
    }

    /// Records a refusal (in full while the call has had few).
    pub fn denied(&self, method: &http::Method, url: &str, kind: RefusalReason, reason: &str) {
        if self.seen.fetch_add(1, Ordering::Relaxed) < FULL_DENIALS {
            denied(&self.caller, method, url, kind, reason);
        } else {
            count_denial(&self.caller, kind);
        }
    }
}

impl Drop for DenialLog {
    fn drop(&mut self) {
        let seen = *self.seen.get_mut();
        if seen > FULL_DENIALS {
            tracing::warn!(
                target: "capstan::audit",
                decision = "denied",
                instance = %self.caller.instance,
                tool = %self.caller.tool,
                refused = seen,
                recorded = FULL_DENIALS,
                "egress denied {} more requests of this call than recorded above; see capstan_egress_denials_total for their reasons",
                seen - FULL_DENIALS
            );
        }
    }
}

fn count_denial(caller: &Caller, kind: RefusalReason) {
    let _ = count(caller, "denied");
    let labels = DenialLabels {
        instance: caller.instance.clone(),
        reason: kind.label(),
    };
    METRICS.denials.get_or_create(&labels).inc();
}

/// Records a refused request: the kind of refusal and the message explaining it.
pub fn denied(
    caller: &Caller,
    method: &http::Method,
    url: &str,
    kind: RefusalReason,
    reason: &str,
) {
    count_denial(caller, kind);
    tracing::warn!(
        target: "capstan::audit",
        decision = "denied",
        instance = %caller.instance,
        tool = %caller.tool,
        %method,
        url = clean(url),
        refusal = kind.label(),
        reason = clean(reason),
        "egress denied"
    );
}

/// Records an allowed request, sent at `started`, that failed before a response arrived;
/// `exchanged` says whether it carried a token exchanged for the caller.
pub fn failed(
    caller: &Caller,
    (target, started): (&str, Instant),
    method: &http::Method,
    url: &str,
    error: &str,
    exchanged: bool,
) {
    let _ = count(caller, "failed");
    observe_latency(caller, target, "failed", started);
    tracing::warn!(
        target: "capstan::audit",
        decision = "allowed",
        instance = %caller.instance,
        tool = %caller.tool,
        target,
        %method,
        url = clean(url),
        error = clean(error),
        exchanged,
        "egress failed"
    );
}

/// An allowed request whose response is being read; recorded once when the body ends or is
/// dropped, with the bytes the guest actually read.
#[derive(Debug)]
pub struct Exchange {
    caller: Caller,
    target: String,
    method: http::Method,
    url: String,
    status: u16,
    started: Instant,
    bytes: u64,
    outcome: &'static str,
    exchanged: bool,
}

impl Exchange {
    /// Starts the record of a response with `status` to a request sent at `started`, and
    /// observes the request's latency.
    pub fn new(
        caller: Caller,
        target: &str,
        method: http::Method,
        url: String,
        status: u16,
        started: Instant,
    ) -> Self {
        observe_latency(&caller, target, status_class(status), started);
        Self {
            caller,
            target: target.to_owned(),
            method,
            url,
            status,
            started,
            bytes: 0,
            outcome: "dropped before the end",
            exchanged: false,
        }
    }

    /// Notes whether the request carried a token exchanged for the caller.
    pub fn exchanged(mut self, exchanged: bool) -> Self {
        self.exchanged = exchanged;
        self
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let labels = count(&self.caller, "allowed");
        METRICS
            .response_bytes
            .get_or_create(&labels)
            .inc_by(self.bytes);
        tracing::info!(
            target: "capstan::audit",
            decision = "allowed",
            instance = %self.caller.instance,
            tool = %self.caller.tool,
            target = %self.target,
            method = %self.method,
            url = clean(&self.url),
            status = self.status,
            bytes = self.bytes,
            duration_ms = self.started.elapsed().as_millis() as u64,
            body = self.outcome,
            exchanged = self.exchanged,
            "egress"
        );
    }
}

/// A response body that keeps its [`Exchange`] up to date and records it at the end.
pub struct AuditedBody<B> {
    inner: B,
    exchange: Exchange,
}

impl<B> AuditedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, exchange: Exchange) -> Self {
        Self { inner, exchange }
    }
}

impl<B, E> Body for AuditedBody<B>
where
    B: Body<Data = Bytes, Error = E> + Unpin,
{
    type Data = Bytes;
    type Error = E;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, E>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.exchange.bytes += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.exchange.outcome = "failed",
            Poll::Ready(None) => self.exchange.outcome = "complete",
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaned_text_keeps_no_query_string_of_any_url() {
        let error = "error sending request for url (http://api.test:8080/api/v1/x?token=s3cret&a=b): connection refused";
        let cleaned = clean(error);
        assert_eq!(
            cleaned,
            "error sending request for url (http://api.test:8080/api/v1/x): connection refused"
        );
        assert_eq!(
            clean("the redirect target `https://a.test/b?c=d#e` does not parse"),
            "the redirect target `https://a.test/b` does not parse"
        );
        assert_eq!(clean("what? no URL here"), "what? no URL here");
    }

    #[test]
    fn cleaned_text_is_cut_to_its_cap_with_a_marker() {
        let long = format!("http://a.test/{}", "é".repeat(40_000));
        let cleaned = clean(&long);
        assert!(cleaned.len() < MAX_SHOWN + 64, "{}", cleaned.len());
        assert!(cleaned.ends_with("more bytes]"), "{cleaned}");
    }

    #[test]
    fn statuses_fall_in_their_class() {
        let classes: Vec<&str> = [101, 200, 204, 302, 404, 429, 500, 503, 99, 600]
            .into_iter()
            .map(status_class)
            .collect();
        assert_eq!(
            classes,
            [
                "1xx", "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx", "5xx", "5xx"
            ]
        );
    }

    #[test]
    fn latency_is_observed_by_instance_target_and_status_class() {
        let caller = Caller {
            instance: "audit-latency-test".into(),
            tool: "get".into(),
        };
        let started = Instant::now();
        drop(Exchange::new(
            caller.clone(),
            "up",
            http::Method::GET,
            "http://a.test/x?secret=1".into(),
            404,
            started,
        ));
        failed(
            &caller,
            ("up", started),
            &http::Method::GET,
            "http://a.test/y",
            "connection refused",
            false,
        );
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "capstan_egress_request_duration_seconds_count{instance=\"audit-latency-test\",target=\"up\",status_class=\"4xx\"} 1",
            "capstan_egress_request_duration_seconds_count{instance=\"audit-latency-test\",target=\"up\",status_class=\"failed\"} 1",
            "capstan_egress_request_duration_seconds_bucket{le=\"0.001\",instance=\"audit-latency-test\",target=\"up\",status_class=\"4xx\"}",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_call_records_its_first_refusals_and_counts_the_rest() {
        let log = DenialLog::new(Caller::default());
        for _ in 0..50 {
            log.denied(
                &http::Method::GET,
                "http://x.test/",
                RefusalReason::OutsideTargets,
                "no",
            );
        }
        assert_eq!(log.seen.load(Ordering::Relaxed), 50);
    }
}
