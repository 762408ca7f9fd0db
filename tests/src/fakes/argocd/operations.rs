//! Operations on an application: Sync, Rollback and TerminateOperation, and how a running
//! operation progresses. A sync records `operation` and `status.operationState` (phase
//! `Running`, health `Progressing`); each later Get of the application advances it: on the
//! second read the operation has `Succeeded` (or `Failed`) and the app is `Synced` at the new
//! revision with a new history entry; on the third the health settles at `Healthy` (or
//! `Degraded`, when a scenario hook asked for it; a transient Degraded turns Healthy after a
//! given number of further reads). A changed source of an application with automated sync on
//! starts an automated sync ([`auto_sync`]). Also RevisionMetadata, for history.

use serde_json::{Value, json};

use super::app::{Cause, RECONCILED_AT};
use super::history;
use super::managed::{self, Resource};
use super::store::{Answer, ApiError, AppRecord, Call, Outcome, Progression, Store, ok};
use crate::fakes::ids::{fake_hash, fake_sha};

const INITIATOR: &str = "capstan";
/// Deployments Argo CD keeps in `status.history` unless `spec.revisionHistoryLimit` says.
const DEFAULT_HISTORY_LIMIT: u64 = 10;

pub(crate) fn sync(store: &mut Store, call: &Call<'_>) -> Answer {
    let body = &call.body;
    let record = store.app_mut(call.param("name"), call.app_namespace())?;
    if running(record) {
        return Err(ApiError::precondition(
            "another operation is already in progress",
        ));
    }
    if body["dryRun"].as_bool().unwrap_or(false) {
        return ok(record.app.clone());
    }
    let source = record.app["spec"]["source"].clone();
    let wanted = body["revision"]
        .as_str()
        .filter(|r| !r.is_empty())
        .or_else(|| source["targetRevision"].as_str())
        .unwrap_or("HEAD")
        .to_owned();
    let revision = resolve(record, &wanted);
    let mut sync = json!({"revision": revision, "prune": body["prune"].as_bool().unwrap_or(false)});
    if let Some(options) = body["syncOptions"]["items"].as_array() {
        sync["syncOptions"] = json!(options);
    }
    for key in ["resources", "revisions"] {
        if body[key].as_array().is_some_and(|items| !items.is_empty()) {
            sync[key] = body[key].clone();
        }
    }
    if body["strategy"].is_object() {
        sync["syncStrategy"] = body["strategy"].clone();
    }
    if !source.is_null() {
        sync["source"] = source;
    }
    let previous = record.app.clone();
    start(
        record,
        json!({"sync": sync, "initiatedBy": {"username": INITIATOR}}),
        revision,
    );
    ok(as_requested(&previous, &record.app))
}

pub(crate) fn rollback(store: &mut Store, call: &Call<'_>) -> Answer {
    let body = &call.body;
    let record = store.app_mut(call.param("name"), call.app_namespace())?;
    let name = record.name().to_owned();
    if automated_enabled(&record.app) {
        return Err(ApiError::precondition(
            "rollback cannot be initiated when auto-sync is enabled",
        ));
    }
    if running(record) {
        return Err(ApiError::precondition(
            "another operation is already in progress",
        ));
    }
    let id = body["id"].as_i64().unwrap_or_default();
    let entry = record.app["status"]["history"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["id"].as_i64() == Some(id))
        .cloned()
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "application {name} does not have deployment with id {id}"
            ))
        })?;
    if body["dryRun"].as_bool().unwrap_or(false) {
        return ok(record.app.clone());
    }
    let revision = entry["revision"].as_str().unwrap_or_default().to_owned();
    let sync = json!({"revision": revision, "prune": body["prune"].as_bool().unwrap_or(false),
                      "source": entry["source"]});
    let previous = record.app.clone();
    start(
        record,
        json!({"sync": sync, "initiatedBy": {"username": INITIATOR}}),
        revision,
    );
    ok(as_requested(&previous, &record.app))
}

pub(crate) fn terminate(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app_mut(call.param("name"), call.app_namespace())?;
    if !running(record) {
        return Err(ApiError::precondition(
            "Unable to terminate operation. No operation is in progress",
        ));
    }
    let state = &mut record.app["status"]["operationState"];
    state["phase"] = json!("Failed");
    state["message"] = json!("Operation terminated");
    state["finishedAt"] = json!(RECONCILED_AT);
    remove(&mut record.app, "operation");
    record.app["status"]["health"] =
        json!({"status": "Healthy", "lastTransitionTime": RECONCILED_AT});
    record.progression = None;
    ok(json!({}))
}

pub(crate) fn revision_metadata(store: &mut Store, call: &Call<'_>) -> Answer {
    let record = store.app(call.param("name"), call.app_namespace())?;
    if record.app["spec"]["source"]["chart"].is_string() {
        return Err(ApiError::invalid(
            "revision metadata is only available for Git sources; this application deploys a Helm chart",
        ));
    }
    let revision = call.param("revision");
    let authors = [
        "Dana Kim <dana@example.com>",
        "Lee Moreau <lee@example.com>",
        "Sam Okafor <sam@example.com>",
    ];
    let author = authors[(fake_hash(revision) % 3) as usize];
    ok(json!({
        "author": author,
        "date": RECONCILED_AT,
        "message": format!("{}: bump image and tune resources ({})", record.name(), &revision[..revision.len().min(7)]),
        "tags": if revision.len().is_multiple_of(2) { json!([]) } else { json!(["v1.4.2"]) },
    }))
}

/// Argo CD's answer to a sync or rollback request: the application with the requested
/// `operation` set by the server, and the status as it was, since the application controller
/// starts the operation only after the answer (the next read shows it running).
fn as_requested(previous: &Value, now: &Value) -> Value {
    let mut answer = previous.clone();
    answer["operation"] = now["operation"].clone();
    answer
}

/// Whether automated sync is on: `syncPolicy.automated` set and not `enabled: false` (Argo CD's
/// `IsAutomatedSyncEnabled`).
pub(crate) fn automated_enabled(app: &Value) -> bool {
    let automated = &app["spec"]["syncPolicy"]["automated"];
    automated.is_object() && automated["enabled"] != false
}

/// What the application controller does when the source of an application with automated sync
/// on changed: it finds the app OutOfSync and syncs it to its target revision, initiated by
/// `automated`. Nothing happens while an operation runs or with automated sync off.
pub(crate) fn auto_sync(record: &mut AppRecord) {
    if running(record) || !automated_enabled(&record.app) {
        return;
    }
    let source = record.app["spec"]["source"].clone();
    let wanted = source["targetRevision"]
        .as_str()
        .unwrap_or("HEAD")
        .to_owned();
    let revision = resolve(record, &wanted);
    let prune = record.app["spec"]["syncPolicy"]["automated"]["prune"]
        .as_bool()
        .unwrap_or(false);
    let mut sync = json!({"revision": revision, "prune": prune});
    if !source.is_null() {
        sync["source"] = source;
    }
    start(
        record,
        json!({"sync": sync, "initiatedBy": {"automated": true}}),
        revision,
    );
}

/// Whether an operation is running.
pub(crate) fn running(record: &AppRecord) -> bool {
    record.app["status"]["operationState"]["phase"] == "Running"
}

/// A revision as the repo server resolves it: a commit SHA stays, a branch or tag becomes a
/// SHA, a Helm chart version stays.
fn resolve(record: &AppRecord, wanted: &str) -> String {
    let is_sha = wanted.len() == 40 && wanted.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha || record.app["spec"]["source"]["chart"].is_string() {
        wanted.to_owned()
    } else {
        fake_sha(&format!("{}@{wanted}", record.name()))
    }
}

fn start(record: &mut AppRecord, operation: Value, revision: String) {
    let reads = record.degrade_next_for.take();
    let degrade = record
        .degrade_next
        .take()
        .or_else(|| broken_image(record, &operation["sync"]["source"]));
    let outcome = match (record.fail_next.take(), degrade, reads) {
        (Some(message), _, _) => Outcome::Failed(message),
        (None, Some(cause), Some(reads)) => Outcome::Transient(cause, reads),
        (None, Some(cause), None) => Outcome::Degraded(cause),
        (None, None, _) => Outcome::Healthy,
    };
    record.app["operation"] = operation.clone();
    record.app["status"]["operationState"] = json!({
        "operation": operation, "phase": "Running", "message": "one or more tasks are running",
        "startedAt": RECONCILED_AT,
    });
    record.app["status"]["health"] = json!({"status": "Progressing", "lastTransitionTime": RECONCILED_AT,
                                            "message": "Waiting for rollout to finish"});
    record.progression = Some(Progression {
        reads: 0,
        revision,
        outcome,
    });
}

/// The cause of the first broken image (see [`super::ArgoCd::with_broken_image`]) among the
/// Kustomize images `source` deploys.
fn broken_image(record: &AppRecord, source: &Value) -> Option<Cause> {
    let images = source["kustomize"]["images"].as_array()?;
    record.broken_images.iter().find_map(|(broken, cause)| {
        images
            .iter()
            .filter_map(Value::as_str)
            .any(|image| image.rsplit('=').next() == Some(broken.as_str()))
            .then_some(*cause)
    })
}

/// Advances a running operation by one read of the application.
pub(crate) fn advance(record: &mut AppRecord) {
    let Some(mut progression) = record.progression.take() else {
        return;
    };
    progression.reads += 1;
    match progression.reads {
        0 | 1 => {}
        2 => finish(record, &progression),
        _ => match progression.outcome {
            // Degraded for a few reads, then it recovers.
            Outcome::Transient(cause, left) if left > 0 => {
                settle(record, &Outcome::Degraded(cause));
                progression.outcome = Outcome::Transient(cause, left - 1);
            }
            Outcome::Transient(..) => {
                settle(record, &Outcome::Healthy);
                return;
            }
            _ => {
                settle(record, &progression.outcome);
                return;
            }
        },
    }
    record.progression = Some(progression);
}

fn finish(record: &mut AppRecord, progression: &Progression) {
    let operation = record.app["operation"].take();
    remove(&mut record.app, "operation");
    let failure = match &progression.outcome {
        Outcome::Failed(message) => Some(message.as_str()),
        _ => None,
    };
    let resources = applied(record);
    let images: Vec<String> = record.app["status"]["summary"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| image.as_str().map(str::to_owned))
        .collect();
    let mut result = json!({"revision": progression.revision,
                            "resources": history::results(&resources, &images, failure)});
    if operation["sync"]["source"].is_object() {
        result["source"] = operation["sync"]["source"].clone();
    }
    let state = &mut record.app["status"]["operationState"];
    state["finishedAt"] = json!(RECONCILED_AT);
    state["syncResult"] = result;
    if let Some(message) = failure {
        state["phase"] = json!("Failed");
        state["message"] = json!(message);
        return;
    }
    state["phase"] = json!("Succeeded");
    state["message"] = json!("successfully synced (all tasks run)");
    mark_synced(&mut record.app);
    let source = operation["sync"]["source"].clone();
    record.app["status"]["sync"]["status"] = json!("Synced");
    record.app["status"]["sync"]["revision"] = json!(progression.revision);
    let history = &mut record.app["status"]["history"];
    if !history.is_array() {
        *history = json!([]);
    }
    let entries = history.as_array_mut().expect("made an array above");
    let id = entries
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .max()
        .unwrap_or(0)
        + 1;
    let initiated_by = match &operation["initiatedBy"] {
        by if by.is_object() => by.clone(),
        _ => json!({"username": INITIATOR}),
    };
    let mut entry = json!({"id": id, "revision": progression.revision, "deployedAt": RECONCILED_AT,
                           "deployStartedAt": RECONCILED_AT, "initiatedBy": initiated_by});
    if !source.is_null() {
        entry["source"] = source;
    }
    entries.push(entry);
    // Argo CD keeps the newest `spec.revisionHistoryLimit` deployments (10 by default).
    let limit = record.app["spec"]["revisionHistoryLimit"]
        .as_u64()
        .unwrap_or(DEFAULT_HISTORY_LIMIT) as usize;
    let entries = record.app["status"]["history"]
        .as_array_mut()
        .expect("made an array above");
    let excess = entries.len().saturating_sub(limit);
    entries.drain(..excess);
}

fn settle(record: &mut AppRecord, outcome: &Outcome) {
    let health = match outcome {
        Outcome::Healthy | Outcome::Failed(_) => json!({"status": "Healthy"}),
        Outcome::Degraded(cause) | Outcome::Transient(cause, _) => {
            record.cause = *cause;
            json!({"status": "Degraded", "message": degraded_message(*cause)})
        }
    };
    let status = health["status"].clone();
    record.app["status"]["health"] = health;
    record.app["status"]["health"]["lastTransitionTime"] = json!(RECONCILED_AT);
    for entry in resources_mut(&mut record.app) {
        if entry["kind"] == "Deployment" {
            entry["health"] = json!({"status": status});
        }
    }
}

/// The objects a sync applies: those the application declares, or a plain application's
/// Deployment when it declares none yet.
fn applied(record: &AppRecord) -> Vec<Value> {
    let declared = managed::entries(&record.app);
    if !declared.is_empty() {
        return declared.to_vec();
    }
    let namespace = record.app["spec"]["destination"]["namespace"]
        .as_str()
        .unwrap_or_default();
    vec![managed::status_entry(
        Resource::Deployment,
        record.name(),
        namespace,
        "Synced",
        "Healthy",
    )]
}

/// After a successful sync, every declared object is in sync.
fn mark_synced(app: &mut Value) {
    for entry in resources_mut(app) {
        entry["status"] = json!("Synced");
    }
}

fn resources_mut(app: &mut Value) -> impl Iterator<Item = &mut Value> {
    app["status"]["resources"]
        .as_array_mut()
        .into_iter()
        .flatten()
}

fn degraded_message(cause: Cause) -> &'static str {
    match cause {
        Cause::Quota => "Deployment has exceeded its progress deadline (0 of 2 replicas created)",
        _ => "Deployment has exceeded its progress deadline",
    }
}

fn remove(app: &mut Value, key: &str) {
    if let Some(map) = app.as_object_mut() {
        map.remove(key);
    }
}
