//! The Argo Rollouts plugin: progressive-delivery operations over the Kubernetes API, with the
//! exact requests `kubectl argo rollouts` sends.
//!
//! - `read.rs`: `list_rollouts`, `get_rollout` (the dashboard's RolloutInfo), `list_analysis_runs`,
//!   `get_analysis_run`, `list_experiments`;
//! - `actions.rs`: `promote`, `promote_full`, `pause`, `resume`, `abort`, `retry`, `restart`
//!   (merge patches of the spec, or of the `/status` subresource);
//! - `workload.rs`: `set_image` (GET + PUT, retried on conflict) and `undo` (JSON Patch of
//!   `/spec/template`), on the Rollout or its workloadRef Deployment;
//! - `analysis.rs`: `terminate_analysis_run`, `retry_experiment`, `terminate_experiment`;
//! - `phase.rs`: the phase rules; `info.rs`: the shapes answered; `wait.rs`: the optional wait.
//!
//! Each tool takes an optional `target`, the name of one of the instance's `[[targets]]` (a
//! Kubernetes API server; default: `default_target` from `[config]`, or the only target). The
//! host adds the target's credentials; this plugin never sees a token.

mod actions;
mod analysis;
mod info;
mod phase;
mod read;
mod schema;
mod wait;
mod workload;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

struct Rollouts;

impl Plugin for Rollouts {
    fn tools() -> Vec<Tool> {
        let mut tools = read::tools();
        tools.extend(actions::tools());
        tools.extend(workload::tools());
        tools.extend(analysis::tools());
        tools
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        read::call(tool, &arguments)
            .or_else(|| actions::call(tool, &arguments))
            .or_else(|| workload::call(tool, &arguments))
            .or_else(|| analysis::call(tool, &arguments))
            .unwrap_or_else(|| {
                let names: Vec<String> = Self::tools()
                    .iter()
                    .map(|tool| tool.name().to_owned())
                    .collect();
                Err(ToolError::new(format!(
                    "the Argo Rollouts plugin has no tool `{tool}`; it has {}",
                    names.join(", ")
                )))
            })
    }
}

capstan_sdk::export_plugin!(Rollouts);
