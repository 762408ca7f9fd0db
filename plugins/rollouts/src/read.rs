//! The read tools: `list_rollouts`, `get_rollout`, `list_analysis_runs`, `get_analysis_run`
//! and `list_experiments`.

use capstan_sdk::kube::{Client, ListOptions};
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::info;
use crate::schema::{
    self, ANALYSIS_RUNS, DEPLOYMENTS, EXPERIMENTS, PODS, REPLICA_SETS, ROLLOUTS, object,
};

/// The input of a list tool: `target`, `namespace`, `labelSelector` and `extra`.
fn list_input(extra: Value) -> Value {
    let mut properties = json!({"target": schema::target(), "namespace": schema::namespace(true),
                                "labelSelector": schema::label_selector()});
    if let (Some(properties), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        properties.extend(extra.clone());
    }
    object(properties, &[])
}

/// The input of a tool on one object of `kind`: `target`, `namespace` and `name`.
fn one(kind: &str) -> Value {
    object(
        json!({"target": schema::target(), "namespace": schema::namespace(false), "name": schema::name(kind)}),
        &["namespace", "name"],
    )
}

pub(crate) fn list_rollouts_tool() -> Tool {
    Tool::new(
        "list_rollouts",
        "Lists Argo Rollouts in one namespace (or every namespace when `namespace` is omitted), \
         optionally filtered by a label selector. One row per Rollout: strategy (Canary or \
         BlueGreen), status (Healthy, Progressing, Paused, Degraded) with its message, the canary \
         step, set and actual weight, desired/ready/updated/available replicas and the images.",
    )
    .title("List Argo Rollouts")
    .input(list_input(json!({})))
    .output(object(
        json!({"target": {"type": "string"}, "count": {"type": "integer"},
                          "rollouts": {"type": "array", "items": {"type": "object"}}}),
        &["target", "count", "rollouts"],
    ))
    .read_only()
}

pub(crate) fn get_rollout_tool() -> Tool {
    Tool::new(
        "get_rollout",
        "Shows one Rollout the way the Argo Rollouts dashboard does (RolloutInfo): status and \
         message, strategy, step, weights, replica counts, containers, and its ReplicaSets by \
         revision with their role (stable, canary, active, preview) and pods, its AnalysisRuns \
         and Experiments.",
    )
    .title("Get an Argo Rollout")
    .input(one("Rollout"))
    .output(json!({"type": "object", "properties": {"target": {"type": "string"}, "rollout": {"type": "object"}}, "required": ["target", "rollout"]}))
    .read_only()
}

pub(crate) fn list_analysis_runs_tool() -> Tool {
    Tool::new(
        "list_analysis_runs",
        "Lists AnalysisRuns (namespace or all, label selector, or only those of one Rollout with \
         `rollout`): phase, revision and the successful/failed/inconclusive/error counts of each \
         metric.",
    )
    .title("List Argo Rollouts analysis runs")
    .input(list_input(json!({"rollout": {"type": "string", "maxLength": 253, "description": "Only the runs this Rollout owns (needs `namespace`)."}})))
    .output(object(json!({"target": {"type": "string"}, "count": {"type": "integer"}, "analysisRuns": {"type": "array"}}), &["target", "count", "analysisRuns"]))
    .read_only()
}

pub(crate) fn get_analysis_run_tool() -> Tool {
    Tool::new(
        "get_analysis_run",
        "Shows one AnalysisRun: phase and message, each metric's results and its last measurement.",
    )
    .title("Get an Argo Rollouts analysis run")
    .input(one("AnalysisRun"))
    .output(object(
        json!({"target": {"type": "string"}, "analysisRun": {"type": "object"}}),
        &["target", "analysisRun"],
    ))
    .read_only()
}

pub(crate) fn list_experiments_tool() -> Tool {
    Tool::new(
        "list_experiments",
        "Lists Argo Rollouts Experiments (namespace or all, label selector): phase, message, the \
         templates' replica counts and the analyses.",
    )
    .title("List Argo Rollouts experiments")
    .input(list_input(json!({})))
    .output(object(json!({"target": {"type": "string"}, "count": {"type": "integer"}, "experiments": {"type": "array"}}), &["target", "count", "experiments"]))
    .read_only()
}

pub(crate) fn list_rollouts(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let rollouts = client.list(
        ROLLOUTS,
        args::str(arguments, "namespace"),
        args::str(arguments, "labelSelector"),
    )?;
    let rows: Vec<Value> = rollouts.iter().map(info::row).collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "count": rows.len(), "rollouts": rows}),
    ))
}

pub(crate) fn get_rollout(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let namespace = args::required_str(arguments, "namespace")?;
    let name = args::required_str(arguments, "name")?;
    let rollout = client.get(ROLLOUTS, Some(namespace), name)?;
    let selector = info::selector_string(&rollout["spec"]["selector"]);
    let by_selector = ListOptions {
        label_selector: Some(&selector),
        field_selector: None,
    };
    let replica_sets = client.list_with(REPLICA_SETS, Some(namespace), by_selector)?;
    let pods = client.list_with(PODS, Some(namespace), by_selector)?;
    let runs = client.list(ANALYSIS_RUNS, Some(namespace), None)?;
    let experiments = client.list(EXPERIMENTS, Some(namespace), None)?;
    let workload = match rollout["spec"]["workloadRef"]["name"].as_str() {
        Some(workload) if rollout["spec"]["workloadRef"]["kind"] == "Deployment" => {
            Some(client.get(DEPLOYMENTS, Some(namespace), workload)?)
        }
        _ => None,
    };
    let info = info::rollout_info(
        &rollout,
        &replica_sets,
        &pods,
        &runs,
        &experiments,
        workload.as_ref(),
    );
    Ok(ToolResult::structured(
        json!({"target": client.target(), "rollout": info}),
    ))
}

pub(crate) fn list_analysis_runs(
    ctx: &Context,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let namespace = args::str(arguments, "namespace");
    let mut runs = client.list(
        ANALYSIS_RUNS,
        namespace,
        args::str(arguments, "labelSelector"),
    )?;
    if let Some(rollout) = args::str(arguments, "rollout") {
        let namespace =
            namespace.ok_or("`rollout` needs `namespace`: pass the Rollout's namespace")?;
        let owner = client.get(ROLLOUTS, Some(namespace), rollout)?;
        runs.retain(|run| info::controlled_by(run, &owner));
    }
    let rows: Vec<Value> = runs.iter().map(info::analysis_run_info).collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "count": rows.len(), "analysisRuns": rows}),
    ))
}

pub(crate) fn get_analysis_run(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let name = args::required_str(arguments, "name")?;
    let run = client.get(
        ANALYSIS_RUNS,
        Some(args::required_str(arguments, "namespace")?),
        name,
    )?;
    let mut info = info::analysis_run_info(&run);
    info["args"] = run["spec"]["args"].clone();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "analysisRun": info}),
    ))
}

pub(crate) fn list_experiments(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let experiments = client.list(
        EXPERIMENTS,
        args::str(arguments, "namespace"),
        args::str(arguments, "labelSelector"),
    )?;
    let rows: Vec<Value> = experiments.iter().map(info::experiment_info).collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "count": rows.len(), "experiments": rows}),
    ))
}
