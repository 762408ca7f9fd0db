//! What `capstan check` warns about in a plugin that loads: what authors get wrong and the host
//! still serves. Each warning names the tool and the fix. What the host refuses (names outside
//! `a-z0-9_`, input schemas that do not compile, imports capstan does not provide, another
//! contract version) fails the load and is reported as an error, not here.
//!
//! Behaviour hints are always present in the contract (a record of four booleans), so a tool
//! "without annotations" cannot be told from one whose author chose MCP's defaults (the
//! bundled `sync_application` deliberately keeps them); only contradictory hints are flagged.

use serde_json::Value;

use crate::registry::ToolDefinition;

/// One warning about a served tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The tool's exposed name.
    pub tool: String,
    /// What is wrong.
    pub problem: String,
    /// What to change.
    pub fix: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tool `{}` {}; {}", self.tool, self.problem, self.fix)
    }
}

/// The warnings about one served tool, in a fixed order.
pub fn tool_warnings(definition: &ToolDefinition) -> Vec<Warning> {
    let warn = |problem: String, fix: &str| Warning {
        tool: definition.exposed.clone(),
        problem,
        fix: fix.to_owned(),
    };
    let mut warnings = Vec::new();
    let hints = &definition.tool.annotations;
    if hints.read_only && hints.destructive {
        warnings.push(warn(
            "is marked both read-only and destructive: clients ignore destructiveHint on a read-only tool, so one of the two is wrong".to_owned(),
            "keep `read-only` only if the tool changes nothing (capstan-sdk's `Tool::read_only()` also clears destructive), else set it false",
        ));
    }
    match &definition.output_schema {
        None => warnings.push(warn(
            "has no output schema: clients can neither check nor rely on its structuredContent".to_owned(),
            "declare one (capstan-sdk: `Tool::output(json!({\"type\": \"object\", ...}))`) and answer with `ToolResult::structured`",
        )),
        Some(schema) => {
            let schema = Value::Object((**schema).clone());
            if let Some(problem) = output_schema_problem(&schema) {
                warnings.push(warn(
                    problem,
                    "fix the schema: clients that validate structuredContent against it refuse the tool's answers",
                ));
            }
        }
    }
    warnings
}

/// Why an output schema cannot serve as MCP's `outputSchema`: it does not compile as JSON
/// Schema, or its root is not an object schema (structuredContent is an object).
fn output_schema_problem(schema: &Value) -> Option<String> {
    if let Err(error) = jsonschema::validator_for(schema) {
        return Some(format!(
            "has an output schema that is not a valid JSON Schema: {error}"
        ));
    }
    match schema.get("type") {
        Some(Value::String(kind)) if kind == "object" => None,
        None => None,
        Some(other) => Some(format!(
            "has an output schema whose root is of type {other}, but MCP's structuredContent is always a JSON object"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types;

    fn tool(hints: (bool, bool, bool, bool), output: Option<&str>) -> ToolDefinition {
        let (read_only, destructive, idempotent, open_world) = hints;
        let declared = types::Tool {
            name: "t".into(),
            title: None,
            description: "d".into(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: output.map(str::to_owned),
            annotations: types::Annotations {
                read_only,
                destructive,
                idempotent,
                open_world,
            },
            task_support: types::TaskSupport::Forbidden,
        };
        ToolDefinition::new("p_t".into(), declared).unwrap()
    }

    fn problems(definition: &ToolDefinition) -> Vec<String> {
        tool_warnings(definition)
            .into_iter()
            .map(|w| w.problem)
            .collect()
    }

    #[test]
    fn a_described_tool_has_no_warning() {
        let object = Some(r#"{"type":"object","properties":{"a":{"type":"string"}}}"#);
        assert!(problems(&tool((true, false, true, false), object)).is_empty());
        assert!(problems(&tool((false, true, false, true), object)).is_empty());
        assert!(problems(&tool((false, false, false, false), Some("{}"))).is_empty());
    }

    #[test]
    fn contradictory_hints_and_a_missing_output_schema_are_named_with_the_fix() {
        let warnings = tool_warnings(&tool((true, true, true, false), None));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0]
                .problem
                .contains("both read-only and destructive")
        );
        assert!(warnings[0].fix.contains("Tool::read_only()"));
        assert!(warnings[1].problem.starts_with("has no output schema"));
        assert!(warnings[1].fix.contains("Tool::output"));
        assert!(
            warnings[1]
                .to_string()
                .starts_with("tool `p_t` has no output schema")
        );
    }

    #[test]
    fn an_output_schema_must_compile_and_describe_an_object() {
        let broken = problems(&tool(
            (true, false, true, false),
            Some(r#"{"type":"object","properties":7}"#),
        ));
        assert_eq!(broken.len(), 1);
        assert!(broken[0].contains("not a valid JSON Schema"), "{broken:?}");
        let array = problems(&tool(
            (true, false, true, false),
            Some(r#"{"type":"array"}"#),
        ));
        assert_eq!(
            array,
            [
                "has an output schema whose root is of type \"array\", but MCP's structuredContent is always a JSON object"
            ]
        );
    }
}
