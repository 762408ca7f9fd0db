//! What Argo CD serves about an application's Kubernetes objects: the resource tree, managed
//! resources (with diffs), one live object, its resource actions (v1 list, v1 and v2 run),
//! desired manifests, server-side diff, events and pod logs.

use serde_json::{Value, json};

use super::events;
use super::live::{self, Object, objects};
use super::logs;
use super::manifest::{self, out_of_sync};
use super::store::{Answer, ApiError, AppRecord, Call, Reply, Store, ok};
use super::tree;

pub(crate) fn tree(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("applicationName"), call.app_namespace())?;
    ok(tree::tree(record))
}

pub(crate) fn managed(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("applicationName"), call.app_namespace())?;
    let q = |name: &str| call.query.first(name).unwrap_or_default();
    let items: Vec<Value> = objects(record)
        .iter()
        .filter(|object| object.managed)
        .filter(|object| object.matches(q("kind"), q("name"), q("namespace"), q("group")))
        .map(|object| diff(record, object))
        .collect();
    ok(json!({"items": items}))
}

fn diff(record: &AppRecord, object: &Object) -> Value {
    let target = manifest::target(record, object);
    let live_state = manifest::manifest(record, object);
    let modified = out_of_sync(record, object);
    let mut item = json!({
        "group": object.group, "kind": object.kind, "namespace": object.namespace, "name": object.name,
        "targetState": target.to_string(), "liveState": live_state.to_string(),
        "normalizedLiveState": live_state.to_string(), "predictedLiveState": target.to_string(),
        "modified": modified, "hook": false,
    });
    if modified {
        item["diff"] = json!(json!({"spec": {"replicas": record.replicas + 1}}).to_string());
    }
    item
}

/// The live object the query names: `kind`, `resourceName`, `namespace`, `group`.
fn find<'a>(objects: &'a [Object], call: &Call<'_>) -> Result<&'a Object, ApiError> {
    let q = |name: &str| call.query.first(name).unwrap_or_default();
    let (kind, name) = (q("kind"), q("resourceName"));
    objects
        .iter()
        .find(|object| {
            object.matches(kind, name, q("namespace"), q("group"))
                && !kind.is_empty()
                && !name.is_empty()
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{kind} {name} not found as part of application {}",
                call.param("name")
            ))
        })
}

pub(crate) fn get_resource(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("name"), call.app_namespace())?;
    let all = objects(record);
    let object = find(&all, call)?;
    ok(json!({"manifest": manifest::manifest(record, object).to_string()}))
}

/// The actions Argo CD's built-in Lua scripts offer for a kind.
fn actions_for(kind: &str) -> Value {
    match kind {
        "Deployment" | "StatefulSet" => json!([
            {"name": "restart", "disabled": false, "iconClass": "fa fa-fw fa-redo"},
            {"name": "pause", "disabled": false, "iconClass": "fa fa-fw fa-pause-circle"},
            {"name": "resume", "disabled": true, "iconClass": "fa fa-fw fa-play-circle"},
            {"name": "scale", "disabled": false, "iconClass": "fa fa-fw fa-plus-circle",
             "params": [{"name": "replicas"}]},
        ]),
        "Pod" => json!([{"name": "delete", "disabled": false}]),
        _ => json!([]),
    }
}

pub(crate) fn list_actions(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("name"), call.app_namespace())?;
    let all = objects(record);
    let object = find(&all, call)?;
    ok(json!({"actions": actions_for(object.kind)}))
}

/// RunResourceAction (v1, deprecated: body is the action name) and RunResourceActionV2 (body
/// carries the resource, the action and its parameters).
pub(crate) fn run_action(store: &mut Store, call: &Call<'_>, v2: bool) -> Answer {
    let (action, kind, name, namespace, group, parameters) = if v2 {
        let b = &call.body;
        let text = |key: &str| b[key].as_str().unwrap_or_default().to_owned();
        (
            text("action"),
            text("kind"),
            text("resourceName"),
            text("namespace"),
            text("group"),
            b["resourceActionParameters"].clone(),
        )
    } else {
        let q = |key: &str| call.query.first(key).unwrap_or_default().to_owned();
        (
            call.body.as_str().unwrap_or_default().to_owned(),
            q("kind"),
            q("resourceName"),
            q("namespace"),
            q("group"),
            json!([]),
        )
    };
    let record = store.app(call.param("name"), call.app_namespace())?;
    let all = objects(record);
    let object = all
        .iter()
        .find(|o| {
            o.matches(&kind, &name, &namespace, &group) && !kind.is_empty() && !name.is_empty()
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{kind} {name} not found as part of application {}",
                record.name()
            ))
        })?;
    let offered = actions_for(object.kind);
    let known = offered
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == action.as_str());
    match known {
        None => {
            return Err(ApiError::invalid(format!(
                "action {action} not found for {kind} {name}"
            )));
        }
        Some(known) if known["disabled"] == true => {
            return Err(ApiError::invalid(format!(
                "action {action} is disabled for {kind} {name}"
            )));
        }
        Some(_) => {}
    }
    if action == "scale"
        && !parameters
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "replicas")
    {
        return Err(ApiError::invalid(
            "action scale requires the parameter replicas",
        ));
    }
    let entry = json!({"application": record.name(), "kind": kind, "name": name, "namespace": namespace,
                       "action": action, "parameters": parameters, "endpoint": if v2 { "v2" } else { "v1" }});
    store.actions_run.push(entry);
    ok(json!({}))
}

pub(crate) fn manifests(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("name"), call.app_namespace())?;
    let manifests: Vec<String> = objects(record)
        .iter()
        .filter(|object| object.managed)
        .map(|object| manifest::target(record, object).to_string())
        .collect();
    let revision = call
        .query
        .first("revision")
        .map(str::to_owned)
        .unwrap_or_else(|| live::revision(&record.app).to_owned());
    let source_type = record.app["status"]["sourceType"]
        .as_str()
        .unwrap_or("Directory");
    ok(
        json!({"manifests": manifests, "revision": revision, "sourceType": source_type,
              "namespace": record.app["spec"]["destination"]["namespace"],
              "server": record.app["spec"]["destination"]["server"]}),
    )
}

pub(crate) fn server_side_diff(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("appName"), call.app_namespace())?;
    let all = objects(record);
    let mut items = Vec::new();
    for text in call.query.all("targetManifests") {
        let target: Value = serde_json::from_str(text).map_err(|error| {
            ApiError::invalid(format!("error unmarshaling target manifest: {error}"))
        })?;
        let kind = target["kind"].as_str().unwrap_or_default();
        let name = target["metadata"]["name"].as_str().unwrap_or_default();
        let live_object = all.iter().find(|o| o.kind == kind && o.name == name);
        let live_state = live_object.map(|o| manifest::manifest(record, o));
        let predicted = match &live_state {
            Some(live) => {
                let mut predicted = live.clone();
                super::applications::merge_patch(&mut predicted, &target);
                predicted
            }
            None => target.clone(),
        };
        let modified = live_state.as_ref() != Some(&predicted);
        items.push(json!({"kind": kind, "name": name,
            "namespace": target["metadata"]["namespace"].as_str().unwrap_or_default(),
            "group": target["apiVersion"].as_str().and_then(|v| v.split_once('/')).map(|(g, _)| g).unwrap_or_default(),
            "liveState": live_state.map(|l| l.to_string()).unwrap_or_else(|| "null".into()),
            "predictedLiveState": predicted.to_string(), "targetState": target.to_string(),
            "modified": modified}));
    }
    let modified = items.iter().any(|item| item["modified"] == true);
    ok(json!({"items": items, "modified": modified}))
}

pub(crate) fn events(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("name"), call.app_namespace())?;
    let q = |name: &str| call.query.first(name).unwrap_or_default();
    let (uid, name, namespace) = (q("resourceUID"), q("resourceName"), q("resourceNamespace"));
    if uid.is_empty() && name.is_empty() {
        return ok(events::application_events(record));
    }
    ok(events::resource_events(record, uid, name, namespace))
}

pub(crate) fn pod_logs(
    store: &mut Store,
    call: &Call<'_>,
    break_stream: bool,
) -> Result<(axum::http::StatusCode, Reply), ApiError> {
    let record = store.app(call.param("name"), call.app_namespace())?;
    let pod = call.params.get("podName").map(String::as_str);
    let stream = logs::stream(record, pod, &call.query, break_stream);
    Ok((stream.status, Reply::Stream(stream.body)))
}
