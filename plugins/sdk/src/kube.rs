//! A Kubernetes API client for plugins: get, list (label and field selectors, paging), create,
//! replace (PUT, `resourceVersion`-guarded), merge and JSON patches of the main resource or its
//! `status` subresource, and pod logs. Every path segment and query value is percent-encoded.
//!
//! Errors read the API's `Status` body and say what to do: a 403 names the RBAC verb and
//! resource the target's credentials lack, a 404 tells a missing object from a missing CRD,
//! a 409 tells a stale `resourceVersion` from an existing object, a 422 quotes the API's
//! validation message.
//!
//! ```ignore
//! use capstan_sdk::kube::{Client, Resource, Subresource};
//! const ROLLOUTS: Resource = Resource { group: "argoproj.io", version: "v1alpha1", plural: "rollouts", kind: "Rollout" };
//! let client = Client::for_target(ctx, None)?;
//! let rollout = client.get(ROLLOUTS, Some("shop"), "web")?;
//! client.merge_patch(ROLLOUTS, Some("shop"), "web", Subresource::Status, &json!({"status": {"abort": true}}))?;
//! ```
//!
//! The host adds the target's credentials; plugins never handle a token. Object names are
//! checked before any request: `.` and `..` (which Kubernetes forbids, and which would climb
//! the path) are refused with a message naming the kind.

use crate::http::{Request, Response, excerpt};
use crate::url::{encode, segment};
use crate::{Context, ToolError, Value};
use wstd::http::Method;

/// Objects asked for per page.
const PAGE_SIZE: usize = 500;
/// Pages followed before giving up (so at most 10,000 objects).
const MAX_PAGES: usize = 20;

/// `application/merge-patch+json`: RFC 7386.
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// `application/json-patch+json`: RFC 6902.
pub const JSON_PATCH: &str = "application/json-patch+json";

/// A resource type: group, version and plural as the API paths spell them. The core group is
/// `""` (paths under `/api/v1`).
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// API group, e.g. `argoproj.io`; `""` for core kinds such as Pods.
    pub group: &'static str,
    /// API version, e.g. `v1alpha1`.
    pub version: &'static str,
    /// Plural resource name as it appears in paths, e.g. `rollouts`.
    pub plural: &'static str,
    /// Kind, e.g. `Rollout`.
    pub kind: &'static str,
}

impl Resource {
    /// `plural.group` (or `plural` for the core group), as RBAC rules and CRDs name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `group/version`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object itself (`…/{name}`); with a status subresource, `status` changes are ignored.
    Main,
    /// The `status` subresource (`…/{name}/status`); only `status` changes count.
    Status,
}

/// Label and field selectors of a list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions<'a> {
    /// A label selector, e.g. `app=web,tier!=db`.
    pub label_selector: Option<&'a str>,
    /// A field selector, e.g. `metadata.name=web`.
    pub field_selector: Option<&'a str>,
}

/// What to read of a container's log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions<'a> {
    /// The container (required when the pod has several).
    pub container: Option<&'a str>,
    /// Only the last this many lines.
    pub tail_lines: Option<u64>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<u64>,
    /// Prefix each line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
    /// At most this many bytes.
    pub limit_bytes: Option<u64>,
}

/// Why a request failed: the HTTP status and `Status.reason` (when the API answered) and a
/// message for the agent that says what to do.
#[derive(Debug)]
pub struct KubeError {
    /// The HTTP status, when the API answered.
    pub status: Option<u16>,
    /// The `reason` of the API's `Status` (`NotFound`, `Conflict`, `AlreadyExists`, …).
    pub reason: Option<String>,
    /// What went wrong, for the agent.
    pub message: String,
    /// A 404 because the API does not serve the path (a CRD or a subresource that is not
    /// installed), not because the object is missing.
    pub path_missing: bool,
}

impl KubeError {
    /// Whether this is a 409 Conflict on a stale `resourceVersion` (retry with a fresh GET).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409) && self.reason.as_deref() == Some("Conflict")
    }

    /// Whether the addressed object (not its type) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    fn transport(message: String) -> Self {
        Self {
            status: None,
            reason: None,
            message,
            path_missing: false,
        }
    }
}

/// A name the URL cannot hold (`.` or `..`); nothing was sent.
impl From<ToolError> for KubeError {
    fn from(error: ToolError) -> Self {
        Self::transport(error.message().to_owned())
    }
}

impl From<KubeError> for ToolError {
    fn from(error: KubeError) -> Self {
        ToolError::new(error.message)
    }
}

impl std::fmt::Display for KubeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a request did, for error messages: the RBAC verb, the resource and the object.
struct Action<'a> {
    verb: &'static str,
    resource: Resource,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

/// A connection to one Kubernetes API target of this instance.
pub struct Client {
    context: Context,
    target: String,
    base: String,
}

impl Client {
    /// The client for `target`, or for the instance's default target when `None`.
    pub fn for_target(context: &Context, target: Option<&str>) -> Result<Self, ToolError> {
        let (target, base) = context.config().resolve_target(target)?;
        Ok(Self {
            context: context.clone(),
            target,
            base,
        })
    }

    /// The call's context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The target's name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The URL of a collection (`name` `None`), an object or a subresource.
    pub fn url(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: Option<&str>,
        subresource: Option<&str>,
    ) -> Result<String, ToolError> {
        let mut url = match resource.group {
            "" => format!("{}/api/{}", self.base, segment(resource.version)?),
            group => format!(
                "{}/apis/{}/{}",
                self.base,
                segment(group)?,
                segment(resource.version)?
            ),
        };
        if let Some(namespace) = namespace {
            url.push_str(&format!("/namespaces/{}", segment(namespace)?));
        }
        url.push('/');
        url.push_str(&segment(resource.plural)?);
        for part in [name, subresource].into_iter().flatten() {
            url.push('/');
            url.push_str(&segment(part)?);
        }
        Ok(url)
    }

    /// GET one object (`namespace` `None` for cluster-scoped kinds).
    pub fn get(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        let url = self.url(resource, namespace, Some(name), None)?;
        let action = Action {
            verb: "get",
            resource,
            namespace,
            name: Some(name),
            subresource: None,
        };
        self.send_json(Request::get(url), &action)
    }

    /// Every object of `resource` in `namespace` (or all namespaces) matching `label_selector`,
    /// following `continue` tokens.
    pub fn list(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, KubeError> {
        let options = ListOptions {
            label_selector,
            field_selector: None,
        };
        self.list_with(resource, namespace, options)
    }

    /// [`Client::list`] with label and field selectors.
    pub fn list_with(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        options: ListOptions<'_>,
    ) -> Result<Vec<Value>, KubeError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        let action = Action {
            verb: "list",
            resource,
            namespace,
            name: None,
            subresource: None,
        };
        for _ in 0..MAX_PAGES {
            let url = self.list_url(resource, namespace, options, token.as_deref())?;
            let page = self.send_json(Request::get(url), &action)?;
            items.extend(page["items"].as_array().into_iter().flatten().cloned());
            match page["metadata"]["continue"]
                .as_str()
                .filter(|token| !token.is_empty())
            {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
        Err(KubeError::transport(format!(
            "more than {} {} objects match; narrow the list with a namespace or a label selector",
            PAGE_SIZE * MAX_PAGES,
            resource.kind
        )))
    }

    /// POST a new object.
    pub fn create(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<Value, KubeError> {
        let url = self.url(resource, namespace, None, None)?;
        let name = object["metadata"]["name"].as_str();
        let action = Action {
            verb: "create",
            resource,
            namespace,
            name,
            subresource: None,
        };
        self.send_json(Request::post(url).json(object), &action)
    }

    /// PUT `object` over `name`. The API refuses it with a 409 Conflict
    /// ([`KubeError::is_conflict`]) when `metadata.resourceVersion` is not the stored one.
    pub fn replace(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
        object: &Value,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        let url = self.url(resource, namespace, Some(name), None)?;
        let action = Action {
            verb: "update",
            resource,
            namespace,
            name: Some(name),
            subresource: None,
        };
        self.send_json(Request::new(Method::PUT, url).json(object), &action)
    }

    /// PATCH with a JSON merge patch (RFC 7386) the object or its status.
    pub fn merge_patch(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
        part: Subresource,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        self.patch(resource, namespace, name, part, MERGE_PATCH, patch)
    }

    /// PATCH with a JSON Patch (RFC 6902, an array of operations) the object or its status.
    pub fn json_patch(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
        part: Subresource,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        self.patch(resource, namespace, name, part, JSON_PATCH, patch)
    }

    /// PATCH with `content_type` (one of [`MERGE_PATCH`], [`JSON_PATCH`]; custom resources
    /// take no strategic merge patch).
    pub fn patch(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        name: &str,
        part: Subresource,
        content_type: &str,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        let subresource = (part == Subresource::Status).then_some("status");
        let url = self.url(resource, namespace, Some(name), subresource)?;
        let request = Request::new(Method::PATCH, url)
            .header("content-type", content_type)
            .body(patch.to_string());
        let action = Action {
            verb: "patch",
            resource,
            namespace,
            name: Some(name),
            subresource,
        };
        self.send_json(request, &action)
    }

    /// The log of a pod's container, as text.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: LogOptions<'_>,
    ) -> Result<String, KubeError> {
        const PODS: Resource = Resource {
            group: "",
            version: "v1",
            plural: "pods",
            kind: "Pod",
        };
        check_name(PODS, pod)?;
        let mut url = self.url(PODS, Some(namespace), Some(pod), Some("log"))?;
        let mut query: Vec<String> = Vec::new();
        if let Some(container) = options.container {
            query.push(format!("container={}", encode(container)));
        }
        for (key, value) in [
            ("tailLines", options.tail_lines),
            ("sinceSeconds", options.since_seconds),
            ("limitBytes", options.limit_bytes),
        ] {
            if let Some(value) = value {
                query.push(format!("{key}={value}"));
            }
        }
        for (key, on) in [
            ("timestamps", options.timestamps),
            ("previous", options.previous),
        ] {
            if on {
                query.push(format!("{key}=true"));
            }
        }
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let action = Action {
            verb: "get",
            resource: PODS,
            namespace: Some(namespace),
            name: Some(pod),
            subresource: Some("log"),
        };
        let response = self.send(Request::get(url), &action)?;
        Ok(response.text())
    }

    fn list_url(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        options: ListOptions<'_>,
        token: Option<&str>,
    ) -> Result<String, ToolError> {
        let mut url = format!(
            "{}?limit={PAGE_SIZE}",
            self.url(resource, namespace, None, None)?
        );
        for (key, value) in [
            ("labelSelector", options.label_selector),
            ("fieldSelector", options.field_selector),
            ("continue", token),
        ] {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                url.push_str(&format!("&{key}={}", encode(value)));
            }
        }
        Ok(url)
    }

    fn send(&self, request: Request, action: &Action<'_>) -> Result<Response, KubeError> {
        let response = self
            .context
            .send(request.header("accept", "application/json"))
            .map_err(|error| KubeError::transport(error.to_string()))?;
        if !response.is_success() {
            return Err(self.failure(&response, action));
        }
        Ok(response)
    }

    fn send_json(&self, request: Request, action: &Action<'_>) -> Result<Value, KubeError> {
        let response = self.send(request, action)?;
        response.json().map_err(|error| KubeError {
            status: Some(response.status),
            reason: None,
            path_missing: false,
            message: format!(
                "target `{}` answered with a body that is not JSON ({error}); check that its URL \
                 points at a Kubernetes API server",
                self.target
            ),
        })
    }

    fn failure(&self, response: &Response, action: &Action<'_>) -> KubeError {
        let status: Value = response.json().unwrap_or(Value::Null);
        let api_message = status["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| excerpt(response.text().trim(), 300));
        let reason = status["reason"].as_str().map(str::to_owned);
        let resource = action.resource;
        let object = describe(action);
        let path_missing =
            response.status == 404 && status["details"]["name"].as_str().is_none_or(str::is_empty);
        let hint = match (response.status, reason.as_deref()) {
            (401, _) => format!(
                "check the `auth` of target `{}` in the capstan manifest",
                self.target
            ),
            (403, _) => {
                let scope = match action.namespace {
                    Some(namespace) => format!("in namespace `{namespace}`"),
                    None => "cluster-wide".to_owned(),
                };
                let mut name = resource.plural.to_owned();
                if let Some(sub) = action.subresource {
                    name = format!("{name}/{sub}");
                }
                format!(
                    "the credentials of target `{}` need RBAC verb `{}` on resource `{name}` in API group `{}` {scope}; ask the cluster admin to grant it",
                    self.target, action.verb, resource.group
                )
            }
            (404, _) if !path_missing => {
                format!("{object} does not exist; check the name and namespace, or list them first")
            }
            (404, _) if action.subresource.is_some() => format!(
                "the {} API on target `{}` serves no `{}` subresource",
                resource.qualified(),
                self.target,
                action.subresource.unwrap_or_default()
            ),
            (404, _) => format!(
                "the {} CRD (version {}) is not installed on target `{}`, or its API is not served there",
                resource.qualified(),
                resource.version,
                self.target
            ),
            (409, Some("AlreadyExists")) => format!("{object} already exists; pick another name"),
            (409, _) => {
                format!("{object} changed while this call was updating it; call the tool again")
            }
            (422, _) => "the API refused the change as invalid: the message names the field and the rule it breaks".to_owned(),
            _ => String::new(),
        };
        let message = format!(
            "the Kubernetes API (target `{}`) answered HTTP {} to {} {object}: {api_message}{}{hint}",
            self.target,
            response.status,
            action.verb,
            if hint.is_empty() { "" } else { " — " },
        );
        KubeError {
            status: Some(response.status),
            reason,
            message,
            path_missing,
        }
    }
}

/// Refuses `.` and `..`: Kubernetes forbids them as object names, and in a URL they would
/// climb the path instead of naming an object.
pub fn check_name(resource: Resource, name: &str) -> Result<(), KubeError> {
    match name {
        "." | ".." => Err(KubeError::transport(format!(
            "`{name}` is not a valid {} name (Kubernetes forbids `.` and `..`); pass the \
             object's metadata.name as the list tools show it",
            resource.kind
        ))),
        _ => Ok(()),
    }
}

/// `Rollout shop/web`, `Rollout shop/web (status)` or `Rollouts in shop`.
fn describe(action: &Action<'_>) -> String {
    let kind = action.resource.kind;
    match (action.name, action.namespace) {
        (Some(name), Some(namespace)) => {
            let sub = action
                .subresource
                .map(|sub| format!(" ({sub})"))
                .unwrap_or_default();
            format!("{kind} `{namespace}/{name}`{sub}")
        }
        (Some(name), None) => format!("{kind} `{name}`"),
        (None, Some(namespace)) => format!("{kind} objects in namespace `{namespace}`"),
        (None, None) => format!("{kind} objects"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLLOUTS: Resource = Resource {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "rollouts",
        kind: "Rollout",
    };

    fn client() -> Client {
        let fixture = crate::fixture::Fixture::new().target("t", "http://k/prefix");
        Client::for_target(&fixture.context(), None).unwrap()
    }

    #[test]
    fn list_urls_encode_every_part() {
        let client = client();
        assert_eq!(
            client
                .list_url(ROLLOUTS, None, ListOptions::default(), None)
                .unwrap(),
            "http://k/prefix/apis/argoproj.io/v1alpha1/rollouts?limit=500"
        );
        let options = ListOptions {
            label_selector: Some("app in (x,y)"),
            field_selector: Some("metadata.name=a"),
        };
        assert_eq!(
            client
                .list_url(ROLLOUTS, Some("a/b"), options, Some("c:1"))
                .unwrap(),
            "http://k/prefix/apis/argoproj.io/v1alpha1/namespaces/a%2Fb/rollouts?limit=500\
             &labelSelector=app%20in%20%28x%2Cy%29&fieldSelector=metadata.name%3Da&continue=c%3A1"
        );
    }

    #[test]
    fn object_urls_keep_names_in_their_segment() {
        let client = client();
        assert_eq!(
            client
                .url(ROLLOUTS, Some("shop"), Some("../x"), Some("status"))
                .unwrap(),
            "http://k/prefix/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/..%2Fx/status"
        );
        let pods = Resource {
            group: "",
            version: "v1",
            plural: "pods",
            kind: "Pod",
        };
        assert!(client.url(pods, Some("shop"), Some(".."), None).is_err());
        assert_eq!(ROLLOUTS.qualified(), "rollouts.argoproj.io");
        assert_eq!(pods.api_version(), "v1");
    }

    #[test]
    fn dot_names_are_refused_before_any_request() {
        let fixture = crate::fixture::Fixture::new().target("t", "http://k");
        let client = Client::for_target(&fixture.context(), None).unwrap();
        for name in [".", ".."] {
            let error = client.get(ROLLOUTS, Some("shop"), name).unwrap_err();
            assert!(
                error.message.contains("not a valid Rollout name"),
                "{error}"
            );
            let patch = client.merge_patch(
                ROLLOUTS,
                Some("shop"),
                name,
                Subresource::Status,
                &Value::Null,
            );
            assert!(patch.is_err());
        }
        assert!(fixture.requests().is_empty());
    }

    #[test]
    fn a_denied_verb_names_the_rbac_rule_to_grant() {
        let status = r#"{"kind":"Status","reason":"Forbidden","message":"rollouts.argoproj.io \"web\" is forbidden","details":{"name":"web"}}"#;
        let fixture = crate::fixture::Fixture::new()
            .target("t", "http://k")
            .on_status_json(
                "PATCH",
                "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web/status",
                403,
                status,
            );
        let client = Client::for_target(&fixture.context(), None).unwrap();
        let patch = serde_json::json!({"status": {"abort": true}});
        let error = client
            .merge_patch(ROLLOUTS, Some("shop"), "web", Subresource::Status, &patch)
            .unwrap_err();
        assert!(
            error.message.contains("RBAC verb `patch` on resource `rollouts/status` in API group `argoproj.io` in namespace `shop`"),
            "{error}"
        );
        let sent = &fixture.requests()[0];
        assert_eq!(sent.header("content-type"), Some(MERGE_PATCH));
        assert_eq!(sent.json(), patch);
    }

    #[test]
    fn lists_follow_continue_tokens() {
        let fixture = crate::fixture::Fixture::new()
            .target("t", "http://k")
            .on_json(
                "GET",
                "/apis/argoproj.io/v1alpha1/rollouts?limit=500",
                r#"{"items":[{"n":1}],"metadata":{"continue":"next"}}"#,
            )
            .on_json(
                "GET",
                "/apis/argoproj.io/v1alpha1/rollouts?limit=500&continue=next",
                r#"{"items":[{"n":2}],"metadata":{}}"#,
            );
        let client = Client::for_target(&fixture.context(), None).unwrap();
        let items = client.list(ROLLOUTS, None, None).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(fixture.requests().len(), 2);
    }
}
