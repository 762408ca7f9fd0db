//! Property tests for the MCP input paths: any body, any JSON-RPC message with any params, to
//! a stateful session or a stateless request, answered by the real app with a real probe
//! instance behind it. None may panic the host, none may get a 5xx, and the app answers a
//! `ping` afterwards.
//!
//! Cases default to proptest's 256 (`PROPTEST_CASES` raises them; `./dev bench` runs many
//! more).

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use capstan::mcp::http::{HttpOptions, app};
use capstan::mcp::notify::Broadcaster;
use capstan::mcp::server::{McpServer, ServeOptions};
use capstan::metrics::Metrics;
use capstan::registry::{LoadOptions, LoadStatus, Registry, load_snapshot};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use crate::common;

struct World {
    runtime: Runtime,
    stateful: Router,
    stateless: Router,
    _plugins: tempfile::TempDir,
}

/// One runtime, one probe instance and both kinds of app for every case.
static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let plugins = tempfile::tempdir().unwrap();
    common::manifest(plugins.path(), "probe", "probe", "prefix = \"\"");
    let options = LoadOptions {
        plugin_dirs: vec![plugins.path().to_path_buf()],
        egress: Default::default(),
        distribution: Default::default(),
    };
    let snapshot = runtime.block_on(load_snapshot(&common::runtime(), &options));
    assert!(snapshot.failures().is_empty(), "{:?}", snapshot.failures());
    let registry = Arc::new(Registry::new(snapshot));
    let build = |stateless: bool| {
        let _guard = runtime.enter();
        let server = McpServer::new(
            registry.clone(),
            Broadcaster::default(),
            ServeOptions::default(),
        );
        let options = HttpOptions {
            stateless,
            ..HttpOptions::default()
        };
        app(
            server,
            Arc::new(LoadStatus::default()),
            Arc::new(Metrics::default()),
            &options,
            CancellationToken::new(),
        )
    };
    World {
        stateful: build(false),
        stateless: build(true),
        runtime,
        _plugins: plugins,
    }
});

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["noop", "echo", "text", "times", "key", "", "../x"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "name",
                    "arguments",
                    "text",
                    "times",
                    "key",
                    "uri",
                    "_meta",
                    "cursor",
                    "progressToken",
                    "level",
                    "ref",
                    "argument",
                    "requestState",
                    "inputResponses",
                    "taskId",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/read",
        "resources/templates/list",
        "resources/subscribe",
        "completion/complete",
        "logging/setLevel",
        "tasks/get",
        "tasks/list",
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "x/unknown",
        "",
    ])
}

fn tool_call() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["noop", "echo", "config", "mutate", "log", "nope", ""]),
        prop::option::of(json_value()),
    )
        .prop_map(|(name, arguments)| {
            let mut params = json!({ "name": name });
            if let Some(arguments) = arguments {
                params["arguments"] = arguments;
            }
            params
        })
}

fn id() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        any::<i64>().prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
        Just(Value::Null),
        json_value(),
    ])
}

/// A body: a JSON-RPC message of any shape, a batch, or bytes that are not JSON at all.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        method(),
        prop_oneof![tool_call(), json_value()],
        id(),
        any::<bool>(),
    )
        .prop_map(|(method, params, id, with_params)| {
            let mut message = json!({ "jsonrpc": "2.0", "method": method });
            if with_params {
                message["params"] = params;
            }
            if let Some(id) = id {
                message["id"] = id;
            }
            message
        })
        .boxed();
    prop_oneof![
        6 => message.clone().prop_map(|m| m.to_string().into_bytes()),
        1 => prop::collection::vec(message, 0..3).prop_map(|b| Value::Array(b).to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn post(body: Vec<u8>, session: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.body(Body::from(body)).unwrap()
}

/// Sends `body` and returns the status, the session it named and the body text.
async fn send(app: &Router, body: Vec<u8>, session: Option<&str>) -> (u16, Option<String>, String) {
    let response = app.clone().oneshot(post(body, session)).await.unwrap();
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        session,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn initialize() -> Vec<u8> {
    json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "proptest", "version": "1"}}
    })
    .to_string()
    .into_bytes()
}

fn ping() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": "after", "method": "ping"})
        .to_string()
        .into_bytes()
}

async fn open_session(app: &Router) -> String {
    let (status, session, text) = send(app, initialize(), None).await;
    assert_eq!(status, 200, "{text}");
    let session = session.expect("a session id");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, text) = send(app, initialized.to_string().into_bytes(), Some(&session)).await;
    assert_eq!(status, 202, "{text}");
    session
}

async fn any_message_is_answered_without_a_5xx(
    body: Vec<u8>,
    stateless: bool,
) -> Result<(), String> {
    let world = &*WORLD;
    let (app, session) = if stateless {
        (&world.stateless, None)
    } else {
        (&world.stateful, Some(open_session(&world.stateful).await))
    };
    let shown = String::from_utf8_lossy(&body).into_owned();
    let (status, _, text) = send(app, body, session.as_deref()).await;
    if status >= 500 {
        return Err(format!("{status} for {shown}: {text}"));
    }
    let (status, _, text) = send(app, ping(), session.as_deref()).await;
    if status != 200 || !text.contains("\"result\"") {
        return Err(format!("ping after {shown} got {status}: {text}"));
    }
    Ok(())
}

proptest! {
    #[test]
    fn no_mcp_message_panics_the_host_or_gets_a_5xx(body in body(), stateless in any::<bool>()) {
        let outcome = WORLD.runtime.block_on(any_message_is_answered_without_a_5xx(body, stateless));
        prop_assert!(outcome.is_ok(), "{}", outcome.unwrap_err());
    }
}

/// The property is only worth its cases if a well-formed call reaches the probe.
#[test]
fn a_well_formed_call_reaches_the_probe_in_both_modes() {
    let world = &*WORLD;
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hello"}}});
    world.runtime.block_on(async {
        let (status, _, text) = send(&world.stateless, call.to_string().into_bytes(), None).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("hello"), "{text}");
        let session = open_session(&world.stateful).await;
        let (status, _, text) = send(
            &world.stateful,
            call.to_string().into_bytes(),
            Some(&session),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("hello"), "{text}");
    });
}
