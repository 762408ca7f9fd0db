//! `list_applications` and `get_application`: Argo CD's ApplicationService List and Get, with
//! list rows trimmed to what an agent needs to pick an application.

use capstan_sdk::serde_json::Map;
use capstan_sdk::{Tool, ToolError, ToolResult, Value, args, json};
use serde::Deserialize;

use crate::client::{Client, Query};
use crate::schema::{object, target_property};
use capstan_sdk::url::segment;

/// Rows returned when the call does not say.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: u64 = 1000;

/// A Kubernetes object name (RFC 1123 subdomain), which is what Argo CD application names are.
const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";
/// A Kubernetes namespace name (RFC 1123 label).
const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_applications",
        "Lists Argo CD applications as one row each: name, namespace, project, sync and health \
         status, source repo/path/revision and destination. Filter on the server with `projects`, \
         `selector` (labels, e.g. `team=payments,env=prod`), `repo` (exact URL) and \
         `appNamespace`; `search` keeps names containing the text. Page with `limit` (default 50) \
         and `offset`. Use get_application for one application's full spec and status.",
    )
    .title("List Argo CD applications")
    .input(object(
        json!({
            "target": target_property(),
            "search": {"type": "string", "maxLength": 253,
                       "description": "Keep applications whose name contains this text (case-insensitive)."},
            "projects": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 50,
                         "description": "Only applications in these Argo CD projects."},
            "selector": {"type": "string", "maxLength": 1024,
                         "description": "Kubernetes label selector on the Application objects, e.g. `env=prod`."},
            "repo": {"type": "string", "maxLength": 2048,
                     "description": "Only applications whose source repository URL is exactly this."},
            "appNamespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                             "description": "Only applications in this namespace (apps-in-any-namespace setups)."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                      "description": "Rows to return (default 50)."},
            "offset": {"type": "integer", "minimum": 0, "description": "Rows to skip (default 0)."},
        }),
        &[],
    ))
    .output(object(
        json!({
            "target": {"type": "string"},
            "total": {"type": "integer", "description": "Applications that matched, before paging."},
            "offset": {"type": "integer"},
            "returned": {"type": "integer"},
            "hasMore": {"type": "boolean"},
            "applications": {"type": "array", "items": row_schema()},
        }),
        &["target", "total", "offset", "returned", "hasMore", "applications"],
    ))
    .read_only()
}

pub(crate) fn get_tool() -> Tool {
    Tool::new(
        "get_application",
        "Gets one Argo CD application: a summary row plus the full Application object (spec, \
         sync and health status, conditions, resources, operation state). Pass `appNamespace` \
         when the application lives outside Argo CD's own namespace.",
    )
    .title("Get an Argo CD application")
    .input(object(
        json!({
            "target": target_property(),
            "applicationName": {"type": "string", "pattern": NAME_PATTERN,
                                "description": "The application's name, as list_applications shows it."},
            "appNamespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                             "description": "The namespace of the Application object, if not Argo CD's own."},
        }),
        &["applicationName"],
    ))
    .output(object(
        json!({
            "target": {"type": "string"},
            "summary": row_schema(),
            "application": {"type": "object", "description": "The Application as Argo CD serves it."},
        }),
        &["target", "summary", "application"],
    ))
    .read_only()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListArgs {
    target: Option<String>,
    search: Option<String>,
    #[serde(default)]
    projects: Vec<String>,
    selector: Option<String>,
    repo: Option<String>,
    app_namespace: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    offset: usize,
}

pub(crate) fn list(arguments: Value) -> Result<ToolResult, ToolError> {
    let request: ListArgs = args::parse(arguments)?;
    let client = Client::for_target(request.target.as_deref())?;
    let mut query = Query::default();
    for project in &request.projects {
        query.push("projects", project);
    }
    query.push_opt("selector", request.selector.as_deref());
    query.push_opt("repo", request.repo.as_deref());
    query.push_opt("appNamespace", request.app_namespace.as_deref());
    let not_found = "Check the filters; list_applications without filters shows what exists.";
    let list = client.get("/api/v1/applications", &query, not_found)?;
    let matching = matching_rows(&list, request.search.as_deref());
    Ok(ToolResult::structured(page(
        client.target(),
        matching,
        request.offset,
        request.limit,
    )))
}

/// Summary rows of the listed applications whose name contains `search`.
fn matching_rows(list: &Value, search: Option<&str>) -> Vec<Value> {
    let search = search
        .map(str::to_lowercase)
        .filter(|search| !search.is_empty());
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|app| match &search {
            Some(search) => text(&app["metadata"]["name"])
                .to_lowercase()
                .contains(search),
            None => true,
        })
        .map(summarize)
        .collect()
}

fn page(target: &str, rows: Vec<Value>, offset: usize, limit: Option<usize>) -> Value {
    let total = rows.len();
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let page: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    json!({
        "target": target,
        "total": total,
        "offset": offset,
        "returned": page.len(),
        "hasMore": offset + page.len() < total,
        "applications": page,
    })
}

pub(crate) fn get(arguments: Value) -> Result<ToolResult, ToolError> {
    let name = args::required_str(&arguments, "applicationName")?;
    let client = Client::for_target(args::str(&arguments, "target"))?;
    let mut query = Query::default();
    query.push_opt("appNamespace", args::str(&arguments, "appNamespace"));
    let not_found = format!(
        "No application `{name}` exists there; find the right name (and appNamespace) with list_applications."
    );
    let path = format!("/api/v1/applications/{}", segment(name));
    let mut application = client.get(&path, &query, &not_found)?;
    if let Some(metadata) = application
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        metadata.remove("managedFields");
    }
    Ok(ToolResult::structured(json!({
        "target": client.target(),
        "summary": summarize(&application),
        "application": application,
    })))
}

fn row_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "name": string, "namespace": string, "project": string,
            "sync": {"type": "string", "description": "Synced, OutOfSync or Unknown."},
            "health": {"type": "string", "description": "Healthy, Progressing, Degraded, Suspended, Missing or Unknown."},
            "healthMessage": string,
            "repo": string, "path": string, "chart": string,
            "targetRevision": {"type": "string", "description": "The branch, tag or version the app tracks."},
            "revision": {"type": "string", "description": "The revision the live state was last compared to."},
            "destination": {"type": "object", "properties": {"server": string, "name": string, "namespace": string}},
        },
        "required": ["name", "project", "sync", "health"],
    })
}

/// One row: the fields an agent needs to pick an application. Multi-source applications show
/// their first source.
fn summarize(app: &Value) -> Value {
    let spec = &app["spec"];
    let source = match &spec["source"] {
        Value::Null => &spec["sources"][0],
        source => source,
    };
    let mut row = Map::new();
    row.insert("name".into(), json!(text(&app["metadata"]["name"])));
    row.insert("project".into(), json!(text(&spec["project"])));
    row.insert(
        "sync".into(),
        json!(text_or(&app["status"]["sync"]["status"], "Unknown")),
    );
    row.insert(
        "health".into(),
        json!(text_or(&app["status"]["health"]["status"], "Unknown")),
    );
    let optional = [
        ("namespace", &app["metadata"]["namespace"]),
        ("healthMessage", &app["status"]["health"]["message"]),
        ("repo", &source["repoURL"]),
        ("path", &source["path"]),
        ("chart", &source["chart"]),
        ("targetRevision", &source["targetRevision"]),
        ("revision", &app["status"]["sync"]["revision"]),
    ];
    for (key, value) in optional {
        if !text(value).is_empty() {
            row.insert(key.into(), json!(text(value)));
        }
    }
    row.insert("destination".into(), destination(&spec["destination"]));
    Value::Object(row)
}

fn destination(destination: &Value) -> Value {
    let mut out = Map::new();
    for key in ["server", "name", "namespace"] {
        if !text(&destination[key]).is_empty() {
            out.insert(key.into(), json!(text(&destination[key])));
        }
    }
    Value::Object(out)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn text_or<'a>(value: &'a Value, default: &'a str) -> &'a str {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "argocd", "managedFields": []},
            "spec": {"project": "shop",
                     "source": {"repoURL": "https://git.example.com/shop.git", "path": "apps/web", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"}},
            "status": {"sync": {"status": "OutOfSync", "revision": "abc123"},
                       "health": {"status": "Degraded", "message": "1 of 2 pods crash-looping"}},
        })
    }

    #[test]
    fn rows_carry_what_an_agent_needs() {
        assert_eq!(
            summarize(&app("web")),
            json!({"name": "web", "namespace": "argocd", "project": "shop", "sync": "OutOfSync",
                   "health": "Degraded", "healthMessage": "1 of 2 pods crash-looping",
                   "repo": "https://git.example.com/shop.git", "path": "apps/web", "targetRevision": "main",
                   "revision": "abc123",
                   "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"}})
        );
        let bare = summarize(&json!({"metadata": {"name": "new"}, "spec": {"project": "default"}}));
        assert_eq!(
            (bare["sync"].as_str(), bare["health"].as_str()),
            (Some("Unknown"), Some("Unknown"))
        );
    }

    #[test]
    fn multi_source_apps_show_their_first_source() {
        let mut multi = app("web");
        multi["spec"]["sources"] = json!([multi["spec"]["source"].take()]);
        multi["spec"].as_object_mut().unwrap().remove("source");
        assert_eq!(
            summarize(&multi)["repo"],
            "https://git.example.com/shop.git"
        );
    }

    #[test]
    fn search_and_paging_are_applied_after_the_server_filters() {
        let list = json!({"items": [app("shop-web"), app("shop-api"), app("billing")]});
        let rows = matching_rows(&list, Some("SHOP"));
        assert_eq!(rows.len(), 2);
        let page = page("prod", rows, 1, Some(1));
        assert_eq!(page["total"], 2);
        assert_eq!(page["returned"], 1);
        assert_eq!(page["hasMore"], false);
        assert_eq!(page["applications"][0]["name"], "shop-api");
    }
}
