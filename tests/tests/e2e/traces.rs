//! Traces: with `--otlp-endpoint`, a tool call's spans reach an OTLP/HTTP collector (a real
//! receiver here, decoding the protobuf bodies with the official definitions) in the caller's
//! trace: `tools/call` → (policy, sandbox → egress), with the MCP semantic-convention
//! attributes and nothing the caller sent as an argument; the upstream gets the host's
//! `traceparent` (the egress span as parent), never the one the plugin wrote.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, params, text};
use capstan_tests::upstream::Upstream;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use rmcp::model::{MetaObject, RequestMetaObject};
use serde_json::json;

/// The caller's trace, sent as the HTTP `traceparent` header on every request.
const HEADER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const HEADER_PARENT: &str = "b7ad6b7169203331";
/// The trace of the second call, in its `params._meta` (which wins over the header).
const META_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const META_PARENT: &str = "00f067aa0ba902b7";
/// What the plugin tries to send upstream as its own trace context.
const FORGED: &str = "00-11111111111111111111111111111111-2222222222222222-01";
/// Values the spans must never carry.
const SECRETS: [&str; 2] = ["query-secret-7c1e", "forged-state-3a9d"];

/// A collector: every span posted to `/v1/traces`, with its resource's `service.name`.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

impl Collector {
    async fn start(&self) -> SocketAddr {
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until a span of each name in `names` arrived, for at most `limit`.
    async fn wait_for(&self, names: &[String], limit: Duration) -> Vec<(String, Span)> {
        let started = Instant::now();
        loop {
            let spans = self.spans();
            let arrived = |name: &String| spans.iter().any(|(_, span)| &span.name == name);
            if names.iter().all(arrived) {
                return spans;
            }
            let seen: Vec<&str> = spans.iter().map(|(_, span)| span.name.as_str()).collect();
            assert!(
                started.elapsed() < limit,
                "spans {names:?} never all arrived; got {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(State(collector): State<Collector>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    let mut spans = collector.spans.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .as_ref()
            .and_then(|resource| string(&resource.attributes, "service.name"))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
        }
    }
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    ([(header::CONTENT_TYPE, "application/x-protobuf")], answer).into_response()
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value: &AnyValue| value.value.as_ref())
}

fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match value(attributes, key)? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match value(attributes, key)? {
        any_value::Value::IntValue(number) => Some(*number),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The one span named `name` in trace `trace`.
fn span<'a>(spans: &'a [(String, Span)], trace: &str, name: &str) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .map(|(_, span)| span)
        .filter(|span| span.name == name && hex(&span.trace_id) == trace)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one span `{name}` in trace {trace}: {found:#?}"
    );
    found[0]
}

/// Checks the tree of one `probe_fetch` call in `trace` under the caller's span `parent`, and
/// returns the egress span.
fn check_call_tree<'a>(spans: &'a [(String, Span)], trace: &str, parent: &str) -> &'a Span {
    let request = span(spans, trace, "tools/call probe_fetch");
    let policy = span(spans, trace, "policy");
    let sandbox = span(spans, trace, "sandbox fetch");
    let egress = span(spans, trace, "GET up");
    assert_eq!(hex(&request.parent_span_id), parent);
    assert_eq!(policy.parent_span_id, request.span_id);
    assert_eq!(sandbox.parent_span_id, request.span_id);
    assert_eq!(egress.parent_span_id, sandbox.span_id);

    assert_eq!(request.kind, SpanKind::Server as i32);
    let attributes = &request.attributes;
    assert_eq!(
        string(attributes, "mcp.method.name").as_deref(),
        Some("tools/call")
    );
    assert_eq!(
        string(attributes, "gen_ai.tool.name").as_deref(),
        Some("probe_fetch")
    );
    assert_eq!(
        string(attributes, "capstan.instance").as_deref(),
        Some("probe")
    );
    assert!(
        string(attributes, "jsonrpc.request.id").is_some(),
        "{attributes:?}"
    );
    assert_eq!(
        string(&policy.attributes, "capstan.policy.outcome").as_deref(),
        Some("allow")
    );
    assert_eq!(
        string(&sandbox.attributes, "capstan.instance").as_deref(),
        Some("probe")
    );
    assert_eq!(
        string(&sandbox.attributes, "capstan.plugin.tool").as_deref(),
        Some("fetch")
    );

    assert_eq!(egress.kind, SpanKind::Client as i32);
    let attributes = &egress.attributes;
    assert_eq!(
        string(attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(int(attributes, "http.response.status_code"), Some(200));
    assert_eq!(
        string(attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(string(attributes, "capstan.target").as_deref(), Some("up"));
    assert!(int(attributes, "server.port").is_some(), "{attributes:?}");
    egress
}

#[tokio::test]
async fn a_calls_spans_reach_the_collector_in_the_callers_trace_and_upstream_gets_the_hosts_traceparent()
 {
    let collector = Collector::default();
    let receiver = collector.start().await;
    let upstream = Upstream::http().await;
    let plugins = PluginDir::new();
    let manifest = format!(
        "[[targets]]\nname = \"up\"\nurl = \"{}/api\"",
        upstream.url()
    );
    plugins.manifest("probe", "probe", &manifest);
    let mut capstan = Capstan::start_with(
        &plugins,
        Options {
            args: vec!["--otlp-endpoint".into(), format!("http://{receiver}")],
            ..Options::default()
        },
    );
    let traceparent = format!("00-{HEADER_TRACE}-{HEADER_PARENT}-01");
    let client = Client::connect_with_headers(&capstan.url(), &[("traceparent", &traceparent)])
        .await
        .unwrap();
    let [query, state] = SECRETS;
    let arguments = json!({
        "url": format!("{}/api/v1/items?q={query}", upstream.url()),
        "headers": {"traceparent": FORGED, "tracestate": state},
    });
    let fetched = client.call("probe_fetch", arguments.clone()).await.unwrap();
    assert!(!is_error(&fetched), "{}", text(&fetched));
    let mut with_meta = params("probe_fetch", arguments);
    let meta = json!({"traceparent": format!("00-{META_TRACE}-{META_PARENT}-01")});
    with_meta.meta = Some(RequestMetaObject(MetaObject(
        meta.as_object().unwrap().clone(),
    )));
    let fetched = client.service().call_tool(with_meta).await.unwrap();
    assert!(!is_error(&fetched), "{}", text(&fetched));
    client.close().await;

    // The batch is sent at shutdown: the last spans are flushed before capstan exits.
    capstan.terminate();
    let exited = capstan.wait_exit(Duration::from_secs(30));
    assert!(exited.is_some_and(|status| status.success()), "{exited:?}");
    let names = [
        "tools/call probe_fetch",
        "policy",
        "sandbox fetch",
        "GET up",
    ]
    .map(String::from);
    let spans = collector.wait_for(&names, Duration::from_secs(10)).await;

    let from_header = check_call_tree(&spans, HEADER_TRACE, HEADER_PARENT);
    let from_meta = check_call_tree(&spans, META_TRACE, META_PARENT);
    for (service, span) in &spans {
        assert_eq!(service, "capstan");
        let printed = format!("{span:?}");
        for secret in SECRETS.iter().chain([&"2222222222222222"]) {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    let seen = upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (request, egress) in seen.iter().zip([from_header, from_meta]) {
        let expected = format!("00-{}-{}-01", hex(&egress.trace_id), hex(&egress.span_id));
        assert_eq!(request.values("traceparent"), [expected]);
        assert!(request.values("tracestate").is_empty(), "{request:?}");
        assert!(!request.mentions(FORGED), "{request:?}");
    }
}
