//! Asking the person behind a client a question before a call runs: the one mechanism for
//! multi round-trip input. How the question travels depends on what the client speaks:
//!
//! - **2026-07-28** (and stateless requests): the call answers `input_required` with an
//!   elicitation and a `requestState`; the client asks its user and retries the same call with
//!   the answer and the echoed state. The state is sealed with HMAC-SHA256 (rmcp's
//!   `RequestStateCodec`) under a key capstan holds, bound to the [`Binding`] — the caller, the
//!   tool, the target and the exact arguments — expires after [`STATE_TTL`], and is spent once:
//!   a client cannot forge an approval, reuse it for other arguments or another person, or
//!   replay it.
//! - **2025-11-25 sessions** whose client declared elicitation: an `elicitation/create` request
//!   on the session, answered within [`ELICITATION_TIMEOUT`].
//! - Anything else cannot ask a person, so the answer is [`Answer::Unavailable`] and nothing runs.
//!
//! Confirmation by a policy rule is one question asked this way; a plugin's own questions
//! (a tool answering `input-required`) are the other: their `requestState` seals the plugin's
//! state the same way ([`Rounds::seal_round`], [`Rounds::open_round`]), and also records that
//! the call was already confirmed, so a confirmed call that then asks is not asked to confirm
//! again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, ProtocolVersion,
    RequestStateCodec, SealOptions,
};
use rmcp::service::{RequestContext, RoleServer};
use sha2::{Digest as _, Sha256};

/// How long an `input_required` confirmation stays answerable.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// How long a session's `elicitation/create` may wait for the person.
pub const ELICITATION_TIMEOUT: Duration = Duration::from_secs(300);

/// The key of the confirmation in `inputRequests` / `inputResponses`.
const CONFIRM_KEY: &str = "confirm";

/// Most spent approvals remembered (each until its state would have expired anyway).
const MAX_SPENT: usize = 100_000;

/// What an approval is valid for: a digest of everything the person was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding([u8; 32]);

impl Binding {
    /// Binds to `subject` calling `tool` on `target` with exactly `arguments`.
    pub fn new(
        subject: &str,
        tool: &str,
        target: Option<&str>,
        arguments: &serde_json::Value,
    ) -> Self {
        let mut hash = Sha256::new();
        for part in [subject, tool, target.unwrap_or("\u{0}")] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        // serde_json's maps are ordered, so equal arguments serialise equally.
        hash.update(arguments.to_string().as_bytes());
        Self(hash.finalize().into())
    }
}

/// What a plugin's `input_required` result carries to the next round, sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginRound {
    /// The plugin's own state.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The person already confirmed this call (a policy rule asked).
    #[serde(rename = "c", default)]
    pub confirmed: bool,
    /// Makes every sealed round unique, so it can be spent once.
    #[serde(rename = "n")]
    nonce: String,
}

impl PluginRound {
    /// A round carrying `state`, for a call that was `confirmed` or not.
    pub fn new(state: Option<String>, confirmed: bool) -> Self {
        let nonce: String = random_bytes::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            state,
            confirmed,
            nonce,
        }
    }
}

/// What an echoed `requestState` turned out to be.
#[derive(Debug)]
pub enum Opened {
    /// No state was echoed.
    Nothing,
    /// A confirmation's state (checked by [`Rounds::confirm`]).
    Confirmation,
    /// A plugin round, verified and now spent.
    Round(PluginRound),
    /// Forged, altered, for another call, expired or already spent.
    Rejected,
}

/// Marks a sealed payload as a plugin round (a confirmation's payload is its 16-byte nonce).
const ROUND_TAG: u8 = b'P';

/// Largest plugin state the host seals.
pub const MAX_PLUGIN_STATE: usize = 16 << 10;

/// The client's echo of an earlier `input_required` result, if this call is a retry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retry<'a> {
    /// `inputResponses`.
    pub responses: Option<&'a InputResponses>,
    /// `requestState`.
    pub state: Option<&'a str>,
}

/// How a question ended.
#[derive(Debug)]
pub enum Answer {
    /// The person said yes.
    Yes,
    /// The person said no or dismissed the question.
    No,
    /// No answer in time.
    TimedOut,
    /// The echoed state did not verify: forged, altered, for another call, expired or spent.
    Rejected,
    /// Ask the client: return this `input_required` result; the retry carries the answer.
    Pending(InputRequiredResult),
    /// The client cannot ask a person; the reason says what it lacks.
    Unavailable(String),
}

/// Asks questions and checks the answers; one per server, shared by its sessions.
pub struct Rounds {
    codec: RequestStateCodec,
    spent: Mutex<HashMap<[u8; 16], Instant>>,
}

impl std::fmt::Debug for Rounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rounds").finish_non_exhaustive()
    }
}

/// The request-state key is unusable.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request-state key must hold at least 32 bytes of random data (e.g. `openssl rand -out FILE 32`): {0}"
)]
pub struct KeyError(String);

impl Rounds {
    /// Rounds sealed with `key` (the same on every replica behind one balancer), or with a random
    /// key of this process when `None`.
    pub fn new(key: Option<&[u8]>) -> Result<Self, KeyError> {
        let random;
        let key = match key {
            Some(key) => key,
            None => {
                random = random_bytes::<32>();
                &random
            }
        };
        let codec = RequestStateCodec::try_new(key).map_err(|e| KeyError(e.to_string()))?;
        Ok(Self {
            codec,
            spent: Mutex::default(),
        })
    }

    /// Asks the person to confirm `message` for the call bound by `binding`.
    pub async fn confirm(
        &self,
        message: &str,
        binding: &Binding,
        retry: Retry<'_>,
        context: &RequestContext<RoleServer>,
    ) -> Answer {
        if speaks_input_required(context) {
            return self.confirm_by_round_trip(message, binding, retry, context);
        }
        elicit(message, context).await
    }

    fn confirm_by_round_trip(
        &self,
        message: &str,
        binding: &Binding,
        retry: Retry<'_>,
        context: &RequestContext<RoleServer>,
    ) -> Answer {
        if let Some(state) = retry.state {
            return self.check_answer(state, retry.responses, binding);
        }
        let can_elicit = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.elicitation.is_some());
        if !can_elicit {
            return Answer::Unavailable(
                "the client did not declare the elicitation capability, so it cannot ask its user"
                    .into(),
            );
        }
        let nonce = random_bytes::<16>();
        let state = self.codec.seal_with(
            &nonce,
            &SealOptions::new()
                .associated_data(&binding.0)
                .ttl(STATE_TTL),
        );
        let mut requests = InputRequests::new();
        requests.insert(
            CONFIRM_KEY.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(question(message))),
        );
        Answer::Pending(InputRequiredResult::new(Some(requests), Some(state)))
    }

    fn check_answer(
        &self,
        state: &str,
        responses: Option<&InputResponses>,
        binding: &Binding,
    ) -> Answer {
        let Ok(payload) = self.codec.open_with(state, &binding.0) else {
            return Answer::Rejected;
        };
        let Ok(nonce) = <[u8; 16]>::try_from(payload.as_slice()) else {
            return Answer::Rejected;
        };
        let answer = responses
            .and_then(|responses| responses.get(CONFIRM_KEY))
            .and_then(|value| serde_json::from_value::<ElicitResult>(value.clone()).ok());
        let Some(answer) = answer else {
            return Answer::No;
        };
        if !self.spend(nonce) {
            return Answer::Rejected;
        }
        verdict(&answer)
    }

    /// Seals `round` for the call bound by `binding`, as a `requestState`.
    pub fn seal_round(&self, round: &PluginRound, binding: &Binding) -> String {
        let mut payload = vec![ROUND_TAG];
        payload.extend(serde_json::to_vec(round).expect("a round serialises"));
        self.codec.seal_with(
            &payload,
            &SealOptions::new()
                .associated_data(&binding.0)
                .ttl(STATE_TTL),
        )
    }

    /// What the echoed `state` of the call bound by `binding` is; a plugin round is spent.
    pub fn open_round(&self, state: Option<&str>, binding: &Binding) -> Opened {
        let Some(state) = state else {
            return Opened::Nothing;
        };
        let Ok(payload) = self.codec.open_with(state, &binding.0) else {
            return Opened::Rejected;
        };
        let Some((&ROUND_TAG, json)) = payload.split_first() else {
            return Opened::Confirmation;
        };
        if payload.len() == 16 {
            return Opened::Confirmation;
        }
        let Ok(round) = serde_json::from_slice::<PluginRound>(json) else {
            return Opened::Rejected;
        };
        let mut nonce = [0u8; 16];
        let digest = Sha256::digest(round.nonce.as_bytes());
        nonce.copy_from_slice(&digest[..16]);
        if !self.spend(nonce) {
            return Opened::Rejected;
        }
        Opened::Round(round)
    }

    /// Marks `nonce` spent; false if it already was.
    fn spend(&self, nonce: [u8; 16]) -> bool {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, at| now.duration_since(*at) < STATE_TTL);
        }
        if spent.len() >= MAX_SPENT {
            // Still full of live approvals: refuse rather than forget one.
            return false;
        }
        spent.insert(nonce, now).is_none()
    }
}

/// Whether the request speaks 2026-07-28 or later, where server-to-client requests are gone and
/// questions travel as `input_required` results.
pub fn speaks_input_required(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
}

async fn elicit(message: &str, context: &RequestContext<RoleServer>) -> Answer {
    let modes = context.peer.supported_elicitation_modes();
    if !modes.contains(&rmcp::service::ElicitationMode::Form) {
        return Answer::Unavailable(
            "the client did not declare the elicitation capability, so it cannot ask its user"
                .into(),
        );
    }
    match context
        .peer
        .create_elicitation_with_timeout(question(message), Some(ELICITATION_TIMEOUT))
        .await
    {
        Ok(answer) => verdict(&answer),
        Err(rmcp::ServiceError::Timeout { .. }) => Answer::TimedOut,
        Err(error) => {
            tracing::warn!("asking for confirmation failed: {error}");
            Answer::No
        }
    }
}

fn question(message: &str) -> ElicitRequestParams {
    let schema = ElicitationSchema::builder()
        .required_bool(CONFIRM_KEY)
        .description("Answer yes to run the call; anything else runs nothing.")
        .build()
        .expect("a one-field boolean schema is valid");
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message.to_owned(),
        requested_schema: schema,
    }
}

fn verdict(answer: &ElicitResult) -> Answer {
    let confirmed = answer
        .content
        .as_ref()
        .and_then(|content| content.get(CONFIRM_KEY))
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    match answer.action {
        ElicitationAction::Accept if confirmed => Answer::Yes,
        _ => Answer::No,
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn responses(action: &str, confirm: bool) -> InputResponses {
        let mut map = InputResponses::new();
        map.insert(
            CONFIRM_KEY.into(),
            json!({"action": action, "content": {"confirm": confirm}}),
        );
        map
    }

    fn sealed(rounds: &Rounds, binding: &Binding) -> String {
        rounds.codec.seal_with(
            &random_bytes::<16>(),
            &SealOptions::new()
                .associated_data(&binding.0)
                .ttl(STATE_TTL),
        )
    }

    #[test]
    fn an_approval_counts_once_and_only_for_the_arguments_it_was_given_for() {
        let rounds = Rounds::new(None).unwrap();
        let binding = Binding::new("alice", "sync", Some("prod"), &json!({"prune": true}));
        let state = sealed(&rounds, &binding);
        let yes = responses("accept", true);
        let other = Binding::new("alice", "sync", Some("prod"), &json!({"prune": false}));
        assert!(matches!(
            rounds.check_answer(&state, Some(&yes), &other),
            Answer::Rejected
        ));
        let bob = Binding::new("bob", "sync", Some("prod"), &json!({"prune": true}));
        assert!(matches!(
            rounds.check_answer(&state, Some(&yes), &bob),
            Answer::Rejected
        ));
        assert!(matches!(
            rounds.check_answer(&state, Some(&yes), &binding),
            Answer::Yes
        ));
        assert!(matches!(
            rounds.check_answer(&state, Some(&yes), &binding),
            Answer::Rejected
        ));
    }

    #[test]
    fn a_tampered_state_or_another_key_is_rejected() {
        let rounds = Rounds::new(None).unwrap();
        let binding = Binding::new("alice", "sync", None, &json!({}));
        let state = sealed(&rounds, &binding);
        let mut tampered = state.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let yes = responses("accept", true);
        assert!(matches!(
            rounds.check_answer(&tampered, Some(&yes), &binding),
            Answer::Rejected
        ));
        let elsewhere = Rounds::new(None).unwrap();
        assert!(matches!(
            elsewhere.check_answer(&state, Some(&yes), &binding),
            Answer::Rejected
        ));
        assert!(matches!(
            rounds.check_answer("not-a-state", Some(&yes), &binding),
            Answer::Rejected
        ));
    }

    #[test]
    fn only_an_accepted_yes_confirms() {
        let rounds = Rounds::new(None).unwrap();
        let binding = Binding::new("alice", "sync", None, &json!({}));
        for (action, confirm) in [("accept", false), ("decline", true), ("cancel", true)] {
            let state = sealed(&rounds, &binding);
            assert!(
                matches!(
                    rounds.check_answer(&state, Some(&responses(action, confirm)), &binding),
                    Answer::No
                ),
                "{action} {confirm}"
            );
        }
        let state = sealed(&rounds, &binding);
        assert!(matches!(
            rounds.check_answer(&state, None, &binding),
            Answer::No
        ));
    }

    #[test]
    fn a_plugin_round_opens_once_and_only_for_its_call() {
        let rounds = Rounds::new(None).unwrap();
        let binding = Binding::new("alice", "ask", None, &json!({}));
        let sealed = rounds.seal_round(&PluginRound::new(Some("step1".into()), true), &binding);
        let other = Binding::new("bob", "ask", None, &json!({}));
        assert!(matches!(
            rounds.open_round(Some(&sealed), &other),
            Opened::Rejected
        ));
        match rounds.open_round(Some(&sealed), &binding) {
            Opened::Round(round) => {
                assert_eq!(round.state.as_deref(), Some("step1"));
                assert!(round.confirmed);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            rounds.open_round(Some(&sealed), &binding),
            Opened::Rejected
        ));
        let confirmation = sealed_confirmation(&rounds, &binding);
        assert!(matches!(
            rounds.open_round(Some(&confirmation), &binding),
            Opened::Confirmation
        ));
        assert!(matches!(rounds.open_round(None, &binding), Opened::Nothing));
    }

    fn sealed_confirmation(rounds: &Rounds, binding: &Binding) -> String {
        sealed(rounds, binding)
    }

    #[test]
    fn a_short_key_is_refused_with_how_to_make_one() {
        let error = Rounds::new(Some(b"short")).unwrap_err().to_string();
        assert!(error.contains("openssl rand"), "{error}");
    }
}
