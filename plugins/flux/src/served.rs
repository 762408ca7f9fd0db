//! What the plugin serves besides tools: the resource template
//! `flux://{target}/{kind}/{namespace}/{name}` (one Flux object's health, revision, source and
//! recent events, as `get_flux_resource` answers it), and completions of targets and kinds.

use capstan_sdk::{
    CompletionRef, Context, Map, ResourceContents, ResourceError, ResourceTemplate, Value, json,
    resources::match_template,
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
    let Some(variables) = match_template(OBJECT, uri) else {
        return Err(ResourceError::NotFound(format!(
            "this plugin serves {OBJECT} only"
        )));
    };
    let arguments = json!({
        "target": variables["target"],
        "kind": variables["kind"],
        "namespace": variables["namespace"],
        "name": variables["name"],
    });
    let answer = resources::get(ctx, &arguments)
        .map_err(|e| ResourceError::NotFound(e.message().to_owned()))?;
    if answer.is_error() {
        return Err(ResourceError::NotFound(format!("{uri} could not be read")));
    }
    let status = answer.structured_content().cloned().unwrap_or(Value::Null);
    Ok(vec![ResourceContents::text(
        uri,
        "application/json",
        status.to_string(),
    )])
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
