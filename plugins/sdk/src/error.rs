//! The error a tool returns when it fails: a message for the agent that says what to do next.

use std::fmt;

use crate::input::Input;

/// A failed tool call. Its message reaches the agent as an `isError` result, so write it for
/// the agent: what went wrong and what to try instead.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    message: String,
    /// Set when this is not a failure but questions for the client ([`Context::ask`]).
    ///
    /// [`Context::ask`]: crate::Context::ask
    input: Option<Box<Input>>,
}

impl ToolError {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            input: None,
        }
    }

    /// Not a failure: the handler needs `input` from the client first.
    pub fn input_required(input: Input) -> Self {
        Self {
            message: "the call needs input from the client".into(),
            input: Some(Box::new(input)),
        }
    }

    /// The questions, when the handler asked instead of failing.
    pub fn input_required_by(&self) -> Option<&Input> {
        self.input.as_deref()
    }

    /// The message the agent will see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ToolError {}

impl From<String> for ToolError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for ToolError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(error: serde_json::Error) -> Self {
        Self::new(format!("invalid JSON: {error}"))
    }
}
