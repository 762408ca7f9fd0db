//! The optional bounded wait of write tools: poll the Rollout's phase until it reaches the
//! wanted one, stops at Degraded (or at Paused while waiting for Healthy, as
//! `kubectl argo rollouts status` does), or the timeout passes; report progress meanwhile.
//! A timeout is an answer (the current phase and message), not an error.

use std::time::{Duration, Instant};

use capstan_sdk::kube::Client;
use capstan_sdk::{ToolError, Value, host, json};

use crate::phase::phase;
use crate::schema::ROLLOUTS;

/// Seconds between two polls.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the wait found, and the Rollout as last read.
pub(crate) struct Waited {
    pub(crate) report: Value,
    pub(crate) rollout: Value,
}

/// Polls `namespace/name` until its phase is `wanted` (`healthy`, `paused` or `degraded`).
pub(crate) fn until(
    client: &Client,
    namespace: &str,
    name: &str,
    wanted: &str,
    timeout: u64,
) -> Result<Waited, ToolError> {
    let started = Instant::now();
    let limit = Duration::from_secs(timeout);
    let mut polls = 0u32;
    loop {
        let rollout = client.get(ROLLOUTS, Some(namespace), name)?;
        polls += 1;
        let (current, message) = phase(&rollout);
        let elapsed = started.elapsed();
        let note = if message.is_empty() {
            current.clone()
        } else {
            format!("{current} - {message}")
        };
        host::progress(
            elapsed.as_secs_f64().min(timeout as f64),
            Some(timeout as f64),
            Some(&note),
        );
        let reached = current.eq_ignore_ascii_case(wanted);
        let stopped =
            !reached && (current == "Degraded" || (wanted == "healthy" && current == "Paused"));
        let timed_out = !reached && !stopped && elapsed >= limit;
        if reached || stopped || timed_out {
            let outcome = if reached {
                "reached"
            } else if stopped {
                "stopped"
            } else {
                "timed_out"
            };
            let report = json!({"for": wanted, "outcome": outcome, "polls": polls,
                                "seconds": elapsed.as_secs(), "status": current, "message": message});
            return Ok(Waited { report, rollout });
        }
        host::sleep(
            POLL_INTERVAL
                .min(limit.saturating_sub(elapsed))
                .max(Duration::from_millis(50)),
        );
    }
}
