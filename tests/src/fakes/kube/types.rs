//! The resource types the fake Kubernetes API serves: every vendored CRD (see `crd.rs`) and a
//! set of built-in kinds (see `builtin.rs`), with what the API server knows about each — group,
//! version, plural, scope, subresources, the field labels lists accept — and how a stored object
//! of the type is checked.

use std::sync::LazyLock;

use serde_json::Value;

use super::{builtin, crd};

/// One served resource type.
pub struct ResourceType {
    /// API group; empty for the core group (`/api/v1`).
    pub group: String,
    /// Served version, e.g. `v1alpha1`.
    pub version: String,
    /// Kind, e.g. `Rollout`.
    pub kind: String,
    /// Kind of its lists, e.g. `RolloutList`.
    pub list_kind: String,
    /// Plural as paths spell it, e.g. `rollouts`.
    pub plural: String,
    /// Singular name, e.g. `rollout`.
    pub singular: String,
    /// `kubectl` short names.
    pub short_names: Vec<String>,
    /// Namespaced (true) or cluster-scoped.
    pub namespaced: bool,
    /// Whether `…/{name}/status` is a subresource (writes to the main resource then ignore
    /// `status`, and writes to `/status` ignore everything else).
    pub status_subresource: bool,
    /// Whether `…/{name}/scale` exists (listed in discovery; not served).
    pub scale_subresource: bool,
    /// Field labels a list's `fieldSelector` may use, besides `metadata.name` and
    /// `metadata.namespace`.
    pub field_labels: Vec<&'static str>,
    /// Where the type comes from, and so how objects are checked.
    pub(crate) origin: Origin,
}

/// Where a resource type comes from.
pub(crate) enum Origin {
    /// A built-in kind: objects get a light shape check (apiVersion, kind, metadata).
    Builtin,
    /// A custom resource: objects are validated against the CRD's schema.
    Crd {
        /// The CRD as vendored, served as an `apiextensions.k8s.io/v1` object.
        document: Value,
        /// Its `openAPIV3Schema`, compiled.
        validator: Box<jsonschema::Validator>,
    },
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResourceType({} {})", self.api_version(), self.kind)
    }
}

static TYPES: LazyLock<Vec<ResourceType>> = LazyLock::new(|| {
    let mut types = builtin::types();
    types.extend(crd::types());
    types
});

/// Every resource type the fake knows: the built-in ones, then the CRDs.
pub fn all() -> &'static [ResourceType] {
    &TYPES
}

/// The type of objects with this `apiVersion` and `kind`.
pub fn for_object(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    all()
        .iter()
        .find(|rt| rt.api_version() == api_version && rt.kind == kind)
}

/// The type a path's group and plural name (any version).
pub(crate) fn for_path(group: &str, plural: &str) -> Option<&'static ResourceType> {
    all()
        .iter()
        .find(|rt| rt.group == group && rt.plural == plural)
}

/// The CRD types only.
pub(crate) fn crds() -> impl Iterator<Item = &'static ResourceType> {
    all().iter().filter(|rt| rt.is_crd())
}

impl ResourceType {
    /// `group/version`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource's qualified name as the API server's messages spell it: `pods`,
    /// `deployments.apps`, `rollouts.argoproj.io` (also a CRD's name).
    pub fn resource_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether a CRD defines the type.
    pub fn is_crd(&self) -> bool {
        matches!(self.origin, Origin::Crd { .. })
    }

    /// Whether `label` may appear in a list's `fieldSelector`.
    pub(crate) fn accepts_field(&self, label: &str) -> bool {
        label == "metadata.name"
            || label == "metadata.namespace"
            || self.field_labels.contains(&label)
    }

    /// Checks a stored object: the CRD's schema for custom resources, the shape for built-in
    /// kinds. The error lists the problems with their JSON pointers.
    pub(crate) fn validate(&self, object: &Value) -> Result<(), String> {
        match &self.origin {
            Origin::Crd { validator, .. } => crate::fakes::check_schema(validator, object),
            Origin::Builtin => builtin::check_shape(self, object),
        }
    }

    /// The vendored CRD document, for custom resources.
    pub(crate) fn crd_document(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Crd { document, .. } => Some(document),
            Origin::Builtin => None,
        }
    }
}
