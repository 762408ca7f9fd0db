//! `get_application_workload_logs`: container logs of an application's pods, by pod or by the
//! workload that owns them, with Argo CD's filters (`tailLines`, `sinceSeconds`, `filter`,
//! `previous`, …). The answer is read from Argo CD's newline-delimited stream; an error inside
//! the stream is reported (with the lines received before it), never swallowed.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::params::{AppRef, ResourceRef};
use crate::schema::{app_properties, object, props, resource_ref};
use crate::summary::text;

const DEFAULT_TAIL: u64 = 100;
const MAX_TAIL: u64 = 5000;
/// Characters of log text an answer carries at most; older lines are dropped first.
const MAX_TEXT: usize = 48 * 1024;

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_application_workload_logs",
        "Reads container logs of an Argo CD application's pods: of one pod (`podName`) or of every \
         pod under a workload (`resourceRef`, e.g. the Deployment), newest `tailLines` lines per \
         pod (default 100). Narrow with `sinceSeconds`, `filter` (text to match; prefix `!` to \
         exclude), and read the crashed previous container with `previous: true` (for crash loops \
         and OOM kills). Errors Argo CD reports in the stream are returned, not hidden.",
    )
    .title("Get an application's workload logs")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "resourceRef": resource_ref(),
                "podName": {"type": "string", "maxLength": 253, "description": "One pod, as the resource tree names it."},
                "container": {"type": "string", "maxLength": 253, "description": "The container (needed when a pod has several)."},
                "tailLines": {"type": "integer", "minimum": 1, "maximum": MAX_TAIL, "description": "Lines per pod from the end (default 100)."},
                "sinceSeconds": {"type": "integer", "minimum": 1, "description": "Only lines from the last this many seconds."},
                "filter": {"type": "string", "maxLength": 256, "description": "Only lines containing this text; `!text` for lines without it."},
                "matchCase": {"type": "boolean", "description": "Match `filter` case-sensitively (default false)."},
                "previous": {"type": "boolean", "description": "Logs of the previous (crashed) container instead of the running one."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({
            "target": {"type": "string"}, "application": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "object", "properties": {
                "pod": {"type": "string"}, "time": {"type": "string"}, "text": {"type": "string"}}}},
            "complete": {"type": "boolean", "description": "False when the stream broke off or lines were dropped."},
            "error": {"type": "string", "description": "The error Argo CD reported inside the stream."},
            "dropped": {"type": "integer", "description": "Older lines dropped to keep the answer small."},
        }),
        &["target", "application", "lines", "complete"],
    ))
    .read_only()
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    let path = match args::str(arguments, "podName").filter(|pod| !pod.is_empty()) {
        Some(pod) => app_ref.path(&format!("/pods/{}/logs", capstan_sdk::url::segment(pod)?)),
        None => {
            if !arguments["resourceRef"].is_null() {
                let reference = ResourceRef::from(&arguments["resourceRef"])?;
                query.push_opt("namespace", Some(&reference.namespace));
                query.push("resourceName", &reference.name);
                query.push("kind", &reference.kind);
                query.push_opt("group", Some(&reference.group));
            }
            app_ref.path("/logs")
        }
    };
    query.push_opt("container", args::str(arguments, "container"));
    query.push(
        "tailLines",
        &args::u64_or(arguments, "tailLines", DEFAULT_TAIL).to_string(),
    );
    if let Some(since) = arguments["sinceSeconds"].as_u64() {
        query.push("sinceSeconds", &since.to_string());
    }
    query.push_opt("filter", args::str(arguments, "filter"));
    for flag in ["matchCase", "previous"] {
        if let Some(value) = arguments[flag].as_bool() {
            query.push(flag, &value.to_string());
        }
    }
    query.push("follow", "false");
    let stream = app_ref
        .client
        .get_text(&path, &query, &app_ref.not_found())?;
    let parsed = parse(&stream);
    if parsed.lines.is_empty()
        && let Some(error) = &parsed.error
    {
        return Err(ToolError::new(format!(
            "Argo CD reported an error in the log stream of {}: {error}. Check podName and container \
             against get_application_resource_tree; `previous` only works after a restart.",
            app_ref.name
        )));
    }
    Ok(ToolResult::structured(answer(&app_ref, parsed)))
}

/// What a log stream held.
struct Parsed {
    lines: Vec<Value>,
    error: Option<String>,
}

/// Reads the newline-delimited stream: `{"result": entry}` lines and `{"error": …}` lines.
fn parse(stream: &str) -> Parsed {
    let mut parsed = Parsed {
        lines: Vec::new(),
        error: None,
    };
    for line in stream.lines().filter(|line| !line.trim().is_empty()) {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            parsed.error = Some(format!(
                "a line of the stream is not JSON: {}",
                capstan_sdk::http::excerpt(line, 200)
            ));
            break;
        };
        if !entry["error"].is_null() {
            let error = &entry["error"];
            let code = error["grpc_code"]
                .as_u64()
                .map(|c| format!(" (gRPC code {c} {})", crate::client::code_name(c)));
            parsed.error = Some(format!(
                "{}{}",
                text(&error["message"]),
                code.unwrap_or_default()
            ));
            break;
        }
        let result = &entry["result"];
        if result["last"] == true {
            continue;
        }
        parsed.lines.push(
            json!({"pod": text(&result["podName"]), "time": text(&result["timeStampStr"]),
                                 "text": text(&result["content"])}),
        );
    }
    parsed
}

fn answer(app_ref: &AppRef<'_>, mut parsed: Parsed) -> Value {
    let mut size: usize = parsed
        .lines
        .iter()
        .map(|line| text(&line["text"]).len() + 40)
        .sum();
    let mut dropped = 0;
    while size > MAX_TEXT && !parsed.lines.is_empty() {
        size -= text(&parsed.lines[0]["text"]).len() + 40;
        parsed.lines.remove(0);
        dropped += 1;
    }
    let mut answer = json!({
        "target": app_ref.client.target(), "application": app_ref.name,
        "lines": parsed.lines, "complete": parsed.error.is_none() && dropped == 0,
    });
    if let Some(error) = parsed.error {
        answer["error"] = json!(error);
    }
    if dropped > 0 {
        answer["dropped"] = json!(dropped);
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_are_kept_with_the_lines_before_them() {
        let stream = concat!(
            "{\"result\":{\"content\":\"hello\",\"podName\":\"p\",\"timeStampStr\":\"t\"}}\n",
            "{\"error\":{\"grpc_code\":14,\"message\":\"connection lost\"}}\n"
        );
        let parsed = parse(stream);
        assert_eq!(parsed.lines.len(), 1);
        assert_eq!(
            parsed.error.as_deref(),
            Some("connection lost (gRPC code 14 Unavailable)")
        );
        let done = parse("{\"result\":{\"content\":\"a\"}}\n{\"result\":{\"last\":true}}\n");
        assert!(done.error.is_none() && done.lines.len() == 1);
    }
}
