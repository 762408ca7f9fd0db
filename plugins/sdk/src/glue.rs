//! The bridge between the generated export traits and [`crate::Plugin`]; used by
//! [`crate::export_plugin!`], not by plugin authors.

use serde_json::{Map, Value};

use crate::bindings::capstan::plugin::types;
use crate::input::Round;
use crate::resources::CompletionRef;
use crate::result::ToolResult;
use crate::{Context, Plugin, ToolError};

/// `tools.list-tools` for `P`.
pub fn list_tools<P: Plugin>() -> Vec<types::Tool> {
    P::toolbox()
        .tools()
        .into_iter()
        .map(|tool| tool.into_wit())
        .collect()
}

/// The context of one export call, with the previous round's answers.
fn context(round: Option<types::Round>) -> Context {
    let context = Context::component();
    match round {
        Some(round) => context.with_round(Round::from_wit(round)),
        None => context,
    }
}

/// `tools.call-tool` for `P`: parses the arguments and turns an `Err` into an error result,
/// or into questions for the client.
pub fn call_tool<P: Plugin>(
    name: &str,
    arguments: &str,
    round: Option<types::Round>,
) -> types::ToolAnswer {
    let arguments = match serde_json::from_str::<Value>(arguments) {
        Ok(value) => value,
        Err(error) => {
            let result = ToolResult::error(format!("arguments are not JSON: {error}"));
            return types::ToolAnswer::Complete(result.into_wit());
        }
    };
    match P::toolbox().call(&context(round), name, &arguments) {
        Ok(result) => types::ToolAnswer::Complete(result.into_wit()),
        Err(error) => match error.input_required_by() {
            Some(input) => types::ToolAnswer::InputRequired(input.clone().into_wit()),
            None => types::ToolAnswer::Complete(ToolResult::error(error.message()).into_wit()),
        },
    }
}

/// `prompts.list-prompts` for `P`.
pub fn list_prompts<P: Plugin>() -> Vec<types::Prompt> {
    P::prompts()
        .into_iter()
        .map(|prompt| prompt.into_wit())
        .collect()
}

/// `prompts.get-prompt` for `P`.
pub fn get_prompt<P: Plugin>(
    name: &str,
    arguments: &str,
    round: Option<types::Round>,
) -> Result<types::PromptAnswer, String> {
    let arguments = serde_json::from_str::<Map<String, Value>>(arguments)
        .map_err(|error| format!("prompt arguments must be a JSON object: {error}"))?;
    match P::get_prompt(&context(round), name, arguments) {
        Ok(result) => Ok(types::PromptAnswer::Complete(result.into_wit())),
        Err(error) => match error.input_required_by() {
            Some(input) => Ok(types::PromptAnswer::InputRequired(input.clone().into_wit())),
            None => Err(ToolError::message(&error).to_owned()),
        },
    }
}

/// `resources.list-resources` for `P`.
pub fn list_resources<P: Plugin>() -> Vec<types::Resource> {
    P::resources().into_iter().map(|r| r.into_wit()).collect()
}

/// `resources.list-resource-templates` for `P`.
pub fn list_resource_templates<P: Plugin>() -> Vec<types::ResourceTemplate> {
    P::resource_templates()
        .into_iter()
        .map(|t| t.into_wit())
        .collect()
}

/// `resources.read-resource` for `P`.
pub fn read_resource<P: Plugin>(
    uri: &str,
) -> Result<Vec<types::EmbeddedResource>, types::ResourceError> {
    P::read_resource(&Context::component(), uri)
        .map(|contents| contents.into_iter().map(|c| c.into_wit()).collect())
        .map_err(|error| error.into_wit())
}

/// `completions.complete` for `P`.
pub fn complete<P: Plugin>(
    reference: types::CompletionRef,
    argument: &str,
    value: &str,
    context: &str,
) -> Vec<String> {
    let chosen = serde_json::from_str::<Map<String, Value>>(context).unwrap_or_default();
    let reference = CompletionRef::from_wit(reference);
    P::complete(&Context::component(), &reference, argument, value, &chosen)
}

/// `skills.list-skills` for `P`.
pub fn list_skills<P: Plugin>() -> Vec<types::Skill> {
    P::skills().into_iter().map(|s| s.into_wit()).collect()
}
