//! Graceful drain: on SIGTERM capstan turns `/readyz` off, refuses new stateless work and new
//! sessions with 503 and `Retry-After` (after `--drain-delay`), keeps serving the sessions it
//! has, lets calls in flight finish, ends open streams and exits 0; a call longer than
//! `--drain-grace` is cut off and capstan still exits 0.

use std::time::Duration;

use capstan_tests::capstan::{Capstan, Options, PluginDir, http_get};
use capstan_tests::client::{Client, is_error, text};
use rmcp::model::ProtocolVersion;
use serde_json::json;

fn start(args: &[&str]) -> (PluginDir, Capstan) {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            args: args.iter().map(|arg| arg.to_string()).collect(),
            ..Default::default()
        },
    );
    (plugins, capstan)
}

/// The status code and `Retry-After` of a `POST /mcp` without a session: what a load balancer
/// sees when it sends a new stateless call or a new session here.
async fn new_work(capstan: &Capstan) -> (u16, Option<String>) {
    let response = capstan_tests::http_client()
        .post(capstan.url())
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "balancer", "version": "1"}}}),
        )
        .send()
        .await
        .expect("POST /mcp");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

fn readyz_status(capstan: &Capstan) -> String {
    let response = http_get(capstan.address(), "/readyz").expect("GET /readyz");
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn sigterm_lets_calls_in_flight_finish_then_exits_zero() {
    let (_plugins, mut capstan) = start(&["--drain-grace", "10s"]);
    let session = Client::connect(&capstan.url()).await.unwrap();
    let modern = Client::connect_version(&capstan.url(), ProtocolVersion::V_2026_07_28)
        .await
        .unwrap();
    let slow = tokio::spawn(async move { modern.call("probe_sleep", json!({"ms": 1500})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    capstan.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert!(
        readyz_status(&capstan).contains("503"),
        "{}",
        readyz_status(&capstan)
    );
    assert_eq!(new_work(&capstan).await, (503, Some("1".into())));
    // A session already here is still served while the drain lasts.
    let echo = session
        .call("probe_echo", json!({"text": "still served"}))
        .await
        .expect("a call of an existing session");
    assert!(text(&echo).contains("still served"), "{}", text(&echo));

    let finished = slow.await.unwrap().expect("the call in flight finishes");
    assert!(!is_error(&finished), "{}", text(&finished));
    assert_eq!(text(&finished), "slept");
    let status = capstan
        .wait_exit(Duration::from_secs(8))
        .expect("capstan exits once its calls are done");
    assert!(status.success(), "{status:?}\n{}", capstan.log_text());
    assert!(capstan.log_text().contains("drained: no call in flight"));
}

#[tokio::test]
async fn new_work_is_served_during_the_delay_and_a_call_past_the_grace_is_cut_off() {
    let (_plugins, mut capstan) = start(&["--drain-delay", "2s", "--drain-grace", "3s"]);
    let modern = Client::connect_version(&capstan.url(), ProtocolVersion::V_2026_07_28)
        .await
        .unwrap();
    let stuck =
        tokio::spawn(async move { modern.call("probe_sleep", json!({"ms": 60_000})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    capstan.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Readiness is off at once, but for the delay new work is still taken.
    assert!(readyz_status(&capstan).contains("503"));
    assert_eq!(new_work(&capstan).await.0, 200);
    let status = capstan
        .wait_exit(Duration::from_secs(10))
        .expect("capstan exits when the grace runs out");
    assert!(status.success(), "{status:?}\n{}", capstan.log_text());
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "exited {:?} after the signal, before the grace ran out",
        signalled.elapsed()
    );
    assert!(
        capstan.log_text().contains("cut_off"),
        "{}",
        capstan.log_text()
    );
    // The client is left with an error (or no answer at all), never a result.
    if let Ok(cut) = tokio::time::timeout(Duration::from_secs(5), stuck).await {
        let cut = cut.unwrap();
        assert!(cut.is_err() || cut.as_ref().is_ok_and(is_error), "{cut:?}");
    }
}
