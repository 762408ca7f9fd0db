//! What the host adds around the plugin: `read_only` instances list and run only read tools,
//! arguments are validated against the tools' input schemas before the plugin runs, and a
//! target's `timeout` cuts a slow Argo CD short.

use capstan_tests::fakes::argocd::Fault;
use serde_json::json;

use super::Env;

#[tokio::test]
async fn a_read_only_instance_lists_and_runs_only_read_tools() {
    let env = Env::start(capstan_tests::fakes::demo::argocd(), "read_only = true").await;
    let tools = env.client.tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert!(
        names.contains(&"get_application") && names.contains(&"list_applications"),
        "{names:?}"
    );
    assert!(!names.contains(&"sync_application"), "{names:?}");
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has an output schema",
            tool.name
        );
    }
    let refused = env
        .client
        .call("sync_application", json!({"applicationName": "guestbook"}))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("unknown tool"), "{refused}");
    assert!(
        env.api().is_empty(),
        "a refused write sends nothing: {:?}",
        env.api()
    );
}

#[tokio::test]
async fn hostile_names_are_refused_before_anything_is_sent() {
    let env = Env::demo().await;
    for name in [
        "../projects/default",
        "x?name=y&selector=a",
        "a/b",
        "%2e%2e",
    ] {
        env.fails("get_application", json!({"applicationName": name}))
            .await;
        env.fails("sync_application", json!({"applicationName": name}))
            .await;
    }
    assert!(env.api().is_empty(), "{:?}", env.api());
}

#[tokio::test]
async fn a_slow_argo_cd_times_out_with_advice() {
    let env =
        Env::start_with_target(capstan_tests::fakes::demo::argocd(), "", "timeout = \"1s\"").await;
    env.argocd.inject(
        "ApplicationService_Get",
        Fault::Slow(std::time::Duration::from_secs(5)),
    );
    let message = env
        .fails("get_application", json!({"applicationName": "guestbook"}))
        .await;
    assert!(
        message.contains("timeout") && message.contains("Argo CD did not answer in time"),
        "{message}"
    );
    env.argocd.clear_faults();
    env.ok("get_application", json!({"applicationName": "guestbook"}))
        .await;
    env.argocd.assert_no_violations();
}
