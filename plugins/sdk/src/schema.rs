//! JSON Schema pieces every plugin's tools use: a closed object schema and the Kubernetes name
//! patterns.

use serde_json::{Value, json};

/// A Kubernetes object name (RFC 1123 subdomain).
pub const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";
/// A Kubernetes namespace name (RFC 1123 label).
pub const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/// An object schema with these properties, these required, and nothing else.
pub fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}
