//! Native tests of every tool: the handlers run against answers recorded from the fake Argo CD
//! of `capstan-tests` (`tests/fixtures/`, the demo data set and its generated applications),
//! through a [`Fixture`] that records every request. Each test asserts the requests the tool
//! sent (method, path, query, body) and what it answered, including Argo CD's refusals, broken
//! streams, transport failures and waits on the virtual clock. The answers are written by
//! `tests/tests/e2e/argocd/record.rs` (see there to re-record them).
//!
//! The target is served under a path prefix (`/argocd`, like `argocd-server --rootpath`); the
//! request lines the tests compare are relative to it, with the query as sent (percent-encoded).
//! What needs the host (credentials, `read_only`, schema validation, target timeouts, the API
//! contract the fake enforces) stays in the end-to-end tests (`tests/tests/e2e/argocd/`).

mod appsets;
mod catalog;
mod deploys;
mod errors;
mod fleet;
mod large;
mod lifecycle;
mod locate;
mod operations;
mod reads;
mod resources;
mod scale;
mod sync;
mod toolbox;
mod workflows;

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Plugin, ToolError, ToolResult, Value};

/// The Argo CD target's base URL.
pub(crate) const BASE: &str = "https://argocd.example.com/argocd";

/// The applications collection.
pub(crate) const APPS: &str = "/api/v1/applications";

/// The text of a recorded answer under `tests/fixtures/`.
macro_rules! recorded {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
    };
}
pub(crate) use recorded;

/// An instance with the one target `prod`.
pub(crate) fn argocd() -> Fixture {
    Fixture::new().target("prod", BASE)
}

/// A recorded JSON answer, parsed.
pub(crate) fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("a recorded answer is JSON")
}

/// Runs `tool` through the plugin's toolbox, as the component does.
pub(crate) fn call(
    fixture: &Fixture,
    tool: &str,
    arguments: Value,
) -> Result<ToolResult, ToolError> {
    crate::ArgoCd::toolbox().call(&fixture.context(), tool, &arguments)
}

/// Runs `tool` and returns its structured answer, failing on an error.
pub(crate) fn ok(fixture: &Fixture, tool: &str, arguments: Value) -> Value {
    match call(fixture, tool, arguments) {
        Ok(result) => {
            assert!(!result.is_error(), "{tool} answered an error result");
            result
                .structured_content()
                .cloned()
                .unwrap_or_else(|| panic!("{tool} answered no structured content"))
        }
        Err(error) => panic!("{tool} failed: {error}"),
    }
}

/// Runs `tool`, expects it to fail and returns the message the agent reads.
pub(crate) fn fails(fixture: &Fixture, tool: &str, arguments: Value) -> String {
    match call(fixture, tool, arguments) {
        Ok(result) => panic!(
            "{tool} should have failed: {:?}",
            result.structured_content()
        ),
        Err(error) => error.message().to_owned(),
    }
}

/// `METHOD host` of every request, in order: which target each went to.
pub(crate) fn hosts(fixture: &Fixture) -> Vec<String> {
    fixture
        .requests()
        .iter()
        .map(|sent| {
            let host = sent.url.split('/').nth(2).unwrap_or_default();
            format!("{} {host}", sent.method)
        })
        .collect()
}

/// The names in the rows under `key`.
pub(crate) fn names(answer: &Value, key: &str) -> Vec<String> {
    answer[key]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// A fixture serving a recorded exchange list (`[{method, path, status, body}]`, the paths with
/// their exact queries), and its request lines in order.
pub(crate) fn replay(mut fixture: Fixture, bundle: &str) -> (Fixture, Vec<String>) {
    let mut lines = Vec::new();
    for exchange in parse(bundle).as_array().expect("a list of exchanges") {
        let method = exchange["method"].as_str().expect("a method");
        let path = exchange["path"].as_str().expect("a path");
        let status = u16::try_from(exchange["status"].as_u64().expect("a status")).unwrap();
        let body = match &exchange["body"] {
            Value::String(text) => text.clone(),
            body => body.to_string(),
        };
        fixture = fixture.on_status_json(method, path, status, &body);
        lines.push(format!("{method} {path}"));
    }
    (fixture, lines)
}
