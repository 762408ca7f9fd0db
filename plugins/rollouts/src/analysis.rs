//! The AnalysisRun and Experiment write tools: `terminate_analysis_run`, `retry_experiment` and
//! `terminate_experiment`, each one JSON merge patch of the main resource (neither kind has a
//! status subresource), as `kubectl argo rollouts terminate` and `retry experiment` send them.

use capstan_sdk::kube::{Client, Resource, Subresource};
use capstan_sdk::{Tool, ToolError, ToolResult, Value, args, json};

use crate::info;
use crate::schema::{self, ANALYSIS_RUNS, EXPERIMENTS, object};

pub(crate) fn tools() -> Vec<Tool> {
    let input = |kind: &str| {
        object(
            json!({"target": schema::target(), "namespace": schema::namespace(false), "name": schema::name(kind)}),
            &["namespace", "name"],
        )
    };
    let output = || {
        object(
            json!({"target": {"type": "string"}, "action": {"type": "string"}, "request": {"type": "string"},
                                  "status": {"type": "string"}, "object": {"type": "object"}}),
            &["target", "action", "request", "status"],
        )
    };
    vec![
        Tool::new("terminate_analysis_run", "Terminates a running AnalysisRun (`spec.terminate: true`); its metrics stop being measured.")
            .title("Terminate an Argo Rollouts analysis run")
            .input(input("AnalysisRun")).output(output()).destructive(true).idempotent(true),
        Tool::new("retry_experiment", "Retries a failed or terminated Experiment by clearing its status, so the controller runs it again.")
            .title("Retry an Argo Rollouts experiment")
            .input(input("Experiment")).output(output()).destructive(false).idempotent(false),
        Tool::new("terminate_experiment", "Terminates a running Experiment (`spec.terminate: true`): its ReplicaSets scale down and its analyses stop.")
            .title("Terminate an Argo Rollouts experiment")
            .input(input("Experiment")).output(output()).destructive(true).idempotent(true),
    ]
}

pub(crate) fn call(tool: &str, arguments: &Value) -> Option<Result<ToolResult, ToolError>> {
    let (resource, patch) = match tool {
        "terminate_analysis_run" => (ANALYSIS_RUNS, json!({"spec": {"terminate": true}})),
        "retry_experiment" => (EXPERIMENTS, json!({"status": null})),
        "terminate_experiment" => (EXPERIMENTS, json!({"spec": {"terminate": true}})),
        _ => return None,
    };
    Some(patch_object(tool, resource, &patch, arguments))
}

fn patch_object(
    tool: &str,
    resource: Resource,
    patch: &Value,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(args::str(arguments, "target"))?;
    let namespace = args::required_str(arguments, "namespace")?;
    let name = args::required_str(arguments, "name")?;
    schema::check_name(name)?;
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
