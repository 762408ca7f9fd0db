//! `diagnose_application`: collects the evidence for an unhealthy application (its status and
//! last operation, the objects that are not healthy, their events, recent logs of failing pods)
//! and names the common causes it recognises in it, each with the evidence and what to do.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, json};

use crate::client::Query;
use crate::params::AppRef;
use crate::schema::{app_properties, object};
use crate::summary::{self, text, wide_row};
use crate::{events, tree};

/// Unhealthy objects whose events are read at most.
const MAX_EVENT_OBJECTS: usize = 6;
/// Pods whose logs are read at most.
const MAX_LOG_PODS: usize = 2;
const LOG_LINES: u32 = 30;

/// A cause the diagnosis recognises: its name, the texts that reveal it, and the advice.
struct Pattern {
    cause: &'static str,
    needles: &'static [&'static str],
    advice: &'static str,
}

const PATTERNS: [Pattern; 6] = [
    Pattern {
        cause: "ImagePullError",
        needles: &["ImagePullBackOff", "ErrImagePull", "Failed to pull image"],
        advice: "The image cannot be pulled: check the image name and tag in Git, that the tag was pushed, and the registry credentials (imagePullSecrets).",
    },
    Pattern {
        cause: "OOMKilled",
        needles: &["OOMKilled", "OOMKilling", "out of memory"],
        advice: "The container runs out of memory: raise its memory limit or fix the leak; the previous container's logs show what it was doing.",
    },
    Pattern {
        cause: "CrashLoop",
        needles: &[
            "CrashLoopBackOff",
            "Back-off restarting failed container",
            "panic:",
        ],
        advice: "The container exits right after starting: read its logs (previous: true) for the error, often a missing or wrong setting.",
    },
    Pattern {
        cause: "ProbeFailure",
        needles: &[
            "Readiness probe failed",
            "Liveness probe failed",
            "Startup probe failed",
        ],
        advice: "Health probes fail: check the probe's path and port and the dependencies the app waits for; the logs say which.",
    },
    Pattern {
        cause: "QuotaOrLimitExceeded",
        needles: &[
            "exceeded quota",
            "LimitRange",
            "Insufficient cpu",
            "Insufficient memory",
            "forbidden: exceeded",
        ],
        advice: "Pods are refused by a ResourceQuota or LimitRange (or do not fit the nodes): lower the requests/limits or raise the namespace quota.",
    },
    Pattern {
        cause: "SyncFailed",
        needles: &[
            "one or more objects failed to apply",
            "ComparisonError",
            "SyncError",
        ],
        advice: "Argo CD could not apply the manifests: read the operation message and the app's conditions.",
    },
];

const ENVIRONMENTS: [&str; 4] = ["prod", "staging", "dev", "qa"];

pub(crate) fn tool() -> Tool {
    Tool::new(
        "diagnose_application",
        "Diagnoses an unhealthy Argo CD application in one call: reads its status, last operation \
         and conditions, the objects that are not healthy, their events and the recent logs of \
         failing pods (including the crashed previous container), and names the causes it \
         recognises (image pull errors, crash loops, OOM kills, failing probes, quota or limit \
         violations, failed syncs, configuration pointing at another environment) with the \
         evidence and what to do. Start here when an application is Degraded or Progressing too long.",
    )
    .title("Diagnose an Argo CD application")
    .input(object(app_properties(), &["applicationName"]))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"}, "summary": summary::row_schema(),
               "causes": {"type": "array", "items": {"type": "object", "properties": {
                   "cause": {"type": "string"}, "evidence": {"type": "array", "items": {"type": "string"}},
                   "advice": {"type": "string"}}}},
               "unhealthy": {"type": "array", "items": {"type": "object"}},
               "events": {"type": "array", "items": {"type": "object"}},
               "logs": {"type": "object", "description": "Recent log lines by pod."},
               "operation": {"type": ["object", "null"]}, "conditions": {"type": "array"}}),
        &["target", "application", "summary", "causes", "unhealthy", "events", "logs"],
    ))
    .read_only()
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let app = app_ref
        .client
        .get(&app_ref.path(""), &app_ref.query(), &app_ref.not_found())?;
    let tree_answer = app_ref.client.get(
        &app_ref.path("/resource-tree"),
        &app_ref.query(),
        &app_ref.not_found(),
    )?;
    let unhealthy: Vec<&Value> = tree_answer["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|node| {
            node["health"]["status"]
                .as_str()
                .is_some_and(|h| h != "Healthy")
        })
        .collect();
    let events = collect_events(&app_ref, &unhealthy);
    let logs = collect_logs(&app_ref, &unhealthy);
    let mut evidence: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e["object"].as_str().unwrap_or_default(),
                text(&e["reason"]),
                text(&e["message"])
            )
        })
        .collect();
    evidence.extend(
        unhealthy
            .iter()
            .map(|n| format!("{}/{}: {}", text(&n["kind"]), text(&n["name"]), describe(n))),
    );
    evidence.push(format!(
        "operation: {}",
        text(&app["status"]["operationState"]["message"])
    ));
    evidence.extend(
        app["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("condition {}: {}", text(&c["type"]), text(&c["message"]))),
    );
    let log_lines: Vec<String> = logs
        .iter()
        .flat_map(|(pod, lines)| lines.iter().map(move |line| format!("{pod}: {line}")))
        .collect();
    evidence.extend(log_lines.iter().cloned());
    let mut causes = recognise(&evidence);
    if let Some(cause) = wrong_environment(&app, &log_lines) {
        causes.push(cause);
    }
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name, "summary": wide_row(&app),
        "causes": causes, "unhealthy": unhealthy.iter().map(|n| tree::row(n)).collect::<Vec<_>>(),
        "events": events, "logs": logs.into_iter().map(|(pod, lines)| (pod, json!(lines))).collect::<capstan_sdk::Map<_, _>>(),
        "operation": summary::operation(&app["status"]["operationState"]),
        "conditions": app["status"]["conditions"].as_array().cloned().unwrap_or_default(),
    })))
}

fn describe(node: &Value) -> String {
    let info: Vec<&str> = node["info"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| text(&i["value"]))
        .collect();
    format!(
        "{} {} {}",
        text(&node["health"]["status"]),
        text(&node["health"]["message"]),
        info.join(" ")
    )
}

/// The warning events of the unhealthy objects.
fn collect_events(app_ref: &AppRef<'_>, unhealthy: &[&Value]) -> Vec<Value> {
    let mut rows = Vec::new();
    for node in unhealthy.iter().take(MAX_EVENT_OBJECTS) {
        let mut query = app_ref.query();
        query.push_opt("resourceNamespace", node["namespace"].as_str());
        query.push_opt("resourceName", node["name"].as_str());
        query.push_opt("resourceUID", node["uid"].as_str());
        if let Ok(list) = app_ref.client.get(&app_ref.path("/events"), &query, "") {
            rows.extend(
                list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["type"] == "Warning")
                    .map(events::row),
            );
        }
    }
    rows
}

/// The last lines of the failing pods (of the crashed container when it restarted).
fn collect_logs(app_ref: &AppRef<'_>, unhealthy: &[&Value]) -> Vec<(String, Vec<String>)> {
    let mut logs = Vec::new();
    for pod in unhealthy
        .iter()
        .filter(|n| n["kind"] == "Pod")
        .take(MAX_LOG_PODS)
    {
        let name = text(&pod["name"]);
        let restarted =
            describe(pod).contains("CrashLoopBackOff") || describe(pod).contains("OOMKilled");
        let mut query = Query::default();
        query.push_opt("appNamespace", app_ref.namespace);
        query.push_opt("namespace", pod["namespace"].as_str());
        query.push("tailLines", &LOG_LINES.to_string());
        if restarted {
            query.push("previous", "true");
        }
        query.push("follow", "false");
        // A pod named `.` or `..` (from the resource tree) cannot be addressed; skip it.
        let Ok(pod_segment) = capstan_sdk::url::segment(name) else {
            continue;
        };
        let path = app_ref.path(&format!("/pods/{pod_segment}/logs"));
        let lines = match app_ref.client.get_text(&path, &query, "") {
            Ok(stream) => stream
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter_map(|entry| {
                    entry["result"]["content"]
                        .as_str()
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                })
                .collect(),
            Err(error) => vec![format!("(logs unavailable: {})", error.message())],
        };
        logs.push((name.to_owned(), lines));
    }
    logs
}

fn recognise(evidence: &[String]) -> Vec<Value> {
    PATTERNS
        .iter()
        .filter_map(|pattern| {
            let found: Vec<&String> = evidence
                .iter()
                .filter(|text| pattern.needles.iter().any(|needle| text.contains(needle)))
                .take(3)
                .collect();
            (!found.is_empty()).then(
                || json!({"cause": pattern.cause, "evidence": found, "advice": pattern.advice}),
            )
        })
        .collect()
}

/// Configuration pointing at another environment: the app is for one environment (label
/// `env`, or its destination) while its logs name hosts of another.
fn wrong_environment(app: &Value, log_lines: &[String]) -> Option<Value> {
    let labels = &app["metadata"]["labels"];
    let declared = labels["env"].as_str().map(str::to_owned).or_else(|| {
        let destination = app["spec"]["destination"].to_string();
        ENVIRONMENTS
            .iter()
            .find(|env| destination.contains(*env))
            .map(|env| (*env).to_owned())
    })?;
    let other: Vec<&String> = log_lines
        .iter()
        .filter(|line| {
            ENVIRONMENTS.iter().any(|env| {
                *env != declared
                    && (line.contains(&format!(".{env}."))
                        || line.contains(&format!("\"env\":\"{env}\"")))
            })
        })
        .take(3)
        .collect();
    (!other.is_empty()).then(|| {
        json!({"cause": "WrongEnvironmentConfig", "evidence": other,
               "advice": format!("The application is for `{declared}` but its configuration points at another environment: check the values, overlays or ConfigMaps it uses for that environment's hosts.")})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_recognised_from_evidence() {
        let evidence = vec![
            "Pod/web-1 BackOff: Back-off restarting failed container".to_owned(),
            "Pod/web-1 OOMKilling: Memory cgroup out of memory".to_owned(),
        ];
        let causes: Vec<String> = recognise(&evidence)
            .iter()
            .map(|c| c["cause"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(causes, ["OOMKilled", "CrashLoop"]);
        let app = json!({"metadata": {"labels": {"env": "prod"}}});
        let lines = vec!["web-1: {\"host\":\"postgres.staging.svc.cluster.local\"}".to_owned()];
        assert_eq!(
            wrong_environment(&app, &lines).unwrap()["cause"],
            "WrongEnvironmentConfig"
        );
        assert!(wrong_environment(&app, &["web-1: all good".to_owned()]).is_none());
    }
}
