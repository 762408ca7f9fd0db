//! Property tests for manifest parsing: no text, however broken, makes it panic, and every
//! refusal names the manifest file.
//!
//! Manifests are built from the fields and values operators get wrong (sizes and durations in
//! every spelling, target URLs of every shape, auth tables with missing or conflicting keys),
//! so most cases reach deep into validation rather than failing at the TOML syntax.

use std::path::Path;

use proptest::prelude::*;

use super::Manifest;

fn quoted(values: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop::sample::select(values).prop_map(|value| format!("{value:?}"))
}

fn size() -> impl Strategy<Value = String> {
    quoted(vec![
        "64MiB",
        "0",
        "0MiB",
        "1B",
        "-1MiB",
        "4GiB",
        "99999999999999TiB",
        "1.5MiB",
        "MiB",
        "64 mib",
        "",
        "18446744073709551616",
    ])
}

fn duration() -> impl Strategy<Value = String> {
    quoted(vec![
        "30s",
        "0s",
        "1ms",
        "-1s",
        "1e9s",
        "99999999999999999h",
        "s",
        "",
        "5 m",
        "1h30m",
    ])
}

fn number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "256",
        "257",
        "4294967295",
        "4294967296",
        "1.5",
        "\"8\"",
    ])
    .prop_map(str::to_owned)
}

fn url() -> impl Strategy<Value = String> {
    quoted(vec![
        "https://argocd.example.test/argocd",
        "http://127.0.0.1:8080",
        "https://*.clusters.test",
        "https://a.*.test",
        "http://10.0.0.0/8:8443/k8s",
        "http://10.0.0.0/33",
        "http://[fd00::/8]/x",
        "http://[fd00::/200]",
        "https://u:p@x.test",
        "https://x.test/?q#f",
        "ftp://x.test",
        "x.test",
        "http://",
        "",
    ])
}

fn auth() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "auth = { bearer_env = \"TOKEN\" }",
        "auth = { bearer_env = \"\" }",
        "auth = { bearer_file = \"missing\" }",
        "auth = { bearer_env = \"A\", bearer_file = \"b\" }",
        "auth = { header = \"X-Key\", value_env = \"K\" }",
        "auth = { header = \"bad header\", value_env = \"K\" }",
        "auth = { header = \"Authorization\", passthrough = \"Authorization\" }",
        "auth = { username = \"u\", password_env = \"P\" }",
        "auth = { kubeconfig = \"missing.yaml\" }",
        "auth = { kubeconfig = \"k\", context = \"\" }",
        "auth = { in_cluster = true }",
        "auth = { passthrough = \"X-Upstream\" }",
        "auth = { token_exchange = { endpoint = \"https://idp.test/token\", audience = \"a\" } }",
        "auth = { token_exchange = { endpoint = \"http://idp.test/token\" } }",
        "auth = { token_exchange = { audience = \"a\", resource = \"b\" } }",
        "auth = {}",
        "auth = 3",
    ])
    .prop_map(str::to_owned)
}

fn tls() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "tls = { ca_file = \"missing.pem\" }",
        "tls = { client_cert = \"c.pem\" }",
        "tls = { insecure_skip_verify = true }",
        "tls = { insecure_skip_verify = \"yes\" }",
    ])
    .prop_map(str::to_owned)
}

fn target() -> impl Strategy<Value = String> {
    (
        quoted(vec!["prod", "staging", "", "prod", "a b", "é"]),
        prop::option::of(url()),
        auth(),
        tls(),
        prop::option::of(duration()),
        (prop::option::of(size()), prop::option::of(size())),
    )
        .prop_map(
            |(name, url, auth, tls, timeout, (max_response, max_streamed))| {
                let mut lines = vec!["[[targets]]".to_owned(), format!("name = {name}")];
                lines.extend(url.map(|url| format!("url = {url}")));
                lines.extend([auth, tls]);
                lines.extend(timeout.map(|t| format!("timeout = {t}")));
                lines.extend(max_response.map(|m| format!("max_response = {m}")));
                lines.extend(max_streamed.map(|m| format!("max_streamed = {m}")));
                lines.join("\n")
            },
        )
}

fn limits() -> impl Strategy<Value = String> {
    (
        prop::option::of(size()),
        prop::option::of(duration()),
        prop::option::of(number()),
        prop::option::of(number()),
        prop::option::of(number()),
    )
        .prop_map(|(memory, timeout, concurrency, queue, outbound)| {
            let mut lines = vec!["[limits]".to_owned()];
            lines.extend(memory.map(|v| format!("memory = {v}")));
            lines.extend(timeout.map(|v| format!("timeout = {v}")));
            lines.extend(concurrency.map(|v| format!("max_concurrency = {v}")));
            lines.extend(queue.map(|v| format!("max_queue = {v}")));
            lines.extend(outbound.map(|v| format!("max_outbound = {v}")));
            lines.join("\n")
        })
}

fn manifest_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(quoted(vec![
            "p.wasm",
            "",
            "/abs/p.wasm",
            "../up.wasm",
            "dir/",
        ])),
        prop::option::of(quoted(vec!["argocd", "", "Bad-Prefix", "a_b", "x y"])),
        prop::option::of(prop::sample::select(vec!["true", "false", "\"yes\""])),
        prop::sample::select(vec![
            "",
            "[config]\ndefault_target = \"prod\"",
            "[config]\nnested = { a = 1, b = [1, 2] }",
            "[config]\nx = 1.5",
            "unknown_field = 1",
        ]),
        prop::collection::vec(target(), 0..4),
        prop::option::of(limits()),
    )
        .prop_map(|(component, prefix, read_only, config, targets, limits)| {
            let mut lines = Vec::new();
            lines.extend(component.map(|c| format!("component = {c}")));
            lines.extend(prefix.map(|p| format!("prefix = {p}")));
            lines.extend(read_only.map(|r| format!("read_only = {r}")));
            lines.push(config.to_owned());
            lines.extend(targets);
            lines.extend(limits);
            lines.join("\n")
        })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new("plugins/argocd.toml");
    if let Err(error) = Manifest::parse(path, text, 4 << 30) {
        let message = error.to_string();
        prop_assert!(message.starts_with("plugins/argocd.toml: "), "{message}");
        prop_assert!(!error.message.is_empty());
    }
    Ok(())
}

proptest! {
    #[test]
    fn no_manifest_makes_parsing_panic_and_every_refusal_names_the_file(text in manifest_text()) {
        check(&text)?;
    }

    #[test]
    fn no_text_makes_parsing_panic(text in any::<String>()) {
        check(&text)?;
    }
}
