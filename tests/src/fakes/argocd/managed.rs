//! The objects an application's manifests declare: what Argo CD lists in `status.resources`,
//! applies in a sync and shows at the top of the resource tree. A catalogue of the kinds real
//! services ship, each with its API group and version, its name (derived from the
//! application's), whether Argo CD assesses its health, and what `kubectl apply` says about it
//! in a sync result.

use serde_json::{Value, json};

/// A kind of object an application can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `Deployment` named like the application (the workload; its health is the app's).
    Deployment,
    /// `Service` named like the application.
    Service,
    /// `ConfigMap` `<app>-config` (the workload's settings).
    Config,
    /// `ServiceAccount` named like the application.
    ServiceAccount,
    /// `Secret` `<app>-env`.
    Secret,
    /// `HorizontalPodAutoscaler` (autoscaling/v2) named like the application.
    Autoscaler,
    /// `PodDisruptionBudget` (policy/v1) named like the application.
    DisruptionBudget,
    /// `Ingress` (networking.k8s.io/v1) named like the application.
    Ingress,
    /// `ServiceMonitor` (monitoring.coreos.com/v1) named like the application.
    ServiceMonitor,
    /// `NetworkPolicy` `<app>-allow-ingress`.
    NetworkPolicy,
    /// `ExternalSecret` (external-secrets.io/v1) `<app>-db`; it creates a Secret of that name.
    ExternalSecret,
    /// `CronJob` (batch/v1) `<app>-cleanup`; it leaves Jobs and their completed Pods.
    CronJob,
    /// `Role` named like the application.
    Role,
    /// `RoleBinding` named like the application.
    RoleBinding,
    /// `PrometheusRule` (monitoring.coreos.com/v1) `<app>-alerts`.
    PrometheusRule,
    /// `ConfigMap` `<app>-dashboards` (Grafana dashboards).
    Dashboards,
}

impl Resource {
    /// What a plain application declares: its Deployment, Service and configuration.
    pub const BASIC: [Resource; 3] = [Resource::Deployment, Resource::Service, Resource::Config];

    /// The optional extras, the most common first.
    pub const EXTRAS: [Resource; 13] = [
        Resource::ServiceAccount,
        Resource::Secret,
        Resource::Autoscaler,
        Resource::DisruptionBudget,
        Resource::Ingress,
        Resource::ServiceMonitor,
        Resource::NetworkPolicy,
        Resource::ExternalSecret,
        Resource::CronJob,
        Resource::Role,
        Resource::RoleBinding,
        Resource::PrometheusRule,
        Resource::Dashboards,
    ];

    /// API group, version, kind and the suffix added to the application's name.
    pub(crate) fn parts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Resource::Deployment => ("apps", "v1", "Deployment", ""),
            Resource::Service => ("", "v1", "Service", ""),
            Resource::Config => ("", "v1", "ConfigMap", "-config"),
            Resource::ServiceAccount => ("", "v1", "ServiceAccount", ""),
            Resource::Secret => ("", "v1", "Secret", "-env"),
            Resource::Autoscaler => ("autoscaling", "v2", "HorizontalPodAutoscaler", ""),
            Resource::DisruptionBudget => ("policy", "v1", "PodDisruptionBudget", ""),
            Resource::Ingress => ("networking.k8s.io", "v1", "Ingress", ""),
            Resource::ServiceMonitor => ("monitoring.coreos.com", "v1", "ServiceMonitor", ""),
            Resource::NetworkPolicy => {
                ("networking.k8s.io", "v1", "NetworkPolicy", "-allow-ingress")
            }
            Resource::ExternalSecret => ("external-secrets.io", "v1", "ExternalSecret", "-db"),
            Resource::CronJob => ("batch", "v1", "CronJob", "-cleanup"),
            Resource::Role => ("rbac.authorization.k8s.io", "v1", "Role", ""),
            Resource::RoleBinding => ("rbac.authorization.k8s.io", "v1", "RoleBinding", ""),
            Resource::PrometheusRule => {
                ("monitoring.coreos.com", "v1", "PrometheusRule", "-alerts")
            }
            Resource::Dashboards => ("", "v1", "ConfigMap", "-dashboards"),
        }
    }

    /// The object's name for the application `app`.
    pub(crate) fn name(self, app: &str) -> String {
        format!("{app}{}", self.parts().3)
    }

    /// The catalogue entry with this group and kind (the first, for ConfigMaps).
    pub(crate) fn find(group: &str, kind: &str) -> Option<Resource> {
        Self::BASIC
            .into_iter()
            .chain(Self::EXTRAS)
            .find(|resource| {
                let (g, _, k, _) = resource.parts();
                g == group && k == kind
            })
    }

    /// Whether Argo CD assesses this kind's health (built in or by a bundled Lua check).
    pub(crate) fn has_health(self) -> bool {
        matches!(
            self,
            Resource::Deployment
                | Resource::Service
                | Resource::Autoscaler
                | Resource::DisruptionBudget
                | Resource::Ingress
                | Resource::ExternalSecret
                | Resource::CronJob
        )
    }
}

/// The `status.resources` entry of `resource`: sync status and, for kinds with a health
/// check, `health`.
pub(crate) fn status_entry(
    resource: Resource,
    app: &str,
    namespace: &str,
    sync: &str,
    health: &str,
) -> Value {
    let (group, version, kind, _) = resource.parts();
    let mut entry = json!({"version": version, "kind": kind, "namespace": namespace,
                           "name": resource.name(app), "status": sync});
    if !group.is_empty() {
        entry["group"] = json!(group);
    }
    if resource.has_health() {
        entry["health"] = json!({"status": health});
    }
    entry
}

/// A `syncResult.resources` entry for the `status.resources` entry `entry`: what `kubectl
/// apply` printed (`deployment.apps/web configured`), and the phases of a non-hook resource.
pub(crate) fn sync_result(entry: &Value, changed: bool, images: &[String]) -> Value {
    let text = |key: &str| entry[key].as_str().unwrap_or_default();
    let (group, kind) = (text("group"), text("kind"));
    let qualified = if group.is_empty() {
        kind.to_lowercase()
    } else {
        format!("{}.{group}", kind.to_lowercase())
    };
    let verb = if changed { "configured" } else { "unchanged" };
    let mut result = json!({
        "group": group, "version": text("version"), "kind": kind, "namespace": text("namespace"),
        "name": text("name"), "status": "Synced",
        "message": format!("{qualified}/{} {verb}", text("name")),
        "hookPhase": "Running", "syncPhase": "Sync",
    });
    if matches!(kind, "Deployment" | "CronJob") && !images.is_empty() {
        result["images"] = json!(images);
    }
    result
}

/// The `status.resources` entries of `app` (an Application as served).
pub(crate) fn entries(app: &Value) -> &[Value] {
    app["status"]["resources"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}
