//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the log lines attached to a pod fixture
//! (see [`super::Cluster::with_logs`]), filtered by `container`, `previous`, `sinceSeconds`,
//! `sinceTime`, `tailLines` and `limitBytes`, optionally prefixed by their timestamps, answered
//! as plain text. Like the real server, a pod with several containers needs `container`.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::status::Status;
use super::store::{Refusal, Store};
use super::types::ResourceType;

/// (namespace, pod, container, previous instance).
pub(crate) type LogKey = (String, String, String, bool);

/// One log line and when it was written (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogLine {
    pub(crate) time: String,
    pub(crate) text: String,
}

impl Store {
    /// Attaches log lines `(RFC 3339 time, text)` to a container of a pod (of its previous
    /// instance when `previous`).
    pub fn add_logs(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
        lines: &[(&str, &str)],
    ) {
        let key = (
            namespace.to_owned(),
            pod.to_owned(),
            container.to_owned(),
            previous,
        );
        self.logs
            .entry(key)
            .or_default()
            .extend(lines.iter().map(|(time, text)| LogLine {
                time: (*time).to_owned(),
                text: (*text).to_owned(),
            }));
    }
}

/// The log text of `namespace/pod` for this request's query.
pub(crate) fn render(
    store: &Store,
    pods: &ResourceType,
    namespace: &str,
    name: &str,
    query: &[(String, String)],
) -> Result<String, Refusal> {
    let pod = store
        .get(pods, namespace, name)
        .ok_or_else(|| Refusal::Answer(Status::not_found(pods, name)))?;
    let param = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let container = container(pod, name, param("container"))?;
    let previous = param("previous").is_some_and(|value| value == "true");
    let key = (
        namespace.to_owned(),
        name.to_owned(),
        container.clone(),
        previous,
    );
    let lines = match store.logs.get(&key) {
        Some(lines) => lines.as_slice(),
        None if previous => {
            return Err(bad(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        None => &[],
    };
    let since = since(param("sinceSeconds"), param("sinceTime"))?;
    let mut kept: Vec<&LogLine> = lines
        .iter()
        .filter(|line| {
            since.is_none_or(|since| parse_time(&line.time).is_some_and(|time| time >= since))
        })
        .collect();
    if let Some(tail) = param("tailLines") {
        let tail: usize = tail
            .parse()
            .map_err(|_| bad(format!("invalid tailLines `{tail}`")))?;
        kept = kept.split_off(kept.len().saturating_sub(tail));
    }
    let timestamps = param("timestamps").is_some_and(|value| value == "true");
    let mut text: String = kept
        .iter()
        .map(|line| match timestamps {
            true => format!("{} {}\n", line.time, line.text),
            false => format!("{}\n", line.text),
        })
        .collect();
    if let Some(limit) = param("limitBytes") {
        let limit: usize = limit
            .parse()
            .ok()
            .filter(|limit| *limit > 0)
            .ok_or_else(|| {
                Refusal::Answer(Status::unprocessable(format!(
                    "limitBytes: Invalid value: {limit}: must be greater than 0"
                )))
            })?;
        if text.len() > limit {
            let cut = (0..=limit)
                .rev()
                .find(|cut| text.is_char_boundary(*cut))
                .unwrap_or(0);
            text.truncate(cut);
        }
    }
    Ok(text)
}

fn container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, Refusal> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|container| container["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    match asked {
        Some(asked) if containers.iter().chain(&init).any(|c| c == asked) => Ok(asked.to_owned()),
        Some(asked) => Err(bad(format!(
            "container {asked} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(bad(message))
        }
    }
}

fn since(seconds: Option<&str>, time: Option<&str>) -> Result<Option<SystemTime>, Refusal> {
    match (seconds, time) {
        (Some(_), Some(_)) => Err(Refusal::Answer(Status::unprocessable(
            "sinceSeconds: Invalid value: at most one of `sinceTime` or `sinceSeconds` may be specified",
        ))),
        (Some(seconds), None) => {
            let seconds: u64 = seconds
                .parse()
                .ok()
                .filter(|seconds| *seconds > 0)
                .ok_or_else(|| bad(format!("invalid sinceSeconds `{seconds}`")))?;
            Ok(SystemTime::now().checked_sub(Duration::from_secs(seconds)))
        }
        (None, Some(time)) => parse_time(time)
            .map(Some)
            .ok_or_else(|| bad(format!("invalid sinceTime `{time}`: not RFC 3339"))),
        (None, None) => Ok(None),
    }
}

fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text).ok()
}

fn bad(message: String) -> Refusal {
    Refusal::Answer(Status::bad_request(message))
}
