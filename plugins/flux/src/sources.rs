//! Where a Flux object gets its artifact from, as `flux reconcile --with-source` and
//! `flux events --for` find it:
//!
//! - Kustomization: `spec.sourceRef` (in its `namespace`, else the Kustomization's);
//! - HelmRelease: `spec.chartRef` (an OCIRepository or HelmChart), else the HelmChart the
//!   controller generates from the `spec.chart` template, named `<namespace>-<name>` and living
//!   in the template's `sourceRef.namespace` (else the HelmRelease's);
//! - HelmChart: `spec.sourceRef`, in the chart's namespace;
//! - sources have none.

use capstan_sdk::{Value, json};

use crate::kinds::{self, Kind};

/// A reference from one Flux object to another.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

impl Reference {
    /// As JSON: `{kind, name, namespace}`.
    pub(crate) fn to_json(&self) -> Value {
        json!({"kind": self.kind.name(), "name": self.name, "namespace": self.namespace})
    }
}

/// The source of `object`, a `kind`, if it has one this plugin knows.
pub(crate) fn of(kind: Kind, object: &Value) -> Option<Reference> {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let spec = &object["spec"];
    match kind.name() {
        "Kustomization" => reference(&spec["sourceRef"], namespace),
        "HelmChart" => reference(&spec["sourceRef"], namespace).map(|mut source| {
            source.namespace = namespace.to_owned();
            source
        }),
        "HelmRelease" if spec["chartRef"].is_object() => reference(&spec["chartRef"], namespace),
        "HelmRelease" if spec["chart"].is_object() => {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let chart_namespace = spec["chart"]["spec"]["sourceRef"]["namespace"]
                .as_str()
                .unwrap_or(namespace);
            Some(Reference {
                kind: kinds::named("HelmChart")?,
                name: format!("{namespace}-{name}"),
                namespace: chart_namespace.to_owned(),
            })
        }
        _ => None,
    }
}

fn reference(node: &Value, namespace: &str) -> Option<Reference> {
    Some(Reference {
        kind: kinds::named(node["kind"].as_str()?)?,
        name: node["name"].as_str()?.to_owned(),
        namespace: node["namespace"].as_str().unwrap_or(namespace).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(kind: &str, object: Value) -> Option<Value> {
        of(kinds::named(kind).unwrap(), &object).map(|reference| reference.to_json())
    }

    #[test]
    fn a_kustomization_points_at_its_source_ref() {
        let object = json!({"metadata": {"namespace": "apps"},
                            "spec": {"sourceRef": {"kind": "GitRepository", "name": "fleet"}}});
        assert_eq!(
            source("Kustomization", object),
            Some(json!({"kind": "GitRepository", "name": "fleet", "namespace": "apps"}))
        );
    }

    #[test]
    fn a_helm_release_template_points_at_the_generated_chart() {
        let object = json!({"metadata": {"name": "redis", "namespace": "data"},
            "spec": {"chart": {"spec": {"chart": "redis",
                     "sourceRef": {"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}}}}});
        assert_eq!(
            source("HelmRelease", object),
            Some(json!({"kind": "HelmChart", "name": "data-redis", "namespace": "flux-system"}))
        );
    }

    #[test]
    fn a_chart_ref_wins_and_a_chart_stays_in_its_namespace() {
        let object = json!({"metadata": {"name": "web", "namespace": "web"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "web-chart"}}});
        assert_eq!(
            source("HelmRelease", object),
            Some(json!({"kind": "OCIRepository", "name": "web-chart", "namespace": "web"}))
        );
        let chart = json!({"metadata": {"namespace": "flux-system"},
            "spec": {"sourceRef": {"kind": "HelmRepository", "name": "bitnami", "namespace": "elsewhere"}}});
        assert_eq!(
            source("HelmChart", chart),
            Some(json!({"kind": "HelmRepository", "name": "bitnami", "namespace": "flux-system"}))
        );
        assert_eq!(source("GitRepository", json!({"spec": {}})), None);
    }
}
