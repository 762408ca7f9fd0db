//! The Kubernetes API calls this plugin makes, over the SDK's client (`capstan_sdk::kube`):
//! GET, LIST (label and field selectors, paged), JSON merge PATCH and pod logs, each through
//! the call's [`Context`]. The SDK's client refuses the names `.` and `..` (which no
//! Kubernetes object may have, and which URL parsers on the way would resolve as path steps)
//! before any request.
//!
//! The host adds the target's credentials; this plugin never handles a token.

use capstan_sdk::kube::{self, KubeError, LogOptions, Resource, Subresource};
use capstan_sdk::{Context, ToolError, Value};

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
    pub(crate) fn for_target(context: &Context, target: Option<&str>) -> Result<Self, ToolError> {
        kube::Client::for_target(context, target).map(Self)
    }

    /// The call's context (the clock and progress reports of a wait).
    pub(crate) fn context(&self) -> &Context {
        self.0.context()
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
        self.0.logs(namespace, pod, options)
    }
}
