//! What the plugin serves besides tools: the resource template
//! `argocd://{target}/applications/{name}` (an application's compact status, as
//! `get_application` answers it), and completions of application and target names from the
//! live instance for prompt arguments and template variables.

use capstan_sdk::{
    CompletionRef, Context, Map, ResourceContents, ResourceError, ResourceTemplate, Value,
    resources::read_with_tool,
};

use crate::applications;
use crate::client::{Client, Query};

/// The template of an application's status.
pub(crate) const APPLICATION: &str = "argocd://{target}/applications/{name}";

/// Most completion values answered.
const MAX_VALUES: usize = 100;

pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(APPLICATION, "application")
            .title("Argo CD application status")
            .description(
                "The compact status of one application of one Argo CD target: sync and health, revision, operation, and the resources that are not Healthy or Synced.",
            )
            .mime_type("application/json"),
    ]
}

pub(crate) fn read(ctx: &Context, uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
    let arguments = [("target", "target"), ("name", "applicationName")];
    read_with_tool(ctx, (uri, APPLICATION), &arguments, applications::get)
}

/// Names for the application and target arguments of the prompts and of the template.
pub(crate) fn complete(
    ctx: &Context,
    reference: &CompletionRef,
    argument: &str,
    value: &str,
    chosen: &Map<String, Value>,
) -> Vec<String> {
    let about_template =
        matches!(reference, CompletionRef::ResourceTemplate(t) if t == APPLICATION);
    let about_prompt = matches!(reference, CompletionRef::Prompt(_));
    if !(about_template || about_prompt) {
        return Vec::new();
    }
    match argument {
        "target" => starting_with(ctx.config().targets(), value),
        "applicationName" if about_prompt => application_names(ctx, chosen, value),
        "name" if about_template => application_names(ctx, chosen, value),
        _ => Vec::new(),
    }
}

/// The application names of the chosen (or default) target that start with `value`.
fn application_names(ctx: &Context, chosen: &Map<String, Value>, value: &str) -> Vec<String> {
    let target = chosen.get("target").and_then(Value::as_str);
    let Ok(client) = Client::for_target(ctx, target) else {
        return Vec::new();
    };
    let Ok(list) = client.get("/api/v1/applications", &Query::default(), "") else {
        return Vec::new();
    };
    let names = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|app| app["metadata"]["name"].as_str().map(str::to_owned));
    starting_with(names, value)
}

fn starting_with(values: impl IntoIterator<Item = String>, value: &str) -> Vec<String> {
    let mut matching: Vec<String> = values
        .into_iter()
        .filter(|candidate| candidate.starts_with(value))
        .collect();
    matching.sort();
    matching.dedup();
    matching.truncate(MAX_VALUES);
    matching
}
