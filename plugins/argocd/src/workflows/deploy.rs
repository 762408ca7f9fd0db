//! `deploy_and_watch`: syncs an application (to a revision), follows the operation and the
//! health with progress notifications until it is Healthy, Degraded, failed or out of time,
//! and on request rolls back to the previous deployment when it degrades, reporting each step.

use std::time::Duration;

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Poll, TaskSupport, Tool, ToolError, ToolResult, Value, json};

use crate::client::Query;
use crate::operations::post_rollback;
use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::summary::{self, history_row, text, wide_row};

const DEFAULT_TIMEOUT: f64 = 25.0;
const DEFAULT_POLL: f64 = 3.0;

pub(crate) fn tool() -> Tool {
    Tool::new(
        "deploy_and_watch",
        "Deploys an Argo CD application and watches it settle: syncs (to `revision` if given), \
         then polls the operation and health every `pollSeconds`, sending progress notifications, \
         until the app is Healthy, Degraded, the sync failed, or `timeoutSeconds` (default 25; \
         keep it below capstan's call timeout) ran out. With `rollbackOnDegraded` it rolls back to \
         the previous deployment when the app degrades and watches that too. Answers the outcome \
         and every step.",
    )
    .title("Deploy an application and watch it")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "revision": {"type": "string", "maxLength": 256, "description": "Revision to deploy (default: the app's target)."},
                "prune": {"type": "boolean"},
                "syncOptions": {"type": "array", "items": {"type": "string", "maxLength": 128}, "maxItems": 20},
                "timeoutSeconds": {"type": "number", "minimum": 1, "maximum": 3600},
                "pollSeconds": {"type": "number", "minimum": 0.05, "maximum": 60, "description": "Seconds between checks (default 3)."},
                "rollbackOnDegraded": {"type": "boolean", "description": "Roll back to the previous deployment if the app degrades (needs automated sync off)."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"},
               "outcome": {"type": "string", "enum": ["Healthy", "Degraded", "SyncFailed", "TimedOut", "RolledBack", "RollbackFailed"]},
               "revision": {"type": "string"},
               "steps": {"type": "array", "items": {"type": "object", "properties": {
                   "seconds": {"type": "number"}, "event": {"type": "string"}}}},
               "summary": summary::row_schema()}),
        &["target", "application", "outcome", "steps", "summary"],
    ))
    .destructive(true)
    .idempotent(false)
    .tasks(TaskSupport::Optional)
}

/// The steps taken so far, timed from the start of the call; each is also a progress report.
struct Log {
    context: Context,
    started: Duration,
    steps: Vec<Value>,
}

impl Log {
    fn new(context: &Context) -> Self {
        Self {
            context: context.clone(),
            started: context.monotonic(),
            steps: Vec::new(),
        }
    }

    /// Time since the start of the call.
    fn elapsed(&self) -> Duration {
        self.context.monotonic().saturating_sub(self.started)
    }

    fn step(&mut self, event: String) {
        let seconds = (self.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        self.context
            .progress(self.steps.len() as f64 + 1.0, None, Some(&event));
        self.steps.push(json!({"seconds": seconds, "event": event}));
    }
}

/// How a watch ended.
#[derive(PartialEq)]
enum Settled {
    Healthy,
    Degraded,
    Failed(String),
    TimedOut,
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let timeout = Duration::from_secs_f64(
        arguments["timeoutSeconds"]
            .as_f64()
            .unwrap_or(DEFAULT_TIMEOUT),
    );
    let poll = Duration::from_secs_f64(arguments["pollSeconds"].as_f64().unwrap_or(DEFAULT_POLL));
    let mut log = Log::new(ctx);
    let body = crate::sync::body(&app_ref, arguments);
    let synced = app_ref.client.send(
        Method::POST,
        &app_ref.path("/sync"),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )?;
    let revision = summary::started_operation(&synced)["revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    log.step(format!("sync started to revision {revision}"));
    let (settled, mut app) = watch(&app_ref, &mut log, poll, timeout)?;
    let mut outcome = match &settled {
        Settled::Healthy => "Healthy",
        Settled::Degraded => "Degraded",
        Settled::Failed(_) => "SyncFailed",
        Settled::TimedOut => "TimedOut",
    };
    if settled == Settled::Degraded && arguments["rollbackOnDegraded"].as_bool().unwrap_or(false) {
        (outcome, app) = roll_back(&app_ref, &app, &mut log, poll, timeout)?;
    }
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name, "outcome": outcome,
        "revision": revision, "steps": log.steps, "summary": wide_row(&app),
    })))
}

/// Polls the application until its operation has finished and its health settled: the first
/// look one interval from now, then one every interval while it fits within `timeout` of the
/// start of the call.
fn watch(
    app_ref: &AppRef<'_>,
    log: &mut Log,
    poll: Duration,
    timeout: Duration,
) -> Result<(Settled, Value), ToolError> {
    let ctx = app_ref.client.context();
    ctx.sleep(poll);
    let mut last = String::new();
    let until = last_look(log.elapsed(), poll, timeout);
    let polled = ctx.poll_until(until, poll, |_| {
        let app = app_ref
            .client
            .get(&app_ref.path(""), &app_ref.query(), &app_ref.not_found())?;
        let phase = summary::started_operation(&app)["phase"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let health = summary::text_or(&app["status"]["health"]["status"], "Unknown").to_owned();
        let state = format!(
            "operation {phase}, sync {}, health {health}",
            summary::text_or(&app["status"]["sync"]["status"], "Unknown")
        );
        if state != last {
            log.step(state.clone());
            last = state;
        }
        // Argo CD keeps `operation` set from the request until the operation completes; the
        // operation state seen before that may still be the previous operation's.
        let requested = !app["operation"].is_null();
        Ok(match (phase.as_str(), health.as_str()) {
            _ if requested => Poll::Pending((Settled::TimedOut, app)),
            ("Failed" | "Error", _) => {
                let message = text(&app["status"]["operationState"]["message"]).to_owned();
                log.step(format!("sync failed: {message}"));
                Poll::Done((Settled::Failed(message), app))
            }
            ("Succeeded", "Healthy") => Poll::Done((Settled::Healthy, app)),
            ("Succeeded", "Degraded") => Poll::Done((Settled::Degraded, app)),
            // Not settled yet: what is answered if the deadline passes first.
            _ => Poll::Pending((Settled::TimedOut, app)),
        })
    })?;
    if !polled.done {
        log.step(format!(
            "stopped watching after {:.0} seconds",
            timeout.as_secs_f64()
        ));
    }
    Ok(polled.value)
}

/// How long after the first look (`elapsed` into the call) the last may come: the last whole
/// `poll` interval that ends within `timeout` of the start of the call. The first look always
/// comes.
fn last_look(elapsed: Duration, poll: Duration, timeout: Duration) -> Duration {
    let budget = timeout.saturating_sub(elapsed).as_nanos();
    let interval = poll.as_nanos().max(1);
    Duration::from_nanos(u64::try_from(budget - budget % interval).unwrap_or(u64::MAX))
}

fn roll_back(
    app_ref: &AppRef<'_>,
    app: &Value,
    log: &mut Log,
    poll: Duration,
    timeout: Duration,
) -> Result<(&'static str, Value), ToolError> {
    let Some(previous) = crate::operations::previous_entry(app) else {
        log.step("no earlier deployment to roll back to".into());
        return Ok(("RollbackFailed", app.clone()));
    };
    let entry = history_row(&previous);
    log.step(format!(
        "degraded: rolling back to deployment {} (revision {})",
        entry["id"],
        entry["revision"].as_str().unwrap_or_default()
    ));
    if let Err(error) = post_rollback(app_ref, &previous, &json!({})) {
        log.step(format!("rollback refused: {}", error.message()));
        return Ok(("RollbackFailed", app.clone()));
    }
    let (settled, app) = watch(app_ref, log, poll, timeout)?;
    let outcome = if settled == Settled::Healthy {
        "RolledBack"
    } else {
        "RollbackFailed"
    };
    Ok((outcome, app))
}
