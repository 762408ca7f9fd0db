//! The toolbox: every tool listed once under the name it describes, argocd-mcp's names kept,
//! calls dispatched by name, the prompts.

use capstan_sdk::{Content, Map, Plugin, json};

use super::{argocd, call};
use crate::ArgoCd;

const TOOLS: [&str; 37] = [
    "list_applications",
    "get_application",
    "fleet_applications",
    "get_application_resource_tree",
    "sync_application",
    "create_application",
    "update_application",
    "delete_application",
    "refresh_application",
    "get_application_history",
    "rollback_application",
    "set_automated_sync",
    "terminate_operation",
    "get_application_managed_resources",
    "get_resources",
    "get_resource_actions",
    "run_resource_action",
    "get_application_workload_logs",
    "get_application_events",
    "get_resource_events",
    "get_application_manifests",
    "diff_application",
    "get_appproject",
    "list_projects",
    "list_clusters",
    "list_repository_apps",
    "list_applicationsets",
    "get_applicationset",
    "create_applicationset",
    "delete_applicationset",
    "generate_applicationset",
    "get_user_info",
    "can_i",
    "get_version",
    "create_applications_from_directories",
    "deploy_and_watch",
    "diagnose_application",
];

#[test]
fn every_tool_is_listed_once_under_the_name_it_describes() {
    let toolbox = ArgoCd::toolbox();
    assert_eq!(toolbox.names().collect::<Vec<_>>(), TOOLS);
    let tools = toolbox.tools();
    let described: Vec<&str> = tools.iter().map(|tool| tool.name()).collect();
    assert_eq!(described, TOOLS);
}

#[test]
fn argocd_mcp_names_are_kept() {
    let names: Vec<&str> = ArgoCd::toolbox().names().collect();
    for argocd_mcp in [
        "list_applications",
        "get_application",
        "create_application",
        "update_application",
        "delete_application",
        "sync_application",
        "get_application_resource_tree",
        "get_application_managed_resources",
        "get_application_workload_logs",
        "get_application_events",
        "get_resource_events",
        "get_resources",
        "get_resource_actions",
        "run_resource_action",
        "list_clusters",
        "get_appproject",
    ] {
        assert!(names.contains(&argocd_mcp), "{argocd_mcp}");
    }
}

#[test]
fn an_unknown_tool_is_an_error_naming_the_tools_and_sends_nothing() {
    let fixture = argocd();
    let error = call(&fixture, "get_applications", json!({})).unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "the Argo CD plugin has no tool `get_applications`; it has {}",
            TOOLS.join(", ")
        )
    );
    assert!(fixture.requests().is_empty());
}

fn prompt_text(name: &str, arguments: serde_json::Value) -> Result<String, String> {
    let arguments: Map<String, serde_json::Value> =
        serde_json::from_value(arguments).expect("an object");
    let ctx = capstan_sdk::fixture::Fixture::new().context();
    let result = ArgoCd::get_prompt(&ctx, name, arguments).map_err(|e| e.message().to_owned())?;
    assert_eq!(result.messages.len(), 1);
    let message = &result.messages[0];
    assert!(!message.assistant, "the recipe is the user's message");
    match &message.content {
        Content::Text(text) => Ok(text.clone()),
        other => panic!("a text message, not {other:?}"),
    }
}

#[test]
fn the_prompts_walk_through_the_recipes() {
    let prompts = ArgoCd::prompts();
    let names: Vec<&str> = prompts.iter().map(|prompt| prompt.name.as_str()).collect();
    assert_eq!(names, ["troubleshoot_application", "safe_deploy"]);
    let required: Vec<Vec<&str>> = prompts
        .iter()
        .map(|prompt| {
            prompt
                .arguments
                .iter()
                .filter(|argument| argument.required)
                .map(|argument| argument.name.as_str())
                .collect()
        })
        .collect();
    assert_eq!(
        required,
        [vec!["applicationName"], vec!["applicationName", "revision"]]
    );
    let deploy = prompt_text(
        "safe_deploy",
        json!({"applicationName": "payments-api", "revision": "v2.15.0"}),
    )
    .unwrap();
    assert!(
        deploy.contains("deploy_and_watch")
            && deploy.contains("revision `v2.15.0`")
            && deploy.contains("`payments-api`")
            && !deploy.contains("Pass `target"),
        "{deploy}"
    );
    let troubleshoot = prompt_text(
        "troubleshoot_application",
        json!({"applicationName": "recommendations", "target": "prod"}),
    )
    .unwrap();
    assert!(
        troubleshoot.starts_with(
            "Troubleshoot the Argo CD application `recommendations`. Pass `target: \"prod\"` to every tool.\n1. Call diagnose_application"
        ),
        "{troubleshoot}"
    );
    assert_eq!(
        prompt_text("safe_deploy", json!({})).unwrap_err(),
        "the prompt needs `applicationName`"
    );
    assert_eq!(
        prompt_text("rollout", json!({"applicationName": "web"})).unwrap_err(),
        "this plugin has no prompt named `rollout`"
    );
}
