//! What the host decides about an instance: a read-only one lists only the read tools, and the
//! `target` argument picks one of the targets its manifest names.

use capstan_tests::fakes::kube::Cluster;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_read_only_instance_lists_the_read_tools_and_reads_the_target_asked_for() {
    let prod = kube::start(demo::cluster().with_token(TOKEN))
        .await
        .unwrap();
    let staging = kube::start(Cluster::new().with_token(TOKEN)).await.unwrap();
    let plugins = PluginDir::new();
    let target = |name: &str, url: String| {
        format!(
            "[[targets]]\nname = \"{name}\"\nurl = \"{url}\"\nauth = {{ bearer_env = \"KUBE_TOKEN\" }}\n"
        )
    };
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!(
            "prefix = \"rollouts\"\nread_only = true\n[config]\ndefault_target = \"prod\"\n{}{}",
            target("prod", prod.base_url()),
            target("staging", staging.base_url())
        ),
    );
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("KUBE_TOKEN".into(), TOKEN.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    let mut names: Vec<String> = client
        .tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rollouts_get_analysis_run",
            "rollouts_get_rollout",
            "rollouts_list_analysis_runs",
            "rollouts_list_experiments",
            "rollouts_list_rollouts"
        ]
    );
    let refused = client
        .call(
            "rollouts_abort",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert!(
        refused.is_err() || is_error(refused.as_ref().unwrap()),
        "a read-only instance does not run write tools"
    );
    let count = |result: rmcp::model::CallToolResult| {
        assert!(!is_error(&result), "{}", text(&result));
        let structured = result.structured_content.unwrap();
        (
            structured["target"].as_str().unwrap().to_owned(),
            structured["count"].as_u64().unwrap(),
        )
    };
    let default = client
        .call("rollouts_list_rollouts", json!({}))
        .await
        .unwrap();
    assert_eq!(count(default), ("prod".to_owned(), 6));
    let chosen = client
        .call("rollouts_list_rollouts", json!({"target": "staging"}))
        .await
        .unwrap();
    assert_eq!(count(chosen), ("staging".to_owned(), 0));
    assert_eq!((prod.requests().len(), staging.requests().len()), (1, 1));
    prod.assert_no_violations();
    staging.assert_no_violations();
}
