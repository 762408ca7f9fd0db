//! The Kubernetes API calls this plugin makes, over the SDK's client (`capstan_sdk::kube`):
//! GET, LIST (label and field selectors, paged), JSON merge PATCH and pod logs. What it adds
//! is one guard: the names `.` and `..`, which no Kubernetes object may have, are refused
//! before any request, because URL parsers on the way resolve them (even percent-encoded as
//! `%2E%2E`) as path steps, so they would leave their segment.
//!
//! The host adds the target's credentials; this plugin never handles a token.

use capstan_sdk::kube::{self, KubeError, LogOptions, Resource, Subresource};
use capstan_sdk::{ToolError, Value};

/// A core-group (`/api/v1`) kind this plugin reads.
pub(crate) const fn core(plural: &'static str, kind: &'static str) -> Resource {
    Resource {
        group: "",
        version: "v1",
        plural,
        kind,
    }
}

/// One list: which namespace (all when `None`) and which selectors.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ListOptions<'a> {
    pub(crate) namespace: Option<&'a str>,
    pub(crate) labels: Option<&'a str>,
    pub(crate) fields: Option<&'a str>,
}

/// A connection to one Kubernetes API target of this instance.
pub(crate) struct Client(kube::Client);

impl Client {
    /// The client for `target`, or the instance's default target.
    pub(crate) fn for_target(target: Option<&str>) -> Result<Self, ToolError> {
        kube::Client::for_target(target).map(Self)
    }

    /// The target's name.
    pub(crate) fn target(&self) -> &str {
        self.0.target()
    }

    /// The object `namespace/name` of `resource`.
    pub(crate) fn get(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        self.0.get(resource, Some(namespace), name)
    }

    /// Every object of `resource` matching `options`, following `continue` tokens.
    pub(crate) fn list(
        &self,
        resource: Resource,
        options: ListOptions<'_>,
    ) -> Result<Vec<Value>, KubeError> {
        let selectors = kube::ListOptions {
            label_selector: options.labels,
            field_selector: options.fields,
        };
        self.0.list_with(resource, options.namespace, selectors)
    }

    /// Sends `patch` as a JSON merge patch to `namespace/name`; answers the patched object.
    pub(crate) fn merge_patch(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        self.0
            .merge_patch(resource, Some(namespace), name, Subresource::Main, patch)
    }

    /// The log text of a pod's container.
    pub(crate) fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        options: LogOptions<'_>,
    ) -> Result<String, KubeError> {
        check_name(core("pods", "Pod"), pod)?;
        self.0.logs(namespace, pod, options)
    }
}

/// Refuses `.` and `..` (see the module docs).
fn check_name(resource: Resource, name: &str) -> Result<(), KubeError> {
    match name {
        "." | ".." => Err(KubeError {
            status: None,
            reason: None,
            path_missing: false,
            message: format!(
                "`{name}` is not a valid {} name (Kubernetes forbids `.` and `..`); pass the \
                 object's name as list_flux_resources shows it",
                resource.kind
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_names_are_refused_before_any_request() {
        let kustomizations = crate::kinds::named("Kustomization").unwrap().resource;
        assert!(check_name(kustomizations, "..").is_err());
        assert!(check_name(kustomizations, ".").is_err());
        assert!(check_name(kustomizations, "..a").is_ok());
    }
}
