//! Health of a Flux object, as the Flux status rules define it, first match wins:
//!
//! 1. **Suspended**: `spec.suspend` is true.
//! 2. **Stalled**: a `Stalled=True` condition (the controller gave up; `flux reconcile` fails
//!    fast on it).
//! 3. **Failing while retrying** (reported as `NotReady`, with the `Ready` condition's reason and
//!    message and `retrying: true`): a `Reconciling=True` condition next to `Ready=False`, or
//!    with reason `ProgressingWithRetry`. The controller failed (a kustomize build, a Helm
//!    upgrade) and tries again; the failure is the news, not the retry.
//! 4. **Reconciling**: `status.observedGeneration` differs from `metadata.generation`, a
//!    `Reconciling=True` condition, or a `Ready` condition that is `Unknown` or was observed
//!    for an older generation.
//! 5. **Ready**: `Ready=True` for the current generation.
//! 6. **NotReady**: `Ready=False`.
//! 7. **Unknown**: no `Ready` condition yet ("waiting to be reconciled").
//!
//! An OCI HelmRepository is static (never reconciled) and always Ready.

use capstan_sdk::{Value, json};

use crate::kinds::Kind;

/// The health states, as the tools spell them.
pub(crate) const STATES: [&str; 6] = [
    "Suspended",
    "Stalled",
    "Reconciling",
    "Ready",
    "NotReady",
    "Unknown",
];

/// An object's health: its state, and the reason and message that explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Health {
    pub(crate) state: &'static str,
    pub(crate) reason: String,
    pub(crate) message: String,
    /// The controller failed and retries (`state` is `NotReady`).
    pub(crate) retrying: bool,
}

impl Health {
    fn new(state: &'static str, condition: Option<&Value>, fallback: &str) -> Self {
        let text = |field: &str| {
            condition
                .and_then(|condition| condition[field].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let message = Some(text("message"))
            .filter(|message| !message.is_empty())
            .unwrap_or_else(|| fallback.to_owned());
        Self {
            state,
            reason: text("reason"),
            message,
            retrying: false,
        }
    }

    /// As JSON: `{state, reason, message}`, and `retrying: true` when the controller retries
    /// after a failure.
    pub(crate) fn to_json(&self) -> Value {
        let mut health =
            json!({"state": self.state, "reason": self.reason, "message": self.message});
        if self.retrying {
            health["retrying"] = json!(true);
        }
        health
    }
}

/// The condition `kind` of `object`, if it has one.
pub(crate) fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
}

fn is_true<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    condition(object, kind).filter(|condition| condition["status"] == "True")
}

/// Whether `spec.suspend` is set.
pub(crate) fn suspended(object: &Value) -> bool {
    object["spec"]["suspend"].as_bool().unwrap_or(false)
}

/// The health of `object`, a `kind`.
pub(crate) fn of(kind: Kind, object: &Value) -> Health {
    let ready = condition(object, "Ready");
    if suspended(object) {
        return Health::new("Suspended", ready, "suspended: the controller skips it");
    }
    if kind.is_static(object) {
        return Health {
            state: "Ready",
            reason: "Static".into(),
            message: "Helm repository is Ready".into(),
            retrying: false,
        };
    }
    if let Some(stalled) = is_true(object, "Stalled") {
        return Health::new("Stalled", Some(stalled), "stalled");
    }
    if let Some(failing) = failing_while_retrying(object, ready) {
        return failing;
    }
    let generation = object["metadata"]["generation"].as_i64();
    let observed = object["status"]["observedGeneration"].as_i64();
    if observed.is_some() && observed != generation {
        return Health::new(
            "Reconciling",
            ready,
            "waiting for the new generation to be observed",
        );
    }
    if let Some(reconciling) = is_true(object, "Reconciling") {
        return Health::new("Reconciling", Some(reconciling), "reconciling");
    }
    let Some(ready) = ready else {
        return Health::new("Unknown", None, "waiting to be reconciled");
    };
    match ready["status"].as_str() {
        Some("True") if current(ready, generation, observed) => {
            Health::new("Ready", Some(ready), "ready")
        }
        Some("False") => Health::new("NotReady", Some(ready), "not ready"),
        _ => Health::new("Reconciling", Some(ready), "reconciling"),
    }
}

/// A controller that failed and retries: `Reconciling=True` with `Ready=False`, or with reason
/// `ProgressingWithRetry`. Told as `NotReady` with the failure (Ready's reason and message, else
/// the Reconciling condition's).
fn failing_while_retrying(object: &Value, ready: Option<&Value>) -> Option<Health> {
    let reconciling = is_true(object, "Reconciling")?;
    let ready_failed = ready.filter(|ready| ready["status"] == "False");
    if ready_failed.is_none() && reconciling["reason"] != "ProgressingWithRetry" {
        return None;
    }
    let mut health = Health::new(
        "NotReady",
        ready_failed.or(Some(reconciling)),
        "failed; the controller retries",
    );
    health.retrying = true;
    Some(health)
}

/// Whether the Ready condition speaks of the current generation: its own
/// `observedGeneration` when set, else the status'.
fn current(ready: &Value, generation: Option<i64>, observed: Option<i64>) -> bool {
    let seen = ready["observedGeneration"]
        .as_i64()
        .filter(|seen| *seen != 0)
        .or(observed);
    seen.is_none() || generation.is_none() || seen == generation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;

    fn object(generation: i64, spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "apps", "namespace": "flux-system", "generation": generation},
               "spec": spec, "status": status})
    }

    fn cond(kind: &str, status: &str, reason: &str, message: &str, generation: i64) -> Value {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "observedGeneration": generation})
    }

    fn state(object: &Value) -> (&'static str, String, String) {
        let health = of(kinds::named("Kustomization").unwrap(), object);
        (health.state, health.reason, health.message)
    }

    #[test]
    fn suspended_wins_over_everything() {
        let stalled = cond("Stalled", "True", "BuildFailed", "bad", 1);
        let ready = cond(
            "Ready",
            "True",
            "Succeeded",
            "Applied revision: main@sha1:1",
            1,
        );
        let obj = object(
            1,
            json!({"suspend": true}),
            json!({"conditions": [stalled, ready]}),
        );
        assert_eq!(state(&obj).0, "Suspended");
        assert_eq!(state(&obj).2, "Applied revision: main@sha1:1");
    }

    #[test]
    fn stalled_comes_before_reconciling() {
        let stalled = cond("Stalled", "True", "InstallFailed", "retries exhausted", 2);
        let obj = object(
            2,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [stalled]}),
        );
        assert_eq!(
            state(&obj),
            (
                "Stalled",
                "InstallFailed".into(),
                "retries exhausted".into()
            )
        );
    }

    #[test]
    fn a_new_generation_or_a_reconciling_condition_is_reconciling() {
        let ready = cond("Ready", "True", "Succeeded", "ok", 1);
        let lagging = object(
            2,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [ready.clone()]}),
        );
        assert_eq!(state(&lagging).0, "Reconciling");
        let retry = cond("Reconciling", "True", "ProgressingWithRetry", "retrying", 1);
        let failing = cond("Ready", "False", "BuildFailed", "kustomize build failed", 1);
        let retrying = object(
            1,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [failing, retry]}),
        );
        assert_eq!(
            state(&retrying),
            (
                "NotReady",
                "BuildFailed".into(),
                "kustomize build failed".into()
            )
        );
        let progressing = cond("Reconciling", "True", "Progressing", "applying", 1);
        let working = object(
            1,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [progressing]}),
        );
        assert_eq!(state(&working).0, "Reconciling");
        let stale_ready = object(
            2,
            json!({}),
            json!({"conditions": [cond("Ready", "True", "Succeeded", "ok", 1)]}),
        );
        assert_eq!(state(&stale_ready).0, "Reconciling");
        let unknown = object(
            1,
            json!({}),
            json!({"conditions": [cond("Ready", "Unknown", "Progressing", "working", 1)]}),
        );
        assert_eq!(state(&unknown).0, "Reconciling");
    }

    #[test]
    fn a_failure_the_controller_retries_is_not_ready_with_the_failure() {
        let failing = cond(
            "Ready",
            "False",
            "BuildFailed",
            "kustomize build failed: accumulating resources: missing file",
            3,
        );
        let retry = cond(
            "Reconciling",
            "True",
            "ProgressingWithRetry",
            "Detecting drift for revision main@sha1:9f1c with a timeout of 5m0s",
            3,
        );
        let obj = object(
            3,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [retry.clone(), failing]}),
        );
        let health = of(kinds::named("Kustomization").unwrap(), &obj);
        assert_eq!(
            health.to_json(),
            json!({"state": "NotReady", "reason": "BuildFailed", "retrying": true,
                   "message": "kustomize build failed: accumulating resources: missing file"})
        );
        // The retry reason alone, with Ready still Unknown: the retry's own words.
        let unknown = cond(
            "Ready",
            "Unknown",
            "Progressing",
            "Reconciliation in progress",
            3,
        );
        let obj = object(
            3,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [retry, unknown]}),
        );
        let health = of(kinds::named("Kustomization").unwrap(), &obj);
        assert_eq!((health.state, health.retrying), ("NotReady", true));
        assert_eq!(health.reason, "ProgressingWithRetry");
    }

    #[test]
    fn ready_not_ready_and_unknown() {
        let ready = object(
            1,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [cond("Ready", "True", "Succeeded", "ok", 1)]}),
        );
        assert_eq!(state(&ready), ("Ready", "Succeeded".into(), "ok".into()));
        let failing = cond("Ready", "False", "BuildFailed", "kustomize build failed", 1);
        let not_ready = object(
            1,
            json!({}),
            json!({"observedGeneration": 1, "conditions": [failing]}),
        );
        assert_eq!(state(&not_ready).0, "NotReady");
        let fresh = object(1, json!({}), json!({}));
        assert_eq!(
            state(&fresh),
            ("Unknown", String::new(), "waiting to be reconciled".into())
        );
    }

    #[test]
    fn ready_falls_back_to_the_status_generation() {
        let mut ready = cond("Ready", "True", "Succeeded", "ok", 0);
        ready.as_object_mut().unwrap().remove("observedGeneration");
        let obj = object(
            3,
            json!({}),
            json!({"observedGeneration": 3, "conditions": [ready]}),
        );
        assert_eq!(state(&obj).0, "Ready");
    }

    #[test]
    fn an_oci_helm_repository_is_static() {
        let repository =
            json!({"metadata": {"generation": 1}, "spec": {"type": "oci"}, "status": {}});
        let health = of(kinds::named("HelmRepository").unwrap(), &repository);
        assert_eq!(
            (health.state, health.message.as_str()),
            ("Ready", "Helm repository is Ready")
        );
    }
}
