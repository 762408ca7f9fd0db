//! The answer to one request, in the words an operator and an auditor need: the outcome, the
//! rule that decided it, and why.

use std::collections::HashMap;

use cedar_policy::{AuthorizationError, Effect, Policy, PolicyId};

use super::model::ToolFacts;
use crate::caller::Caller;

/// What happens to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Run it.
    Allow,
    /// Run it once a person says yes (a determining rule is annotated `@confirm`).
    Confirm,
    /// Refuse it; nothing reaches the plugin.
    Deny,
}

impl Outcome {
    /// `allow`, `confirm` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Confirm => "confirm",
            Self::Deny => "deny",
        }
    }
}

/// A decision and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// Allow, confirm or deny.
    pub outcome: Outcome,
    /// The deciding rule: its `@id`, else Cedar's policy id (`policy0`, …); none for the default
    /// deny.
    pub rule: Option<String>,
    /// Why, for the caller and the operator; for `Confirm`, the question to put to the person.
    pub reason: String,
    /// Rules skipped because they failed to evaluate (e.g. they read an argument the call does
    /// not have), for the audit record.
    pub notes: Vec<String>,
}

/// What the request was about, for the wording.
pub(crate) struct Subject<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) tool: &'a ToolFacts,
    pub(crate) target: Option<&'a str>,
}

/// What a decision needs to know of one policy.
#[derive(Debug)]
pub(crate) struct Rule {
    /// Its `@id`, else Cedar's id.
    pub(crate) name: String,
    /// Its place in the file.
    pub(crate) position: usize,
    /// A forbid (else a permit).
    pub(crate) forbid: bool,
    /// `@confirm`'s message template (`""` for none given).
    confirm: Option<String>,
    /// `@advice`.
    advice: Option<String>,
}

impl Rule {
    /// Reads `policy`'s annotations.
    pub(crate) fn of(policy: &Policy) -> Self {
        let annotation = |key: &str| {
            policy
                .annotations()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| value.to_owned())
        };
        let id = policy.id().to_string();
        // Parsed text names its policies `policy0`, `policy1`, … in file order.
        let position = id.strip_prefix("policy").and_then(|n| n.parse().ok());
        Self {
            name: annotation("id")
                .filter(|name| !name.is_empty())
                .unwrap_or(id),
            position: position.unwrap_or(usize::MAX),
            forbid: policy.effect() == Effect::Forbid,
            confirm: annotation("confirm"),
            advice: annotation("advice").filter(|advice| !advice.is_empty()),
        }
    }
}

/// Denied: no permit applied, or `forbids` (the satisfied forbid rules, in file order) did.
pub(crate) fn deny(forbids: &[&Rule], about: &Subject<'_>) -> Decision {
    let Some(rule) = forbids.first() else {
        return default_deny(about);
    };
    let mut reason = format!(
        "rule `{}` forbids `{}`{} to `{}`",
        rule.name,
        about.tool.exposed,
        on_target(about.target),
        about.caller.subject
    );
    if let Some(advice) = &rule.advice {
        reason.push_str(": ");
        reason.push_str(&render(advice, &rule.name, about));
    }
    Decision {
        outcome: Outcome::Deny,
        rule: Some(rule.name.clone()),
        reason,
        notes: Vec::new(),
    }
}

fn default_deny(about: &Subject<'_>) -> Decision {
    let groups = match about.caller.groups.as_slice() {
        [] => "no groups".to_owned(),
        groups => format!("groups {}", groups.join(", ")),
    };
    Decision {
        outcome: Outcome::Deny,
        rule: None,
        reason: format!(
            "no rule grants `{}`{} to `{}` ({groups}); the operator can grant it in the policy file",
            about.tool.exposed,
            on_target(about.target),
            about.caller.subject
        ),
        notes: Vec::new(),
    }
}

/// Allowed by `permits` (in file order): confirm if one of them carries `@confirm`.
pub(crate) fn allow(permits: &[&Rule], about: &Subject<'_>) -> Decision {
    if let Some(rule) = permits.iter().find(|rule| rule.confirm.is_some()) {
        let template = rule.confirm.as_deref().unwrap_or_default();
        let reason = match template.is_empty() {
            true => format!(
                "rule `{}` asks for confirmation before `{}`{} runs for `{}`",
                rule.name,
                about.tool.exposed,
                on_target(about.target),
                about.caller.subject
            ),
            false => render(template, &rule.name, about),
        };
        return Decision {
            outcome: Outcome::Confirm,
            rule: Some(rule.name.clone()),
            reason,
            notes: Vec::new(),
        };
    }
    let rule = permits.first().map(|rule| rule.name.clone());
    Decision {
        reason: format!(
            "rule `{}` grants `{}`{} to `{}`",
            rule.as_deref().unwrap_or_default(),
            about.tool.exposed,
            on_target(about.target),
            about.caller.subject
        ),
        outcome: Outcome::Allow,
        rule,
        notes: Vec::new(),
    }
}

/// One note per rule that failed to evaluate.
pub(crate) fn note(rules: &HashMap<PolicyId, Rule>, error: &AuthorizationError) -> String {
    let AuthorizationError::PolicyEvaluationError(error) = error;
    let id = error.policy_id();
    let name = rules
        .get(id)
        .map_or_else(|| id.to_string(), |rule| rule.name.clone());
    format!("rule `{name}` was skipped: {}", error.inner())
}

fn on_target(target: Option<&str>) -> String {
    target.map_or_else(String::new, |t| format!(" on `{t}`"))
}

/// Fills `{tool}`, `{name}`, `{instance}`, `{target}`, `{subject}` and `{rule}` in `template`.
fn render(template: &str, rule: &str, about: &Subject<'_>) -> String {
    template
        .replace("{tool}", &about.tool.exposed)
        .replace("{name}", &about.tool.name)
        .replace("{instance}", &about.tool.instance)
        .replace("{target}", about.target.unwrap_or("(no target)"))
        .replace("{subject}", &about.caller.subject)
        .replace("{rule}", rule)
}
