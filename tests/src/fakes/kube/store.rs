//! The live state of a fake cluster: every object by type, namespace and name, the cluster's
//! `resourceVersion` counter, pod logs and RBAC denials, and the write rules the API server
//! applies on create, update and patch:
//!
//! 1. The object must be of the path's type and carry the path's name and namespace.
//! 2. A `metadata.resourceVersion` that is not the stored one is a 409 Conflict; a PUT of a
//!    custom resource without one is 422 (custom resources allow no unconditional update).
//! 3. With a status subresource, a write to the main resource keeps the stored `status`, and a
//!    write to `/status` keeps everything but `status`.
//! 4. The server owns `uid`, `creationTimestamp`, `generation` and `resourceVersion`. A write
//!    that changes nothing is a no-op; otherwise `resourceVersion` increments, and `generation`
//!    too when anything but `metadata` (and `status`, with a status subresource) changed.
//! 5. The result is validated against the CRD's schema (or the built-in shape check); a write
//!    that would store an invalid object is refused with 422 Invalid and recorded as a
//!    contract violation.
//!
//! Tests reach a running server's store through [`super::KubeServer::with_store`] and reactors.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use super::logs::{LogKey, LogLine};
use super::status::Status;
use super::types::{self, ResourceType};
use crate::fakes::ids::fake_uid;

/// When fixtures were created.
const CREATED_AT: &str = "2026-06-02T09:14:07Z";

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The main resource.
    Main,
    /// The `/status` subresource.
    Status,
}

/// Why a request is not answered with data.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client broke the API contract: record why, answer with this Status.
    Violation(Status, String),
    /// A legitimate error answer (unknown object, conflict, uninstalled CRD, …).
    Answer(Status),
}

/// The objects, logs and RBAC denials of a fake cluster.
#[derive(Debug, Clone)]
pub struct Store {
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    resource_version: u64,
    pub(crate) logs: BTreeMap<LogKey, Vec<LogLine>>,
    pub(crate) forbidden: Vec<(String, String)>,
    without_status: Vec<String>,
}

impl Store {
    /// A cluster with every known CRD installed and nothing else.
    pub(crate) fn new() -> Self {
        let mut store = Self {
            objects: BTreeMap::new(),
            resource_version: 1000,
            logs: BTreeMap::new(),
            forbidden: Vec::new(),
            without_status: Vec::new(),
        };
        for rt in types::crds() {
            let crd = super::crd::crd_object(rt).expect("a CRD type has its document");
            store.add(crd).expect("a vendored CRD is a valid object");
        }
        store
    }

    /// The cluster's current `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The object `namespace/name` of `apiVersion`/`kind` (`namespace` is ignored for
    /// cluster-scoped kinds).
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<&Value> {
        let rt = types::for_object(api_version, kind)?;
        self.get(rt, namespace, name)
    }

    /// Every object of `apiVersion`/`kind`, by namespace then name.
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<&Value> {
        types::for_object(api_version, kind)
            .map(|rt| self.list(rt, None))
            .unwrap_or_default()
    }

    /// Every object of every type.
    pub fn all_objects(&self) -> impl Iterator<Item = &Value> {
        self.objects.values().flat_map(BTreeMap::values)
    }

    /// Adds a fixture, filling in what the API server sets (namespace `default`, uid,
    /// resourceVersion, generation, creationTimestamp) and refusing what the real server would
    /// refuse: an unknown `apiVersion`/`kind`, an uninstalled CRD, a missing or invalid name, a
    /// duplicate, or an object that fails its schema. Unlike a create request, `status` is kept.
    pub fn add(&mut self, mut object: Value) -> Result<()> {
        let rt = type_of(&object)?;
        if !self.installed(rt) {
            bail!("the {} CRD is not installed", rt.resource_name());
        }
        let (namespace, name) = self.fill_metadata(rt, &mut object, CREATED_AT)?;
        rt.validate(&object)
            .map_err(|error| anyhow!("the {} `{namespace}/{name}` is invalid: {error}", rt.kind))?;
        let objects = self.objects.entry(rt.resource_name()).or_default();
        if objects.contains_key(&(namespace.clone(), name.clone())) {
            bail!(
                "{} \"{name}\" already exists in namespace `{namespace}`",
                rt.resource_name()
            );
        }
        objects.insert((namespace, name), object);
        Ok(())
    }

    /// Changes an object the way a controller would: `change` edits a copy, then the write
    /// rules apply (no status-subresource filtering: controllers write both). Fails when the
    /// object does not exist or the result is invalid.
    pub fn update(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value> {
        let rt = types::for_object(api_version, kind)
            .ok_or_else(|| anyhow!("no known type serves {api_version} {kind}"))?;
        let namespace = if rt.namespaced { namespace } else { "" };
        let mut candidate = self.get(rt, namespace, name).cloned().ok_or_else(|| {
            anyhow!(
                "{} \"{name}\" not found in `{namespace}`",
                rt.resource_name()
            )
        })?;
        change(&mut candidate);
        candidate["metadata"]["resourceVersion"] = Value::Null;
        self.write(rt, namespace, name, candidate, None, false, false)
            .map_err(|refusal| match refusal {
                Refusal::Answer(status) | Refusal::Violation(status, _) => anyhow!(status.message),
            })
    }

    /// Deletes an object; returns it if it existed.
    pub fn remove(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let rt = types::for_object(api_version, kind)?;
        let namespace = if rt.namespaced { namespace } else { "" };
        self.objects
            .get_mut(&rt.resource_name())?
            .remove(&(namespace.to_owned(), name.to_owned()))
    }

    /// Denies `verb` (`get`, `list`, `create`, `update`, `patch`, `delete`) on `resource` (a
    /// plural with an optional subresource, e.g. `rollouts/status`) like an RBAC rule missing
    /// from the caller's role: such requests get 403 Forbidden.
    pub fn forbid(&mut self, verb: &str, resource: &str) {
        self.forbidden.push((verb.to_owned(), resource.to_owned()));
    }

    /// Serves the custom resource `name` (e.g. `rollouts.argoproj.io`) without its status
    /// subresource, like a CRD of Argo Rollouts v0.9: `…/status` then answers 404 and writes to
    /// the main resource change `status` too.
    pub fn drop_status_subresource(&mut self, name: &str) {
        self.without_status.push(name.to_owned());
    }

    /// Whether `…/{name}/status` is served for the type on this cluster.
    pub(crate) fn has_status(&self, rt: &ResourceType) -> bool {
        rt.status_subresource && !self.without_status.contains(&rt.resource_name())
    }

    /// Whether the type is served: built-in kinds always, custom resources while their CRD
    /// object exists.
    pub(crate) fn installed(&self, rt: &ResourceType) -> bool {
        !rt.is_crd() || self.crd_installed(&rt.resource_name())
    }

    fn crd_installed(&self, name: &str) -> bool {
        self.objects
            .get("customresourcedefinitions.apiextensions.k8s.io")
            .is_some_and(|crds| crds.contains_key(&(String::new(), name.to_owned())))
    }

    pub(crate) fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        let namespace = if rt.namespaced { namespace } else { "" };
        self.objects
            .get(&rt.resource_name())?
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    pub(crate) fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .get(&rt.resource_name())
            .into_iter()
            .flat_map(BTreeMap::iter)
            .filter(|((ns, _), _)| namespace.is_none_or(|wanted| ns == wanted))
            .map(|(_, object)| object)
            .collect()
    }

    /// POST: creates `object` in `namespace`.
    pub(crate) fn create(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Value, Refusal> {
        check_type(rt, &object)?;
        let metadata = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Refusal::Answer(Status::bad_request("the object has no metadata")))?;
        if metadata
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str)
        {
            let uid = fake_uid(&format!("{prefix}{}", self.resource_version));
            let suffix = &uid[uid.len() - 5..];
            metadata.insert("name".into(), json!(format!("{prefix}{suffix}")));
        }
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            let status = Status::invalid(
                rt,
                "",
                "metadata.name: Required value: name or generateName is required",
            );
            return Err(Refusal::Violation(status, "a create without a name".into()));
        }
        check_namespace(rt, namespace, &object)?;
        if self.has_status(rt) {
            object.as_object_mut().map(|map| map.remove("status"));
        }
        if self.get(rt, namespace, &name).is_some() {
            return Err(Refusal::Answer(Status::already_exists(rt, &name)));
        }
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let (namespace, name) = self.fill_metadata(rt, &mut object, &now).map_err(|error| {
            Refusal::Violation(
                Status::invalid(rt, &name, &error.to_string()),
                error.to_string(),
            )
        })?;
        validate(rt, &name, &object)?;
        if !dry_run {
            self.objects
                .entry(rt.resource_name())
                .or_default()
                .insert((namespace, name), object.clone());
        }
        Ok(object)
    }

    /// PUT or PATCH: replaces `namespace/name` with `candidate` under the write rules of the
    /// module docs. `part` is `None` for controller writes (no subresource filtering).
    #[expect(
        clippy::too_many_arguments,
        reason = "one write, described by its request"
    )]
    pub(crate) fn write(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        mut candidate: Value,
        part: Option<Part>,
        require_version: bool,
        dry_run: bool,
    ) -> Result<Value, Refusal> {
        let old = self
            .get(rt, namespace, name)
            .cloned()
            .ok_or_else(|| Refusal::Answer(Status::not_found(rt, name)))?;
        check_type(rt, &candidate)?;
        check_name(name, &candidate)?;
        check_namespace(rt, namespace, &candidate)?;
        match candidate["metadata"]["resourceVersion"].as_str() {
            Some(sent) if sent != old["metadata"]["resourceVersion"] => {
                return Err(Refusal::Answer(Status::conflict(rt, name)));
            }
            None if require_version && rt.is_crd() => {
                let cause =
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update";
                return Err(Refusal::Violation(
                    Status::invalid(rt, name, cause),
                    "a PUT of a custom resource must carry metadata.resourceVersion".into(),
                ));
            }
            _ => {}
        }
        match part {
            Some(Part::Main) if self.has_status(rt) => {
                set_field(&mut candidate, "status", old.get("status"))
            }
            Some(Part::Status) => {
                let status = candidate.get("status").cloned();
                candidate = old.clone();
                set_field(&mut candidate, "status", status.as_ref());
            }
            _ => {}
        }
        for key in [
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "deletionTimestamp",
        ] {
            set_field(&mut candidate["metadata"], key, old["metadata"].get(key));
        }
        if candidate == old {
            return Ok(old);
        }
        let has_status = self.has_status(rt);
        if content(has_status, &candidate) != content(has_status, &old) {
            let generation = old["metadata"]["generation"].as_u64().unwrap_or(1);
            candidate["metadata"]["generation"] = json!(generation + 1);
        }
        self.resource_version += 1;
        candidate["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        validate(rt, name, &candidate)?;
        if !dry_run {
            let namespace = if rt.namespaced { namespace } else { "" };
            self.objects
                .entry(rt.resource_name())
                .or_default()
                .insert((namespace.to_owned(), name.to_owned()), candidate.clone());
        }
        Ok(candidate)
    }

    /// DELETE.
    pub(crate) fn delete(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, Refusal> {
        let namespace = if rt.namespaced { namespace } else { "" };
        let key = (namespace.to_owned(), name.to_owned());
        let objects = self.objects.entry(rt.resource_name()).or_default();
        let object = match dry_run {
            true => objects.get(&key).cloned(),
            false => objects.remove(&key),
        };
        object.ok_or_else(|| Refusal::Answer(Status::not_found(rt, name)))
    }

    fn fill_metadata(
        &mut self,
        rt: &ResourceType,
        object: &mut Value,
        created: &str,
    ) -> Result<(String, String)> {
        self.resource_version += 1;
        let metadata = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| anyhow!("the {} has no metadata object", rt.kind))?;
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !is_dns_subdomain(&name) {
            bail!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            );
        }
        let namespace = match rt.namespaced {
            true => metadata
                .entry("namespace")
                .or_insert_with(|| json!("default"))
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            false => {
                metadata.remove("namespace");
                String::new()
            }
        };
        let key = format!("{}/{namespace}/{name}", rt.resource_name());
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
            .or_insert(json!(created));
        Ok((namespace, name))
    }
}

/// The part of an object whose change bumps `generation`.
fn content(has_status: bool, object: &Value) -> Value {
    let mut content = object.clone();
    if let Some(map) = content.as_object_mut() {
        map.remove("metadata");
        if has_status {
            map.remove("status");
        }
    }
    content
}

fn set_field(object: &mut Value, key: &str, value: Option<&Value>) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    match value {
        Some(value) => {
            map.insert(key.to_owned(), value.clone());
        }
        None => {
            map.remove(key);
        }
    }
}

fn validate(rt: &ResourceType, name: &str, object: &Value) -> Result<(), Refusal> {
    rt.validate(object).map_err(|error| {
        let reason = format!("the write would store an invalid {}: {error}", rt.kind);
        Refusal::Violation(Status::invalid(rt, name, &error), reason)
    })
}

fn check_type(rt: &ResourceType, object: &Value) -> Result<(), Refusal> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    if kind.is_empty() {
        return Err(Refusal::Violation(
            Status::bad_request("Object 'Kind' is missing in the body"),
            "the body has no kind".into(),
        ));
    }
    if api_version != rt.api_version() || kind != rt.kind {
        let message = format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        );
        return Err(Refusal::Violation(Status::bad_request(&message), message));
    }
    Ok(())
}

fn check_name(name: &str, object: &Value) -> Result<(), Refusal> {
    let sent = object["metadata"]["name"].as_str().unwrap_or_default();
    if sent != name {
        let message =
            format!("the name of the object ({sent}) does not match the name on the URL ({name})");
        return Err(Refusal::Violation(Status::bad_request(&message), message));
    }
    Ok(())
}

fn check_namespace(rt: &ResourceType, namespace: &str, object: &Value) -> Result<(), Refusal> {
    match object["metadata"]["namespace"].as_str() {
        Some(sent) if rt.namespaced && !sent.is_empty() && sent != namespace => {
            let message = "the namespace of the provided object does not match the namespace sent on the request";
            Err(Refusal::Violation(
                Status::bad_request(message),
                message.into(),
            ))
        }
        _ => Ok(()),
    }
}

fn type_of(object: &Value) -> Result<&'static ResourceType> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    types::for_object(api_version, kind).ok_or_else(|| {
        anyhow!(
            "no known type serves apiVersion `{api_version}` kind `{kind}`; the fake knows: {}",
            types::all()
                .iter()
                .map(|rt| format!("{} {}", rt.api_version(), rt.kind))
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
