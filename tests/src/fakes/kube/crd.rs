//! The CustomResourceDefinitions the fake Kubernetes API serves, and the check that holds a
//! fixture object to its CRD's `openAPIV3Schema` the way the API server would.
//!
//! A CRD schema is OpenAPI v3 with Kubernetes extensions; [`to_json_schema`] turns it into
//! JSON Schema 2020-12:
//! - `x-kubernetes-int-or-string` becomes `anyOf: [integer, string]` (when not spelled out);
//! - `nullable: true` also admits `null`;
//! - an object schema with `properties` and neither `additionalProperties` nor
//!   `x-kubernetes-preserve-unknown-fields` refuses unknown fields (the API server's strict
//!   field validation, which `kubectl apply` uses); branches of `anyOf`/`allOf`/`oneOf`/`not`
//!   are left open, since they only restate fields of the enclosing schema;
//! - `x-kubernetes-embedded-resource` admits `apiVersion`, `kind` and `metadata`.
//!
//! CEL rules (`x-kubernetes-validations`) and `format` are not checked.

use anyhow::{Context, Result, anyhow};
use serde_json::{Map, Value, json};

use super::types::{Origin, ResourceType};

/// The vendored CRDs: Argo Rollouts v1.9.1, the Flux controllers and the External Secrets
/// Operator.
const SOURCES: [&str; 15] = [
    include_str!("../contracts/argoproj.io_rollouts.yaml"),
    include_str!("../contracts/argoproj.io_analysisruns.yaml"),
    include_str!("../contracts/argoproj.io_analysistemplates.yaml"),
    include_str!("../contracts/argoproj.io_clusteranalysistemplates.yaml"),
    include_str!("../contracts/argoproj.io_experiments.yaml"),
    include_str!("../contracts/kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    include_str!("../contracts/helm.toolkit.fluxcd.io_helmreleases.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_gitrepositories.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_helmrepositories.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_helmcharts.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_ocirepositories.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_buckets.yaml"),
    include_str!("../contracts/external-secrets.io_externalsecrets.yaml"),
    include_str!("../contracts/external-secrets.io_secretstores.yaml"),
    include_str!("../contracts/external-secrets.io_clustersecretstores.yaml"),
];

/// The API version of CustomResourceDefinition objects.
pub(crate) const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";

/// The Flux distribution whose controllers these CRDs come from (the `app.kubernetes.io/version`
/// label `flux install` puts on them).
const FLUX_VERSION: &str = "v2.9.0";
/// The Argo Rollouts release the CRDs come from.
const ROLLOUTS_VERSION: &str = "v1.9.1";
/// The External Secrets Operator release the CRDs come from (its Helm chart's version).
const ESO_VERSION: &str = "2.9.0";

/// Every vendored CRD as a resource type.
pub(crate) fn types() -> Vec<ResourceType> {
    SOURCES
        .iter()
        .map(|source| parse(source).expect("a vendored CRD is valid"))
        .collect()
}

fn parse(source: &str) -> Result<ResourceType> {
    let document: Value = serde_norway::from_str(source).context("CRD YAML")?;
    let spec = &document["spec"];
    let served = spec["versions"]
        .as_array()
        .and_then(|versions| versions.iter().find(|version| version["served"] == true))
        .ok_or_else(|| anyhow!("the CRD serves no version"))?;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let schema = to_json_schema(&served["schema"]["openAPIV3Schema"]);
    let validator = jsonschema::draft202012::options()
        .build(&schema)
        .map_err(|error| {
            anyhow!(
                "the schema of {} does not compile: {error}",
                text(&document["metadata"]["name"])
            )
        })?;
    let names = &spec["names"];
    let short_names = names["shortNames"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    Ok(ResourceType {
        group: text(&spec["group"]),
        version: text(&served["name"]),
        kind: text(&names["kind"]),
        list_kind: text(&names["listKind"]),
        plural: text(&names["plural"]),
        singular: text(&names["singular"]),
        short_names,
        namespaced: spec["scope"] == "Namespaced",
        status_subresource: served["subresources"]["status"].is_object(),
        scale_subresource: served["subresources"]["scale"].is_object(),
        field_labels: Vec::new(),
        origin: Origin::Crd {
            document,
            validator: Box::new(validator),
        },
    })
}

/// The CRD of `rt` as the API server stores it: the vendored document with the labels the
/// project's installer adds and an `Established` status.
pub(crate) fn crd_object(rt: &ResourceType) -> Option<Value> {
    let mut object = rt.crd_document()?.clone();
    let labels = installer_labels(&rt.group);
    object["metadata"]["labels"] = Value::Object(labels);
    object["status"] = json!({
        "acceptedNames": object["spec"]["names"].clone(),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": "2026-06-02T09:10:00Z"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted",
             "lastTransitionTime": "2026-06-02T09:10:00Z"},
        ],
        "storedVersions": [rt.version.clone()],
    });
    Some(object)
}

/// The labels `flux install`, the Argo Rollouts manifests or the External Secrets Operator's
/// Helm chart put on their CRDs.
fn installer_labels(group: &str) -> Map<String, Value> {
    let pairs: Vec<(&str, &str)> = match group {
        "external-secrets.io" => vec![
            ("app.kubernetes.io/managed-by", "Helm"),
            ("app.kubernetes.io/name", "external-secrets"),
            ("app.kubernetes.io/part-of", "external-secrets"),
            ("app.kubernetes.io/version", ESO_VERSION),
        ],
        "argoproj.io" => vec![
            ("app.kubernetes.io/component", "rollouts-controller"),
            ("app.kubernetes.io/name", "argo-rollouts"),
            ("app.kubernetes.io/part-of", "argo-rollouts"),
            ("app.kubernetes.io/version", ROLLOUTS_VERSION),
        ],
        flux => {
            let component = match flux {
                "kustomize.toolkit.fluxcd.io" => "kustomize-controller",
                "helm.toolkit.fluxcd.io" => "helm-controller",
                _ => "source-controller",
            };
            vec![
                ("app.kubernetes.io/component", component),
                ("app.kubernetes.io/instance", "flux-system"),
                ("app.kubernetes.io/part-of", "flux"),
                ("app.kubernetes.io/version", FLUX_VERSION),
            ]
        }
    };
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_owned(), json!(value)))
        .collect()
}

/// A CRD's `openAPIV3Schema` as JSON Schema 2020-12 (rules in the module docs).
pub(crate) fn to_json_schema(schema: &Value) -> Value {
    convert(schema, Strictness::Strict)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Unknown fields are refused where the schema lists properties.
    Strict,
    /// Inside a junctor (`anyOf` and friends): fields are restated, not listed in full.
    Open,
}

fn convert(schema: &Value, strictness: Strictness) -> Value {
    let Some(source) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in source {
        let converted = match key.as_str() {
            "properties" => convert_properties(value, strictness),
            "items" => convert(value, strictness),
            "additionalProperties" if value.is_object() => convert(value, strictness),
            "anyOf" | "allOf" | "oneOf" => convert_each(value),
            "not" => convert(value, Strictness::Open),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    apply_extensions(&mut out, strictness);
    Value::Object(out)
}

fn convert_properties(properties: &Value, strictness: Strictness) -> Value {
    let converted = properties
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| (name.clone(), convert(schema, strictness)))
        .collect();
    Value::Object(converted)
}

fn convert_each(schemas: &Value) -> Value {
    let converted = schemas
        .as_array()
        .into_iter()
        .flatten()
        .map(|schema| convert(schema, Strictness::Open))
        .collect();
    Value::Array(converted)
}

fn apply_extensions(schema: &mut Map<String, Value>, strictness: Strictness) {
    let flag =
        |schema: &Map<String, Value>, name: &str| schema.get(name) == Some(&Value::Bool(true));
    if flag(schema, "x-kubernetes-int-or-string") && !schema.contains_key("anyOf") {
        schema.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if flag(schema, "nullable")
        && let Some(Value::String(kind)) = schema.get("type").cloned()
    {
        schema.insert("type".into(), json!([kind, "null"]));
    }
    if flag(schema, "x-kubernetes-embedded-resource") {
        let properties = schema.entry("properties").or_insert_with(|| json!({}));
        if let Some(properties) = properties.as_object_mut() {
            for (name, field) in [
                ("apiVersion", json!({"type": "string"})),
                ("kind", json!({"type": "string"})),
                ("metadata", json!({"type": "object"})),
            ] {
                properties.entry(name).or_insert(field);
            }
        }
    }
    let open = flag(schema, "x-kubernetes-preserve-unknown-fields")
        || schema.contains_key("additionalProperties");
    if strictness == Strictness::Strict && schema.contains_key("properties") && !open {
        schema.insert("additionalProperties".into(), Value::Bool(false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_crd_loads() {
        let names: Vec<String> = types().iter().map(ResourceType::resource_name).collect();
        assert_eq!(
            names,
            [
                "rollouts.argoproj.io",
                "analysisruns.argoproj.io",
                "analysistemplates.argoproj.io",
                "clusteranalysistemplates.argoproj.io",
                "experiments.argoproj.io",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "helmreleases.helm.toolkit.fluxcd.io",
                "gitrepositories.source.toolkit.fluxcd.io",
                "helmrepositories.source.toolkit.fluxcd.io",
                "helmcharts.source.toolkit.fluxcd.io",
                "ocirepositories.source.toolkit.fluxcd.io",
                "buckets.source.toolkit.fluxcd.io",
                "externalsecrets.external-secrets.io",
                "secretstores.external-secrets.io",
                "clustersecretstores.external-secrets.io",
            ]
        );
        let types = types();
        let rollouts = &types[0];
        assert_eq!(
            (rollouts.api_version().as_str(), rollouts.list_kind.as_str()),
            ("argoproj.io/v1alpha1", "RolloutList")
        );
        assert!(rollouts.status_subresource && rollouts.scale_subresource);
        assert!(
            !types[1].status_subresource,
            "AnalysisRuns have no status subresource"
        );
        assert!(
            !types[3].namespaced,
            "ClusterAnalysisTemplate is cluster-scoped"
        );
        assert!(types[5].status_subresource);
        let crd = crd_object(&types[7]).unwrap();
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "flux"
        );
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        let external_secrets = &types[12];
        assert_eq!(
            (
                external_secrets.api_version().as_str(),
                external_secrets.short_names.as_slice()
            ),
            ("external-secrets.io/v1", ["es".to_owned()].as_slice())
        );
        assert!(
            !types[14].namespaced,
            "ClusterSecretStore is cluster-scoped"
        );
    }

    #[test]
    fn extensions_become_json_schema() {
        let schema = to_json_schema(&json!({
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": true},
                "note": {"type": "string", "nullable": true},
                "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "either": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                           "oneOf": [{"required": ["a"]}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]},
            },
        }));
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(
            &json!({"port": 80, "note": null, "values": {"x": 1}, "either": {"b": "y"}})
        ));
        assert!(validator.is_valid(&json!({"port": "http"})));
        assert!(!validator.is_valid(&json!({"port": 1.5})));
        assert!(!validator.is_valid(&json!({"unknown": true})));
        assert!(!validator.is_valid(&json!({"either": {"a": "x", "c": "z"}})));
    }
}
