//! The Rollout write tools that patch `spec` or `status`: `promote` (its four status-patch
//! branches), `promote_full`, `pause`, `resume`, `abort`, `retry` and `restart`. Spec changes
//! are JSON merge patches of the main resource; status changes are JSON merge patches of the
//! `/status` subresource (the main resource silently ignores `status`).

use std::time::Duration;

use capstan_sdk::kube::{Client, KubeError, Subresource};
use capstan_sdk::{Context, TaskSupport, Tool, ToolError, ToolResult, Value, args, json, time};

use crate::phase::phase;
use crate::schema::{self, ROLLOUTS};
use crate::wait;

/// Seconds `waitFor` waits when the call says no `timeout` and the time left in the call is
/// unknown.
const DEFAULT_WAIT_SECONDS: u64 = 25;

/// A write tool on one Rollout: its input (the shared arguments and `extra`) and output.
fn action_tool(name: &str, title: &str, description: &str, extra: Value) -> Tool {
    Tool::new(name, description)
        .title(title)
        .input(schema::rollout_action(extra, &[]))
        .output(schema::action_output())
        .tasks(TaskSupport::Optional)
}

pub(crate) fn promote_tool() -> Tool {
    action_tool(
        "promote",
        "Promote an Argo Rollout",
        "Promotes a paused Rollout to its next step, exactly as `kubectl argo rollouts promote`: \
          clears the pause conditions (a canary pause step, a blue-green pre-promotion pause), or \
          moves past an inconclusive analysis step, or past a running analysis/experiment step, \
          and unpauses a manually paused Rollout.",
        json!({}),
    )
    .destructive(false)
    .idempotent(false)
}

pub(crate) fn promote_full_tool() -> Tool {
    action_tool(
        "promote_full",
        "Fully promote an Argo Rollout",
        "Promotes a Rollout to the new version at once, skipping the remaining steps, analyses \
          and pauses (`kubectl argo rollouts promote --full`).",
        json!({}),
    )
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn pause_tool() -> Tool {
    action_tool(
        "pause",
        "Pause an Argo Rollout",
        "Pauses a Rollout (`spec.paused: true`); its phase becomes Paused, \"manually paused\".",
        json!({}),
    )
    .destructive(false)
    .idempotent(true)
}

pub(crate) fn resume_tool() -> Tool {
    action_tool(
        "resume",
        "Resume an Argo Rollout",
        "Resumes a paused Rollout: unpauses it (`spec.paused: false`) and, when a pause step or \
          pause condition holds it, promotes it past that pause.",
        json!({}),
    )
    .destructive(false)
    .idempotent(false)
}

pub(crate) fn abort_tool() -> Tool {
    action_tool(
        "abort",
        "Abort an Argo Rollout",
        "Aborts a Rollout's update: the controller scales the new version down, sends traffic \
         back to the stable version and marks the Rollout Degraded (RolloutAborted). `retry` \
         resumes it.",
        json!({}),
    )
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn retry_tool() -> Tool {
    action_tool(
        "retry",
        "Retry an aborted Argo Rollout",
        "Retries an aborted Rollout's update (`status.abort: false`).",
        json!({}),
    )
    .destructive(false)
    .idempotent(true)
}

pub(crate) fn restart_tool() -> Tool {
    action_tool(
        "restart",
        "Restart an Argo Rollout's pods",
        "Restarts the Rollout's pods (a rolling restart, not a new revision) now or after \
         `delaySeconds`.",
        json!({"delaySeconds": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 0,
                                 "description": "Restart this many seconds from now."}}),
    )
    .destructive(false)
    .idempotent(false)
}

/// Runs `act` on the Rollout the arguments name, then answers (after the optional wait).
fn run(
    ctx: &Context,
    action: &str,
    arguments: &Value,
    act: impl FnOnce(&mut Change) -> Result<(), ToolError>,
) -> Result<ToolResult, ToolError> {
    let mut change = Change::begin(ctx, action, arguments)?;
    act(&mut change)?;
    change.finish(arguments)
}

pub(crate) fn promote(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "promote", arguments, |change| change.promote(false))
}

pub(crate) fn promote_full(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "promote_full", arguments, |change| {
        change.promote(true)
    })
}

pub(crate) fn pause(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "pause", arguments, |change| {
        change.patch(Subresource::Main, json!({"spec": {"paused": true}}))
    })
}

pub(crate) fn resume(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "resume", arguments, Change::resume)
}

pub(crate) fn abort(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "abort", arguments, |change| {
        let abort = json!({"status": {"abort": true}});
        change.status_first(abort.clone(), abort)
    })
}

pub(crate) fn retry(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "retry", arguments, |change| {
        let retry = json!({"status": {"abort": false}});
        change.status_first(retry.clone(), retry)
    })
}

pub(crate) fn restart(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    run(ctx, "restart", arguments, |change| {
        let delay = Duration::from_secs(args::u64_or(arguments, "delaySeconds", 0));
        let at = time::rfc3339(ctx.since_epoch() + delay);
        change.patch(Subresource::Main, json!({"spec": {"restartAt": at}}))
    })
}

/// One write tool's run on one Rollout: the requests it sent and the Rollout as last seen.
pub(crate) struct Change {
    pub(crate) client: Client,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) action: String,
    pub(crate) requests: Vec<String>,
    pub(crate) latest: Value,
    pub(crate) note: Option<String>,
}

impl Change {
    pub(crate) fn begin(ctx: &Context, action: &str, arguments: &Value) -> Result<Self, ToolError> {
        let client = Client::for_target(ctx, args::str(arguments, "target"))?;
        let name = args::required_str(arguments, "name")?;
        Ok(Self {
            client,
            namespace: args::required_str(arguments, "namespace")?.to_owned(),
            name: name.to_owned(),
            action: action.to_owned(),
            requests: Vec::new(),
            latest: Value::Null,
            note: None,
        })
    }

    pub(crate) fn get(&mut self) -> Result<Value, ToolError> {
        let rollout = self
            .client
            .get(ROLLOUTS, Some(&self.namespace), &self.name)?;
        self.latest = rollout.clone();
        Ok(rollout)
    }

    /// A JSON merge patch of the Rollout (`Main`) or its status.
    pub(crate) fn patch(&mut self, part: Subresource, patch: Value) -> Result<(), ToolError> {
        self.try_patch(part, &patch)?;
        Ok(())
    }

    fn try_patch(&mut self, part: Subresource, patch: &Value) -> Result<(), KubeError> {
        let path = if part == Subresource::Status {
            "/status"
        } else {
            ""
        };
        let result =
            self.client
                .merge_patch(ROLLOUTS, Some(&self.namespace), &self.name, part, patch);
        let outcome = match &result {
            Ok(_) => String::new(),
            Err(error) => format!(": HTTP {}", error.status.unwrap_or_default()),
        };
        self.requests.push(format!(
            "PATCH rollouts/{}{path} (merge) {patch}{outcome}",
            self.name
        ));
        self.latest = result?;
        Ok(())
    }

    /// Status-first, as the CLI: PATCH `/status`; if the API serves no status subresource
    /// (a Rollouts v0.9 CRD answers 404), send `fallback` to the main resource instead.
    pub(crate) fn status_first(&mut self, patch: Value, fallback: Value) -> Result<(), ToolError> {
        match self.try_patch(Subresource::Status, &patch) {
            Err(error) if error.path_missing => self.patch(Subresource::Main, fallback),
            other => other.map_err(ToolError::from),
        }
    }

    /// `kubectl argo rollouts promote [--full]`: GET, the status patch first, then the spec patch.
    fn promote(&mut self, full: bool) -> Result<(), ToolError> {
        let rollout = self.get()?;
        let (spec_patch, status_patch) = promote_patches(&rollout, full);
        if spec_patch.is_none() && status_patch.is_none() {
            self.note = Some("nothing to promote: the Rollout is neither paused nor mid-step, or already fully promoted".into());
        }
        let mut spec_patch = spec_patch;
        if let Some(patch) = status_patch {
            // The CLI's unified patch, for a cluster without the status subresource.
            let mut unified = json!({"spec": {"paused": false}});
            unified["status"] = patch["status"].clone();
            match self.try_patch(Subresource::Status, &patch) {
                Err(error) if error.path_missing => spec_patch = Some(unified),
                other => other?,
            }
        }
        if let Some(patch) = spec_patch {
            self.patch(Subresource::Main, patch)?;
        }
        Ok(())
    }

    /// `spec.paused: false`, plus a promote when a pause condition holds the Rollout.
    fn resume(&mut self) -> Result<(), ToolError> {
        let rollout = self.get()?;
        let paused_by_condition = rollout["status"]["pauseConditions"]
            .as_array()
            .is_some_and(|c| !c.is_empty());
        if paused_by_condition {
            return self.promote(false);
        }
        if rollout["spec"]["paused"] == true {
            return self.patch(Subresource::Main, json!({"spec": {"paused": false}}));
        }
        self.note = Some("the Rollout is not paused; nothing to resume".into());
        Ok(())
    }

    /// The result, after the optional wait.
    pub(crate) fn finish(mut self, arguments: &Value) -> Result<ToolResult, ToolError> {
        let mut wait_report = None;
        if let Some(wanted) = args::str(arguments, "waitFor") {
            let budget = self.client.context().wait_budget(
                Duration::from_secs(DEFAULT_WAIT_SECONDS),
                Duration::from_secs(3600),
            );
            let timeout = args::u64_or(arguments, "timeout", budget.as_secs().max(1));
            let waited = wait::until(&self.client, &self.namespace, &self.name, wanted, timeout)?;
            self.latest = waited.rollout;
            wait_report = Some(waited.report);
        }
        let (status, message) = if self.latest["kind"] == "Rollout" {
            phase(&self.latest)
        } else {
            (String::new(), String::new())
        };
        let mut result = json!({
            "target": self.client.target(), "namespace": self.namespace, "name": self.name,
            "action": self.action, "changed": !self.requests.is_empty(), "requests": self.requests,
            "status": status, "message": message,
        });
        if let Some(report) = wait_report {
            result["wait"] = report;
        }
        if let Some(note) = self.note {
            result["note"] = json!(note);
        }
        Ok(ToolResult::structured(result))
    }
}

/// The spec and status merge patches `kubectl argo rollouts promote` sends (`getPatches`).
pub(crate) fn promote_patches(rollout: &Value, full: bool) -> (Option<Value>, Option<Value>) {
    let (spec, status) = (&rollout["spec"], &rollout["status"]);
    let unpause = (spec["paused"] == true).then(|| json!({"spec": {"paused": false}}));
    if full {
        let promoted = status["currentPodHash"] == status["stableRS"];
        return (
            unpause,
            (!promoted).then(|| json!({"status": {"promoteFull": true}})),
        );
    }
    let paused = status["pauseConditions"]
        .as_array()
        .is_some_and(|conditions| !conditions.is_empty());
    let canary = &spec["strategy"]["canary"];
    let next_step = canary["steps"]
        .as_array()
        .filter(|steps| !steps.is_empty())
        .map(|steps| {
            let index = status["currentStepIndex"].as_u64().unwrap_or(0);
            if index < steps.len() as u64 {
                index + 1
            } else {
                index
            }
        });
    let inconclusive = canary.is_object()
        && status["canary"]["currentStepAnalysisRunStatus"]["status"] == "Inconclusive";
    let status_patch = if inconclusive && paused && status["controllerPause"] == true {
        next_step.map(|step| json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": step}}))
    } else if paused {
        Some(json!({"status": {"pauseConditions": null}}))
    } else if canary.is_object() {
        next_step.map(|step| json!({"status": {"pauseConditions": null, "currentStepIndex": step}}))
    } else {
        None
    };
    (unpause, status_patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(status: Value, paused: bool) -> Value {
        json!({"spec": {"paused": paused, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"analysis": {}}]}}},
               "status": status})
    }

    #[test]
    fn promote_takes_the_documented_branches() {
        let inconclusive = canary(
            json!({"currentStepIndex": 2, "controllerPause": true,
            "pauseConditions": [{"reason": "InconclusiveAnalysisRun"}],
            "canary": {"currentStepAnalysisRunStatus": {"status": "Inconclusive"}}}),
            false,
        );
        assert_eq!(
            promote_patches(&inconclusive, false),
            (
                None,
                Some(
                    json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": 3}})
                )
            )
        );
        let pause_step = canary(
            json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}]}),
            true,
        );
        assert_eq!(
            promote_patches(&pause_step, false),
            (
                Some(json!({"spec": {"paused": false}})),
                Some(json!({"status": {"pauseConditions": null}}))
            )
        );
        let mid_step = canary(json!({"currentStepIndex": 3}), false);
        assert_eq!(
            promote_patches(&mid_step, false).1,
            Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 3}}))
        );
        let blue_green = json!({"spec": {"strategy": {"blueGreen": {}}}, "status": {}});
        assert_eq!(promote_patches(&blue_green, false), (None, None));
        let full = canary(json!({"currentPodHash": "b", "stableRS": "a"}), true);
        assert_eq!(
            promote_patches(&full, true),
            (
                Some(json!({"spec": {"paused": false}})),
                Some(json!({"status": {"promoteFull": true}}))
            )
        );
        let promoted = canary(json!({"currentPodHash": "a", "stableRS": "a"}), false);
        assert_eq!(promote_patches(&promoted, true), (None, None));
    }
}
