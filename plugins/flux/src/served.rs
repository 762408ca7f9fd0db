//! What the plugin serves besides tools: the resource template
//! `flux://{target}/{kind}/{namespace}/{name}` (one Flux object's health, revision, source and
//! recent events, as `get_flux_resource` answers it), and completions of targets and kinds.

use capstan_sdk::{
    CompletionRef, Context, Map, ResourceContents, ResourceError, ResourceTemplate, Value,
    resources::read_with_tool,
};

use crate::{kinds, resources};

/// The template of one Flux object.
pub(crate) const OBJECT: &str = "flux://{target}/{kind}/{namespace}/{name}";

pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(OBJECT, "flux-object")
            .title("Flux object status")
            .description(
                "One Flux object (Kustomization, HelmRelease, GitRepository, ...) of one cluster: its health, revision, source and recent events.",
            )
            .mime_type("application/json"),
    ]
}

pub(crate) fn read(ctx: &Context, uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
    let arguments = [
        ("target", "target"),
        ("kind", "kind"),
        ("namespace", "namespace"),
        ("name", "name"),
    ];
    read_with_tool(ctx, (uri, OBJECT), &arguments, resources::get)
}

/// Targets and kinds for the template's variables.
pub(crate) fn complete(
    ctx: &Context,
    reference: &CompletionRef,
    argument: &str,
    value: &str,
    _chosen: &Map<String, Value>,
) -> Vec<String> {
    if !matches!(reference, CompletionRef::ResourceTemplate(t) if t == OBJECT) {
        return Vec::new();
    }
    let candidates: Vec<String> = match argument {
        "target" => ctx.config().targets(),
        "kind" => kinds::names().into_iter().map(str::to_owned).collect(),
        _ => return Vec::new(),
    };
    candidates
        .into_iter()
        .filter(|candidate| candidate.starts_with(value))
        .collect()
}
