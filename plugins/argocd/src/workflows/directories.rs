//! `create_applications_from_directories`: one Application per application directory Argo CD
//! finds under a path of a Git repository, optionally under a parent app-of-apps. A dry run
//! (the default) only shows what would be created.

use capstan_sdk::http::Method;
use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::projects::app_paths;
use crate::schema::{NAME_PATTERN, object, target_property};
use crate::summary::text;

/// Applications one call creates at most.
const MAX_APPS: usize = 100;
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

pub(crate) fn tool() -> Tool {
    let text = |description: &str| json!({"type": "string", "maxLength": 1024, "description": description});
    Tool::new(
        "create_applications_from_directories",
        "Creates one Argo CD application per application directory (Helm chart, Kustomize overlay, \
         plain manifests) that Argo CD finds directly under `path` of a Git repository: named \
         `<namePrefix><directory>`, deploying into a namespace of the same name. DRY RUN BY \
         DEFAULT: it shows the Applications it would create; call again with `dryRun: false` to \
         create them. `appOfApps` also creates a parent application that tracks `appOfAppsPath` \
         (where the children's Application manifests are kept) and labels the children with it.",
    )
    .title("Create applications from a repository's directories")
    .input(object(
        json!({
            "target": target_property(),
            "repo": {"type": "string", "minLength": 1, "maxLength": 2048, "description": "The Git repository URL (known to Argo CD)."},
            "path": text("The directory holding one directory per application, e.g. `apps`."),
            "revision": text("Branch, tag or commit to track (default HEAD)."),
            "project": {"type": "string", "pattern": NAME_PATTERN, "description": "The Argo CD project (default `default`)."},
            "destinationServer": text("Cluster API URL (default the in-cluster one)."),
            "destinationName": text("Cluster name, instead of destinationServer."),
            "namePrefix": {"type": "string", "maxLength": 40, "pattern": "^[a-z0-9-]*$", "description": "Prefix for application names."},
            "automated": {"type": "boolean", "description": "Turn on automated sync with prune and self-heal (default false)."},
            "appOfApps": {"type": "string", "pattern": NAME_PATTERN, "description": "Name of a parent app-of-apps to create as well."},
            "appOfAppsPath": text("The parent's path in the repository (default `<path>`)."),
            "dryRun": {"type": "boolean", "description": "Only show what would be created (default true)."},
        }),
        &["repo", "path"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "dryRun": {"type": "boolean"},
               "applications": {"type": "array", "items": {"type": "object"}},
               "created": {"type": "array", "items": {"type": "string"}},
               "failed": {"type": "array", "items": {"type": "object"}},
               "skipped": {"type": "array", "items": {"type": "string"}}}),
        &["target", "dryRun", "applications"],
    ))
    .destructive(false)
    .idempotent(true)
}

/// A directory name as an Application name.
fn app_name(prefix: &str, directory: &str) -> String {
    let name: String = directory
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}{}", name.trim_matches('-'))
}

fn destination(arguments: &Value, namespace: &str) -> Value {
    match args::str(arguments, "destinationName") {
        Some(name) => json!({"name": name, "namespace": namespace}),
        None => {
            json!({"server": args::str(arguments, "destinationServer").unwrap_or(IN_CLUSTER), "namespace": namespace})
        }
    }
}

fn application(
    arguments: &Value,
    name: &str,
    path: &str,
    namespace: &str,
    parent: Option<&str>,
) -> Value {
    let mut policy = json!({"syncOptions": ["CreateNamespace=true"]});
    if arguments["automated"].as_bool().unwrap_or(false) {
        policy["automated"] = json!({"prune": true, "selfHeal": true});
    }
    let mut app = json!({
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": args::str(arguments, "project").unwrap_or("default"),
            "source": {"repoURL": args::str(arguments, "repo"), "path": path,
                       "targetRevision": args::str(arguments, "revision").unwrap_or("HEAD")},
            "destination": destination(arguments, namespace),
            "syncPolicy": policy,
        },
    });
    if let Some(parent) = parent {
        app["metadata"]["labels"] = json!({"app.kubernetes.io/part-of": parent});
    }
    app
}

/// The Applications the call describes: one per directory directly under `path`, then the
/// parent when asked.
fn plan(arguments: &Value, paths: &[Value]) -> Vec<Value> {
    let under = args::str(arguments, "path")
        .unwrap_or_default()
        .trim_matches('/');
    let prefix = args::str(arguments, "namePrefix").unwrap_or_default();
    let parent = args::str(arguments, "appOfApps");
    let mut apps: Vec<Value> = paths
        .iter()
        .filter_map(|entry| {
            let path = text(&entry["path"]);
            let rest = if under.is_empty() {
                Some(path)
            } else {
                path.strip_prefix(under)?.strip_prefix('/')
            };
            rest.filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(|directory| {
                    application(
                        arguments,
                        &app_name(prefix, directory),
                        path,
                        &app_name("", directory),
                        parent,
                    )
                })
        })
        .take(MAX_APPS)
        .collect();
    if let Some(parent) = parent {
        let path = args::str(arguments, "appOfAppsPath").unwrap_or(under);
        let mut root = application(arguments, parent, path, "argocd", None);
        root["spec"]["destination"] = json!({"server": IN_CLUSTER, "namespace": "argocd"});
        apps.push(root);
    }
    apps
}

fn row(app: &Value) -> Value {
    json!({"name": app["metadata"]["name"], "path": app["spec"]["source"]["path"],
           "destination": app["spec"]["destination"], "project": app["spec"]["project"],
           "automated": app["spec"]["syncPolicy"]["automated"].is_object()})
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let repo = args::required_str(arguments, "repo")?;
    let paths = app_paths(
        &client,
        repo,
        args::str(arguments, "revision"),
        args::str(arguments, "project"),
    )?;
    let planned = plan(arguments, &paths);
    if planned.is_empty() {
        return Err(ToolError::new(format!(
            "Argo CD finds no application directories directly under `{}` in {repo}; list_repository_apps shows where they are",
            args::str(arguments, "path").unwrap_or_default()
        )));
    }
    let dry_run = arguments["dryRun"].as_bool().unwrap_or(true);
    let rows: Vec<Value> = planned.iter().map(row).collect();
    let mut answer = json!({"target": client.target(), "dryRun": dry_run, "applications": rows});
    if dry_run {
        answer["next"] = json!(
            "Nothing was created. Call again with dryRun: false to create these applications."
        );
        return Ok(ToolResult::structured(answer));
    }
    let (mut created, mut failed) = (Vec::new(), Vec::new());
    for app in &planned {
        let name = text(&app["metadata"]["name"]).to_owned();
        match client.send(
            Method::POST,
            "/api/v1/applications",
            &Query::default(),
            Some(app),
            "Check the target's URL.",
        ) {
            Ok(_) => created.push(json!(name)),
            Err(error) => failed.push(json!({"name": name, "error": error.message()})),
        }
    }
    answer["created"] = json!(created);
    answer["failed"] = json!(failed);
    Ok(ToolResult::structured(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_one_app_per_direct_subdirectory_and_a_parent() {
        let paths = vec![
            json!({"path": "apps/web"}),
            json!({"path": "apps/Cert_Manager"}),
            json!({"path": "apps/web/overlays/prod"}),
            json!({"path": "other/x"}),
        ];
        let arguments = json!({"repo": "https://git.example.com/r.git", "path": "apps/", "namePrefix": "p-", "appOfApps": "root"});
        let apps = plan(&arguments, &paths);
        let names: Vec<&str> = apps
            .iter()
            .map(|a| a["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["p-web", "p-cert-manager", "root"]);
        assert_eq!(apps[0]["spec"]["destination"]["namespace"], "web");
        assert_eq!(
            apps[0]["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "root"
        );
        assert_eq!(apps[2]["spec"]["source"]["path"], "apps");
    }
}
