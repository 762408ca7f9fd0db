//! The steps a multi-request tool takes (deploy_and_watch, rollback_application), timed from
//! the start of the call: each is kept for the answer's `steps` and sent at once as a progress
//! notification, so an agent (or the person watching it) sees what happened while it happens.

use std::time::Duration;

use capstan_sdk::{Context, Value, json};

/// The steps taken so far.
pub(crate) struct Log {
    context: Context,
    started: Duration,
    pub(crate) steps: Vec<Value>,
}

impl Log {
    pub(crate) fn new(context: &Context) -> Self {
        Self {
            context: context.clone(),
            started: context.monotonic(),
            steps: Vec::new(),
        }
    }

    /// Time since the start of the call.
    pub(crate) fn elapsed(&self) -> Duration {
        self.context.monotonic().saturating_sub(self.started)
    }

    /// Records `event` and reports it as progress.
    pub(crate) fn step(&mut self, event: String) {
        let seconds = (self.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        self.context
            .progress(self.steps.len() as f64 + 1.0, None, Some(&event));
        self.steps.push(json!({"seconds": seconds, "event": event}));
    }

    /// The schema of the answer's `steps`.
    pub(crate) fn schema() -> Value {
        json!({"type": "array", "items": {"type": "object", "properties": {
            "seconds": {"type": "number"}, "event": {"type": "string"}}}})
    }
}
