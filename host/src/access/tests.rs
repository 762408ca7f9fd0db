//! Decisions: the example policy, the annotations, default deny, visibility, and the index
//! against Cedar's plain authorizer.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::caller::CallerKind;

const EXAMPLE: &str = include_str!("../../../docs/examples/policy.cedar");

fn person(subject: &str, groups: &[&str]) -> Caller {
    Caller {
        subject: subject.into(),
        name: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        client_id: None,
        scopes: Vec::new(),
        kind: CallerKind::Token {
            issuer: "https://id.example".into(),
        },
        token: None,
    }
}

fn ci_key() -> Caller {
    Caller {
        kind: CallerKind::ApiKey,
        ..person("ci-deployer", &[])
    }
}

/// An argocd tool as the snapshot annotates it.
fn argocd(name: &str) -> ToolFacts {
    let (read_only, destructive, idempotent) = match name {
        "get_application" => (true, false, true),
        "sync_application" => (false, true, false),
        "delete_application" => (false, true, true),
        "refresh_application" => (false, false, true),
        other => panic!("no fixture for {other}"),
    };
    ToolFacts {
        exposed: format!("argocd_{name}"),
        instance: "argocd".into(),
        name: name.into(),
        read_only,
        destructive,
        idempotent,
    }
}

fn decide(policy: &Policy, caller: &Caller, tool: &ToolFacts, target: Option<&str>) -> Decision {
    decide_with(policy, caller, tool, target, &Value::Null)
}

fn decide_with(
    policy: &Policy,
    caller: &Caller,
    tool: &ToolFacts,
    target: Option<&str>,
    arguments: &Value,
) -> Decision {
    policy.decide(&Request {
        caller,
        tool,
        target,
        arguments,
    })
}

fn outcome(policy: &Policy, caller: &Caller, tool: &str, target: &str) -> (Outcome, String) {
    let decision = decide(policy, caller, &argocd(tool), Some(target));
    (decision.outcome, decision.rule.unwrap_or_default())
}

#[test]
fn the_example_policy_decides_as_it_says() {
    let policy = Policy::from_text(EXAMPLE).unwrap();
    assert_eq!(policy.rules(), 6);
    let developer = person("alice", &["developers"]);
    let sre = person("bob", &["sre"]);
    let ci = ci_key();
    use Outcome::*;
    let cases = [
        (
            &developer,
            "get_application",
            "prod",
            Allow,
            "developers-read",
        ),
        (
            &developer,
            "sync_application",
            "staging",
            Allow,
            "developers-sync-staging",
        ),
        (&developer, "sync_application", "prod", Deny, ""),
        (&developer, "refresh_application", "staging", Deny, ""),
        (
            &developer,
            "delete_application",
            "prod",
            Deny,
            "no-deletes-on-prod",
        ),
        (&sre, "get_application", "staging", Allow, "sre-read"),
        (&sre, "sync_application", "prod", Confirm, "sre-sync-prod"),
        (&sre, "sync_application", "staging", Deny, ""),
        (
            &sre,
            "delete_application",
            "prod",
            Deny,
            "no-deletes-on-prod",
        ),
        (&ci, "sync_application", "staging", Allow, "ci-sync-staging"),
        (&ci, "sync_application", "prod", Deny, ""),
        (&ci, "get_application", "staging", Deny, ""),
    ];
    for (caller, tool, target, expected, rule) in cases {
        assert_eq!(
            outcome(&policy, caller, tool, target),
            (expected, rule.to_owned()),
            "{} calling {tool} on {target}",
            caller.subject
        );
    }
    // A person holding the CI key's name is not the CI key.
    let impostor = person("ci-deployer", &[]);
    assert_eq!(
        outcome(&policy, &impostor, "sync_application", "staging").0,
        Deny
    );
}

#[test]
fn confirm_renders_its_message_and_advice_joins_the_reason() {
    let policy = Policy::from_text(EXAMPLE).unwrap();
    let sre = person("bob", &["sre"]);
    let confirm = decide(&policy, &sre, &argocd("sync_application"), Some("prod"));
    assert_eq!(
        confirm.reason,
        "bob wants to sync an application on prod with argocd_sync_application. Go ahead?"
    );
    let refused = decide(&policy, &sre, &argocd("delete_application"), Some("prod"));
    assert!(
        refused
            .reason
            .starts_with("rule `no-deletes-on-prod` forbids `argocd_delete_application` on `prod` to `bob`: deleting on prod goes through a change request"),
        "{}",
        refused.reason
    );
    let bare = Policy::from_text(
        "@confirm\npermit(principal, action, resource);\npermit(principal, action, resource) when { resource.readOnly };",
    )
    .unwrap();
    let decision = decide(&bare, &sre, &argocd("get_application"), None);
    assert_eq!(decision.outcome, Outcome::Confirm, "{decision:?}");
    assert_eq!(decision.rule.as_deref(), Some("policy0"));
    assert!(
        decision.reason.contains("asks for confirmation"),
        "{decision:?}"
    );
}

#[test]
fn without_a_permit_the_reason_says_who_lacks_what_and_where_to_grant_it() {
    let policy = Policy::from_text(EXAMPLE).unwrap();
    let decision = decide(
        &policy,
        &person("alice", &["developers", "oncall"]),
        &argocd("sync_application"),
        Some("prod"),
    );
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.rule, None);
    assert_eq!(
        decision.reason,
        "no rule grants `argocd_sync_application` on `prod` to `alice` (groups developers, oncall); the operator can grant it in the policy file"
    );
    let empty = Policy::from_text("").unwrap();
    assert_eq!(empty.rules(), 0);
    let decision = decide(
        &empty,
        &Caller::anonymous(),
        &argocd("get_application"),
        None,
    );
    assert_eq!(decision.outcome, Outcome::Deny);
    assert!(decision.reason.contains("(no groups)"), "{decision:?}");
}

#[test]
fn rules_are_named_by_id_else_by_position_and_names_are_unique() {
    let policy = Policy::from_text(
        "permit(principal, action, resource) when { resource.readOnly };\n@id(\"b\")\nforbid(principal, action, resource) when { resource.destructive };",
    )
    .unwrap();
    assert_eq!(policy.rule_names(), ["policy0", "b"]);
    let error = Policy::from_text(
        "@id(\"a\") permit(principal, action, resource);\n@id(\"a\") forbid(principal, action, resource);",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("two rules are named `a`"),
        "{error}"
    );
}

#[test]
fn a_rule_that_fails_to_evaluate_is_skipped_and_noted() {
    let policy = Policy::from_text(
        "@id(\"no-prune\")\nforbid(principal, action, resource) when { context.arguments.prune == true };\n@id(\"all\")\npermit(principal, action, resource);",
    )
    .unwrap();
    let alice = person("alice", &[]);
    let tool = argocd("sync_application");
    let without = decide_with(&policy, &alice, &tool, None, &json!({"name": "web"}));
    assert_eq!(without.outcome, Outcome::Allow);
    assert_eq!(without.notes.len(), 1, "{without:?}");
    assert!(
        without.notes[0].starts_with("rule `no-prune` was skipped"),
        "{without:?}"
    );
    let pruning = decide_with(&policy, &alice, &tool, None, &json!({"prune": true}));
    assert_eq!(pruning.outcome, Outcome::Deny);
    assert_eq!(pruning.rule.as_deref(), Some("no-prune"));
    assert!(pruning.notes.is_empty());
}

#[test]
fn a_tool_is_visible_when_some_target_lets_the_caller_see_it() {
    let policy = Policy::from_text(EXAMPLE).unwrap();
    let targets = ["prod".to_owned(), "staging".to_owned()];
    let developer = person("alice", &["developers"]);
    let sre = person("bob", &["sre"]);
    let outsider = person("eve", &["marketing"]);
    let sync = argocd("sync_application");
    assert!(policy.visible(&developer, &sync, &targets));
    assert!(!policy.visible(&developer, &sync, &targets[..1]));
    assert!(
        policy.visible(&sre, &sync, &targets[..1]),
        "confirm is not a deny"
    );
    assert!(!policy.visible(&outsider, &argocd("get_application"), &targets));
    assert!(policy.visible(&developer, &argocd("get_application"), &[]));
    assert!(
        !policy.visible(&developer, &sync, &[]),
        "no target: staging unknown"
    );
    // `action == call` grants calling, not seeing.
    let call_only =
        Policy::from_text("permit(principal, action == Capstan::Action::\"call\", resource);")
            .unwrap();
    assert!(!call_only.visible(&developer, &sync, &[]));
    assert_eq!(
        decide(&call_only, &developer, &sync, None).outcome,
        Outcome::Allow
    );
    // Listing sees `context.listing` and no arguments.
    let listing = Policy::from_text(
        "permit(principal, action, resource) when { context.listing && context.arguments == {} };",
    )
    .unwrap();
    assert!(listing.visible(&developer, &sync, &[]));
    assert_eq!(
        decide(&listing, &developer, &sync, None).outcome,
        Outcome::Deny
    );
}

#[test]
fn problems_carry_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.cedar");
    std::fs::write(
        &file,
        "permit(principal, action, resource);\npermit(principal, acton, resource);\n",
    )
    .unwrap();
    let error = Policy::from_file(&file).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("policy.cedar"), "{text}");
    assert!(text.contains("\n  2:"), "{text}");
    let missing = Policy::from_file(&dir.path().join("nope.cedar")).unwrap_err();
    assert!(missing.to_string().contains("nope.cedar"), "{missing}");
}

// The index: on random policies and requests, the sliced answer is Cedar's answer over the
// whole set — the decision, the determining policies and the failing ones.

const PRINCIPALS: &[&str] = &[
    "principal",
    "principal == Capstan::User::\"u0\"",
    "principal == Capstan::User::\"u1\"",
    "principal in Capstan::Group::\"g0\"",
    "principal in Capstan::Group::\"g1\"",
    "principal in Capstan::User::\"u2\"",
    "principal is Capstan::User",
    "principal is Capstan::User in Capstan::Group::\"g2\"",
];
const ACTIONS: &[&str] = &[
    "action",
    "action == Capstan::Action::\"call\"",
    "action == Capstan::Action::\"list\"",
    "action in Capstan::Action::\"call\"",
    "action in [Capstan::Action::\"list\"]",
];
const RESOURCES: &[&str] = &[
    "resource",
    "resource == Capstan::Tool::\"t0\"",
    "resource == Capstan::Tool::\"t1\"",
    "resource in Capstan::Instance::\"i0\"",
    "resource in Capstan::Instance::\"i1\"",
    "resource in Capstan::Tool::\"t2\"",
    "resource is Capstan::Tool",
];
const CONDITIONS: &[&str] = &[
    "",
    "when { context.listing }",
    "when { resource.readOnly }",
    "unless { resource.destructive }",
    "when { context has target && context.target == \"prod\" }",
    "when { context.arguments.prune == true }",
    "when { principal.kind == \"apiKey\" }",
    "when { principal in Capstan::Group::\"g2\" }",
    "when { resource in Capstan::Instance::\"i1\" }",
];

fn policy_text() -> impl Strategy<Value = String> {
    let rule = (
        any::<bool>(),
        0..PRINCIPALS.len(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..CONDITIONS.len(),
    );
    prop::collection::vec(rule, 0..16).prop_map(|rules| {
        rules
            .into_iter()
            .map(|(permit, p, a, r, c)| {
                let effect = if permit { "permit" } else { "forbid" };
                format!(
                    "{effect}({}, {}, {}) {};\n",
                    PRINCIPALS[p], ACTIONS[a], RESOURCES[r], CONDITIONS[c]
                )
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
struct Case {
    caller: Caller,
    tool: ToolFacts,
    target: Option<String>,
    arguments: Value,
    list: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..4usize,
        prop::collection::vec(0..4usize, 0..3),
        any::<bool>(),
        0..4usize,
        0..3usize,
        (any::<bool>(), any::<bool>()),
        prop::option::of(prop::sample::select(vec!["prod", "staging"])),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(user, groups, key, tool, instance, (read_only, destructive), target, prune, list)| {
                let groups: Vec<String> = groups.iter().map(|g| format!("g{g}")).collect();
                let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
                let mut caller = person(&format!("u{user}"), &groups);
                if key {
                    caller.kind = CallerKind::ApiKey;
                }
                Case {
                    caller,
                    tool: ToolFacts {
                        exposed: format!("t{tool}"),
                        instance: format!("i{instance}"),
                        name: format!("t{tool}"),
                        read_only,
                        destructive,
                        idempotent: false,
                    },
                    target: target.map(str::to_owned),
                    arguments: prune.map_or(json!({}), |prune| json!({ "prune": prune })),
                    list,
                }
            },
        )
}

fn summary(response: &cedar_policy::Response) -> (bool, BTreeSet<String>, BTreeSet<String>) {
    let allowed = response.decision() == cedar_policy::Decision::Allow;
    let reasons = response.diagnostics().reason().map(|id| id.to_string());
    let errors = response.diagnostics().errors().map(|error| {
        let cedar_policy::AuthorizationError::PolicyEvaluationError(error) = error;
        error.policy_id().to_string()
    });
    (allowed, reasons.collect(), errors.collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_index_gives_cedars_decision(text in policy_text(), cases in prop::collection::vec(case(), 1..8)) {
        let policy = Policy::from_text(&text).unwrap();
        for case in &cases {
            let request = Request {
                caller: &case.caller,
                tool: &case.tool,
                target: case.target.as_deref(),
                arguments: &case.arguments,
            };
            let action = if case.list { Action::List } else { Action::Call };
            let sliced = summary(&policy.respond(&request, action));
            let whole = summary(&policy.cedar_response(&request, action));
            prop_assert_eq!(sliced, whole, "{:?}", case);
        }
    }
}
