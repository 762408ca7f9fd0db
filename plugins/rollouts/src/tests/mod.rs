//! Native tests of every tool: each handler runs against a [`Fixture`] that replays answers
//! recorded from the fake Kubernetes API of `capstan-fakes` (`tests/fixtures/`, recorded by
//! `tests/record-fixtures.py`), and each test asserts the exact requests sent (method, path,
//! query, content type, body) and the answer. `read` (read tools, targets), `steps` (promote,
//! pause, resume, abort, retry, restart, waiting), `template` (set_image, undo), `children`
//! (AnalysisRun and Experiment actions), `errors` (missing objects and CRDs, denials, refused
//! writes, hostile names) and `toolbox` (the tools listed and dispatch).
//!
//! That the requests are valid against the real API contract is what the end-to-end smoke test
//! (`tests/tests/e2e/rollouts/`) keeps checking, through a real capstan and the fake itself.

mod children;
mod errors;
mod read;
mod steps;
mod template;
mod toolbox;

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{Plugin, Value};

use crate::Rollouts;

/// The base URL of the `prod` target of every fixture.
const KUBE: &str = "https://kube.test";
/// Where the Rollouts of a namespace live.
const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/namespaces";

/// The text of a recorded answer in `tests/fixtures/`.
macro_rules! recorded {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name
        ))
    };
}
use recorded;

/// A recorded answer, parsed.
fn parsed(text: &str) -> Value {
    capstan_sdk::serde_json::from_str(text).expect("a recorded answer is JSON")
}

/// A fixture with one target, `prod`.
fn fixture() -> Fixture {
    Fixture::new().target("prod", KUBE)
}

/// `/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts/{name}`.
fn rollout_path(namespace: &str, name: &str) -> String {
    format!("{ROLLOUTS}/{namespace}/rollouts/{name}")
}

/// Calls `tool` the way the component does, through the plugin's toolbox.
fn call(fixture: &Fixture, tool: &str, arguments: Value) -> Result<Value, String> {
    let result = Rollouts::toolbox()
        .call(&fixture.context(), tool, &arguments)
        .map_err(|error| error.message().to_owned())?;
    assert!(!result.is_error(), "{tool} answered an error result");
    Ok(result
        .structured_content()
        .cloned()
        .expect("every tool answers structured content"))
}

/// The structured answer of a call that must succeed.
fn ok(fixture: &Fixture, tool: &str, arguments: Value) -> Value {
    call(fixture, tool, arguments).unwrap_or_else(|error| panic!("{tool} failed: {error}"))
}

/// The message of a call that must fail.
fn error(fixture: &Fixture, tool: &str, arguments: Value) -> String {
    match call(fixture, tool, arguments) {
        Ok(answer) => panic!("{tool} should fail, answered {answer}"),
        Err(message) => message,
    }
}

/// A write as sent: method, path, content type and body.
type Write = (String, String, Option<String>, Value);

/// Every request but GETs, in order.
fn writes(fixture: &Fixture) -> Vec<Write> {
    fixture
        .requests()
        .iter()
        .filter(|sent| sent.method != "GET")
        .map(|sent| {
            (
                sent.method.clone(),
                sent.path.clone(),
                sent.header("content-type").map(str::to_owned),
                sent.json(),
            )
        })
        .collect()
}

/// A JSON merge patch of `path`.
fn merge(path: &str, body: Value) -> Write {
    (
        "PATCH".into(),
        path.into(),
        Some("application/merge-patch+json".into()),
        body,
    )
}

/// Every request asks for JSON.
fn assert_json_accepted(fixture: &Fixture) {
    for sent in fixture.requests() {
        assert_eq!(
            sent.header("accept"),
            Some("application/json"),
            "{}",
            sent.line()
        );
    }
}
