//! Tool results: content blocks, structured output and the error flag.

use serde_json::Value;

use crate::bindings::capstan::plugin::types;

/// One block of a tool result.
#[derive(Debug, Clone)]
pub enum Content {
    /// Plain text or Markdown.
    Text(String),
    /// An image: base64 data and MIME type.
    Image {
        /// Base64-encoded bytes.
        data: String,
        /// MIME type, e.g. `image/png`.
        mime_type: String,
    },
    /// An audio clip: base64 data and MIME type.
    Audio {
        /// Base64-encoded bytes.
        data: String,
        /// MIME type, e.g. `audio/wav`.
        mime_type: String,
    },
    /// An embedded text resource.
    Resource {
        /// The resource's URI.
        uri: String,
        /// Its MIME type.
        mime_type: Option<String>,
        /// Its text.
        text: String,
    },
    /// An embedded binary resource.
    Blob {
        /// The resource's URI.
        uri: String,
        /// Its MIME type.
        mime_type: Option<String>,
        /// Base64-encoded bytes.
        data: String,
    },
}

impl Content {
    pub(crate) fn into_wit(self) -> types::Content {
        match self {
            Content::Text(text) => types::Content::Text(text),
            Content::Image { data, mime_type } => {
                types::Content::Image(types::Media { data, mime_type })
            }
            Content::Audio { data, mime_type } => {
                types::Content::Audio(types::Media { data, mime_type })
            }
            Content::Resource {
                uri,
                mime_type,
                text,
            } => types::Content::Resource(types::EmbeddedResource {
                uri,
                mime_type,
                contents: types::ResourceContents::Text(text),
            }),
            Content::Blob {
                uri,
                mime_type,
                data,
            } => types::Content::Resource(types::EmbeddedResource {
                uri,
                mime_type,
                contents: types::ResourceContents::Blob(data),
            }),
        }
    }
}

/// The result of a tool call.
#[derive(Debug, Clone, Default)]
pub struct ToolResult {
    content: Vec<Content>,
    structured: Option<Value>,
    is_error: bool,
}

impl ToolResult {
    /// A successful result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::from_content(vec![Content::Text(text.into())])
    }

    /// A successful result with structured output; the host adds the JSON text copy that MCP
    /// clients without structured-output support read.
    pub fn structured(value: Value) -> Self {
        Self {
            structured: Some(value),
            ..Self::default()
        }
    }

    /// A successful result with these content blocks.
    pub fn from_content(content: Vec<Content>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// A failed result whose message tells the agent what went wrong and what to do.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: vec![Content::Text(message.into())],
            is_error: true,
            ..Self::default()
        }
    }

    /// Appends a content block.
    pub fn with(mut self, block: Content) -> Self {
        self.content.push(block);
        self
    }

    /// Whether this result reports a failure.
    pub fn is_error(&self) -> bool {
        self.is_error
    }

    /// The structured output, if any.
    pub fn structured_content(&self) -> Option<&Value> {
        self.structured.as_ref()
    }

    /// The content blocks.
    pub fn content(&self) -> &[Content] {
        &self.content
    }

    pub(crate) fn into_wit(self) -> types::CallResult {
        types::CallResult {
            content: self.content.into_iter().map(Content::into_wit).collect(),
            structured: self.structured.map(|value| value.to_string()),
            is_error: self.is_error,
        }
    }
}
