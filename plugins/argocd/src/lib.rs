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
//! - `fleet`: fleet_applications (every target at once, partial answers)
//! - `lifecycle`: create_application, update_application, delete_application
//! - `sync`: sync_application
//! - `operations`: refresh_application, get_application_history, rollback_application,
//!   terminate_operation; `autosync`: set_automated_sync
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
//! `lib.rs` lists every tool in one [`Toolbox`] with its description and handler; each handler
//! takes the call's [`capstan_sdk::Context`], through which all I/O goes, so the native tests
//! (`src/tests/`) run the handlers against answers recorded from the fake Argo CD
//! (`tests/fixtures/`).
//!
//! Shared pieces: `client` (HTTP, errors), `params` (argument reading), `locate` (which target
//! holds an application a call names without a target), `fanout` (one GET to many targets, a
//! bounded number at once), `schema` (JSON Schema
//! pieces), `summary` (lean and wide application rows), `status` (an application's compact
//! status), `listing` (reading an application list without holding it whole), `overrides`
//! (Helm and Kustomize changes of a source), `steps` (the steps a tool reports as it goes).

mod applications;
mod appsets;
mod autosync;
mod client;
mod events;
mod fanout;
mod fleet;
mod identity;
mod lenient;
mod lifecycle;
mod listing;
mod locate;
mod logs;
mod manifests;
mod operations;
mod overrides;
mod params;
mod projects;
mod prompts;
mod resources;
mod schema;
mod served;
mod status;
mod steps;
mod summary;
mod sync;
#[cfg(test)]
mod tests;
mod tree;
mod version;
mod workflows;

use capstan_sdk::{Plugin, ToolError, Toolbox, Value};

struct ArgoCd;

impl Plugin for ArgoCd {
    fn toolbox() -> Toolbox {
        Toolbox::new("Argo CD")
            .tool(
                "list_applications",
                applications::list_tool,
                applications::list,
            )
            .tool("get_application", applications::get_tool, applications::get)
            .tool("fleet_applications", fleet::tool, fleet::call)
            .tool("get_application_resource_tree", tree::tool, tree::call)
            .tool("sync_application", sync::tool, sync::call)
            .tool(
                "create_application",
                lifecycle::create_tool,
                lifecycle::create,
            )
            .tool(
                "update_application",
                lifecycle::update_tool,
                lifecycle::update,
            )
            .tool(
                "delete_application",
                lifecycle::delete_tool,
                lifecycle::delete,
            )
            .tool(
                "refresh_application",
                operations::refresh_tool,
                operations::refresh,
            )
            .tool(
                "get_application_history",
                operations::history_tool,
                operations::history,
            )
            .tool(
                "rollback_application",
                operations::rollback_tool,
                operations::rollback,
            )
            .tool("set_automated_sync", autosync::tool, autosync::call)
            .tool(
                "terminate_operation",
                operations::terminate_tool,
                operations::terminate,
            )
            .tool(
                "get_application_managed_resources",
                resources::managed_tool,
                resources::managed,
            )
            .tool(
                "get_resources",
                resources::get_tool,
                resources::get_resources,
            )
            .tool(
                "get_resource_actions",
                resources::actions_tool,
                resources::actions,
            )
            .tool("run_resource_action", resources::run_tool, resources::run)
            .tool("get_application_workload_logs", logs::tool, logs::call)
            .tool(
                "get_application_events",
                events::application_tool,
                events::application_events,
            )
            .tool(
                "get_resource_events",
                events::resource_tool,
                events::resource_events,
            )
            .tool(
                "get_application_manifests",
                manifests::manifests_tool,
                manifests::manifests,
            )
            .tool("diff_application", manifests::diff_tool, manifests::diff)
            .tool(
                "get_appproject",
                projects::get_project_tool,
                projects::get_project,
            )
            .tool(
                "list_projects",
                projects::list_projects_tool,
                projects::list_projects,
            )
            .tool("list_clusters", projects::clusters_tool, projects::clusters)
            .tool(
                "list_repository_apps",
                projects::repo_apps_tool,
                projects::repo_apps,
            )
            .tool("list_applicationsets", appsets::list_tool, appsets::list)
            .tool("get_applicationset", appsets::get_tool, appsets::get)
            .tool(
                "create_applicationset",
                appsets::create_tool,
                appsets::create,
            )
            .tool(
                "delete_applicationset",
                appsets::delete_tool,
                appsets::delete,
            )
            .tool(
                "generate_applicationset",
                appsets::generate_tool,
                appsets::generate,
            )
            .tool("get_user_info", identity::user_tool, identity::user)
            .tool("can_i", identity::can_i_tool, identity::can_i)
            .tool("get_version", version::tool, version::call)
            .tool(
                "create_applications_from_directories",
                workflows::directories::tool,
                workflows::directories::call,
            )
            .tool(
                "deploy_and_watch",
                workflows::deploy::tool,
                workflows::deploy::call,
            )
            .tool(
                "diagnose_application",
                workflows::diagnose::tool,
                workflows::diagnose::call,
            )
    }

    fn prompts() -> Vec<capstan_sdk::Prompt> {
        prompts::prompts()
    }

    fn get_prompt(
        _ctx: &capstan_sdk::Context,
        prompt: &str,
        arguments: capstan_sdk::Map<String, Value>,
    ) -> Result<capstan_sdk::PromptResult, ToolError> {
        prompts::get(prompt, &arguments).map_err(ToolError::new)
    }

    fn resource_templates() -> Vec<capstan_sdk::ResourceTemplate> {
        served::templates()
    }

    fn read_resource(
        ctx: &capstan_sdk::Context,
        uri: &str,
    ) -> Result<Vec<capstan_sdk::ResourceContents>, capstan_sdk::ResourceError> {
        served::read(ctx, uri)
    }

    fn complete(
        ctx: &capstan_sdk::Context,
        reference: &capstan_sdk::CompletionRef,
        argument: &str,
        value: &str,
        chosen: &capstan_sdk::Map<String, Value>,
    ) -> Vec<String> {
        served::complete(ctx, reference, argument, value, chosen)
    }

    fn skills() -> Vec<capstan_sdk::Skill> {
        vec![
            capstan_sdk::skill!("argocd-degraded-application"),
            capstan_sdk::skill!("argocd-sync-failures"),
            capstan_sdk::skill!("argocd-safe-deploy-and-rollback"),
        ]
    }
}

capstan_sdk::export_plugin!(ArgoCd);
