//! Routing a request to what it addresses and answering each verb: GET and LIST, POST create,
//! PUT replace, PATCH (merge, JSON Patch, strategic merge for built-in kinds), DELETE, and the
//! `status` and `log` subresources. Every verb declares its query parameters; an undeclared
//! one is a contract violation.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::list::{FieldSelector, Page};
use super::patch::{self, PatchError};
use super::status::Status;
use super::store::{Part, Refusal, Store};
use super::types::{self, ResourceType};
use super::{Event, discovery, logs};
use crate::fakes::selector::Selector;
use crate::fakes::server::{RecordedRequest, check_segments, decode_segment, raw_segments};

/// Query parameters the API server declares for LIST (and WATCH) of a resource.
const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "pretty",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
/// … for GET of one object.
const GET_PARAMS: &[&str] = &["pretty", "resourceVersion"];
/// … for POST and PUT.
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "pretty"];
/// … for PATCH.
const PATCH_PARAMS: &[&str] = &[
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "force",
    "pretty",
];
/// … for DELETE.
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "pretty",
    "propagationPolicy",
];
/// … for `pods/{name}/log`.
const LOG_PARAMS: &[&str] = &[
    "container",
    "follow",
    "insecureSkipTLSVerifyBackend",
    "limitBytes",
    "pretty",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "stream",
    "tailLines",
    "timestamps",
];

const MERGE_PATCH: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC_PATCH: &str = "application/strategic-merge-patch+json";
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// What a request path addresses.
pub(crate) enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    Resource(Address),
}

/// A resource collection, object or subresource.
pub(crate) struct Address {
    pub(crate) rt: &'static ResourceType,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) sub: Option<String>,
}

fn bad_path(reason: String) -> Refusal {
    Refusal::Violation(Status::path_not_found(), reason)
}

/// Parses `path` (already stripped of the base path).
pub(crate) fn route(store: &Store, path: &str) -> Result<Route, Refusal> {
    let raw = raw_segments(path);
    check_segments(&raw).map_err(bad_path)?;
    let segments: Vec<String> = raw
        .iter()
        .map(|s| decode_segment(s))
        .collect::<Result<_, _>>()
        .map_err(bad_path)?;
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (group, version, rest) = match parts.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["apis", group] => return Ok(Route::Group((*group).to_owned())),
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return Err(bad_path(format!(
                "`{path}` is not a path this fake Kubernetes API serves"
            )));
        }
    };
    if rest.is_empty() {
        return Ok(Route::Resources(group.to_owned(), version.to_owned()));
    }
    let is_type = |plural: &str| types::for_path(group, plural).is_some();
    let (namespace, plural, name, sub) = match rest {
        [plural] => (None, *plural, None, None),
        ["namespaces", namespace, plural] if is_type(plural) => {
            (Some(*namespace), *plural, None, None)
        }
        ["namespaces", namespace, plural, name] => (Some(*namespace), *plural, Some(*name), None),
        ["namespaces", namespace, plural, name, sub] => {
            (Some(*namespace), *plural, Some(*name), Some(*sub))
        }
        [plural, name] => (None, *plural, Some(*name), None),
        [plural, name, sub] => (None, *plural, Some(*name), Some(*sub)),
        _ => {
            return Err(bad_path(format!(
                "`{path}` is not a resource path of {group}/{version}"
            )));
        }
    };
    let rt = resource_type(store, group, version, plural)?;
    if name.is_some() && namespace.is_some() != rt.namespaced {
        let scope = if rt.namespaced {
            "namespaced: address them under /namespaces/{namespace}/"
        } else {
            "cluster-scoped: address them without a namespace"
        };
        return Err(bad_path(format!("{} are {scope}", rt.resource_name())));
    }
    if namespace.is_some() && !rt.namespaced {
        return Err(bad_path(format!(
            "{} are cluster-scoped: list them without a namespace",
            rt.resource_name()
        )));
    }
    let served_sub = |sub: &str| match sub {
        "status" => rt.status_subresource,
        "log" => rt.group.is_empty() && rt.plural == "pods",
        _ => false,
    };
    if sub == Some("status") && rt.status_subresource && !store.has_status(rt) {
        return Err(Refusal::Answer(Status::path_not_found()));
    }
    if let Some(sub) = sub.filter(|sub| !served_sub(sub)) {
        return Err(bad_path(format!(
            "{} has no `{sub}` subresource this fake serves",
            rt.resource_name()
        )));
    }
    Ok(Route::Resource(Address {
        rt,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        sub: sub.map(str::to_owned),
    }))
}

/// The installed type serving `group/version/plural`.
fn resource_type(
    store: &Store,
    group: &str,
    version: &str,
    plural: &str,
) -> Result<&'static ResourceType, Refusal> {
    match types::for_path(group, plural) {
        Some(rt) if rt.version != version => Err(bad_path(format!(
            "{} is served as {}, not {group}/{version}",
            rt.resource_name(),
            rt.api_version()
        ))),
        Some(rt) if store.installed(rt) => Ok(rt),
        Some(_) => Err(Refusal::Answer(Status::path_not_found())),
        None => Err(bad_path(format!(
            "no known type is `{plural}` in group `{group}`"
        ))),
    }
}

/// Answers a discovery route.
pub(crate) fn discover(store: &Store, route: &Route) -> Result<Response, Refusal> {
    let found = match route {
        Route::Version => Some(version()),
        Route::CoreVersions => Some(discovery::core_versions()),
        Route::Groups => Some(discovery::groups(store)),
        Route::Group(group) => discovery::group(store, group),
        Route::Resources(group, version) => discovery::resources(store, group, version),
        Route::Resource(_) => None,
    };
    found
        .map(|value| Json(value).into_response())
        .ok_or(Refusal::Answer(Status::path_not_found()))
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.4",
        "gitCommit": crate::fakes::ids::fake_sha("kubernetes v1.33.4"), "gitTreeState": "clean",
        "buildDate": "2026-08-13T07:55:12Z", "goVersion": "go1.24.6", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The RBAC verb of a request to `address`, or a 405.
pub(crate) fn rbac_verb(method: &str, address: &Address) -> Result<&'static str, Refusal> {
    let named = address.name.is_some();
    let verb = match (method, named, address.sub.as_deref()) {
        ("GET", false, None) => "list",
        ("GET", true, _) => "get",
        ("POST", false, None) if address.namespace.is_some() || !address.rt.namespaced => "create",
        ("PUT", true, Some("status") | None) => "update",
        ("PATCH", true, Some("status") | None) => "patch",
        ("DELETE", true, None) => "delete",
        ("DELETE", false, None) => {
            let status = Status::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "the capstan fake Kubernetes API does not implement deletecollection",
            );
            return Err(Refusal::Answer(status));
        }
        _ => {
            let reason = format!("{method} is not a verb of this path");
            return Err(Refusal::Violation(Status::method_not_allowed(), reason));
        }
    };
    Ok(verb)
}

/// Answers a request to a resource; `verb` comes from [`rbac_verb`].
pub(crate) fn serve(
    store: &mut Store,
    request: &RecordedRequest,
    address: &Address,
    verb: &'static str,
) -> Result<(Response, Event), Refusal> {
    let query = request.query_pairs();
    let rt = address.rt;
    let namespace = address.namespace.clone().unwrap_or_default();
    let name = address.name.clone().unwrap_or_default();
    let event = Event {
        verb,
        api_version: rt.api_version(),
        kind: rt.kind.clone(),
        namespace: address.namespace.clone(),
        name: address.name.clone(),
        subresource: address.sub.clone(),
        dry_run: query.iter().any(|(key, _)| key == "dryRun"),
    };
    let response = match (verb, address.sub.as_deref()) {
        ("list", _) => {
            check_query(&query, LIST_PARAMS, "list")?;
            Json(list(store, address, &query)?).into_response()
        }
        ("get", Some("log")) => {
            check_query(&query, LOG_PARAMS, "pods/log")?;
            let text = logs::render(store, rt, &namespace, &name, &query)?;
            ([("content-type", "text/plain")], text).into_response()
        }
        ("get", _) => {
            check_query(&query, GET_PARAMS, "get")?;
            let object = store
                .get(rt, &namespace, &name)
                .ok_or_else(|| Refusal::Answer(Status::not_found(rt, &name)))?;
            Json(object.clone()).into_response()
        }
        ("create", _) => {
            let dry_run = write_options(&query, WRITE_PARAMS, "create")?;
            let body = json_body(request)?;
            let created = store.create(rt, &namespace, body, dry_run)?;
            (StatusCode::CREATED, Json(created)).into_response()
        }
        ("update", sub) => {
            let dry_run = write_options(&query, WRITE_PARAMS, "update")?;
            let body = json_body(request)?;
            let written =
                store.write(rt, &namespace, &name, body, Some(part(sub)), true, dry_run)?;
            Json(written).into_response()
        }
        ("patch", sub) => {
            let dry_run = write_options(&query, PATCH_PARAMS, "patch")?;
            let current = store
                .get(rt, &namespace, &name)
                .cloned()
                .ok_or_else(|| Refusal::Answer(Status::not_found(rt, &name)))?;
            let patched = apply_patch(rt, request, current)?;
            let written = store.write(
                rt,
                &namespace,
                &name,
                patched,
                Some(part(sub)),
                false,
                dry_run,
            )?;
            Json(written).into_response()
        }
        ("delete", _) => {
            let dry_run = write_options(&query, DELETE_PARAMS, "delete")?;
            let deleted = store.delete(rt, &namespace, &name, dry_run)?;
            match rt.is_crd() {
                true => Json(deleted).into_response(),
                false => Json(json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                "uid": deleted["metadata"]["uid"]},
                }))
                .into_response(),
            }
        }
        _ => {
            return Err(Refusal::Violation(
                Status::method_not_allowed(),
                format!("{verb} is not served here"),
            ));
        }
    };
    Ok((response, event))
}

fn part(sub: Option<&str>) -> Part {
    match sub {
        Some("status") => Part::Status,
        _ => Part::Main,
    }
}

fn list(store: &Store, address: &Address, query: &[(String, String)]) -> Result<Value, Refusal> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if param("watch").is_some_and(|watch| watch == "true" || watch == "1") {
        let status = Status::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the capstan fake Kubernetes API does not implement watch",
        );
        return Err(Refusal::Answer(status));
    }
    let bad = |message: String| Refusal::Answer(Status::bad_request(message));
    let labels = Selector::parse(param("labelSelector").unwrap_or_default()).map_err(bad)?;
    let fields = FieldSelector::parse(param("fieldSelector").unwrap_or_default(), address.rt)
        .map_err(bad)?;
    let items: Vec<&Value> = store
        .list(address.rt, address.namespace.as_deref())
        .into_iter()
        .filter(|object| labels.matches(object["metadata"]["labels"].as_object()))
        .filter(|object| fields.matches(object))
        .collect();
    let page = Page::parse(param("limit"), param("continue")).map_err(bad)?;
    Ok(page.render(address.rt, &items, store.resource_version()))
}

/// Checks a write's query and says whether it is a dry run.
fn write_options(
    query: &[(String, String)],
    declared: &[&str],
    verb: &str,
) -> Result<bool, Refusal> {
    check_query(query, declared, verb)?;
    let mut dry_run = false;
    for (key, value) in query {
        let valid = match key.as_str() {
            "dryRun" => {
                dry_run = true;
                value == "All"
            }
            "fieldValidation" => ["Strict", "Warn", "Ignore"].contains(&value.as_str()),
            _ => true,
        };
        if !valid {
            let message = format!("invalid {key} `{value}`");
            return Err(Refusal::Violation(Status::bad_request(&message), message));
        }
    }
    Ok(dry_run)
}

fn check_query(query: &[(String, String)], declared: &[&str], verb: &str) -> Result<(), Refusal> {
    match query
        .iter()
        .find(|(name, _)| !declared.contains(&name.as_str()))
    {
        None => Ok(()),
        Some((name, _)) => {
            let reason = format!(
                "query parameter `{name}` is not declared for {verb}; declared: {}",
                declared.join(", ")
            );
            Err(Refusal::Violation(Status::bad_request(&reason), reason))
        }
    }
}

/// The media type of the request body, without parameters.
fn media_type(request: &RecordedRequest) -> String {
    request
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn parse_body(request: &RecordedRequest) -> Result<Value, Refusal> {
    serde_json::from_slice(&request.body).map_err(|error| {
        let message = format!("the request body is not JSON: {error}");
        Refusal::Violation(Status::bad_request(&message), message)
    })
}

fn json_body(request: &RecordedRequest) -> Result<Value, Refusal> {
    let media = media_type(request);
    if media != "application/json" {
        let status = Status::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ]);
        return Err(Refusal::Violation(
            status,
            format!("a create or update sent as `{media}`"),
        ));
    }
    parse_body(request)
}

fn apply_patch(
    rt: &ResourceType,
    request: &RecordedRequest,
    mut current: Value,
) -> Result<Value, Refusal> {
    let media = media_type(request);
    let mut accepted = vec![JSON_PATCH, MERGE_PATCH, APPLY_PATCH];
    if !rt.is_crd() {
        accepted.insert(2, STRATEGIC_PATCH);
    }
    match media.as_str() {
        MERGE_PATCH => patch::merge_patch(&mut current, &parse_body(request)?),
        STRATEGIC_PATCH if !rt.is_crd() => {
            patch::strategic_merge_patch(&mut current, &parse_body(request)?)
        }
        JSON_PATCH => {
            patch::json_patch(&mut current, &parse_body(request)?).map_err(|error| match error {
                PatchError::Malformed(message) => {
                    Refusal::Violation(Status::bad_request(&message), message)
                }
                PatchError::Unapplicable(message) => {
                    Refusal::Answer(Status::unprocessable(message))
                }
            })?
        }
        APPLY_PATCH => {
            let status = Status::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                "the capstan fake Kubernetes API does not implement server-side apply",
            );
            return Err(Refusal::Answer(status));
        }
        other => {
            let reason = match other {
                STRATEGIC_PATCH => format!(
                    "strategic merge patch is not supported for custom resources ({})",
                    rt.resource_name()
                ),
                other => format!("`{other}` is not a patch type"),
            };
            return Err(Refusal::Violation(
                Status::unsupported_media_type(&accepted),
                reason,
            ));
        }
    }
    Ok(current)
}
