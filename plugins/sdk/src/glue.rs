//! The bridge between the generated export traits and [`crate::Plugin`]; used by
//! [`crate::export_plugin!`], not by plugin authors.

use serde_json::{Map, Value};

use crate::bindings::capstan::plugin::types;
use crate::result::ToolResult;
use crate::{Context, Plugin};

/// `tools.list-tools` for `P`.
pub fn list_tools<P: Plugin>() -> Vec<types::Tool> {
    P::toolbox()
        .tools()
        .into_iter()
        .map(|tool| tool.into_wit())
        .collect()
}

/// `tools.call-tool` for `P`: parses the arguments and turns an `Err` into an error result.
pub fn call_tool<P: Plugin>(name: &str, arguments: &str) -> types::CallResult {
    let arguments = match serde_json::from_str::<Value>(arguments) {
        Ok(value) => value,
        Err(error) => {
            return ToolResult::error(format!("arguments are not JSON: {error}")).into_wit();
        }
    };
    match P::toolbox().call(&Context::component(), name, &arguments) {
        Ok(result) => result.into_wit(),
        Err(error) => ToolResult::error(error.message()).into_wit(),
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
pub fn get_prompt<P: Plugin>(name: &str, arguments: &str) -> Result<types::PromptResult, String> {
    let arguments = serde_json::from_str::<Map<String, Value>>(arguments)
        .map_err(|error| format!("prompt arguments must be a JSON object: {error}"))?;
    P::get_prompt(name, arguments).map(|result| result.into_wit())
}
