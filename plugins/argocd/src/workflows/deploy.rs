//! `deploy_and_watch`: deploys an application — optionally changing its Helm parameters or
//! values or its Kustomize images first, as `argocd app set` does — syncs it (to a revision),
//! follows the operation and the health with progress notifications until it is Healthy,
//! Degraded past a grace period, failed or out of time, and on request rolls back to the
//! previous deployment when it degrades (turning automated sync off, which Argo CD requires),
//! reporting each step and the decision that ended the watch with its evidence.

use std::time::Duration;

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Poll, TaskSupport, Tool, ToolError, ToolResult, Value, json};

use crate::autosync;
use crate::client::Query;
use crate::overrides::{self, Applied, Change};
use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::steps::Log;
use crate::summary::{self, history_row, text, text_or, wide_row};

const DEFAULT_TIMEOUT: f64 = 25.0;
const DEFAULT_POLL: f64 = 3.0;
/// How long a Degraded application is given to recover before it counts as Degraded, unless
/// the call or the instance's `degraded_grace_seconds` says otherwise.
const DEFAULT_GRACE: f64 = 60.0;
/// The `[config]` setting that replaces [`DEFAULT_GRACE`].
const GRACE_SETTING: &str = "degraded_grace_seconds";
/// Failing objects an answer names at most.
const FAILING_LIMIT: usize = 10;

pub(crate) fn tool() -> Tool {
    Tool::new(
        "deploy_and_watch",
        "Deploys an Argo CD application and watches it settle. Optionally changes the source first, \
         as `argocd app set` does (`helmParameters`, `helmValues` or `kustomizeImages`; on a \
         multi-source app the one Helm/Kustomize source, or `sourcePosition`), then syncs (to \
         `revision` if given) and polls the operation and health every `pollSeconds`, sending \
         progress notifications, until the app is Healthy, the sync failed, it stayed Degraded for \
         `degradedGraceSeconds` (a Degraded that recovers within it does not end the watch; default \
         the instance's `degraded_grace_seconds` or 60, at most a third of `timeoutSeconds`), or \
         `timeoutSeconds` (default: as long as the call may run, less a margin to answer in: \
         the call timeout, or the task time limit when it runs as an MCP task) ran out. With \
         `rollbackOnDegraded` it rolls back to the previous deployment when the app stays Degraded, \
         reverts the source change, and watches that too; automated sync is turned off for the \
         rollback (Argo CD requires it) and left off: `automatedSync.restore` says how to turn it \
         on. Answers the outcome, the decision that ended the watch with its evidence, and every step.",
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
                "degradedGraceSeconds": {"type": "number", "minimum": 0, "maximum": 3600,
                    "description": "How long the app may stay Degraded before that ends the watch (default: the instance's degraded_grace_seconds or 60, at most a third of timeoutSeconds)."},
                "rollbackOnDegraded": {"type": "boolean", "description": "Roll back to the previous deployment if the app stays Degraded (automated sync is turned off for it and left off)."},
            }),
            overrides::properties(),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"},
               "outcome": {"type": "string", "enum": ["Healthy", "Degraded", "SyncFailed", "TimedOut", "RolledBack", "RollbackStarted", "RollbackFailed"]},
               "revision": {"type": "string"},
               "decision": {"type": "object", "description": "What ended the watch of the deployment, with its evidence: health and its message, the operation's phase and message, the failing objects.",
                            "properties": {"reason": {"type": "string"}, "evidence": {"type": "object"}}},
               "rollback": {"type": "object", "description": "The rollback, when there was one: to which deployment, and what ended its watch."},
               "change": overrides::report_schema(),
               "automatedSync": autosync::report_schema(),
               "steps": Log::schema(),
               "summary": summary::row_schema()}),
        &["target", "application", "outcome", "decision", "steps", "summary"],
    ))
    .destructive(true)
    .idempotent(false)
    .tasks(TaskSupport::Optional)
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Healthy,
    /// Degraded for longer than the grace period.
    Degraded,
    Failed,
    TimedOut,
}

/// The end of a watch: how it settled, the application as last seen, and why, in words.
struct Watched {
    settled: Settled,
    app: Value,
    reason: String,
}

impl Watched {
    fn decision(&self) -> Value {
        json!({"reason": self.reason, "evidence": evidence(&self.app)})
    }
}

/// The watch's timing: poll interval, deadline (from the start of the call) and grace period.
#[derive(Clone, Copy)]
struct Timing {
    poll: Duration,
    timeout: Duration,
    grace: Duration,
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let timeout = match arguments["timeoutSeconds"].as_f64() {
        Some(seconds) => Duration::from_secs_f64(seconds),
        None => ctx.wait_budget(
            Duration::from_secs_f64(DEFAULT_TIMEOUT),
            Duration::from_secs(3600),
        ),
    };
    let timing = Timing {
        poll: Duration::from_secs_f64(arguments["pollSeconds"].as_f64().unwrap_or(DEFAULT_POLL)),
        timeout,
        grace: grace(ctx, arguments, timeout),
    };
    let mut log = Log::new(ctx);
    let change = Change::from(arguments)?;
    let mut applied: Option<(Applied, bool)> = None;
    if let Some(change) = change {
        let app = app_ref
            .client
            .get(&app_ref.path(""), &app_ref.query(), &app_ref.not_found())?;
        let position = arguments["sourcePosition"].as_u64();
        let done = overrides::apply(&app_ref, &app, &change, position)?;
        log.step(format!("spec changed: {}", done.description));
        applied = Some((done, autosync::active(&app).is_some()));
    }
    let body = crate::sync::body(&app_ref, arguments);
    let synced = app_ref.client.send(
        Method::POST,
        &app_ref.path("/sync"),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    );
    let mut revision = match synced {
        Ok(synced) => {
            let revision = text(&summary::started_operation(&synced)["revision"]).to_owned();
            log.step(format!("sync started to revision {revision}"));
            revision
        }
        // With automated sync on, Argo CD syncs a changed spec by itself, and may be first.
        Err(error)
            if applied.as_ref().is_some_and(|(_, automated)| *automated)
                && error
                    .message()
                    .contains("another operation is already in progress") =>
        {
            let mut step =
                "automated sync had already started syncing the change; watching that operation"
                    .to_owned();
            let revision = text(&arguments["revision"]);
            if !revision.is_empty() {
                step.push_str(&format!(
                    " (it syncs the application's target revision, not `{revision}`)"
                ));
            }
            log.step(step);
            String::new()
        }
        Err(error) => {
            return Err(match &applied {
                Some((done, _)) => ToolError::new(format!(
                    "{} The spec change stays applied ({}); {} undoes it.",
                    error.message(),
                    done.description,
                    done.report(&app_ref, false)["undo"]
                )),
                None => error,
            });
        }
    };
    let watched = watch(&app_ref, &mut log, timing)?;
    if revision.is_empty() {
        revision = text(&watched.app["status"]["sync"]["revision"]).to_owned();
    }
    let mut answer = json!({
        "target": app_ref.client.target(), "application": app_ref.name,
        "outcome": match watched.settled {
            Settled::Healthy => "Healthy",
            Settled::Degraded => "Degraded",
            Settled::Failed => "SyncFailed",
            Settled::TimedOut => "TimedOut",
        },
        "revision": revision, "decision": watched.decision(),
    });
    let mut app = watched.app.clone();
    let mut reverted = false;
    if watched.settled == Settled::Degraded
        && arguments["rollbackOnDegraded"].as_bool().unwrap_or(false)
    {
        let change = applied.as_ref().map(|(done, _)| done);
        let rolled = roll_back(&app_ref, &watched.app, change, &mut log, timing)?;
        answer["outcome"] = json!(rolled.outcome);
        answer["rollback"] = rolled.report;
        if let Some(report) = rolled.automated {
            answer["automatedSync"] = report;
        }
        reverted = rolled.reverted;
        app = rolled.app;
    }
    if let Some((done, _)) = &applied {
        answer["change"] = done.report(&app_ref, reverted);
    }
    answer["steps"] = json!(log.steps);
    answer["summary"] = wide_row(&app);
    Ok(ToolResult::structured(answer))
}

/// The grace period: the call's `degradedGraceSeconds`, else the instance's
/// `degraded_grace_seconds` (default 60) held to a third of the timeout, so that a rollback
/// still fits in the call.
fn grace(ctx: &Context, arguments: &Value, timeout: Duration) -> Duration {
    if let Some(seconds) = arguments["degradedGraceSeconds"].as_f64() {
        return Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
    }
    let configured = ctx
        .config()
        .get(GRACE_SETTING)
        .and_then(|value| value.trim().trim_end_matches('s').parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .unwrap_or(DEFAULT_GRACE);
    Duration::from_secs_f64(configured.min(timeout.as_secs_f64() / 3.0))
}

/// What the watch saw last: health and its message, the operation's phase and message, and the
/// objects that failed to sync or are not healthy.
fn evidence(app: &Value) -> Value {
    let status = &app["status"];
    let mut failing: Vec<Value> = status["operationState"]["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(text(&r["status"]), "SyncFailed")
                || matches!(text(&r["hookPhase"]), "Failed" | "Error")
        })
        .map(|r| {
            json!({"kind": text(&r["kind"]), "namespace": text(&r["namespace"]), "name": text(&r["name"]),
                   "status": text_or(&r["status"], text(&r["hookPhase"])), "message": text(&r["message"])})
        })
        .collect();
    failing.extend(
        status["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| matches!(text(&r["health"]["status"]), "Degraded" | "Missing"))
            .map(|r| {
                json!({"kind": text(&r["kind"]), "namespace": text(&r["namespace"]), "name": text(&r["name"]),
                       "health": text(&r["health"]["status"]), "message": text(&r["health"]["message"])})
            }),
    );
    failing.truncate(FAILING_LIMIT);
    json!({
        "health": text_or(&status["health"]["status"], "Unknown"),
        "healthMessage": text(&status["health"]["message"]),
        "sync": text_or(&status["sync"]["status"], "Unknown"),
        "operation": {"phase": text(&status["operationState"]["phase"]),
                      "message": text(&status["operationState"]["message"])},
        "failingResources": failing,
    })
}

/// Polls the application until its operation has finished and its health settled: the first
/// look one interval from now, then one every interval while it fits within the timeout of the
/// start of the call. A Degraded application ends the watch only once it has been Degraded for
/// the grace period.
fn watch(app_ref: &AppRef<'_>, log: &mut Log, timing: Timing) -> Result<Watched, ToolError> {
    let Timing {
        poll,
        timeout,
        grace,
    } = timing;
    let ctx = app_ref.client.context();
    ctx.sleep(poll);
    let mut last = String::new();
    let mut degraded_since: Option<Duration> = None;
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
            last = state.clone();
        }
        // Argo CD keeps `operation` set from the request until the operation completes; the
        // operation state seen before that may still be the previous operation's.
        let requested = !app["operation"].is_null();
        let message = text(&app["status"]["health"]["message"]).to_owned();
        let pending = |reason: String, app: Value| {
            Poll::Pending(Watched {
                settled: Settled::TimedOut,
                app,
                reason,
            })
        };
        let deadline = format!(
            "deadline: stopped watching after {:.0} seconds ({state})",
            timeout.as_secs_f64()
        );
        if requested {
            return Ok(pending(deadline, app));
        }
        if phase == "Succeeded" && health == "Degraded" {
            let now = log.elapsed();
            let since = *degraded_since.get_or_insert(now);
            let degraded_for = now.saturating_sub(since);
            if degraded_for >= grace {
                let reason = format!(
                    "Degraded for {:.1} s, past the {} grace period: {}",
                    degraded_for.as_secs_f64(),
                    seconds(grace),
                    text_or(&app["status"]["health"]["message"], "no health message")
                );
                log.step(reason.clone());
                return Ok(Poll::Done(Watched {
                    settled: Settled::Degraded,
                    app,
                    reason,
                }));
            }
            if since == now {
                log.step(format!(
                    "Degraded ({}): within the {} grace period, watching on",
                    if message.is_empty() {
                        "no health message"
                    } else {
                        &message
                    },
                    seconds(grace)
                ));
            }
            let reason = format!(
                "deadline: stopped watching after {:.0} seconds while Degraded for {:.1} s, within the {} grace period (nothing rolled back): {}",
                timeout.as_secs_f64(),
                degraded_for.as_secs_f64(),
                seconds(grace),
                text_or(&app["status"]["health"]["message"], "no health message")
            );
            return Ok(pending(reason, app));
        }
        if let Some(since) = degraded_since.take() {
            log.step(format!(
                "recovered from Degraded after {:.1} s (health {health})",
                log.elapsed().saturating_sub(since).as_secs_f64()
            ));
        }
        Ok(match (phase.as_str(), health.as_str()) {
            ("Failed" | "Error", _) => {
                let message = text(&app["status"]["operationState"]["message"]).to_owned();
                let reason = format!("sync failed: {message}");
                log.step(reason.clone());
                Poll::Done(Watched {
                    settled: Settled::Failed,
                    app,
                    reason,
                })
            }
            ("Succeeded", "Healthy") => Poll::Done(Watched {
                settled: Settled::Healthy,
                app,
                reason: "Healthy: the operation Succeeded and the application is Healthy".into(),
            }),
            // Not settled yet: what is answered if the deadline passes first.
            _ => pending(deadline, app),
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

/// `60 s`, `0.5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", (duration.as_secs_f64() * 10.0).round() / 10.0)
}

/// How long after the first look (`elapsed` into the call) the last may come: the last whole
/// `poll` interval that ends within `timeout` of the start of the call. The first look always
/// comes.
fn last_look(elapsed: Duration, poll: Duration, timeout: Duration) -> Duration {
    let budget = timeout.saturating_sub(elapsed).as_nanos();
    let interval = poll.as_nanos().max(1);
    Duration::from_nanos(u64::try_from(budget - budget % interval).unwrap_or(u64::MAX))
}

/// How a rollback went.
struct Rolled {
    outcome: &'static str,
    app: Value,
    report: Value,
    automated: Option<Value>,
    reverted: bool,
}

/// Rolls the degraded `app` back to its previous deployment (turning automated sync off when
/// it is on), reverts the source change this call made, and watches the rollback.
fn roll_back(
    app_ref: &AppRef<'_>,
    app: &Value,
    change: Option<&Applied>,
    log: &mut Log,
    timing: Timing,
) -> Result<Rolled, ToolError> {
    let failed = |reason: String| Rolled {
        outcome: "RollbackFailed",
        app: app.clone(),
        report: json!({"reason": reason}),
        automated: None,
        reverted: false,
    };
    let Some(previous) = crate::operations::previous_entry(app) else {
        let reason = "no earlier deployment to roll back to".to_owned();
        log.step(reason.clone());
        return Ok(failed(reason));
    };
    let entry = history_row(&previous);
    log.step(format!(
        "degraded: rolling back to deployment {} (revision {})",
        entry["id"],
        text(&entry["revision"])
    ));
    let rolled = match crate::operations::roll_back(app_ref, app, &previous, &json!({}), log) {
        Ok(rolled) => rolled,
        Err(error) => {
            let reason = format!("rollback refused: {}", error.message());
            log.step(reason.clone());
            return Ok(failed(reason));
        }
    };
    let mut reverted = false;
    if let Some(change) = change {
        match overrides::merge_patch(app_ref, &change.revert) {
            Ok(_) => {
                log.step(format!("spec change reverted ({})", change.description));
                reverted = true;
            }
            Err(error) => log.step(format!(
                "reverting the spec change failed: {}",
                error.message()
            )),
        }
    }
    let watched = watch(app_ref, log, timing)?;
    let outcome = match watched.settled {
        Settled::Healthy => "RolledBack",
        Settled::TimedOut => "RollbackStarted",
        Settled::Degraded | Settled::Failed => "RollbackFailed",
    };
    let mut reason = watched.reason.clone();
    if watched.settled == Settled::TimedOut {
        reason.push_str(
            "; the rollback is running: follow it with get_application until summary.operation is Succeeded",
        );
    }
    let automated = rolled.turned_off.map(|settings| {
        log.step(format!(
            "automated sync stays OFF; once Git holds a good revision, set_automated_sync {} turns it on again",
            autosync::restore_arguments(app_ref, &settings)
        ));
        autosync::turned_off_report(app_ref, &settings)
    });
    Ok(Rolled {
        outcome,
        app: watched.app.clone(),
        report: json!({"to": entry, "reason": reason, "evidence": evidence(&watched.app)}),
        automated,
        reverted,
    })
}
