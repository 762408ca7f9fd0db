//! Per-caller policy: may this caller see or call this tool, on this target, with these
//! arguments? Policies are written in [Cedar](https://www.cedarpolicy.com) and validated against
//! the schema in `capstan.cedarschema` ([`SCHEMA`]). This module knows principals ([`Caller`])
//! and policy; the MCP front fills in a [`Request`] and acts on the [`Decision`]. It never speaks
//! MCP and never runs a plugin.
//!
//! # The model
//!
//! | Cedar | from | attributes, parents |
//! |---|---|---|
//! | principal `Capstan::User::"<subject>"` | the [`Caller`] | `name` (String, `""` if unknown), `clientId` (String, `""` if none), `kind` (`"token"`, `"apiKey"`, `"sharedToken"`, `"anonymous"`), `scopes` (Set<String>); in `Capstan::Group::"<group>"` for each group |
//! | action `Capstan::Action::"call"` | `tools/call` | |
//! | action `Capstan::Action::"list"` | `tools/list` | in `Action::"call"`: `action in Action::"call"` grants seeing and calling, `action == Action::"call"` only calling |
//! | resource `Capstan::Tool::"<exposed name>"` | [`ToolFacts`] | `instance`, `name` (the plugin's own tool name), `readOnly`, `destructive`, `idempotent` (Bool); in `Capstan::Instance::"<instance>"` |
//! | `context.target` | the call's target | String, absent when unknown (test with `context has target`) |
//! | `context.arguments` | the call's JSON arguments | a record: integral numbers → Long, other numbers → String, objects → records, arrays → sets, `null` dropped |
//! | `context.listing` | | true when deciding visibility in `tools/list` |
//!
//! # Decisions
//!
//! Deny by default: without a satisfied `permit` nothing is allowed, and a satisfied `forbid`
//! wins over every permit (Cedar's semantics). Three annotations shape the answer:
//!
//! - `@id("developers-sync-staging")` names a rule in decisions and audit records (else Cedar's
//!   `policy0`, `policy1`, … by position);
//! - `@confirm` or `@confirm("Sync {tool} on {target}?")` on a permit that decided an allow turns
//!   it into [`Outcome::Confirm`]: a person must say yes first (`{tool}`, `{name}`,
//!   `{instance}`, `{target}`, `{subject}` and `{rule}` are filled in);
//! - `@advice("ask #platform-sre")` on a forbid is added to the refusal's reason.
//!
//! A rule that fails to evaluate (it reads `context.arguments.prune` and the call has no
//! `prune`) is skipped, as Cedar does, and named in [`Decision::notes`].
//!
//! Decisions evaluate only the rules whose scope can match (see `index`), which gives Cedar's
//! decision at a fraction of the cost; a property test holds the two equal.
//!
//! # Example
//!
//! ```cedar
//! @id("developers-read")
//! permit(principal in Capstan::Group::"developers", action, resource)
//! when { resource.readOnly };
//!
//! @id("no-prod-deletes")
//! @advice("ask #platform-sre to delete on prod")
//! forbid(principal, action == Capstan::Action::"call", resource in Capstan::Instance::"prod")
//! when { resource.name like "*delete*" };
//! ```

mod decision;
mod index;
mod load;
mod model;
pub mod settings;
mod store;

use std::collections::HashMap;
use std::path::Path;

use cedar_policy::{Authorizer, PolicyId, PolicySet};
use serde_json::Value;

use decision::Rule;
pub use decision::{Decision, Outcome};
pub use load::{PolicyError, Problem, SCHEMA};
pub use model::Request;
pub use model::{ToolFacts, arguments_record, kind_name};
pub use store::{PolicyStatus, PolicyStore};

use crate::caller::Caller;
use model::Action;

/// A validated policy file, ready to decide.
pub struct Policy {
    set: PolicySet,
    /// Each policy's name, position and annotations, read once (Cedar parses the key of every
    /// annotation lookup).
    rules: HashMap<PolicyId, Rule>,
    index: index::Index,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("rules", &self.rule_names())
            .finish()
    }
}

impl Policy {
    /// Reads, parses and validates the policy file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_named_text(path, &text)
    }

    /// Parses and validates policy `text`.
    pub fn from_text(text: &str) -> Result<Self, PolicyError> {
        Self::from_named_text(Path::new("<policy>"), text)
    }

    fn from_named_text(file: &Path, text: &str) -> Result<Self, PolicyError> {
        let set = load::parse(file, text)?;
        let rules = set
            .policies()
            .map(|p| (p.id().clone(), Rule::of(p)))
            .collect();
        let index = index::Index::new(&set);
        let policy = Self { set, rules, index };
        policy.check_names(file)?;
        Ok(policy)
    }

    /// Two rules with one `@id` would make decisions ambiguous.
    fn check_names(&self, file: &Path) -> Result<(), PolicyError> {
        let mut names = self.rule_names();
        names.sort();
        let problems: Vec<Problem> = names
            .windows(2)
            .filter(|pair| pair[0] == pair[1])
            .map(|pair| Problem {
                line: None,
                column: None,
                message: format!(
                    "two rules are named `{}`; give each @id a name of its own",
                    pair[0]
                ),
            })
            .collect();
        match problems.is_empty() {
            true => Ok(()),
            false => Err(PolicyError::Invalid {
                file: file.to_path_buf(),
                problems,
            }),
        }
    }

    /// How many rules the policy has.
    pub fn rules(&self) -> usize {
        self.set.num_of_policies()
    }

    /// The rules' names (`@id` or Cedar's id), in file order.
    pub fn rule_names(&self) -> Vec<String> {
        let mut rules: Vec<&Rule> = self.rules.values().collect();
        rules.sort_by_key(|rule| rule.position);
        rules.into_iter().map(|rule| rule.name.clone()).collect()
    }

    /// May `request.caller` call the tool? Deny unless a rule grants it.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        self.evaluate(request, Action::Call)
    }

    /// Does `tool` appear in `caller`'s tools/list? Asks `list` (with `listing` true and no
    /// arguments) for each of the instance's `targets`, or once without a target when it has
    /// none; visible when any answer is not a deny.
    pub fn visible(&self, caller: &Caller, tool: &ToolFacts, targets: &[String]) -> bool {
        let no_arguments = Value::Null;
        let ask = |target: Option<&str>| {
            let request = Request {
                caller,
                tool,
                target,
                arguments: &no_arguments,
            };
            self.evaluate(&request, Action::List).outcome != Outcome::Deny
        };
        match targets {
            [] => ask(None),
            targets => targets.iter().any(|target| ask(Some(target))),
        }
    }

    /// Cedar's answer, from the rules that can match.
    fn respond(&self, request: &Request<'_>, action: Action) -> cedar_policy::Response {
        let prepared = self.index.prepare(request.caller, request.tool);
        let listing = action == Action::List;
        let context = model::context(request.target, request.arguments, listing);
        let cedar = model::cedar_request(request.caller, request.tool, action, context);
        Authorizer::new().is_authorized(&cedar, &prepared.policies, &prepared.entities)
    }

    fn evaluate(&self, request: &Request<'_>, action: Action) -> Decision {
        let response = self.respond(request, action);
        let about = decision::Subject {
            caller: request.caller,
            tool: request.tool,
            target: request.target,
        };
        let mut determining: Vec<&Rule> = response
            .diagnostics()
            .reason()
            .filter_map(|id| self.rules.get(id))
            .collect();
        determining.sort_by_key(|rule| rule.position);
        let mut decision = match response.decision() {
            cedar_policy::Decision::Allow => decision::allow(&determining, &about),
            cedar_policy::Decision::Deny => {
                determining.retain(|rule| rule.forbid);
                decision::deny(&determining, &about)
            }
        };
        decision.notes = response
            .diagnostics()
            .errors()
            .map(|error| decision::note(&self.rules, error))
            .collect();
        decision
    }

    /// Cedar's own answer over the whole policy set, for tests to compare with.
    #[cfg(test)]
    fn cedar_response(&self, request: &Request<'_>, action: Action) -> cedar_policy::Response {
        let context = model::context(request.target, request.arguments, action == Action::List);
        let cedar = model::cedar_request(request.caller, request.tool, action, context);
        let entities = model::entities(request.caller, request.tool);
        Authorizer::new().is_authorized(&cedar, &self.set, &entities)
    }
}

#[cfg(test)]
mod tests;
