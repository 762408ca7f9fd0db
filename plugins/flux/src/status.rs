//! `get_flux_status`: what of Flux is installed on a cluster and whether it runs, like the
//! report of `flux check`: the Flux CRDs (labelled `app.kubernetes.io/part-of=flux` by
//! `flux install`) with their distribution version and whether the API established them, and
//! the controller Deployments in the Flux namespace with their image, version and ready
//! replicas.

use capstan_sdk::kube::Resource;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::kube::{Client, ListOptions};
use crate::schema;

const CRDS: Resource = Resource {
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
};
const DEPLOYMENTS: Resource = Resource {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
};
const FLUX_LABEL: &str = "app.kubernetes.io/part-of=flux";

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_flux_status",
        "Reports the Flux installation on a cluster: its distribution version, each Flux CRD \
         (and whether the API established it), and each controller (Deployment in the Flux \
         namespace) with its image, version and ready replicas; `healthy` is true when every \
         CRD is established and every controller ready. Call it first when Flux tools fail \
         everywhere on a target.",
    )
    .title("Get the Flux installation status")
    .input(schema::object(
        schema::with_target(json!({
            "fluxNamespace": schema::namespace("Where Flux runs; `flux-system` by default."),
        })),
        &[],
    ))
    .output(schema::object(
        json!({
            "target": {"type": "string"}, "installed": {"type": "boolean"},
            "version": {"type": "string"}, "healthy": {"type": "boolean"},
            "crds": {"type": "array", "items": {"type": "object"}},
            "controllers": {"type": "array", "items": {"type": "object"}},
        }),
        &["target", "installed", "healthy", "crds", "controllers"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let namespace = args::str(arguments, "fluxNamespace").unwrap_or("flux-system");
    let selected = |namespace| ListOptions {
        namespace,
        labels: Some(FLUX_LABEL),
        fields: None,
    };
    let crds: Vec<Value> = client.list(CRDS, selected(None))?.iter().map(crd).collect();
    let controllers: Vec<Value> = client
        .list(DEPLOYMENTS, selected(Some(namespace)))?
        .iter()
        .map(controller)
        .collect();
    let version = crds
        .iter()
        .find_map(|crd| crd["version"].as_str().map(str::to_owned));
    let healthy = !crds.is_empty()
        && !controllers.is_empty()
        && crds.iter().all(|crd| crd["established"] == true)
        && controllers
            .iter()
            .all(|controller| controller["ready"] == true);
    let mut answer = json!({
        "target": client.target(), "installed": !crds.is_empty(), "healthy": healthy,
        "crds": crds, "controllers": controllers,
    });
    if let Some(version) = version {
        answer["version"] = json!(version);
    }
    Ok(ToolResult::structured(answer))
}

fn crd(object: &Value) -> Value {
    let established = object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|condition| condition["type"] == "Established" && condition["status"] == "True");
    json!({
        "name": object["metadata"]["name"],
        "version": object["metadata"]["labels"]["app.kubernetes.io/version"],
        "storedVersions": object["status"]["storedVersions"],
        "established": established,
    })
}

fn controller(object: &Value) -> Value {
    let image = object["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default();
    let version = image
        .rsplit_once(':')
        .map(|(_, tag)| tag)
        .unwrap_or_default();
    let wanted = object["spec"]["replicas"].as_u64().unwrap_or(1);
    let ready = object["status"]["readyReplicas"].as_u64().unwrap_or(0);
    json!({
        "name": object["metadata"]["name"], "image": image, "version": version,
        "replicas": wanted, "readyReplicas": ready, "ready": ready >= wanted && wanted > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controller_is_ready_when_its_replicas_are() {
        let deployment = json!({"metadata": {"name": "helm-controller"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "ghcr.io/fluxcd/helm-controller:v1.6.3"}]}}},
            "status": {"readyReplicas": 1}});
        assert_eq!(
            controller(&deployment),
            json!({"name": "helm-controller", "image": "ghcr.io/fluxcd/helm-controller:v1.6.3",
                   "version": "v1.6.3", "replicas": 1, "readyReplicas": 1, "ready": true})
        );
        let down = json!({"metadata": {"name": "x"}, "spec": {}, "status": {}});
        assert_eq!(controller(&down)["ready"], false);
    }
}
