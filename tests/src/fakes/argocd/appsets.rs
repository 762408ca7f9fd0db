//! ApplicationSetService: List, Get, Create (`upsert`, `dryRun`), Delete and Generate (the
//! dry-run preview). Generate renders the template for the `list` generator's elements and the
//! `git` generator's directories (from the repositories the fake knows), with `{{param}}` and
//! `{{.param}}` substitutions.

use serde_json::{Map, Value, json};

use super::app::RECONCILED_AT;
use super::store::{Answer, ApiError, CONTROL_PLANE_NAMESPACE, Call, Store, ok};
use crate::fakes::ids::fake_uid;
use crate::fakes::selector::Selector;

fn namespace<'a>(call: &'a Call<'_>) -> &'a str {
    call.query
        .first("appsetNamespace")
        .filter(|ns| !ns.is_empty())
        .unwrap_or(CONTROL_PLANE_NAMESPACE)
}

fn index(store: &Store, name: &str, namespace: &str) -> Option<usize> {
    store.appsets.iter().position(|set| {
        set["metadata"]["name"] == name
            && set["metadata"]["namespace"]
                .as_str()
                .unwrap_or(CONTROL_PLANE_NAMESPACE)
                == namespace
    })
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("applicationsets.argoproj.io \"{name}\" not found"))
}

pub(crate) fn list(store: &mut Store, call: &Call<'_>) -> Answer {
    let selector = Selector::parse(call.query.first("selector").unwrap_or_default())
        .map_err(|message| ApiError::invalid(format!("error parsing the selector: {message}")))?;
    let projects = call.query.all("projects");
    let namespace = call
        .query
        .first("appsetNamespace")
        .filter(|ns| !ns.is_empty());
    let items: Vec<&Value> = store
        .appsets
        .iter()
        .filter(|set| selector.matches(set["metadata"]["labels"].as_object()))
        .filter(|set| namespace.is_none_or(|ns| set["metadata"]["namespace"] == ns))
        .filter(|set| {
            projects.is_empty()
                || projects
                    .iter()
                    .any(|p| set["spec"]["template"]["spec"]["project"] == *p)
        })
        .collect();
    ok(json!({"metadata": {}, "items": items}))
}

pub(crate) fn get(store: &mut Store, call: &Call<'_>) -> Answer {
    let name = call.param("name");
    let found = index(store, name, namespace(call)).ok_or_else(|| not_found(name))?;
    ok(store.appsets[found].clone())
}

pub(crate) fn delete(store: &mut Store, call: &Call<'_>) -> Answer {
    let name = call.param("name");
    let found = index(store, name, namespace(call)).ok_or_else(|| not_found(name))?;
    store.appsets.remove(found);
    ok(json!({}))
}

pub(crate) fn create(store: &mut Store, call: &Call<'_>) -> Answer {
    let mut set = call.body.clone();
    let name = set["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "ApplicationSet.argoproj.io \"\" is invalid: metadata.name: Required value",
        ));
    }
    let namespace = set["metadata"]["namespace"]
        .as_str()
        .unwrap_or(CONTROL_PLANE_NAMESPACE)
        .to_owned();
    let project = set["spec"]["template"]["spec"]["project"]
        .as_str()
        .unwrap_or_default();
    if !project.contains("{{") && store.project(project).is_none() {
        return Err(ApiError::invalid(format!(
            "ApplicationSet references project {project} which does not exist"
        )));
    }
    generate_apps(store, &set)?;
    let existing = index(store, &name, &namespace);
    if existing.is_some() && !call.query.flag("upsert").unwrap_or(false) {
        if store.appsets[existing.unwrap_or_default()]["spec"] == set["spec"] {
            return ok(store.appsets[existing.unwrap_or_default()].clone());
        }
        return Err(ApiError::invalid(
            "existing ApplicationSet spec is different, use upsert flag to force update",
        ));
    }
    set["metadata"]["namespace"] = json!(namespace);
    set["metadata"]["uid"] = json!(fake_uid(&format!("appset/{namespace}/{name}")));
    set["metadata"]["creationTimestamp"] = json!(RECONCILED_AT);
    set["metadata"]["resourceVersion"] = json!(store.next_version());
    if call.query.flag("dryRun").unwrap_or(false) {
        return ok(set);
    }
    match existing {
        Some(found) => store.appsets[found] = set.clone(),
        None => store.appsets.push(set.clone()),
    }
    ok(set)
}

pub(crate) fn generate(store: &mut Store, call: &Call<'_>) -> Answer {
    let set = &call.body["applicationSet"];
    let applications = generate_apps(store, set)?;
    ok(json!({"applications": applications}))
}

/// The Applications `set` would generate.
fn generate_apps(store: &Store, set: &Value) -> Result<Vec<Value>, ApiError> {
    let template = &set["spec"]["template"];
    let mut applications = Vec::new();
    for generator in set["spec"]["generators"].as_array().into_iter().flatten() {
        for params in parameters(store, generator)? {
            let mut app = render(template, &params);
            app["metadata"]["namespace"] = json!(CONTROL_PLANE_NAMESPACE);
            applications.push(app);
        }
    }
    Ok(applications)
}

fn parameters(store: &Store, generator: &Value) -> Result<Vec<Map<String, Value>>, ApiError> {
    if let Some(elements) = generator["list"]["elements"].as_array() {
        return Ok(elements
            .iter()
            .filter_map(|e| e.as_object().cloned())
            .collect());
    }
    if generator["git"].is_object() {
        let repo = generator["git"]["repoURL"].as_str().unwrap_or_default();
        let paths = store.repos.get(repo).ok_or_else(|| {
            ApiError::invalid(format!(
                "error generating params from git: repository not found: {repo}"
            ))
        })?;
        let patterns: Vec<&str> = generator["git"]["directories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["exclude"] != true)
            .filter_map(|d| d["path"].as_str())
            .collect();
        return Ok(paths
            .iter()
            .filter(|(path, _)| patterns.iter().any(|p| directory_match(p, path)))
            .map(|(path, _)| {
                let basename = path.rsplit('/').next().unwrap_or(path);
                let mut params = Map::new();
                params.insert("path".into(), json!(path));
                params.insert("path.path".into(), json!(path));
                params.insert("path.basename".into(), json!(basename));
                params.insert(
                    "path.basenameNormalized".into(),
                    json!(basename.replace(['_', '.'], "-")),
                );
                params
            })
            .collect());
    }
    Err(ApiError::invalid(
        "the fake Argo CD generates from list and git directory generators only",
    ))
}

/// `apps/*` matches one directory level under `apps`.
fn directory_match(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix("/*") {
        Some(prefix) => path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
        None => pattern == path,
    }
}

fn render(template: &Value, params: &Map<String, Value>) -> Value {
    match template {
        Value::String(text) => {
            let mut text = text.clone();
            for (key, value) in params {
                let value = value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string());
                for form in [
                    format!("{{{{{key}}}}}"),
                    format!("{{{{.{key}}}}}"),
                    format!("{{{{ .{key} }}}}"),
                    format!("{{{{ {key} }}}}"),
                ] {
                    text = text.replace(&form, &value);
                }
            }
            Value::String(text)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| render(item, params)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render(v, params)))
                .collect(),
        ),
        other => other.clone(),
    }
}
