//! `trace_resource`: from any object up to the Flux object that manages it and on to its
//! source, like `flux trace`. A Pod climbs its ownerReferences (ReplicaSet → Deployment) to the
//! object Flux applied; the labels `kustomize.toolkit.fluxcd.io/{name,namespace}` and
//! `helm.toolkit.fluxcd.io/{name,namespace}` name the Kustomization or HelmRelease that applied
//! it, whose sources follow (HelmRelease → HelmChart → HelmRepository); a manager applied by
//! another Kustomization continues the walk. Each source shows its URL and revision; a source
//! already on the path (the bootstrap layout's `flux-system` GitRepository, which both an app's
//! Kustomization and `flux-system` itself read) is not repeated, and a manager already on the
//! path (`flux-system` applies itself) ends the walk.

use capstan_sdk::kube::Resource;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::kinds::{self, Kind};
use crate::kube::Client;
use crate::sources::{self, Reference};
use crate::{health, schema};

/// Steps followed at most (a safety net against label loops).
const MAX_STEPS: usize = 16;

/// The built-in kinds a trace may start from.
const WORKLOADS: [Resource; 9] = [
    Resource {
        group: "apps",
        version: "v1",
        plural: "deployments",
        kind: "Deployment",
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        kind: "StatefulSet",
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        kind: "DaemonSet",
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        kind: "ReplicaSet",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
    },
    Resource {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
    },
];

fn kind_names() -> Vec<&'static str> {
    WORKLOADS
        .iter()
        .map(|resource| resource.kind)
        .chain(kinds::names())
        .collect()
}

fn resource_of(kind: &str) -> Option<Resource> {
    WORKLOADS
        .iter()
        .copied()
        .find(|resource| resource.kind == kind)
        .or_else(|| kinds::named(kind).map(|kind| kind.resource))
}

pub(crate) fn tool() -> Tool {
    Tool::new(
        "trace_resource",
        "Traces any object (a Deployment, Pod, Service, ConfigMap, … or a Flux object) up to \
         the Flux Kustomization or HelmRelease that manages it and on to its source, like \
         `flux trace`: one step per object with its health and revision, so the failing link \
         shows. A Pod climbs its owners (ReplicaSet, Deployment) first.",
    )
    .title("Trace a resource to its Flux source")
    .input(schema::object(
        schema::with_target(json!({
            "kind": {"type": "string", "enum": kind_names(), "description": "The object's kind."},
            "name": schema::name("The object's name."),
            "namespace": schema::namespace("The object's namespace."),
        })),
        &["kind", "name", "namespace"],
    ))
    .output(schema::object(
        json!({"target": {"type": "string"}, "managed": {"type": "boolean"},
               "steps": {"type": "array", "items": {"type": "object", "properties": {
                   "role": {"type": "string", "enum": ["object", "owner", "managed by", "source"]},
                   "kind": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"},
                   "health": schema::health(), "revision": {"type": "string"},
                   "url": {"type": "string", "description": "Where a source fetches from."}},
                   "required": ["role", "kind", "name", "namespace"]}}}),
        &["target", "managed", "steps"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let kind = args::required_str(arguments, "kind")?;
    let resource = resource_of(kind).ok_or_else(|| {
        ToolError::new(format!(
            "cannot trace kind `{kind}`; use one of {}",
            kind_names().join(", ")
        ))
    })?;
    let name = args::required_str(arguments, "name")?;
    let namespace = args::required_str(arguments, "namespace")?;
    let mut current = client.get(resource, namespace, name)?;
    let mut steps = vec![step("object", resource, &current)];
    current = climb_owners(&client, namespace, current, &mut steps)?;
    let mut managed = false;
    // Flux labels what a Kustomization applies, and a bootstrapped `flux-system` Kustomization
    // applies itself: a manager already on the path ends the climb.
    let mut seen: Seen = vec![(
        resource.kind.to_owned(),
        namespace.to_owned(),
        name.to_owned(),
    )];
    while steps.len() < MAX_STEPS {
        let Some(manager) = manager_of(&current) else {
            break;
        };
        let id = (
            manager.kind.resource.kind.to_owned(),
            manager.namespace.clone(),
            manager.name.clone(),
        );
        if seen.contains(&id) {
            break;
        }
        seen.push(id);
        let object = client.get(manager.kind.resource, &manager.namespace, &manager.name)?;
        steps.push(step("managed by", manager.kind.resource, &object));
        managed = true;
        follow_sources(&client, manager.kind, &object, &mut steps, &mut seen)?;
        current = object;
    }
    if let Some(kind) = kinds::named(resource.kind).filter(|_| !managed) {
        let first = current.clone();
        follow_sources(&client, kind, &first, &mut steps, &mut seen)?;
    }
    Ok(ToolResult::structured(json!({
        "target": client.target(), "managed": managed, "steps": steps,
    })))
}

/// Climbs `ownerReferences` to the controlling Deployment, StatefulSet or DaemonSet.
fn climb_owners(
    client: &Client,
    namespace: &str,
    mut object: Value,
    steps: &mut Vec<Value>,
) -> Result<Value, ToolError> {
    for _ in 0..3 {
        if manager_of(&object).is_some() {
            break;
        }
        let owner = object["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|owners| owners.iter().find(|owner| owner["controller"] == true))
            .and_then(|owner| {
                Some((
                    resource_of(owner["kind"].as_str()?)?,
                    owner["name"].as_str()?.to_owned(),
                ))
            });
        let Some((resource, name)) = owner else { break };
        object = client.get(resource, namespace, &name)?;
        steps.push(step("owner", resource, &object));
    }
    Ok(object)
}

/// The Kustomization or HelmRelease whose labels say it applied `object`.
fn manager_of(object: &Value) -> Option<Reference> {
    let labels = &object["metadata"]["labels"];
    let from = |prefix: &str, kind: &str| {
        Some(Reference {
            kind: kinds::named(kind)?,
            name: labels[format!("{prefix}/name")].as_str()?.to_owned(),
            namespace: labels[format!("{prefix}/namespace")].as_str()?.to_owned(),
        })
    };
    from("helm.toolkit.fluxcd.io", "HelmRelease")
        .or_else(|| from("kustomize.toolkit.fluxcd.io", "Kustomization"))
}

/// The objects a trace has shown: (kind, namespace, name).
type Seen = Vec<(String, String, String)>;

/// Follows `object`'s source chain, stopping at a source the trace already showed.
fn follow_sources(
    client: &Client,
    kind: Kind,
    object: &Value,
    steps: &mut Vec<Value>,
    seen: &mut Seen,
) -> Result<(), ToolError> {
    let mut next = sources::of(kind, object);
    while let Some(source) = next.take() {
        let id = (
            source.kind.name().to_owned(),
            source.namespace.clone(),
            source.name.clone(),
        );
        if steps.len() >= MAX_STEPS || seen.contains(&id) {
            break;
        }
        seen.push(id);
        match client.get(source.kind.resource, &source.namespace, &source.name) {
            Ok(found) => {
                let mut shown = step("source", source.kind.resource, &found);
                if let Some(url) = source_url(&found) {
                    shown["url"] = json!(url);
                }
                steps.push(shown);
                next = sources::of(source.kind, &found);
            }
            Err(error) if error.status == Some(404) => {
                let mut missing = source.to_json();
                missing["role"] = json!("source");
                missing["health"] = json!({"state": "Unknown", "reason": "NotFound",
                                           "message": "the source does not exist"});
                steps.push(missing);
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Where a source fetches from: `spec.url` (Git, Helm and OCI repositories), or a Bucket's
/// `spec.endpoint` and `spec.bucketName`.
fn source_url(source: &Value) -> Option<String> {
    let spec = &source["spec"];
    if let Some(url) = spec["url"].as_str() {
        return Some(url.to_owned());
    }
    let endpoint = spec["endpoint"].as_str()?;
    let bucket = spec["bucketName"].as_str().unwrap_or_default();
    Some(format!("{endpoint}/{bucket}"))
}

/// One step: role, kind, name, namespace, and health and revision for Flux objects.
fn step(role: &str, resource: Resource, object: &Value) -> Value {
    let mut step = json!({
        "role": role, "kind": resource.kind,
        "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
    });
    if let Some(kind) = kinds::named(resource.kind) {
        step["health"] = health::of(kind, object).to_json();
        if let Some(revision) = kind.revision(object) {
            step["revision"] = json!(revision);
        }
    }
    step
}
