//! JSON Schema pieces the tools share: the `target` argument, object references and names.

use capstan_sdk::{Value, json};

use crate::{health, kinds};

pub(crate) use capstan_sdk::schema::{NAMESPACE_PATTERN, object};

/// Adds `target` (and whatever `extra` holds) to a tool's properties.
pub(crate) fn with_target(mut properties: Value) -> Value {
    properties["target"] = json!({
        "type": "string", "minLength": 1, "maxLength": 64,
        "description": "Which Kubernetes API (cluster) of this capstan instance to ask, by target name; defaults to its default target."
    });
    properties
}

/// `kind`: one of the Flux kinds.
pub(crate) fn kind(description: &str) -> Value {
    json!({"type": "string", "enum": kinds::names(), "description": description})
}

/// `namespace`.
pub(crate) fn namespace(description: &str) -> Value {
    json!({"type": "string", "pattern": NAMESPACE_PATTERN, "description": description})
}

/// An object name (any string the API could hold; it is always sent percent-encoded).
pub(crate) fn name(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 253, "description": description})
}

/// `kind`, `name` and `namespace` of one Flux object, all required, plus `target`.
pub(crate) fn flux_object(extra: Value) -> Value {
    let mut properties = with_target(json!({
        "kind": kind("The Flux kind."),
        "name": name("The object's name."),
        "namespace": namespace("The object's namespace, e.g. `flux-system`."),
    }));
    if let (Some(map), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        map.extend(extra);
    }
    object(properties, &["kind", "name", "namespace"])
}

/// The `{state, reason, message}` of a health.
pub(crate) fn health() -> Value {
    json!({"type": "object", "properties": {
        "state": {"type": "string", "enum": health::STATES},
        "reason": {"type": "string"},
        "message": {"type": "string"},
        "retrying": {"type": "boolean", "description": "The controller failed and retries; the reason and message are the failure."}},
        "required": ["state", "reason", "message"]})
}

/// `wait` and `timeout` for write tools.
pub(crate) fn wait() -> Value {
    json!({
        "wait": {"type": "boolean", "default": false,
                 "description": "Wait until the controller has handled the request (or gave up as Stalled), reporting progress; answers with the outcome."},
        "timeout": {"type": "string", "pattern": "^([0-9]+[hms])+$", "default": "20s",
                    "description": "How long to wait, like `30s` or `2m` (at most 5m). Clients with MCP tasks get a task; for others the instance's call timeout must be longer. On timeout the answer carries the Ready condition's status, reason and message."},
    })
}
