//! A plugin's questions for the client (a tool or prompt answering `input-required`), in MCP.
//!
//! On 2026-07-28 they become an `input_required` result whose `requestState` seals the
//! plugin's state ([`super::rounds`]); the client's retry brings the answers back as the next
//! [`types::Round`]. On a 2025-11-25 session the host itself sends the requests to the client
//! (`elicitation/create`, `sampling/createMessage`, `roots/list`) and calls the plugin again,
//! at most [`MAX_SESSION_ROUNDS`] times. A question for something the client did not declare
//! it can answer fails the call, naming what is missing.

use rmcp::model::{ClientCapabilities, InputRequest, InputRequests, InputResponses};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Value, json};

use super::rounds::{ELICITATION_TIMEOUT, MAX_PLUGIN_STATE};
use crate::events::ClientInputs;
use crate::runtime::types;

/// Most rounds of questions one call on a 2025-11-25 session may ask.
pub const MAX_SESSION_ROUNDS: usize = 8;

/// Most questions in one round.
const MAX_REQUESTS: usize = 16;

/// What the client of `context` declared it can answer.
pub fn client_inputs(context: &RequestContext<RoleServer>) -> ClientInputs {
    let Some(capabilities) = context.client_capabilities() else {
        return ClientInputs::default();
    };
    inputs_of(&capabilities)
}

fn inputs_of(capabilities: &ClientCapabilities) -> ClientInputs {
    ClientInputs {
        elicitation: capabilities.elicitation.is_some(),
        sampling: capabilities.sampling.is_some(),
        roots: capabilities.roots.is_some(),
    }
}

/// Why a plugin's questions cannot be asked.
#[derive(Debug)]
pub enum Unaskable {
    /// The client did not declare the capability (`elicitation`, `sampling` or `roots`).
    Missing(&'static str, String),
    /// The questions are malformed; the message says how.
    Invalid(String),
}

impl Unaskable {
    /// What is wrong, for a message.
    #[cfg(test)]
    fn message(&self) -> &str {
        match self {
            Unaskable::Missing(_, message) | Unaskable::Invalid(message) => message,
        }
    }
}

/// The plugin's questions as MCP input requests, checked against what the client can answer.
pub fn input_requests(
    input: &types::InputRequired,
    inputs: ClientInputs,
) -> Result<InputRequests, Unaskable> {
    let requests = parse_requests(input, inputs).map_err(Unaskable::Invalid)?;
    for request in &input.requests {
        let (method, declared, capability) = method_of(request.kind, inputs);
        if !declared {
            return Err(Unaskable::Missing(
                capability,
                format!(
                    "needs the client to answer `{method}`, but the client did not declare the `{capability}` capability; use a client that supports it"
                ),
            ));
        }
    }
    Ok(requests)
}

/// The MCP method of `kind`, whether the client can answer it, and its capability's name.
fn method_of(kind: types::InputKind, inputs: ClientInputs) -> (&'static str, bool, &'static str) {
    match kind {
        types::InputKind::Elicitation => ("elicitation/create", inputs.elicitation, "elicitation"),
        types::InputKind::Sampling => ("sampling/createMessage", inputs.sampling, "sampling"),
        types::InputKind::Roots => ("roots/list", inputs.roots, "roots"),
    }
}

/// The questions parsed as MCP requests; the error says what is malformed.
fn parse_requests(
    input: &types::InputRequired,
    inputs: ClientInputs,
) -> Result<InputRequests, String> {
    if input.requests.is_empty() || input.requests.len() > MAX_REQUESTS {
        return Err(format!(
            "asked for input with {} requests; ask 1 to {MAX_REQUESTS} at once",
            input.requests.len()
        ));
    }
    if input
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_PLUGIN_STATE)
    {
        return Err(format!(
            "asked for input with a state over {MAX_PLUGIN_STATE} bytes; keep less state"
        ));
    }
    let mut requests = InputRequests::new();
    for request in &input.requests {
        check_key(&request.key)?;
        let (method, _, _) = method_of(request.kind, inputs);
        let params: Value = serde_json::from_str(&request.params).map_err(|error| {
            format!(
                "asked `{}` with parameters that are not JSON: {error}",
                request.key
            )
        })?;
        let parsed: InputRequest = serde_json::from_value(
            json!({"method": method, "params": params}),
        )
        .map_err(|error| {
            format!(
                "asked `{}` with invalid `{method}` parameters: {error}",
                request.key
            )
        })?;
        if requests.insert(request.key.clone(), parsed).is_some() {
            return Err(format!("asked `{}` twice in one round", request.key));
        }
    }
    Ok(requests)
}

fn check_key(key: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "asked with the key `{key}`; keys are 1 to 64 of a-z, A-Z, 0-9, `_` and `-`"
        ))
    }
}

/// The next round for the plugin: the client's `responses` (only objects are kept) and the
/// plugin's state.
pub fn round(responses: Option<&InputResponses>, state: Option<String>) -> types::Round {
    let responses = responses
        .into_iter()
        .flatten()
        .filter(|(_, answer)| answer.is_object())
        .map(|(key, answer)| types::InputResponse {
            key: key.clone(),
            answer: answer.to_string(),
        })
        .collect();
    types::Round { responses, state }
}

/// The keys of a task's `round` (counted from 1) of `requests`, unique over the task's life as
/// the Tasks extension wants: a plugin's key in the first round, `KEY.N` in round N (a plugin's
/// keys have no dot).
pub fn numbered(requests: InputRequests, round: usize) -> InputRequests {
    match round {
        0 | 1 => requests,
        _ => requests
            .into_iter()
            .map(|(key, request)| (format!("{key}.{round}"), request))
            .collect(),
    }
}

/// The answers to [`numbered`] requests of `round`, under the plugin's keys.
pub fn unnumbered(responses: InputResponses, round: usize) -> InputResponses {
    let suffix = format!(".{round}");
    match round {
        0 | 1 => responses,
        _ => responses
            .into_iter()
            .filter_map(|(key, answer)| Some((key.strip_suffix(&suffix)?.to_owned(), answer)))
            .collect(),
    }
}

/// Sends `requests` to the client of a 2025-11-25 session and collects its answers; a request
/// the client fails or declines to answer is left out (the plugin asks again or gives up).
#[allow(deprecated)]
pub async fn ask_session(
    requests: InputRequests,
    context: &RequestContext<RoleServer>,
) -> InputResponses {
    let mut responses = InputResponses::new();
    for (key, request) in requests {
        let answer = match request {
            InputRequest::Elicitation(request) => context
                .peer
                .create_elicitation_with_timeout(request.params, Some(ELICITATION_TIMEOUT))
                .await
                .ok()
                .and_then(|answer| serde_json::to_value(answer).ok()),
            InputRequest::CreateMessage(request) => context
                .peer
                .create_message(request.params)
                .await
                .ok()
                .and_then(|answer| serde_json::to_value(answer).ok()),
            InputRequest::ListRoots(_) => context
                .peer
                .list_roots()
                .await
                .ok()
                .and_then(|answer| serde_json::to_value(answer).ok()),
            _ => None,
        };
        if let Some(answer) = answer {
            responses.insert(key, answer);
        }
    }
    responses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(kind: types::InputKind, params: &str) -> types::InputRequired {
        types::InputRequired {
            requests: vec![types::InputRequest {
                key: "q".into(),
                kind,
                params: params.into(),
            }],
            state: None,
        }
    }

    const ALL: ClientInputs = ClientInputs {
        elicitation: true,
        sampling: true,
        roots: true,
    };

    #[test]
    fn questions_become_mcp_requests_when_the_client_can_answer_them() {
        let form = r#"{"message":"Name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}}}}"#;
        let requests = input_requests(&ask(types::InputKind::Elicitation, form), ALL).unwrap();
        let wire = serde_json::to_value(&requests).unwrap();
        assert_eq!(wire["q"]["method"], "elicitation/create");
        let none = ClientInputs::default();
        let error = input_requests(&ask(types::InputKind::Elicitation, form), none).unwrap_err();
        assert!(
            matches!(error, Unaskable::Missing("elicitation", _)),
            "{error:?}"
        );
        let roots = input_requests(&ask(types::InputKind::Roots, "{}"), ALL).unwrap();
        assert_eq!(
            serde_json::to_value(&roots).unwrap()["q"]["method"],
            "roots/list"
        );
    }

    #[test]
    fn malformed_questions_are_refused_with_what_is_wrong() {
        let error = input_requests(&ask(types::InputKind::Sampling, "{}"), ALL).unwrap_err();
        assert!(
            error
                .message()
                .contains("invalid `sampling/createMessage` parameters"),
            "{error:?}"
        );
        let error =
            input_requests(&ask(types::InputKind::Elicitation, "not json"), ALL).unwrap_err();
        assert!(error.message().contains("not JSON"), "{error:?}");
        let mut bad_key = ask(types::InputKind::Roots, "{}");
        bad_key.requests[0].key = "a b".into();
        assert!(
            input_requests(&bad_key, ALL)
                .unwrap_err()
                .message()
                .contains("key")
        );
    }

    #[test]
    fn task_rounds_after_the_first_number_their_keys_and_answers_come_back_unnumbered() {
        let request: InputRequest = serde_json::from_value(json!({
            "method": "roots/list", "params": {}
        }))
        .unwrap();
        let requests = InputRequests::from([("confirm".to_owned(), request)]);
        assert!(numbered(requests.clone(), 1).contains_key("confirm"));
        let third = numbered(requests, 3);
        assert_eq!(third.keys().collect::<Vec<_>>(), ["confirm.3"]);
        let answers = InputResponses::from([
            ("confirm.3".to_owned(), json!({"roots": []})),
            ("confirm.2".to_owned(), json!({"roots": []})),
        ]);
        let back = unnumbered(answers, 3);
        assert_eq!(back.keys().collect::<Vec<_>>(), ["confirm"]);
    }
}
