//! Evaluating only the policies that can match. Cedar's authorizer evaluates every policy it is
//! given; with a thousand rules that is most of a decision's time. A policy whose scope names a
//! principal (`principal == User::"x"`, `principal in Group::"g"`) or a resource
//! (`resource == Tool::"t"`, `resource in Instance::"i"`) cannot be satisfied by a request whose
//! caller or tool lies elsewhere, and an unsatisfied scope evaluates to false before the
//! conditions (so without errors). Leaving those policies out changes neither the decision, nor
//! the determining policies, nor the errors: the slice's answer is Cedar's answer.
//!
//! Policies are filed under their scope's entity (or under "any"); a request gathers the
//! buckets of its user, its groups, its tool and its instance. Slices are cached with the
//! request's entity store (building that is most of a decision's cost otherwise) per caller and
//! tool facts, in a bounded cache cleared when full.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash as _, Hasher as _, RandomState};
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Entities, EntityUid, Policy, PolicySet, PrincipalConstraint, ResourceConstraint,
};

use super::model::{self, ToolFacts};
use crate::caller::Caller;

/// Slices kept before the cache starts over.
const CACHE_LIMIT: usize = 4096;

/// Where a policy's scope confines it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Any,
    Entity(EntityUid),
}

/// The policies by (principal key, resource key), and the prepared requests.
pub(crate) struct Index {
    policies: Vec<Policy>,
    buckets: HashMap<(Key, Key), Vec<usize>>,
    hasher: RandomState,
    cache: RwLock<HashMap<u64, Arc<Prepared>>>,
}

/// What a request by one caller for one tool evaluates: the slice of policies that can match
/// and the entity store (the same for every call with the same caller and tool facts).
pub(crate) struct Prepared {
    /// The policies whose scope can match.
    pub(crate) policies: PolicySet,
    /// The caller, the tool and the actions.
    pub(crate) entities: Entities,
    caller: Caller,
    tool: ToolFacts,
}

impl Prepared {
    /// Whether this was prepared for exactly these facts (the cache is keyed by their hash).
    fn is_for(&self, caller: &Caller, tool: &ToolFacts) -> bool {
        let (mine, theirs) = (&self.caller, caller);
        self.tool == *tool
            && mine.subject == theirs.subject
            && mine.groups == theirs.groups
            && mine.name == theirs.name
            && mine.client_id == theirs.client_id
            && mine.scopes == theirs.scopes
            && model::kind_name(&mine.kind) == model::kind_name(&theirs.kind)
    }
}

impl Index {
    /// Files every policy of `set`.
    pub(crate) fn new(set: &PolicySet) -> Self {
        let policies: Vec<Policy> = set.policies().cloned().collect();
        let mut buckets: HashMap<(Key, Key), Vec<usize>> = HashMap::new();
        for (at, policy) in policies.iter().enumerate() {
            let key = (principal_key(policy), resource_key(policy));
            buckets.entry(key).or_default().push(at);
        }
        Self {
            policies,
            buckets,
            hasher: RandomState::new(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The policies that can match a request by `caller` for `tool`, and its entities.
    pub(crate) fn prepare(&self, caller: &Caller, tool: &ToolFacts) -> Arc<Prepared> {
        let key = self.hash(caller, tool);
        if let Some(prepared) = self.cache.read().expect("slice cache lock").get(&key)
            && prepared.is_for(caller, tool)
        {
            return prepared.clone();
        }
        let prepared = Arc::new(Prepared {
            policies: self.slice(caller, tool),
            entities: model::entities(caller, tool),
            caller: Caller {
                token: None,
                ..caller.clone()
            },
            tool: tool.clone(),
        });
        let mut cache = self.cache.write().expect("slice cache lock");
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, prepared.clone());
        prepared
    }

    fn hash(&self, caller: &Caller, tool: &ToolFacts) -> u64 {
        let mut state = self.hasher.build_hasher();
        (
            &caller.subject,
            &caller.groups,
            &caller.name,
            &caller.client_id,
        )
            .hash(&mut state);
        (&caller.scopes, model::kind_name(&caller.kind)).hash(&mut state);
        (&tool.exposed, &tool.instance, &tool.name).hash(&mut state);
        (tool.read_only, tool.destructive, tool.idempotent).hash(&mut state);
        state.finish()
    }

    fn slice(&self, caller: &Caller, tool: &ToolFacts) -> PolicySet {
        let principals = [Key::Any, Key::Entity(model::user_uid(&caller.subject))]
            .into_iter()
            .chain(
                caller
                    .groups
                    .iter()
                    .map(|g| Key::Entity(model::group_uid(g))),
            );
        let resources = [
            Key::Any,
            Key::Entity(model::tool_uid(&tool.exposed)),
            Key::Entity(model::instance_uid(&tool.instance)),
        ];
        let mut chosen: Vec<usize> = Vec::new();
        for principal in principals {
            for resource in &resources {
                if let Some(bucket) = self.buckets.get(&(principal.clone(), resource.clone())) {
                    chosen.extend(bucket);
                }
            }
        }
        // A group listed twice would gather its bucket twice.
        chosen.sort_unstable();
        chosen.dedup();
        let chosen = chosen.into_iter().map(|at| self.policies[at].clone());
        PolicySet::from_policies(chosen).expect("distinct ids from one policy set")
    }
}

fn principal_key(policy: &Policy) -> Key {
    match policy.principal_constraint() {
        PrincipalConstraint::Eq(uid)
        | PrincipalConstraint::In(uid)
        | PrincipalConstraint::IsIn(_, uid) => Key::Entity(uid),
        PrincipalConstraint::Any | PrincipalConstraint::Is(_) => Key::Any,
    }
}

fn resource_key(policy: &Policy) -> Key {
    match policy.resource_constraint() {
        ResourceConstraint::Eq(uid)
        | ResourceConstraint::In(uid)
        | ResourceConstraint::IsIn(_, uid) => Key::Entity(uid),
        ResourceConstraint::Any | ResourceConstraint::Is(_) => Key::Any,
    }
}
