//! The Cedar request for one decision: the caller as a `Capstan::User`, the tool as a
//! `Capstan::Tool` in its `Capstan::Instance`, the action, and the context (target, arguments,
//! listing). Built per request from plain values, without the schema (the types are right by
//! construction), so building is cheap.

use std::collections::{HashMap, HashSet};
use std::str::FromStr as _;
use std::sync::LazyLock;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression,
};
use serde_json::Value;

use crate::caller::{Caller, CallerKind};

/// What the policy knows about a tool; the MCP front fills it in from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolFacts {
    /// The name clients see (with the instance's prefix).
    pub exposed: String,
    /// The plugin instance serving it.
    pub instance: String,
    /// The plugin's own name for it.
    pub name: String,
    /// Only reads: its annotation says so, or the instance is read-only.
    pub read_only: bool,
    /// May destroy or overwrite something (its annotation).
    pub destructive: bool,
    /// Repeating it with the same arguments does no more (its annotation).
    pub idempotent: bool,
}

/// One question: may `caller` call `tool` on `target` with `arguments`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub caller: &'a Caller,
    /// The tool.
    pub tool: &'a ToolFacts,
    /// The target the call addresses, if known.
    pub target: Option<&'a str>,
    /// The call's JSON arguments (an object; anything else counts as no arguments).
    pub arguments: &'a Value,
}

/// The two actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Call,
    List,
}

struct Types {
    user: EntityTypeName,
    group: EntityTypeName,
    tool: EntityTypeName,
    instance: EntityTypeName,
    call: EntityUid,
    list: EntityUid,
    /// `Action::"list" in Action::"call"`, for every request's entity store.
    actions: [Entity; 2],
}

static TYPES: LazyLock<Types> = LazyLock::new(|| {
    let name = |text: &str| EntityTypeName::from_str(text).expect("valid type name");
    let action = name("Capstan::Action");
    let call = EntityUid::from_type_name_and_id(action.clone(), EntityId::new("call"));
    let list = EntityUid::from_type_name_and_id(action, EntityId::new("list"));
    let actions = [
        Entity::new_no_attrs(call.clone(), HashSet::new()),
        Entity::new_no_attrs(list.clone(), [call.clone()].into()),
    ];
    Types {
        user: name("Capstan::User"),
        group: name("Capstan::Group"),
        tool: name("Capstan::Tool"),
        instance: name("Capstan::Instance"),
        call,
        list,
        actions,
    }
});

fn uid(kind: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
}

/// `Capstan::User::"<subject>"`.
pub(crate) fn user_uid(subject: &str) -> EntityUid {
    uid(&TYPES.user, subject)
}

/// `Capstan::Group::"<group>"`.
pub(crate) fn group_uid(group: &str) -> EntityUid {
    uid(&TYPES.group, group)
}

/// `Capstan::Tool::"<exposed>"`.
pub(crate) fn tool_uid(exposed: &str) -> EntityUid {
    uid(&TYPES.tool, exposed)
}

/// `Capstan::Instance::"<instance>"`.
pub(crate) fn instance_uid(instance: &str) -> EntityUid {
    uid(&TYPES.instance, instance)
}

/// `Capstan::Action::"call"` or `"list"`.
pub(crate) fn action_uid(action: Action) -> EntityUid {
    match action {
        Action::Call => TYPES.call.clone(),
        Action::List => TYPES.list.clone(),
    }
}

/// The `kind` attribute of a caller.
pub fn kind_name(kind: &CallerKind) -> &'static str {
    match kind {
        CallerKind::Token { .. } => "token",
        CallerKind::ApiKey => "apiKey",
        CallerKind::SharedToken => "sharedToken",
        CallerKind::Anonymous => "anonymous",
    }
}

fn string(text: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(text.to_owned())
}

fn user_entity(caller: &Caller) -> Entity {
    let attrs = HashMap::from([
        (
            "name".to_owned(),
            string(caller.name.as_deref().unwrap_or("")),
        ),
        (
            "clientId".to_owned(),
            string(caller.client_id.as_deref().unwrap_or("")),
        ),
        ("kind".to_owned(), string(kind_name(&caller.kind))),
        (
            "scopes".to_owned(),
            RestrictedExpression::new_set(caller.scopes.iter().map(|s| string(s))),
        ),
    ]);
    let parents = caller.groups.iter().map(|g| group_uid(g)).collect();
    Entity::new(user_uid(&caller.subject), attrs, parents).expect("literal attributes")
}

fn tool_entity(tool: &ToolFacts) -> Entity {
    let attrs = HashMap::from([
        ("instance".to_owned(), string(&tool.instance)),
        ("name".to_owned(), string(&tool.name)),
        (
            "readOnly".to_owned(),
            RestrictedExpression::new_bool(tool.read_only),
        ),
        (
            "destructive".to_owned(),
            RestrictedExpression::new_bool(tool.destructive),
        ),
        (
            "idempotent".to_owned(),
            RestrictedExpression::new_bool(tool.idempotent),
        ),
    ]);
    let parents = [instance_uid(&tool.instance)].into();
    Entity::new(tool_uid(&tool.exposed), attrs, parents).expect("literal attributes")
}

/// The entity store of one request: the caller, the tool and the two actions.
pub(crate) fn entities(caller: &Caller, tool: &ToolFacts) -> Entities {
    let all = [user_entity(caller), tool_entity(tool)]
        .into_iter()
        .chain(TYPES.actions.iter().cloned());
    // Distinct uids of literal values: nothing can fail.
    Entities::from_entities(all, None).expect("distinct entities")
}

/// The context record: `target` (absent when unknown), `arguments`, `listing`.
pub(crate) fn context(target: Option<&str>, arguments: &Value, listing: bool) -> Context {
    let mut pairs = vec![
        ("arguments".to_owned(), arguments_record(arguments)),
        (
            "listing".to_owned(),
            RestrictedExpression::new_bool(listing),
        ),
    ];
    if let Some(target) = target {
        pairs.push(("target".to_owned(), string(target)));
    }
    Context::from_pairs(pairs).expect("distinct keys")
}

/// The call's arguments as a Cedar record: objects → records, arrays → sets, integral numbers
/// → Long, other numbers → String, `null` dropped; anything but an object → the empty record.
pub fn arguments_record(arguments: &Value) -> RestrictedExpression {
    match arguments {
        Value::Object(fields) => record(fields),
        _ => record(&serde_json::Map::new()),
    }
}

fn record(fields: &serde_json::Map<String, Value>) -> RestrictedExpression {
    let fields = fields
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), expression(value)?)));
    // JSON object keys are unique.
    RestrictedExpression::new_record(fields).expect("unique keys")
}

fn expression(value: &Value) -> Option<RestrictedExpression> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(flag) => RestrictedExpression::new_bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(long) => RestrictedExpression::new_long(long),
            None => string(&number.to_string()),
        },
        Value::String(text) => string(text),
        Value::Array(items) => RestrictedExpression::new_set(items.iter().filter_map(expression)),
        Value::Object(fields) => record(fields),
    })
}

/// The Cedar request for `action` on `tool` by `caller`.
pub(crate) fn cedar_request(
    caller: &Caller,
    tool: &ToolFacts,
    action: Action,
    context: Context,
) -> cedar_policy::Request {
    cedar_policy::Request::new(
        user_uid(&caller.subject),
        action_uid(action),
        tool_uid(&tool.exposed),
        context,
        None,
    )
    .expect("no schema, nothing to violate")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::{Authorizer, Decision, PolicySet};

    fn allowed(policy: &str, target: Option<&str>, arguments: Value, action: Action) -> bool {
        let caller = Caller {
            subject: "alice".into(),
            name: Some("Alice".into()),
            groups: vec!["developers".into()],
            client_id: Some("claude".into()),
            scopes: vec!["capstan:tools".into()],
            kind: CallerKind::Token {
                issuer: "https://id.example".into(),
            },
            token: None,
        };
        let tool = ToolFacts {
            exposed: "staging_argocd_sync_application".into(),
            instance: "staging".into(),
            name: "argocd_sync_application".into(),
            read_only: false,
            destructive: true,
            idempotent: false,
        };
        let request = cedar_request(
            &caller,
            &tool,
            action,
            context(target, &arguments, action == Action::List),
        );
        let policies: PolicySet = policy.parse().unwrap();
        let response =
            Authorizer::new().is_authorized(&request, &policies, &entities(&caller, &tool));
        response.decision() == Decision::Allow
    }

    #[test]
    fn the_caller_and_the_tool_carry_their_attributes_and_parents() {
        let cases = [
            r#"principal in Capstan::Group::"developers", action, resource) when { principal.name == "Alice" && principal.clientId == "claude" && principal.kind == "token" && principal.scopes.contains("capstan:tools") }"#,
            r#"principal == Capstan::User::"alice", action, resource in Capstan::Instance::"staging") when { resource.instance == "staging" && resource.name == "argocd_sync_application" && resource.destructive && !resource.readOnly && !resource.idempotent }"#,
            r#"principal, action, resource == Capstan::Tool::"staging_argocd_sync_application") when { context has target && context.target == "staging" && !context.listing }"#,
        ];
        for case in cases {
            let policy = format!("permit({case};");
            assert!(
                allowed(&policy, Some("staging"), Value::Null, Action::Call),
                "{policy}"
            );
        }
        let no_target = r#"permit(principal, action, resource) when { context has target };"#;
        assert!(!allowed(no_target, None, Value::Null, Action::Call));
    }

    #[test]
    fn list_is_a_member_of_call() {
        let both = r#"permit(principal, action in Capstan::Action::"call", resource);"#;
        let call_only = r#"permit(principal, action == Capstan::Action::"call", resource);"#;
        assert!(allowed(both, None, Value::Null, Action::List));
        assert!(allowed(both, None, Value::Null, Action::Call));
        assert!(!allowed(call_only, None, Value::Null, Action::List));
        assert!(allowed(call_only, None, Value::Null, Action::Call));
    }

    #[test]
    fn arguments_become_a_record_of_longs_strings_sets_and_records() {
        let arguments = serde_json::json!({
            "name": "guestbook",
            "prune": true,
            "replicas": 3,
            "ratio": 0.5,
            "labels": ["a", "b"],
            "options": {"force": false},
            "revision": null,
        });
        let policy = r#"permit(principal, action, resource) when {
            context.arguments.name == "guestbook" && context.arguments.prune &&
            context.arguments.replicas > 2 && context.arguments.ratio == "0.5" &&
            context.arguments.labels.contains("b") && !context.arguments.options.force &&
            !(context.arguments has revision)
        };"#;
        assert!(allowed(policy, None, arguments, Action::Call));
        let not_an_object =
            r#"permit(principal, action, resource) when { context.arguments == {} };"#;
        assert!(allowed(
            not_an_object,
            None,
            serde_json::json!([1]),
            Action::Call
        ));
    }
}
