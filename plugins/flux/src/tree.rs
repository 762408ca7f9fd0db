//! `flux_tree`: what a Kustomization applied, like `flux tree kustomization`: its
//! `status.inventory` entries (ids `<namespace>_<name>_<group>_<kind>`), nested Kustomizations
//! walked in turn (unless the parent applies to a remote cluster through `spec.kubeConfig`),
//! and each HelmRelease with its health, deployed release (name, version, chart) and the
//! objects of that release, decoded from Helm's storage Secret (`helm.rs`).

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::kinds::{self, Kind};
use crate::kube::{Client, core};
use crate::{health, helm, schema};

/// Nested Kustomizations followed at most this deep.
const MAX_DEPTH: usize = 8;
/// Nodes returned at most.
const MAX_NODES: usize = 2000;

pub(crate) fn tool() -> Tool {
    Tool::new(
        "flux_tree",
        "Shows what a Kustomization applied, as a tree, like `flux tree kustomization`: every \
         object of its inventory, nested Kustomizations expanded in turn, and HelmReleases with \
         their health and deployed release; Flux objects carry their health and revision. \
         `compact` keeps only Flux objects. Use it to see which objects a change affects.",
    )
    .title("Show a Kustomization's tree")
    .input(schema::object(
        schema::with_target(json!({
            "name": schema::name("The Kustomization's name."),
            "namespace": schema::namespace("The Kustomization's namespace."),
            "compact": {"type": "boolean", "default": false, "description": "Only Flux objects."},
        })),
        &["name", "namespace"],
    ))
    .output(schema::object(
        json!({"target": {"type": "string"}, "count": {"type": "integer"}, "tree": {"type": "object"}}),
        &["target", "count", "tree"],
    ))
    .read_only()
    .open_world(false)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let name = args::required_str(arguments, "name")?;
    let namespace = args::required_str(arguments, "namespace")?;
    let mut walk = Walk {
        client: &client,
        compact: arguments["compact"].as_bool().unwrap_or(false),
        count: 0,
    };
    let kustomization = kinds::require("Kustomization")?;
    let object = client.get(kustomization.resource, namespace, name)?;
    let tree = walk.flux_node(kustomization, &object, 0)?;
    Ok(ToolResult::structured(json!({
        "target": client.target(), "count": walk.count, "tree": tree,
    })))
}

struct Walk<'a> {
    client: &'a Client,
    compact: bool,
    count: usize,
}

impl Walk<'_> {
    /// A Flux object's node, with its children when it is a Kustomization.
    fn flux_node(&mut self, kind: Kind, object: &Value, depth: usize) -> Result<Value, ToolError> {
        self.count += 1;
        let mut node = json!({
            "kind": kind.name(), "name": object["metadata"]["name"],
            "namespace": object["metadata"]["namespace"],
            "health": health::of(kind, object).to_json(),
        });
        if let Some(revision) = kind.revision(object) {
            node["revision"] = json!(revision);
        }
        if kind.name() == "HelmRelease" {
            let last = &object["status"]["history"][0];
            if last.is_object() {
                node["release"] = json!({"name": last["name"], "namespace": last["namespace"],
                                         "version": last["version"], "chart": last["chartName"],
                                         "chartVersion": last["chartVersion"], "status": last["status"]});
                if !self.compact && !object["spec"]["kubeConfig"].is_object() {
                    self.release_children(object, last, &mut node)?;
                }
            }
        }
        if kind.name() == "Kustomization" {
            let remote = object["spec"]["kubeConfig"].is_object();
            node["children"] = json!(self.children(object, depth, remote)?);
        }
        Ok(node)
    }

    fn children(
        &mut self,
        object: &Value,
        depth: usize,
        remote: bool,
    ) -> Result<Vec<Value>, ToolError> {
        let mut children = Vec::new();
        let entries = object["status"]["inventory"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for entry in &entries {
            if self.count >= MAX_NODES {
                break;
            }
            let Some((namespace, name, group, kind)) = entry["id"].as_str().and_then(parse_id)
            else {
                continue;
            };
            let flux = kinds::named(kind).filter(|flux| flux.resource.group == group);
            match flux {
                Some(flux)
                    if !remote
                        && depth < MAX_DEPTH
                        && matches!(kind, "Kustomization" | "HelmRelease") =>
                {
                    match self.client.get(flux.resource, namespace, name) {
                        Ok(found) => children.push(self.flux_node(flux, &found, depth + 1)?),
                        Err(error) if error.status == Some(404) => {
                            children.push(leaf(namespace, name, group, kind, "not found"));
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                None if self.compact => {}
                _ => {
                    self.count += 1;
                    children.push(leaf(namespace, name, group, kind, ""));
                }
            }
        }
        Ok(children)
    }
}

impl Walk<'_> {
    /// The objects of the deployed release, from Helm's storage Secret; a Secret that cannot
    /// be read leaves a `note` saying why.
    fn release_children(
        &mut self,
        release: &Value,
        last: &Value,
        node: &mut Value,
    ) -> Result<(), ToolError> {
        let storage = release["status"]["storageNamespace"]
            .as_str()
            .or_else(|| release["metadata"]["namespace"].as_str())
            .unwrap_or_default();
        let name = format!(
            "sh.helm.release.v1.{}.v{}",
            last["name"].as_str().unwrap_or_default(),
            last["version"].as_u64().unwrap_or_default()
        );
        let secret = match self.client.get(core("secrets", "Secret"), storage, &name) {
            Ok(secret) => secret,
            Err(error) if matches!(error.status, Some(403 | 404)) => {
                node["note"] = json!(error.message);
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let namespace = last["namespace"].as_str().unwrap_or(storage);
        match helm::objects(&secret, namespace) {
            Ok(objects) => {
                let children: Vec<Value> = objects
                    .iter()
                    .map(|object| {
                        let group = object
                            .api_version
                            .rsplit_once('/')
                            .map(|(group, _)| group)
                            .unwrap_or_default();
                        leaf(
                            object.namespace.as_deref().unwrap_or_default(),
                            &object.name,
                            group,
                            &object.kind,
                            "",
                        )
                    })
                    .collect();
                self.count += children.len();
                node["children"] = json!(children);
            }
            Err(message) => {
                node["note"] = json!(format!("Helm storage Secret `{storage}/{name}`: {message}"))
            }
        }
        Ok(())
    }
}

fn leaf(namespace: &str, name: &str, group: &str, kind: &str, note: &str) -> Value {
    let mut node = json!({"kind": kind, "name": name});
    if !namespace.is_empty() {
        node["namespace"] = json!(namespace);
    }
    if !group.is_empty() {
        node["group"] = json!(group);
    }
    if !note.is_empty() {
        node["note"] = json!(note);
    }
    node
}

/// `<namespace>_<name>_<group>_<kind>` (namespace and group may be empty).
fn parse_id(id: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = id.split('_');
    let found = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !found.1.is_empty() && !found.3.is_empty()).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_ids_split_into_four_parts() {
        assert_eq!(
            parse_id("podinfo_podinfo_helm.toolkit.fluxcd.io_HelmRelease"),
            Some((
                "podinfo",
                "podinfo",
                "helm.toolkit.fluxcd.io",
                "HelmRelease"
            ))
        );
        assert_eq!(
            parse_id("_podinfo__Namespace"),
            Some(("", "podinfo", "", "Namespace"))
        );
        assert_eq!(parse_id("a_b_c"), None);
        assert_eq!(parse_id("a_b_c_d_e"), None);
    }
}
