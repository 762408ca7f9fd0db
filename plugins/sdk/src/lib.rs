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
pub mod kube;
pub mod poll;
mod prompt;
mod result;
pub mod schema;
pub mod time;
mod tool;
mod toolbox;
pub mod url;
pub mod wasi;

pub use context::{Context, Transport};
pub use error::ToolError;
pub use poll::{Poll, Polled};
pub use prompt::{Prompt, PromptArgument, PromptMessage, PromptResult};
pub use result::{Content, ToolResult};
pub use serde_json::{self, Map, Value, json};
pub use tool::{TaskSupport, Tool};
pub use toolbox::{Handler, Toolbox};

/// A capstan plugin: the tools (and optionally prompts) one component offers.
///
/// Every call runs in a fresh instance, so implementations hold no state between calls.
pub trait Plugin {
    /// The tools this plugin offers with their handlers. The host lists them once when it
    /// loads the plugin; each call runs the handler of its tool (an `Err` becomes an `isError`
    /// result carrying the error's message).
    fn toolbox() -> Toolbox;

    /// The prompts this plugin offers; none by default.
    fn prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Renders `prompt` with `arguments`; an `Err` is a message for the agent.
    fn get_prompt(prompt: &str, arguments: Map<String, Value>) -> Result<PromptResult, String> {
        let _ = arguments;
        Err(format!("this plugin has no prompt named `{prompt}`"))
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
            ) -> $crate::bindings::capstan::plugin::types::CallResult {
                $crate::glue::call_tool::<$plugin>(&name, &arguments)
            }
        }
        impl $crate::bindings::exports::capstan::plugin::prompts::Guest for $plugin {
            fn list_prompts() -> ::std::vec::Vec<$crate::bindings::capstan::plugin::types::Prompt> {
                $crate::glue::list_prompts::<$plugin>()
            }
            fn get_prompt(
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<
                $crate::bindings::capstan::plugin::types::PromptResult,
                ::std::string::String,
            > {
                $crate::glue::get_prompt::<$plugin>(&name, &arguments)
            }
        }
        $crate::bindings::export_bindings!($plugin with_types_in $crate::bindings);
    };
}
