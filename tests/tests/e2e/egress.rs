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
