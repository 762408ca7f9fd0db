//! Native tests of the tools: each handler runs against a [`Fixture`] of answers recorded from
//! the fake Kubernetes API (`tests/fixtures/`, see the README there), and the tests assert the
//! exact requests (method, path, query, body) and the answers, as the end-to-end tests did,
//! in milliseconds and on a virtual clock.
//!
//! One file per concern: `reads` (list, get, events, logs, trace, status, tree), `writes`
//! (reconcile, dependencies, suspend, resume, waiting), `failures` (missing objects and CRDs,
//! RBAC denials, hostile names), `toolbox` (the tools and prompts).

mod failures;
mod reads;
mod toolbox;
mod writes;

use capstan_sdk::fixture::Fixture;
use capstan_sdk::{ToolError, Value};

/// The base URL of the fixture's one target, `prod`.
const KUBE: &str = "https://kube.test";

/// A recorded answer: `fixture!("scenario/kustomization-apps.json")`.
macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
    };
}
pub(crate) use fixture;

/// API paths, as the plugin sends them.
const KUSTOMIZATIONS: &str =
    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations";
const HELM_RELEASES: &str = "/apis/helm.toolkit.fluxcd.io/v2/namespaces";
const SOURCES: &str = "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system";

/// A cluster with one target, `prod`, and no answers yet.
fn cluster() -> Fixture {
    Fixture::new().target("prod", KUBE)
}

/// Runs the tool `name` with `arguments` as the component would.
fn call(fixture: &Fixture, name: &str, arguments: Value) -> Result<Value, ToolError> {
    let result = crate::toolbox().call(&fixture.context(), name, &arguments)?;
    assert!(!result.is_error(), "{name} answered an error result");
    Ok(result
        .structured_content()
        .cloned()
        .unwrap_or_else(|| panic!("{name} answered no structured content")))
}

/// Runs `name` and answers its structured content, failing on an error.
fn ok(fixture: &Fixture, name: &str, arguments: Value) -> Value {
    call(fixture, name, arguments).unwrap_or_else(|error| panic!("{name}: {}", error.message()))
}

/// Runs `name` and answers its error message, failing on success.
fn error(fixture: &Fixture, name: &str, arguments: Value) -> String {
    match call(fixture, name, arguments) {
        Ok(answer) => panic!("{name} succeeded: {answer}"),
        Err(error) => error.message().to_owned(),
    }
}

/// The requests sent, as `METHOD path?query`.
fn lines(fixture: &Fixture) -> Vec<String> {
    fixture.request_lines()
}
