//! A plugin's tools and the handler of each: listing and dispatch, written once.
//!
//! ```ignore
//! fn toolbox() -> Toolbox {
//!     Toolbox::new("Argo CD")
//!         .tool("get_version", version::tool, version::call)
//!         .tool("list_applications", applications::list_tool, applications::list)
//! }
//! ```
//!
//! A tool's description is built only when the tools are listed; a call finds its handler by
//! name without building any.

use serde_json::Value;

use crate::{Context, Tool, ToolError, ToolResult};

/// Runs one tool: the call's context and its arguments (already validated by the host against
/// the tool's input schema).
pub type Handler = fn(&Context, &Value) -> Result<ToolResult, ToolError>;

struct Entry {
    name: &'static str,
    describe: fn() -> Tool,
    handler: Handler,
}

/// Every tool of a plugin with its handler.
pub struct Toolbox {
    plugin: &'static str,
    entries: Vec<Entry>,
}

impl Toolbox {
    /// An empty toolbox of the plugin called `plugin` (as people name it: "Argo CD", "Flux").
    pub fn new(plugin: &'static str) -> Self {
        Self {
            plugin,
            entries: Vec::new(),
        }
    }

    /// Adds the tool `name`, described by `describe` and run by `handler`.
    pub fn tool(mut self, name: &'static str, describe: fn() -> Tool, handler: Handler) -> Self {
        self.entries.push(Entry {
            name,
            describe,
            handler,
        });
        self
    }

    /// The tools' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|entry| entry.name)
    }

    /// Every tool's description, in order.
    ///
    /// # Panics
    /// When a description's name is not the name it was added under, or a name is added twice:
    /// a bug in the plugin, which its native tests (and `capstan check`) catch before release.
    pub fn tools(&self) -> Vec<Tool> {
        let mut tools: Vec<Tool> = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let tool = (entry.describe)();
            assert_eq!(
                tool.name(),
                entry.name,
                "the {} plugin adds a tool as `{}` but describes it as `{}`",
                self.plugin,
                entry.name,
                tool.name()
            );
            assert!(
                !tools.iter().any(|t| t.name() == entry.name),
                "the {} plugin adds the tool `{}` twice",
                self.plugin,
                entry.name
            );
            tools.push(tool);
        }
        tools
    }

    /// Runs the tool `name`; a name the plugin does not have is an error listing those it has.
    pub fn call(
        &self,
        context: &Context,
        name: &str,
        arguments: &Value,
    ) -> Result<ToolResult, ToolError> {
        match self.entries.iter().find(|entry| entry.name == name) {
            Some(entry) => (entry.handler)(context, arguments),
            None => Err(ToolError::new(format!(
                "the {} plugin has no tool `{name}`; it has {}",
                self.plugin,
                self.names().collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::Fixture;
    use serde_json::json;

    fn echo_tool() -> Tool {
        Tool::new("echo", "Echoes.").read_only()
    }

    fn echo(_: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::structured(arguments.clone()))
    }

    fn misnamed() -> Tool {
        Tool::new("other", "Named differently.")
    }

    #[test]
    fn calls_go_to_their_handler_and_unknown_names_list_the_tools() {
        let toolbox = Toolbox::new("Test").tool("echo", echo_tool, echo);
        let context = Fixture::new().context();
        assert!(toolbox.call(&context, "echo", &json!({"a": 1})).is_ok());
        let error = toolbox.call(&context, "nope", &json!({})).unwrap_err();
        assert_eq!(
            error.message(),
            "the Test plugin has no tool `nope`; it has echo"
        );
        assert_eq!(toolbox.tools().len(), 1);
    }

    #[test]
    #[should_panic(expected = "adds a tool as `echo` but describes it as `other`")]
    fn a_description_under_another_name_is_caught() {
        Toolbox::new("Test").tool("echo", misnamed, echo).tools();
    }

    #[test]
    #[should_panic(expected = "adds the tool `echo` twice")]
    fn a_name_added_twice_is_caught() {
        Toolbox::new("Test")
            .tool("echo", echo_tool, echo)
            .tool("echo", echo_tool, echo)
            .tools();
    }
}
