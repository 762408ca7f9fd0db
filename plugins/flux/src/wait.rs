//! Bounded waiting after a write: polls the object every two seconds (as `flux reconcile`
//! does), reporting progress through the host, until the controller has handled the request.
//!
//! - A reconcile request is handled when `status.lastHandledReconcileAt` equals the
//!   `requestedAt` value sent. A suspended object still answers that handshake without doing
//!   anything, so a suspended object ends the wait as not completed, whatever it says.
//! - `Stalled=True` ends the wait at once: the controller has given up.
//! - A resume without a reconcile request is handled once the object's health is settled
//!   (Ready, NotReady or Stalled) for the current generation.
//! - On timeout the answer carries the Ready condition's status, reason and message.
//!
//! One deadline covers a whole call: the steps of a chain share it. Time is the context's
//! monotonic clock, so native tests wait on a virtual one.

use std::time::Duration;

use capstan_sdk::{Context, Poll, ToolError, Value, json};

use crate::health;
use crate::kube::Client;
use crate::sources::Reference;
use crate::time::parse_duration;

/// How often to look.
const POLL: Duration = Duration::from_secs(2);
/// Default and longest wait.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// When waiting must end.
pub(crate) struct Deadline {
    start: Duration,
    limit: Duration,
}

impl Deadline {
    /// A deadline `timeout` (a duration like `30s`; default 20s, at most 5m) from now.
    pub(crate) fn from(ctx: &Context, timeout: Option<&str>) -> Result<Self, ToolError> {
        let limit = match timeout {
            Some(text) => parse_duration(text)?,
            None => DEFAULT_TIMEOUT,
        };
        if limit > MAX_TIMEOUT {
            return Err(ToolError::new(format!(
                "`timeout` \"{}\" is longer than 5m; wait less, then look again with get_flux_resource",
                timeout.unwrap_or_default()
            )));
        }
        Ok(Self {
            start: ctx.monotonic(),
            limit,
        })
    }

    fn elapsed(&self, ctx: &Context) -> Duration {
        ctx.monotonic().saturating_sub(self.start)
    }
}

/// How a wait ended: whether the controller handled the request, and the object as last seen.
pub(crate) struct Outcome {
    pub(crate) completed: bool,
    pub(crate) object: Value,
}

/// Polls `reference` until its controller has handled `requested_at` (or, without one, until
/// its health settles), it stalls, or the deadline passes.
pub(crate) fn until_handled(
    client: &Client,
    reference: &Reference,
    requested_at: Option<&str>,
    deadline: &Deadline,
) -> Result<Outcome, ToolError> {
    let ctx = client.context();
    let timeout = deadline.limit.saturating_sub(deadline.elapsed(ctx));
    let polled = ctx.poll_until(timeout, POLL, |elapsed| {
        let object = client.get(
            reference.kind.resource,
            &reference.namespace,
            &reference.name,
        )?;
        let health = health::of(reference.kind, &object);
        if health::suspended(&object) {
            return Ok(Poll::Done(Outcome {
                completed: false,
                object,
            }));
        }
        let handled = handled(&object, requested_at, health.state);
        if handled || health.state == "Stalled" {
            return Ok(Poll::Done(Outcome {
                completed: handled,
                object,
            }));
        }
        if elapsed < timeout {
            report(ctx, reference, deadline, &health);
        }
        Ok(Poll::Pending(Outcome {
            completed: false,
            object,
        }))
    })?;
    Ok(polled.value)
}

fn handled(object: &Value, requested_at: Option<&str>, state: &str) -> bool {
    match requested_at {
        Some(requested_at) => object["status"]["lastHandledReconcileAt"] == requested_at,
        None => matches!(state, "Ready" | "NotReady" | "Stalled"),
    }
}

fn report(ctx: &Context, reference: &Reference, deadline: &Deadline, health: &health::Health) {
    let message = format!(
        "waiting for {} {}/{}: {} ({})",
        reference.kind.name(),
        reference.namespace,
        reference.name,
        health.state,
        health.message
    );
    ctx.progress(
        deadline.elapsed(ctx).as_secs_f64(),
        Some(deadline.limit.as_secs_f64()),
        Some(&message),
    );
}

/// The Ready condition's status, reason and message (`Unknown` without one).
pub(crate) fn ready_summary(object: &Value) -> Value {
    match health::condition(object, "Ready") {
        Some(ready) => json!({
            "status": ready["status"].as_str().unwrap_or("Unknown"),
            "reason": ready["reason"].as_str().unwrap_or_default(),
            "message": ready["message"].as_str().unwrap_or_default(),
        }),
        None => json!({"status": "Unknown", "reason": "", "message": "waiting to be reconciled"}),
    }
}
