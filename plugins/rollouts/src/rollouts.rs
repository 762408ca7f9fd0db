//! `list_rollouts`: every Rollout in a namespace (or all), one row each with its strategy,
//! status, canary step, replica counts and images.

use capstan_sdk::serde_json::Map;
use capstan_sdk::{Tool, ToolError, ToolResult, Value, args, json};

use capstan_sdk::kube::{Client, Resource};

const ROLLOUTS: Resource = Resource {
    group: "argoproj.io",
    version: "v1alpha1",
    plural: "rollouts",
    kind: "Rollout",
};

/// A Kubernetes namespace name (RFC 1123 label).
const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_rollouts",
        "Lists Argo Rollouts in one namespace (or every namespace when `namespace` is omitted), \
         optionally filtered by a label selector. One row per Rollout: strategy (Canary or \
         BlueGreen), status (Healthy, Progressing, Paused, Degraded) with its message, the canary \
         step, desired/ready/updated/available replicas and the container images.",
    )
    .title("List Argo Rollouts")
    .input(object(
        json!({
            "target": {"type": "string", "minLength": 1, "maxLength": 64,
                       "description": "Which Kubernetes API of this capstan instance to ask; defaults to its default target."},
            "namespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                          "description": "Only this namespace; every namespace when omitted."},
            "labelSelector": {"type": "string", "maxLength": 1024,
                              "description": "Kubernetes label selector, e.g. `app=checkout,tier!=canary`."},
        }),
        &[],
    ))
    .output(object(
        json!({
            "target": {"type": "string"},
            "count": {"type": "integer"},
            "rollouts": {"type": "array", "items": row_schema()},
        }),
        &["target", "count", "rollouts"],
    ))
    .read_only()
}

pub(crate) fn list(arguments: Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(args::str(&arguments, "target"))?;
    let namespace = args::str(&arguments, "namespace");
    let selector = args::str(&arguments, "labelSelector");
    let rollouts = client
        .list(ROLLOUTS, namespace, selector)
        .map_err(|error| {
            if error.status == Some(404) {
                ToolError::new(format!(
                    "Argo Rollouts is not installed on target `{}`: its API has no \
                 rollouts.argoproj.io/v1alpha1 resource. Pick another target.",
                    client.target()
                ))
            } else {
                error.into()
            }
        })?;
    let rows: Vec<Value> = rollouts.iter().map(summarize).collect();
    Ok(ToolResult::structured(json!({
        "target": client.target(),
        "count": rows.len(),
        "rollouts": rows,
    })))
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn row_schema() -> Value {
    let string = json!({"type": "string"});
    let count = json!({"type": "integer"});
    json!({
        "type": "object",
        "properties": {
            "name": string, "namespace": string,
            "strategy": {"type": "string", "enum": ["Canary", "BlueGreen", "None"]},
            "status": {"type": "string", "description": "Healthy, Progressing, Paused, Degraded or Unknown."},
            "message": string,
            "step": {"type": "string", "description": "Canary step as `current/total`."},
            "replicas": count, "ready": count, "updated": count, "available": count,
            "images": {"type": "array", "items": string},
        },
        "required": ["name", "namespace", "strategy", "status", "replicas", "ready", "images"],
    })
}

/// One row per Rollout.
fn summarize(rollout: &Value) -> Value {
    let (spec, status) = (&rollout["spec"], &rollout["status"]);
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    let mut row = Map::new();
    row.insert("name".into(), rollout["metadata"]["name"].clone());
    row.insert("namespace".into(), rollout["metadata"]["namespace"].clone());
    row.insert("strategy".into(), json!(strategy(spec)));
    let (phase, message) = phase(rollout);
    row.insert("status".into(), json!(phase));
    if !message.is_empty() {
        row.insert("message".into(), json!(message));
    }
    if let Some(step) = step(rollout) {
        row.insert("step".into(), json!(step));
    }
    row.insert(
        "replicas".into(),
        json!(spec["replicas"].as_u64().unwrap_or(1)),
    );
    row.insert("ready".into(), json!(count(&status["readyReplicas"])));
    row.insert("updated".into(), json!(count(&status["updatedReplicas"])));
    row.insert(
        "available".into(),
        json!(count(&status["availableReplicas"])),
    );
    row.insert("images".into(), json!(images(spec)));
    Value::Object(row)
}

fn strategy(spec: &Value) -> &'static str {
    let strategy = &spec["strategy"];
    if strategy["canary"].is_object() {
        "Canary"
    } else if strategy["blueGreen"].is_object() {
        "BlueGreen"
    } else {
        "None"
    }
}

/// The controller's phase and message, or Progressing while it has not yet observed the
/// latest spec (`status.observedGeneration` is a string in the Rollout CRD).
fn phase(rollout: &Value) -> (&str, &str) {
    let status = &rollout["status"];
    let observed = status["observedGeneration"]
        .as_str()
        .and_then(|text| text.parse::<u64>().ok());
    let generation = rollout["metadata"]["generation"].as_u64();
    if observed.is_some() && generation.is_some() && observed != generation {
        return (
            "Progressing",
            "waiting for rollout spec update to be observed",
        );
    }
    match status["phase"].as_str() {
        Some(phase) if !phase.is_empty() => (phase, status["message"].as_str().unwrap_or_default()),
        _ => ("Unknown", "the controller has not reported a phase yet"),
    }
}

/// `current/total` for a canary with steps.
fn step(rollout: &Value) -> Option<String> {
    let steps = rollout["spec"]["strategy"]["canary"]["steps"]
        .as_array()?
        .len();
    let current = rollout["status"]["currentStepIndex"].as_u64().unwrap_or(0);
    (steps > 0).then(|| format!("{}/{steps}", current.min(steps as u64)))
}

/// The images of the pod template's containers (none for a `workloadRef` Rollout).
fn images(spec: &Value) -> Vec<&str> {
    spec["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|container| container["image"].as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_canary_is_summarized() {
        let rollout = json!({
            "metadata": {"name": "api", "namespace": "shop", "generation": 3},
            "spec": {"replicas": 4,
                     "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]}},
                     "template": {"spec": {"containers": [{"name": "api", "image": "shop/api:2"}]}}},
            "status": {"phase": "Paused", "message": "CanaryPauseStep", "observedGeneration": "3",
                       "currentStepIndex": 1, "readyReplicas": 4, "updatedReplicas": 1, "availableReplicas": 4},
        });
        assert_eq!(
            summarize(&rollout),
            json!({"name": "api", "namespace": "shop", "strategy": "Canary", "status": "Paused",
                   "message": "CanaryPauseStep", "step": "1/3", "replicas": 4, "ready": 4,
                   "updated": 1, "available": 4, "images": ["shop/api:2"]})
        );
    }

    #[test]
    fn an_unobserved_generation_is_progressing() {
        let rollout = json!({
            "metadata": {"name": "web", "namespace": "shop", "generation": 5},
            "spec": {"strategy": {"blueGreen": {"activeService": "web"}}},
            "status": {"phase": "Healthy", "observedGeneration": "4"},
        });
        let row = summarize(&rollout);
        assert_eq!(
            (row["strategy"].as_str(), row["status"].as_str()),
            (Some("BlueGreen"), Some("Progressing"))
        );
        assert_eq!(row["replicas"], 1);
        assert!(row.get("step").is_none());
    }
}
