//! `create_application`, `update_application` and `delete_application`. Create accepts the
//! whole Application (multi-source, Helm, Kustomize, directory, plugin, ignoreDifferences, …)
//! with `upsert` and `validate`; update is a JSON merge PATCH, so fields the agent does not send
//! are kept; delete takes `cascade` and `propagationPolicy`.

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::params::AppRef;
use crate::schema::{
    NAME_PATTERN, NAMESPACE_PATTERN, app_properties, object, props, target_property,
};
use crate::summary::{self, wide_row};

/// The schema of an Application an agent writes: metadata and spec, anything Argo CD accepts
/// inside them.
fn application_schema(required_spec: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": "An Argo CD Application: `metadata` (name, namespace, labels, annotations, finalizers) and `spec` \
                        (project, source or sources with helm/kustomize/directory/plugin, destination, syncPolicy, \
                        ignoreDifferences, info, revisionHistoryLimit) exactly as in Argo CD's Application CRD.",
        "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {
                "name": {"type": "string", "pattern": NAME_PATTERN},
                "namespace": {"type": "string", "pattern": NAMESPACE_PATTERN},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"}}}},
            "spec": {"type": "object", "required": required_spec},
        },
        "additionalProperties": false,
    })
}

pub(crate) fn create_tool() -> Tool {
    Tool::new(
        "create_application",
        "Creates an Argo CD application from a full Application (any source type: Git directory, \
         Helm chart with values, Kustomize, plugin, several sources; ignoreDifferences; sync \
         policy). Argo CD validates the project and destination unless `validate` is false. An \
         identical application that exists already is accepted; a different one is refused unless \
         `upsert` is true, which replaces its spec. Nothing is deployed until a sync (automated or \
         sync_application).",
    )
    .title("Create an Argo CD application")
    .input(object(
        json!({
            "target": target_property(),
            "application": application_schema(&["project", "destination"]),
            "upsert": {"type": "boolean", "description": "Replace the spec of an existing application of the same name (default false)."},
            "validate": {"type": "boolean", "description": "Let Argo CD check project, destination and source first (default true)."},
        }),
        &["application"],
    ))
    .output(written_schema())
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn update_tool() -> Tool {
    Tool::new(
        "update_application",
        "Changes an Argo CD application with a JSON merge patch: send only what changes (e.g. \
         `{\"spec\": {\"source\": {\"targetRevision\": \"v1.4.0\"}}}` or new Helm values); every field \
         you leave out is kept. A `null` removes a field; lists (such as `sources`) are replaced \
         whole. Returns the updated application's summary and spec.",
    )
    .title("Update an Argo CD application")
    .input(object(
        props(&[
            app_properties(),
            json!({"application": {
                "type": "object",
                "description": "The changes, shaped like an Application: `metadata` (labels, annotations) and/or `spec` fields.",
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                               "metadata": {"type": "object", "properties": {
                                   "name": {"type": "string"}, "namespace": {"type": "string"},
                                   "labels": {"type": "object"}, "annotations": {"type": "object"}},
                                   "additionalProperties": false},
                               "spec": {"type": "object"}},
                "additionalProperties": false}}),
        ]),
        &["applicationName", "application"],
    ))
    .output(written_schema())
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn delete_tool() -> Tool {
    Tool::new(
        "delete_application",
        "Deletes an Argo CD application. By default (`cascade` true) Argo CD also deletes every \
         Kubernetes object the application deployed; `cascade: false` keeps them running and only \
         removes the Application. `propagationPolicy` `foreground` (default) waits for dependents, \
         `background` does not.",
    )
    .title("Delete an Argo CD application")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "cascade": {"type": "boolean", "description": "Also delete the deployed objects (default true)."},
                "propagationPolicy": {"type": "string", "enum": ["foreground", "background"],
                                      "description": "How Kubernetes deletes dependents (only with cascade)."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"}, "deleted": {"type": "boolean"},
               "cascade": {"type": "boolean"}}),
        &["target", "application", "deleted", "cascade"],
    ))
    .destructive(true)
    .idempotent(true)
}

fn written_schema() -> Value {
    object(
        json!({"target": {"type": "string"}, "summary": summary::row_schema(),
               "spec": {"type": "object"}}),
        &["target", "summary", "spec"],
    )
}

fn written(client: &Client, application: &Value) -> ToolResult {
    ToolResult::structured(json!({
        "target": client.target(), "summary": wide_row(application), "spec": application["spec"],
    }))
}

pub(crate) fn create(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let mut application = arguments["application"].clone();
    if let Some(map) = application.as_object_mut() {
        for key in ["apiVersion", "kind", "status", "operation"] {
            map.remove(key);
        }
    }
    if application["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return Err(ToolError::new("application.metadata.name is required"));
    }
    let mut query = Query::default();
    for flag in ["upsert", "validate"] {
        if let Some(value) = arguments[flag].as_bool() {
            query.push(flag, &value.to_string());
        }
    }
    let not_found = "Argo CD answered 404 to a create: check the target's URL.";
    let created = client.send(
        Method::POST,
        "/api/v1/applications",
        &query,
        Some(&application),
        not_found,
    )?;
    Ok(written(&client, &created))
}

pub(crate) fn update(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let changes = patch_of(&arguments["application"]);
    if changes.as_object().is_none_or(|map| map.is_empty()) {
        return Err(ToolError::new(
            "`application` holds no changes; send the metadata or spec fields to change",
        ));
    }
    let mut body =
        json!({"name": app_ref.name, "patch": changes.to_string(), "patchType": "merge"});
    if let Some(namespace) = app_ref.namespace {
        body["appNamespace"] = json!(namespace);
    }
    let updated = app_ref.client.send(
        Method::PATCH,
        &app_ref.path(""),
        &Query::default(),
        Some(&body),
        &app_ref.not_found(),
    )?;
    Ok(written(&app_ref.client, &updated))
}

/// The merge patch for `application`: what argocd-mcp callers send as a whole Application,
/// without the identity fields a patch cannot change.
fn patch_of(application: &Value) -> Value {
    let mut changes = application.clone();
    if let Some(map) = changes.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("name");
            metadata.remove("namespace");
            if metadata.is_empty() {
                map.remove("metadata");
            }
        }
    }
    changes
}

pub(crate) fn delete(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    let cascade = arguments["cascade"].as_bool();
    if let Some(cascade) = cascade {
        query.push("cascade", &cascade.to_string());
    }
    query.push_opt(
        "propagationPolicy",
        args::str(arguments, "propagationPolicy"),
    );
    app_ref.client.send(
        Method::DELETE,
        &app_ref.path(""),
        &query,
        None,
        &app_ref.not_found(),
    )?;
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name, "deleted": true,
        "cascade": cascade.unwrap_or(true),
    })))
}
