//! Multi round-trip input: a handler that needs something only the client has (an answer from
//! the person, a completion from its model, its roots) asks for it with [`Context::ask`], and is
//! called again with the answers.
//!
//! ```ignore
//! fn greet(ctx: &Context, _args: &Value) -> Result<ToolResult, ToolError> {
//!     let answers = ctx.ask(Input::new().elicit("user", "What is your name?",
//!         json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})))?;
//!     let name = answers.accepted("user").and_then(|c| c["name"].as_str()).unwrap_or("stranger");
//!     Ok(ToolResult::text(format!("Hello, {name}!")))
//! }
//! ```
//!
//! The first call has no answers, so `ask` returns an error carrying the questions; the host
//! asks the client and calls the tool again with the client's answers in the [`Round`], where
//! `ask` finds them. Ask only for what the client can answer ([`Context::can_answer`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::bindings::capstan::plugin::types;

/// What is asked of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A question to the person, with a form (`elicitation/create`).
    Elicitation,
    /// A message from the client's model (`sampling/createMessage`).
    Sampling,
    /// The client's roots (`roots/list`).
    Roots,
}

impl InputKind {
    pub(crate) fn into_wit(self) -> types::InputKind {
        match self {
            InputKind::Elicitation => types::InputKind::Elicitation,
            InputKind::Sampling => types::InputKind::Sampling,
            InputKind::Roots => types::InputKind::Roots,
        }
    }
}

/// One question: its key, its kind and MCP's parameters for it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    /// Names the answer.
    pub key: String,
    /// What is asked.
    pub kind: InputKind,
    /// The request's parameters in MCP's shape.
    pub params: Value,
}

/// The questions a handler needs answered before it can go on, and its state for the next round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    requests: Vec<InputRequest>,
    state: Option<String>,
}

impl Input {
    /// No questions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the person `message` with a form whose fields `schema` describes (a flat object
    /// schema of strings, numbers, booleans and enums, as MCP elicitation allows).
    pub fn elicit(self, key: &str, message: &str, schema: Value) -> Self {
        let params = json!({"message": message, "requestedSchema": schema});
        self.request(key, InputKind::Elicitation, params)
    }

    /// Asks the client's model to answer `prompt` in at most `max_tokens` tokens.
    pub fn sample(self, key: &str, prompt: &str, max_tokens: u32) -> Self {
        let params = json!({
            "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
            "maxTokens": max_tokens,
        });
        self.request(key, InputKind::Sampling, params)
    }

    /// Asks for the client's roots.
    pub fn roots(self, key: &str) -> Self {
        self.request(key, InputKind::Roots, json!({}))
    }

    /// Adds a request with MCP parameters of your own.
    pub fn request(mut self, key: &str, kind: InputKind, params: Value) -> Self {
        self.requests.push(InputRequest {
            key: key.to_owned(),
            kind,
            params,
        });
        self
    }

    /// State for the next round, given back by [`Round::state`]; the client can read it but
    /// not change it, so it never holds secrets.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The questions.
    pub fn requests(&self) -> &[InputRequest] {
        &self.requests
    }

    /// The state for the next round.
    pub fn next_state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// Only the questions whose keys `round` has no answer for, with the same state.
    pub(crate) fn unanswered(&self, round: Option<&Round>) -> Self {
        Self {
            requests: self
                .requests
                .iter()
                .filter(|request| round.and_then(|r| r.response(&request.key)).is_none())
                .cloned()
                .collect(),
            state: self.state.clone(),
        }
    }

    pub(crate) fn into_wit(self) -> types::InputRequired {
        types::InputRequired {
            requests: self
                .requests
                .into_iter()
                .map(|request| types::InputRequest {
                    key: request.key,
                    kind: request.kind.into_wit(),
                    params: request.params.to_string(),
                })
                .collect(),
            state: self.state,
        }
    }
}

/// The client's answers from the previous round, and the state the handler left then.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    responses: BTreeMap<String, Value>,
    state: Option<String>,
}

impl Round {
    /// A round with these answers (by key) and state; for tests.
    pub fn new(responses: impl IntoIterator<Item = (String, Value)>, state: Option<&str>) -> Self {
        Self {
            responses: responses.into_iter().collect(),
            state: state.map(str::to_owned),
        }
    }

    pub(crate) fn from_wit(round: types::Round) -> Self {
        let responses = round
            .responses
            .into_iter()
            .map(|response| {
                let value = serde_json::from_str(&response.answer).unwrap_or(Value::Null);
                (response.key, value)
            })
            .collect();
        Self {
            responses,
            state: round.state,
        }
    }

    /// The client's answer to `key`, as MCP's result object.
    pub fn response(&self, key: &str) -> Option<&Value> {
        self.responses.get(key).filter(|value| value.is_object())
    }

    /// The state the handler gave with its questions.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
}

/// The answers to every question of an [`Input`].
#[derive(Debug, Clone, Copy)]
pub struct Answers<'a> {
    round: &'a Round,
}

impl<'a> Answers<'a> {
    pub(crate) fn new(round: &'a Round) -> Self {
        Self { round }
    }

    /// The raw MCP result answering `key`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.round.response(key)
    }

    /// The form the person filled in for `key`, when they accepted (not declined or cancelled).
    pub fn accepted(&self, key: &str) -> Option<&'a Map<String, Value>> {
        let answer = self.get(key)?;
        if answer.get("action").and_then(Value::as_str) != Some("accept") {
            return None;
        }
        answer.get("content").and_then(Value::as_object)
    }

    /// The text the client's model answered for `key`.
    pub fn sampled_text(&self, key: &str) -> Option<&'a str> {
        let content = self.get(key)?.get("content")?;
        let block = match content {
            Value::Array(blocks) => blocks
                .iter()
                .find(|b| b.get("type") == Some(&json!("text")))?,
            block => block,
        };
        block.get("text").and_then(Value::as_str)
    }

    /// The URIs of the roots answered for `key`.
    pub fn root_uris(&self, key: &str) -> Vec<&'a str> {
        self.get(key)
            .and_then(|answer| answer.get("roots"))
            .and_then(Value::as_array)
            .map(|roots| {
                roots
                    .iter()
                    .filter_map(|root| root.get("uri").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The state of the round these answers came with.
    pub fn state(&self) -> Option<&'a str> {
        self.round.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::Fixture;

    fn ask_name() -> Input {
        Input::new()
            .elicit("user", "Name?", json!({"type": "object"}))
            .roots("roots")
    }

    #[test]
    fn without_answers_ask_returns_the_questions() {
        let ctx = Fixture::new().context();
        let error = ctx.ask(ask_name()).unwrap_err();
        let input = error
            .input_required_by()
            .expect("a question, not a failure");
        assert_eq!(input.requests().len(), 2);
    }

    #[test]
    fn with_some_answers_only_the_rest_is_asked_again() {
        let round = Round::new(
            [(
                "user".into(),
                json!({"action": "accept", "content": {"name": "Ada"}}),
            )],
            Some("s1"),
        );
        let ctx = Fixture::new().context().with_round(round);
        let error = ctx.ask(ask_name()).unwrap_err();
        let keys: Vec<_> = error
            .input_required_by()
            .unwrap()
            .requests()
            .iter()
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(keys, ["roots"]);
    }

    #[test]
    fn with_every_answer_ask_hands_them_over() {
        let round = Round::new(
            [
                (
                    "user".into(),
                    json!({"action": "accept", "content": {"name": "Ada"}}),
                ),
                ("roots".into(), json!({"roots": [{"uri": "file:///w"}]})),
            ],
            Some("s1"),
        );
        let ctx = Fixture::new().context().with_round(round);
        let answers = ctx.ask(ask_name()).unwrap();
        assert_eq!(answers.accepted("user").unwrap()["name"], "Ada");
        assert_eq!(answers.root_uris("roots"), ["file:///w"]);
        assert_eq!(answers.state(), Some("s1"));
    }

    #[test]
    fn a_declined_form_is_not_accepted() {
        let round = Round::new([("user".into(), json!({"action": "decline"}))], None);
        assert!(Answers::new(&round).accepted("user").is_none());
    }
}
