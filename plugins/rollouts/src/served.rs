//! What the plugin serves besides tools: the resource template
//! `rollouts://{target}/{namespace}/{name}` (one Rollout's status, steps, ReplicaSets and
//! analysis runs, as `get_rollout` answers it), and completions of targets.

use capstan_sdk::{
    CompletionRef, Context, Map, ResourceContents, ResourceError, ResourceTemplate, Value, json,
    resources::match_template,
};

use crate::read;

/// The template of one Rollout.
pub(crate) const ROLLOUT: &str = "rollouts://{target}/{namespace}/{name}";

pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(ROLLOUT, "rollout")
            .title("Argo Rollout status")
            .description(
                "One Rollout of one cluster: its phase, current step, revisions, ReplicaSets and analysis runs.",
            )
            .mime_type("application/json"),
    ]
}

pub(crate) fn read(ctx: &Context, uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
    let Some(variables) = match_template(ROLLOUT, uri) else {
        return Err(ResourceError::NotFound(format!(
            "this plugin serves {ROLLOUT} only"
        )));
    };
    let arguments = json!({
        "target": variables["target"],
        "namespace": variables["namespace"],
        "name": variables["name"],
    });
    let answer = read::get_rollout(ctx, &arguments)
        .map_err(|error| ResourceError::NotFound(error.message().to_owned()))?;
    let status = answer.structured_content().cloned().unwrap_or(Value::Null);
    Ok(vec![ResourceContents::text(
        uri,
        "application/json",
        status.to_string(),
    )])
}

/// Targets for the template's `target`.
pub(crate) fn complete(
    ctx: &Context,
    reference: &CompletionRef,
    argument: &str,
    value: &str,
    _chosen: &Map<String, Value>,
) -> Vec<String> {
    match (reference, argument) {
        (CompletionRef::ResourceTemplate(t), "target") if t == ROLLOUT => ctx
            .config()
            .targets()
            .into_iter()
            .filter(|target| target.starts_with(value))
            .collect(),
        _ => Vec::new(),
    }
}
