//! Guest-side helpers for writing capstan plugins.
//!
//! A capstan plugin is a WebAssembly component built for `wasm32-wasip2` against the contract in
//! `wit/plugin.wit`. This crate hides the generated bindings behind a small, ordinary Rust API:
//!
//! 1. Describe each tool with [`Tool`] (name, description, JSON Schema, annotations) and write
//!    its handler: a function of the call's [`Context`] and its arguments.
//! 2. Put them in a [`Toolbox`] and implement [`Plugin`]: `toolbox()` answers it; prompts are
//!    optional.
//! 3. Export it with [`export_plugin!`].
//! 4. Do every piece of I/O through the [`Context`]: requests to the instance's targets
//!    (`ctx.send`; the host allowlists and authenticates each one), non-secret settings
//!    (`ctx.config()`), progress and log lines, sleeping and polling (`ctx.poll_until`). A
//!    native test runs the same handler against a [`fixture::Fixture`] of recorded answers.
//!
//! ```ignore
//! use capstan_sdk::{Context, Plugin, Tool, ToolError, ToolResult, Toolbox, Value, json};
//!
//! fn greet_tool() -> Tool {
//!     Tool::new("greet", "Greets someone by name.")
//!         .input(json!({"type": "object", "properties": {"name": {"type": "string"}},
//!                       "required": ["name"], "additionalProperties": false}))
//!         .read_only()
//! }
//!
//! fn greet(_ctx: &Context, args: &Value) -> Result<ToolResult, ToolError> {
//!     Ok(ToolResult::text(format!("Hello, {}!", args["name"].as_str().unwrap_or("world"))))
//! }
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     fn toolbox() -> Toolbox {
//!         Toolbox::new("Hello").tool("greet", greet_tool, greet)
//!     }
//! }
//! capstan_sdk::export_plugin!(Hello);
//! ```

pub mod args;
pub mod bindings;
pub mod config;
mod context;
mod error;
pub mod fixture;
#[doc(hidden)]
pub mod glue;
pub mod host;
pub mod http;
pub mod input;
pub mod kube;
pub mod poll;
mod prompt;
pub mod resources;
mod result;
pub mod schema;
mod skills;
mod split;
pub mod time;
mod tool;
mod toolbox;
pub mod url;
pub mod wasi;

pub use context::{Context, Transport};
pub use error::ToolError;
pub use input::{Answers, Input, InputKind, Round};
pub use poll::{Poll, Polled};
pub use prompt::{Prompt, PromptArgument, PromptMessage, PromptResult};
pub use resources::{CompletionRef, Resource, ResourceContents, ResourceError, ResourceTemplate};
pub use result::{Content, ToolResult};
pub use serde_json::{self, Map, Value, json};
pub use skills::Skill;
pub use tool::{TaskSupport, Tool};
pub use toolbox::{Handler, Toolbox};

/// A capstan plugin: the tools (and optionally prompts, resources, completions and skills) one
/// component offers.
///
/// Every call runs in a fresh instance, so implementations hold no state between calls.
pub trait Plugin {
    /// The tools this plugin offers with their handlers. The host lists them once when it
    /// loads the plugin; each call runs the handler of its tool (an `Err` becomes an `isError`
    /// result carrying the error's message, or questions for the client from [`Context::ask`]).
    fn toolbox() -> Toolbox;

    /// The prompts this plugin offers; none by default.
    fn prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Renders `prompt` with `arguments`; an `Err` is a message for the agent (or questions
    /// for the client from [`Context::ask`]).
    fn get_prompt(
        ctx: &Context,
        prompt: &str,
        arguments: Map<String, Value>,
    ) -> Result<PromptResult, ToolError> {
        let _ = (ctx, arguments);
        Err(ToolError::new(format!(
            "this plugin has no prompt named `{prompt}`"
        )))
    }

    /// The resources at fixed URIs; none by default.
    fn resources() -> Vec<Resource> {
        Vec::new()
    }

    /// The resource templates; none by default.
    fn resource_templates() -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads the resource at `uri` (the plugin's own form of a listed resource or template).
    fn read_resource(ctx: &Context, uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
        let _ = ctx;
        Err(ResourceError::NotFound(format!(
            "this plugin serves no resource at {uri}"
        )))
    }

    /// Values for `argument` of `reference` that match `value`, best first; none by default.
    /// `context` holds the arguments already chosen.
    fn complete(
        ctx: &Context,
        reference: &CompletionRef,
        argument: &str,
        value: &str,
        context: &Map<String, Value>,
    ) -> Vec<String> {
        let _ = (ctx, reference, argument, value, context);
        Vec::new()
    }

    /// The Agent Skills this plugin ships; none by default. See [`skill!`].
    fn skills() -> Vec<Skill> {
        Vec::new()
    }
}

/// Exports a type implementing [`Plugin`] as the component's `tools` and `prompts`.
///
/// Takes the type's name (a plain identifier): `capstan_sdk::export_plugin!(MyPlugin);`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        impl $crate::bindings::exports::capstan::plugin::tools::Guest for $plugin {
            fn list_tools() -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::Tool> {
                $crate::glue::list_tools::<$plugin>()
            }
            fn call_tool(
                name: ::std::string::String,
                arguments: ::std::string::String,
                round: ::std::option::Option<$crate::bindings::capstan::plugin::types::Round>,
            ) -> $crate::bindings::capstan::plugin::types::ToolAnswer {
                $crate::glue::call_tool::<$plugin>(&name, &arguments, round)
            }
        }
        impl $crate::bindings::exports::capstan::plugin::prompts::Guest for $plugin {
            fn list_prompts() -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::Prompt> {
                $crate::glue::list_prompts::<$plugin>()
            }
            fn get_prompt(
                name: ::std::string::String,
                arguments: ::std::string::String,
                round: ::std::option::Option<$crate::bindings::capstan::plugin::types::Round>,
            ) -> ::std::result::Result<
                $crate::bindings::capstan::plugin::types::PromptAnswer,
                ::std::string::String,
            > {
                $crate::glue::get_prompt::<$plugin>(&name, &arguments, round)
            }
        }
        impl $crate::bindings::exports::capstan::plugin::resources::Guest for $plugin {
            fn list_resources() -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::Resource> {
                $crate::glue::list_resources::<$plugin>()
            }
            fn list_resource_templates(
            ) -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::ResourceTemplate> {
                $crate::glue::list_resource_templates::<$plugin>()
            }
            fn read_resource(
                uri: ::std::string::String,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::bindings::capstan::plugin::types::EmbeddedResource>,
                $crate::bindings::capstan::plugin::types::ResourceError,
            > {
                $crate::glue::read_resource::<$plugin>(&uri)
            }
        }
        impl $crate::bindings::exports::capstan::plugin::completions::Guest for $plugin {
            fn complete(
                reference: $crate::bindings::capstan::plugin::types::CompletionRef,
                argument: ::std::string::String,
                value: ::std::string::String,
                context: ::std::string::String,
            ) -> ::std::vec::Vec<::std::string::String> {
                $crate::glue::complete::<$plugin>(reference, &argument, &value, &context)
            }
        }
        impl $crate::bindings::exports::capstan::plugin::skills::Guest for $plugin {
            fn list_skills() -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::Skill> {
                $crate::glue::list_skills::<$plugin>()
            }
        }
        $crate::bindings::export_bindings!($plugin with_types_in $crate::bindings);
    };
}
