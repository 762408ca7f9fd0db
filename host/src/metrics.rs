//! Prometheus metrics, served as OpenMetrics text on `GET /metrics`.
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `capstan_reloads_total{result="ok"\|"failed"}` | counter | plugin folder loads and reloads that changed something (rescans that found nothing new are not counted); `failed` when a manifest is failing afterwards |
//! | `capstan_plugin_load_failures` | gauge | manifests failing now (their previous version, if any, keeps serving) |
//! | `capstan_plugin_instances` | gauge | plugin instances serving now |
//! | `capstan_egress_requests_total{instance,decision}` | counter | plugin requests: `allowed`, `denied` by the gate, `failed` before a response |
//! | `capstan_egress_response_bytes_total{instance,decision}` | counter | response body bytes plugins read |
//! | `capstan_policy_reloads_total{outcome="ok"\|"error"}` | counter | policy file loads and reloads; `error` when the file was broken (the previous policy keeps serving) |
//! | `capstan_policy_rules` | gauge | rules in the policy serving now |
//! | `capstan_egress_denials_total{instance,reason}` | counter | requests the egress gate refused, by `RefusalReason` label (`outside_targets`, `bad_url`, `scheme`, `user_info`, `address_refused`, `too_many_redirects`, `credentials`, `no_caller_identity`, `token_exchange`, `outside_call_target`) |
//! | `capstan_egress_token_exchanges_total{instance,outcome}` | counter | token exchanges at identity providers (`issued`, `refused` by the endpoint, `failed` otherwise); tokens served from the cache are not counted |
//! | `capstan_auth_refusals_total{reason}` | counter | inbound requests refused by authentication: `missing`, `invalid`, `malformed`, `expired`, `not_yet_valid`, `audience`, `issuer`, `signature`, `algorithm`, `unknown_key`, `keys_unavailable`, `scope` |

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::identity::RefusalReason;

type ResultLabel = [(&'static str, &'static str); 1];
type ReasonLabel = [(&'static str, &'static str); 1];

const OK: ResultLabel = [("result", "ok")];
const FAILED: ResultLabel = [("result", "failed")];
const POLICY_OK: ResultLabel = [("outcome", "ok")];
const POLICY_ERROR: ResultLabel = [("outcome", "error")];

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    reloads: Family<ResultLabel, Counter>,
    load_failures: Gauge,
    instances: Gauge,
    policy_reloads: Family<ResultLabel, Counter>,
    policy_rules: Gauge,
    auth_refusals: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let reloads = Family::<ResultLabel, Counter>::default();
        for result in [OK, FAILED] {
            let _ = reloads.get_or_create(&result);
        }
        let (load_failures, instances) = (Gauge::default(), Gauge::default());
        let mut registry = Registry::default();
        registry.register(
            "capstan_reloads",
            "Plugin folder loads and reloads, by result (failed: a manifest failed to load)",
            reloads.clone(),
        );
        registry.register(
            "capstan_plugin_load_failures",
            "Manifests that failed to load in the last reload",
            load_failures.clone(),
        );
        registry.register(
            "capstan_plugin_instances",
            "Plugin instances serving",
            instances.clone(),
        );
        let (policy_reloads, policy_rules) = register_policy(&mut registry);
        let auth_refusals = Family::<ReasonLabel, Counter>::default();
        for reason in RefusalReason::ALL {
            let _ = auth_refusals.get_or_create(&[("reason", reason.label())]);
        }
        registry.register(
            "capstan_auth_refusals",
            "Inbound requests refused by authentication, by reason",
            auth_refusals.clone(),
        );
        crate::egress::audit::register_metrics(&mut registry);
        Self {
            registry,
            reloads,
            load_failures,
            instances,
            policy_reloads,
            policy_rules,
            auth_refusals,
        }
    }
}

impl Metrics {
    /// Records a finished (re)load that left `instances` serving and `failures` failing.
    pub fn record_reload(&self, instances: usize, failures: usize) {
        let result = if failures == 0 { OK } else { FAILED };
        self.reloads.get_or_create(&result).inc();
        self.load_failures.set(failures as i64);
        self.instances.set(instances as i64);
    }

    /// Records a policy file (re)load: `Some(rules)` when it loaded, `None` when it was broken.
    pub fn record_policy_reload(&self, rules: Option<usize>) {
        let outcome = if rules.is_some() {
            POLICY_OK
        } else {
            POLICY_ERROR
        };
        self.policy_reloads.get_or_create(&outcome).inc();
        if let Some(rules) = rules {
            self.policy_rules.set(rules as i64);
        }
    }

    /// Counts a request refused by authentication.
    pub fn record_auth_refusal(&self, reason: RefusalReason) {
        self.auth_refusals
            .get_or_create(&[("reason", reason.label())])
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

fn register_policy(registry: &mut Registry) -> (Family<ResultLabel, Counter>, Gauge) {
    let reloads = Family::<ResultLabel, Counter>::default();
    for outcome in [POLICY_OK, POLICY_ERROR] {
        let _ = reloads.get_or_create(&outcome);
    }
    let rules = Gauge::default();
    registry.register(
        "capstan_policy_reloads",
        "Policy file loads and reloads, by outcome (error: the file was broken)",
        reloads.clone(),
    );
    registry.register(
        "capstan_policy_rules",
        "Rules in the policy serving",
        rules.clone(),
    );
    (reloads, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reloads_are_counted_by_result_and_failures_are_a_gauge() {
        let metrics = Metrics::default();
        metrics.record_reload(2, 0);
        metrics.record_reload(2, 1);
        metrics.record_reload(2, 1);
        let text = metrics.render();
        assert!(
            text.contains("capstan_reloads_total{result=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("capstan_reloads_total{result=\"failed\"} 2"),
            "{text}"
        );
        assert!(text.contains("capstan_plugin_load_failures 1"), "{text}");
        assert!(text.contains("capstan_plugin_instances 2"), "{text}");
    }

    #[test]
    fn policy_reloads_are_counted_by_outcome_and_rules_are_a_gauge() {
        let metrics = Metrics::default();
        metrics.record_policy_reload(Some(7));
        metrics.record_policy_reload(None);
        let text = metrics.render();
        for line in [
            "capstan_policy_reloads_total{outcome=\"ok\"} 1",
            "capstan_policy_reloads_total{outcome=\"error\"} 1",
            "capstan_policy_rules 7",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
