//! The swagger definitions as JSON Schema: request bodies are checked against them, and so are
//! fixtures and the fake's own answers (in tests), with unknown fields refused — the real API
//! never serves a field its contract does not declare, and a client that sends one has a bug.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value, json};

const SWAGGER: &str = include_str!("../contracts/argocd-swagger.json");

static SWAGGER_JSON: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(SWAGGER).expect("the vendored swagger.json is JSON"));

/// The definitions with `allOf` flattened and unknown fields forbidden.
static STRICT_DEFINITIONS: LazyLock<Value> = LazyLock::new(|| {
    let mut definitions = SWAGGER_JSON["definitions"].clone();
    // Free-form JSON on the wire (Helm `valuesObject`, generator elements, managed fields):
    // swagger describes their Go wrapper (`{"raw": bytes}`), not what is sent.
    for free_form in ["runtimeRawExtension", "v1JSON", "v1FieldsV1"] {
        definitions[free_form] = json!({"description": "any JSON value"});
    }
    flatten_all_of(&mut definitions);
    forbid_unknown_fields(&mut definitions);
    definitions
});

/// Compiled validators, by the schema text they check.
static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Mutex::default);

/// The vendored swagger.json.
pub(crate) fn swagger() -> &'static Value {
    &SWAGGER_JSON
}

/// Checks `value` against `schema` (a swagger body schema, usually a `$ref`).
pub(crate) fn check_body(schema: &Value, value: &Value) -> Result<(), String> {
    let validator = validator(schema);
    crate::fakes::check_schema(&validator, value)
}

/// Checks `value` against the definition `name`, e.g. `v1alpha1ApplicationTree`.
pub(crate) fn check_definition(name: &str, value: &Value) -> Result<(), String> {
    check_body(&json!({"$ref": format!("#/definitions/{name}")}), value)
}

/// Checks an Application against `v1alpha1Application`.
pub(crate) fn validate_application(application: &Value) -> Result<(), String> {
    check_definition("v1alpha1Application", application)
}

fn validator(schema: &Value) -> Arc<jsonschema::Validator> {
    let key = schema.to_string();
    let mut cache = VALIDATORS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(validator) = cache.get(&key) {
        return validator.clone();
    }
    let mut full = schema.clone();
    if let Some(map) = full.as_object_mut() {
        map.insert("definitions".into(), STRICT_DEFINITIONS.clone());
    }
    let validator = Arc::new(
        jsonschema::draft202012::options()
            .build(&full)
            .expect("the swagger definitions compile as JSON Schema"),
    );
    cache.insert(key, validator.clone());
    validator
}

/// Replaces `allOf: [{$ref}]` by the referenced definitions' properties, so that forbidding
/// unknown fields does not also forbid the inherited ones (`v1alpha1ResourceNode` extends
/// `v1alpha1ResourceRef` this way).
fn flatten_all_of(definitions: &mut Value) {
    let source = definitions.clone();
    let Some(map) = definitions.as_object_mut() else {
        return;
    };
    for schema in map.values_mut() {
        let Some(parts) = schema.as_object_mut().and_then(|s| s.remove("allOf")) else {
            continue;
        };
        let mut inherited = Map::new();
        for part in parts.as_array().into_iter().flatten() {
            let name = part["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/definitions/"))
                .unwrap_or_default();
            if let Some(properties) = source[name]["properties"].as_object() {
                inherited.extend(properties.clone());
            }
        }
        if let Some(properties) = schema["properties"].as_object_mut() {
            properties.extend(inherited);
        }
    }
}

/// Adds `additionalProperties: false` to every object schema that lists its properties and
/// says nothing about others. Swagger 2.0 definitions nest schemas only under `properties`,
/// `items` and `additionalProperties`.
fn forbid_unknown_fields(definitions: &mut Value) {
    for schema in definitions
        .as_object_mut()
        .into_iter()
        .flat_map(|map| map.values_mut())
    {
        forbid_in_schema(schema);
    }
}

fn forbid_in_schema(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(forbid_in_schema);
    }
    for keyword in ["items", "additionalProperties"] {
        if let Some(subschema) = map.get_mut(keyword) {
            forbid_in_schema(subschema);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_fixtures_are_checked_against_the_definition() {
        let good = json!({"metadata": {"name": "a"}, "spec": {"project": "default"}});
        assert!(validate_application(&good).is_ok());
        let typo = json!({"metadata": {"name": "a"}, "spec": {"projekt": "default"}});
        assert!(validate_application(&typo).is_err());
        let wrong_type = json!({"metadata": {"name": "a", "generation": "3"}});
        assert!(validate_application(&wrong_type).is_err());
    }

    #[test]
    fn inherited_fields_stay_allowed_after_flattening() {
        let node =
            json!({"kind": "Pod", "name": "p", "uid": "u", "parentRefs": [{"kind": "ReplicaSet"}]});
        check_definition("v1alpha1ResourceNode", &node).unwrap();
        let bad = json!({"kind": "Pod", "nam": "p"});
        assert!(check_definition("v1alpha1ResourceNode", &bad).is_err());
    }
}
