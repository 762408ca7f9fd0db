//! W3C Trace Context for capstan's spans: the parent a tool call continues (the MCP request's
//! `params._meta.traceparent`, else its HTTP `traceparent` header; malformed values are
//! ignored), and the `traceparent`/`tracestate` the egress hook sends upstream in place of any a
//! plugin set. Spans are `tracing` spans with target [`TARGET`]; `telemetry` exports them over
//! OTLP when traces are on, and otherwise no subscriber enables them (their callsites are off).

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The `tracing` target of every span meant for export (and only those).
pub const TARGET: &str = "capstan::trace";

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The remote parent a call continues: `_meta`'s trace context when it is valid, else the HTTP
/// headers' when they are; `None` when neither carries a valid `traceparent`.
pub fn remote_parent(
    headers: &HeaderMap,
    meta: &Map<String, Value>,
) -> Option<opentelemetry::Context> {
    let from_meta = carrier(
        meta.get(TRACEPARENT).and_then(Value::as_str),
        meta.get(TRACESTATE).and_then(Value::as_str),
    );
    let from_headers = carrier(
        headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()),
        headers.get(TRACESTATE).and_then(|v| v.to_str().ok()),
    );
    [from_meta, from_headers]
        .into_iter()
        .flatten()
        .find_map(|carrier| extract(&carrier))
}

/// Makes `span` continue `parent` (a no-op when traces are off or `parent` is `None`).
pub fn continue_from(span: &tracing::Span, parent: Option<opentelemetry::Context>) {
    if let Some(parent) = parent {
        // Fails only when the span is disabled (traces off): nothing to continue then.
        let _ = span.set_parent(parent);
    }
}

/// Sets the current span's trace context on an outgoing request, replacing any
/// `traceparent`/`tracestate` already there; leaves `headers` alone when the current span is
/// not exported (traces off).
pub fn inject_current(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    let span = context.span();
    replace(headers, span.span_context());
}

/// Puts `span`'s `traceparent` (and `tracestate`, if any) on `headers` in place of what was
/// there; does nothing for an invalid span context.
pub fn replace(headers: &mut HeaderMap, span: &SpanContext) {
    if !span.is_valid() {
        return;
    }
    headers.remove(TRACEPARENT);
    headers.remove(TRACESTATE);
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    );
    insert(headers, TRACEPARENT, traceparent);
    let state = span.trace_state().header();
    if !state.is_empty() {
        insert(headers, TRACESTATE, state);
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// A carrier for the propagator, present only when a well-formed `traceparent` is.
fn carrier(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<HashMap<String, String>> {
    let traceparent = traceparent.filter(|value| well_formed(value))?;
    let mut carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    if let Some(state) = tracestate {
        carrier.insert(TRACESTATE.to_owned(), state.to_owned());
    }
    Some(carrier)
}

/// Whether `traceparent` has the W3C shape: `version-traceid-parentid-flags` of 2, 32, 16 and 2
/// lowercase hex digits (the propagator alone would pad a short trace id); version `00` has
/// exactly these four fields, later versions may add more, `ff` is invalid.
fn well_formed(traceparent: &str) -> bool {
    let fields: Vec<&str> = traceparent.trim().split('-').collect();
    let hex = |field: &str| {
        field
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let shaped = fields.len() >= 4
        && fields
            .iter()
            .zip([2, 32, 16, 2])
            .all(|(field, length)| field.len() == length && hex(field));
    shaped && fields[0] != "ff" && (fields[0] != "00" || fields.len() == 4)
}

/// The remote context in `carrier`, if its `traceparent` is valid (ids not all zero).
fn extract(carrier: &HashMap<String, String>) -> Option<opentelemetry::Context> {
    let context = TraceContextPropagator::new().extract(carrier);
    context.span().span_context().is_valid().then_some(context)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
    use serde_json::json;

    use super::*;

    const HEADER_PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const META_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    fn meta(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn parent_of(context: Option<opentelemetry::Context>) -> Option<(String, String)> {
        let context = context?;
        let span = context.span();
        let span = span.span_context();
        Some((span.trace_id().to_string(), span.span_id().to_string()))
    }

    #[test]
    fn the_header_gives_the_parent_when_meta_has_none() {
        let parent = remote_parent(&headers(&[(TRACEPARENT, HEADER_PARENT)]), &Map::new());
        assert_eq!(
            parent_of(parent),
            Some((
                "0af7651916cd43dd8448eb211c80319c".into(),
                "b7ad6b7169203331".into()
            ))
        );
    }

    #[test]
    fn meta_gives_the_parent_and_wins_over_the_header() {
        let parent = remote_parent(
            &headers(&[(TRACEPARENT, HEADER_PARENT)]),
            &meta(json!({"traceparent": META_PARENT, "tracestate": "vendor=x"})),
        );
        let context = parent.unwrap();
        let span = context.span();
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_context().trace_state().header(), "vendor=x");
        assert!(span.span_context().is_remote());
    }

    #[test]
    fn malformed_values_are_ignored() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
        ] {
            assert_eq!(
                parent_of(remote_parent(&headers(&[(TRACEPARENT, bad)]), &Map::new())),
                None,
                "{bad:?}"
            );
        }
        let header_wins_over_bad_meta = remote_parent(
            &headers(&[(TRACEPARENT, HEADER_PARENT)]),
            &meta(json!({"traceparent": "nonsense"})),
        );
        assert_eq!(
            parent_of(header_wins_over_bad_meta).unwrap().1,
            "b7ad6b7169203331"
        );
        let not_a_string = remote_parent(&HeaderMap::new(), &meta(json!({"traceparent": 7})));
        assert!(not_a_string.is_none());
    }

    #[test]
    fn the_hosts_trace_context_replaces_what_the_plugin_set() {
        let mut outgoing = headers(&[
            (TRACEPARENT, HEADER_PARENT),
            (TRACESTATE, "forged=1"),
            ("accept", "application/json"),
        ]);
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        replace(&mut outgoing, &span);
        assert_eq!(outgoing.get_all(TRACEPARENT).iter().count(), 1);
        assert_eq!(outgoing[TRACEPARENT], META_PARENT);
        assert!(outgoing.get(TRACESTATE).is_none());
        assert_eq!(outgoing["accept"], "application/json");
    }

    #[test]
    fn without_a_span_the_plugins_headers_stay() {
        let mut outgoing = headers(&[(TRACEPARENT, HEADER_PARENT)]);
        replace(&mut outgoing, &SpanContext::empty_context());
        assert_eq!(outgoing[TRACEPARENT], HEADER_PARENT);
        inject_current(&mut outgoing);
        assert_eq!(outgoing[TRACEPARENT], HEADER_PARENT);
    }
}
