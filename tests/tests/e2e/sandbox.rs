//! The sandbox holds: a runaway, bloated or crashing call costs one failed call with a clear
//! error, and every other call carries on.

use std::time::Duration;

use capstan_tests::client::{is_error, text};
use serde_json::json;

use super::probe_server;

const LIMITS: &str = "[limits]\nmemory = \"32MiB\"\ntimeout = \"1s\"";

#[tokio::test]
async fn a_spinning_guest_is_interrupted_and_others_keep_working() {
    let (_plugins, _capstan, client) = probe_server(LIMITS).await;
    let (spin, echo) = tokio::join!(client.call("probe_spin", json!({})), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client
            .call("probe_echo", json!({"text": "still here"}))
            .await
    });
    let spin = spin.unwrap();
    assert!(is_error(&spin));
    let message = text(&spin);
    assert!(
        message.contains("probe_spin") || message.contains("`spin`"),
        "{message}"
    );
    assert!(
        message.contains("instance `probe`") && message.contains("timed out"),
        "{message}"
    );
    let echo = echo.unwrap();
    assert!(!is_error(&echo), "{}", text(&echo));
    assert_eq!(echo.structured_content, Some(json!({"echo": "still here"})));
}

#[tokio::test]
async fn memory_past_the_limit_is_reported_as_out_of_memory() {
    let (_plugins, _capstan, client) = probe_server(LIMITS).await;
    let within = client.call("probe_alloc", json!({"mib": 8})).await.unwrap();
    assert!(!is_error(&within), "{}", text(&within));
    let bomb = client
        .call("probe_alloc", json!({"mib": 200}))
        .await
        .unwrap();
    assert!(is_error(&bomb));
    assert!(text(&bomb).contains("ran out of memory"), "{}", text(&bomb));
    assert!(
        text(&bomb).contains("[limits].memory is 32.0 MiB"),
        "{}",
        text(&bomb)
    );
    let handled = client
        .call("probe_alloc", json!({"mib": 200, "fallible": true}))
        .await
        .unwrap();
    assert!(is_error(&handled));
    assert!(
        text(&handled).contains("could not allocate"),
        "{}",
        text(&handled)
    );
    let after = client.call("probe_noop", json!({})).await.unwrap();
    assert_eq!(text(&after), "ok");
}

#[tokio::test]
async fn traps_and_panics_name_the_plugin_the_tool_and_the_cause() {
    let (_plugins, _capstan, client) = probe_server(LIMITS).await;
    let trap = client.call("probe_trap", json!({})).await.unwrap();
    assert!(is_error(&trap));
    assert!(
        text(&trap).contains("tool `trap` of plugin instance `probe` crashed"),
        "{}",
        text(&trap)
    );
    let panic = client.call("probe_panic", json!({})).await.unwrap();
    assert!(is_error(&panic));
    assert!(
        text(&panic).contains("the probe panicked on purpose"),
        "{}",
        text(&panic)
    );
    assert_eq!(
        text(&client.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
}

#[tokio::test]
async fn time_spent_in_host_calls_counts_against_the_timeout() {
    let (_plugins, _capstan, client) = probe_server(LIMITS).await;
    let sleeper = client
        .call("probe_sleep", json!({"ms": 5000}))
        .await
        .unwrap();
    assert!(is_error(&sleeper));
    assert!(
        text(&sleeper).contains("timed out after 1s"),
        "{}",
        text(&sleeper)
    );
}

#[tokio::test]
async fn calls_beyond_concurrency_queue_instead_of_failing() {
    let limits = "[limits]\nmax_concurrency = 2\nmax_queue = 16\ntimeout = \"10s\"";
    let (_plugins, _capstan, client) = probe_server(limits).await;
    let calls = (0..8).map(|_| client.call("probe_sleep", json!({"ms": 100})));
    for result in futures::future::join_all(calls).await {
        let result = result.unwrap();
        assert!(!is_error(&result), "{}", text(&result));
    }
}

#[tokio::test]
async fn a_full_queue_answers_busy_with_what_to_do() {
    let limits = "[limits]\nmax_concurrency = 1\nmax_queue = 1\ntimeout = \"10s\"";
    let (_plugins, _capstan, client) = probe_server(limits).await;
    let calls = (0..4).map(|_| client.call("probe_sleep", json!({"ms": 1000})));
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let busy: Vec<_> = results.iter().filter(|r| is_error(r)).collect();
    assert_eq!(busy.len(), 2, "{results:?}");
    assert!(
        text(busy[0]).contains("concurrency limit"),
        "{}",
        text(busy[0])
    );
}

#[tokio::test]
async fn huge_outputs_are_capped_with_a_marker() {
    let (_plugins, _capstan, client) = probe_server("").await;
    let big = client
        .call("probe_big_output", json!({"bytes": 2_000_000}))
        .await
        .unwrap();
    let body = text(&big);
    assert!(body.len() < 300 * 1024, "{} bytes", body.len());
    assert!(
        body.contains("result truncated"),
        "{}",
        &body[body.len() - 300..]
    );
}

/// Each call gets memory as the plugin shipped it: nothing an earlier call wrote survives into
/// the next, whether it fitted in the pages the host keeps resident between calls (reset in
/// place) or spilled past them (returned to the kernel).
#[tokio::test]
async fn a_call_never_sees_what_an_earlier_call_left_in_memory() {
    let (_plugins, _capstan, client) = probe_server(LIMITS).await;
    let mut previous = String::new();
    for (round, kib) in [4, 64, 512, 4096, 16, 8192, 4].into_iter().enumerate() {
        let value = format!("secret-{round}-{kib}");
        let result = client
            .call(
                "probe_remember",
                json!({"value": value, "previous": previous, "kib": kib}),
            )
            .await
            .unwrap();
        assert!(!is_error(&result), "{}", text(&result));
        assert_eq!(
            result.structured_content,
            Some(json!({"found": false, "sees_own": true})),
            "round {round}: the call found what the call before it ({previous}) left in memory"
        );
        previous = value;
    }
}
