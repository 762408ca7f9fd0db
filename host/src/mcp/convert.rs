//! Translating between the plugin contract's types (as the registry serves them) and MCP's.

use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptResult, Prompt, PromptArgument, PromptMessage,
    ResourceContents, Role, Tool, ToolAnnotations,
};
use serde_json::Value;

use crate::registry::{PromptDefinition, ToolDefinition};
use crate::runtime::types;

/// The MCP description of a served tool.
pub fn tool(definition: &ToolDefinition) -> Tool {
    let declared = &definition.tool;
    let mut served = Tool::new(
        definition.exposed.clone(),
        declared.description.clone(),
        definition.input_schema.clone(),
    );
    if let Some(output) = &definition.output_schema {
        served = served.with_raw_output_schema(output.clone());
    }
    let hints = &declared.annotations;
    let mut annotations = ToolAnnotations::new()
        .read_only(hints.read_only)
        .destructive(hints.destructive)
        .idempotent(hints.idempotent)
        .open_world(hints.open_world);
    if let Some(title) = &declared.title {
        annotations.title = Some(title.clone());
        served = served.with_title(title.clone());
    }
    served.with_annotations(annotations)
}

/// The MCP description of a served prompt.
pub fn prompt(definition: &PromptDefinition) -> Prompt {
    let declared = &definition.prompt;
    let arguments = declared
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
        definition.exposed.clone(),
        declared.description.clone(),
        Some(arguments),
    );
    if let Some(title) = &declared.title {
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

/// A plugin's resource contents as MCP's.
pub fn resource_contents(resource: types::EmbeddedResource) -> ResourceContents {
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
