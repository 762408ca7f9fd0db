//! Prompt templates: what a plugin offers and how a rendered prompt looks.

use crate::bindings::capstan::plugin::types;
use crate::result::Content;

/// An argument a prompt takes.
#[derive(Debug, Clone)]
pub struct PromptArgument {
    /// The argument's name.
    pub name: String,
    /// What it means.
    pub description: Option<String>,
    /// Whether it must be given.
    pub required: bool,
}

/// A prompt template a plugin offers.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// Unique within the plugin.
    pub name: String,
    /// A short human-readable name.
    pub title: Option<String>,
    /// What the prompt is for.
    pub description: Option<String>,
    /// The arguments it takes.
    pub arguments: Vec<PromptArgument>,
}

impl Prompt {
    /// A prompt called `name` that is for `description`, with no arguments yet.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            arguments: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn argument(mut self, name: &str, description: &str, required: bool) -> Self {
        self.arguments.push(PromptArgument {
            name: name.into(),
            description: Some(description.into()),
            required,
        });
        self
    }

    pub(crate) fn into_wit(self) -> types::Prompt {
        types::Prompt {
            name: self.name,
            title: self.title,
            description: self.description,
            arguments: self
                .arguments
                .into_iter()
                .map(|a| types::PromptArgument {
                    name: a.name,
                    description: a.description,
                    required: a.required,
                })
                .collect(),
        }
    }
}

/// One message of a rendered prompt.
#[derive(Debug, Clone)]
pub struct PromptMessage {
    /// True for the assistant, false for the user.
    pub assistant: bool,
    /// What is said.
    pub content: Content,
}

impl PromptMessage {
    /// A user message.
    pub fn user(content: Content) -> Self {
        Self {
            assistant: false,
            content,
        }
    }

    /// An assistant message.
    pub fn assistant(content: Content) -> Self {
        Self {
            assistant: true,
            content,
        }
    }
}

/// A rendered prompt.
#[derive(Debug, Clone, Default)]
pub struct PromptResult {
    /// A description of the rendered prompt.
    pub description: Option<String>,
    /// The messages, in order.
    pub messages: Vec<PromptMessage>,
}

impl PromptResult {
    pub(crate) fn into_wit(self) -> types::PromptResult {
        types::PromptResult {
            description: self.description,
            messages: self
                .messages
                .into_iter()
                .map(|m| types::PromptMessage {
                    role: if m.assistant {
                        types::Role::Assistant
                    } else {
                        types::Role::User
                    },
                    content: m.content.into_wit(),
                })
                .collect(),
        }
    }
}
