//! Input and tasks together (the Tasks extension scenarios `tasks-mrtr-input`,
//! `tasks-dispatch-and-envelope` and `tasks-mrtr-composition`).
//!
//! - `confirm_delete` and `multi_input` work for a second (longer than any immediate-result
//!   window, like `failing_job`) and then ask, so the question comes from inside their task:
//!   the host parks the task as `input_required` and calls again once `tasks/update` brought
//!   the answers.
//! - `test_tool_with_task` asks at once, before any task exists, and works for a second once
//!   answered, so the host answers the first round synchronously and runs the second as a task.

use std::time::Duration;

use capstan_sdk::{
    Context, Input, Map, TaskSupport, Tool, ToolError, ToolResult, Toolbox, Value, json,
};

use crate::{DIALECT, no_arguments};

/// How long `confirm_delete` and `multi_input` work before they ask, and
/// `test_tool_with_task` after it was answered.
const WORK: Duration = Duration::from_secs(1);

/// The keys `multi_input` asks at once.
const MULTI_KEYS: [&str; 2] = ["first", "second"];

/// Adds the task tools that ask for input to `toolbox`.
pub fn tools(toolbox: Toolbox) -> Toolbox {
    toolbox
        .tool("confirm_delete", confirm_delete_tool, confirm_delete)
        .tool("multi_input", multi_input_tool, multi_input)
        .tool("test_tool_with_task", tool_with_task_tool, tool_with_task)
}

/// Works for [`WORK`], reporting `what` as progress.
fn work(ctx: &Context, what: &str) {
    ctx.progress(0.0, Some(1.0), Some(what));
    ctx.sleep(WORK);
    ctx.progress(1.0, Some(1.0), Some(what));
}

/// A form with these optional fields.
fn form(properties: Value) -> Value {
    json!({"type": "object", "properties": properties})
}

// confirm_delete

fn confirm_delete_tool() -> Tool {
    Tool::new(
        "confirm_delete",
        "Conformance fixture: checks `filename` (default `example.txt`) for a second, then asks \
         the person to confirm its deletion (elicitation) and reports the decision. Deletes \
         nothing. Runs as a task for clients with the Tasks extension.",
    )
    .title("Confirm delete")
    // `filename` is optional: capstan lists tools by name, so this is the first tool, which
    // the SEP-2243 header scenarios call with no arguments and expect to be accepted.
    .input(json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": {"filename": {"type": "string"}},
        "additionalProperties": false,
    }))
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

fn confirm_delete(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let filename = arguments["filename"].as_str().unwrap_or("example.txt");
    work(ctx, &format!("checking {filename}"));
    let answers = ctx.ask(Input::new().elicit(
        "confirm",
        &format!("Delete {filename}?"),
        form(json!({"confirm": {"type": "boolean", "description": "Delete the file"}})),
    ))?;
    let confirmed = answers
        .accepted("confirm")
        .and_then(|content| content.get("confirm"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ToolResult::text(if confirmed {
        format!("Deletion of {filename} confirmed (a fixture: nothing was deleted)")
    } else {
        format!("Kept {filename}: the deletion was not confirmed")
    }))
}

// multi_input

fn multi_input_tool() -> Tool {
    Tool::new(
        "multi_input",
        "Conformance fixture: works for a second, then asks the person two questions at once \
         (elicitation `first` and `second`) and answers with both names. Answers may come one \
         at a time. Runs as a task for clients with the Tasks extension.",
    )
    .title("Multiple inputs")
    .input(no_arguments())
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

/// The answers to `multi_input`'s questions so far: those carried in the round's state plus
/// those of the round itself, so answers given one `tasks/update` at a time add up even when
/// the host calls again after each.
fn multi_answers(ctx: &Context) -> Map<String, Value> {
    let Some(round) = ctx.round() else {
        return Map::new();
    };
    let mut answers: Map<String, Value> = round
        .state()
        .and_then(|state| serde_json::from_str(state).ok())
        .unwrap_or_default();
    for key in MULTI_KEYS {
        if let Some(answer) = round.response(key) {
            answers.insert(key.to_owned(), answer.clone());
        }
    }
    answers
}

fn multi_input(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    work(ctx, "preparing two questions");
    let answers = multi_answers(ctx);
    let mut open = Input::new();
    for key in MULTI_KEYS
        .into_iter()
        .filter(|key| !answers.contains_key(*key))
    {
        open = open.elicit(
            key,
            &format!("The {key} name?"),
            form(json!({"name": {"type": "string"}})),
        );
    }
    if !open.requests().is_empty() {
        let carried = Value::Object(answers).to_string();
        return Err(ToolError::input_required(open.state(carried)));
    }
    let name = |key: &str| {
        answers[key]
            .get("content")
            .and_then(|content| content.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_owned()
    };
    Ok(ToolResult::text(format!(
        "Got first={} and second={}",
        name("first"),
        name("second")
    )))
}

// test_tool_with_task

fn tool_with_task_tool() -> Tool {
    Tool::new(
        "test_tool_with_task",
        "Conformance fixture (SEP-2663): asks the person their name (`user_name`) before any \
         task exists, then works for a second as a task and greets them. Needs the Tasks \
         extension.",
    )
    .title("Input, then task")
    .input(no_arguments())
    .read_only()
    .open_world(false)
    .tasks(TaskSupport::Required)
}

fn tool_with_task(ctx: &Context, _: &Value) -> Result<ToolResult, ToolError> {
    let answers = ctx.ask(Input::new().elicit(
        "user_name",
        "What is your name?",
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
    ))?;
    let name = answers
        .accepted("user_name")
        .and_then(|content| content.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("stranger")
        .to_owned();
    work(ctx, &format!("greeting {name}"));
    Ok(ToolResult::text(format!(
        "Hello, {name}! (asked before the task started)"
    )))
}

#[cfg(test)]
mod tests {
    use capstan_sdk::fixture::Fixture;
    use capstan_sdk::{Content, InputKind, Round};

    use super::*;

    fn text(result: &ToolResult) -> &str {
        match &result.content()[0] {
            Content::Text(text) => text,
            other => panic!("not text: {other:?}"),
        }
    }

    fn accept(content: Value) -> Value {
        json!({"action": "accept", "content": content})
    }

    fn context(round: Option<Round>) -> Context {
        let ctx = Fixture::new()
            .client_answers(&[InputKind::Elicitation])
            .context();
        match round {
            Some(round) => ctx.with_round(round),
            None => ctx,
        }
    }

    fn keys(error: &ToolError) -> Vec<String> {
        let input = error.input_required_by().expect("questions");
        input.requests().iter().map(|r| r.key.clone()).collect()
    }

    #[test]
    fn confirm_delete_works_then_asks_then_reports() {
        let fixture = Fixture::new();
        let arguments = json!({"filename": "rt.txt"});
        let error = confirm_delete(&fixture.context(), &arguments).unwrap_err();
        assert_eq!(keys(&error), ["confirm"]);
        assert_eq!(fixture.slept(), WORK, "the question comes after the work");
        let round = Round::new(
            [("confirm".to_owned(), accept(json!({"confirm": true})))],
            None,
        );
        let done = confirm_delete(&context(Some(round)), &arguments).unwrap();
        assert!(text(&done).starts_with("Deletion of rt.txt confirmed"));
    }

    #[test]
    fn multi_input_asks_two_and_adds_answers_given_one_at_a_time() {
        let error = multi_input(&context(None), &json!({})).unwrap_err();
        assert_eq!(keys(&error), ["first", "second"]);
        // The first answer alone: only the second is asked again, the first carried along.
        let first = (
            "first".to_owned(),
            accept(json!({"name": "partial-1", "confirm": true})),
        );
        let partial = Round::new([first], error.input_required_by().unwrap().next_state());
        let error = multi_input(&context(Some(partial)), &json!({})).unwrap_err();
        assert_eq!(keys(&error), ["second"]);
        let second = ("second".to_owned(), accept(json!({"name": "partial-2"})));
        let state = error.input_required_by().unwrap().next_state();
        let done = multi_input(&context(Some(Round::new([second], state))), &json!({})).unwrap();
        assert_eq!(text(&done), "Got first=partial-1 and second=partial-2");
    }

    #[test]
    fn multi_input_also_completes_with_both_answers_in_one_round() {
        let both = [
            ("first".to_owned(), accept(json!({"name": "a"}))),
            ("second".to_owned(), accept(json!({"name": "b"}))),
        ];
        let done = multi_input(&context(Some(Round::new(both, None))), &json!({})).unwrap();
        assert_eq!(text(&done), "Got first=a and second=b");
    }

    #[test]
    fn the_task_tool_asks_at_once_and_works_once_answered() {
        let fixture = Fixture::new();
        let error = tool_with_task(&fixture.context(), &json!({})).unwrap_err();
        assert_eq!(keys(&error), ["user_name"]);
        assert_eq!(fixture.slept(), Duration::ZERO, "asked before any work");
        let round = Round::new(
            [("user_name".to_owned(), accept(json!({"name": "Alice"})))],
            None,
        );
        let done = tool_with_task(&context(Some(round)), &json!({})).unwrap();
        assert!(text(&done).contains("Alice"));
    }
}
