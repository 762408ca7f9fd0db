//! Measuring a guest's answer before the host does anything with it.
//!
//! An answer is copied out of guest memory by the generated bindings (wasmtime 48 runs the
//! guest's post-return, which frees the answer's memory, before a host could read it in place).
//! The copy itself is bounded before it is made: every store gets wasmtime's hostcall fuel set
//! to [`copy_limit`], so lifting a string or list that would take more host bytes than that
//! fails before anything is allocated, and the call reports [`CallError::TooLarge`]. The same
//! bound applies to every single crossing from guest to host during the call (a body write, a
//! header list, a log line).
//!
//! What this module bounds after the copy: a call result is measured by the bytes of its
//! strings before its structured output is parsed or a block converted, and one over the result
//! cap keeps only the start of its text (at most the cap); a prompt over the cap, or a tool or
//! prompt list with too many entries or bytes, is refused, naming the limit.

use wasmtime::Store;

use super::bindings::{Plugin, types};
use super::call::CallError;
use super::state::CallState;

/// Most tools (or prompts) one plugin may list; real plugins list a few dozen.
pub const MAX_LISTED: usize = 256;

/// Most bytes of names, descriptions and schemas one plugin's tool (or prompt) list may hold.
pub const MAX_LIST_BYTES: usize = 1 << 20;

/// The copy limit never goes below this, so that one body write or header list of a plugin
/// with a small result cap still fits.
pub const MIN_COPY: usize = 4 << 20;

/// How many times the answer's cap the host copies out of the guest at most, so that an answer
/// somewhat over its cap can still be cut to a useful start instead of refused.
const COPY_FACTOR: usize = 4;

/// The most host bytes one crossing from the guest may fill when answers are capped at `cap`:
/// `COPY_FACTOR` × `cap`, at least [`MIN_COPY`].
pub fn copy_limit(cap: usize) -> usize {
    cap.saturating_mul(COPY_FACTOR).max(MIN_COPY)
}

/// Whether `error` is wasmtime refusing a lift over the store's hostcall fuel ([`copy_limit`]).
pub fn is_over_copy_limit(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.to_string().contains("fuel allocated for hostcalls"))
}

/// Why a call that passed the host more than `limit` bytes at once failed, and what to do.
pub fn over_copy_limit(limit: usize) -> CallError {
    CallError::TooLarge(format!(
        "passed the host more than {} at once (its answer, or one body write, header list or log line); the host copies at most {COPY_FACTOR} × result_cap (at least {}) out of a plugin, so return less or raise result_cap",
        iec(limit),
        iec(MIN_COPY)
    ))
}

fn iec(bytes: usize) -> String {
    bytesize::ByteSize::b(bytes as u64)
        .display()
        .iec()
        .to_string()
}

/// What a content block costs in JSON besides its strings (`{"type":"text","text":""}`).
const BLOCK_OVERHEAD: usize = 32;

/// A call result, or what is kept of one that exceeded the result cap, or the input the call
/// needs first.
#[derive(Debug)]
pub enum CallAnswer {
    /// The whole result, within the cap.
    Whole(types::CallResult),
    /// A result over the cap: only the start of its text is kept.
    TooLarge(TooLarge),
    /// The plugin asks the client first (multi round-trip input); within the cap.
    InputRequired(types::InputRequired),
}

/// Most values one completion answers (MCP's limit).
pub const MAX_COMPLETIONS: usize = 100;

/// Most bytes of one completion value.
const MAX_COMPLETION_BYTES: usize = 1024;

/// The start of an oversized call result.
#[derive(Debug, Clone, PartialEq)]
pub struct TooLarge {
    /// About how many bytes the whole result has (its strings plus a little per block).
    pub size: usize,
    /// The start of its text blocks, joined by newlines; at most the cap.
    pub text: String,
    /// The guest said the call failed.
    pub is_error: bool,
}

/// Calls `tools.call-tool` and measures its answer against `cap` bytes: a result over it keeps
/// only the start of its text; questions over it are refused.
pub async fn call_tool(
    plugin: &Plugin,
    store: &mut Store<CallState>,
    (name, arguments, round): (&str, &str, Option<&types::Round>),
    cap: usize,
) -> wasmtime::Result<Result<CallAnswer, CallError>> {
    let answer = plugin
        .capstan_plugin_tools()
        .call_call_tool(&mut *store, name, arguments, round)
        .await?;
    let result = match answer {
        types::ToolAnswer::Complete(result) => result,
        types::ToolAnswer::InputRequired(input) => {
            return Ok(within_cap(input_len(&input), cap, "asked for input")
                .map(|()| CallAnswer::InputRequired(input)));
        }
    };
    let size = result
        .content
        .iter()
        .fold(optional_len(&result.structured), |size, block| {
            size.saturating_add(content_len(block) + BLOCK_OVERHEAD)
        });
    if size <= cap {
        return Ok(Ok(CallAnswer::Whole(result)));
    }
    Ok(Ok(CallAnswer::TooLarge(TooLarge {
        size,
        text: text_prefix(&result.content, cap),
        is_error: result.is_error,
    })))
}

/// Calls `prompts.get-prompt`; a rendered prompt (or questions) over `cap` bytes is refused.
pub async fn get_prompt(
    plugin: &Plugin,
    store: &mut Store<CallState>,
    (name, arguments, round): (&str, &str, Option<&types::Round>),
    cap: usize,
) -> wasmtime::Result<Result<Result<types::PromptAnswer, String>, CallError>> {
    let rendered = plugin
        .capstan_plugin_prompts()
        .call_get_prompt(&mut *store, name, arguments, round)
        .await?;
    let answer = match rendered {
        Ok(answer) => answer,
        Err(message) => return Ok(Ok(Err(floor(&message, cap).to_owned()))),
    };
    let size = match &answer {
        types::PromptAnswer::Complete(prompt) => prompt
            .messages
            .iter()
            .fold(optional_len(&prompt.description), |size, message| {
                size.saturating_add(content_len(&message.content) + BLOCK_OVERHEAD)
            }),
        types::PromptAnswer::InputRequired(input) => input_len(input),
    };
    Ok(within_cap(size, cap, "rendered a prompt").map(|()| Ok(answer)))
}

/// Calls `resources.read-resource`; contents over `cap` bytes are refused.
pub async fn read_resource(
    plugin: &Plugin,
    store: &mut Store<CallState>,
    uri: &str,
    cap: usize,
) -> wasmtime::Result<Result<super::call::ReadAnswer, CallError>> {
    let read = plugin
        .capstan_plugin_resources()
        .call_read_resource(&mut *store, uri)
        .await?;
    let size = match &read {
        Ok(contents) => contents.iter().fold(0_usize, |size, item| {
            size.saturating_add(embedded_len(item) + BLOCK_OVERHEAD)
        }),
        Err(types::ResourceError::NotFound(m) | types::ResourceError::Failed(m)) => m.len(),
    };
    Ok(within_cap(size, cap, "read a resource").map(|()| read))
}

/// Calls `completions.complete`; keeps the first [`MAX_COMPLETIONS`] values, dropping any
/// value longer than a kilobyte.
pub async fn complete(
    plugin: &Plugin,
    store: &mut Store<CallState>,
    reference: &types::CompletionRef,
    (argument, value, chosen): (&str, &str, &str),
) -> wasmtime::Result<Vec<String>> {
    let mut values = plugin
        .capstan_plugin_completions()
        .call_complete(&mut *store, reference, argument, value, chosen)
        .await?;
    values.retain(|value| value.len() <= MAX_COMPLETION_BYTES);
    values.truncate(MAX_COMPLETIONS);
    Ok(values)
}

/// `Ok` when `size` is within `cap`, else a refusal saying what the plugin `did`.
fn within_cap(size: usize, cap: usize, did: &str) -> Result<(), CallError> {
    if size <= cap {
        return Ok(());
    }
    Err(CallError::TooLarge(format!(
        "{did} of about {size} bytes, more than the {cap}-byte result cap (`result_cap`); answer less or raise the cap"
    )))
}

/// The bytes of a plugin's questions and state.
fn input_len(input: &types::InputRequired) -> usize {
    input
        .requests
        .iter()
        .fold(optional_len(&input.state), |size, request| {
            size.saturating_add(request.key.len() + request.params.len() + BLOCK_OVERHEAD)
        })
}

/// Calls `tools.list-tools`; more than [`MAX_LISTED`] tools or [`MAX_LIST_BYTES`] are refused.
pub async fn list_tools(
    plugin: &Plugin,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Tool>, CallError>> {
    let tools = plugin
        .capstan_plugin_tools()
        .call_list_tools(&mut *store)
        .await?;
    Ok(bounded_list(tools, "tools", |tool| {
        tool.name.len()
            + optional_len(&tool.title)
            + tool.description.len()
            + tool.input_schema.len()
            + optional_len(&tool.output_schema)
    }))
}

/// Calls `prompts.list-prompts`, bounded like [`list_tools`].
pub async fn list_prompts(
    plugin: &Plugin,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Prompt>, CallError>> {
    let prompts = plugin
        .capstan_plugin_prompts()
        .call_list_prompts(&mut *store)
        .await?;
    Ok(bounded_list(prompts, "prompts", |prompt| {
        let arguments: usize = prompt
            .arguments
            .iter()
            .map(|a| a.name.len() + optional_len(&a.description))
            .sum();
        prompt.name.len()
            + optional_len(&prompt.title)
            + optional_len(&prompt.description)
            + arguments
    }))
}

/// Calls `resources.list-resources`, bounded like [`list_tools`].
pub async fn list_resources(
    plugin: &Plugin,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Resource>, CallError>> {
    let resources = plugin
        .capstan_plugin_resources()
        .call_list_resources(&mut *store)
        .await?;
    Ok(bounded_list(resources, "resources", |r| {
        r.uri.len()
            + r.name.len()
            + optional_len(&r.title)
            + optional_len(&r.description)
            + optional_len(&r.mime_type)
    }))
}

/// Calls `resources.list-resource-templates`, bounded like [`list_tools`].
pub async fn list_resource_templates(
    plugin: &Plugin,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::ResourceTemplate>, CallError>> {
    let templates = plugin
        .capstan_plugin_resources()
        .call_list_resource_templates(&mut *store)
        .await?;
    Ok(bounded_list(templates, "resource templates", |t| {
        t.uri_template.len()
            + t.name.len()
            + optional_len(&t.title)
            + optional_len(&t.description)
            + optional_len(&t.mime_type)
    }))
}

/// Calls `skills.list-skills`, bounded like [`list_tools`] (their files count as bytes).
pub async fn list_skills(
    plugin: &Plugin,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Skill>, CallError>> {
    let skills = plugin
        .capstan_plugin_skills()
        .call_list_skills(&mut *store)
        .await?;
    Ok(bounded_list(skills, "skills", |skill| {
        skill.name.len()
            + skill
                .files
                .iter()
                .map(|f| f.path.len() + f.content.len())
                .sum::<usize>()
    }))
}

/// `items`, or a refusal once they are too many or hold too much.
fn bounded_list<T>(
    items: Vec<T>,
    kind: &str,
    size_of: impl Fn(&T) -> usize,
) -> Result<Vec<T>, CallError> {
    if items.len() > MAX_LISTED {
        return Err(CallError::TooLarge(format!(
            "listed {} {kind}, more than the {MAX_LISTED} a plugin may offer; split it into several plugins",
            items.len()
        )));
    }
    let size = items
        .iter()
        .fold(0_usize, |size, item| size.saturating_add(size_of(item)));
    if size > MAX_LIST_BYTES {
        return Err(CallError::TooLarge(format!(
            "listed {kind} whose names, descriptions and schemas exceed {MAX_LIST_BYTES} bytes, the most a plugin may offer; shorten them"
        )));
    }
    Ok(items)
}

/// The bytes of a content block's strings.
fn content_len(block: &types::Content) -> usize {
    match block {
        types::Content::Text(text) => text.len(),
        types::Content::Image(media) | types::Content::Audio(media) => {
            media.data.len() + media.mime_type.len()
        }
        types::Content::Resource(resource) => embedded_len(resource),
    }
}

/// The bytes of an embedded resource's strings.
fn embedded_len(resource: &types::EmbeddedResource) -> usize {
    let contents = match &resource.contents {
        types::ResourceContents::Text(text) | types::ResourceContents::Blob(text) => text,
    };
    resource.uri.len() + optional_len(&resource.mime_type) + contents.len()
}

/// The start of the text blocks, joined by newlines, at most `cap` bytes.
fn text_prefix(blocks: &[types::Content], cap: usize) -> String {
    let mut text = String::new();
    for block in blocks {
        let types::Content::Text(block) = block else {
            continue;
        };
        if !text.is_empty() {
            text.push('\n');
        }
        let room = cap.saturating_sub(text.len());
        text.push_str(floor(block, room));
        if text.len() >= cap {
            break;
        }
    }
    text
}

fn optional_len(text: &Option<String>) -> usize {
    text.as_ref().map_or(0, String::len)
}

/// The longest start of `text` of at most `at` bytes that ends on a character boundary.
fn floor(text: &str, at: usize) -> &str {
    if at >= text.len() {
        return text;
    }
    let mut cut = at;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_limit_is_four_caps_and_never_below_the_floor() {
        assert_eq!(copy_limit(256 << 10), MIN_COPY);
        assert_eq!(copy_limit(2 << 20), 8 << 20);
        assert_eq!(copy_limit(usize::MAX), usize::MAX);
    }

    #[test]
    fn a_refusal_over_the_copy_limit_names_it_and_the_way_out() {
        let message = over_copy_limit(8 << 20).to_string();
        assert!(message.contains("more than 8.0 MiB at once"), "{message}");
        assert!(message.contains("raise result_cap"), "{message}");
    }
}
