//! What a plugin may do with the operator's credential once its URL is inside a target: a
//! read-only instance sends only reads (and its target kind's read-only `POST`s), whatever
//! the plugin annotates; the same plugin on a writable instance may write.

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::upstream::Upstream;
use rmcp::model::CallToolResult;
use serde_json::json;

const TOKEN: &str = "gate-token-51d2e8";

fn manifest(prefix: &str, read_only: bool, upstream: &Upstream) -> String {
    format!(
        "prefix = \"{prefix}\"\nread_only = {read_only}\n[[targets]]\nname = \"cluster\"\nurl = \"{}\"\nkind = \"kubernetes\"\nauth = {{ bearer_env = \"GATE_TOKEN\" }}\n",
        upstream.url()
    )
}

async fn send(
    client: &Client,
    tool: &str,
    upstream: &Upstream,
    method: &str,
    path: &str,
) -> CallToolResult {
    let authority = upstream.url().trim_start_matches("http://").to_owned();
    let result = client
        .call(
            tool,
            json!({"scheme": "http", "authority": authority, "path_with_query": path,
                   "method": method, "body": "{}"}),
        )
        .await
        .unwrap_or_else(|error| panic!("calling {tool}: {error}"));
    assert!(!is_error(&result), "{}", text(&result));
    result
}

fn denied(result: &CallToolResult) -> bool {
    result
        .structured_content
        .as_ref()
        .is_some_and(|r| r["error"] == "HttpRequestDenied")
}

#[tokio::test]
async fn a_read_only_instance_sends_no_writes_whatever_the_plugin_annotates() {
    let read_only = Upstream::builder().token(TOKEN).start().await;
    let writable = Upstream::builder().token(TOKEN).start().await;
    let plugins = PluginDir::new();
    plugins.manifest("ro", "hostile", &manifest("ro", true, &read_only));
    plugins.manifest("rw", "hostile", &manifest("rw", false, &writable));
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("GATE_TOKEN".into(), TOKEN.into())],
            ..Options::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.expect("connecting");
    let configmaps = "/api/v1/namespaces/a/configmaps";

    for method in ["PUT", "POST", "DELETE", "PATCH"] {
        let result = send(&client, "ro_request", &read_only, method, configmaps).await;
        assert!(denied(&result), "{method}: {}", text(&result));
        let notes = text(&result);
        assert!(notes.contains("read-only"), "{notes}");
        assert!(
            notes.contains("`methods` or `read_only_posts` of target `cluster`"),
            "{notes}"
        );
        let written = send(&client, "rw_request", &writable, method, configmaps).await;
        assert!(
            !denied(&written),
            "{method} on the writable instance: {}",
            text(&written)
        );
    }
    let writes: Vec<_> = read_only
        .seen()
        .into_iter()
        .filter(|s| s.method != "GET")
        .collect();
    assert!(
        writes.is_empty(),
        "the read-only instance's upstream saw {writes:?}"
    );
    assert_eq!(writable.seen().len(), 4, "{:?}", writable.seen());

    let read = send(&client, "ro_request", &read_only, "GET", "/api/ok").await;
    assert_eq!(
        read.structured_content.as_ref().unwrap()["status"],
        200,
        "{}",
        text(&read)
    );
    let review = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let asked = send(&client, "ro_request", &read_only, "POST", review).await;
    assert!(!denied(&asked), "{}", text(&asked));
    assert_eq!(read_only.seen_with("selfsubjectaccessreviews").len(), 1);

    let metrics = capstan_tests::capstan::http_get(capstan.address(), "/metrics").expect("metrics");
    let line = "capstan_egress_denials_total{instance=\"ro\",reason=\"method_not_allowed\"} 4";
    assert!(metrics.contains(line), "no `{line}` in:\n{metrics}");
}
