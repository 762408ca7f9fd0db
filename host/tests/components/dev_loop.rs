//! `capstan call` in process: the real probe component loaded by the registry, called through
//! `inspect::call` against a recording upstream on 127.0.0.1, with the egress gate's decisions
//! watched as the command line prints them. No capstan process.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request as HttpRequest, State};
use axum::http::header;
use capstan::inspect::call::{Called, Request, SetupError, Trace, call, render};
use capstan::registry::{LoadOptions, Snapshot, load_snapshot};

/// The `Authorization` headers a loopback upstream received, by path.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn upstream() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .fallback(
            |State(seen): State<Seen>, request: HttpRequest| async move {
                let authorization = request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .map(|value| value.to_str().unwrap().to_owned());
                let path = request.uri().path().to_owned();
                seen.lock().unwrap().push((path.clone(), authorization));
                format!("reached {path}")
            },
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, seen)
}

/// A probe instance whose one target `up` is `url`, its bearer token read from a file.
async fn probe(dir: &tempfile::TempDir, url: &str, token: &str) -> Snapshot {
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let rest = format!(
        "[[targets]]\nname = \"up\"\nurl = \"{url}\"\nauth = {{ bearer_file = {:?} }}",
        token_file.display().to_string()
    );
    common::manifest(dir.path(), "probe", "probe", &rest);
    let options = LoadOptions {
        plugin_dirs: vec![dir.path().to_path_buf()],
        egress: Default::default(),
        distribution: Default::default(),
    };
    let snapshot = load_snapshot(&common::runtime(), &options).await;
    assert!(snapshot.failures().is_empty(), "{:?}", snapshot.failures());
    snapshot
}

fn request(tool: &str, arguments: &str) -> Request {
    Request {
        tool: tool.into(),
        arguments: arguments.into(),
        instance: None,
        target: None,
        result_cap: 256 << 10,
    }
}

/// Calls `request`, collecting the trace lines.
async fn traced(
    snapshot: &Snapshot,
    request: &Request,
) -> (Result<Called, SetupError>, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    let trace: Trace = Arc::new(move |line| kept.lock().unwrap().push(line.to_owned()));
    let called = call(snapshot, request, trace).await;
    let lines = lines.lock().unwrap().clone();
    (called, lines)
}

#[tokio::test]
async fn a_call_shows_each_request_allowed_to_its_target_or_refused_and_never_the_token() {
    let (address, seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let token = "dev-loop-token-5b2e";
    let snapshot = probe(&dir, &format!("http://{address}/api"), token).await;

    let allowed = format!(
        r#"{{"url": "http://{address}/api/v1/x?page=2", "headers": {{"authorization": "Bearer forged"}}}}"#
    );
    let (called, lines) = traced(&snapshot, &request("probe_fetch", &allowed)).await;
    let called = called.expect("the call runs");
    assert_eq!(called.result.is_error, Some(false), "{:?}", called.result);
    assert_eq!(
        lines,
        [format!(
            "egress allowed GET http://{address}/api/v1/x (target up): 200"
        )]
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [("/api/v1/x".to_owned(), Some(format!("Bearer {token}")))]
    );
    let shown = render(&called.result);
    assert!(shown.contains("reached /api/v1/x"), "{shown}");
    assert!(!shown.contains(token), "{shown}");

    let outside = format!(r#"{{"url": "http://{address}/admin"}}"#);
    let (called, lines) = traced(&snapshot, &request("fetch", &outside)).await;
    let called = called.expect("the call runs");
    assert_eq!(called.result.is_error, Some(true));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "egress refused GET http://{address}/admin (outside_targets): "
        )) && lines[0].contains("allowed targets: up (http://"),
        "{lines:?}"
    );
    let shown = render(&called.result);
    assert!(shown.contains("capstan refused a request to"), "{shown}");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "nothing more reached the upstream"
    );
    for line in &lines {
        assert!(!line.contains(token), "{line}");
    }
}

#[tokio::test]
async fn a_target_flag_holds_the_call_to_that_target() {
    let (address, _seen) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = probe(&dir, &format!("http://{address}/api"), "t").await;
    let mut aimed = request(
        "probe_fetch",
        &format!(r#"{{"url": "http://{address}/api/x"}}"#),
    );
    aimed.target = Some("up".into());
    let (called, lines) = traced(&snapshot, &aimed).await;
    assert_eq!(called.unwrap().result.is_error, Some(false), "{lines:?}");
    aimed.target = Some("prod".into());
    let error = traced(&snapshot, &aimed).await.0.unwrap_err().to_string();
    assert_eq!(
        error,
        "instance `probe` has no target `prod`; its targets: up"
    );
}

#[tokio::test]
async fn nothing_runs_when_the_tool_or_its_arguments_are_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = probe(&dir, "http://127.0.0.1:9/api", "t").await;
    let error = |tool: &str, arguments: &str| {
        let snapshot = &snapshot;
        let request = request(tool, arguments);
        async move { traced(snapshot, &request).await.0.unwrap_err().to_string() }
    };
    let unknown = error("probe_nope", "{}").await;
    assert!(
        unknown.starts_with(
            "no tool is named `probe_nope`; the folder serves: probe_noop, probe_echo"
        ),
        "{unknown}"
    );
    let invalid = error("probe_echo", r#"{"text": 3, "times": 0}"#).await;
    assert!(
        invalid.starts_with("invalid arguments for tool `probe_echo`, nothing was run:")
            && invalid.contains("argument `text`")
            && invalid.contains("argument `times`"),
        "{invalid}"
    );
    let not_json = error("echo", "{'text': 'hi'}").await;
    assert!(
        not_json.starts_with("the arguments are not JSON"),
        "{not_json}"
    );
}

#[tokio::test]
async fn a_stopped_call_is_a_failure_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = probe(&dir, "http://127.0.0.1:9/api", "t").await;
    let (called, _) = traced(&snapshot, &request("probe_panic", "{}")).await;
    let called = called.unwrap();
    assert!(called.stopped);
    assert_eq!(called.exit_code(), std::process::ExitCode::FAILURE);
    let shown = render(&called.result);
    assert!(
        shown.contains("crashed") && shown.contains("the probe panicked on purpose"),
        "{shown}"
    );
}
