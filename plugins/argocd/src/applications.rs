//! `list_applications` and `get_application`: Argo CD's ApplicationService List and Get. Lists
//! filter on the server (`projects`, `selector`, `repo`, `appNamespace`) and then by name,
//! sync, health and destination, and answer summary rows, paged; Get answers a summary and a
//! compact status, or the full object with `detail`.

use capstan_sdk::{Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::listing;
use crate::params::{AppRef, Paging, merge};
use crate::schema::{
    NAMESPACE_PATTERN, app_properties, object, page_output, paging, props, target_property,
};
use crate::summary::{self, row, text};

/// Rows returned when the call does not say.
const DEFAULT_LIMIT: u64 = 50;
/// Full objects returned when the call asks for detail and does not say how many.
const DEFAULT_DETAIL_LIMIT: u64 = 5;
const MAX_LIMIT: u64 = 500;

pub(crate) fn tools() -> Vec<Tool> {
    vec![list_tool(), get_tool()]
}

fn list_tool() -> Tool {
    Tool::new(
        "list_applications",
        "Lists Argo CD applications, one summary row each (name, project, sync and health status, \
         last operation, source, destination). Start here to find an application or see what is \
         unhealthy. Filters run on the server (`projects`, `selector` e.g. `team=payments,env=prod`, \
         `repo`, `appNamespace`) and then here (`search` in names, `syncStatus`, `healthStatus`, \
         `cluster`). Answers are paged (`limit`, default 50; `offset`; `nextOffset` says where the \
         next page starts); `detail` returns full Application objects instead of rows.",
    )
    .title("List Argo CD applications")
    .input(object(
        props(&[
            json!({
                "target": target_property(),
                "search": {"type": "string", "maxLength": 253,
                           "description": "Keep applications whose name contains this text (case-insensitive)."},
                "projects": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 253}, "maxItems": 50,
                             "description": "Only applications in these Argo CD projects."},
                "selector": {"type": "string", "maxLength": 1024,
                             "description": "Kubernetes label selector on the Application objects, e.g. `env=prod,team in (a,b)`."},
                "repo": {"type": "string", "maxLength": 2048,
                         "description": "Only applications whose source repository URL is exactly this."},
                "appNamespace": {"type": "string", "pattern": NAMESPACE_PATTERN,
                                 "description": "Only applications in this namespace (apps-in-any-namespace setups)."},
                "syncStatus": {"type": "string", "enum": ["Synced", "OutOfSync", "Unknown"],
                               "description": "Only applications with this sync status."},
                "healthStatus": {"type": "string", "enum": ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"],
                                 "description": "Only applications with this health status."},
                "cluster": {"type": "string", "maxLength": 2048,
                            "description": "Only applications deploying to this destination (server URL or cluster name)."},
            }),
            paging(DEFAULT_LIMIT, MAX_LIMIT),
        ]),
        &[],
    ))
    .output(object(
        props(&[
            json!({"target": {"type": "string"},
                   "applications": {"type": "array", "items": {"type": "object"},
                                    "description": "Summary rows (or full objects with `detail`)."},
                   "hint": {"type": "string"}}),
            page_output(),
        ]),
        &["target", "total", "offset", "returned", "hasMore", "applications"],
    ))
    .read_only()
}

fn get_tool() -> Tool {
    Tool::new(
        "get_application",
        "Gets one Argo CD application: a summary row plus a compact status (last sync operation, \
         conditions, resource health counts and the resources that are not healthy or not in \
         sync, images, the last three deployments) and its spec. Use `detail: true` for the full \
         Application object, and `refresh` (`normal` or `hard`) to make Argo CD compare with Git \
         first.",
    )
    .title("Get an Argo CD application")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "refresh": {"type": "string", "enum": ["normal", "hard"],
                            "description": "Refresh before answering: `normal` re-compares with Git, `hard` also clears the manifest cache."},
                "detail": {"type": "boolean", "description": "Include the full Application object (large)."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({
            "target": {"type": "string"},
            "summary": summary::row_schema(),
            "status": {"type": "object", "description": "Compact status: operation, conditions, resources, images, recentHistory."},
            "spec": {"type": "object", "description": "The Application's spec as Argo CD serves it."},
            "application": {"type": "object", "description": "The full Application (only with `detail`)."},
        }),
        &["target", "summary", "status", "spec"],
    ))
    .read_only()
}

pub(crate) fn call(tool: &str, arguments: &Value) -> Option<Result<ToolResult, ToolError>> {
    Some(match tool {
        "list_applications" => list(arguments),
        "get_application" => get(arguments),
        _ => return None,
    })
}

fn list(arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(arguments)?;
    let mut query = Query::default();
    for project in arguments["projects"].as_array().into_iter().flatten() {
        query.push_opt("projects", project.as_str());
    }
    for name in ["selector", "repo", "appNamespace"] {
        query.push_opt(name, args::str(arguments, name));
    }
    let not_found = "Check the filters; list_applications without filters shows what exists.";
    let detail = arguments["detail"].as_bool().unwrap_or(false);
    let paging = Paging::from(
        arguments,
        if detail {
            DEFAULT_DETAIL_LIMIT
        } else {
            DEFAULT_LIMIT
        },
    );
    let (page, fields) = if detail {
        full_page(&client, &query, not_found, arguments, &paging)?
    } else {
        let matching: Vec<Value> = listing::fetch(&client, &query, not_found)?
            .iter()
            .filter(|app| keep(app, arguments))
            .map(row)
            .collect();
        paging.apply(matching)
    };
    let mut answer = json!({"target": client.target(), "applications": page});
    merge(&mut answer, fields);
    if answer["hasMore"] == true {
        answer["hint"] = json!(format!(
            "{} more applications match: call again with offset {}, or narrow with projects, selector, \
             syncStatus or healthStatus.",
            answer["total"].as_u64().unwrap_or(0) - answer["nextOffset"].as_u64().unwrap_or(0),
            answer["nextOffset"]
        ));
    }
    Ok(ToolResult::structured(answer))
}

/// The page of full Applications: each is parsed, filtered and dropped unless on the page, so
/// a list of thousands of large applications is never held as values.
fn full_page(
    client: &Client,
    query: &Query,
    not_found: &str,
    arguments: &Value,
    paging: &Paging,
) -> Result<(Vec<Value>, Value), ToolError> {
    let mut page = Vec::new();
    let mut total = 0;
    listing::for_each(client, query, not_found, |app| {
        if keep(&app, arguments) {
            if paging.on_page(total) {
                page.push(without_managed_fields(app));
            }
            total += 1;
        }
    })?;
    let fields = paging.fields(total, page.len());
    Ok((page, fields))
}

/// The client-side filters: name search, sync, health and destination.
fn keep(app: &Value, arguments: &Value) -> bool {
    let search = args::str(arguments, "search")
        .unwrap_or_default()
        .to_lowercase();
    let name = text(&app["metadata"]["name"]).to_lowercase();
    let equals = |argument: &str, value: &Value| {
        args::str(arguments, argument)
            .is_none_or(|wanted| summary::text_or(value, "Unknown") == wanted)
    };
    let cluster = args::str(arguments, "cluster").unwrap_or_default();
    let destination = &app["spec"]["destination"];
    name.contains(&search)
        && equals("syncStatus", &app["status"]["sync"]["status"])
        && equals("healthStatus", &app["status"]["health"]["status"])
        && (cluster.is_empty()
            || destination["server"] == cluster
            || destination["name"] == cluster)
}

fn without_managed_fields(mut app: Value) -> Value {
    if let Some(metadata) = app.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    app
}

fn get(arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(arguments)?;
    let mut query = app_ref.query();
    query.push_opt("refresh", args::str(arguments, "refresh"));
    let application = app_ref
        .client
        .get(&app_ref.path(""), &query, &app_ref.not_found())?;
    let mut answer = json!({
        "target": app_ref.client.target(),
        "summary": row(&application),
        "status": summary::status(&application),
        "spec": application["spec"],
    });
    if arguments["detail"].as_bool().unwrap_or(false) {
        answer["application"] = without_managed_fields(application);
    }
    Ok(ToolResult::structured(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_side_filters_combine() {
        let app = json!({"metadata": {"name": "shop-web"}, "spec": {"destination": {"server": "https://prod"}},
                         "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded"}}});
        assert!(keep(
            &app,
            &json!({"search": "SHOP", "healthStatus": "Degraded", "cluster": "https://prod"})
        ));
        assert!(!keep(&app, &json!({"syncStatus": "Synced"})));
        assert!(!keep(&app, &json!({"cluster": "https://dev"})));
        let bare = json!({"metadata": {"name": "new"}});
        assert!(keep(&bare, &json!({"healthStatus": "Unknown"})));
    }
}
