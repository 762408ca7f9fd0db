//! The objects of a fake cluster and the checks the API server would make when they are
//! created: a known kind, a valid name, no twin, and a valid schema.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::crd::{self, Crd};
use crate::fakes::ids::fake_uid;

const CREATED_AT: &str = "2026-06-02T09:14:07Z";

/// The objects of a fake cluster, keyed by CRD name, then (namespace, name).
#[derive(Debug, Clone)]
pub struct Cluster {
    pub(super) objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    pub(super) installed: BTreeSet<String>,
    pub(super) base_path: String,
    pub(super) token: Option<String>,
    pub(super) resource_version: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster {
    /// An empty cluster with every known CRD installed.
    pub fn new() -> Self {
        Self {
            objects: BTreeMap::new(),
            installed: crd::all().iter().map(|crd| crd.name.clone()).collect(),
            base_path: String::new(),
            token: None,
            resource_version: 1000,
        }
    }

    /// The names (`<plural>.<group>`) of the CRDs the fake knows.
    pub fn known_crds() -> Vec<&'static str> {
        crd::all().iter().map(|crd| crd.name.as_str()).collect()
    }

    /// Adds `object`, filling in what the API server sets (namespace `default`, uid,
    /// resourceVersion, generation, creationTimestamp) and refusing an object the real server
    /// would refuse: unknown `apiVersion`/`kind`, a missing or invalid name, a duplicate, or a
    /// schema violation.
    pub fn add(&mut self, mut object: Value) -> Result<()> {
        let crd = crd_of(&object)?;
        let (namespace, name) = self.fill_metadata(crd, &mut object)?;
        crd.validate(&object).map_err(|error| {
            anyhow!(
                "the {} `{namespace}/{name}` is invalid against its CRD: {error}",
                crd.kind
            )
        })?;
        let objects = self.objects.entry(crd.name.clone()).or_default();
        if objects.contains_key(&(namespace.clone(), name.clone())) {
            bail!(
                "{} \"{name}\" already exists in namespace `{namespace}`",
                crd.name
            );
        }
        objects.insert((namespace, name), object);
        Ok(())
    }

    /// [`Cluster::add`] for chaining.
    pub fn with(mut self, object: Value) -> Result<Self> {
        self.add(object)?;
        Ok(self)
    }

    /// Uninstalls the CRD `name` (e.g. `helmreleases.helm.toolkit.fluxcd.io`): its paths then
    /// answer 404 like a cluster without it.
    pub fn without_crd(mut self, name: &str) -> Self {
        self.installed.remove(name);
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

    /// Every object, by CRD then namespace then name.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.values().flat_map(BTreeMap::values)
    }

    fn fill_metadata(&mut self, crd: &Crd, object: &mut Value) -> Result<(String, String)> {
        self.resource_version += 1;
        let metadata = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| anyhow!("the {} fixture has no metadata object", crd.kind))?;
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !is_dns_subdomain(&name) {
            bail!(
                "the {} fixture's metadata.name `{name}` is not a lowercase DNS subdomain",
                crd.kind
            );
        }
        let namespace = match crd.namespaced {
            true => metadata
                .entry("namespace")
                .or_insert_with(|| json!("default"))
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            false => String::new(),
        };
        let key = format!("{}/{namespace}/{name}", crd.name);
        metadata
            .entry("uid")
            .or_insert_with(|| json!(fake_uid(&key)));
        metadata.insert(
            "resourceVersion".into(),
            json!(self.resource_version.to_string()),
        );
        metadata.entry("generation").or_insert(json!(1));
        metadata
            .entry("creationTimestamp")
            .or_insert(json!(CREATED_AT));
        Ok((namespace, name))
    }
}

fn crd_of(object: &Value) -> Result<&'static Crd> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    crd::for_object(api_version, kind).ok_or_else(|| {
        anyhow!(
            "no known CRD serves apiVersion `{api_version}` kind `{kind}`; the fake knows: {}",
            crd::all()
                .iter()
                .map(|crd| format!("{} {}", crd.api_version(), crd.kind))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// RFC 1123 subdomain: at most 253 lowercase alphanumerics, `-` and `.`, alphanumeric at both ends.
fn is_dns_subdomain(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= 253
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}
