//! Prometheus metrics, served as OpenMetrics text on `GET /metrics`.
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `capstan_reloads_total{result="ok"\|"failed"}` | counter | plugin folder loads and reloads that changed something (rescans that found nothing new are not counted); `failed` when a manifest is failing afterwards |
//! | `capstan_plugin_load_failures` | gauge | manifests failing now (their previous version, if any, keeps serving) |
//! | `capstan_plugin_instances` | gauge | plugin instances serving now |
//! | `capstan_tool_calls_total{instance,tool,outcome}` | counter | `tools/call` requests for a served tool, by how they ended ([`CallOutcome`]); calls naming no served tool are refused before any instance is known and not counted |
//! | `capstan_tool_call_duration_seconds{instance,tool}` | histogram | from receiving a counted `tools/call` to its answer: validation, policy, a confirmation's wait, the instance's queue and the sandbox |
//! | `capstan_tool_sandbox_duration_seconds{instance,tool}` | histogram | the guest's run: from taking a pool slot to its measured answer (or its failure); calls refused before the sandbox are not observed |
//! | `capstan_instance_calls_in_flight{instance}` | gauge | tool calls and prompt renders running (`registry::gate`) |
//! | `capstan_instance_calls_queued{instance}` | gauge | tool calls and prompt renders waiting for a running place |
//! | `capstan_instance_concurrency_limit{instance}`, `capstan_instance_queue_limit{instance}` | gauge | the places and the queue of the instance's gate |
//! | `capstan_sandbox_slots`, `capstan_sandbox_slots_in_use` | gauge | the sandbox pool's instance slots, and those held by running calls and listings (`runtime::slots`) |
//! | `capstan_mcp_sessions` | gauge | 2025-11-25 MCP sessions open (initialized; stateless requests hold none) |
//! | `capstan_mcp_listen_streams` | gauge | 2026-07-28 `subscriptions/listen` streams open |
//! | `capstan_egress_requests_total{instance,decision}` | counter | plugin requests: `allowed`, `denied` by the gate, `failed` before a response |
//! | `capstan_egress_response_bytes_total{instance,decision}` | counter | response body bytes plugins read |
//! | `capstan_egress_request_duration_seconds{instance,target,status_class}` | histogram | an allowed request's time to its final response's headers (redirects included), by status class `1xx` to `5xx`, or to its failure (`failed`) |
//! | `capstan_policy_reloads_total{outcome="ok"\|"error"}` | counter | policy file loads and reloads; `error` when the file was broken (the previous policy keeps serving) |
//! | `capstan_policy_rules` | gauge | rules in the policy serving now |
//! | `capstan_egress_denials_total{instance,reason}` | counter | requests the egress gate refused, by `RefusalReason` label (`outside_targets`, `bad_url`, `scheme`, `user_info`, `address_refused`, `too_many_redirects`, `credentials`, `no_caller_identity`, `token_exchange`, `outside_call_target`) |
//! | `capstan_egress_token_exchanges_total{instance,outcome}` | counter | token exchanges at identity providers (`issued`, `refused` by the endpoint, `failed` otherwise); tokens served from the cache are not counted |
//! | `capstan_auth_refusals_total{reason}` | counter | inbound requests refused by authentication: `missing`, `invalid`, `malformed`, `expired`, `not_yet_valid`, `audience`, `issuer`, `signature`, `algorithm`, `unknown_key`, `keys_unavailable`, `scope` |
//!
//! Label values are bounded: instance names, served tool names, target names and fixed sets;
//! never an argument, a URL, a subject or a token. What the call path records (calls, sessions,
//! gates, slots, egress) is process-wide, recorded where it is known (`mcp::server`,
//! `registry::gate`, `runtime::slots`, `egress::audit`) without building strings beyond the
//! labels; every [`Metrics`] serves it.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

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
        register_calls(&mut registry);
        crate::registry::register_metrics(&mut registry);
        crate::runtime::register_metrics(&mut registry);
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

/// How a `tools/call` of a served tool ended: the `outcome` label of
/// `capstan_tool_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The plugin answered, not as an error.
    Ok,
    /// The plugin answered with `isError` (its own error, an upstream's, or a refused request
    /// it reported).
    Error,
    /// The arguments do not satisfy the tool's input schema; nothing ran.
    Validation,
    /// The policy denied the call.
    Policy,
    /// A rule asked for a confirmation that was declined, not given in time, did not match, or
    /// could not be asked.
    Unconfirmed,
    /// A confirmation question went back to the client (`input_required`); the client calls
    /// again with the answer.
    InputRequired,
    /// The instance had its calls running and its queue full.
    Busy,
    /// The call ran past its `[limits].timeout` (or waited that long for a pool slot).
    Timeout,
    /// The guest crashed: a panic, `unreachable`, a bad memory access, a stack overflow.
    Trap,
    /// The guest ran out of its `[limits].memory` or of the instance's `memory_total`.
    OutOfMemory,
    /// The guest's answer was larger than the host copies out of it.
    TooLarge,
    /// The host could not run the component (it broke the plugin contract, or the runtime
    /// was shutting down).
    Failed,
    /// The client cancelled the call before it ended.
    Cancelled,
}

impl CallOutcome {
    /// Every outcome, in documentation order.
    pub const ALL: [CallOutcome; 13] = [
        CallOutcome::Ok,
        CallOutcome::Error,
        CallOutcome::Validation,
        CallOutcome::Policy,
        CallOutcome::Unconfirmed,
        CallOutcome::InputRequired,
        CallOutcome::Busy,
        CallOutcome::Timeout,
        CallOutcome::Trap,
        CallOutcome::OutOfMemory,
        CallOutcome::TooLarge,
        CallOutcome::Failed,
        CallOutcome::Cancelled,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Validation => "validation",
            CallOutcome::Policy => "policy",
            CallOutcome::Unconfirmed => "unconfirmed",
            CallOutcome::InputRequired => "input_required",
            CallOutcome::Busy => "busy",
            CallOutcome::Timeout => "timeout",
            CallOutcome::Trap => "trap",
            CallOutcome::OutOfMemory => "out_of_memory",
            CallOutcome::TooLarge => "too_large",
            CallOutcome::Failed => "failed",
            CallOutcome::Cancelled => "cancelled",
        }
    }
}

/// The labels of the per-tool series: the instance and the tool's exposed name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    instance: String,
    tool: String,
}

/// The `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Upper bounds of the call latency buckets, in seconds: a no-op call runs in well under a
/// millisecond, a Kubernetes list in tens to hundreds, a tool that waits for a rollout minutes.
pub const CALL_BUCKETS: [f64; 18] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0,
];

type LatencyFamily = Family<ToolLabels, Histogram, fn() -> Histogram>;

fn call_histogram() -> Histogram {
    Histogram::new(CALL_BUCKETS)
}

/// What the MCP front records, process-wide (the front is built before, and apart from, the
/// [`Metrics`] that serve it).
struct CallMetrics {
    calls: Family<(ToolLabels, OutcomeLabel), Counter>,
    duration: LatencyFamily,
    sandbox: LatencyFamily,
    sessions: Gauge,
    listen_streams: Gauge,
    tasks: Gauge,
}

static CALLS: LazyLock<CallMetrics> = LazyLock::new(|| CallMetrics {
    calls: Family::default(),
    duration: Family::new_with_constructor(call_histogram),
    sandbox: Family::new_with_constructor(call_histogram),
    sessions: Gauge::default(),
    listen_streams: Gauge::default(),
    tasks: Gauge::default(),
});

fn register_calls(registry: &mut Registry) {
    registry.register(
        "capstan_tool_calls",
        "tools/call requests for served tools, by instance, exposed tool name and outcome",
        CALLS.calls.clone(),
    );
    registry.register_with_unit(
        "capstan_tool_call_duration",
        "Seconds from receiving a tools/call to its answer (validation, policy, confirmation, queue and sandbox), by instance and tool",
        Unit::Seconds,
        CALLS.duration.clone(),
    );
    registry.register_with_unit(
        "capstan_tool_sandbox_duration",
        "Seconds a tool call's guest ran, from taking a pool slot to its measured answer, by instance and tool",
        Unit::Seconds,
        CALLS.sandbox.clone(),
    );
    registry.register(
        "capstan_mcp_sessions",
        "2025-11-25 MCP sessions open",
        CALLS.sessions.clone(),
    );
    registry.register(
        "capstan_mcp_listen_streams",
        "2026-07-28 subscriptions/listen streams open",
        CALLS.listen_streams.clone(),
    );
    registry.register(
        "capstan_tasks_running",
        "MCP tasks whose tool call is still running (each holds a sandbox slot)",
        CALLS.tasks.clone(),
    );
}

/// Records a `tools/call` of `tool` (its exposed name) of `instance` that ended with
/// `outcome` after `took`; `ran` is the guest's time in the sandbox, if it ran.
pub fn record_call(
    instance: &str,
    tool: &str,
    outcome: CallOutcome,
    took: Duration,
    ran: Option<Duration>,
) {
    let labels = ToolLabels {
        instance: instance.to_owned(),
        tool: tool.to_owned(),
    };
    CALLS
        .duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
    if let Some(ran) = ran {
        CALLS
            .sandbox
            .get_or_create(&labels)
            .observe(ran.as_secs_f64());
    }
    let outcome = OutcomeLabel {
        outcome: outcome.label(),
    };
    CALLS.calls.get_or_create(&(labels, outcome)).inc();
}

/// Something open that a gauge counts until it is dropped: an MCP session, a listen stream or
/// a running task.
#[derive(Debug)]
pub struct Open(&'static Gauge);

impl Open {
    fn counted(gauge: &'static Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }

    /// A 2025-11-25 session, open until this is dropped.
    pub fn session() -> Self {
        Self::counted(&CALLS.sessions)
    }

    /// A `subscriptions/listen` stream, open until this is dropped.
    pub fn listen_stream() -> Self {
        Self::counted(&CALLS.listen_streams)
    }

    /// An MCP task's running call, until this is dropped.
    pub fn task() -> Self {
        Self::counted(&CALLS.tasks)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
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
    fn calls_are_counted_by_instance_tool_and_outcome_with_their_latencies() {
        let metrics = Metrics::default();
        let ms = Duration::from_millis;
        for (outcome, took, ran) in [
            (CallOutcome::Ok, ms(3), Some(ms(2))),
            (CallOutcome::Ok, ms(40), Some(ms(30))),
            (CallOutcome::Validation, ms(0), None),
            (CallOutcome::Timeout, ms(900), Some(ms(899))),
        ] {
            record_call("calls-test", "calls_test_get", outcome, took, ran);
        }
        let text = metrics.render();
        let tool = "instance=\"calls-test\",tool=\"calls_test_get\"";
        for line in [
            format!("capstan_tool_calls_total{{{tool},outcome=\"ok\"}} 2"),
            format!("capstan_tool_calls_total{{{tool},outcome=\"validation\"}} 1"),
            format!("capstan_tool_calls_total{{{tool},outcome=\"timeout\"}} 1"),
            format!("capstan_tool_call_duration_seconds_count{{{tool}}} 4"),
            format!("capstan_tool_call_duration_seconds_bucket{{le=\"0.005\",{tool}}} 2"),
            format!("capstan_tool_call_duration_seconds_bucket{{le=\"+Inf\",{tool}}} 4"),
            format!("capstan_tool_sandbox_duration_seconds_count{{{tool}}} 3"),
            format!("capstan_tool_sandbox_duration_seconds_bucket{{le=\"0.0025\",{tool}}} 1"),
            "# TYPE capstan_tool_call_duration_seconds histogram".to_owned(),
            "# UNIT capstan_tool_call_duration_seconds seconds".to_owned(),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
        let error = format!("capstan_tool_calls_total{{{tool},outcome=\"error\"}}");
        assert!(!text.contains(&error), "{text}");
    }

    #[test]
    fn outcome_labels_are_distinct_snake_case_words() {
        let labels: std::collections::HashSet<&str> = CallOutcome::ALL
            .iter()
            .map(|outcome| outcome.label())
            .collect();
        assert_eq!(labels.len(), CallOutcome::ALL.len());
        for label in labels {
            assert!(
                label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{label}"
            );
        }
    }

    #[test]
    fn open_sessions_and_streams_are_counted_until_dropped() {
        let gauge: &'static Gauge = Box::leak(Box::default());
        let (first, second) = (Open::counted(gauge), Open::counted(gauge));
        assert_eq!(gauge.get(), 2);
        drop(first);
        assert_eq!(gauge.get(), 1);
        drop(second);
        assert_eq!(gauge.get(), 0);
    }

    #[test]
    fn every_family_is_served_and_named_by_the_conventions() {
        // A labelled family is written once it has a series: the gate and egress families
        // are checked by their modules' tests and end to end.
        let ms = Duration::from_millis;
        record_call("family-test", "t", CallOutcome::Ok, ms(2), Some(ms(1)));
        let text = Metrics::default().render();
        for family in [
            "capstan_tool_calls",
            "capstan_tool_call_duration_seconds",
            "capstan_tool_sandbox_duration_seconds",
            "capstan_sandbox_slots",
            "capstan_sandbox_slots_in_use",
            "capstan_mcp_sessions",
            "capstan_mcp_listen_streams",
            "capstan_reloads",
            "capstan_auth_refusals",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family} in {text}"
            );
        }
        for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
            let mut words = line.split(' ').skip(2);
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            assert!(name.starts_with("capstan_"), "{line}");
            match kind {
                "histogram" => assert!(name.ends_with("_seconds"), "{line}"),
                "gauge" => assert!(!name.ends_with("_total"), "{line}"),
                _ => {}
            }
        }
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
