//! SEP-2243 `x-mcp-header` annotations in a tool's input schema, checked once at load.
//!
//! A property annotated `"x-mcp-header": "Region"` is mirrored by clients as the HTTP header
//! `Mcp-Param-Region`, which rmcp's server transport checks against the body of every
//! `tools/call` (HTTP 400, `-32020`, on a mismatch). Clients drop a tool whose annotations break
//! the rules, so capstan refuses such a tool when the plugin loads, naming the rule: an
//! annotation is a non-empty HTTP token (RFC 9110), unique regardless of case, on a property of
//! type `string`, `integer` or `boolean` reached from the root through `properties` alone.

use std::collections::HashSet;

use serde_json::Value;

use super::schema::JsonObject;

const ANNOTATION: &str = "x-mcp-header";

/// Checks the `x-mcp-header` annotations of `input_schema`; the error says which rule failed.
pub fn check(input_schema: &JsonObject) -> Result<(), String> {
    if input_schema.contains_key(ANNOTATION) {
        return Err("x-mcp-header must annotate a property, not the schema's root".into());
    }
    if off_the_properties_chain(input_schema, true) {
        return Err(
            "x-mcp-header must sit on a property reached from the root through `properties` alone (not in $defs, items, allOf, ...)"
                .into(),
        );
    }
    let mut seen = HashSet::new();
    let mut path = Vec::new();
    check_properties(input_schema, &mut path, &mut seen)
}

fn check_properties<'a>(
    schema: &'a JsonObject,
    path: &mut Vec<&'a str>,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Ok(());
    };
    for (name, property) in properties {
        let Value::Object(property) = property else {
            continue;
        };
        path.push(name);
        if let Some(header) = property.get(ANNOTATION) {
            check_annotation(&path.join("."), header, property, seen)?;
        }
        check_properties(property, path, seen)?;
        path.pop();
    }
    Ok(())
}

fn check_annotation(
    property: &str,
    header: &Value,
    schema: &JsonObject,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    let Value::String(header) = header else {
        return Err(format!(
            "property `{property}`: x-mcp-header must be a string"
        ));
    };
    if header.is_empty() {
        return Err(format!(
            "property `{property}`: x-mcp-header must not be empty"
        ));
    }
    if !header.chars().all(is_token_char) {
        return Err(format!(
            "property `{property}`: x-mcp-header `{header}` is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
        ));
    }
    if !seen.insert(header.to_ascii_lowercase()) {
        return Err(format!(
            "property `{property}`: x-mcp-header `{header}` is used twice (names are case-insensitive)"
        ));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string" | "integer" | "boolean") => Ok(()),
        _ => Err(format!(
            "property `{property}`: x-mcp-header needs a property of type string, integer or boolean"
        )),
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Whether `schema` holds an annotation anywhere but on a `properties` chain from the root;
/// `on_chain` says whether `schema` itself is the root or such a property.
fn off_the_properties_chain(schema: &JsonObject, on_chain: bool) -> bool {
    schema.iter().any(|(key, value)| match key.as_str() {
        ANNOTATION => !on_chain,
        "properties" => any_schema_in_map(value, on_chain),
        // Instance data, not subschemas.
        "default" | "const" | "enum" | "examples" => false,
        "$defs" | "definitions" | "dependentSchemas" | "patternProperties" => {
            any_schema_in_map(value, false)
        }
        _ => any_subschema(value),
    })
}

fn any_schema_in_map(map: &Value, on_chain: bool) -> bool {
    map.as_object().is_some_and(|map| {
        map.values().any(|schema| match schema {
            Value::Object(schema) => off_the_properties_chain(schema, on_chain),
            other => any_subschema(other),
        })
    })
}

/// Whether a keyword's value (a schema or a list of schemas) holds any annotation.
fn any_subschema(value: &Value) -> bool {
    match value {
        Value::Object(schema) => off_the_properties_chain(schema, false),
        Value::Array(items) => items.iter().any(any_subschema),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn checked(schema: Value) -> Result<(), String> {
        check(schema.as_object().expect("an object schema"))
    }

    #[test]
    fn primitive_properties_on_the_properties_chain_may_be_mirrored() {
        let schema = json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "replicas": {"type": "integer", "x-mcp-header": "Replicas"},
                "target": {"type": "object", "properties": {
                    "dryRun": {"type": "boolean", "x-mcp-header": "Dry-Run"}
                }},
                "mode": {"type": "string", "enum": ["x-mcp-header"]}
            }
        });
        assert_eq!(checked(schema), Ok(()));
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            (
                json!({"x-mcp-header": "Root", "type": "object"}),
                "not the schema's root",
            ),
            (
                json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
                "must not be empty",
            ),
            (
                json!({"properties": {"a": {"type": "string", "x-mcp-header": 7}}}),
                "must be a string",
            ),
            (
                json!({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}),
                "not an HTTP token",
            ),
            (
                json!({"properties": {
                    "a": {"type": "string", "x-mcp-header": "Region"},
                    "b": {"type": "string", "x-mcp-header": "region"}
                }}),
                "used twice",
            ),
            (
                json!({"properties": {"a": {"type": "array", "x-mcp-header": "List"}}}),
                "string, integer or boolean",
            ),
            (
                json!({"properties": {"a": {"type": "number", "x-mcp-header": "Ratio"}}}),
                "string, integer or boolean",
            ),
            (
                json!({"$defs": {"a": {"type": "string", "x-mcp-header": "Hidden"}}}),
                "through `properties` alone",
            ),
            (
                json!({"properties": {"a": {"type": "array", "items":
                    {"type": "string", "x-mcp-header": "Item"}}}}),
                "through `properties` alone",
            ),
            (
                json!({"allOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
                "through `properties` alone",
            ),
        ];
        for (schema, expected) in cases {
            let error = checked(schema.clone()).expect_err(&schema.to_string());
            assert!(error.contains(expected), "{schema}: {error}");
        }
    }
}
