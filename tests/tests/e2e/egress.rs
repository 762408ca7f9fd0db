//! The way out: only the manifest's targets are reachable, and the plugin never sees a token.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use serde_json::json;

/// A loopback HTTP server that records the Authorization header of every request it gets.
async fn recording_upstream() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            record.lock().unwrap().push(auth);
            "upstream says hi"
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn only_targets_are_reachable_and_credentials_are_injected_by_the_host() {
    let (allowed, allowed_seen) = recording_upstream().await;
    let (other, other_seen) = recording_upstream().await;
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
        allowed_seen.lock().unwrap().as_slice(),
        &[Some(format!("Bearer {secret}"))]
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
            message.contains("denied") && message.contains("capstan refused a request"),
            "{message}"
        );
        assert!(
            message.contains("up ("),
            "the refusal should name the allowed targets: {message}"
        );
        assert!(!message.contains(secret));
    }
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "a non-target listener was reached"
    );
    assert_eq!(
        allowed_seen.lock().unwrap().len(),
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
    let (url, seen) = recording_upstream().await;
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let denied = client
        .call("probe_fetch", json!({"url": url}))
        .await
        .unwrap();
    assert!(is_error(&denied));
    assert!(
        text(&denied).contains("no [[targets]]"),
        "{}",
        text(&denied)
    );
    assert!(seen.lock().unwrap().is_empty());
}
