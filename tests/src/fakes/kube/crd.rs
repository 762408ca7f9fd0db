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

use std::sync::LazyLock;

use anyhow::{Context, Result, anyhow};
use serde_json::{Map, Value, json};

/// The vendored CRDs, by file.
const SOURCES: [&str; 5] = [
    include_str!("../contracts/argoproj.io_rollouts.yaml"),
    include_str!("../contracts/kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    include_str!("../contracts/helm.toolkit.fluxcd.io_helmreleases.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_gitrepositories.yaml"),
    include_str!("../contracts/source.toolkit.fluxcd.io_helmrepositories.yaml"),
];

static CRDS: LazyLock<Vec<Crd>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|source| Crd::parse(source).expect("a vendored CRD is valid"))
        .collect()
});

/// One served resource type: a CRD's single served version.
pub(crate) struct Crd {
    /// `<plural>.<group>`, e.g. `rollouts.argoproj.io`.
    pub(crate) name: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) plural: String,
    pub(crate) namespaced: bool,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for Crd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crd")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

/// Every CRD the fake knows.
pub(crate) fn all() -> &'static [Crd] {
    &CRDS
}

/// The CRD of objects with this `apiVersion` and `kind`.
pub(crate) fn for_object(api_version: &str, kind: &str) -> Option<&'static Crd> {
    all()
        .iter()
        .find(|crd| crd.api_version() == api_version && crd.kind == kind)
}

impl Crd {
    fn parse(source: &str) -> Result<Self> {
        let crd: Value = serde_norway::from_str(source).context("CRD YAML")?;
        let spec = &crd["spec"];
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
                    text(&crd["metadata"]["name"])
                )
            })?;
        Ok(Self {
            name: text(&crd["metadata"]["name"]),
            group: text(&spec["group"]),
            version: text(&served["name"]),
            kind: text(&spec["names"]["kind"]),
            list_kind: text(&spec["names"]["listKind"]),
            plural: text(&spec["names"]["plural"]),
            namespaced: spec["scope"] == "Namespaced",
            validator,
        })
    }

    /// `<group>/<version>`.
    pub(crate) fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// Checks `object` against the schema; the error lists the first few problems with their
    /// JSON pointers.
    pub(crate) fn validate(&self, object: &Value) -> Result<(), String> {
        crate::fakes::check_schema(&self.validator, object)
    }
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
        let names: Vec<&str> = all().iter().map(|crd| crd.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rollouts.argoproj.io",
                "kustomizations.kustomize.toolkit.fluxcd.io",
                "helmreleases.helm.toolkit.fluxcd.io",
                "gitrepositories.source.toolkit.fluxcd.io",
                "helmrepositories.source.toolkit.fluxcd.io",
            ]
        );
        let rollouts = &all()[0];
        assert_eq!(
            (rollouts.api_version().as_str(), rollouts.list_kind.as_str()),
            ("argoproj.io/v1alpha1", "RolloutList")
        );
        assert!(for_object("helm.toolkit.fluxcd.io/v2", "HelmRelease").is_some());
        assert!(for_object("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease").is_none());
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
