//! Pod logs, streamed the way Argo CD's grpc-gateway does: newline-delimited
//! `{"result": applicationLogEntry}` lines ending with a `last` entry, or an
//! `{"error": runtimeStreamError}` line (with the HTTP status of the error when nothing was
//! sent before it). Supports `podName`, the `kind`/`group`/`resourceName` of a parent,
//! `container`, `sinceSeconds`, `tailLines`, `filter` (a `!` prefix negates), `matchCase` and
//! `previous`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::app::Cause;
use super::live::{Object, Workload, objects};
use super::store::{AppRecord, Query, code};

/// The log lines of one pod: (seconds before now, text).
type Lines = Vec<(u32, String)>;

/// A stream answer: the HTTP status and the newline-delimited body.
pub(crate) struct LogStream {
    pub status: StatusCode,
    pub body: String,
}

/// The logs `query` asks for; `pod_name` comes from the path of the PodLogs operation.
/// `break_stream` sends a few lines, then an error (a connection lost mid-stream).
pub(crate) fn stream(
    record: &AppRecord,
    pod_name: Option<&str>,
    query: &Query<'_>,
    break_stream: bool,
) -> LogStream {
    let all = objects(record);
    let pods: Vec<&Object> = all
        .iter()
        .filter(|object| object.kind == "Pod")
        .filter(|pod| selected(pod, &all, pod_name.or(query.first("podName")), query))
        .collect();
    if let Some(name) = pod_name.or(query.first("podName"))
        && pods.is_empty()
    {
        return failure(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            &format!("pods \"{name}\" not found"),
        );
    }
    let mut body = String::new();
    for pod in &pods {
        let job = pod.owner_kind(&all) == Some("Job");
        let lines = match pod_lines(record, pod, job, query) {
            Ok(lines) => lines,
            Err((status, grpc, message)) if body.is_empty() => {
                return failure(status, grpc, &message);
            }
            Err((status, grpc, message)) => {
                body.push_str(&error_line(status, grpc, &message));
                return LogStream {
                    status: StatusCode::OK,
                    body,
                };
            }
        };
        for (ago, content) in lines {
            let entry = json!({"content": content, "podName": pod.name, "timeStamp": timestamp(ago),
                               "timeStampStr": timestamp(ago), "last": false});
            body.push_str(&format!("{}\n", json!({"result": entry})));
            if break_stream && body.lines().count() >= 3 {
                body.push_str(&error_line(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code::UNAVAILABLE,
                    "error reading the log stream: http2: client connection lost",
                ));
                return LogStream {
                    status: StatusCode::OK,
                    body,
                };
            }
        }
    }
    let last = json!({"result": {"content": "", "podName": "", "timeStamp": timestamp(0), "timeStampStr": timestamp(0), "last": true}});
    body.push_str(&format!("{last}\n"));
    LogStream {
        status: StatusCode::OK,
        body,
    }
}

fn selected(pod: &Object, all: &[Object], pod_name: Option<&str>, query: &Query<'_>) -> bool {
    if let Some(name) = pod_name {
        return pod.name == name;
    }
    if let Some(namespace) = query.first("namespace").filter(|ns| !ns.is_empty())
        && pod.namespace != namespace
    {
        return false;
    }
    let Some(resource) = query.first("resourceName").filter(|name| !name.is_empty()) else {
        return true;
    };
    let kind = query.first("kind").unwrap_or("Pod");
    // The pod itself, or a pod under the named owner (ReplicaSet or Deployment).
    let mut current = Some(pod);
    while let Some(object) = current {
        if object.name == resource && object.kind == kind {
            return true;
        }
        current = object.parent.map(|index| &all[index]);
    }
    false
}

type LogError = (StatusCode, u16, String);

fn pod_lines(
    record: &AppRecord,
    pod: &Object,
    job: bool,
    query: &Query<'_>,
) -> Result<Lines, LogError> {
    let container = query
        .first("container")
        .filter(|c| !c.is_empty())
        .unwrap_or("app");
    if container != "app" {
        return Err((
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
            format!("container {container} is not valid for pod {}", pod.name),
        ));
    }
    let workload = Workload::of(record);
    let previous = query.flag("previous").unwrap_or(false);
    let restarted = matches!(
        pod.status.as_deref(),
        Some("CrashLoopBackOff" | "OOMKilled")
    );
    if previous && !restarted {
        return Err((
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
            format!(
                "previous terminated container \"app\" in pod \"{}\" not found",
                pod.name
            ),
        ));
    }
    if matches!(
        pod.status.as_deref(),
        Some("ImagePullBackOff" | "ContainerCreating" | "Pending")
    ) {
        return Err((
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
            format!(
                "container \"app\" in pod \"{}\" is waiting to start: {}",
                pod.name,
                pod.status.as_deref().unwrap_or_default()
            ),
        ));
    }
    let mut lines = if job {
        job_script()
    } else {
        script(record, workload, previous)
    };
    if let Some(since) = query.number("sinceSeconds") {
        lines.retain(|(ago, _)| i64::from(*ago) <= since);
    }
    if let Some(filter) = query.first("filter").filter(|f| !f.is_empty()) {
        let match_case = query.flag("matchCase").unwrap_or(false);
        let (negate, needle) = match filter.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, filter),
        };
        lines.retain(|(_, text)| {
            let found = if match_case {
                text.contains(needle)
            } else {
                text.to_lowercase().contains(&needle.to_lowercase())
            };
            found != negate
        });
    }
    if let Some(tail) = query.number("tailLines").filter(|tail| *tail >= 0) {
        let tail = usize::try_from(tail).unwrap_or(usize::MAX);
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    Ok(lines)
}

/// What the container printed, oldest first, one line every 30 seconds up to now.
fn script(record: &AppRecord, workload: Workload, previous: bool) -> Lines {
    let name = record.name();
    let mut texts: Vec<String> = vec![
        format!(
            "{{\"level\":\"info\",\"msg\":\"starting {name}\",\"version\":\"{}\",\"attempt\":{}}}",
            super::live::revision(&record.app).get(..7).unwrap_or("dev"),
            if previous { 7 } else { 8 }
        ),
        "{\"level\":\"info\",\"msg\":\"listening on :8080\"}".to_owned(),
    ];
    let failure: Vec<String> = match workload {
        Workload::Failing(Cause::CrashLoop) => vec![
            "{\"level\":\"error\",\"msg\":\"failed to load configuration\",\"error\":\"missing required setting PAYMENT_PROVIDER_URL\"}".into(),
            "panic: invalid configuration: missing required setting PAYMENT_PROVIDER_URL".into(),
        ],
        Workload::Failing(Cause::OomKilled) => vec![
            "{\"level\":\"warn\",\"msg\":\"heap usage above 90%\",\"heapMiB\":241}".into(),
            "fatal error: runtime: out of memory".into(),
        ],
        Workload::Failing(Cause::WrongEnvironment) => vec![
            "{\"level\":\"info\",\"msg\":\"connecting to database\",\"host\":\"postgres.staging.svc.cluster.local\",\"env\":\"staging\"}".into(),
            "{\"level\":\"error\",\"msg\":\"database connection failed\",\"error\":\"dial tcp: lookup postgres.staging.svc.cluster.local: no such host\"}".into(),
        ],
        Workload::Failing(Cause::ProbeFailed) => vec![
            "{\"level\":\"warn\",\"msg\":\"readiness check failed\",\"dependency\":\"redis\",\"error\":\"dial tcp 10.96.14.2:6379: i/o timeout\"}".into(),
            "{\"level\":\"info\",\"msg\":\"GET /ready 503\"}".into(),
        ],
        _ => (0..8)
            .map(|i| format!("{{\"level\":\"info\",\"msg\":\"GET /api/orders/{} 200\",\"durationMs\":{}}}", 4100 + i, 11 + i % 7))
            .collect(),
    };
    texts.extend(failure);
    let count = texts.len() as u32;
    texts
        .into_iter()
        .enumerate()
        .map(|(index, text)| ((count - 1 - index as u32) * 30, text))
        .collect()
}

/// What a CronJob's cleanup run printed.
fn job_script() -> Lines {
    [
        "{\"level\":\"info\",\"msg\":\"cleanup started\"}",
        "{\"level\":\"info\",\"msg\":\"removed expired sessions\",\"count\":214}",
        "{\"level\":\"info\",\"msg\":\"cleanup finished\",\"durationMs\":812}",
    ]
    .into_iter()
    .enumerate()
    .map(|(index, text)| ((2 - index as u32) * 30, text.to_owned()))
    .collect()
}

/// `2026-08-20T11:42:31Z` minus `ago` seconds (the fake's clock; `ago` < 11 hours).
fn timestamp(ago: u32) -> String {
    let now = 11 * 3600 + 42 * 60 + 31;
    let at = now - ago.min(now);
    format!(
        "2026-08-20T{:02}:{:02}:{:02}Z",
        at / 3600,
        at / 60 % 60,
        at % 60
    )
}

fn stream_error(status: StatusCode, grpc: u16, message: &str) -> Value {
    json!({"error": {"grpc_code": grpc, "http_code": status.as_u16(), "message": message,
                     "http_status": status.canonical_reason().unwrap_or_default()}})
}

fn error_line(status: StatusCode, grpc: u16, message: &str) -> String {
    format!("{}\n", stream_error(status, grpc, message))
}

fn failure(status: StatusCode, grpc: u16, message: &str) -> LogStream {
    LogStream {
        status,
        body: error_line(status, grpc, message),
    }
}
