//! The AnalysisRun and Experiment write tools: `terminate_analysis_run`, `retry_experiment` and
//! `terminate_experiment`, each one JSON merge patch of the main resource (neither kind has a
//! status subresource), as `kubectl argo rollouts terminate` and `retry experiment` send them.

use capstan_sdk::kube::{Client, Resource, Subresource};
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::info;
use crate::schema::{self, ANALYSIS_RUNS, EXPERIMENTS, object};

/// The input of a tool on one object of `kind`.
fn input(kind: &str) -> Value {
    object(
        json!({"target": schema::target(), "namespace": schema::namespace(false), "name": schema::name(kind)}),
        &["namespace", "name"],
    )
}

/// The output of every tool here.
fn output() -> Value {
    object(
        json!({"target": {"type": "string"}, "action": {"type": "string"}, "request": {"type": "string"},
                              "status": {"type": "string"}, "object": {"type": "object"}}),
        &["target", "action", "request", "status"],
    )
}

pub(crate) fn terminate_analysis_run_tool() -> Tool {
    Tool::new(
        "terminate_analysis_run",
        "Terminates a running AnalysisRun (`spec.terminate: true`); its metrics stop being \
         measured.",
    )
    .title("Terminate an Argo Rollouts analysis run")
    .input(input("AnalysisRun"))
    .output(output())
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn retry_experiment_tool() -> Tool {
    Tool::new(
        "retry_experiment",
        "Retries a failed or terminated Experiment by clearing its status, so the controller \
         runs it again.",
    )
    .title("Retry an Argo Rollouts experiment")
    .input(input("Experiment"))
    .output(output())
    .destructive(false)
    .idempotent(false)
}

pub(crate) fn terminate_experiment_tool() -> Tool {
    Tool::new(
        "terminate_experiment",
        "Terminates a running Experiment (`spec.terminate: true`): its ReplicaSets scale down \
         and its analyses stop.",
    )
    .title("Terminate an Argo Rollouts experiment")
    .input(input("Experiment"))
    .output(output())
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn terminate_analysis_run(
    ctx: &Context,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let patch = json!({"spec": {"terminate": true}});
    patch_object(
        ctx,
        "terminate_analysis_run",
        ANALYSIS_RUNS,
        &patch,
        arguments,
    )
}

pub(crate) fn retry_experiment(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let patch = json!({"status": null});
    patch_object(ctx, "retry_experiment", EXPERIMENTS, &patch, arguments)
}

pub(crate) fn terminate_experiment(
    ctx: &Context,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let patch = json!({"spec": {"terminate": true}});
    patch_object(ctx, "terminate_experiment", EXPERIMENTS, &patch, arguments)
}

fn patch_object(
    ctx: &Context,
    tool: &str,
    resource: Resource,
    patch: &Value,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let namespace = args::required_str(arguments, "namespace")?;
    let name = args::required_str(arguments, "name")?;
    let written = client.merge_patch(resource, Some(namespace), name, Subresource::Main, patch)?;
    let summary = if resource.kind == "AnalysisRun" {
        info::analysis_run_info(&written)
    } else {
        info::experiment_info(&written)
    };
    Ok(ToolResult::structured(json!({
        "target": client.target(), "action": tool,
        "request": format!("PATCH {}/{name} (merge) {patch}", resource.plural),
        "status": summary["status"], "object": summary,
    })))
}
