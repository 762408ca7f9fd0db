//! `reconcile`, `reconcile_dependencies`, `suspend` and `resume`: the write tools, each a JSON
//! merge patch as the `flux` CLI sends it.
//!
//! - reconcile: `{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"<now>"}}}`,
//!   plus `forceAt`/`resetAt` with the same timestamp for a HelmRelease when asked (the
//!   helm-controller only honours them when they equal `requestedAt`). A suspended object is
//!   refused, as the CLI refuses it; `withSource` first reconciles the source chain.
//! - suspend: `{"spec":{"suspend":true}}`; resume: `{"spec":{"suspend":null}}`, optionally
//!   with the reconcile annotation in the same patch.
//!
//! Waiting is in `wait.rs`.

use capstan_sdk::{Context, TaskSupport, Tool, ToolError, ToolResult, Value, args, json};

use crate::kinds::{self, Kind};
use crate::kube::Client;
use crate::sources::{self, Reference};
use crate::wait::{self, Deadline};
use crate::{health, schema, time};

/// The annotation that asks a Flux controller to reconcile now.
pub(crate) const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// With `requestedAt`, asks the helm-controller to force a one-off install or upgrade.
const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
/// With `requestedAt`, asks the helm-controller to reset its failure counts.
const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";

pub(crate) fn reconcile_tool() -> Tool {
    Tool::new(
        "reconcile",
        "Asks a Flux controller to reconcile one object now, like `flux reconcile`: sets the \
         `reconcile.fluxcd.io/requestedAt` annotation. `withSource` first reconciles its source \
         (a Kustomization's sourceRef; a HelmRelease's chartRef, or the HelmChart generated from \
         its chart template, and that chart's HelmRepository). `force` (one-off install or \
         upgrade) and `reset` (clear failure counts) apply to HelmReleases only. Refuses a \
         suspended object: resume it instead. With `wait`, answers once the controller has \
         handled the request, with the resulting health.",
    )
    .title("Reconcile a Flux resource")
    .input(schema::flux_object(merge(
        json!({
            "withSource": {"type": "boolean", "default": false, "description": "Reconcile the source first."},
            "force": {"type": "boolean", "default": false, "description": "HelmRelease only: force a one-off install or upgrade."},
            "reset": {"type": "boolean", "default": false, "description": "HelmRelease only: reset the failure counts so remediation retries again."},
        }),
        schema::wait(),
    )))
    .output(outcome_schema())
    .destructive(false)
    .idempotent(false)
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

pub(crate) fn suspend_tool() -> Tool {
    Tool::new(
        "suspend",
        "Suspends one Flux object, like `flux suspend`: sets `spec.suspend: true`, so its \
         controller stops reconciling it (the cluster keeps its current state) until `resume`.",
    )
    .title("Suspend a Flux resource")
    .input(schema::flux_object(json!({})))
    .output(outcome_schema())
    .destructive(false)
    .idempotent(true)
    .open_world(false)
}

pub(crate) fn resume_tool() -> Tool {
    Tool::new(
        "resume",
        "Resumes a suspended Flux object, like `flux resume`: removes `spec.suspend`. With \
         `reconcile` it also asks for a reconcile in the same change; with `wait` it answers \
         once the controller has handled it, with the resulting health.",
    )
    .title("Resume a Flux resource")
    .input(schema::flux_object(merge(
        json!({"reconcile": {"type": "boolean", "default": false,
                             "description": "Also request a reconcile now."}}),
        schema::wait(),
    )))
    .output(outcome_schema())
    .destructive(false)
    .idempotent(false)
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

pub(crate) fn dependencies_tool() -> Tool {
    Tool::new(
        "reconcile_dependencies",
        "Reconciles a Kustomization's `dependsOn` chain in order: the deepest dependencies \
         first, then each Kustomization that depends on them, then the one named. Stops at a \
         suspended Kustomization. With `wait` (recommended) each step waits until its \
         controller has handled the request before the next one starts, and the chain stops at \
         the first that does not become Ready.",
    )
    .title("Reconcile a Kustomization and its dependencies")
    .input(schema::object(
        schema::with_target(merge(
            json!({
                "name": schema::name("The Kustomization's name."),
                "namespace": schema::namespace("The Kustomization's namespace."),
            }),
            schema::wait(),
        )),
        &["name", "namespace"],
    ))
    .output(outcome_schema())
    .destructive(false)
    .idempotent(false)
    .open_world(false)
    .tasks(TaskSupport::Optional)
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

fn outcome_schema() -> Value {
    let step = json!({"type": "object", "properties": {
        "kind": {"type": "string"}, "name": {"type": "string"}, "namespace": {"type": "string"},
        "action": {"type": "string"},
        "requestedAt": {"type": "string"},
        "completed": {"type": "boolean", "description": "Whether the controller handled the request (only with `wait`)."},
        "health": schema::health(),
        "ready": {"type": "object", "description": "The Ready condition's status, reason and message (with `wait`)."},
        "revision": {"type": "string"}},
        "required": ["kind", "name", "namespace", "action"]});
    schema::object(
        json!({"target": {"type": "string"}, "steps": {"type": "array", "items": step}}),
        &["target", "steps"],
    )
}

/// What the caller asked for around one request.
struct Options {
    deadline: Option<Deadline>,
}

impl Options {
    fn from(ctx: &Context, arguments: &Value) -> Result<Self, ToolError> {
        let deadline = match arguments["wait"].as_bool().unwrap_or(false) {
            true => Some(Deadline::from(ctx, args::str(arguments, "timeout"))?),
            false => None,
        };
        Ok(Self { deadline })
    }
}

fn target_object(ctx: &Context, arguments: &Value) -> Result<(Client, Reference), ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let reference = Reference {
        kind: kinds::require(args::required_str(arguments, "kind")?)?,
        name: args::required_str(arguments, "name")?.to_owned(),
        namespace: args::required_str(arguments, "namespace")?.to_owned(),
    };
    Ok((client, reference))
}

pub(crate) fn reconcile(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let (client, reference) = target_object(ctx, arguments)?;
    let options = Options::from(ctx, arguments)?;
    let (force, reset) = (flag(arguments, "force"), flag(arguments, "reset"));
    if (force || reset) && reference.kind.name() != "HelmRelease" {
        return Err(ToolError::new(format!(
            "`force` and `reset` apply to HelmReleases only; reconcile the {} without them",
            reference.kind.name()
        )));
    }
    let object = fetch_reconcilable(&client, &reference)?;
    let mut steps = Vec::new();
    if flag(arguments, "withSource") {
        for source in source_chain(&client, reference.kind, &object)? {
            steps.push(request(&client, &source, &[], &options)?);
            stop_unless_done(&steps)?;
        }
    }
    let mut extra = Vec::new();
    if force {
        extra.push(FORCE_AT);
    }
    if reset {
        extra.push(RESET_AT);
    }
    steps.push(request(&client, &reference, &extra, &options)?);
    Ok(answer(&client, steps))
}

fn flag(arguments: &Value, name: &str) -> bool {
    arguments[name].as_bool().unwrap_or(false)
}

/// GETs the object and refuses what `flux reconcile` refuses: a suspended or a static object.
fn fetch_reconcilable(client: &Client, reference: &Reference) -> Result<Value, ToolError> {
    let object = client.get(
        reference.kind.resource,
        &reference.namespace,
        &reference.name,
    )?;
    let what = describe(reference);
    if health::suspended(&object) {
        return Err(ToolError::new(format!(
            "{what} is suspended, so its controller would not reconcile it; resume it first \
             (the `resume` tool, optionally with `reconcile: true`)"
        )));
    }
    if reference.kind.is_static(&object) {
        return Err(ToolError::new(format!(
            "{what} is an OCI Helm repository, which Flux never reconciles (it has no artifact); \
             reconcile the HelmRelease or HelmChart that uses it instead"
        )));
    }
    Ok(object)
}

fn describe(reference: &Reference) -> String {
    format!(
        "{} `{}/{}`",
        reference.kind.name(),
        reference.namespace,
        reference.name
    )
}

/// The sources to reconcile before `object`, farthest first: a HelmChart's own source before
/// the chart. Static sources (OCI Helm repositories) are left out: there is nothing to fetch.
fn source_chain(client: &Client, kind: Kind, object: &Value) -> Result<Vec<Reference>, ToolError> {
    let mut chain = Vec::new();
    let mut next = sources::of(kind, object);
    while let Some(source) = next.take() {
        let fetched = client.get(source.kind.resource, &source.namespace, &source.name)?;
        if health::suspended(&fetched) {
            return Err(ToolError::new(format!(
                "the source {} is suspended; resume it, or reconcile without `withSource`",
                describe(&source)
            )));
        }
        next = sources::of(source.kind, &fetched);
        if !source.kind.is_static(&fetched) {
            chain.push(source);
        }
    }
    chain.reverse();
    Ok(chain)
}

/// Annotates one object with `requestedAt` (and the `extra` annotations, same time), then
/// waits when asked.
fn request(
    client: &Client,
    reference: &Reference,
    extra: &[&str],
    options: &Options,
) -> Result<Value, ToolError> {
    let now = time::now_rfc3339_nano(client.context());
    let mut annotations = json!({REQUESTED_AT: now});
    for annotation in extra {
        annotations[*annotation] = json!(now);
    }
    let patch = json!({"metadata": {"annotations": annotations}});
    let patched = client.merge_patch(
        reference.kind.resource,
        &reference.namespace,
        &reference.name,
        &patch,
    )?;
    let action = match extra {
        [] => "reconcile requested".to_owned(),
        _ => format!("reconcile requested with {}", extra.join(", ")),
    };
    let mut step = step(reference, &action);
    step["requestedAt"] = json!(now);
    finish(client, reference, step, patched, Some(&now), options)
}

fn step(reference: &Reference, action: &str) -> Value {
    let mut step = reference.to_json();
    step["action"] = json!(action);
    step
}

/// Adds the health (after waiting, when asked) to a step.
fn finish(
    client: &Client,
    reference: &Reference,
    mut step: Value,
    object: Value,
    requested_at: Option<&str>,
    options: &Options,
) -> Result<Value, ToolError> {
    let object = match &options.deadline {
        Some(deadline) => {
            let outcome = wait::until_handled(client, reference, requested_at, deadline)?;
            step["completed"] = json!(outcome.completed);
            step["ready"] = wait::ready_summary(&outcome.object);
            outcome.object
        }
        None => object,
    };
    step["health"] = health::of(reference.kind, &object).to_json();
    if let Some(revision) = reference.kind.revision(&object) {
        step["revision"] = json!(revision);
    }
    Ok(step)
}

/// Stops a chain when the last waited-for step did not end Ready.
fn stop_unless_done(steps: &[Value]) -> Result<(), ToolError> {
    let Some(last) = steps.last() else {
        return Ok(());
    };
    if last.get("completed").is_none() || last["health"]["state"] == "Ready" {
        return Ok(());
    }
    Err(ToolError::new(format!(
        "stopped after {}/{} in `{}`: it is {} ({}: {}); fix it first. Steps done: {}",
        last["kind"].as_str().unwrap_or_default(),
        last["name"].as_str().unwrap_or_default(),
        last["namespace"].as_str().unwrap_or_default(),
        last["health"]["state"].as_str().unwrap_or_default(),
        last["health"]["reason"].as_str().unwrap_or_default(),
        last["health"]["message"].as_str().unwrap_or_default(),
        Value::from(steps.to_vec()),
    )))
}

fn answer(client: &Client, steps: Vec<Value>) -> ToolResult {
    ToolResult::structured(json!({"target": client.target(), "steps": steps}))
}

pub(crate) fn suspend(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let (client, reference) = target_object(ctx, arguments)?;
    let patch = json!({"spec": {"suspend": true}});
    let patched = client.merge_patch(
        reference.kind.resource,
        &reference.namespace,
        &reference.name,
        &patch,
    )?;
    let step = finish(
        &client,
        &reference,
        step(&reference, "suspended"),
        patched,
        None,
        &Options { deadline: None },
    )?;
    Ok(answer(&client, vec![step]))
}

pub(crate) fn resume(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let (client, reference) = target_object(ctx, arguments)?;
    let options = Options::from(ctx, arguments)?;
    let mut patch = json!({"spec": {"suspend": null}});
    let requested_at = flag(arguments, "reconcile").then(|| time::now_rfc3339_nano(ctx));
    if let Some(now) = &requested_at {
        patch["metadata"] = json!({"annotations": {REQUESTED_AT: now}});
    }
    let patched = client.merge_patch(
        reference.kind.resource,
        &reference.namespace,
        &reference.name,
        &patch,
    )?;
    let action = match requested_at {
        Some(_) => "resumed, reconcile requested",
        None => "resumed",
    };
    let mut step = step(&reference, action);
    if let Some(now) = &requested_at {
        step["requestedAt"] = json!(now);
    }
    let step = finish(
        &client,
        &reference,
        step,
        patched,
        requested_at.as_deref(),
        &options,
    )?;
    Ok(answer(&client, vec![step]))
}

pub(crate) fn reconcile_dependencies(
    ctx: &Context,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let options = Options::from(ctx, arguments)?;
    let root = Reference {
        kind: kinds::require("Kustomization")?,
        name: args::required_str(arguments, "name")?.to_owned(),
        namespace: args::required_str(arguments, "namespace")?.to_owned(),
    };
    let order = crate::dependencies::order(&client, &root)?;
    let mut steps = Vec::new();
    for (index, reference) in order.iter().enumerate() {
        fetch_reconcilable(&client, reference).map_err(|error| {
            ToolError::new(format!(
                "{} Nothing after it was reconciled; steps done: {}",
                error.message(),
                Value::from(steps.clone())
            ))
        })?;
        steps.push(request(&client, reference, &[], &options)?);
        if index + 1 < order.len() {
            stop_unless_done(&steps)?;
        }
    }
    Ok(answer(&client, steps))
}
