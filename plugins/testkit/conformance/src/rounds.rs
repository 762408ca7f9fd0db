//! Multi round-trip input (SEP-2322, the 2026-07-28 `input-required-result-*` scenarios and
//! the diagnostics of `server-stateless`): tools and a prompt that ask the client with
//! [`Context::ask`] and answer once the client's answers come back.
//!
//! Keys, messages and schemas are those of the scenario descriptions. The host turns the
//! questions into an `input_required` result (or, on a 2025-11-25 session, into requests to
//! the client), seals the state and calls again with the answers.

use capstan_sdk::{
    Answers, Content, Context, Input, InputKind, PromptMessage, PromptResult, Tool, ToolError,
    ToolResult, Toolbox, Value, json,
};

use crate::fixture;

/// The state `test_input_required_result_request_state` sets and checks when it comes back.
const REQUEST_STATE: &str = r#"{"kind":"request-state"}"#;

/// The state `test_input_required_result_multiple_inputs` sets.
const MULTIPLE_INPUTS_STATE: &str = r#"{"kind":"multiple-inputs"}"#;

/// The state `test_input_required_result_tampered_state` sets (the host rejects it altered).
const TAMPER_STATE: &str = r#"{"kind":"tamper-test"}"#;

/// Adds the input-required tools to `toolbox`.
pub fn tools(toolbox: Toolbox) -> Toolbox {
    toolbox
        .tool(
            "test_input_required_result_elicitation",
            elicitation_tool,
            elicitation,
        )
        .tool(
            "test_input_required_result_sampling",
            sampling_tool,
            sampling,
        )
        .tool(
            "test_input_required_result_list_roots",
            list_roots_tool,
            list_roots,
        )
        .tool(
            "test_input_required_result_request_state",
            request_state_tool,
            request_state,
        )
        .tool(
            "test_input_required_result_multiple_inputs",
            multiple_inputs_tool,
            multiple_inputs,
        )
        .tool(
            "test_input_required_result_multi_round",
            multi_round_tool,
            multi_round,
        )
        .tool(
            "test_input_required_result_tampered_state",
            tampered_state_tool,
            tampered_state,
        )
        .tool(
            "test_input_required_result_capabilities",
            capabilities_tool,
            capabilities,
        )
        .tool(
            "test_missing_capability",
            missing_capability_tool,
            missing_capability,
        )
        .tool(
            "test_streaming_elicitation",
            streaming_elicitation_tool,
            streaming_elicitation,
        )
}

/// A flat elicitation form: these properties, all required.
fn form(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// A form with one required string field.
fn string_form(field: &str) -> Value {
    form(json!({ field: {"type": "string"} }), &[field])
}

/// The form `confirm` asks with: one required boolean `ok`.
fn confirm_form() -> Value {
    form(json!({"ok": {"type": "boolean"}}), &["ok"])
}

/// The string `field` of the form the person accepted for `key`.
fn accepted_text<'a>(answers: &Answers<'a>, key: &str, field: &str) -> Option<&'a str> {
    answers
        .accepted(key)
        .and_then(|form| form.get(field))
        .and_then(Value::as_str)
}

// test_input_required_result_elicitation (also input-required-result-result-type,
// -missing-input-response, -ignore-extra-params and -validate-input).

fn elicitation_tool() -> Tool {
    fixture(
        "test_input_required_result_elicitation",
        "Input required: elicitation",
        "Conformance fixture (SEP-2322): asks the person their name (`user_name`), then answers \
         `Hello, <name>!`.",
    )
}

fn elicitation(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let answers =
        ctx.ask(Input::new().elicit("user_name", "What is your name?", string_form("name")))?;
    Ok(match accepted_text(&answers, "user_name", "name") {
        Some(name) => ToolResult::text(format!("Hello, {name}!")),
        None => ToolResult::text("Hello, stranger! (the name was not given)"),
    })
}

// test_input_required_result_sampling

fn sampling_tool() -> Tool {
    fixture(
        "test_input_required_result_sampling",
        "Input required: sampling",
        "Conformance fixture (SEP-2322): asks the client's model the capital of France \
         (`capital_question`), then answers with the model's text.",
    )
}

fn sampling(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let answers =
        ctx.ask(Input::new().sample("capital_question", "What is the capital of France?", 100))?;
    let text = answers
        .sampled_text("capital_question")
        .unwrap_or("no response");
    Ok(ToolResult::text(format!("Sampling result: {text}")))
}

// test_input_required_result_list_roots

fn list_roots_tool() -> Tool {
    fixture(
        "test_input_required_result_list_roots",
        "Input required: roots",
        "Conformance fixture (SEP-2322): asks the client for its roots (`client_roots`), then \
         lists them.",
    )
}

fn list_roots(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let answers = ctx.ask(Input::new().roots("client_roots"))?;
    let roots = answers.root_uris("client_roots");
    Ok(ToolResult::text(format!(
        "Found {} root(s): {}",
        roots.len(),
        roots.join(", ")
    )))
}

// test_input_required_result_request_state

fn request_state_tool() -> Tool {
    fixture(
        "test_input_required_result_request_state",
        "Input required: request state",
        "Conformance fixture (SEP-2322): asks for a confirmation with a request state, and \
         answers `state-ok` once the state came back unchanged with the answer.",
    )
}

fn request_state(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let input = Input::new()
        .elicit("confirm", "Please confirm", confirm_form())
        .state(REQUEST_STATE);
    let answers = ctx.ask(input.clone())?;
    if answers.state() != Some(REQUEST_STATE) {
        // The answer came without this tool's state: ask again, with it.
        return Err(ToolError::input_required(input));
    }
    let confirmed = answers
        .accepted("confirm")
        .and_then(|form| form.get("ok"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ToolResult::text(format!(
        "state-ok: requestState validated (confirmed: {confirmed})"
    )))
}

// test_input_required_result_multiple_inputs

fn multiple_inputs_tool() -> Tool {
    fixture(
        "test_input_required_result_multiple_inputs",
        "Input required: multiple inputs",
        "Conformance fixture (SEP-2322): asks at once for a name (elicitation), a greeting \
         (sampling) and the client's roots, then answers with all three.",
    )
}

fn multiple_inputs(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let input = Input::new()
        .elicit("user_name", "What is your name?", string_form("name"))
        .sample("greeting", "Generate a greeting", 50)
        .roots("client_roots")
        .state(MULTIPLE_INPUTS_STATE);
    let answers = ctx.ask(input)?;
    let name = accepted_text(&answers, "user_name", "name").unwrap_or("stranger");
    let greeting = answers.sampled_text("greeting").unwrap_or("Hello there!");
    let roots = answers.root_uris("client_roots").len();
    Ok(ToolResult::text(format!(
        "Name: {name}; Greeting: {greeting}; Roots: {roots}"
    )))
}

// test_input_required_result_multi_round

fn multi_round_tool() -> Tool {
    fixture(
        "test_input_required_result_multi_round",
        "Input required: multi-round",
        "Conformance fixture (SEP-2322): asks a name (`step1`), then, in a second round with a \
         new state, a favourite colour (`step2`), then answers with both.",
    )
}

/// The state of the round `multi_round` is in: `{"round": 1}` after asking `step1`,
/// `{"round": 2, "name": ...}` after asking `step2`.
fn multi_round_state(ctx: &Context) -> Value {
    ctx.round()
        .and_then(|round| round.state())
        .and_then(|state| serde_json::from_str(state).ok())
        .unwrap_or(Value::Null)
}

fn multi_round(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let state = multi_round_state(ctx);
    let name = match (state["round"].as_u64(), state["name"].as_str()) {
        (Some(2), Some(name)) => name.to_owned(),
        _ => {
            let step1 = Input::new()
                .elicit("step1", "Step 1: What is your name?", string_form("name"))
                .state(json!({"round": 1}).to_string());
            let answers = ctx.ask(step1)?;
            accepted_text(&answers, "step1", "name")
                .unwrap_or("stranger")
                .to_owned()
        }
    };
    let step2 = Input::new()
        .elicit(
            "step2",
            "Step 2: What is your favorite color?",
            string_form("color"),
        )
        .state(json!({"round": 2, "name": name}).to_string());
    let answers = ctx.ask(step2)?;
    let color = accepted_text(&answers, "step2", "color").unwrap_or("no colour");
    Ok(ToolResult::text(format!(
        "Multi-round complete for {name} who likes {color}"
    )))
}

// test_input_required_result_tampered_state

fn tampered_state_tool() -> Tool {
    fixture(
        "test_input_required_result_tampered_state",
        "Input required: tampered state",
        "Conformance fixture (SEP-2322): asks for a confirmation with a request state; the host \
         rejects the next round when the state was altered.",
    )
}

fn tampered_state(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let input = Input::new()
        .elicit("confirm", "Please confirm", confirm_form())
        .state(TAMPER_STATE);
    let answers = ctx.ask(input.clone())?;
    if answers.state() != Some(TAMPER_STATE) {
        return Err(ToolError::input_required(input));
    }
    Ok(ToolResult::text("integrity-ok: state verified"))
}

// test_input_required_result_capabilities

fn capabilities_tool() -> Tool {
    fixture(
        "test_input_required_result_capabilities",
        "Input required: client capabilities",
        "Conformance fixture (SEP-2322): asks only for what the client declared it can answer \
         (elicitation, sampling, roots), then lists the answers it got.",
    )
}

/// The keys `capabilities` asks, in order, with what each needs of the client.
const CAPABILITY_KEYS: [(&str, InputKind); 3] = [
    ("elicit_input", InputKind::Elicitation),
    ("sample_input", InputKind::Sampling),
    ("roots_input", InputKind::Roots),
];

fn capabilities(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let mut input = Input::new();
    for (key, kind) in CAPABILITY_KEYS {
        if !ctx.can_answer(kind) {
            continue;
        }
        input = match kind {
            InputKind::Elicitation => input.elicit(key, "Elicitation input", string_form("value")),
            InputKind::Sampling => input.sample(key, "Sample request", 50),
            InputKind::Roots => input.roots(key),
        };
    }
    if input.requests().is_empty() {
        return Ok(ToolResult::text("No supported capabilities declared"));
    }
    let keys: Vec<String> = input.requests().iter().map(|r| r.key.clone()).collect();
    ctx.ask(input)?;
    Ok(ToolResult::text(format!(
        "capabilities-ok: received {}",
        keys.join(",")
    )))
}

// test_missing_capability (server-stateless)

fn missing_capability_tool() -> Tool {
    fixture(
        "test_missing_capability",
        "Missing capability",
        "Conformance fixture (SEP-2575): needs the client's sampling capability. It asks the \
         client's model for a word; a client that did not declare sampling is refused by the \
         host with MissingRequiredClientCapability (-32021).",
    )
}

fn missing_capability(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    // Asked even when the client cannot answer: the host, which knows the kind asked for,
    // refuses such a round with -32021 naming `sampling`, as the scenario requires.
    let answers = ctx.ask(Input::new().sample("sample", "Say one word.", 10))?;
    let text = answers.sampled_text("sample").unwrap_or("no response");
    Ok(ToolResult::text(format!(
        "Success: sampling answered {text}"
    )))
}

// test_streaming_elicitation (server-stateless)

fn streaming_elicitation_tool() -> Tool {
    fixture(
        "test_streaming_elicitation",
        "Streaming elicitation",
        "Conformance fixture (SEP-2575): reports progress, then asks the person a question \
         (when the client can answer one) as an input-required result, never as a request of \
         its own on the response stream.",
    )
}

fn streaming_elicitation(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    ctx.progress(50.0, Some(100.0), Some("Streaming"));
    if !ctx.can_answer(InputKind::Elicitation) {
        return Ok(ToolResult::text("Streaming complete"));
    }
    let answers = ctx.ask(Input::new().elicit(
        "stream_input",
        "Anything to add before the stream completes?",
        form(json!({"note": {"type": "string"}}), &[]),
    ))?;
    let note = accepted_text(&answers, "stream_input", "note").unwrap_or("nothing");
    Ok(ToolResult::text(format!("Streaming complete: {note}")))
}

// test_input_required_result_prompt (input-required-result-non-tool-request)

/// Renders `test_input_required_result_prompt`: asks for the context first.
pub fn context_prompt(ctx: &Context) -> Result<PromptResult, ToolError> {
    let answers = ctx.ask(Input::new().elicit(
        "user_context",
        "What context should the prompt use?",
        string_form("context"),
    ))?;
    let context = accepted_text(&answers, "user_context", "context").unwrap_or("none given");
    Ok(PromptResult {
        description: None,
        messages: vec![PromptMessage::user(Content::Text(format!(
            "Prompt with context: {context}"
        )))],
    })
}

#[cfg(test)]
mod tests {
    use capstan_sdk::Round;
    use capstan_sdk::fixture::Fixture;

    use super::*;

    /// Every kind of answer.
    const ALL: [InputKind; 3] = [
        InputKind::Elicitation,
        InputKind::Sampling,
        InputKind::Roots,
    ];

    fn accept(content: Value) -> Value {
        json!({"action": "accept", "content": content})
    }

    fn sampled(text: &str) -> Value {
        json!({"role": "assistant", "content": {"type": "text", "text": text},
               "model": "test-model", "stopReason": "endTurn"})
    }

    fn roots() -> Value {
        json!({"roots": [{"uri": "file:///test/root", "name": "Test Root"}]})
    }

    /// Runs `handler` with `answers` (by key) and `state`, as the host does in a later round.
    fn round(
        handler: fn(&Context, &Value) -> Result<ToolResult, ToolError>,
        answers: &[(&str, Value)],
        state: Option<&str>,
    ) -> Result<ToolResult, ToolError> {
        let responses = answers.iter().map(|(k, v)| ((*k).to_owned(), v.clone()));
        let ctx = Fixture::new()
            .client_answers(&ALL)
            .context()
            .with_round(Round::new(responses, state));
        handler(&ctx, &json!({}))
    }

    /// The first round of `handler`: the questions it asks.
    fn asked(handler: fn(&Context, &Value) -> Result<ToolResult, ToolError>) -> Input {
        let ctx = Fixture::new().client_answers(&ALL).context();
        let error = handler(&ctx, &json!({})).unwrap_err();
        error.input_required_by().expect("questions").clone()
    }

    fn keys(input: &Input) -> Vec<&str> {
        input.requests().iter().map(|r| r.key.as_str()).collect()
    }

    fn text(result: &ToolResult) -> &str {
        match &result.content()[0] {
            Content::Text(text) => text,
            other => panic!("not text: {other:?}"),
        }
    }

    #[test]
    fn elicitation_asks_the_name_then_greets() {
        let input = asked(elicitation);
        assert_eq!(keys(&input), ["user_name"]);
        assert_eq!(input.requests()[0].params["message"], "What is your name?");
        let done = round(
            elicitation,
            &[("user_name", accept(json!({"name": "Alice"})))],
            None,
        );
        assert_eq!(text(&done.unwrap()), "Hello, Alice!");
    }

    #[test]
    fn a_wrong_or_invalid_answer_is_asked_again() {
        let wrong = round(
            elicitation,
            &[("wrong_key", accept(json!({"data": "x"})))],
            None,
        );
        assert_eq!(
            keys(wrong.unwrap_err().input_required_by().unwrap()),
            ["user_name"]
        );
        let invalid = round(elicitation, &[("user_name", json!(12345))], None);
        assert!(invalid.unwrap_err().input_required_by().is_some());
        let extra = round(
            elicitation,
            &[
                ("user_name", accept(json!({"name": "Alice"}))),
                ("unknown_extra_key", accept(json!({"foo": "bar"}))),
            ],
            None,
        );
        assert_eq!(text(&extra.unwrap()), "Hello, Alice!");
    }

    #[test]
    fn sampling_and_roots_answer_with_what_came_back() {
        assert_eq!(keys(&asked(sampling)), ["capital_question"]);
        let done = round(sampling, &[("capital_question", sampled("Paris."))], None);
        assert_eq!(text(&done.unwrap()), "Sampling result: Paris.");
        assert_eq!(keys(&asked(list_roots)), ["client_roots"]);
        let done = round(list_roots, &[("client_roots", roots())], None);
        assert_eq!(text(&done.unwrap()), "Found 1 root(s): file:///test/root");
    }

    #[test]
    fn request_state_is_ok_only_with_its_state() {
        let input = asked(request_state);
        assert_eq!(input.next_state(), Some(REQUEST_STATE));
        let ok = [("confirm", accept(json!({"ok": true})))];
        let done = round(request_state, &ok, Some(REQUEST_STATE)).unwrap();
        assert!(text(&done).contains("state-ok"));
        let stateless = round(request_state, &ok, None).unwrap_err();
        assert_eq!(
            stateless.input_required_by().unwrap().next_state(),
            Some(REQUEST_STATE)
        );
    }

    #[test]
    fn multiple_inputs_asks_three_kinds_with_a_state() {
        let input = asked(multiple_inputs);
        assert_eq!(keys(&input), ["user_name", "greeting", "client_roots"]);
        assert!(input.next_state().is_some());
        let all = [
            ("user_name", accept(json!({"name": "Alice"}))),
            ("greeting", sampled("Hello there!")),
            ("client_roots", roots()),
        ];
        let done = round(multiple_inputs, &all, input.next_state()).unwrap();
        assert_eq!(text(&done), "Name: Alice; Greeting: Hello there!; Roots: 1");
    }

    #[test]
    fn multi_round_moves_on_with_a_new_state() {
        let first = asked(multi_round);
        assert_eq!(keys(&first), ["step1"]);
        let r2 = round(
            multi_round,
            &[("step1", accept(json!({"name": "Alice"})))],
            first.next_state(),
        );
        let second = r2.unwrap_err().input_required_by().unwrap().clone();
        assert_eq!(keys(&second), ["step2"]);
        assert_ne!(second.next_state(), first.next_state());
        // The last round brings only step2's answer: the name comes from the state.
        let r3 = round(
            multi_round,
            &[("step2", accept(json!({"color": "blue"})))],
            second.next_state(),
        );
        assert_eq!(
            text(&r3.unwrap()),
            "Multi-round complete for Alice who likes blue"
        );
    }

    #[test]
    fn tampered_state_asks_with_a_state() {
        let input = asked(tampered_state);
        assert_eq!(input.next_state(), Some(TAMPER_STATE));
        let done = round(
            tampered_state,
            &[("confirm", accept(json!({"ok": true})))],
            Some(TAMPER_STATE),
        );
        assert_eq!(text(&done.unwrap()), "integrity-ok: state verified");
    }

    #[test]
    fn capabilities_asks_only_what_the_client_can_answer() {
        let ctx = Fixture::new()
            .client_answers(&[InputKind::Sampling])
            .context();
        let error = capabilities(&ctx, &json!({})).unwrap_err();
        let input = error.input_required_by().unwrap();
        assert_eq!(keys(input), ["sample_input"]);
        assert_eq!(input.requests()[0].kind, InputKind::Sampling);
        let none = capabilities(&Fixture::new().context(), &json!({})).unwrap();
        assert_eq!(text(&none), "No supported capabilities declared");
    }

    #[test]
    fn missing_capability_asks_for_sampling_even_without_it() {
        let error = missing_capability(&Fixture::new().context(), &json!({})).unwrap_err();
        let input = error
            .input_required_by()
            .expect("a question for the host to refuse");
        assert_eq!(input.requests()[0].kind, InputKind::Sampling);
    }

    #[test]
    fn streaming_elicitation_asks_only_a_client_that_can_answer() {
        assert_eq!(keys(&asked(streaming_elicitation)), ["stream_input"]);
        let fixture = Fixture::new();
        let done = streaming_elicitation(&fixture.context(), &json!({})).unwrap();
        assert_eq!(text(&done), "Streaming complete");
        assert_eq!(fixture.progress().len(), 1);
    }

    #[test]
    fn the_prompt_asks_for_its_context_first() {
        let ctx = Fixture::new().client_answers(&ALL).context();
        let error = context_prompt(&ctx).unwrap_err();
        assert_eq!(keys(error.input_required_by().unwrap()), ["user_context"]);
        let answered = Round::new(
            [(
                "user_context".to_owned(),
                accept(json!({"context": "test context"})),
            )],
            None,
        );
        let rendered = context_prompt(&ctx.with_round(answered)).unwrap();
        match &rendered.messages[0].content {
            Content::Text(text) => assert_eq!(text, "Prompt with context: test context"),
            other => panic!("not text: {other:?}"),
        }
    }
}
