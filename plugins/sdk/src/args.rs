//! Reading tool arguments: typed access with messages that name the argument.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ToolError;

/// Deserializes the whole argument object into `T`, naming the problem when it does not fit.
pub fn parse<T: DeserializeOwned>(arguments: Value) -> Result<T, ToolError> {
    serde_json::from_value(arguments)
        .map_err(|error| ToolError::new(format!("invalid arguments: {error}")))
}

/// The string argument `name`, if present.
pub fn str<'a>(arguments: &'a Value, name: &str) -> Option<&'a str> {
    arguments.get(name).and_then(Value::as_str)
}

/// The string argument `name`, or an error that names it.
pub fn required_str<'a>(arguments: &'a Value, name: &str) -> Result<&'a str, ToolError> {
    str(arguments, name).ok_or_else(|| ToolError::new(format!("missing string argument `{name}`")))
}

/// The integer argument `name`, or `default`.
pub fn u64_or(arguments: &Value, name: &str, default: u64) -> u64 {
    arguments
        .get(name)
        .and_then(Value::as_u64)
        .unwrap_or(default)
}
