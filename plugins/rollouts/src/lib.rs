//! The Argo Rollouts plugin: read tools over the Kubernetes API for `argoproj.io/v1alpha1`
//! Rollouts.
//!
//! Each tool takes an optional `target`, the name of one of the instance's `[[targets]]` (a
//! Kubernetes API server; default: `default_target` from `[config]`, or the only target). The
//! host adds the target's credentials; this plugin never sees a token.
//!
//! Tools: `list_rollouts`.

mod rollouts;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

struct Rollouts;

impl Plugin for Rollouts {
    fn tools() -> Vec<Tool> {
        vec![rollouts::list_tool()]
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        match tool {
            "list_rollouts" => rollouts::list(arguments),
            other => Err(ToolError::new(format!(
                "the Argo Rollouts plugin has no tool `{other}`; it has list_rollouts"
            ))),
        }
    }
}

capstan_sdk::export_plugin!(Rollouts);
