//! What the plugin serves besides tools: the resource template
//! `rollouts://{target}/{namespace}/{name}` (one Rollout's status, steps, ReplicaSets and
//! analysis runs, as `get_rollout` answers it), and completions of targets.

use capstan_sdk::{
    CompletionRef, Context, Map, ResourceContents, ResourceError, ResourceTemplate, Value,
    resources::read_with_tool,
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
    let arguments = [
        ("target", "target"),
        ("namespace", "namespace"),
        ("name", "name"),
    ];
    read_with_tool(ctx, (uri, ROLLOUT), &arguments, read::get_rollout)
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
