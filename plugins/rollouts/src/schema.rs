//! The pieces of the tools' JSON Schemas: arguments every tool shares (`target`, `namespace`,
//! `name`), the optional wait of write tools, and the resource types the plugin addresses.

use capstan_sdk::kube::Resource;
use capstan_sdk::{Value, json};

/// `argoproj.io/v1alpha1` Rollouts.
pub(crate) const ROLLOUTS: Resource = Resource {
    group: "argoproj.io",
    version: "v1alpha1",
    plural: "rollouts",
    kind: "Rollout",
};
/// `argoproj.io/v1alpha1` AnalysisRuns.
pub(crate) const ANALYSIS_RUNS: Resource = Resource {
    group: "argoproj.io",
    version: "v1alpha1",
    plural: "analysisruns",
    kind: "AnalysisRun",
};
/// `argoproj.io/v1alpha1` Experiments.
pub(crate) const EXPERIMENTS: Resource = Resource {
    group: "argoproj.io",
    version: "v1alpha1",
    plural: "experiments",
    kind: "Experiment",
};
/// `apps/v1` ReplicaSets.
pub(crate) const REPLICA_SETS: Resource = Resource {
    group: "apps",
    version: "v1",
    plural: "replicasets",
    kind: "ReplicaSet",
};
/// `apps/v1` Deployments.
pub(crate) const DEPLOYMENTS: Resource = Resource {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
};
/// Core `v1` Pods.
pub(crate) const PODS: Resource = Resource {
    group: "",
    version: "v1",
    plural: "pods",
    kind: "Pod",
};

use capstan_sdk::schema::NAMESPACE_PATTERN;
pub(crate) use capstan_sdk::schema::object;

/// `target`: which Kubernetes API of the instance to ask.
pub(crate) fn target() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 64,
           "description": "Which Kubernetes API (cluster) of this capstan instance to use; defaults to its default target."})
}

/// `namespace`, described for a list (`optional`) or for one object.
pub(crate) fn namespace(optional: bool) -> Value {
    let description = if optional {
        "Only this namespace; every namespace when omitted."
    } else {
        "The namespace of the object."
    };
    json!({"type": "string", "pattern": NAMESPACE_PATTERN, "description": description})
}

/// `name` of an object of `kind`.
pub(crate) fn name(kind: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 253, "description": format!("The {kind}'s name.")})
}

/// `labelSelector` of a list.
pub(crate) fn label_selector() -> Value {
    json!({"type": "string", "maxLength": 1024, "description": "Kubernetes label selector, e.g. `app=checkout,tier!=canary`."})
}

/// Arguments of a tool on one Rollout: `target`, `namespace`, `name`, and the optional wait.
pub(crate) fn rollout_action(extra: Value, required: &[&str]) -> Value {
    let mut properties = json!({
        "target": target(), "namespace": namespace(false), "name": name("Rollout"),
        "waitFor": {"type": "string", "enum": ["healthy", "paused", "degraded"],
                     "description": "After the change, poll the Rollout until it reaches this phase (it also stops at Degraded, and at Paused when waiting for healthy). Omit to return at once."},
        "timeout": {"type": "integer", "minimum": 1, "maximum": 3600,
                    "description": "Seconds to wait with `waitFor` (default: as long as the call may run, less a margin to answer in: the call timeout, or the task time limit for clients with MCP tasks). On timeout the result reports the current phase and message."},
    });
    if let (Some(properties), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        properties.extend(extra.clone());
    }
    let mut all = vec!["namespace", "name"];
    all.extend(required);
    object(properties, &all)
}

/// The structured result of a write tool on a Rollout.
pub(crate) fn action_output() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "target": string, "namespace": string, "name": string, "action": string,
            "changed": {"type": "boolean", "description": "Whether a request changed anything."},
            "requests": {"type": "array", "items": string, "description": "The API requests sent, in order."},
            "status": {"type": "string", "description": "Phase afterwards: Healthy, Progressing, Paused or Degraded."},
            "message": string,
            "wait": {"type": "object"},
        },
        "required": ["target", "namespace", "name", "action", "changed", "requests", "status"],
    })
}
