//! What stands between a caller and a tool: who the caller is (the [`Caller`] the HTTP face's
//! authentication put in the request's extensions; anonymous over stdio), what the policy says
//! (`access`), whether a person must confirm first ([`rounds`](super::rounds)), and the audit
//! record of every call. The server asks the guard before anything reaches the registry, so a
//! refused or unconfirmed call runs nothing.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use super::rounds::Rounds;
use crate::access::{Decision, Outcome, Policy, PolicyStore, Request, ToolFacts};
use crate::audit::AuditLog;
use crate::caller::Caller;
use crate::egress::TargetScope;
use crate::registry::{Entry, Instance};

/// Policy, confirmation and audit for one server.
#[derive(Clone)]
pub struct Guard {
    policy: Option<Arc<PolicyStore>>,
    rounds: Arc<Rounds>,
    audit: Arc<AuditLog>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy.as_ref().map(|store| store.status()))
            .finish_non_exhaustive()
    }
}

impl Default for Guard {
    /// No policy (every caller may call every tool), confirmations sealed with a key of this
    /// process, audit records to the log only.
    fn default() -> Self {
        Self {
            policy: None,
            rounds: Arc::new(Rounds::new(None).expect("a random key is long enough")),
            audit: Arc::new(AuditLog::log_only()),
        }
    }
}

impl Guard {
    /// A guard deciding with `policy` (none: everything allowed), asking through `rounds` and
    /// recording to `audit`.
    pub fn new(
        policy: Option<Arc<PolicyStore>>,
        rounds: Arc<Rounds>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            policy,
            rounds,
            audit,
        }
    }

    /// The policy deciding now, if one is configured.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        self.policy.as_ref().and_then(|store| store.policy())
    }

    /// Whether answers depend on who asks (a policy is configured).
    pub fn is_per_caller(&self) -> bool {
        self.policy.is_some()
    }

    /// Where confirmations are asked.
    pub fn rounds(&self) -> &Rounds {
        &self.rounds
    }

    /// Where call records go.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Whether `caller` sees the tool of `entry` in tools/list.
    pub fn visible(&self, caller: &Caller, entry: &Entry) -> bool {
        match self.policy() {
            None => true,
            Some(policy) => policy.visible(caller, &facts(entry), &entry.instance.target_names()),
        }
    }

    /// The targets a resource read or a completion of `instance` by `caller` may reach, when
    /// it addresses `target`: every target without a policy; under a policy, `target` when the
    /// policy allows the caller one of the instance's read-only tools there (a read shows no
    /// more than such a tool shows), else none.
    pub fn read_scope(
        &self,
        caller: &Caller,
        instance: &Instance,
        target: Option<&str>,
    ) -> TargetScope {
        if !self.is_per_caller() {
            return TargetScope::All;
        }
        let (Some(policy), Some(target)) = (self.policy(), target) else {
            return TargetScope::Nothing;
        };
        let no_arguments = Value::Null;
        let allowed = (0..instance.tools().len())
            .map(|index| tool_facts(instance, index))
            .filter(|tool| tool.read_only)
            .any(|tool| {
                let request = Request {
                    caller,
                    tool: &tool,
                    target: Some(target),
                    arguments: &no_arguments,
                };
                policy.decide(&request).outcome == Outcome::Allow
            });
        match allowed {
            true => TargetScope::Only(target.to_owned()),
            false => TargetScope::Nothing,
        }
    }

    /// The verdict on `caller` calling the tool of `entry` on `target` with `arguments`.
    pub fn decide(
        &self,
        caller: &Caller,
        entry: &Entry,
        target: Option<&str>,
        arguments: &Value,
    ) -> Decision {
        match self.policy() {
            None => Decision {
                outcome: Outcome::Allow,
                rule: None,
                reason: "no policy is configured".into(),
                notes: Vec::new(),
            },
            Some(policy) => policy.decide(&Request {
                caller,
                tool: &facts(entry),
                target,
                arguments,
            }),
        }
    }
}

/// The caller of the request: what authentication put in the HTTP request's extensions, or the
/// anonymous caller (stdio, or an app built without authentication).
pub fn caller_of(context: &RequestContext<RoleServer>) -> Arc<Caller> {
    super::http::caller_of(context.extensions.get::<http::request::Parts>())
}

/// The MCP session the request belongs to, for 2025-11-25 sessions.
pub fn session_of(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.headers.get("mcp-session-id"))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// What the policy knows about the tool of `entry`.
pub fn facts(entry: &Entry) -> ToolFacts {
    tool_facts(&entry.instance, entry.index)
}

/// What the policy knows about tool `index` of `instance`.
fn tool_facts(instance: &Instance, index: usize) -> ToolFacts {
    let definition = &instance.tools()[index];
    let annotations = &definition.tool.annotations;
    ToolFacts {
        exposed: definition.exposed.clone(),
        instance: instance.name().to_owned(),
        name: definition.name().to_owned(),
        read_only: annotations.read_only || instance.manifest().read_only,
        destructive: !annotations.read_only && annotations.destructive,
        idempotent: annotations.idempotent,
    }
}

/// The target a call addresses: its `target` argument, else the instance's default target (the
/// `default_target` setting, else its only target). `None` when the plugin would have to ask.
pub fn target_of(instance: &Instance, arguments: &Value) -> Option<String> {
    if let Some(named) = arguments.get("target").and_then(Value::as_str) {
        return Some(named.to_owned());
    }
    instance.default_target().map(str::to_owned)
}

/// The answer to a refused call: the rule, the reason and what to ask for.
pub fn refusal(tool: &str, decision: &Decision) -> CallToolResult {
    let rule = decision.rule.as_deref().map_or_else(
        || "no rule grants it".to_owned(),
        |rule| format!("rule `{rule}`"),
    );
    CallToolResult::error(vec![ContentBlock::text(format!(
        "capstan's policy refused `{tool}` ({rule}): {} Nothing was run.",
        decision.reason
    ))])
}

/// The answer when a rule asks for a confirmation that did not come.
pub fn unconfirmed(tool: &str, decision: &Decision, why: &str) -> CallToolResult {
    let rule = decision.rule.as_deref().unwrap_or("a policy rule");
    CallToolResult::error(vec![ContentBlock::text(format!(
        "`{tool}` needs a person's confirmation (rule `{rule}`), and {why}. Nothing was run."
    ))])
}
