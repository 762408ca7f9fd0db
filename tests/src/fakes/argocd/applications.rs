//! ApplicationService List, Get (with `refresh`), Create (with `upsert` and `validate`), Update,
//! Patch (merge and JSON patch) and Delete (with `cascade` and `propagationPolicy`). A List of
//! an instance with listed-only applications is written as a stream, each generated one made
//! while the answer goes out.

use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::app::RECONCILED_AT;
use super::generated::generated;
use super::operations::{advance, auto_sync};
use super::schema::validate_application;
use super::store::{
    Answer, ApiError, AppRecord, CONTROL_PLANE_NAMESPACE, Call, Query, Reply, Simulated, Store, ok,
};
use crate::fakes::ids::fake_uid;
use crate::fakes::selector::Selector;

pub(crate) fn list(store: &mut Store, call: &Call<'_>) -> Answer {
    let filter = ListFilter::from(&call.query)?;
    let items: Vec<&Value> = store
        .apps
        .iter()
        .map(|record| &record.app)
        .filter(|app| filter.keeps(app))
        .collect();
    if store.listed.count > 0 {
        return Ok(Reply::Body(streamed_list(store, items, filter)));
    }
    if let Some(name) = &filter.name
        && items.is_empty()
    {
        return Err(ApiError::not_found(format!(
            "application '{name}' not found"
        )));
    }
    // Serialized straight from the store: cloning thousands of large Applications into a new
    // document first would make the fake, not the servers in front of it, the bottleneck.
    let list = List {
        metadata: ListMeta {
            resource_version: store.version.to_string(),
        },
        items,
    };
    let body = serde_json::to_vec(&list).expect("JSON values with string keys always serialize");
    Ok(Reply::Serialized(body))
}

/// What ApplicationService List keeps: the query's `selector`, `appNamespace`, `projects`,
/// `repo` and `name`.
struct ListFilter {
    selector: Selector,
    namespace: Option<String>,
    projects: Vec<String>,
    repo: Option<String>,
    name: Option<String>,
}

impl ListFilter {
    fn from(query: &Query<'_>) -> Result<Self, ApiError> {
        let selector =
            Selector::parse(query.first("selector").unwrap_or_default()).map_err(|message| {
                ApiError::invalid(format!("error parsing the selector: {message}"))
            })?;
        let owned = |name: &str| query.first(name).map(str::to_owned);
        Ok(Self {
            selector,
            namespace: owned("appNamespace"),
            projects: query.projects().into_iter().map(str::to_owned).collect(),
            repo: owned("repo"),
            name: owned("name"),
        })
    }

    fn keeps(&self, app: &Value) -> bool {
        self.selector.matches(app["metadata"]["labels"].as_object())
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| app["metadata"]["namespace"] == *ns)
            && (self.projects.is_empty()
                || self.projects.iter().any(|p| app["spec"]["project"] == *p))
            && self.repo.as_ref().is_none_or(|repo| uses_repo(app, repo))
            && self
                .name
                .as_ref()
                .is_none_or(|name| app["metadata"]["name"] == *name)
    }
}

/// How much of a streamed list is written at once.
const LIST_CHUNK: usize = 256 << 10;

/// The list of the stored applications that match, then of the listed-only generated ones
/// ([`super::ArgoCd::with_listed_apps`]), written as a stream: each generated application is
/// made, checked against the filter, serialized into the chunk under way and dropped, so the
/// fake holds a chunk or two however long the list. The bytes written are added to the
/// store's counter.
fn streamed_list(store: &Store, items: Vec<&Value>, filter: ListFilter) -> axum::body::Body {
    let mut head = format!(
        r#"{{"metadata":{{"resourceVersion":"{}"}},"items":["#,
        store.version
    )
    .into_bytes();
    for (index, app) in items.iter().enumerate() {
        if index > 0 {
            head.push(b',');
        }
        serde_json::to_writer(&mut head, app).expect("JSON values always serialize");
    }
    let mut first = items.is_empty();
    let count = store.listed.count;
    let written = store.listed.bytes.clone();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    tokio::task::spawn_blocking(move || {
        let mut chunk = head;
        for index in 0..count {
            let app = generated(index).to_json();
            if !filter.keeps(&app) {
                continue;
            }
            if !std::mem::take(&mut first) {
                chunk.push(b',');
            }
            serde_json::to_writer(&mut chunk, &app).expect("JSON values always serialize");
            if chunk.len() >= LIST_CHUNK {
                written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if sender.blocking_send(std::mem::take(&mut chunk)).is_err() {
                    return; // The client went away.
                }
            }
        }
        chunk.extend_from_slice(b"]}");
        written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let _ = sender.blocking_send(chunk);
    });
    let chunks = futures::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    axum::body::Body::from_stream(chunks)
}

/// `v1alpha1ApplicationList`, borrowing its items.
#[derive(Serialize)]
struct List<'a> {
    metadata: ListMeta,
    items: Vec<&'a Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
}

/// Whether the app's source (or one of its sources) is `repo`.
fn uses_repo(application: &Value, repo: &str) -> bool {
    let spec = &application["spec"];
    spec["source"]["repoURL"] == repo
        || spec["sources"]
            .as_array()
            .is_some_and(|sources| sources.iter().any(|source| source["repoURL"] == repo))
}

pub(crate) fn get(store: &mut Store, call: &Call<'_>) -> Answer {
    let projects: Vec<String> = call
        .query
        .projects()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let refresh = call.query.first("refresh").map(str::to_owned);
    let record = store.app_mut(call.param("name"), call.app_namespace())?;
    if !projects.is_empty() && !projects.iter().any(|p| p == record.project()) {
        let name = record.name().to_owned();
        return Err(ApiError::not_found(format!(
            "applications.argoproj.io \"{name}\" not found"
        )));
    }
    advance(record);
    if let Some(kind) = refresh {
        let annotations = &mut record.app["metadata"]["annotations"];
        if annotations.is_null() {
            *annotations = json!({});
        }
        annotations["argocd.argoproj.io/refresh"] = json!(kind);
        record.app["status"]["reconciledAt"] = json!(RECONCILED_AT);
    }
    ok(record.app.clone())
}

pub(crate) fn create(store: &mut Store, call: &Call<'_>) -> Answer {
    let mut app = call.body.clone();
    let name = app["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "Application.argoproj.io \"\" is invalid: metadata.name: Required value: name or generateName is required",
        ));
    }
    let namespace = app["metadata"]["namespace"]
        .as_str()
        .unwrap_or(CONTROL_PLANE_NAMESPACE)
        .to_owned();
    if call.query.flag("validate").unwrap_or(true) {
        validate_spec(store, &app["spec"])?;
    }
    if let Ok(index) = store.app_index(&name, Some(&namespace)) {
        let existing = &store.apps[index].app;
        if existing["spec"] == app["spec"]
            && existing["metadata"]["labels"] == app["metadata"]["labels"]
        {
            return ok(existing.clone());
        }
        if !call.query.flag("upsert").unwrap_or(false) {
            return Err(ApiError::invalid(
                "existing application spec is different, use upsert flag to force update",
            ));
        }
        let version = store.next_version();
        let record = &mut store.apps[index];
        record.app["spec"] = app["spec"].take();
        replace_labels(&mut record.app, &app);
        record.app["metadata"]["resourceVersion"] = json!(version);
        return ok(record.app.clone());
    }
    app["metadata"]["namespace"] = json!(namespace);
    app["metadata"]["uid"] = json!(fake_uid(&format!("{namespace}/{name}/created")));
    app["metadata"]["resourceVersion"] = json!(store.next_version());
    app["metadata"]["creationTimestamp"] = json!(RECONCILED_AT);
    app["metadata"]["generation"] = json!(1);
    app["status"] = json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Missing"},
                           "controllerNamespace": CONTROL_PLANE_NAMESPACE});
    let mut record = AppRecord::new(app.clone(), Simulated::default());
    record.broken_images = store.broken_images.clone();
    store.apps.push(record);
    store.sort();
    ok(app)
}

fn replace_labels(app: &mut Value, from: &Value) {
    for key in ["labels", "annotations"] {
        if !from["metadata"][key].is_null() {
            app["metadata"][key] = from["metadata"][key].clone();
        }
    }
}

/// What Argo CD checks before it accepts a spec: the project exists and the destination is a
/// known cluster.
fn validate_spec(store: &Store, spec: &Value) -> Result<(), ApiError> {
    let project = spec["project"].as_str().unwrap_or_default();
    if store.project(project).is_none() {
        return Err(ApiError::invalid(format!(
            "application spec for  is invalid: InvalidSpecError: Application referencing project {project} which does not exist"
        )));
    }
    let destination = &spec["destination"];
    let server = destination["server"].as_str().unwrap_or_default();
    let name = destination["name"].as_str().unwrap_or_default();
    if !store.cluster_known(server, name) {
        return Err(ApiError::invalid(format!(
            "application destination spec is invalid: unable to find destination server: there are no clusters with this URL: {server}{name}"
        )));
    }
    if spec["source"].is_null() && spec["sources"].as_array().is_none_or(Vec::is_empty) {
        return Err(ApiError::invalid(
            "application spec is invalid: InvalidSpecError: spec.source or spec.sources must be specified",
        ));
    }
    Ok(())
}

pub(crate) fn update(store: &mut Store, call: &Call<'_>) -> Answer {
    let name = call.param("application.metadata.name").to_owned();
    let body = &call.body;
    let namespace = body["metadata"]["namespace"].as_str().map(str::to_owned);
    if call.query.flag("validate").unwrap_or(true) {
        validate_spec(store, &body["spec"])?;
    }
    let version = store.next_version();
    let record = store.app_mut(&name, namespace.as_deref())?;
    let before = record.app["spec"].clone();
    record.app["spec"] = body["spec"].clone();
    replace_labels(&mut record.app, body);
    record.app["metadata"]["resourceVersion"] = json!(version);
    let answer = record.app.clone();
    source_changed(record, &before);
    ok(answer)
}

pub(crate) fn patch(store: &mut Store, call: &Call<'_>) -> Answer {
    let body = &call.body;
    let patch_text = body["patch"].as_str().unwrap_or_default();
    let patch: Value = serde_json::from_str(patch_text)
        .map_err(|error| ApiError::invalid(format!("error unmarshaling patch: {error}")))?;
    let version = store.next_version();
    let record = store.app_mut(call.param("name"), call.app_namespace())?;
    let mut patched = record.app.clone();
    match body["patchType"].as_str().unwrap_or("json") {
        "merge" => merge_patch(&mut patched, &patch),
        "json" => json_patch(&mut patched, &patch)?,
        other => {
            return Err(ApiError::invalid(format!(
                "Patch type '{other}' is not supported"
            )));
        }
    }
    validate_application(&patched).map_err(|error| {
        ApiError::invalid(format!("the patched application is invalid: {error}"))
    })?;
    patched["metadata"]["resourceVersion"] = json!(version);
    let before = record.app["spec"].clone();
    record.app = patched;
    let answer = record.app.clone();
    source_changed(record, &before);
    ok(answer)
}

/// After a spec change: a changed source leaves the application OutOfSync, and with automated
/// sync on the application controller syncs it at once. The answer to the change shows neither
/// (the controller reconciles after it); the next read shows both.
fn source_changed(record: &mut AppRecord, before: &Value) {
    let spec = &record.app["spec"];
    if spec["source"] == before["source"] && spec["sources"] == before["sources"] {
        return;
    }
    record.app["status"]["sync"]["status"] = json!("OutOfSync");
    auto_sync(record);
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// RFC 6902 JSON patch: `add`, `replace` and `remove`.
fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    for op in patch.as_array().into_iter().flatten() {
        let path = op["path"].as_str().unwrap_or_default();
        let (parent_path, key) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = target
            .pointer_mut(parent_path)
            .ok_or_else(|| ApiError::invalid(format!("the patch path {path} does not exist")))?;
        match (op["op"].as_str(), parent) {
            (Some("add" | "replace"), Value::Object(map)) => {
                map.insert(key.to_owned(), op["value"].clone());
            }
            (Some("remove"), Value::Object(map)) => {
                map.remove(key);
            }
            (Some("add"), Value::Array(items)) if key == "-" => items.push(op["value"].clone()),
            (other, _) => {
                return Err(ApiError::invalid(format!(
                    "unsupported JSON patch operation {other:?} at {path}"
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn delete(store: &mut Store, call: &Call<'_>) -> Answer {
    let cascade = call.query.flag("cascade").unwrap_or(true);
    let policy = call
        .query
        .first("propagationPolicy")
        .unwrap_or("foreground");
    if !cascade && call.query.first("propagationPolicy").is_some() {
        return Err(ApiError::invalid(
            "cannot set propagation policy when cascading is disabled",
        ));
    }
    if !["foreground", "background"].contains(&policy) {
        return Err(ApiError::invalid(format!(
            "invalid propagation policy: {policy}"
        )));
    }
    let index = store.app_index(call.param("name"), call.app_namespace())?;
    store.apps.remove(index);
    ok(json!({}))
}
