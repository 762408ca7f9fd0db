//! The Argo CD plugin: read tools over the Argo CD REST API (v3.x).
//!
//! Each tool takes an optional `target`, the name of one of the instance's `[[targets]]`
//! (default: `default_target` from `[config]`, or the only target). The host adds the target's
//! credentials; this plugin never sees a token. Names from arguments are percent-encoded into
//! their own path segment, and every non-2xx answer becomes an error result that quotes Argo
//! CD's message and says what to do next.
//!
//! Tools: `list_applications`, `get_application`, `get_version`.

mod applications;
mod client;
mod schema;
mod version;

use capstan_sdk::{Plugin, Tool, ToolError, ToolResult, Value};

struct ArgoCd;

impl Plugin for ArgoCd {
    fn tools() -> Vec<Tool> {
        vec![
            applications::list_tool(),
            applications::get_tool(),
            version::tool(),
        ]
    }

    fn call(tool: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        match tool {
            "list_applications" => applications::list(arguments),
            "get_application" => applications::get(arguments),
            "get_version" => version::call(arguments),
            other => Err(ToolError::new(format!(
                "the Argo CD plugin has no tool `{other}`; it has list_applications, get_application and get_version"
            ))),
        }
    }
}

capstan_sdk::export_plugin!(ArgoCd);
