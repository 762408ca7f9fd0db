//! MCP behaviour: listing, schemas, validation, structured results, progress, logs, prompts,
//! both protocol generations, and the HTTP guards.

use std::time::Duration;

use capstan_tests::capstan::{Capstan, Options, PluginDir, http_get};
use capstan_tests::client::{Client, is_error, text};
use rmcp::model::ProtocolVersion;
use serde_json::json;

use super::probe_server;

#[tokio::test]
async fn tools_are_listed_in_name_order_with_schemas_and_annotations() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let tools = client.tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(
        names.contains(&"probe_echo") && names.contains(&"probe_mutate"),
        "{names:?}"
    );
    let echo = tools.iter().find(|t| t.name == "probe_echo").unwrap();
    assert_eq!(echo.input_schema["required"], json!(["text"]));
    assert!(echo.output_schema.is_some());
    let hints = echo.annotations.as_ref().unwrap();
    assert_eq!(hints.read_only_hint, Some(true));
    assert_eq!(hints.open_world_hint, Some(false));
    let mutate = tools.iter().find(|t| t.name == "probe_mutate").unwrap();
    assert_eq!(
        mutate.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
}

#[tokio::test]
async fn invalid_arguments_are_refused_before_the_plugin_runs() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let missing = client.call("probe_echo", json!({})).await.unwrap();
    assert!(is_error(&missing));
    assert!(text(&missing).contains("text"), "{}", text(&missing));
    let wrong_type = client
        .call("probe_echo", json!({"text": "x", "times": "many"}))
        .await
        .unwrap();
    assert!(is_error(&wrong_type));
    assert!(
        text(&wrong_type).contains("argument `times`"),
        "{}",
        text(&wrong_type)
    );
    let extra = client
        .call("probe_echo", json!({"text": "x", "evil": true}))
        .await
        .unwrap();
    assert!(is_error(&extra));
    assert!(text(&extra).contains("evil"), "{}", text(&extra));
}

#[tokio::test]
async fn unknown_tools_are_protocol_errors() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let error = client
        .call("probe_nope", json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown tool"), "{error}");
}

#[tokio::test]
async fn structured_results_carry_a_text_copy() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let result = client
        .call("probe_echo", json!({"text": "ab", "times": 2}))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"echo": "abab"})));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text(&result)).unwrap(),
        json!({"echo": "abab"})
    );
}

#[tokio::test]
async fn progress_reaches_a_client_that_asked_for_it() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let result = client
        .call_with_progress("probe_progress", json!({"steps": 3, "delay_ms": 10}), "p-1")
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
    assert!(
        client
            .wait_for(Duration::from_secs(5), |r| r.progress.len() == 3)
            .await,
        "{:?}",
        client.recorded()
    );
    let progress = client.recorded().progress;
    let done: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    assert_eq!(done, vec![1.0, 2.0, 3.0]);
    assert_eq!(progress[2].total, Some(3.0));
    assert_eq!(progress[0].message.as_deref(), Some("step 1 of 3"));
}

#[tokio::test]
#[allow(deprecated)] // MCP logging is deprecated in 2026-07-28 but is how sessions get plugin logs.
async fn plugin_logs_reach_the_client_and_the_host_log() {
    let (_plugins, capstan, client) = probe_server("").await;
    client
        .call(
            "probe_log",
            json!({"message": "hello from the guest", "level": "warn"}),
        )
        .await
        .unwrap();
    assert!(
        client
            .wait_for(Duration::from_secs(5), |r| !r.logs.is_empty())
            .await
    );
    let log = &client.recorded().logs[0];
    assert_eq!(log.data, json!("hello from the guest"));
    assert_eq!(log.logger.as_deref(), Some("probe/log"));
    assert!(capstan.log_text().contains("hello from the guest"));
}

#[tokio::test]
async fn cancelling_a_call_stops_the_guest() {
    let limits = "[limits]\ntimeout = \"30s\"\nmax_concurrency = 1\nmax_queue = 0";
    let (_plugins, capstan, client) = probe_server(limits).await;
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(
        rmcp::model::CallToolRequestParams::new("probe_spin"),
    ));
    let handle = client
        .service()
        .send_cancellable_request(request, Default::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel(Some("test".into())).await.unwrap();
    // The instance runs one call at a time and queues none: the noop only runs once the
    // cancelled spin (which would otherwise hold the slot for 30 s) has been stopped.
    let mut freed = false;
    for _ in 0..50 {
        let after = client.call("probe_noop", json!({})).await.unwrap();
        if text(&after) == "ok" {
            freed = true;
            break;
        }
        assert!(
            text(&after).contains("concurrency limit"),
            "{}",
            text(&after)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        freed,
        "the cancelled call kept running; log:\n{}",
        capstan.log_text()
    );
}

#[tokio::test]
async fn both_protocol_generations_are_served() {
    let (_plugins, capstan, legacy) = probe_server("").await;
    assert_eq!(
        legacy.protocol_version(),
        Some(ProtocolVersion::V_2025_11_25)
    );
    let modern = Client::connect_version(&capstan.url(), ProtocolVersion::V_2026_07_28)
        .await
        .unwrap();
    let result = modern
        .call("probe_echo", json!({"text": "new"}))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"echo": "new"})));
}

#[tokio::test]
async fn stateless_mode_serves_without_sessions() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            args: vec!["--stateless".into()],
            ..Default::default()
        },
    );
    let modern = Client::connect_version(&capstan.url(), ProtocolVersion::V_2026_07_28)
        .await
        .unwrap();
    assert_eq!(
        text(&modern.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
    let get = http_get(capstan.address(), "/mcp").unwrap();
    assert!(get.starts_with("HTTP/1.1 405"), "{get}");
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (_plugins, capstan, _client) = probe_server("").await;
    let client = capstan_tests::http_client();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |origin: Option<&str>, host: Option<&str>| {
        let mut request = client
            .post(capstan.url())
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(host) = host {
            request = request.header("host", host);
        }
        request.send()
    };
    assert_eq!(
        post(Some("http://evil.example.com"), None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(None, Some("evil.example.com")).await.unwrap().status(),
        403
    );
    let own_origin = format!("http://{}", capstan.address());
    assert_eq!(post(Some(&own_origin), None).await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_inbound_token_is_required_when_configured() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let token = "0123456789abcdef-test-token";
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("CAPSTAN_AUTH_TOKEN".into(), token.into())],
            ..Default::default()
        },
    );
    let denied = capstan_tests::http_client()
        .post(capstan.url())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    assert!(denied.headers().contains_key("www-authenticate"));
    assert!(Client::connect(&capstan.url()).await.is_err());
    let health = http_get(capstan.address(), "/healthz").unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        !capstan.log_text().contains(token),
        "the token leaked into the log"
    );
}

#[tokio::test]
async fn non_loopback_binding_needs_a_token_or_an_explicit_opt_out() {
    let output = std::process::Command::new(capstan_tests::paths::capstan_bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--plugins", "."])
        .env_remove("CAPSTAN_AUTH_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--allow-unauthenticated") && stderr.contains("--auth-token-file"),
        "{stderr}"
    );
}

/// A bare GET with the given `Host` header; returns the status line.
fn status_with_host(address: std::net::SocketAddr, path: &str, host: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn metrics_move_to_their_own_address_and_probes_pass_the_host_check() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let metrics_address = capstan_tests::capstan::free_address();
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            args: vec!["--metrics-listen".into(), metrics_address.to_string()],
            ..Default::default()
        },
    );
    let metrics = http_get(metrics_address, "/metrics").expect("/metrics on its own address");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("capstan_reloads_total"), "{metrics}");
    let main = http_get(capstan.address(), "/metrics").expect("/metrics on the main address");
    assert!(main.starts_with("HTTP/1.1 404"), "{main}");

    for (path, address) in [
        ("/readyz", capstan.address()),
        ("/metrics", metrics_address),
    ] {
        let rebound = status_with_host(address, path, "evil.example");
        assert!(
            rebound.contains(" 403"),
            "{path} with a foreign Host: {rebound}"
        );
        let by_pod_ip = status_with_host(address, path, "10.244.3.17:8931");
        assert!(
            by_pod_ip.contains(" 200"),
            "{path} addressed by IP: {by_pod_ip}"
        );
    }
}

/// A tool argument marked `x-mcp-header` (SEP-2243) travels as an `Mcp-Param-*` header too: the
/// rmcp client mirrors it, and a request whose header is missing or disagrees with the body is
/// refused with HTTP 400 and `-32020` before any plugin runs.
#[tokio::test]
async fn mirrored_parameters_must_match_their_headers() {
    let plugins = PluginDir::new();
    plugins.manifest("conformance", "conformance", "prefix = \"\"");
    let capstan = Capstan::start(&plugins);
    let modern = Client::connect_version(&capstan.url(), ProtocolVersion::V_2026_07_28)
        .await
        .unwrap();
    let mirrored = modern
        .call("test_custom_header", json!({"region": "eu-west"}))
        .await
        .unwrap();
    assert_eq!(text(&mirrored), "region: eu-west");

    let http = capstan_tests::http_client();
    let call = |header: Option<&'static str>| {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "test_custom_header", "arguments": {"region": "eu-west"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}});
        let mut request = http
            .post(capstan.url())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "test_custom_header")
            .json(&body);
        if let Some(value) = header {
            request = request.header("mcp-param-region", value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, body) = call(Some("eu-west")).await;
    assert_eq!(status, 200, "{body}");
    // `eu-west` in Base64, as clients send values that cannot travel bare.
    let (status, body) = call(Some("=?base64?ZXUtd2VzdA==?=")).await;
    assert_eq!(status, 200, "{body}");
    for header in [Some("us-east"), None, Some("=?base64?ZXUtd2VzdA?=")] {
        let (status, body) = call(header).await;
        assert_eq!(status, 400, "{header:?}: {body}");
        assert!(body.contains("-32020"), "{header:?}: {body}");
    }
}

#[tokio::test]
async fn a_prompt_that_asks_the_person_is_answered_through_a_2025_11_25_session() {
    use capstan_tests::client::ClientOptions;
    use rmcp::model::GetPromptRequestParams;
    let plugins = PluginDir::new();
    plugins.manifest("conformance", "conformance", "prefix = \"\"");
    let capstan = Capstan::start(&plugins);
    let options = ClientOptions {
        answer: Some(true),
        ..Default::default()
    };
    let client = Client::connect_with(&capstan.url(), &options)
        .await
        .unwrap();
    assert_eq!(
        client.protocol_version(),
        Some(ProtocolVersion::V_2025_11_25)
    );
    let prompt = client
        .service()
        .get_prompt(GetPromptRequestParams::new(
            "test_input_required_result_prompt",
        ))
        .await
        .unwrap();
    let said = &prompt.messages[0]
        .content
        .as_text()
        .expect("a text message")
        .text;
    assert!(said.starts_with("Prompt with context"), "{said}");
    assert_eq!(
        client.recorded().questions,
        ["What context should the prompt use?"],
        "capstan asked the client itself, on the session"
    );
}
