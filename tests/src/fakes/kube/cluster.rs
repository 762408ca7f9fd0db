//! Building a fake cluster before serving it: fixtures (checked as the API server would check
//! them), pod logs, RBAC denials, uninstalled CRDs, a base path and a bearer token.

use std::ops::{Deref, DerefMut};

use anyhow::Result;

use super::crd;
use super::store::Store;
use super::types;

/// A fake cluster under construction. It dereferences to its [`Store`], so
/// [`Store::add`], [`Store::add_logs`] and [`Store::forbid`] work on it too.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub(super) store: Store,
    pub(super) base_path: String,
    pub(super) token: Option<String>,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Cluster {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

impl Cluster {
    /// An empty cluster with every known CRD installed.
    pub fn new() -> Self {
        Self {
            store: Store::new(),
            base_path: String::new(),
            token: None,
        }
    }

    /// The names (`<plural>.<group>`) of the CRDs the fake knows.
    pub fn known_crds() -> Vec<String> {
        types::crds().map(|rt| rt.resource_name()).collect()
    }

    /// [`Store::add`] for chaining.
    pub fn with(mut self, object: serde_json::Value) -> Result<Self> {
        self.store.add(object)?;
        Ok(self)
    }

    /// [`Store::add_logs`] for chaining: `(RFC 3339 time, text)` lines of a container.
    pub fn with_logs(
        mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: &[(&str, &str)],
    ) -> Self {
        self.store.add_logs(namespace, pod, container, false, lines);
        self
    }

    /// [`Store::forbid`] for chaining.
    pub fn forbidding(mut self, verb: &str, resource: &str) -> Self {
        self.store.forbid(verb, resource);
        self
    }

    /// [`Store::drop_status_subresource`] for chaining.
    pub fn without_status_subresource(mut self, name: &str) -> Self {
        self.store.drop_status_subresource(name);
        self
    }

    /// Uninstalls the CRD `name` (e.g. `helmreleases.helm.toolkit.fluxcd.io`): its paths then
    /// answer 404 and discovery omits it, like a cluster without it.
    pub fn without_crd(mut self, name: &str) -> Self {
        self.store
            .remove(crd::CRD_API_VERSION, "CustomResourceDefinition", "", name);
        self
    }

    /// Serves the API under `path`, like a proxy such as Rancher's `/k8s/clusters/<id>`.
    pub fn with_base_path(mut self, path: &str) -> Self {
        self.base_path = path.to_owned();
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
}
