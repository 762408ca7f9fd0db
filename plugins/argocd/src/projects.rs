//! Where applications may come from and go to: `get_appproject` and `list_projects`
//! (AppProjects: repositories, destinations, roles, sync windows), `list_clusters` (the
//! clusters Argo CD deploys to, without their long API version lists or credentials) and
//! `list_repository_apps` (the application directories Argo CD finds in a repository).

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::params::{Paging, merge};
use crate::schema::{NAME_PATTERN, object, page_output, paging, props, target_property};
use crate::summary::text;
use capstan_sdk::url::segment;

pub(crate) fn get_project_tool() -> Tool {
    Tool::new(
        "get_appproject",
        "Gets an Argo CD AppProject: which source repositories and destinations (cluster and \
         namespace) its applications may use, allowed cluster-scoped kinds, roles with their \
         policies, and sync windows. Use it when a sync or create is refused as not permitted.",
    )
    .title("Get an Argo CD project")
    .input(object(
        json!({"target": target_property(),
               "projectName": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 253, "description": "The project's name."},
               "detail": {"type": "boolean", "description": "Return the full AppProject object."}}),
        &["projectName"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "project": project_schema(), "appProject": {"type": "object"}}),
        &["target", "project"],
    ))
    .read_only()
}

fn project_schema() -> Value {
    json!({"type": "object", "properties": {
        "name": {"type": "string"}, "description": {"type": "string"},
        "sourceRepos": {"type": "array"}, "destinations": {"type": "array"},
        "clusterResourceWhitelist": {"type": "array"}, "roles": {"type": "array"}, "syncWindows": {"type": "array"}}})
}

/// A project's permissions without role tokens.
fn project_row(project: &Value) -> Value {
    let spec = &project["spec"];
    let roles: Vec<Value> = spec["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|role| {
            json!({"name": role["name"], "description": role["description"],
                           "policies": role["policies"], "groups": role["groups"]})
        })
        .collect();
    json!({
        "name": text(&project["metadata"]["name"]), "description": text(&spec["description"]),
        "sourceRepos": spec["sourceRepos"], "destinations": spec["destinations"],
        "clusterResourceWhitelist": spec["clusterResourceWhitelist"], "roles": roles,
        "syncWindows": spec["syncWindows"],
    })
}

pub(crate) fn get_project(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let name = args::required_str(arguments, "projectName")?;
    let not_found = format!("No project `{name}` exists there; list_projects shows the projects.");
    let project = client.get(
        &format!("/api/v1/projects/{}", segment(name)?),
        &Query::default(),
        &not_found,
    )?;
    let mut answer = json!({"target": client.target(), "project": project_row(&project)});
    if arguments["detail"].as_bool().unwrap_or(false) {
        let mut full = project;
        if let Some(roles) = full["spec"]["roles"].as_array_mut() {
            for role in roles.iter_mut().filter_map(Value::as_object_mut) {
                role.remove("jwtTokens");
            }
        }
        answer["appProject"] = full;
    }
    Ok(ToolResult::structured(answer))
}

pub(crate) fn list_projects_tool() -> Tool {
    Tool::new(
        "list_projects",
        "Lists Argo CD AppProjects with their description, allowed source repositories and \
         destinations. Use get_appproject for roles and sync windows of one.",
    )
    .title("List Argo CD projects")
    .input(object(props(&[json!({"target": target_property()}), paging(100, 1000)]), &[]))
    .output(object(
        props(&[json!({"target": {"type": "string"}, "projects": {"type": "array", "items": project_schema()}}), page_output()]),
        &["target", "projects", "total", "offset", "returned", "hasMore"],
    ))
    .read_only()
}

pub(crate) fn list_projects(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let list = client.get(
        "/api/v1/projects",
        &Query::default(),
        "The target does not serve projects: check its URL.",
    )?;
    let paging = Paging::from(arguments, 100);
    let rows: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|project| {
            let row = project_row(project);
            json!({"name": row["name"], "description": row["description"],
                   "sourceRepos": row["sourceRepos"], "destinations": row["destinations"]})
        })
        .collect();
    let (page, fields) = paging.apply(rows);
    let mut answer = json!({"target": client.target(), "projects": page});
    merge(&mut answer, fields);
    Ok(ToolResult::structured(answer))
}

pub(crate) fn clusters_tool() -> Tool {
    Tool::new(
        "list_clusters",
        "Lists the clusters Argo CD deploys to: name, server URL, Kubernetes version, connection \
         status (and its error), how many applications use each, labels. Filter by `server` or \
         `name`. Use the server URL or name as an application's destination.",
    )
    .title("List Argo CD clusters")
    .input(object(
        json!({"target": target_property(),
               "server": {"type": "string", "maxLength": 2048, "description": "Only the cluster with this API server URL."},
               "name": {"type": "string", "maxLength": 253, "description": "Only the cluster with this name."}}),
        &[],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "clusters": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "server": {"type": "string"}, "version": {"type": "string"},
            "connection": {"type": "string"}, "message": {"type": "string"}, "applications": {"type": "integer"},
            "labels": {"type": "object"}}}}}),
        &["target", "clusters"],
    ))
    .read_only()
}

pub(crate) fn clusters(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let mut query = Query::default();
    query.push_opt("server", args::str(arguments, "server"));
    query.push_opt("name", args::str(arguments, "name"));
    let list = client.get(
        "/api/v1/clusters",
        &query,
        "The target does not serve clusters: check its URL.",
    )?;
    let rows: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|cluster| {
            let info = &cluster["info"];
            let state = if info["connectionState"].is_object() { &info["connectionState"] } else { &cluster["connectionState"] };
            json!({"name": text(&cluster["name"]), "server": text(&cluster["server"]),
                   "version": crate::summary::text_or(&info["serverVersion"], text(&cluster["serverVersion"])),
                   "connection": text(&state["status"]), "message": text(&state["message"]),
                   "applications": info["applicationsCount"].as_u64().unwrap_or(0),
                   "labels": cluster["labels"].as_object().cloned().unwrap_or_default()})
        })
        .collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "clusters": rows}),
    ))
}

pub(crate) fn repo_apps_tool() -> Tool {
    Tool::new(
        "list_repository_apps",
        "Lists the application directories Argo CD finds in a Git repository (at `revision`, \
         default HEAD) and their type (Helm, Kustomize, Directory, Plugin). The repository must be \
         one Argo CD can access. Use it before creating applications from a repository's \
         directories.",
    )
    .title("List app directories in a repository")
    .input(object(
        json!({"target": target_property(),
               "repo": {"type": "string", "minLength": 1, "maxLength": 2048, "description": "The repository URL, as Argo CD knows it."},
               "revision": {"type": "string", "maxLength": 256, "description": "Branch, tag or commit (default HEAD)."},
               "appProject": {"type": "string", "maxLength": 253, "description": "The project whose repository credentials to use."},
               "path": {"type": "string", "maxLength": 1024, "description": "Only directories under this path."}}),
        &["repo"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "repo": {"type": "string"},
               "apps": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "type": {"type": "string"}}}}}),
        &["target", "repo", "apps"],
    ))
    .read_only()
}

/// The application directories of `repo` (optionally under `path`).
pub(crate) fn app_paths(
    client: &Client,
    repo: &str,
    revision: Option<&str>,
    project: Option<&str>,
) -> Result<Vec<Value>, ToolError> {
    let mut query = Query::default();
    query.push_opt("revision", revision);
    query.push_opt("appProject", project);
    let not_found =
        format!("Argo CD does not know the repository `{repo}`; add it to Argo CD first.");
    let answer = client.get(
        &format!("/api/v1/repositories/{}/apps", segment(repo)?),
        &query,
        &not_found,
    )?;
    Ok(answer["items"].as_array().cloned().unwrap_or_default())
}

pub(crate) fn repo_apps(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let repo = args::required_str(arguments, "repo")?;
    let under = args::str(arguments, "path")
        .unwrap_or_default()
        .trim_matches('/');
    let apps: Vec<Value> = app_paths(
        &client,
        repo,
        args::str(arguments, "revision"),
        args::str(arguments, "appProject"),
    )?
    .into_iter()
    .filter(|app| under.is_empty() || text(&app["path"]).starts_with(&format!("{under}/")))
    .map(|app| json!({"path": text(&app["path"]), "type": text(&app["type"])}))
    .collect();
    Ok(ToolResult::structured(
        json!({"target": client.target(), "repo": repo, "apps": apps}),
    ))
}
