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
//! - `tree`: get_application_resource_tree
//! - `sync`: sync_application
//! - `version`: get_version
//!
//! Shared pieces: `client` (HTTP, errors), `params` (argument reading), `schema` (JSON Schema
//! pieces), `summary` (condensed rows and status).

mod applications;
mod client;
mod params;
mod schema;
mod summary;
mod sync;
mod tree;
mod version;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

struct ArgoCd;

impl Plugin for ArgoCd {
    fn tools() -> Vec<Tool> {
        let mut tools = applications::tools();
        tools.extend([tree::tool(), sync::tool(), version::tool()]);
        tools
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        if let Some(result) = applications::call(tool, &arguments) {
            return result;
        }
        match tool {
            "get_application_resource_tree" => tree::call(&arguments),
            "sync_application" => sync::call(&arguments),
            "get_version" => version::call(arguments),
            other => Err(ToolError::new(format!(
                "the Argo CD plugin has no tool `{other}`; list the tools to see what it offers"
            ))),
        }
    }
}

capstan_sdk::export_plugin!(ArgoCd);
