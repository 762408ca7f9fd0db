//! `capstan serve --stdio`: one local client over stdin/stdout.

use capstan_tests::capstan::PluginDir;
use capstan_tests::paths;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;

#[tokio::test]
async fn a_client_can_call_tools_over_stdio() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let mut command = tokio::process::Command::new(paths::capstan_bin());
    command
        .arg("serve")
        .arg("--stdio")
        .arg("--plugins")
        .arg(plugins.path())
        .arg("--cache-dir")
        .arg(paths::shared_cache_dir());
    let transport = TokioChildProcess::new(command).unwrap();
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "probe_echo"));
    let mut arguments = serde_json::Map::new();
    arguments.insert("text".into(), "over stdio".into());
    let result = client
        .call_tool(CallToolRequestParams::new("probe_echo").with_arguments(arguments))
        .await
        .unwrap();
    assert_eq!(
        result.structured_content,
        Some(serde_json::json!({"echo": "over stdio"}))
    );
    client.cancel().await.unwrap();
}
