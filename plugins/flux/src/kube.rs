//! The Kubernetes API calls this plugin makes: GET, LIST (label and field selectors, paged),
//! JSON merge PATCH and pod logs, with every name percent-encoded into its own path segment and
//! `Status` error bodies turned into messages that say what to do.
//!
//! Written against the same shapes as `capstan_sdk::kube` (a [`Resource`] and a target), so it
//! can move onto a general SDK client unchanged. The host adds the target's credentials.

use capstan_sdk::http::wstd::http::Method;
use capstan_sdk::http::{Request, Response, excerpt};
use capstan_sdk::kube::Resource;
use capstan_sdk::url::{encode, segment};
use capstan_sdk::{ToolError, Value, config};

/// Objects asked for per page.
const PAGE_SIZE: usize = 500;
/// Pages followed before giving up.
const MAX_PAGES: usize = 20;
/// The content type of a JSON merge patch (RFC 7386), as `flux reconcile` sends it.
pub(crate) const MERGE_PATCH: &str = "application/merge-patch+json";

/// Why a request failed: the HTTP status, when there was an answer, and a message for the agent.
#[derive(Debug)]
pub(crate) struct KubeError {
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
}

impl From<KubeError> for ToolError {
    fn from(error: KubeError) -> Self {
        ToolError::new(error.message)
    }
}

/// The core group's built-in kinds this plugin reads.
pub(crate) const fn core(plural: &'static str, kind: &'static str) -> Resource {
    Resource {
        group: "",
        version: "v1",
        plural,
        kind,
    }
}

/// A connection to one Kubernetes API target of this instance.
pub(crate) struct Client {
    target: String,
    base: String,
}

/// One list: which namespace (all when `None`) and which selectors.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ListOptions<'a> {
    pub(crate) namespace: Option<&'a str>,
    pub(crate) labels: Option<&'a str>,
    pub(crate) fields: Option<&'a str>,
}

impl Client {
    /// The client for `target`, or the instance's default target.
    pub(crate) fn for_target(target: Option<&str>) -> Result<Self, ToolError> {
        let (target, base) = config::resolve_target(target)?;
        Ok(Self { target, base })
    }

    /// The target's name.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// The object `namespace/name` of `resource`.
    pub(crate) fn get(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        let url = self.object_url(resource, Some(namespace), name);
        let response = self.send(Request::get(url).header("accept", "application/json"))?;
        self.json(response, "get", resource, Some((namespace, name)))
    }

    /// Every object of `resource` matching `options`, following `continue` tokens.
    pub(crate) fn list(
        &self,
        resource: Resource,
        options: ListOptions<'_>,
    ) -> Result<Vec<Value>, KubeError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.list_url(resource, options, token.as_deref());
            let response = self.send(Request::get(url).header("accept", "application/json"))?;
            let page = self.json(response, "list", resource, None)?;
            items.extend(page["items"].as_array().into_iter().flatten().cloned());
            match page["metadata"]["continue"]
                .as_str()
                .filter(|t| !t.is_empty())
            {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
        Err(KubeError {
            status: None,
            message: format!(
                "more than {} {} objects match; narrow the list with `namespace` or a selector",
                PAGE_SIZE * MAX_PAGES,
                resource.kind
            ),
        })
    }

    /// Sends `patch` as a JSON merge patch to `namespace/name`; answers the patched object.
    pub(crate) fn merge_patch(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, KubeError> {
        check_name(resource, name)?;
        let url = self.object_url(resource, Some(namespace), name);
        let request = Request::new(Method::PATCH, url)
            .header("accept", "application/json")
            .header("content-type", MERGE_PATCH)
            .body(patch.to_string().into_bytes());
        let response = self.send(request)?;
        self.json(response, "patch", resource, Some((namespace, name)))
    }

    /// The log text of a pod's container, with `query` (already encoded pairs) appended.
    pub(crate) fn pod_log(
        &self,
        namespace: &str,
        pod: &str,
        query: &[(&str, String)],
    ) -> Result<String, KubeError> {
        let pods = core("pods", "Pod");
        check_name(pods, pod)?;
        let mut url = format!("{}/log", self.object_url(pods, Some(namespace), pod));
        for (index, (key, value)) in query.iter().enumerate() {
            let separator = if index == 0 { '?' } else { '&' };
            url.push_str(&format!("{separator}{key}={}", encode(value)));
        }
        let response = self.send(Request::get(url).header("accept", "text/plain"))?;
        if !response.is_success() {
            return Err(self.failure(&response, "read the log of", pods, Some((namespace, pod))));
        }
        Ok(response.text())
    }

    fn send(&self, request: Request) -> Result<Response, KubeError> {
        request.send().map_err(|error| KubeError {
            status: None,
            message: error.to_string(),
        })
    }

    fn json(
        &self,
        response: Response,
        verb: &str,
        resource: Resource,
        object: Option<(&str, &str)>,
    ) -> Result<Value, KubeError> {
        if !response.is_success() {
            return Err(self.failure(&response, verb, resource, object));
        }
        response.json().map_err(|error| KubeError {
            status: Some(response.status),
            message: format!(
                "target `{}` answered with a body that is not JSON ({error}); check that its URL \
                 points at a Kubernetes API server",
                self.target
            ),
        })
    }

    fn collection_url(&self, resource: Resource, namespace: Option<&str>) -> String {
        let mut url = match resource.group {
            "" => format!("{}/api/{}", self.base, segment(resource.version)),
            group => format!(
                "{}/apis/{}/{}",
                self.base,
                segment(group),
                segment(resource.version)
            ),
        };
        if let Some(namespace) = namespace {
            url.push_str(&format!("/namespaces/{}", segment(namespace)));
        }
        url.push_str(&format!("/{}", segment(resource.plural)));
        url
    }

    fn object_url(&self, resource: Resource, namespace: Option<&str>, name: &str) -> String {
        format!(
            "{}/{}",
            self.collection_url(resource, namespace),
            segment(name)
        )
    }

    fn list_url(
        &self,
        resource: Resource,
        options: ListOptions<'_>,
        token: Option<&str>,
    ) -> String {
        let mut url = format!(
            "{}?limit={PAGE_SIZE}",
            self.collection_url(resource, options.namespace)
        );
        let pairs = [
            ("labelSelector", options.labels),
            ("fieldSelector", options.fields),
            ("continue", token),
        ];
        for (key, value) in pairs {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                url.push_str(&format!("&{key}={}", encode(value)));
            }
        }
        url
    }

    fn failure(
        &self,
        response: &Response,
        verb: &str,
        resource: Resource,
        object: Option<(&str, &str)>,
    ) -> KubeError {
        let status = response.json::<Value>().unwrap_or(Value::Null);
        let what = match object {
            Some((namespace, name)) => format!("{} `{namespace}/{name}`", resource.kind),
            None => format!("{} objects", resource.kind),
        };
        let hint = self.hint(response.status, &status, verb, resource, object);
        let detail = status["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| excerpt(response.text().trim(), 300));
        KubeError {
            status: Some(response.status),
            message: format!(
                "the Kubernetes API (target `{}`) answered HTTP {} to {verb} {what}: {detail}{}{hint}",
                self.target,
                response.status,
                if hint.is_empty() { "" } else { "; " },
            ),
        }
    }

    fn hint(
        &self,
        code: u16,
        status: &Value,
        verb: &str,
        resource: Resource,
        object: Option<(&str, &str)>,
    ) -> String {
        let qualified = match resource.group {
            "" => resource.plural.to_owned(),
            group => format!("{}.{group}", resource.plural),
        };
        let verb = verb.split(' ').next().unwrap_or(verb);
        match code {
            401 => format!(
                "check the `auth` of target `{}` in the capstan manifest",
                self.target
            ),
            403 => format!("the credentials need RBAC `{verb}` on {qualified}"),
            404 if status["details"]["name"].is_string() => match object {
                Some((namespace, _)) => format!(
                    "no {} of that name in namespace `{namespace}`; list them with list_flux_resources",
                    resource.kind
                ),
                None => String::new(),
            },
            404 if resource.group.is_empty() => String::new(),
            404 => format!(
                "the {qualified} CRD (version {}) is not installed on this cluster; is Flux installed?",
                resource.version
            ),
            409 => "the object changed meanwhile; try again".into(),
            _ => String::new(),
        }
    }
}

/// Refuses `.` and `..`, which no Kubernetes object may be called: URL parsers on the way
/// resolve them (even percent-encoded as `%2E%2E`) as path steps, so they would leave their
/// segment.
fn check_name(resource: Resource, name: &str) -> Result<(), KubeError> {
    match name {
        "." | ".." => Err(KubeError {
            status: None,
            message: format!(
                "`{name}` is not a valid {} name (Kubernetes forbids `.` and `..`); pass the \
                 object's name as list_flux_resources shows it",
                resource.kind
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            target: "t".into(),
            base: "http://k/p".into(),
        }
    }

    #[test]
    fn urls_keep_every_name_in_its_segment() {
        let kustomizations = crate::kinds::named("Kustomization").unwrap().resource;
        assert_eq!(
            client().object_url(kustomizations, Some("a/b"), ".."),
            "http://k/p/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a%2Fb/kustomizations/%2E%2E"
        );
        let options = ListOptions {
            namespace: None,
            labels: Some("app in (x)"),
            fields: Some("involvedObject.name=a,reason!=B"),
        };
        assert!(
            check_name(kustomizations, "..").is_err() && check_name(kustomizations, ".").is_err()
        );
        assert!(check_name(kustomizations, "..a").is_ok());
        assert_eq!(
            client().list_url(core("events", "Event"), options, None),
            "http://k/p/api/v1/events?limit=500&labelSelector=app%20in%20%28x%29\
             &fieldSelector=involvedObject.name%3Da%2Creason%21%3DB"
        );
    }
}
