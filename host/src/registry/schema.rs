//! The tools and prompts an instance serves, as the plugin declared them, plus what the host
//! derives once at load: the exposed name, the parsed schemas and the compiled validator of the
//! input schema. Protocol fronts translate these definitions into their own types.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::param_headers;
use crate::runtime::types;

/// A JSON object, as schemas are.
pub type JsonObject = Map<String, Value>;

/// Why a tool's schemas cannot be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// The schema text is not JSON.
    #[error("the {what} is not JSON: {error}")]
    NotJson {
        /// `input schema` or `output schema`.
        what: &'static str,
        /// The parser's message.
        error: Arc<serde_json::Error>,
    },
    /// The schema is JSON but not an object.
    #[error("the {what} must be a JSON object")]
    NotObject {
        /// `input schema` or `output schema`.
        what: &'static str,
    },
    /// The input schema describes something other than an object.
    #[error("the input schema's root must be an object schema (\"type\": \"object\")")]
    RootNotObject,
    /// The input schema does not compile.
    #[error("the input schema is not a valid JSON Schema: {0}")]
    Invalid(String),
    /// An `x-mcp-header` annotation (SEP-2243) breaks a rule; clients would drop the tool.
    #[error("the input schema's {0}")]
    ParamHeader(String),
}

/// A tool as served: the plugin's declaration, its exposed name, its parsed schemas and the
/// compiled validator of its input schema.
pub struct ToolDefinition {
    /// The name clients call (`<prefix>_<name>`).
    pub exposed: String,
    /// The plugin's own declaration.
    pub tool: types::Tool,
    /// The input schema, parsed.
    pub input_schema: Arc<JsonObject>,
    /// The output schema, parsed, if the tool has one.
    pub output_schema: Option<Arc<JsonObject>>,
    /// Validates arguments before the plugin runs.
    pub validator: Arc<jsonschema::Validator>,
}

impl ToolDefinition {
    /// Checks and compiles the schemas of `tool`, exposed as `exposed`.
    pub fn new(exposed: String, tool: types::Tool) -> Result<Self, SchemaError> {
        let input = schema_object(&tool.input_schema, "input schema")?;
        if input.get("type").is_some_and(|t| t != "object") {
            return Err(SchemaError::RootNotObject);
        }
        param_headers::check(&input).map_err(SchemaError::ParamHeader)?;
        let validator = jsonschema::validator_for(&Value::Object(input.clone()))
            .map_err(|error| SchemaError::Invalid(error.to_string()))?;
        let output_schema = match &tool.output_schema {
            Some(text) => Some(Arc::new(schema_object(text, "output schema")?)),
            None => None,
        };
        Ok(Self {
            exposed,
            input_schema: Arc::new(input),
            output_schema,
            validator: Arc::new(validator),
            tool,
        })
    }

    /// The plugin's own name for the tool.
    pub fn name(&self) -> &str {
        &self.tool.name
    }

    /// Why `arguments` do not satisfy the input schema, one line per problem naming the field
    /// (`argument `a.b`: ...`, or `arguments: ...` for the whole object), at most `limit`;
    /// empty when they do.
    pub fn argument_problems(&self, arguments: &Value, limit: usize) -> Vec<String> {
        self.validator
            .iter_errors(arguments)
            .take(limit)
            .map(|error| {
                let path = error.instance_path().to_string();
                let field = match path.is_empty() {
                    true => "arguments".to_owned(),
                    false => format!(
                        "argument `{}`",
                        path.trim_start_matches('/').replace('/', ".")
                    ),
                };
                format!("{field}: {error}")
            })
            .collect()
    }

    /// True when clients would see the same tool: name, title, description, schemas (as JSON,
    /// not as text) and hints.
    pub fn same_as(&self, other: &Self) -> bool {
        let (a, b) = (&self.tool.annotations, &other.tool.annotations);
        self.exposed == other.exposed
            && self.tool.title == other.tool.title
            && self.tool.description == other.tool.description
            && self.input_schema == other.input_schema
            && self.output_schema == other.output_schema
            && (a.read_only, a.destructive, a.idempotent, a.open_world)
                == (b.read_only, b.destructive, b.idempotent, b.open_world)
    }
}

/// A prompt as served: the plugin's declaration and its exposed name.
pub struct PromptDefinition {
    /// The name clients ask for.
    pub exposed: String,
    /// The plugin's own declaration.
    pub prompt: types::Prompt,
}

impl PromptDefinition {
    /// The plugin's own name for the prompt.
    pub fn name(&self) -> &str {
        &self.prompt.name
    }

    /// True when clients would see the same prompt: name, title, description, arguments.
    pub fn same_as(&self, other: &Self) -> bool {
        let (a, b) = (&self.prompt, &other.prompt);
        self.exposed == other.exposed
            && a.title == b.title
            && a.description == b.description
            && a.arguments.len() == b.arguments.len()
            && a.arguments.iter().zip(&b.arguments).all(|(x, y)| {
                x.name == y.name && x.description == y.description && x.required == y.required
            })
    }
}

fn schema_object(text: &str, what: &'static str) -> Result<JsonObject, SchemaError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(SchemaError::NotObject { what }),
        Err(error) => Err(SchemaError::NotJson {
            what,
            error: Arc::new(error),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(input: &str, output: Option<&str>) -> types::Tool {
        types::Tool {
            name: "t".into(),
            title: None,
            description: "d".into(),
            input_schema: input.into(),
            output_schema: output.map(str::to_owned),
            annotations: types::Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: true,
            },
            task_support: types::TaskSupport::Forbidden,
        }
    }

    #[test]
    fn schema_problems_are_named() {
        let error = |input: &str, output: Option<&str>| {
            ToolDefinition::new("p_t".into(), tool(input, output))
                .err()
                .unwrap()
                .to_string()
        };
        assert!(error("{", None).starts_with("the input schema is not JSON"));
        assert_eq!(error("[]", None), "the input schema must be a JSON object");
        assert!(error(r#"{"type":"string"}"#, None).contains("root must be an object"));
        assert!(
            error(r#"{"type":"object","properties":7}"#, None).contains("not a valid JSON Schema")
        );
        assert_eq!(
            error("{}", Some("1")),
            "the output schema must be a JSON object"
        );
        assert_eq!(
            error(
                r#"{"type":"object","properties":{"tags":{"type":"array","x-mcp-header":"Tags"}}}"#,
                None
            ),
            "the input schema's property `tags`: x-mcp-header needs a property of type string, integer or boolean"
        );
    }

    #[test]
    fn argument_problems_name_the_field() {
        let input = r#"{"type":"object","properties":{"app":{"type":"object","properties":{"name":{"type":"string"}}}},"required":["app"]}"#;
        let definition = ToolDefinition::new("p_t".into(), tool(input, None)).unwrap();
        assert!(
            definition
                .argument_problems(&serde_json::json!({"app": {"name": "a"}}), 8)
                .is_empty()
        );
        let problems = definition.argument_problems(&serde_json::json!({"app": {"name": 7}}), 8);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("argument `app.name`: "),
            "{problems:?}"
        );
        let problems = definition.argument_problems(&serde_json::json!({}), 8);
        assert!(problems[0].starts_with("arguments: "), "{problems:?}");
    }

    #[test]
    fn schemas_compare_as_json_not_as_text() {
        let a = ToolDefinition::new("p_t".into(), tool(r#"{"type":"object"}"#, None)).unwrap();
        let b = ToolDefinition::new("p_t".into(), tool("{ \"type\" : \"object\" }", None)).unwrap();
        assert!(a.same_as(&b));
        let mut changed = tool(r#"{"type":"object"}"#, None);
        changed.annotations.read_only = false;
        let c = ToolDefinition::new("p_t".into(), changed).unwrap();
        assert!(!a.same_as(&c));
    }
}
