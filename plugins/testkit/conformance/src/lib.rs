//! The fixtures the official MCP conformance suite expects from a server
//! (`@modelcontextprotocol/conformance@0.1.16`, and `0.2.0-alpha.12` for the 2026-07-28
//! revision).
//!
//! Loaded by the host with an empty prefix, so the tool, prompt and resource names below are
//! exactly the names the suite calls. Texts, MIME types, URIs and timings follow the scenario
//! descriptions of the suite and its reference server
//! (`examples/servers/typescript/everything-server.ts`).
//!
//! - Here: content, logging, progress, errors and schema tools, the prompts, the Tasks
//!   extension fixtures (`greet`, `slow_compute`, `failing_job`, `protocol_error_job`).
//! - `resources`: the `test://` resources, the `test://template/{id}/data` template and the
//!   completions.
//! - `rounds`: multi round-trip input (SEP-2322): the `test_input_required_result_*` tools
//!   and prompt, and the `server-stateless` diagnostics that ask the client.
//! - `requests`: the 2025-11-25 sampling and elicitation tools, which ask the same way (the
//!   host sends those sessions the requests itself).
//! - `tasks`: input inside a task (`confirm_delete`, `multi_input`) and input before a task
//!   (`test_tool_with_task`).
//!
//! Not here, because a plugin cannot express them: `test_trigger_tool_change` and
//! `test_trigger_prompt_change` (a plugin cannot change its own lists; capstan's change only on
//! reload). The conformance baselines list what still fails.

use std::time::Duration;

use capstan_sdk::{
    CompletionRef, Content, Context, Map, Plugin, Prompt, PromptMessage, PromptResult, Resource,
    ResourceContents, ResourceError, ResourceTemplate, TaskSupport, Tool, ToolError, ToolResult,
    Toolbox, Value, json,
};

mod requests;
mod resources;
mod rounds;
mod tasks;

/// The JSON Schema dialect every input schema here declares.
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A 1×1 red PNG (RGBA), the same bytes as the suite's reference server uses.
const TEST_IMAGE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/// A complete 52-byte WAV: PCM, mono, 8 kHz, 8 bit, eight samples of silence.
const TEST_AUDIO_WAV: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

/// The pause between the log lines of `test_tool_with_logging` and the progress reports of
/// `test_tool_with_progress` ("~50 ms" in the suite).
const STEP_DELAY_MS: u64 = 50;

/// How long `test_reconnection` works before it answers (the reference server's 100 ms).
const RECONNECTION_DELAY_MS: u64 = 100;

struct Conformance;

/// An object schema (2020-12) with these properties that accepts nothing else.
fn object(properties: Value) -> Value {
    json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// An object schema that takes no arguments.
fn no_arguments() -> Value {
    object(json!({}))
}

/// A read-only, closed-world tool without arguments.
fn fixture(name: &str, title: &str, description: &str) -> Tool {
    Tool::new(name, description)
        .title(title)
        .input(no_arguments())
        .read_only()
        .open_world(false)
}

/// The input schema of `json_schema_2020_12_tool`, verbatim from the json-schema-2020-12
/// scenario: the host must list `$schema`, `$defs` (with an `$anchor`), `additionalProperties`,
/// the composition keywords `allOf`/`anyOf` and the conditional `if`/`then`/`else` unchanged
/// (SEP-1613, SEP-2106).
fn json_schema_2020_12() -> Value {
    json!({
        "$schema": DIALECT,
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"}
                }
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false
    })
}

/// The input schema of `test_custom_header`: `region` travels both in the body and as the
/// `Mcp-Param-Region` HTTP header (SEP-2243), which the host checks against each other.
fn custom_header() -> Value {
    json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "note": {"type": "string"}
        },
        "required": ["region"],
        "additionalProperties": false,
    })
}

impl Plugin for Conformance {
    fn toolbox() -> Toolbox {
        let toolbox = Toolbox::new("conformance")
            .tool(
                "test_simple_text",
                || {
                    fixture(
                        "test_simple_text",
                        "Simple text",
                        "Conformance fixture: answers with one fixed text block.",
                    )
                },
                |_, _| Ok(ToolResult::text("This is a simple text response for testing.")),
            )
            .tool(
                "test_image_content",
                || {
                    fixture(
                        "test_image_content",
                        "Image content",
                        "Conformance fixture: answers with a 1x1 PNG image block.",
                    )
                },
                |_, _| Ok(ToolResult::from_content(vec![image()])),
            )
            .tool(
                "test_audio_content",
                || {
                    fixture(
                        "test_audio_content",
                        "Audio content",
                        "Conformance fixture: answers with a short WAV audio block.",
                    )
                },
                |_, _| {
                    Ok(ToolResult::from_content(vec![Content::Audio {
                        data: TEST_AUDIO_WAV.into(),
                        mime_type: "audio/wav".into(),
                    }]))
                },
            )
            .tool(
                "test_embedded_resource",
                || {
                    fixture(
                        "test_embedded_resource",
                        "Embedded resource",
                        "Conformance fixture: answers with an embedded text resource \
                         (test://embedded-resource).",
                    )
                },
                |_, _| {
                    Ok(ToolResult::from_content(vec![Content::Resource {
                        uri: "test://embedded-resource".into(),
                        mime_type: Some("text/plain".into()),
                        text: "This is an embedded resource content.".into(),
                    }]))
                },
            )
            .tool(
                "test_multiple_content_types",
                || {
                    fixture(
                        "test_multiple_content_types",
                        "Multiple content types",
                        "Conformance fixture: answers with a text, an image and an embedded JSON resource.",
                    )
                },
                |_, _| {
                    Ok(ToolResult::text("Multiple content types test:")
                        .with(image())
                        .with(Content::Resource {
                            uri: "test://mixed-content-resource".into(),
                            mime_type: Some("application/json".into()),
                            text: json!({"test": "data", "value": 123}).to_string(),
                        }))
                },
            )
            .tool(
                "test_tool_with_logging",
                || {
                    fixture(
                        "test_tool_with_logging",
                        "Tool with logging",
                        "Conformance fixture: writes three info log lines 50 ms apart, then answers.",
                    )
                },
                with_logging,
            )
            .tool(
                "test_logging_tool",
                || {
                    fixture(
                        "test_logging_tool",
                        "Logging tool",
                        "Conformance fixture (2026-07-28): writes three info log lines 50 ms apart, \
                         then answers; the lines reach the client only when its request set a log level.",
                    )
                },
                with_logging,
            )
            .tool(
                "test_custom_header",
                || {
                    Tool::new(
                        "test_custom_header",
                        "Conformance fixture (SEP-2243): echoes `region`, which the client also \
                         sends as the Mcp-Param-Region header.",
                    )
                    .title("Custom header")
                    .input(custom_header())
                    .read_only()
                    .open_world(false)
                },
                |_, arguments| {
                    let region = arguments["region"].as_str().unwrap_or_default();
                    Ok(ToolResult::text(format!("region: {region}")))
                },
            )
            .tool(
                "test_error_handling",
                || {
                    fixture(
                        "test_error_handling",
                        "Error handling",
                        "Conformance fixture: always fails with an error result (isError).",
                    )
                },
                |_, _| {
                    Ok(ToolResult::error(
                        "This tool intentionally returns an error for testing",
                    ))
                },
            )
            .tool(
                "test_tool_with_progress",
                || {
                    fixture(
                        "test_tool_with_progress",
                        "Tool with progress",
                        "Conformance fixture: reports progress 0, 50 and 100 of 100, 50 ms apart, \
                         then answers.",
                    )
                },
                with_progress,
            )
            .tool(
                "test_reconnection",
                || {
                    fixture(
                        "test_reconnection",
                        "Reconnection",
                        "Conformance fixture for SSE polling (SEP-1699): works for 100 ms, then answers.",
                    )
                },
                |ctx, _| {
                    ctx.sleep(Duration::from_millis(RECONNECTION_DELAY_MS));
                    Ok(ToolResult::text(
                        "Reconnection test completed successfully. If you received this, the client \
                         properly reconnected after stream closure.",
                    ))
                },
            )
            .tool(
                "json_schema_2020_12_tool",
                || {
                    Tool::new(
                        "json_schema_2020_12_tool",
                        "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613): \
                         echoes its arguments.",
                    )
                    .title("JSON Schema 2020-12")
                    .input(json_schema_2020_12())
                    .read_only()
                    .open_world(false)
                },
                |_, arguments| {
                    Ok(ToolResult::text(format!(
                        "JSON Schema 2020-12 tool called with: {arguments}"
                    )))
                },
            )
            .tool("echo", echo_tool, echo)
            .tool("greet", greet_tool, greet)
            .tool("slow_compute", slow_compute_tool, slow_compute)
            .tool("failing_job", failing_job_tool, failing_job)
            .tool("protocol_error_job", protocol_error_job_tool, protocol_error_job);
        tasks::tools(requests::tools(rounds::tools(toolbox)))
    }

    fn prompts() -> Vec<Prompt> {
        vec![
            titled(
                Prompt::new("test_simple_prompt", "A simple prompt without arguments"),
                "Simple Test Prompt",
            ),
            titled(
                Prompt::new(
                    "test_prompt_with_arguments",
                    "A prompt with required arguments",
                )
                .argument("arg1", "First test argument", true)
                .argument("arg2", "Second test argument", true),
                "Prompt With Arguments",
            ),
            titled(
                Prompt::new(
                    "test_prompt_with_embedded_resource",
                    "A prompt that includes an embedded resource",
                )
                .argument("resourceUri", "URI of the resource to embed", true),
                "Prompt With Embedded Resource",
            ),
            titled(
                Prompt::new(
                    "test_prompt_with_image",
                    "A prompt that includes image content",
                ),
                "Prompt With Image",
            ),
            titled(
                Prompt::new(
                    "test_input_required_result_prompt",
                    "A prompt that asks the person for its context before it renders (SEP-2322)",
                ),
                "Prompt With Input Required",
            ),
        ]
    }

    fn get_prompt(
        ctx: &Context,
        prompt: &str,
        arguments: Map<String, Value>,
    ) -> Result<PromptResult, ToolError> {
        let messages = match prompt {
            "test_simple_prompt" => vec![user_text("This is a simple prompt for testing.")],
            "test_prompt_with_arguments" => {
                let arg1 = argument(&arguments, "arg1")?;
                let arg2 = argument(&arguments, "arg2")?;
                vec![user_text(&format!(
                    "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
                ))]
            }
            "test_prompt_with_embedded_resource" => {
                let uri = argument(&arguments, "resourceUri")?;
                vec![
                    PromptMessage::user(Content::Resource {
                        uri: uri.into(),
                        mime_type: Some("text/plain".into()),
                        text: "Embedded resource content for testing.".into(),
                    }),
                    user_text("Please process the embedded resource above."),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::user(image()),
                user_text("Please analyze the image above."),
            ],
            "test_input_required_result_prompt" => return rounds::context_prompt(ctx),
            other => {
                return Err(ToolError::new(format!(
                    "this plugin has no prompt named `{other}`"
                )));
            }
        };
        Ok(PromptResult {
            description: None,
            messages,
        })
    }

    fn resources() -> Vec<Resource> {
        resources::list()
    }

    fn resource_templates() -> Vec<ResourceTemplate> {
        resources::templates()
    }

    fn read_resource(_: &Context, uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
        resources::read(uri)
    }

    fn complete(
        _: &Context,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        _: &Map<String, Value>,
    ) -> Vec<String> {
        resources::complete(reference, argument, value)
    }
}

/// The test image as a content block.
fn image() -> Content {
    Content::Image {
        data: TEST_IMAGE_PNG.into(),
        mime_type: "image/png".into(),
    }
}

/// A user message with one text block.
fn user_text(text: &str) -> PromptMessage {
    PromptMessage::user(Content::Text(text.into()))
}

/// `prompt` with a human-readable title.
fn titled(mut prompt: Prompt, title: &str) -> Prompt {
    prompt.title = Some(title.into());
    prompt
}

/// The string argument `name` of a prompt, or an error saying it is missing.
fn argument<'a>(arguments: &'a Map<String, Value>, name: &str) -> Result<&'a str, ToolError> {
    arguments
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::new(format!("the argument `{name}` (a string) is required")))
}

/// `echo`, as in the suite's reference server: a plain tool that answers with its `message`.
/// It takes no required argument, like `confirm_delete`, the first tool listed (capstan lists
/// tools by name), which the header scenarios call with no arguments.
fn echo_tool() -> Tool {
    Tool::new(
        "echo",
        "Conformance fixture: answers with `message` (or `echo`).",
    )
    .title("Echo")
    .input(object(json!({"message": {"type": "string"}})))
    .read_only()
    .open_world(false)
}

fn echo(_: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    Ok(ToolResult::text(
        arguments["message"].as_str().unwrap_or("echo"),
    ))
}

/// `greet` (tasks scenarios): a tool that never runs as a task.
fn greet_tool() -> Tool {
    Tool::new(
        "greet",
        "Conformance fixture: answers `Hello, {name}!` at once, never as a task.",
    )
    .title("Greet")
    .input(object(json!({"name": {"type": "string"}})))
    .read_only()
    .open_world(false)
}

fn greet(_: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let name = arguments["name"].as_str().unwrap_or("World");
    Ok(ToolResult::text(format!("Hello, {name}!")))
}

/// `slow_compute` (tasks scenarios): sleeps `seconds`, reporting progress each second, then
/// answers; runs as a task when the client supports tasks.
fn slow_compute_tool() -> Tool {
    Tool::new(
        "slow_compute",
        "Conformance fixture: works for `seconds` seconds (reporting progress), then answers; runs as a task for clients with the Tasks extension.",
    )
    .title("Slow compute")
    .input(object(json!({
        "seconds": {"type": "number", "minimum": 0, "maximum": 3600},
        "label": {"type": "string"},
    })))
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

fn slow_compute(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let seconds = arguments["seconds"].as_f64().unwrap_or(1.0);
    let label = arguments["label"].as_str().unwrap_or("compute");
    let mut left = seconds;
    while left > 0.0 {
        let step = left.min(1.0);
        ctx.sleep(Duration::from_secs_f64(step));
        left -= step;
        let message = format!("{label}: {:.0} of {seconds:.0} seconds", seconds - left);
        ctx.progress(seconds - left, Some(seconds), Some(&message));
    }
    Ok(ToolResult::text(format!(
        "Computed {label} in {seconds} seconds"
    )))
}

/// `failing_job` (tasks scenarios): only runs as a task, and answers a tool error after about
/// a second.
fn failing_job_tool() -> Tool {
    Tool::new(
        "failing_job",
        "Conformance fixture: runs only as a task and ends with a tool error after about a second.",
    )
    .title("Failing job")
    .input(no_arguments())
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Required)
}

fn failing_job(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    ctx.sleep(Duration::from_secs(1));
    Err(ToolError::new(
        "the job failed, as this fixture always does",
    ))
}

/// `protocol_error_job` (tasks scenarios): crashes, which a task reports as failed.
fn protocol_error_job_tool() -> Tool {
    Tool::new(
        "protocol_error_job",
        "Conformance fixture: crashes the plugin (a panic), which a task reports as failed.",
    )
    .title("Protocol error job")
    .input(no_arguments())
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

fn protocol_error_job(_: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    panic!("protocol_error_job crashes on purpose");
}

fn with_logging(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let pause = Duration::from_millis(STEP_DELAY_MS);
    ctx.info("Tool execution started");
    ctx.sleep(pause);
    ctx.info("Tool processing data");
    ctx.sleep(pause);
    ctx.info("Tool execution completed");
    Ok(ToolResult::text("Tool with logging executed successfully"))
}

fn with_progress(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    for (step, done) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if step > 0 {
            ctx.sleep(Duration::from_millis(STEP_DELAY_MS));
        }
        let message = format!("Completed step {done} of 100");
        ctx.progress(done, Some(100.0), Some(&message));
    }
    Ok(ToolResult::text("Progress reported: 0, 50 and 100 of 100"))
}

capstan_sdk::export_plugin!(Conformance);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_the_suites_call_is_listed_under_a_valid_name() {
        let tools = Conformance::toolbox().tools();
        let names: Vec<&str> = tools.iter().map(Tool::name).collect();
        for name in &names {
            let valid = name.len() <= 48
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(valid, "`{name}` is not a valid tool name");
        }
        for called in [
            "test_sampling",
            "test_elicitation",
            "test_elicitation_sep1034_defaults",
            "test_elicitation_sep1330_enums",
            "test_input_required_result_elicitation",
            "test_input_required_result_sampling",
            "test_input_required_result_list_roots",
            "test_input_required_result_request_state",
            "test_input_required_result_multiple_inputs",
            "test_input_required_result_multi_round",
            "test_input_required_result_tampered_state",
            "test_input_required_result_capabilities",
            "test_missing_capability",
            "test_streaming_elicitation",
            "test_logging_tool",
            "confirm_delete",
            "multi_input",
            "test_tool_with_task",
        ] {
            assert!(names.contains(&called), "`{called}` is missing");
        }
    }

    #[test]
    fn the_first_tool_listed_takes_no_required_argument() {
        // capstan lists tools by name; the SEP-2243 header scenarios call the first with `{}`.
        let tools = Conformance::toolbox().tools();
        let first = tools.iter().map(Tool::name).min().unwrap();
        assert!(
            ["confirm_delete", "echo"].contains(&first),
            "`{first}` sorts first"
        );
    }

    #[test]
    fn an_unknown_prompt_is_an_error_for_the_agent() {
        let ctx = capstan_sdk::fixture::Fixture::new().context();
        let error = Conformance::get_prompt(&ctx, "nope", Map::new()).unwrap_err();
        assert!(error.input_required_by().is_none());
        let missing = Conformance::get_prompt(&ctx, "test_prompt_with_arguments", Map::new());
        assert!(missing.unwrap_err().message().contains("arg1"));
    }
}
