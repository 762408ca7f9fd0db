//! Reading a guest's answer out of its memory under a byte budget.
//!
//! The generated bindings copy a whole answer into the host before anyone can look at its size,
//! so a guest could make the host hold as much as its own memory cap per call. Here the answer
//! is lifted as views into guest memory ([`WasmStr`], [`WasmList`]): lengths and counts are read
//! where the guest wrote them, and only an answer within its budget is copied out. Of a call
//! result that is too large only the start of its text (at most the cap) is copied; a prompt or
//! a tool or prompt list that is too large is refused, naming the limit.

use wasmtime::component::{ComponentType, Instance, Lift, WasmList, WasmStr};
use wasmtime::{AsContextMut, Store, StoreContext};

use super::bindings::types;
use super::call::CallError;
use super::state::CallState;

/// Most tools (or prompts) one plugin may list; real plugins list a few dozen.
pub const MAX_LISTED: usize = 256;

/// Most bytes of names, descriptions and schemas one plugin's tool (or prompt) list may hold.
pub const MAX_LIST_BYTES: usize = 1 << 20;

/// What a content block costs in JSON besides its strings (`{"type":"text","text":""}`).
const BLOCK_OVERHEAD: usize = 32;

/// A call result, or what is kept of one that exceeded the result cap.
#[derive(Debug)]
pub enum CallAnswer {
    /// The whole result, within the cap.
    Whole(types::CallResult),
    /// A result over the cap: only the start of its text was read.
    TooLarge(TooLarge),
}

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

#[derive(ComponentType, Lift)]
#[component(record)]
struct RawCallResult {
    content: WasmList<RawContent>,
    structured: Option<WasmStr>,
    #[component(name = "is-error")]
    is_error: bool,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum RawContent {
    #[component(name = "text")]
    Text(WasmStr),
    #[component(name = "image")]
    Image(RawMedia),
    #[component(name = "audio")]
    Audio(RawMedia),
    #[component(name = "resource")]
    Resource(RawResource),
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct RawMedia {
    data: WasmStr,
    #[component(name = "mime-type")]
    mime_type: WasmStr,
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct RawResource {
    uri: WasmStr,
    #[component(name = "mime-type")]
    mime_type: Option<WasmStr>,
    contents: RawResourceContents,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
enum RawResourceContents {
    #[component(name = "text")]
    Text(WasmStr),
    #[component(name = "blob")]
    Blob(WasmStr),
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct RawPromptMessage {
    role: types::Role,
    content: RawContent,
}

#[derive(ComponentType, Lift)]
#[component(record)]
struct RawPromptResult {
    description: Option<WasmStr>,
    messages: WasmList<RawPromptMessage>,
}

const TOOLS: &str = "capstan:plugin/tools@0.1.0";
const PROMPTS: &str = "capstan:plugin/prompts@0.1.0";

/// Calls `tools.call-tool` and reads its result within `cap` bytes.
pub async fn call_tool(
    instance: &Instance,
    store: &mut Store<CallState>,
    (name, arguments): (&str, &str),
    cap: usize,
) -> wasmtime::Result<CallAnswer> {
    let index = export(instance, store, TOOLS, "call-tool")?;
    let func = instance.get_typed_func::<(&str, &str), (RawCallResult,)>(&mut *store, index)?;
    let (raw,) = func.call_async(&mut *store, (name, arguments)).await?;
    let blocks = list(&raw.content, store)?;
    let mut size = optional_len(&raw.structured, store)?;
    for block in &blocks {
        size = size.saturating_add(block.len(store)? + BLOCK_OVERHEAD);
    }
    if size > cap {
        return Ok(CallAnswer::TooLarge(TooLarge {
            size,
            text: text_prefix(&blocks, store, cap)?,
            is_error: raw.is_error,
        }));
    }
    Ok(CallAnswer::Whole(types::CallResult {
        content: blocks
            .iter()
            .map(|block| block.to_owned(store))
            .collect::<wasmtime::Result<_>>()?,
        structured: optional(&raw.structured, store)?,
        is_error: raw.is_error,
    }))
}

/// Calls `prompts.get-prompt`; a rendered prompt over `cap` bytes is refused.
pub async fn get_prompt(
    instance: &Instance,
    store: &mut Store<CallState>,
    (name, arguments): (&str, &str),
    cap: usize,
) -> wasmtime::Result<Result<Result<types::PromptResult, String>, CallError>> {
    let index = export(instance, store, PROMPTS, "get-prompt")?;
    let func = instance
        .get_typed_func::<(&str, &str), (Result<RawPromptResult, WasmStr>,)>(&mut *store, index)?;
    let (raw,) = func.call_async(&mut *store, (name, arguments)).await?;
    let raw = match raw {
        Ok(raw) => raw,
        Err(message) => {
            let message = str_of(&message, store)?;
            return Ok(Ok(Err(floor(&message, cap).to_owned())));
        }
    };
    let messages = list(&raw.messages, store)?;
    let mut size = optional_len(&raw.description, store)?;
    for message in &messages {
        size = size.saturating_add(message.content.len(store)? + BLOCK_OVERHEAD);
    }
    if size > cap {
        return Ok(Err(CallError::TooLarge(format!(
            "rendered a prompt of about {size} bytes, more than the {cap}-byte result cap (`result_cap`); render less or raise the cap"
        ))));
    }
    let messages = messages
        .iter()
        .map(|message| {
            Ok(types::PromptMessage {
                role: message.role,
                content: message.content.to_owned(store)?,
            })
        })
        .collect::<wasmtime::Result<_>>()?;
    Ok(Ok(Ok(types::PromptResult {
        description: optional(&raw.description, store)?,
        messages,
    })))
}

/// Calls `tools.list-tools`; more than [`MAX_LISTED`] tools or [`MAX_LIST_BYTES`] are refused.
pub async fn list_tools(
    instance: &Instance,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Tool>, CallError>> {
    let index = export(instance, store, TOOLS, "list-tools")?;
    let func = instance.get_typed_func::<(), (WasmList<types::Tool>,)>(&mut *store, index)?;
    let (raw,) = func.call_async(&mut *store, ()).await?;
    bounded_list(&raw, store, "tools", |tool: &types::Tool| {
        let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        tool.name.len()
            + optional(&tool.title)
            + tool.description.len()
            + tool.input_schema.len()
            + optional(&tool.output_schema)
    })
}

/// Calls `prompts.list-prompts`, bounded like [`list_tools`].
pub async fn list_prompts(
    instance: &Instance,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Result<Vec<types::Prompt>, CallError>> {
    let index = export(instance, store, PROMPTS, "list-prompts")?;
    let func = instance.get_typed_func::<(), (WasmList<types::Prompt>,)>(&mut *store, index)?;
    let (raw,) = func.call_async(&mut *store, ()).await?;
    bounded_list(&raw, store, "prompts", |prompt: &types::Prompt| {
        let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let arguments: usize = prompt
            .arguments
            .iter()
            .map(|a| a.name.len() + optional(&a.description))
            .sum();
        prompt.name.len() + optional(&prompt.title) + optional(&prompt.description) + arguments
    })
}

/// Copies a listed item at a time, refusing the list once it holds too many or too much.
fn bounded_list<T: Lift + 'static>(
    raw: &WasmList<T>,
    store: &mut Store<CallState>,
    kind: &str,
    size_of: impl Fn(&T) -> usize,
) -> wasmtime::Result<Result<Vec<T>, CallError>> {
    if raw.len() > MAX_LISTED {
        return Ok(Err(CallError::TooLarge(format!(
            "listed {} {kind}, more than the {MAX_LISTED} a plugin may offer; split it into several plugins",
            raw.len()
        ))));
    }
    let mut items = Vec::with_capacity(raw.len());
    let mut size = 0_usize;
    for index in 0..raw.len() {
        let item = get(raw, store, index)?;
        size = size.saturating_add(size_of(&item));
        if size > MAX_LIST_BYTES {
            return Ok(Err(CallError::TooLarge(format!(
                "listed {kind} whose names, descriptions and schemas exceed {MAX_LIST_BYTES} bytes, the most a plugin may offer; shorten them"
            ))));
        }
        items.push(item);
    }
    Ok(Ok(items))
}

impl RawContent {
    /// The bytes of its strings, read in place.
    fn len(&self, store: &Store<CallState>) -> wasmtime::Result<usize> {
        Ok(match self {
            RawContent::Text(text) => str_of(text, store)?.len(),
            RawContent::Image(media) | RawContent::Audio(media) => {
                str_of(&media.data, store)?.len() + str_of(&media.mime_type, store)?.len()
            }
            RawContent::Resource(resource) => {
                let contents = match &resource.contents {
                    RawResourceContents::Text(text) | RawResourceContents::Blob(text) => text,
                };
                str_of(&resource.uri, store)?.len()
                    + optional_len(&resource.mime_type, store)?
                    + str_of(contents, store)?.len()
            }
        })
    }

    fn to_owned(&self, store: &Store<CallState>) -> wasmtime::Result<types::Content> {
        let owned = |text: &WasmStr| str_of(text, store).map(String::from);
        Ok(match self {
            RawContent::Text(text) => types::Content::Text(owned(text)?),
            RawContent::Image(media) => types::Content::Image(types::Media {
                data: owned(&media.data)?,
                mime_type: owned(&media.mime_type)?,
            }),
            RawContent::Audio(media) => types::Content::Audio(types::Media {
                data: owned(&media.data)?,
                mime_type: owned(&media.mime_type)?,
            }),
            RawContent::Resource(resource) => types::Content::Resource(types::EmbeddedResource {
                uri: owned(&resource.uri)?,
                mime_type: optional(&resource.mime_type, store)?,
                contents: match &resource.contents {
                    RawResourceContents::Text(text) => types::ResourceContents::Text(owned(text)?),
                    RawResourceContents::Blob(blob) => types::ResourceContents::Blob(owned(blob)?),
                },
            }),
        })
    }
}

/// The start of the text blocks, joined by newlines, at most `cap` bytes.
fn text_prefix(
    blocks: &[RawContent],
    store: &Store<CallState>,
    cap: usize,
) -> wasmtime::Result<String> {
    let mut text = String::new();
    for block in blocks {
        let RawContent::Text(block) = block else {
            continue;
        };
        if !text.is_empty() {
            text.push('\n');
        }
        let room = cap.saturating_sub(text.len());
        let block = str_of(block, store)?;
        text.push_str(floor(&block, room));
        if text.len() >= cap {
            break;
        }
    }
    Ok(text)
}

/// The elements of `list` as views (each a few words; their strings stay in guest memory).
fn list<T: Lift + 'static>(
    list: &WasmList<T>,
    store: &mut Store<CallState>,
) -> wasmtime::Result<Vec<T>> {
    (0..list.len())
        .map(|index| get(list, store, index))
        .collect()
}

fn get<T: Lift + 'static>(
    list: &WasmList<T>,
    store: &mut Store<CallState>,
    index: usize,
) -> wasmtime::Result<T> {
    list.get(store.as_context_mut(), index)
        .unwrap_or_else(|| Err(wasmtime::format_err!("list index out of bounds")))
}

fn str_of<'a>(
    text: &WasmStr,
    store: &'a Store<CallState>,
) -> wasmtime::Result<std::borrow::Cow<'a, str>> {
    text.to_str(StoreContext::from(store))
}

fn optional_len(text: &Option<WasmStr>, store: &Store<CallState>) -> wasmtime::Result<usize> {
    text.as_ref()
        .map_or(Ok(0), |text| str_of(text, store).map(|t| t.len()))
}

fn optional(text: &Option<WasmStr>, store: &Store<CallState>) -> wasmtime::Result<Option<String>> {
    text.as_ref()
        .map(|text| str_of(text, store).map(String::from))
        .transpose()
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

/// The index of function `name` in the exported interface `interface`.
fn export(
    instance: &Instance,
    store: &mut Store<CallState>,
    interface: &str,
    name: &str,
) -> wasmtime::Result<wasmtime::component::ComponentExportIndex> {
    let missing = || wasmtime::format_err!("the component does not export `{interface}#{name}`");
    let interface = instance
        .get_export_index(&mut *store, None, interface)
        .ok_or_else(missing)?;
    instance
        .get_export_index(&mut *store, Some(&interface), name)
        .ok_or_else(missing)
}
