//! `fleet_applications`: one question to many Argo CD targets at once — where an application
//! runs, what is Degraded or OutOfSync everywhere, what a team (a project, a label selector, a
//! name) runs across the fleet. One `GET /api/v1/applications` per target, filtered by Argo CD
//! (`projects`, `selector`, `name`), `concurrency` in flight at a time (`fanout`); each answer
//! streams in and is read one application at a time into counts, keeping only the rows that
//! can still make the page (`offset + limit` of them, however large the fleet). A target that
//! fails is named with why
//! (timed out, unreachable, token refused, another status) while the others still answer; only
//! when none answers is the call an error.

use std::collections::BinaryHeap;
use std::time::Duration;

use capstan_sdk::http::{BodyError, HttpError, Response, StreamedResponse};
use capstan_sdk::{Context, Map, Tool, ToolError, ToolResult, Value, args, json};

use crate::applications::Counts;
use crate::client::{ERROR_BODY, Query, status_and_message, timed_out, too_large};
use crate::fanout;
use crate::lenient::Text;
use crate::listing::{self, Lite};
use crate::params::{Paging, merge};
use crate::schema::{NAME_PATTERN, object, page_output, paging, props};
use crate::summary::{self, text};

/// Rows returned when the call does not say.
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;
/// The most targets a call may have in flight.
const MAX_CONCURRENCY: u64 = 64;
/// Seconds one target may take to answer unless the call says otherwise.
const DEFAULT_TARGET_TIMEOUT: f64 = 10.0;

/// The `[config]` key that sets the default concurrency of an instance.
const CONCURRENCY_SETTING: &str = "fleet_concurrency";
const HEALTH: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];
const SYNC: [&str; 3] = ["Synced", "OutOfSync", "Unknown"];
const APPS: &str = "/api/v1/applications";

pub(crate) fn tool() -> Tool {
    let mut paging = paging(DEFAULT_LIMIT, MAX_LIMIT);
    if let Some(paging) = paging.as_object_mut() {
        paging.remove("detail");
    }
    Tool::new(
        "fleet_applications",
        "Asks every Argo CD target of this instance (or the `targets` named) at once and answers \
         for the whole fleet: where an application runs (`applicationName` exact, `name` part of \
         the name), what is Degraded or OutOfSync everywhere (`health`, `sync`), what a team runs \
         (`projects`, `selector` e.g. `team=payments`). Answers totals, counts by health and \
         sync per target, and one page of lean rows (target, name, project, sync, health, \
         revision, destination), Degraded and OutOfSync first (`limit`, default 50; `offset`; \
         `nextOffset`). Targets that fail (down, too slow, token refused, other errors) are \
         listed under `failed` with why, and the others still answer. Use list_applications or \
         get_application with a row's `target` to look closer.",
    )
    .title("Applications across Argo CD targets")
    .input(object(
        props(&[
            json!({
                "targets": {"type": "array", "minItems": 1, "maxItems": 500,
                            "items": {"type": "string", "minLength": 1, "maxLength": 64},
                            "description": "The targets to ask (default: every target of this instance)."},
                "name": {"type": "string", "minLength": 1, "maxLength": 253,
                         "description": "Keep applications whose name contains this text (case-insensitive)."},
                "applicationName": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 253,
                                    "description": "Only the application with exactly this name (Argo CD filters; the quickest way to find where it runs)."},
                "projects": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 253}, "maxItems": 50,
                             "description": "Only applications in these Argo CD projects."},
                "selector": {"type": "string", "maxLength": 1024,
                             "description": "Kubernetes label selector on the Application objects, e.g. `team=payments,env in (prod,staging)`."},
                "health": {"type": "array", "items": {"type": "string", "enum": HEALTH}, "maxItems": 6,
                           "description": "Only applications with one of these health statuses."},
                "sync": {"type": "array", "items": {"type": "string", "enum": SYNC}, "maxItems": 3,
                         "description": "Only applications with one of these sync statuses."},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY,
                                "description": format!("Targets asked at once (default: the instance's `{CONCURRENCY_SETTING}`, else {}).", fanout::WIDTH)},
                "targetTimeoutSeconds": {"type": "number", "minimum": 0.1, "maximum": 120,
                                         "description": format!("Give up on a target that has not answered within this many seconds and list it under `failed` (default {DEFAULT_TARGET_TIMEOUT}; a target's own `timeout` in the manifest also applies).")},
            }),
            paging,
        ]),
        &[],
    ))
    .output(object(
        props(&[
            json!({
                "targets": {"type": "object", "description": "Targets asked, answered and failed.",
                            "properties": {"asked": {"type": "integer"}, "answered": {"type": "integer"}, "failed": {"type": "integer"}}},
                "listed": {"type": "integer", "description": "Applications the answering targets listed (after the projects, selector and applicationName filters)."},
                "counts": {"type": "object", "description": "Every matching application (not just this page) counted by `health` and by `sync`.",
                           "properties": {"health": {"type": "object"}, "sync": {"type": "object"}}},
                "byTarget": {"type": "array", "description": "Each answering target: applications listed, matching, and the matching ones by health and sync.",
                             "items": {"type": "object", "properties": {
                                 "target": {"type": "string"}, "listed": {"type": "integer"}, "matched": {"type": "integer"},
                                 "health": {"type": "object"}, "sync": {"type": "object"}},
                                 "required": ["target", "listed", "matched"]}},
                "failed": {"type": "array", "description": "Targets that did not answer, and why.",
                           "items": {"type": "object", "properties": {
                               "target": {"type": "string"},
                               "reason": {"type": "string", "enum": ["timeout", "unreachable", "credentials", "refused", "status", "invalid", "too_large"]},
                               "status": {"type": "integer"}, "message": {"type": "string"}},
                               "required": ["target", "reason", "message"]}},
                "applications": {"type": "array", "items": row_schema(),
                                 "description": "Matching applications, Degraded and OutOfSync first, then by target and name."},
                "hint": {"type": "string"},
            }),
            page_output(),
        ]),
        &[
            "targets",
            "listed",
            "byTarget",
            "failed",
            "applications",
            "total",
            "offset",
            "returned",
            "hasMore",
        ],
    ))
    .read_only()
}

fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "target": {"type": "string", "description": "The Argo CD target that holds it (pass as `target`)."},
            "name": string, "project": string,
            "namespace": {"type": "string", "description": "The Application's namespace, only when it is not Argo CD's own (pass it as applicationNamespace)."},
            "sync": string, "health": string,
            "revision": {"type": "string", "description": "The revision last compared (a commit shortened to 7 characters)."},
            "destination": {"type": "string", "description": "`namespace@cluster`."},
        },
        "required": ["target", "name", "project", "sync", "health"],
    })
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let targets = targets(ctx, arguments)?;
    let width = concurrency(ctx, arguments)?;
    let paging = Paging::from(arguments, DEFAULT_LIMIT);
    let filter = Filter::from(arguments);
    let exact = args::str(arguments, "applicationName").filter(|name| !name.is_empty());
    let mut query = Query::default();
    for project in arguments["projects"].as_array().into_iter().flatten() {
        query.push_opt("projects", project.as_str());
    }
    query.push_opt("selector", args::str(arguments, "selector"));
    query.push_opt("name", exact);

    let mut counts = Counts::default();
    let timeout = arguments["targetTimeoutSeconds"]
        .as_f64()
        .unwrap_or(DEFAULT_TARGET_TIMEOUT);
    let fan = (width, Some(Duration::from_secs_f64(timeout)));
    let mut best = Best::new(paging.offset.saturating_add(paging.limit));
    let heard = fanout::get_each_streamed(ctx, &targets, fan, APPS, &query, |target, answer| {
        // Answers arrive in any order; rows sort by the target's place in the call.
        let index = targets.iter().position(|t| t == target).unwrap_or(0);
        let mut seen = Seen {
            target,
            index,
            filter: &filter,
            all: &mut counts,
            best: &mut best,
        };
        seen.read(answer, exact.is_some())
    })?;

    let mut by_target = Vec::new();
    let mut failed = Vec::new();
    let mut listed = 0;
    for (target, heard) in targets.iter().zip(heard) {
        match heard {
            Ok(listing) => {
                listed += listing.listed;
                by_target.push(listing.into_json(target));
            }
            Err(failure) => failed.push(failure.into_json(target)),
        }
    }
    if by_target.is_empty() {
        return Err(none_answered(&failed));
    }
    let total = best.matched;
    let page: Vec<Value> = best
        .into_sorted()
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    let fields = paging.fields(total, page.len());
    let mut answer = json!({
        "targets": {"asked": targets.len(), "answered": by_target.len(), "failed": failed.len()},
        "listed": listed,
        "byTarget": by_target,
        "failed": failed,
        "applications": page,
    });
    merge(&mut answer, fields);
    if total > 0 {
        answer["counts"] = counts.into_json();
    }
    if let Some(hint) = hint(&answer) {
        answer["hint"] = json!(hint);
    }
    Ok(ToolResult::structured(answer))
}

/// The targets to ask, in the order given (duplicates dropped), else all of the instance's.
fn targets(ctx: &Context, arguments: &Value) -> Result<Vec<String>, ToolError> {
    let config = ctx.config();
    let all = config.targets();
    if all.is_empty() {
        return Err(ToolError::new(
            "this instance has no targets; add a [[targets]] entry to its manifest",
        ));
    }
    let Some(named) = arguments["targets"].as_array() else {
        return Ok(all);
    };
    let mut chosen: Vec<String> = Vec::with_capacity(named.len());
    for name in named.iter().filter_map(Value::as_str) {
        if !all.iter().any(|target| target == name) {
            return Err(ToolError::new(format!(
                "no target named `{name}`; this instance has: {}",
                all.join(", ")
            )));
        }
        if !chosen.iter().any(|target| target == name) {
            chosen.push(name.to_owned());
        }
    }
    Ok(chosen)
}

/// `concurrency`, else the manifest's `fleet_concurrency`, else [`fanout::WIDTH`].
fn concurrency(ctx: &Context, arguments: &Value) -> Result<usize, ToolError> {
    let wanted = match arguments["concurrency"].as_u64() {
        Some(wanted) => wanted,
        None => match ctx.config().get(CONCURRENCY_SETTING) {
            None => fanout::WIDTH as u64,
            Some(setting) => setting
                .trim()
                .parse()
                .ok()
                .filter(|value| (1..=MAX_CONCURRENCY).contains(value))
                .ok_or_else(|| {
                    ToolError::new(format!(
                        "the manifest's [config] {CONCURRENCY_SETTING} = `{setting}` is not a number from 1 to {MAX_CONCURRENCY}; fix it, or pass `concurrency`"
                    ))
                })?,
        },
    };
    Ok(usize::try_from(wanted.clamp(1, MAX_CONCURRENCY)).unwrap_or(fanout::WIDTH))
}

/// The filters applied here, after Argo CD's: part of the name, health and sync statuses.
struct Filter {
    name: String,
    health: Vec<String>,
    sync: Vec<String>,
}

impl Filter {
    fn from(arguments: &Value) -> Self {
        let strings = |key: &str| -> Vec<String> {
            arguments[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        Self {
            name: args::str(arguments, "name")
                .unwrap_or_default()
                .to_lowercase(),
            health: strings("health"),
            sync: strings("sync"),
        }
    }

    fn keeps(&self, app: &Lite<'_>) -> bool {
        let status = &app.status;
        let among = |wanted: &[String], value: &Text<'_>| {
            wanted.is_empty() || wanted.iter().any(|w| w == value.or("Unknown"))
        };
        app.metadata
            .name
            .as_str()
            .to_lowercase()
            .contains(&self.name)
            && among(&self.health, &status.health.status)
            && among(&self.sync, &status.sync.status)
    }
}

/// What one target listed: how many, and how many match, by health and sync.
struct Listing {
    listed: usize,
    matched: usize,
    counts: Counts,
}

impl Listing {
    fn empty() -> Self {
        Self {
            listed: 0,
            matched: 0,
            counts: Counts::default(),
        }
    }

    /// The target's entry in `byTarget`.
    fn into_json(self, target: &str) -> Value {
        let mut entry = json!({"target": target, "listed": self.listed, "matched": self.matched});
        if self.matched > 0 {
            merge(&mut entry, self.counts.into_json());
        }
        entry
    }
}

/// The matching rows that can still make the page: the first `keep` in the answer's order
/// (most in need of attention first, then by target and name, then as listed); the others are
/// only counted. A fleet of tens of thousands of applications holds `offset + limit` rows.
struct Best {
    keep: usize,
    heap: BinaryHeap<Ranked>,
    matched: usize,
}

/// A row and where it sorts: attention, target (by its place in the call), name, and the order
/// it was read in.
struct Ranked {
    key: (u8, usize, String, usize),
    row: Value,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Best {
    fn new(keep: usize) -> Self {
        Self {
            keep,
            heap: BinaryHeap::new(),
            matched: 0,
        }
    }

    /// Counts `row` of target number `target`, and keeps it while it can make the page.
    fn add(&mut self, target: usize, row: Value) {
        let ranked = Ranked {
            key: (
                attention(&row),
                target,
                text(&row["name"]).to_owned(),
                self.matched,
            ),
            row,
        };
        self.matched += 1;
        if self.heap.len() < self.keep {
            self.heap.push(ranked);
        } else if self.heap.peek().is_some_and(|last| ranked < *last) {
            self.heap.pop();
            self.heap.push(ranked);
        }
    }

    /// The rows kept, in the answer's order.
    fn into_sorted(self) -> Vec<Value> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|ranked| ranked.row)
            .collect()
    }
}

/// Where one target's answer goes: its own listing, and the fleet's counts and rows.
struct Seen<'a> {
    target: &'a str,
    index: usize,
    filter: &'a Filter,
    all: &'a mut Counts,
    best: &'a mut Best,
}

/// Why a target gave no list.
struct Failure {
    reason: &'static str,
    status: Option<u16>,
    message: String,
}

impl Failure {
    fn into_json(self, target: &str) -> Value {
        let mut entry = json!({"target": target, "reason": self.reason, "message": self.message});
        if let Some(status) = self.status {
            entry["status"] = json!(status);
        }
        entry
    }
}

impl Seen<'_> {
    /// Reads the target's answer as it streams in, one application at a time, into its listing
    /// (counting its matches into the fleet's counts and offering their rows to the page), or
    /// says why there is none. With `exact`, Argo CD's 404 means the application is not there.
    fn read(
        &mut self,
        answer: Result<StreamedResponse, HttpError>,
        exact: bool,
    ) -> Result<Listing, Failure> {
        let target = self.target;
        let response = answer.map_err(|error| unanswered(target, &error))?;
        if exact && response.status == 404 {
            return Ok(Listing::empty());
        }
        if !response.is_success() {
            let response = response
                .buffer(ERROR_BODY)
                .map_err(|error| unanswered(target, &error))?;
            return Err(not_listed(target, &response));
        }
        let status = response.status;
        let mut listing = Listing::empty();
        listing::read(response, |app| {
            listing.listed += 1;
            if self.filter.keeps(app) {
                listing.matched += 1;
                listing.counts.add(app);
                self.all.add(app);
                self.best.add(self.index, row(target, app));
            }
        })
        .map_err(|error| match error {
            BodyError::Transport(error) => unanswered(target, &error),
            BodyError::Json { error, start } => Failure {
                reason: "invalid",
                status: Some(status),
                message: format!(
                    "answered with a body that is not an Application list ({error}): \"{start}\"; \
                     check that the target's URL (and path prefix) points at the Argo CD API server"
                ),
            },
        })?;
        Ok(listing)
    }
}

/// Why a request to `target` brought no answer.
fn unanswered(target: &str, error: &HttpError) -> Failure {
    let detail = match error {
        HttpError::Transport { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let (reason, message) = if too_large(error) {
        (
            "too_large",
            format!(
                "its answer was too large ({detail}); ask it alone with list_applications and \
                 narrow with projects or selector, or raise target `{target}`'s `max_streamed` \
                 in the capstan manifest"
            ),
        )
    } else if timed_out(error) {
        (
            "timeout",
            format!(
                "no answer in time ({detail}): it is slow or hanging; ask it alone with \
                 list_applications, pass a longer `targetTimeoutSeconds`, or raise target \
                 `{target}`'s `timeout` in the capstan manifest"
            ),
        )
    } else if matches!(error, HttpError::Denied { .. }) {
        ("refused", detail)
    } else {
        (
            "unreachable",
            format!(
                "could not be reached ({detail}): check that Argo CD is up and that target \
                 `{target}`'s URL, DNS and TLS are right"
            ),
        )
    };
    Failure {
        reason,
        status: None,
        message,
    }
}

/// A target's non-2xx answer.
fn not_listed(target: &str, response: &Response) -> Failure {
    let (status, message) = status_and_message(response);
    let (reason, message) = match response.status {
        401 | 403 => (
            "credentials",
            format!(
                "refused the token ({status}: {message}): check the `auth` of target `{target}` \
                 in the capstan manifest (an expired or revoked token, or one without Argo CD \
                 RBAC to list applications)"
            ),
        ),
        _ => ("status", format!("{status}: {message}")),
    };
    Failure {
        reason,
        status: Some(response.status),
        message,
    }
}

/// The error when no target answered: each target and why.
fn none_answered(failed: &[Value]) -> ToolError {
    let why: Vec<String> = failed
        .iter()
        .map(|entry| format!("{}: {}", text(&entry["target"]), text(&entry["message"])))
        .collect();
    ToolError::new(format!(
        "none of the {} targets asked answered. {}",
        failed.len(),
        why.join("; ")
    ))
}

/// A lean row: target, name, namespace (when not Argo CD's own), project, sync, health, the
/// revision (a commit shortened) and the destination.
fn row(target: &str, app: &Lite<'_>) -> Value {
    let lean = summary::lite_row(app);
    let mut row = Map::new();
    row.insert("target".into(), json!(target));
    for key in ["name", "namespace", "project", "sync", "health"] {
        if let Some(value) = lean.get(key) {
            row.insert(key.into(), value.clone());
        }
    }
    let revision = app.status.sync.revision.as_str();
    if !revision.is_empty() {
        row.insert("revision".into(), json!(short(revision)));
    }
    if let Some(destination) = lean.get("destination") {
        row.insert("destination".into(), destination.clone());
    }
    Value::Object(row)
}

/// A commit's first seven characters; anything else (a chart version) as it is.
fn short(revision: &str) -> &str {
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        &revision[..7]
    } else {
        revision
    }
}

/// How urgently a row needs a look: Degraded, then OutOfSync, then unknown or missing, then
/// on its way (Progressing, Suspended), then Healthy and Synced.
fn attention(row: &Value) -> u8 {
    match (text(&row["health"]), text(&row["sync"])) {
        ("Degraded", "OutOfSync") => 0,
        ("Degraded", _) => 1,
        (_, "OutOfSync") => 2,
        ("Missing" | "Unknown", _) | (_, "Unknown") => 3,
        ("Progressing" | "Suspended", _) => 4,
        _ => 5,
    }
}

/// What the agent should know next: targets that failed, and how to page.
fn hint(answer: &Value) -> Option<String> {
    let mut hints = Vec::new();
    let failed = answer["targets"]["failed"].as_u64().unwrap_or(0);
    if failed > 0 {
        hints.push(format!(
            "{failed} of {} targets did not answer (see `failed`); the counts and rows cover \
             the {} that did.",
            answer["targets"]["asked"], answer["targets"]["answered"]
        ));
    }
    if answer["hasMore"] == true {
        let next = answer["nextOffset"].as_u64().unwrap_or(0);
        hints.push(format!(
            "{} more applications match: call again with offset {next}, or narrow with \
             targets, projects, selector, health or sync.",
            answer["total"].as_u64().unwrap_or(0).saturating_sub(next)
        ));
    }
    (!hints.is_empty()).then(|| hints.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_needing_attention_come_first() {
        let row = |health: &str, sync: &str| json!({"health": health, "sync": sync});
        let ranks: Vec<u8> = [
            row("Degraded", "OutOfSync"),
            row("Degraded", "Synced"),
            row("Healthy", "OutOfSync"),
            row("Missing", "Synced"),
            row("Healthy", "Unknown"),
            row("Progressing", "Synced"),
            row("Healthy", "Synced"),
        ]
        .iter()
        .map(attention)
        .collect();
        assert_eq!(ranks, [0, 1, 2, 3, 3, 4, 5]);
        assert_eq!(short("0123456789abcdef0123456789abcdef01234567"), "0123456");
        assert_eq!(short("1.2.0"), "1.2.0");
    }
}
