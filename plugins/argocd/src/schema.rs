//! JSON Schema pieces shared by the tools.

use capstan_sdk::{Value, json};

/// An object schema with these properties, these required, and nothing else.
pub(crate) fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The optional `target` argument every tool takes.
pub(crate) fn target_property() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 64,
           "description": "Which Argo CD instance of this capstan instance to ask; defaults to its default target."})
}
