//! The way out: only the manifest's targets are reachable, and the plugin never sees a token.

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::upstream::Upstream;
use serde_json::json;

#[tokio::test]
async fn only_targets_are_reachable_and_credentials_are_injected_by_the_host() {
    let allowed_upstream = Upstream::http().await;
    let other_upstream = Upstream::http().await;
    let (allowed, other) = (allowed_upstream.url(), other_upstream.url());
    let plugins = PluginDir::new();
    let manifest = format!(
        "[[targets]]\nname = \"up\"\nurl = \"{allowed}/api\"\nauth = {{ bearer_env = \"PROBE_TOKEN\" }}"
    );
    plugins.manifest("probe", "probe", &manifest);
    let secret = "s3cr3t-token-value";
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("PROBE_TOKEN".into(), secret.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();

    let ok = client.call("probe_fetch", json!({"url": format!("{allowed}/api/v1/x"), "headers": {"authorization": "Bearer guest-forged"}})).await.unwrap();
    assert!(!is_error(&ok), "{}", text(&ok));
    assert_eq!(ok.structured_content.as_ref().unwrap()["status"], 200);
    assert_eq!(
        allowed_upstream.only_request().values("authorization"),
        [format!("Bearer {secret}")]
    );

    for denied_url in [
        format!("{other}/api/v1/x"),
        format!("{allowed}/apix"),
        format!("{allowed}/api/../admin"),
        format!("{allowed}/other"),
    ] {
        let denied = client
            .call("probe_fetch", json!({"url": denied_url}))
            .await
            .unwrap();
        assert!(is_error(&denied), "{denied_url}: {}", text(&denied));
        let message = text(&denied);
        assert!(
            message.contains("capstan refused the request")
                && message.contains("capstan refused a request"),
            "the guest's error and capstan's note should both say it was refused: {message}"
        );
        assert!(
            message.contains("up ("),
            "the refusal should name the allowed targets: {message}"
        );
        assert!(!message.contains(secret));
    }
    assert!(
        other_upstream.seen().is_empty(),
        "a non-target listener was reached"
    );
    assert_eq!(
        allowed_upstream.seen().len(),
        1,
        "a refused path reached the target"
    );
    assert!(
        !capstan.log_text().contains(secret),
        "the token leaked into the log"
    );
}

#[tokio::test]
async fn no_targets_means_nothing_is_reachable() {
    let upstream = Upstream::http().await;
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let denied = client
        .call("probe_fetch", json!({"url": upstream.url()}))
        .await
        .unwrap();
    assert!(is_error(&denied));
    assert!(
        text(&denied).contains("no [[targets]]"),
        "{}",
        text(&denied)
    );
    assert!(upstream.seen().is_empty());
}

/// A response body the plugin reads whole is cut at the target's `max_response`; one it reads
/// as a stream (it says so with the `capstan-response: stream` request header, which the host
/// removes before sending) at the target's `max_streamed`; the failure names the cap.
#[tokio::test]
async fn a_body_read_as_a_stream_is_held_to_max_streamed_and_one_read_whole_to_max_response() {
    let upstream = Upstream::http().await;
    let plugins = PluginDir::new();
    plugins.manifest(
        "hostile",
        "hostile",
        &format!(
            "[[targets]]\nname = \"api\"\nurl = \"{}/api\"\nmax_response = \"1MiB\"\n\
             max_streamed = \"3MiB\"",
            upstream.url()
        ),
    );
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let authority = upstream.url().trim_start_matches("http://").to_owned();
    let read = async |headers: serde_json::Value| {
        let result = client
            .call(
                "hostile_request",
                json!({"scheme": "http", "authority": authority, "path_with_query": "/api/endless",
                       "headers": headers, "read_limit": 64 << 20}),
            )
            .await
            .unwrap();
        assert!(!is_error(&result), "{}", text(&result));
        result.structured_content.clone().unwrap()
    };
    let whole = read(json!([])).await;
    let streamed = read(json!([["capstan-response", "stream"]])).await;
    for (report, cap) in [(&whole, 1u64 << 20), (&streamed, 3 << 20)] {
        let bytes = report["body_bytes"].as_u64().unwrap();
        assert!(
            bytes <= cap && bytes > cap - (256 << 10),
            "read {bytes} bytes of a body capped at {cap}: {report}"
        );
        assert_eq!(report["stage"], "body", "{report}");
        assert_eq!(
            report["error"],
            format!("HTTP response body size exceeds limit: {cap} bytes"),
            "{report}"
        );
    }
    let seen = upstream.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|request| request.values("capstan-response").is_empty()),
        "the header never leaves capstan"
    );
}
