//! The answer to one request, in the words an operator and an auditor need: the outcome, the
//! rule that decided it, and why.

use cedar_policy::{AuthorizationError, PolicyId, PolicySet};

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

/// The name of policy `id`: its `@id` annotation, else its Cedar id.
pub(crate) fn rule_name(set: &PolicySet, id: &PolicyId) -> String {
    set.annotation(id, "id")
        .filter(|name| !name.is_empty())
        .map_or_else(|| id.to_string(), str::to_owned)
}

/// Denied: no permit applied, or `forbids` (the satisfied forbid rules, in file order) did.
pub(crate) fn deny(set: &PolicySet, forbids: &[&PolicyId], about: &Subject<'_>) -> Decision {
    let Some(id) = forbids.first() else {
        return default_deny(about);
    };
    let rule = rule_name(set, id);
    let mut reason = format!(
        "rule `{rule}` forbids `{}`{} to `{}`",
        about.tool.exposed,
        on_target(about.target),
        about.caller.subject
    );
    if let Some(advice) = set.annotation(id, "advice").filter(|a| !a.is_empty()) {
        reason.push_str(": ");
        reason.push_str(&render(advice, &rule, about));
    }
    Decision {
        outcome: Outcome::Deny,
        rule: Some(rule),
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
pub(crate) fn allow(set: &PolicySet, permits: &[&PolicyId], about: &Subject<'_>) -> Decision {
    let confirming = permits
        .iter()
        .find(|id| set.annotation(id, "confirm").is_some());
    if let Some(id) = confirming {
        let rule = rule_name(set, id);
        let template = set.annotation(id, "confirm").unwrap_or_default();
        let reason = match template.is_empty() {
            true => format!(
                "rule `{rule}` asks for confirmation before `{}`{} runs for `{}`",
                about.tool.exposed,
                on_target(about.target),
                about.caller.subject
            ),
            false => render(template, &rule, about),
        };
        return Decision {
            outcome: Outcome::Confirm,
            rule: Some(rule),
            reason,
            notes: Vec::new(),
        };
    }
    let rule = permits.first().map(|id| rule_name(set, id));
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
pub(crate) fn note(set: &PolicySet, error: &AuthorizationError) -> String {
    let AuthorizationError::PolicyEvaluationError(error) = error;
    format!(
        "rule `{}` was skipped: {}",
        rule_name(set, error.policy_id()),
        error.inner()
    )
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
