//! `PolicyStore` hot reload: a good policy serves, a broken edit leaves it serving with the
//! status saying why, a fixed edit takes over; the metrics count each attempt.

use std::sync::Arc;
use std::time::Duration;

use capstan::access::{Outcome, PolicyStore, Request, ToolFacts};
use capstan::caller::Caller;
use capstan::metrics::Metrics;
use tokio_util::sync::CancellationToken;

const GOOD: &str =
    "@id(\"read\")\npermit(principal, action, resource) when { resource.readOnly };\n";
const BROKEN: &str =
    "@id(\"read\")\npermit(principal, action, resource) when { resource.readonly };\n";
const FIXED: &str = "@id(\"read\")\npermit(principal, action, resource) when { resource.readOnly };\n@id(\"write\")\npermit(principal in Capstan::Group::\"sre\", action, resource);\n";

fn sync() -> ToolFacts {
    ToolFacts {
        exposed: "argocd_sync_application".into(),
        instance: "argocd".into(),
        name: "sync_application".into(),
        destructive: true,
        ..ToolFacts::default()
    }
}

fn outcome(store: &PolicyStore) -> Outcome {
    let caller = Caller {
        groups: vec!["sre".into()],
        ..Caller::anonymous()
    };
    let policy = store.policy().expect("a policy serves");
    policy
        .decide(&Request {
            caller: &caller,
            tool: &sync(),
            target: Some("prod"),
            arguments: &serde_json::Value::Null,
        })
        .outcome
}

/// Polls until `done` holds, for up to ten seconds.
async fn until(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_broken_edit_keeps_the_previous_policy_serving_until_it_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.cedar");
    std::fs::write(&file, GOOD).unwrap();
    let metrics = Arc::new(Metrics::default());
    let store = Arc::new(PolicyStore::load(&file, Some(metrics.clone())).unwrap());
    assert_eq!(store.status().rules, 1);
    assert_eq!(outcome(&store), Outcome::Deny);
    let shutdown = CancellationToken::new();
    let watch = tokio::spawn(store.clone().watch(
        Duration::from_millis(100),
        shutdown.clone(),
        || {},
    ));

    std::fs::write(&file, BROKEN).unwrap();
    assert!(
        until(|| store.status().error.is_some()).await,
        "the broken edit was not noticed"
    );
    let status = store.status();
    assert!(
        status.error.as_deref().unwrap().contains("2:"),
        "{status:?}"
    );
    assert_eq!(status.rules, 1, "the good policy still serves");
    assert_eq!(outcome(&store), Outcome::Deny);
    let readyz = serde_json::to_value(&status).unwrap();
    assert!(
        readyz["error"].is_string() && readyz["loaded_at"].is_string(),
        "{readyz}"
    );

    std::fs::write(&file, FIXED).unwrap();
    assert!(
        until(|| store.status().rules == 2).await,
        "the fixed edit was not loaded"
    );
    assert_eq!(store.status().error, None);
    assert_eq!(outcome(&store), Outcome::Allow);
    let text = metrics.render();
    assert!(
        text.contains("capstan_policy_reloads_total{outcome=\"ok\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("capstan_policy_reloads_total{outcome=\"error\"} 1"),
        "{text}"
    );
    assert!(text.contains("capstan_policy_rules 2"), "{text}");
    shutdown.cancel();
    watch.await.unwrap();
}

#[test]
fn a_broken_policy_at_start_is_an_error_naming_the_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.cedar");
    std::fs::write(&file, BROKEN).unwrap();
    let error = PolicyStore::load(&file, None).unwrap_err().to_string();
    assert!(error.contains("policy.cedar"), "{error}");
    assert!(
        error.contains("2:") && error.contains("readonly"),
        "{error}"
    );
}
