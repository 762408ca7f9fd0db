//! Tool descriptions: name, description, schemas and behaviour hints.

use serde_json::{Value, json};

use crate::bindings::capstan::plugin::types;

/// A tool a plugin offers, built with chained setters.
///
/// The defaults follow MCP's: not read-only, possibly destructive, not idempotent, open world,
/// and an input schema that accepts only an empty object.
#[derive(Debug, Clone)]
pub struct Tool {
    name: String,
    title: Option<String>,
    description: String,
    input_schema: Value,
    output_schema: Option<Value>,
    annotations: types::Annotations,
    task_support: TaskSupport,
}

/// Whether a tool may run as an MCP task (a long operation the client polls): see
/// [`Tool::tasks`].
pub use types::TaskSupport;

impl Tool {
    /// A tool called `name` (1–48 characters of `a-z`, `0-9`, `_`) that does `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema: json!({"type": "object", "additionalProperties": false}),
            output_schema: None,
            annotations: types::Annotations {
                read_only: false,
                destructive: true,
                idempotent: false,
                open_world: true,
            },
            task_support: TaskSupport::Forbidden,
        }
    }

    /// Sets a short human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the JSON Schema of the arguments; its root must be an object schema.
    pub fn input(mut self, schema: Value) -> Self {
        self.input_schema = schema;
        self
    }

    /// Sets the JSON Schema of the structured result.
    pub fn output(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Marks the tool read-only (and therefore neither destructive nor state-changing).
    pub fn read_only(mut self) -> Self {
        self.annotations.read_only = true;
        self.annotations.destructive = false;
        self.annotations.idempotent = true;
        self
    }

    /// Says whether the tool may destroy or overwrite something.
    pub fn destructive(mut self, destructive: bool) -> Self {
        self.annotations.destructive = destructive;
        self
    }

    /// Says whether repeating a call with the same arguments has no further effect.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.annotations.idempotent = idempotent;
        self
    }

    /// Says whether the tool talks to an open world of external systems.
    pub fn open_world(mut self, open_world: bool) -> Self {
        self.annotations.open_world = open_world;
        self
    }

    /// Says whether the tool may run as an MCP task. A tool that waits on something (a sync,
    /// a rollout, a reconcile) says [`TaskSupport::Optional`]: a client that supports tasks
    /// gets a task at once and polls it, and the call runs under the host's task time limit
    /// instead of the call timeout.
    pub fn tasks(mut self, support: TaskSupport) -> Self {
        self.task_support = support;
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn into_wit(self) -> types::Tool {
        types::Tool {
            name: self.name,
            title: self.title,
            description: self.description,
            input_schema: self.input_schema.to_string(),
            output_schema: self.output_schema.map(|schema| schema.to_string()),
            annotations: self.annotations,
            task_support: self.task_support,
        }
    }
}
