//! Translating between the plugin contract's types and MCP's.

use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptResult, JsonObject, Prompt, PromptArgument,
    PromptMessage, ResourceContents, Role, Tool, ToolAnnotations,
};
use serde_json::Value;

use crate::runtime::types;

/// The MCP description of a plugin tool exposed as `exposed`, and its compiled input validator.
pub fn tool(exposed: &str, tool: &types::Tool) -> Result<(Tool, jsonschema::Validator), String> {
    let input = schema_object(&tool.input_schema, "input schema")?;
    if input.get("type").is_some_and(|t| t != "object") {
        return Err(
            "the input schema's root must be an object schema (\"type\": \"object\")".into(),
        );
    }
    let validator = jsonschema::validator_for(&Value::Object(input.clone()))
        .map_err(|error| format!("the input schema is not a valid JSON Schema: {error}"))?;
    let mut served = Tool::new(exposed.to_owned(), tool.description.clone(), input);
    if let Some(output) = &tool.output_schema {
        served = served.with_raw_output_schema(schema_object(output, "output schema")?.into());
    }
    let hints = &tool.annotations;
    let mut annotations = ToolAnnotations::new()
        .read_only(hints.read_only)
        .destructive(hints.destructive)
        .idempotent(hints.idempotent)
        .open_world(hints.open_world);
    if let Some(title) = &tool.title {
        annotations.title = Some(title.clone());
        served = served.with_title(title.clone());
    }
    Ok((served.with_annotations(annotations), validator))
}

fn schema_object(text: &str, what: &str) -> Result<JsonObject, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(format!("the {what} must be a JSON object")),
        Err(error) => Err(format!("the {what} is not JSON: {error}")),
    }
}

/// The MCP description of a plugin prompt exposed as `exposed`.
pub fn prompt(exposed: &str, prompt: &types::Prompt) -> Prompt {
    let arguments = prompt
        .arguments
        .iter()
        .map(|argument| {
            let mut served =
                PromptArgument::new(argument.name.clone()).with_required(argument.required);
            if let Some(description) = &argument.description {
                served = served.with_description(description.clone());
            }
            served
        })
        .collect();
    let mut served = Prompt::new(
        exposed.to_owned(),
        prompt.description.clone(),
        Some(arguments),
    );
    if let Some(title) = &prompt.title {
        served = served.with_title(title.clone());
    }
    served
}

/// A plugin's call result as an MCP tool result. Structured output that is not JSON makes the
/// result an error that says so; structured output without content gets a text copy.
pub fn call_result(result: types::CallResult) -> CallToolResult {
    let mut content: Vec<ContentBlock> = result.content.into_iter().map(content_block).collect();
    let structured = match result.structured {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            // The plugin's own JSON text is the copy: no second serialization.
            Ok(value) => Some((value, text)),
            Err(error) => {
                return CallToolResult::error(vec![ContentBlock::text(format!(
                    "the plugin returned structured output that is not JSON ({error}); this is a bug in the plugin"
                ))]);
            }
        },
    };
    let structured = structured.map(|(value, text)| {
        if content.is_empty() {
            content.push(ContentBlock::text(text));
        }
        value
    });
    let mut served = if result.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    served.structured_content = structured;
    served
}

/// A plugin's rendered prompt as an MCP prompt result.
pub fn prompt_result(result: types::PromptResult) -> GetPromptResult {
    let messages = result
        .messages
        .into_iter()
        .map(|message| {
            let role = match message.role {
                types::Role::User => Role::User,
                types::Role::Assistant => Role::Assistant,
            };
            PromptMessage::new(role, content_block(message.content))
        })
        .collect();
    let mut served = GetPromptResult::new(messages);
    served.description = result.description;
    served
}

fn content_block(content: types::Content) -> ContentBlock {
    match content {
        types::Content::Text(text) => ContentBlock::text(text),
        types::Content::Image(media) => ContentBlock::image(media.data, media.mime_type),
        types::Content::Audio(media) => ContentBlock::audio(media.data, media.mime_type),
        types::Content::Resource(resource) => ContentBlock::resource(resource_contents(resource)),
    }
}

fn resource_contents(resource: types::EmbeddedResource) -> ResourceContents {
    match resource.contents {
        types::ResourceContents::Text(text) => ResourceContents::TextResourceContents {
            uri: resource.uri,
            mime_type: resource.mime_type,
            text,
            meta: None,
        },
        types::ResourceContents::Blob(blob) => ResourceContents::BlobResourceContents {
            uri: resource.uri,
            mime_type: resource.mime_type,
            blob,
            meta: None,
        },
    }
}
