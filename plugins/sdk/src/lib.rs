//! Guest-side helpers for writing capstan plugins.
//!
//! A capstan plugin is a WebAssembly component built for `wasm32-wasip2` against the contract in
//! `wit/plugin.wit`. This crate hides the generated bindings behind a small, ordinary Rust API:
//!
//! 1. Describe your tools with [`Tool`] (name, description, JSON Schema, annotations).
//! 2. Implement [`Plugin`]: `tools()` lists them, `call()` runs one with arguments the host has
//!    already validated against the tool's input schema.
//! 3. Export it with [`export_plugin!`].
//! 4. Reach upstream APIs with [`http`] (the host allowlists and authenticates every request),
//!    read non-secret settings with [`config`], and report progress and logs with [`host`].
//!
//! ```ignore
//! use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value, json};
//!
//! struct Hello;
//! impl Plugin for Hello {
//!     fn tools() -> Vec<Tool> {
//!         vec![Tool::new("greet", "Greets someone by name.")
//!             .input(json!({"type": "object", "properties": {"name": {"type": "string"}},
//!                           "required": ["name"], "additionalProperties": false}))
//!             .read_only()]
//!     }
//!     fn call(_tool: &str, args: Value) -> Result<ToolResult, ToolError> {
//!         Ok(ToolResult::text(format!("Hello, {}!", args["name"].as_str().unwrap_or("world"))))
//!     }
//! }
//! capstan_sdk::export_plugin!(Hello);
//! ```

pub mod args;
pub mod bindings;
pub mod config;
mod error;
#[doc(hidden)]
pub mod glue;
pub mod host;
pub mod http;
pub mod kube;
mod prompt;
mod result;
pub mod schema;
pub mod time;
mod tool;
pub mod url;

pub use error::ToolError;
pub use prompt::{Prompt, PromptArgument, PromptMessage, PromptResult};
pub use result::{Content, ToolResult};
pub use serde_json::{self, Map, Value, json};
pub use tool::Tool;

/// A capstan plugin: the tools (and optionally prompts) one component offers.
///
/// Every call runs in a fresh instance, so implementations hold no state between calls.
pub trait Plugin {
    /// The tools this plugin offers. Called once when the host loads the plugin.
    fn tools() -> Vec<Tool>;

    /// Runs `tool` with `arguments` (a JSON object already validated against its input schema).
    /// An `Err` becomes an `isError` result carrying the error's message.
    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError>;

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
