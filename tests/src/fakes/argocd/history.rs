//! What an application records about its deployments: the `status.history` entries (oldest
//! first, ids counting up), the `status.operationState` of its last sync with the sync result
//! Argo CD keeps (one entry per applied object, with what `kubectl apply` said), and the
//! fake's clock for the times in them.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::app::RECONCILED_AT;
use super::managed;

/// When the deployment before the current one finished, for hand-built applications.
const PREVIOUS_DEPLOY_AT: &str = "2026-08-18T15:20:44Z";
/// How long a sync takes from start to finish.
const SYNC_SECONDS: u64 = 37;
/// Users who sync by hand, the first one for the deployment before the current one.
const USERS: [&str; 3] = ["admin", "dana@example.com", "lee@example.com"];

static NOW: LazyLock<SystemTime> =
    LazyLock::new(|| humantime::parse_rfc3339(RECONCILED_AT).expect("the fake's clock parses"));

/// The fake's clock minus `seconds`, as RFC 3339.
pub(crate) fn before(seconds: u64) -> String {
    humantime::format_rfc3339_seconds(*NOW - Duration::from_secs(seconds)).to_string()
}

/// One deployment of an application's history.
pub(crate) struct Deployment<'a> {
    pub id: usize,
    pub revision: &'a str,
    pub source: &'a Value,
    /// Seconds before now when it finished.
    pub age: u64,
    pub initiated_by: Value,
}

impl Deployment<'_> {
    /// The `v1alpha1RevisionHistory` entry.
    pub(crate) fn to_json(&self) -> Value {
        let deployed_at = match self.age {
            0 => RECONCILED_AT.to_owned(),
            age if age == previous_age() => PREVIOUS_DEPLOY_AT.to_owned(),
            age => before(age),
        };
        let started_at = before(self.age + SYNC_SECONDS);
        json!({"id": self.id, "revision": self.revision, "deployedAt": deployed_at,
               "deployStartedAt": started_at, "source": self.source.clone(),
               "initiatedBy": self.initiated_by.clone()})
    }
}

/// How long ago the deployment before the current one finished.
pub(crate) fn previous_age() -> u64 {
    let previous = humantime::parse_rfc3339(PREVIOUS_DEPLOY_AT).expect("a fixed time parses");
    NOW.duration_since(previous).map_or(0, |age| age.as_secs())
}

/// Who started the deployment `steps` back from the current one (1 = the one before):
/// automated applications alternate between the controller and people.
pub(crate) fn initiator(automated: bool, steps: usize) -> Value {
    if automated && steps > 1 && steps.is_multiple_of(2) {
        json!({"automated": true})
    } else {
        json!({"username": USERS[(steps.max(1) - 1) % USERS.len()]})
    }
}

/// The last sync an application ran: the operation, its phase and message, and the sync
/// result over `resources` (its `status.resources`). A failed sync names the object it could
/// not apply.
pub(crate) struct LastSync<'a> {
    pub revision: &'a str,
    pub source: &'a Value,
    pub sync_options: &'a Value,
    pub automated: bool,
    pub retry: &'a Value,
    pub resources: &'a [Value],
    pub images: &'a [String],
    /// Seconds before now when it finished.
    pub age: u64,
    pub failure: Option<&'a str>,
}

impl LastSync<'_> {
    /// The `v1alpha1OperationState`.
    pub(crate) fn to_json(&self) -> Value {
        let initiated_by = if self.automated {
            json!({"automated": true})
        } else {
            json!({"username": USERS[0]})
        };
        let mut sync =
            json!({"revision": self.revision, "prune": true, "source": self.source.clone()});
        if self.sync_options.is_array() {
            sync["syncOptions"] = self.sync_options.clone();
        }
        let mut operation = json!({"sync": sync, "initiatedBy": initiated_by});
        if self.retry.is_object() {
            operation["retry"] = self.retry.clone();
        }
        let (phase, message) = match self.failure {
            None => (
                "Succeeded",
                "successfully synced (all tasks run)".to_owned(),
            ),
            Some(reason) => (
                "Failed",
                format!("one or more objects failed to apply, reason: {reason}"),
            ),
        };
        let mut state = json!({
            "operation": operation, "phase": phase, "message": message,
            "startedAt": before(self.age + SYNC_SECONDS), "finishedAt": before(self.age),
            "syncResult": {"revision": self.revision, "source": self.source.clone(),
                           "resources": results(self.resources, self.images, self.failure)},
        });
        if self.failure.is_some() && self.retry.is_object() {
            state["retryCount"] = self.retry["limit"].clone();
        }
        state
    }
}

/// The sync result of applying `resources`: the Deployment and its ConfigMap `configured`,
/// the rest `unchanged`; with `failure`, the last object that can fail admission (an Ingress,
/// else the Deployment) `SyncFailed` with that reason.
pub(crate) fn results(resources: &[Value], images: &[String], failure: Option<&str>) -> Vec<Value> {
    let failing = failure.and_then(|_| {
        resources
            .iter()
            .rposition(|r| r["kind"] == "Ingress")
            .or_else(|| resources.iter().position(|r| r["kind"] == "Deployment"))
    });
    resources
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let changed = matches!(entry["kind"].as_str(), Some("Deployment"))
                || entry["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-config"));
            let mut result = managed::sync_result(entry, changed, images);
            if let (Some(reason), true) = (failure, failing == Some(index)) {
                result["status"] = json!("SyncFailed");
                result["message"] = json!(reason);
            }
            result
        })
        .collect()
}
