//! The optional bounded wait of write tools: poll the Rollout's phase until it reaches the
//! wanted one, stops at Degraded (or at Paused while waiting for Healthy, as
//! `kubectl argo rollouts status` does), or the timeout passes; report progress meanwhile.
//! A timeout is an answer (the current phase and message), not an error.

use std::time::Duration;

use capstan_sdk::kube::Client;
use capstan_sdk::{Poll, ToolError, Value, json};

use crate::phase::phase;
use crate::schema::ROLLOUTS;

/// Time between two polls.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What the wait found, and the Rollout as last read.
pub(crate) struct Waited {
    pub(crate) report: Value,
    pub(crate) rollout: Value,
}

/// One look at the Rollout: as read, its phase and message, and whether the wait stopped short
/// of the wanted phase.
struct Seen {
    rollout: Value,
    phase: String,
    message: String,
    stopped: bool,
}

/// Polls `namespace/name` until its phase is `wanted` (`healthy`, `paused` or `degraded`).
pub(crate) fn until(
    client: &Client,
    namespace: &str,
    name: &str,
    wanted: &str,
    timeout: u64,
) -> Result<Waited, ToolError> {
    let ctx = client.context();
    let limit = Duration::from_secs(timeout);
    let polled = ctx.poll_until(limit, POLL_INTERVAL, |elapsed| {
        let rollout = client.get(ROLLOUTS, Some(namespace), name)?;
        let (phase, message) = phase(&rollout);
        let note = if message.is_empty() {
            phase.clone()
        } else {
            format!("{phase} - {message}")
        };
        ctx.progress(
            elapsed.as_secs_f64().min(timeout as f64),
            Some(timeout as f64),
            Some(&note),
        );
        let reached = phase.eq_ignore_ascii_case(wanted);
        let stopped =
            !reached && (phase == "Degraded" || (wanted == "healthy" && phase == "Paused"));
        let seen = Seen {
            rollout,
            phase,
            message,
            stopped,
        };
        Ok(if reached || stopped {
            Poll::Done(seen)
        } else {
            Poll::Pending(seen)
        })
    })?;
    let seen = polled.value;
    let outcome = match (polled.done, seen.stopped) {
        (true, false) => "reached",
        (true, true) => "stopped",
        (false, _) => "timed_out",
    };
    let report = json!({"for": wanted, "outcome": outcome, "polls": polled.polls,
                        "seconds": polled.elapsed.as_secs(), "status": seen.phase, "message": seen.message});
    Ok(Waited {
        report,
        rollout: seen.rollout,
    })
}
