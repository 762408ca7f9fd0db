//! JSON Schema pieces shared by the tools: the `target` argument, application and resource
//! references (with argocd-mcp's argument names), paging and the summary/detail switch.

use capstan_sdk::{Map, Value, json};

pub(crate) use capstan_sdk::schema::{NAME_PATTERN, NAMESPACE_PATTERN};

/// An object schema with these properties, these required, and nothing else. An input schema
/// with the `target` argument also accepts argocd-mcp's `argocdBaseUrl`.
pub(crate) fn object(mut properties: Value, required: &[&str]) -> Value {
    if properties.get("target") == Some(&target_property()) {
        properties["argocdBaseUrl"] = json!({"type": "string", "maxLength": 2048,
            "description": "argocd-mcp's way to pick the Argo CD instance: the base URL of one of this instance's targets (prefer `target`)."});
    }
    capstan_sdk::schema::object(properties, required)
}

/// Merges several property maps into one (later keys win).
pub(crate) fn props(parts: &[Value]) -> Value {
    let mut map = Map::new();
    for part in parts {
        if let Some(part) = part.as_object() {
            map.extend(part.clone());
        }
    }
    Value::Object(map)
}

/// The optional `target` argument every tool takes.
pub(crate) fn target_property() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 64,
           "description": "Which Argo CD instance of this capstan instance to ask; defaults to its default target, else (for a named application) the one that holds it."})
}

/// `target`, `applicationName` and the two spellings of the application's namespace.
pub(crate) fn app_properties() -> Value {
    json!({
        "target": target_property(),
        "applicationName": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 253,
                            "description": "The application's name, as list_applications shows it."},
        "applicationNamespace": namespace_property(
            "The namespace of the Application object, when it is not Argo CD's own (apps in any namespace)."),
        "appNamespace": namespace_property("Same as applicationNamespace (Argo CD's own name for it)."),
    })
}

/// A namespace argument.
pub(crate) fn namespace_property(description: &str) -> Value {
    json!({"type": "string", "pattern": NAMESPACE_PATTERN, "description": description})
}

/// A reference to one Kubernetes object of an application, as the resource tree names it.
pub(crate) fn resource_ref() -> Value {
    let text =
        |description: &str| json!({"type": "string", "maxLength": 253, "description": description});
    json!({
        "type": "object",
        "description": "A Kubernetes object of the application, as get_application_resource_tree lists it.",
        "properties": {
            "kind": text("e.g. Deployment"), "name": text("The object's name."),
            "namespace": text("The object's namespace (empty for cluster-scoped objects)."),
            "group": text("API group, empty for the core group (e.g. `apps`)."),
            "version": text("API version, e.g. `v1`."), "uid": text("The object's UID (optional)."),
        },
        "required": ["kind", "name"],
        "additionalProperties": false,
    })
}

/// `limit`, `offset` and `detail`.
pub(crate) fn paging(default_limit: u64, max_limit: u64) -> Value {
    json!({
        "limit": {"type": "integer", "minimum": 1, "maximum": max_limit,
                  "description": format!("Rows to return (default {default_limit}).")},
        "offset": {"type": "integer", "minimum": 0, "description": "Rows to skip (default 0)."},
        "detail": {"type": "boolean",
                   "description": "Return Argo CD's full objects instead of summary rows (much larger; use a small limit)."},
    })
}

/// The paging fields of a paged answer.
pub(crate) fn page_output() -> Value {
    json!({
        "total": {"type": "integer", "description": "Rows that matched, before paging."},
        "offset": {"type": "integer"},
        "returned": {"type": "integer"},
        "hasMore": {"type": "boolean"},
        "nextOffset": {"type": "integer", "description": "Pass as `offset` for the next page (only when hasMore)."},
    })
}
