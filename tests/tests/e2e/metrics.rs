//! `/metrics` worth a dashboard: real tool calls and egress requests show up in the series
//! operators graph, labelled by instance, tool, outcome, target and status class, and never by
//! what a caller sent; and every metric the Grafana dashboard asks for is one capstan serves.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::paths::repo_root;
use capstan_tests::upstream::Upstream;
use serde_json::{Value, json};

/// Argument values the scrape must never show.
const SECRETS: [&str; 4] = [
    "echo-argument-4f1c",
    "not-a-number-8d2e",
    "query-value-5b7a",
    "refused-path-9c3d",
];

/// A capstan serving the probe with one target `up` on a loopback upstream that wants a token
/// on `/api/ok` (so a request there without one answers 401).
async fn probe_with_target() -> (Upstream, PluginDir, Capstan) {
    let upstream = Upstream::builder().token("upstream-token").start().await;
    let plugins = PluginDir::new();
    let manifest = format!(
        "[[targets]]\nname = \"up\"\nurl = \"{}/api\"",
        upstream.url()
    );
    plugins.manifest("probe", "probe", &manifest);
    let capstan = Capstan::start(&plugins);
    (upstream, plugins, capstan)
}

/// One call of each kind the dashboard shows: ok, refused by validation, answered as an error
/// (a request outside the targets, refused by the egress gate), crashed, and two requests that
/// reach the upstream (200 and 401); plus a call of a tool nobody serves.
async fn make_calls(client: &Client, upstream: &Upstream) {
    let [echoed, wrong, query, refused] = SECRETS;
    let ok = client
        .call("probe_echo", json!({"text": echoed}))
        .await
        .unwrap();
    assert!(!is_error(&ok), "{}", text(&ok));
    let invalid = client
        .call("probe_echo", json!({"text": "x", "times": wrong}))
        .await
        .unwrap();
    assert!(is_error(&invalid) && text(&invalid).contains("invalid arguments"));
    let outside = client
        .call(
            "probe_fetch",
            json!({"url": format!("http://127.0.0.1:9/{refused}?token={query}")}),
        )
        .await
        .unwrap();
    assert!(is_error(&outside), "{}", text(&outside));
    let crashed = client.call("probe_panic", json!({})).await.unwrap();
    assert!(is_error(&crashed), "{}", text(&crashed));
    let url = upstream.url();
    for (path, status) in [
        (format!("/api/v1/items?q={query}"), 200),
        ("/api/ok".into(), 401),
    ] {
        let fetched = client
            .call("probe_fetch", json!({"url": format!("{url}{path}")}))
            .await
            .unwrap();
        assert!(!is_error(&fetched), "{}", text(&fetched));
        assert_eq!(
            fetched.structured_content.as_ref().unwrap()["status"],
            status
        );
    }
    assert!(client.call("probe_nothing_here", json!({})).await.is_err());
}

/// The value of the sample `series` (name and labels as capstan writes them), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

fn assert_sample(metrics: &str, series: &str, expected: f64) {
    assert_eq!(
        sample(metrics, series),
        Some(expected),
        "{series} in:\n{metrics}"
    );
}

/// Scrapes until `series` has `expected` (a gauge that follows a closing connection), for at
/// most `limit`.
fn wait_for_sample(capstan: &Capstan, series: &str, expected: f64, limit: Duration) {
    let started = Instant::now();
    loop {
        let metrics = capstan.metrics();
        if sample(&metrics, series) == Some(expected) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{series} never became {expected}:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn calls_egress_and_sessions_are_counted_without_what_callers_sent() {
    let (upstream, _plugins, capstan) = probe_with_target().await;
    let client = Client::connect(&capstan.url()).await.unwrap();
    make_calls(&client, &upstream).await;
    let metrics = capstan.metrics();

    let calls = |tool: &str, outcome: &str| {
        format!(
            "capstan_tool_calls_total{{instance=\"probe\",tool=\"{tool}\",outcome=\"{outcome}\"}}"
        )
    };
    for (tool, outcome, count) in [
        ("probe_echo", "ok", 1.0),
        ("probe_echo", "validation", 1.0),
        ("probe_fetch", "error", 1.0),
        ("probe_fetch", "ok", 2.0),
        ("probe_panic", "trap", 1.0),
    ] {
        assert_sample(&metrics, &calls(tool, outcome), count);
    }
    let histogram = |name: &str, labels: &str, part: &str| format!("{name}_{part}{{{labels}}}");
    for (tool, calls, ran) in [
        ("probe_echo", 2.0, 1.0),
        ("probe_fetch", 3.0, 3.0),
        ("probe_panic", 1.0, 1.0),
    ] {
        let labels = format!("instance=\"probe\",tool=\"{tool}\"");
        let whole = "capstan_tool_call_duration_seconds";
        let sandbox = "capstan_tool_sandbox_duration_seconds";
        assert_sample(&metrics, &histogram(whole, &labels, "count"), calls);
        assert_sample(&metrics, &histogram(sandbox, &labels, "count"), ran);
        let bucket = format!("{whole}_bucket{{le=\"+Inf\",{labels}}}");
        assert_sample(&metrics, &bucket, calls);
    }
    for class in ["2xx", "4xx"] {
        let labels = format!("instance=\"probe\",target=\"up\",status_class=\"{class}\"");
        let egress = "capstan_egress_request_duration_seconds";
        assert_sample(&metrics, &histogram(egress, &labels, "count"), 1.0);
    }
    assert_sample(
        &metrics,
        "capstan_egress_denials_total{instance=\"probe\",reason=\"outside_targets\"}",
        1.0,
    );
    for (series, value) in [
        ("capstan_instance_calls_in_flight{instance=\"probe\"}", 0.0),
        ("capstan_instance_calls_queued{instance=\"probe\"}", 0.0),
        ("capstan_sandbox_slots", 256.0),
        ("capstan_sandbox_slots_in_use", 0.0),
        ("capstan_mcp_sessions", 1.0),
        ("capstan_mcp_listen_streams", 0.0),
    ] {
        assert_sample(&metrics, series, value);
    }
    assert!(
        sample(
            &metrics,
            "capstan_instance_concurrency_limit{instance=\"probe\"}"
        )
        .is_some_and(|limit| limit >= 1.0),
        "{metrics}"
    );

    let upstream_address = upstream.address().to_string();
    for leak in
        SECRETS
            .iter()
            .copied()
            .chain(["probe_nothing_here", "upstream-token", &upstream_address])
    {
        assert!(!metrics.contains(leak), "`{leak}` in:\n{metrics}");
    }

    client.close().await;
    let closed = Duration::from_secs(10);
    wait_for_sample(&capstan, "capstan_mcp_sessions", 0.0, closed);
}

/// A 2026-07-28 `subscriptions/listen` stream counts while it is open.
#[tokio::test]
async fn open_listen_streams_are_counted() {
    use std::io::{Read as _, Write as _};
    let (_upstream, _plugins, capstan) = probe_with_target().await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": true},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}})
    .to_string();
    // A bare connection, so that dropping it closes the socket at once.
    let mut stream = std::net::TcpStream::connect(capstan.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nMcp-Protocol-Version: 2026-07-28\r\n\
         Mcp-Method: subscriptions/listen\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("subscriptions/acknowledged") {
        let read = stream.read(&mut buffer).expect("the stream's first event");
        assert!(read > 0, "{}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
    let limit = Duration::from_secs(10);
    wait_for_sample(&capstan, "capstan_mcp_listen_streams", 1.0, limit);
    drop(stream);
    wait_for_sample(&capstan, "capstan_mcp_listen_streams", 0.0, limit);
}

/// The PromQL expressions of `deploy/grafana/capstan.json`: every target's `expr` (rows'
/// panels included) and every query variable's `query`.
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    fn panels(panel: &Value, into: &mut Vec<String>) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                into.push(expr.to_owned());
            }
        }
        for inner in panel["panels"].as_array().into_iter().flatten() {
            panels(inner, into);
        }
    }
    let mut expressions = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("the dashboard's panels")
    {
        panels(panel, &mut expressions);
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = &variable["query"];
            let text = query["query"]
                .as_str()
                .or(query.as_str())
                .unwrap_or_default();
            expressions.push(text.to_owned());
        }
    }
    expressions
}

/// The `capstan_*` names in a PromQL expression.
fn metric_names(expression: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expression;
    while let Some(at) = rest.find("capstan_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// The sample names of an exposition (`capstan_x_total`, `capstan_y_bucket`, ...).
fn served_names(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_dashboard_asks_only_for_metrics_capstan_serves() {
    let file = repo_root().join("deploy/grafana/capstan.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
        .expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "capstan");
    let expressions = dashboard_expressions(&dashboard);
    let used: BTreeSet<String> = expressions
        .iter()
        .flat_map(|expression| metric_names(expression))
        .collect();
    assert!(used.len() >= 12, "the dashboard uses only {used:?}");

    let (upstream, _plugins, capstan) = probe_with_target().await;
    let client = Client::connect(&capstan.url()).await.unwrap();
    make_calls(&client, &upstream).await;
    let served = served_names(&capstan.metrics());
    let unknown: Vec<&String> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard asks for {unknown:?}, which capstan does not serve; it serves {served:?}"
    );
    for wanted in [
        "capstan_tool_calls_total",
        "capstan_tool_call_duration_seconds_bucket",
        "capstan_egress_request_duration_seconds_bucket",
        "capstan_instance_calls_in_flight",
        "capstan_instance_calls_queued",
        "capstan_sandbox_slots_in_use",
        "capstan_reloads_total",
        "capstan_auth_refusals_total",
    ] {
        assert!(used.contains(wanted), "the dashboard shows no {wanted}");
    }
}
