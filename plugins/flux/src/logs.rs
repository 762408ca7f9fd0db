//! `get_flux_logs`: the Flux controllers' logs, like `flux logs`. Finds the controller
//! Deployments in the Flux namespace (label `app.kubernetes.io/part-of=flux`), one pod of each
//! (a running one preferred), reads its log, and filters the JSON lines by level, kind, name
//! and namespace of the object they speak about.

use capstan_sdk::kube::LogOptions;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::kube::{Client, ListOptions};
use crate::schema;
use crate::time::parse_duration;

/// Lines asked of each pod before filtering.
const TAIL_LINES: u64 = 5000;
/// Default and most matching lines returned.
const DEFAULT_LIMIT: u64 = 100;

const DEPLOYMENTS: capstan_sdk::kube::Resource = capstan_sdk::kube::Resource {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
};

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_flux_logs",
        "Reads the Flux controllers' logs, like `flux logs`: the newest lines (oldest first) \
         from the controllers in the Flux namespace, optionally only about one `kind`, `name` \
         and `namespace` of object, of one `level` (`error` to see failures), and since a \
         duration ago. Use it when events and conditions do not explain a failure.",
    )
    .title("Get Flux controller logs")
    .input(schema::object(
        schema::with_target(json!({
            "kind": schema::kind("Only lines about this kind (and only from its controller)."),
            "name": schema::name("Only lines about objects of this name."),
            "namespace": schema::namespace("Only lines about objects in this namespace."),
            "level": {"type": "string", "enum": ["debug", "info", "error"], "description": "Only lines of this level."},
            "since": {"type": "string", "pattern": "^([0-9]+[hms])+$", "description": "Only lines newer than this, e.g. `10m`."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": DEFAULT_LIMIT,
                      "description": "At most this many lines (the newest)."},
            "fluxNamespace": schema::namespace("Where Flux runs; `flux-system` by default."),
        })),
        &[],
    ))
    .output(schema::object(
        json!({"target": {"type": "string"}, "count": {"type": "integer"},
               "controllers": {"type": "array", "items": {"type": "string"}},
               "lines": {"type": "array", "items": {"type": "object"}}}),
        &["target", "count", "controllers", "lines"],
    ))
    .read_only()
    .open_world(false)
}

/// What lines to keep.
struct Filter<'a> {
    kind: Option<&'a str>,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
    level: Option<&'a str>,
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_target(ctx, args::str(arguments, "target"))?;
    let flux_namespace = args::str(arguments, "fluxNamespace").unwrap_or("flux-system");
    let filter = Filter {
        kind: args::str(arguments, "kind"),
        name: args::str(arguments, "name"),
        namespace: args::str(arguments, "namespace"),
        level: args::str(arguments, "level"),
    };
    let since_seconds = match args::str(arguments, "since") {
        Some(since) => Some(parse_duration(since)?.as_secs().max(1)),
        None => None,
    };
    let controllers = controllers(&client, flux_namespace, filter.kind)?;
    let mut lines = Vec::new();
    let mut names = Vec::new();
    for deployment in &controllers {
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let Some((pod, container)) = pod_of(&client, flux_namespace, deployment)? else {
            continue;
        };
        names.push(name.to_owned());
        let options = LogOptions {
            container: Some(&container),
            tail_lines: Some(TAIL_LINES),
            since_seconds,
            ..LogOptions::default()
        };
        let text = client.pod_log(flux_namespace, &pod, options)?;
        lines.extend(text.lines().filter_map(|line| parse(name, line, &filter)));
    }
    lines.sort_by(|a: &Value, b: &Value| a["ts"].as_str().cmp(&b["ts"].as_str()));
    let limit = args::u64_or(arguments, "limit", DEFAULT_LIMIT) as usize;
    let lines: Vec<Value> = lines.split_off(lines.len().saturating_sub(limit));
    Ok(ToolResult::structured(json!({
        "target": client.target(), "count": lines.len(), "controllers": names, "lines": lines,
    })))
}

/// The controller Deployments, only the one reconciling `kind` when given.
fn controllers(
    client: &Client,
    namespace: &str,
    kind: Option<&str>,
) -> Result<Vec<Value>, ToolError> {
    let options = ListOptions {
        namespace: Some(namespace),
        labels: Some("app.kubernetes.io/part-of=flux"),
        fields: None,
    };
    let mut found = client.list(DEPLOYMENTS, options)?;
    if found.is_empty() {
        return Err(ToolError::new(format!(
            "no Flux controllers (Deployments labelled app.kubernetes.io/part-of=flux) in \
             namespace `{namespace}`; pass `fluxNamespace` if Flux runs elsewhere"
        )));
    }
    if let Some(controller) = kind.map(controller_of) {
        found.retain(|deployment| deployment["metadata"]["name"] == controller);
    }
    Ok(found)
}

fn controller_of(kind: &str) -> &'static str {
    match kind {
        "Kustomization" => "kustomize-controller",
        "HelmRelease" => "helm-controller",
        _ => "source-controller",
    }
}

/// One pod of `deployment` (running preferred) and its first container.
fn pod_of(
    client: &Client,
    namespace: &str,
    deployment: &Value,
) -> Result<Option<(String, String)>, ToolError> {
    let labels = deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    if labels.is_empty() {
        return Ok(None);
    }
    let options = ListOptions {
        namespace: Some(namespace),
        labels: Some(&labels),
        fields: None,
    };
    let pods = client.list(crate::kube::core("pods", "Pod"), options)?;
    let pod = pods
        .iter()
        .find(|pod| pod["status"]["phase"] == "Running")
        .or_else(|| pods.first());
    Ok(pod.and_then(|pod| {
        let name = pod["metadata"]["name"].as_str()?;
        let container = pod["spec"]["containers"][0]["name"].as_str()?;
        Some((name.to_owned(), container.to_owned()))
    }))
}

/// A log line as a row, if it passes `filter`. Lines that are not JSON pass only an empty
/// filter.
fn parse(controller: &str, line: &str, filter: &Filter<'_>) -> Option<Value> {
    let entry: Value = capstan_sdk::serde_json::from_str(line).unwrap_or(Value::Null);
    let field = |name: &str| entry[name].as_str();
    let kind = field("controllerKind").or_else(|| field("reconciler kind"));
    let keep = |wanted: Option<&str>, actual: Option<&str>| {
        wanted.is_none_or(|wanted| actual.is_some_and(|actual| actual.eq_ignore_ascii_case(wanted)))
    };
    let passes = keep(filter.kind, kind)
        && keep(filter.name, field("name"))
        && keep(filter.namespace, field("namespace"))
        && keep(filter.level, field("level"));
    if !passes {
        return None;
    }
    if entry.is_null() {
        return Some(json!({"controller": controller, "message": line}));
    }
    let mut row = json!({
        "controller": controller,
        "ts": field("ts").unwrap_or_default(),
        "level": field("level").unwrap_or_default(),
        "message": field("msg").unwrap_or_default(),
    });
    for (key, value) in [
        ("kind", kind),
        ("name", field("name")),
        ("namespace", field("namespace")),
        ("error", field("error")),
    ] {
        if let Some(value) = value {
            row[key] = json!(value);
        }
    }
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"level":"error","ts":"2026-06-02T09:10:00.000Z","msg":"Reconciler error","controllerKind":"Kustomization","name":"apps","namespace":"flux-system","error":"kustomize build failed"}"#;

    fn filter<'a>(
        kind: Option<&'a str>,
        name: Option<&'a str>,
        level: Option<&'a str>,
    ) -> Filter<'a> {
        Filter {
            kind,
            name,
            namespace: None,
            level,
        }
    }

    #[test]
    fn lines_match_on_kind_name_and_level() {
        let row = parse(
            "kustomize-controller",
            LINE,
            &filter(Some("Kustomization"), Some("apps"), Some("error")),
        );
        assert_eq!(
            row,
            Some(
                json!({"controller": "kustomize-controller", "ts": "2026-06-02T09:10:00.000Z",
                        "level": "error", "message": "Reconciler error", "kind": "Kustomization",
                        "name": "apps", "namespace": "flux-system", "error": "kustomize build failed"})
            )
        );
        assert_eq!(parse("k", LINE, &filter(None, Some("infra"), None)), None);
        assert_eq!(parse("k", LINE, &filter(None, None, Some("info"))), None);
        assert!(parse("k", "plain text", &filter(None, None, None)).is_some());
        assert_eq!(
            parse("k", "plain text", &filter(Some("HelmRelease"), None, None)),
            None
        );
    }
}
