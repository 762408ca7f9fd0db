//! The order in which to reconcile a Kustomization's `dependsOn` chain: a depth-first walk
//! that lists every dependency before the Kustomizations that depend on it, each once, and
//! refuses a cycle (which the kustomize-controller would never resolve either).

use capstan_sdk::{ToolError, Value};

use crate::kube::Client;
use crate::sources::Reference;

/// Chains deeper than this are refused.
const MAX_DEPTH: usize = 32;

/// `root`'s dependencies, dependencies first, ending with `root`.
pub(crate) fn order(client: &Client, root: &Reference) -> Result<Vec<Reference>, ToolError> {
    let mut walk = Walk {
        client,
        done: Vec::new(),
        path: Vec::new(),
    };
    walk.visit(root.clone())?;
    Ok(walk.done)
}

struct Walk<'a> {
    client: &'a Client,
    done: Vec<Reference>,
    path: Vec<(String, String)>,
}

impl Walk<'_> {
    fn visit(&mut self, node: Reference) -> Result<(), ToolError> {
        let key = (node.namespace.clone(), node.name.clone());
        if self
            .done
            .iter()
            .any(|done| (&done.namespace, &done.name) == (&key.0, &key.1))
        {
            return Ok(());
        }
        if self.path.contains(&key) || self.path.len() >= MAX_DEPTH {
            return Err(self.cycle(&key));
        }
        let object = self
            .client
            .get(node.kind.resource, &node.namespace, &node.name)?;
        self.path.push(key);
        for dependency in depends_on(&node, &object) {
            self.visit(dependency)?;
        }
        self.path.pop();
        self.done.push(node);
        Ok(())
    }

    fn cycle(&self, key: &(String, String)) -> ToolError {
        let chain: Vec<String> = self
            .path
            .iter()
            .chain(std::iter::once(key))
            .map(|(namespace, name)| format!("{namespace}/{name}"))
            .collect();
        ToolError::new(format!(
            "the dependsOn chain loops or is deeper than {MAX_DEPTH}: {}; fix spec.dependsOn \
             of these Kustomizations",
            chain.join(" → ")
        ))
    }
}

/// The Kustomizations `node` depends on (a missing namespace means the node's own).
pub(crate) fn depends_on(node: &Reference, object: &Value) -> Vec<Reference> {
    object["spec"]["dependsOn"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some(Reference {
                kind: node.kind,
                name: entry["name"].as_str()?.to_owned(),
                namespace: entry["namespace"]
                    .as_str()
                    .unwrap_or(&node.namespace)
                    .to_owned(),
            })
        })
        .collect()
}
