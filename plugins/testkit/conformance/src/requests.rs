//! Requests to the client in a 2025-11-25 session (`tools-call-sampling`,
//! `tools-call-elicitation`, `elicitation-sep1034-defaults`, `elicitation-sep1330-enums`).
//!
//! Written like every other question with [`Context::ask`]: on a 2025-11-25 session the host
//! sends `sampling/createMessage` or `elicitation/create` to the client itself and calls the
//! tool again with the answer. Texts follow the suite's reference server.

use capstan_sdk::{Context, Input, InputKind, Tool, ToolError, ToolResult, Toolbox, Value, json};

use crate::{DIALECT, fixture};

/// Adds the tools that send requests to the client to `toolbox`.
pub fn tools(toolbox: Toolbox) -> Toolbox {
    toolbox
        .tool("test_sampling", sampling_tool, sampling)
        .tool("test_elicitation", elicitation_tool, elicitation)
        .tool("test_elicitation_sep1034_defaults", defaults_tool, defaults)
        .tool("test_elicitation_sep1330_enums", enums_tool, enums)
}

/// An object schema with one required string argument `name`, described by `description`.
fn one_string(name: &str, description: &str) -> Value {
    json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": { name: {"type": "string", "description": description} },
        "required": [name],
        "additionalProperties": false,
    })
}

/// The key every tool here asks under.
const KEY: &str = "answer";

/// `Elicitation completed: action=..., content={...}` (or `User response: ...` with that
/// `prefix`), from the raw elicitation result.
fn elicitation_result(prefix: &str, answer: Option<&Value>) -> ToolResult {
    let action = answer
        .and_then(|a| a.get("action"))
        .and_then(Value::as_str)
        .unwrap_or("cancel");
    let content = answer
        .and_then(|a| a.get("content"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    ToolResult::text(format!("{prefix}: action={action}, content={content}"))
}

/// A tool error saying the client cannot answer `kind`, for a client that did not declare it.
fn unsupported(what: &str, capability: &str) -> ToolResult {
    ToolResult::error(format!(
        "{what} not supported: the client did not declare the `{capability}` capability, so \
         this tool cannot ask it"
    ))
}

// test_sampling

fn sampling_tool() -> Tool {
    Tool::new(
        "test_sampling",
        "Conformance fixture: asks the client's model to answer `prompt` \
         (sampling/createMessage, 100 tokens) and answers `LLM response: <text>`.",
    )
    .title("Sampling")
    .input(one_string("prompt", "The prompt to send to the LLM"))
    .read_only()
    .open_world(false)
}

fn sampling(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    if !ctx.can_answer(InputKind::Sampling) {
        return Ok(unsupported("Sampling", "sampling"));
    }
    let prompt = arguments["prompt"].as_str().unwrap_or_default();
    let answers = ctx.ask(Input::new().sample(KEY, prompt, 100))?;
    let text = answers.sampled_text(KEY).unwrap_or("No response");
    Ok(ToolResult::text(format!("LLM response: {text}")))
}

// test_elicitation

fn elicitation_tool() -> Tool {
    Tool::new(
        "test_elicitation",
        "Conformance fixture: asks the person `message` with a form (username and email, \
         elicitation/create) and answers with their response.",
    )
    .title("Elicitation")
    .input(one_string("message", "The message to show the user"))
    .read_only()
    .open_world(false)
}

fn elicitation(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    if !ctx.can_answer(InputKind::Elicitation) {
        return Ok(unsupported("Elicitation", "elicitation"));
    }
    let message = arguments["message"].as_str().unwrap_or_default();
    let schema = json!({
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"}
        },
        "required": ["username", "email"]
    });
    let answers = ctx.ask(Input::new().elicit(KEY, message, schema))?;
    Ok(elicitation_result("User response", answers.get(KEY)))
}

// test_elicitation_sep1034_defaults

fn defaults_tool() -> Tool {
    fixture(
        "test_elicitation_sep1034_defaults",
        "Elicitation with defaults",
        "Conformance fixture (SEP-1034): asks the person a form whose string, integer, number, \
         enum and boolean fields all have defaults, and answers with their response.",
    )
}

fn defaults(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    if !ctx.can_answer(InputKind::Elicitation) {
        return Ok(unsupported("Elicitation", "elicitation"));
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active"
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": true}
        },
        "required": []
    });
    let message = "Please review and update the form fields with defaults";
    let answers = ctx.ask(Input::new().elicit(KEY, message, schema))?;
    Ok(elicitation_result(
        "Elicitation completed",
        answers.get(KEY),
    ))
}

// test_elicitation_sep1330_enums

fn enums_tool() -> Tool {
    fixture(
        "test_elicitation_sep1330_enums",
        "Elicitation with enums",
        "Conformance fixture (SEP-1330): asks the person a form with the five enum variants \
         (untitled and titled single-select, legacy enumNames, untitled and titled \
         multi-select), and answers with their response.",
    )
}

/// Three `{const, title}` choices named `value1`..`value3` and `<Ordinal> <noun>`.
fn titled(noun: &str) -> Value {
    json!([
        {"const": "value1", "title": format!("First {noun}")},
        {"const": "value2", "title": format!("Second {noun}")},
        {"const": "value3", "title": format!("Third {noun}")}
    ])
}

fn enums(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    if !ctx.can_answer(InputKind::Elicitation) {
        return Ok(unsupported("Elicitation", "elicitation"));
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"]
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": titled("Option")
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"]
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]}
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": {"anyOf": titled("Choice")}
            }
        },
        "required": []
    });
    let message = "Please select options from the enum fields";
    let answers = ctx.ask(Input::new().elicit(KEY, message, schema))?;
    Ok(elicitation_result(
        "Elicitation completed",
        answers.get(KEY),
    ))
}

#[cfg(test)]
mod tests {
    use capstan_sdk::fixture::Fixture;
    use capstan_sdk::{Content, Round};

    use super::*;

    fn text(result: &ToolResult) -> &str {
        match &result.content()[0] {
            Content::Text(text) => text,
            other => panic!("not text: {other:?}"),
        }
    }

    /// The request `handler` sends first, for a client that can answer `kind`.
    fn first_request(
        handler: fn(&Context, &Value) -> Result<ToolResult, ToolError>,
        kind: InputKind,
        arguments: Value,
    ) -> Value {
        let ctx = Fixture::new().client_answers(&[kind]).context();
        let error = handler(&ctx, &arguments).unwrap_err();
        let request = &error.input_required_by().unwrap().requests()[0];
        assert_eq!(request.kind, kind);
        request.params.clone()
    }

    /// `handler`'s answer once the client answered `answer`.
    fn answered(
        handler: fn(&Context, &Value) -> Result<ToolResult, ToolError>,
        kind: InputKind,
        arguments: Value,
        answer: Value,
    ) -> ToolResult {
        let round = Round::new([(KEY.to_owned(), answer)], None);
        let ctx = Fixture::new()
            .client_answers(&[kind])
            .context()
            .with_round(round);
        handler(&ctx, &arguments).unwrap()
    }

    #[test]
    fn sampling_sends_the_prompt_and_quotes_the_model() {
        let arguments = json!({"prompt": "Test prompt for sampling"});
        let params = first_request(sampling, InputKind::Sampling, arguments.clone());
        assert_eq!(
            params["messages"][0]["content"]["text"],
            "Test prompt for sampling"
        );
        assert_eq!(params["maxTokens"], 100);
        let reply = json!({"role": "assistant", "model": "m", "stopReason": "endTurn",
                           "content": {"type": "text", "text": "This is a test response"}});
        let result = answered(sampling, InputKind::Sampling, arguments, reply);
        assert_eq!(text(&result), "LLM response: This is a test response");
    }

    #[test]
    fn without_the_capability_the_tools_fail_instead_of_asking() {
        let ctx = Fixture::new().context();
        let result = sampling(&ctx, &json!({"prompt": "x"})).unwrap();
        assert!(result.is_error());
        assert!(enums(&ctx, &json!({})).unwrap().is_error());
    }

    #[test]
    fn elicitation_asks_the_message_and_reports_the_response() {
        let arguments = json!({"message": "Please provide your information"});
        let params = first_request(elicitation, InputKind::Elicitation, arguments.clone());
        assert_eq!(params["message"], "Please provide your information");
        assert_eq!(
            params["requestedSchema"]["required"],
            json!(["username", "email"])
        );
        let reply = json!({"action": "accept", "content": {"username": "u", "email": "e"}});
        let result = answered(elicitation, InputKind::Elicitation, arguments, reply);
        assert_eq!(
            text(&result),
            r#"User response: action=accept, content={"email":"e","username":"u"}"#
        );
    }

    #[test]
    fn the_defaults_form_has_every_default() {
        let params = first_request(defaults, InputKind::Elicitation, json!({}));
        let fields = &params["requestedSchema"]["properties"];
        assert_eq!(fields["name"]["default"], "John Doe");
        assert_eq!(fields["age"]["type"], "integer");
        assert_eq!(fields["age"]["default"], 30);
        assert_eq!(fields["score"]["default"], 95.5);
        assert_eq!(fields["status"]["default"], "active");
        assert_eq!(fields["verified"]["default"], true);
        let declined = answered(
            defaults,
            InputKind::Elicitation,
            json!({}),
            json!({"action": "decline"}),
        );
        assert_eq!(
            text(&declined),
            "Elicitation completed: action=decline, content={}"
        );
    }

    #[test]
    fn the_enums_form_has_the_five_variants() {
        let params = first_request(enums, InputKind::Elicitation, json!({}));
        let fields = &params["requestedSchema"]["properties"];
        assert!(fields["untitledSingle"]["enum"].is_array());
        assert_eq!(fields["titledSingle"]["oneOf"][0]["title"], "First Option");
        assert_eq!(
            fields["legacyEnum"]["enumNames"].as_array().unwrap().len(),
            3
        );
        assert_eq!(fields["untitledMulti"]["items"]["type"], "string");
        assert_eq!(
            fields["titledMulti"]["items"]["anyOf"][2]["title"],
            "Third Choice"
        );
    }
}
