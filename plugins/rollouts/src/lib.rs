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
//!
//! The `Toolbox` below lists every tool with its description and handler. Handlers do all their
//! I/O through the call's `Context`, so the native tests in `src/tests/` run them against answers
//! recorded from the fake Kubernetes API (`tests/fixtures/`, by `tests/record-fixtures.py`).

mod actions;
mod analysis;
mod info;
mod phase;
mod read;
mod schema;
mod served;
mod wait;
mod workload;

#[cfg(test)]
mod tests;

use capstan_sdk::{Plugin, Toolbox};

struct Rollouts;

impl Plugin for Rollouts {
    fn toolbox() -> Toolbox {
        Toolbox::new("Argo Rollouts")
            .tool(
                "list_rollouts",
                read::list_rollouts_tool,
                read::list_rollouts,
            )
            .tool("get_rollout", read::get_rollout_tool, read::get_rollout)
            .tool(
                "list_analysis_runs",
                read::list_analysis_runs_tool,
                read::list_analysis_runs,
            )
            .tool(
                "get_analysis_run",
                read::get_analysis_run_tool,
                read::get_analysis_run,
            )
            .tool(
                "list_experiments",
                read::list_experiments_tool,
                read::list_experiments,
            )
            .tool("promote", actions::promote_tool, actions::promote)
            .tool(
                "promote_full",
                actions::promote_full_tool,
                actions::promote_full,
            )
            .tool("pause", actions::pause_tool, actions::pause)
            .tool("resume", actions::resume_tool, actions::resume)
            .tool("abort", actions::abort_tool, actions::abort)
            .tool("retry", actions::retry_tool, actions::retry)
            .tool("restart", actions::restart_tool, actions::restart)
            .tool("set_image", workload::set_image_tool, workload::set_image)
            .tool("undo", workload::undo_tool, workload::undo)
            .tool(
                "terminate_analysis_run",
                analysis::terminate_analysis_run_tool,
                analysis::terminate_analysis_run,
            )
            .tool(
                "retry_experiment",
                analysis::retry_experiment_tool,
                analysis::retry_experiment,
            )
            .tool(
                "terminate_experiment",
                analysis::terminate_experiment_tool,
                analysis::terminate_experiment,
            )
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
        chosen: &capstan_sdk::Map<String, capstan_sdk::Value>,
    ) -> Vec<String> {
        served::complete(ctx, reference, argument, value, chosen)
    }

    fn skills() -> Vec<capstan_sdk::Skill> {
        vec![
            capstan_sdk::skill!("rollouts-paused-or-aborted-canary"),
            capstan_sdk::skill!("rollouts-analysis-failures"),
            capstan_sdk::skill!("rollouts-blue-green-promotion"),
        ]
    }
}

capstan_sdk::export_plugin!(Rollouts);
