//! `list_applications` and `get_application`: Argo CD's ApplicationService List and Get. Lists
//! filter on the server (`projects`, `selector`, `repo`, `appNamespace`) and then by name,
//! sync, health and destination, and answer lean rows (`wide` adds the source and revision),
//! paged, with counts by health and sync over every match; Get answers a wide row and the
//! compact status, and the spec and full object only with `detail`.

use capstan_sdk::{Context, Map, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::lenient::{Obj, Text};
use crate::listing::{self, Lite};
use crate::params::{AppRef, Paging, merge};
use crate::schema::{
    NAMESPACE_PATTERN, app_properties, object, page_output, paging, props, target_property,
};
use crate::status::{self, Detail};
use crate::summary::{self, lite_row, lite_wide_row};

/// Rows returned when the call does not say.
const DEFAULT_LIMIT: u64 = 25;
/// Full objects returned when the call asks for detail and does not say how many.
const DEFAULT_DETAIL_LIMIT: u64 = 5;
const MAX_LIMIT: u64 = 500;

pub(crate) fn list_tool() -> Tool {
    Tool::new(
        "list_applications",
        "Lists Argo CD applications, one lean row each (name, project, sync and health status, \
         last operation's phase, automated sync, destination as `namespace@cluster`; the \
         namespace only when it is not Argo CD's own), with counts by health and by sync over all \
         that match. Start here to find an application or see what is unhealthy. Filters run on \
         the server (`projects`, `selector` e.g. `team=payments,env=prod`, `repo`, \
         `appNamespace`) and then here (`search` in names, `syncStatus`, `healthStatus`, \
         `cluster`). Answers are paged (`limit`, default 25; `offset`; `nextOffset` says where \
         the next page starts). `wide: true` adds each row's repository, path or chart, target \
         revision and deployed revision; `detail: true` returns full Application objects instead.",
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
                            "description": "Only applications deploying to this cluster: its server URL, its name, or the part after `@` in a row's destination."},
                "wide": {"type": "boolean",
                         "description": "Add each row's repo, path or chart, targetRevision and deployed revision."},
            }),
            paging(DEFAULT_LIMIT, MAX_LIMIT),
        ]),
        &[],
    ))
    .output(object(
        props(&[
            json!({"target": {"type": "string"},
                   "applications": {"type": "array", "items": summary::row_schema(),
                                    "description": "Lean rows (wide rows with `wide`, full objects with `detail`)."},
                   "counts": {"type": "object", "description": "Every matching application (not just this page) counted by `health` and by `sync`.",
                              "properties": {"health": {"type": "object"}, "sync": {"type": "object"}}},
                   "hint": {"type": "string"}}),
            page_output(),
        ]),
        &["target", "total", "offset", "returned", "hasMore", "applications"],
    ))
    .read_only()
}

pub(crate) fn get_tool() -> Tool {
    Tool::new(
        "get_application",
        "Gets one Argo CD application: its row (sync, health, last operation's phase, automated \
         sync, destination, repository, path or chart, target and deployed revision) and a \
         compact status: the last operation's message and the objects it failed to apply, \
         conditions, managed objects counted by health with those not healthy or not in sync, \
         images and the last three deployments. That is what most decisions need; \
         `detail: true` adds the spec and the full Application object (large). `refresh` \
         (`normal` or `hard`) makes Argo CD compare with Git first.",
    )
    .title("Get an Argo CD application")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "refresh": {"type": "string", "enum": ["normal", "hard"],
                            "description": "Refresh before answering: `normal` re-compares with Git, `hard` also clears the manifest cache."},
                "detail": {"type": "boolean", "description": "Also return the spec and the full Application object (large)."},
            }),
        ]),
        &["applicationName"],
    ))
    .output(object(
        json!({
            "target": {"type": "string"},
            "summary": summary::row_schema(),
            "status": status::schema(),
            "spec": {"type": "object", "description": "The Application's spec (only with `detail`)."},
            "application": {"type": "object", "description": "The full Application without managed fields (only with `detail`)."},
        }),
        &["target", "summary", "status"],
    ))
    .read_only()
}

pub(crate) fn list(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let mut query = Query::default();
    for project in arguments["projects"].as_array().into_iter().flatten() {
        query.push_opt("projects", project.as_str());
    }
    for name in ["selector", "repo", "appNamespace"] {
        query.push_opt(name, args::str(arguments, name));
    }
    let not_found = "Check the filters; list_applications without filters shows what exists.";
    let mut counts = Counts::default();
    let (page, fields) = if arguments["detail"].as_bool().unwrap_or(false) {
        let paging = Paging::from(arguments, DEFAULT_DETAIL_LIMIT);
        let mut page = Page::new(&paging, arguments, &mut counts);
        listing::for_each_full(&client, &query, not_found, |app| {
            if page.add(&listing::view(&app)) {
                page.rows.push(without_managed_fields(app));
            }
        })?;
        page.finish()
    } else {
        let paging = Paging::from(arguments, DEFAULT_LIMIT);
        let wide = arguments["wide"].as_bool().unwrap_or(false);
        let mut page = Page::new(&paging, arguments, &mut counts);
        listing::for_each(&client, &query, not_found, |app| {
            if page.add(app) {
                page.rows.push(if wide {
                    lite_wide_row(app)
                } else {
                    lite_row(app)
                });
            }
        })?;
        page.finish()
    };
    let mut answer = json!({"target": client.target(), "applications": page});
    merge(&mut answer, fields);
    if answer["total"].as_u64().is_some_and(|total| total > 0) {
        answer["counts"] = counts.into_json();
    }
    if answer["hasMore"] == true {
        answer["hint"] = json!(more_hint(&answer));
    }
    Ok(ToolResult::structured(answer))
}

/// How to see the applications after this page.
fn more_hint(answer: &Value) -> String {
    let next = answer["nextOffset"].as_u64().unwrap_or(0);
    format!(
        "{} more applications match: call again with offset {next}, or narrow with projects, \
         selector, syncStatus or healthStatus.",
        answer["total"].as_u64().unwrap_or(0).saturating_sub(next)
    )
}

/// One page of a list being read: every application that matches is counted, and only those
/// on the page become rows. Applications arrive one at a time from the streamed answer (as
/// [`Lite`] views for rows, as full objects with `detail`) and are dropped once looked at, so
/// memory holds the page and the counts whatever the number of applications.
struct Page<'a> {
    paging: &'a Paging,
    arguments: &'a Value,
    counts: &'a mut Counts,
    rows: Vec<Value>,
    total: usize,
}

impl<'a> Page<'a> {
    fn new(paging: &'a Paging, arguments: &'a Value, counts: &'a mut Counts) -> Self {
        Self {
            paging,
            arguments,
            counts,
            rows: Vec::new(),
            total: 0,
        }
    }

    /// Counts `app` when it matches; true when its row belongs on the page.
    fn add(&mut self, app: &Lite<'_>) -> bool {
        if !keep(app, self.arguments) {
            return false;
        }
        self.counts.add(app);
        let on_page = self.paging.on_page(self.total);
        self.total += 1;
        on_page
    }

    /// The page's rows and the paging fields.
    fn finish(self) -> (Vec<Value>, Value) {
        let fields = self.paging.fields(self.total, self.rows.len());
        (self.rows, fields)
    }
}

/// Matching applications counted by health and by sync.
#[derive(Default)]
pub(crate) struct Counts {
    health: Map<String, Value>,
    sync: Map<String, Value>,
}

impl Counts {
    pub(crate) fn add(&mut self, app: &Lite<'_>) {
        let status = &app.status;
        for (counts, value) in [
            (&mut self.health, &status.health.status),
            (&mut self.sync, &status.sync.status),
        ] {
            let key = value.or("Unknown");
            let count = counts.get(key).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(key.to_owned(), json!(count + 1));
        }
    }

    pub(crate) fn into_json(self) -> Value {
        json!({"health": self.health, "sync": self.sync})
    }
}

/// The client-side filters: name search, sync, health and destination.
fn keep(app: &Lite<'_>, arguments: &Value) -> bool {
    let search = args::str(arguments, "search")
        .unwrap_or_default()
        .to_lowercase();
    let name = app.metadata.name.as_str().to_lowercase();
    let equals = |argument: &str, value: &Text<'_>| {
        args::str(arguments, argument).is_none_or(|wanted| value.or("Unknown") == wanted)
    };
    let cluster = args::str(arguments, "cluster").unwrap_or_default();
    let destination = &app.spec.destination;
    name.contains(&search)
        && equals("syncStatus", &app.status.sync.status)
        && equals("healthStatus", &app.status.health.status)
        && (cluster.is_empty()
            || destination.server.as_str() == cluster
            || destination.name.as_str() == cluster
            || summary::cluster(destination) == cluster)
}

fn without_managed_fields(mut app: Value) -> Value {
    if let Some(metadata) = app.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    app
}

pub(crate) fn get(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let mut query = app_ref.query();
    query.push_opt("refresh", args::str(arguments, "refresh"));
    let path = app_ref.path("");
    let response = app_ref
        .client
        .get_response(&path, &query, &app_ref.not_found())?;
    let target = app_ref.client.target();
    let detail = arguments["detail"].as_bool().unwrap_or(false);
    // Most calls read only what the row and the compact status need, borrowed from the body;
    // `detail`, or an answer that view refuses, parses the whole object.
    if !detail && let Some(app) = view(&response.body) {
        return Ok(ToolResult::structured(get_answer(target, &app)));
    }
    let application = app_ref.client.json("GET", &path, &response)?;
    let mut answer = get_answer(target, &Detail::of(&application));
    if detail {
        answer["spec"] = application["spec"].clone();
        answer["application"] = without_managed_fields(application);
    }
    Ok(ToolResult::structured(answer))
}

/// The typed view of an Application answer (an empty body is `null`), if it reads as one.
fn view(body: &[u8]) -> Option<Detail<'_>> {
    let body = if body.is_empty() { b"null" } else { body };
    let app: Obj<Detail<'_>> = serde_json::from_slice(body).ok()?;
    Some(app.into_inner())
}

/// `get_application`'s answer without `detail`.
fn get_answer(target: &str, app: &Detail<'_>) -> Value {
    json!({
        "target": target,
        "summary": lite_wide_row(app),
        "status": status::status(app),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_side_filters_combine() {
        let app = json!({"metadata": {"name": "shop-web"}, "spec": {"destination": {"server": "https://prod"}},
                         "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded"}}});
        let app = listing::view(&app);
        assert!(keep(
            &app,
            &json!({"search": "SHOP", "healthStatus": "Degraded", "cluster": "https://prod"})
        ));
        assert!(!keep(&app, &json!({"syncStatus": "Synced"})));
        assert!(!keep(&app, &json!({"cluster": "https://dev"})));
        assert!(
            keep(&app, &json!({"cluster": "prod"})),
            "the row's short form"
        );
        let bare = json!({"metadata": {"name": "new"}});
        assert!(keep(
            &listing::view(&bare),
            &json!({"healthStatus": "Unknown"})
        ));
    }
}
