//! The Flux plugin: read tools over the Kubernetes API for Flux's objects (Kustomization,
//! HelmRelease, GitRepository, HelmRepository).
//!
//! Each tool takes an optional `target`, the name of one of the instance's `[[targets]]` (a
//! Kubernetes API server; default: `default_target` from `[config]`, or the only target). The
//! host adds the target's credentials; this plugin never sees a token.
//!
//! Tools: `list_flux_resources`.

mod kinds;

mod resources;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

struct Flux;

impl Plugin for Flux {
    fn tools() -> Vec<Tool> {
        vec![resources::list_tool()]
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        match tool {
            "list_flux_resources" => resources::list(arguments),
            other => Err(ToolError::new(format!(
                "the Flux plugin has no tool `{other}`; it has list_flux_resources"
            ))),
        }
    }
}

capstan_sdk::export_plugin!(Flux);
