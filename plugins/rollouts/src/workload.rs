//! The tools that change a Rollout's pod template: `set_image` (GET + PUT guarded by
//! `resourceVersion`, retried on 409 Conflict, as `kubectl argo rollouts set image`) and `undo`
//! (a JSON Patch replacing `/spec/template` with an owned ReplicaSet's template). A Rollout with
//! `spec.workloadRef` keeps its template in a Deployment: both tools change that Deployment.

use capstan_sdk::kube::{KubeError, ListOptions, Subresource};
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::actions::Change;
use crate::info;
use crate::schema::{self, DEPLOYMENTS, REPLICA_SETS, ROLLOUTS};

/// Attempts of a GET + PUT before giving up on conflicts (the CLI's `retry.DefaultRetry`).
const ATTEMPTS: usize = 5;
/// The label the controller adds to each ReplicaSet's template.
const HASH_LABEL: &str = "rollouts-pod-template-hash";

pub(crate) fn set_image_tool() -> Tool {
    Tool::new(
        "set_image",
        "Sets the image of a container of a Rollout (`container` `*` for every container), \
         starting a new revision that goes through the Rollout's steps. A Rollout with a \
         `workloadRef` gets its referenced Deployment updated instead.",
    )
    .title("Set an Argo Rollout's image")
    .input(schema::rollout_action(
        json!({"container": {"type": "string", "minLength": 1, "maxLength": 253, "description": "Container name, or `*` for all."},
               "image": {"type": "string", "minLength": 1, "maxLength": 1024, "description": "The new image, e.g. `ghcr.io/org/app:2.0.1`."}}),
        &["container", "image"],
    ))
    .output(schema::action_output())
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn undo_tool() -> Tool {
    Tool::new(
        "undo",
        "Rolls a Rollout back to an earlier revision (`toRevision`, default the previous one) by \
         restoring that revision's pod template; the rollback goes through the normal steps.",
    )
    .title("Undo an Argo Rollout")
    .input(schema::rollout_action(
        json!({"toRevision": {"type": "integer", "minimum": 0, "default": 0,
                               "description": "The revision to go back to; 0 or omitted: the previous one."}}),
        &[],
    ))
    .output(schema::action_output())
    .destructive(true)
    .idempotent(false)
}

/// Where the pod template lives: the Rollout itself or its workloadRef Deployment.
fn workload_name(rollout: &Value) -> Result<Option<String>, ToolError> {
    let reference = &rollout["spec"]["workloadRef"];
    if reference.is_null() {
        return Ok(None);
    }
    match (reference["kind"].as_str(), reference["name"].as_str()) {
        (Some("Deployment"), Some(name)) => Ok(Some(name.to_owned())),
        (kind, _) => Err(ToolError::new(format!(
            "the Rollout's workloadRef points at a {}; this tool changes Deployment workloads only",
            kind.unwrap_or("workload without a kind")
        ))),
    }
}

pub(crate) fn set_image(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let mut change = Change::begin(ctx, "set_image", arguments)?;
    let container = args::required_str(arguments, "container")?;
    let image = args::required_str(arguments, "image")?;
    for attempt in 1..=ATTEMPTS {
        let rollout = change.get()?;
        let (resource, name, mut object) = match workload_name(&rollout)? {
            Some(deployment) => {
                let object =
                    change
                        .client
                        .get(DEPLOYMENTS, Some(&change.namespace), &deployment)?;
                (DEPLOYMENTS, deployment, object)
            }
            None => (ROLLOUTS, change.name.clone(), rollout),
        };
        if !replace_images(&mut object["spec"]["template"]["spec"], container, image) {
            return Err(ToolError::new(format!(
                "unable to find container named \"{container}\"; the {} has: {}",
                resource.kind,
                container_names(&object["spec"]["template"]["spec"]).join(", ")
            )));
        }
        let version = object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let request = format!("PUT {}/{name} (resourceVersion {version})", resource.plural);
        match change
            .client
            .replace(resource, Some(&change.namespace), &name, &object)
        {
            Ok(written) => {
                change.requests.push(request);
                if resource.kind == "Rollout" {
                    change.latest = written;
                } else {
                    change.get()?;
                }
                return change.finish(arguments);
            }
            Err(error) if error.is_conflict() && attempt < ATTEMPTS => {
                change
                    .requests
                    .push(format!("{request}: 409 Conflict, retried"));
            }
            Err(error) => return Err(error.into()),
        }
    }
    unreachable!("the last attempt returns")
}

/// Sets `image` on every init, regular and ephemeral container named `container` (or all for
/// `*`); whether any matched.
fn replace_images(pod_spec: &mut Value, container: &str, image: &str) -> bool {
    let mut matched = false;
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        // `get_mut`, not indexing: indexing would add the missing lists as `null`.
        let entries = pod_spec.get_mut(field).and_then(Value::as_array_mut);
        for entry in entries.into_iter().flatten() {
            if container == "*" || entry["name"] == container {
                entry["image"] = json!(image);
                matched = true;
            }
        }
    }
    matched
}

fn container_names(pod_spec: &Value) -> Vec<String> {
    pod_spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn undo(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let mut change = Change::begin(ctx, "undo", arguments)?;
    let wanted = args::u64_or(arguments, "toRevision", 0);
    let rollout = change.get()?;
    let selector = info::selector_string(&rollout["spec"]["selector"]);
    let options = ListOptions {
        label_selector: Some(&selector),
        field_selector: None,
    };
    let mut history: Vec<Value> = change
        .client
        .list_with(REPLICA_SETS, Some(&change.namespace), options)?
        .into_iter()
        .filter(|rs| info::controlled_by(rs, &rollout))
        .collect();
    history.sort_by_key(|rs| std::cmp::Reverse(info::revision(rs).unwrap_or(0)));
    let revisions: Vec<String> = history
        .iter()
        .filter_map(info::revision)
        .map(|r| r.to_string())
        .collect();
    let chosen = match wanted {
        0 => history.get(1).ok_or_else(|| {
            ToolError::new(
                "no rollout history found: the Rollout owns no earlier ReplicaSet to go back to",
            )
        })?,
        n => history
            .iter()
            .find(|rs| info::revision(rs) == Some(n as i64))
            .ok_or_else(|| {
                ToolError::new(format!(
                    "unable to find specified revision {n}; the Rollout's revisions are: {}",
                    revisions.join(", ")
                ))
            })?,
    };
    let revision = info::revision(chosen).unwrap_or(0);
    let mut template = chosen["spec"]["template"].clone();
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    let (resource, name, current) = match workload_name(&rollout)? {
        Some(deployment) => {
            let object = change
                .client
                .get(DEPLOYMENTS, Some(&change.namespace), &deployment)?;
            (DEPLOYMENTS, deployment, object["spec"]["template"].clone())
        }
        None => (
            ROLLOUTS,
            change.name.clone(),
            rollout["spec"]["template"].clone(),
        ),
    };
    if current == template {
        change.note = Some(format!(
            "skipped rollback: the current template already matches revision {revision}"
        ));
        return change.finish(arguments);
    }
    let patch = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
    let written = change
        .client
        .json_patch(
            resource,
            Some(&change.namespace),
            &name,
            Subresource::Main,
            &patch,
        )
        .map_err(|error: KubeError| ToolError::from(error))?;
    change.requests.push(format!(
        "PATCH {}/{name} (json-patch) replace /spec/template with revision {revision}",
        resource.plural
    ));
    change.note = Some(format!(
        "rolled back to the template of revision {revision}"
    ));
    if resource.kind == "Rollout" {
        change.latest = written;
    } else {
        change.get()?;
    }
    change.finish(arguments)
}
