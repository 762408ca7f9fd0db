//! The Argo CD plugin: Argo CD's REST API (v3.x) as tools for agents.
//!
//! Each tool takes an optional `target`, the name of one of the instance's `[[targets]]`
//! (default: `default_target` from `[config]`, or the only target), so one instance fronts
//! several Argo CD servers, each with its own credentials. The host adds the credentials; this
//! plugin never sees a token. Names from arguments are percent-encoded into their own path
//! segment and query values, and every non-2xx answer becomes an error result that quotes the
//! HTTP status, Argo CD's gRPC code and message, and says what to do next.
//!
//! The tools keep argocd-mcp's names and argument names (`applicationName`,
//! `applicationNamespace`, `resourceRef`, …) so agents written for it work unchanged, and
//! answer summaries sized for an agent by default (`detail` for full objects, `limit`/`offset`
//! for pages). Modules, by concern:
//!
//! - `applications`: list_applications, get_application
//! - `lifecycle`: create_application, update_application, delete_application
//! - `sync`: sync_application
//! - `operations`: refresh_application, get_application_history, rollback_application,
//!   terminate_operation
//! - `tree`: get_application_resource_tree
//! - `resources`: get_application_managed_resources, get_resources, get_resource_actions,
//!   run_resource_action
//! - `logs`: get_application_workload_logs
//! - `events`: get_application_events, get_resource_events
//! - `manifests`: get_application_manifests, diff_application
//! - `projects`: get_appproject, list_projects, list_clusters, list_repository_apps
//! - `appsets`: list_applicationsets, get_applicationset, create_applicationset,
//!   delete_applicationset, generate_applicationset
//! - `identity`: get_user_info, can_i; `version`: get_version
//! - `workflows`: create_applications_from_directories, deploy_and_watch, diagnose_application
//! - `prompts`: troubleshoot_application, safe_deploy
//!
//! Shared pieces: `client` (HTTP, errors), `params` (argument reading), `schema` (JSON Schema
//! pieces), `summary` (lean and wide application rows), `status` (an application's compact
//! status), `listing` (reading an application list without holding it whole).

mod applications;
mod appsets;
mod client;
mod events;
mod identity;
mod lifecycle;
mod listing;
mod logs;
mod manifests;
mod operations;
mod params;
mod projects;
mod prompts;
mod resources;
mod schema;
mod status;
mod summary;
mod sync;
mod tree;
mod version;
mod workflows;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

/// A module's tool dispatcher: `None` when the tool is not one of its own.
type Dispatch = fn(&str, &Value) -> Option<Result<ToolResult, ToolError>>;

/// Every module that dispatches by name.
const MODULES: [Dispatch; 11] = [
    applications::call,
    lifecycle::call,
    operations::call,
    resources::call,
    events::call,
    manifests::call,
    projects::call,
    appsets::call,
    identity::call,
    workflows::call,
    single,
];

/// The modules with one tool each.
fn single(tool: &str, arguments: &Value) -> Option<Result<ToolResult, ToolError>> {
    Some(match tool {
        "sync_application" => sync::call(arguments),
        "get_application_resource_tree" => tree::call(arguments),
        "get_application_workload_logs" => logs::call(arguments),
        "get_version" => version::call(arguments.clone()),
        _ => return None,
    })
}

struct ArgoCd;

impl Plugin for ArgoCd {
    fn tools() -> Vec<Tool> {
        let mut tools = applications::tools();
        tools.extend([tree::tool(), sync::tool()]);
        tools.extend(lifecycle::tools());
        tools.extend(operations::tools());
        tools.extend(resources::tools());
        tools.push(logs::tool());
        tools.extend(events::tools());
        tools.extend(manifests::tools());
        tools.extend(projects::tools());
        tools.extend(appsets::tools());
        tools.extend(identity::tools());
        tools.push(version::tool());
        tools.extend(workflows::tools());
        tools
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        MODULES
            .iter()
            .find_map(|dispatch| dispatch(tool, &arguments))
            .unwrap_or_else(|| {
                Err(ToolError::new(format!(
                    "the Argo CD plugin has no tool `{tool}`; list the tools to see what it offers"
                )))
            })
    }

    fn prompts() -> Vec<capstan_sdk::Prompt> {
        prompts::prompts()
    }

    fn get_prompt(
        prompt: &str,
        arguments: capstan_sdk::Map<String, Value>,
    ) -> Result<capstan_sdk::PromptResult, String> {
        prompts::get(prompt, &arguments)
    }
}

capstan_sdk::export_plugin!(ArgoCd);
