//! A minimal Kubernetes API client for custom resources: picks the target, lists a resource
//! (in one namespace or all, by label selector, page by page), percent-encodes every path
//! segment and query value, and reads `Status` error bodies.
//! The host adds the target's credentials; plugins never handle a token.

use crate::http::{Request, Response, excerpt};
use crate::url::{encode, segment};
use crate::{ToolError, Value, config};

/// Objects asked for per page.
const PAGE_SIZE: usize = 500;
/// Pages followed before giving up (so at most 10,000 objects).
const MAX_PAGES: usize = 20;

/// A custom resource type: group, version and plural as the API paths spell them.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// API group, e.g. `argoproj.io`.
    pub group: &'static str,
    /// API version, e.g. `v1alpha1`.
    pub version: &'static str,
    /// Plural resource name as it appears in paths, e.g. `rollouts`.
    pub plural: &'static str,
    /// Kind, e.g. `Rollout`.
    pub kind: &'static str,
}

/// Why a request failed: the HTTP status (when there was an answer) and the API's message.
#[derive(Debug)]
pub struct KubeError {
    /// The HTTP status, when the API answered.
    pub status: Option<u16>,
    /// What went wrong, for the agent.
    pub message: String,
}

impl From<KubeError> for ToolError {
    fn from(error: KubeError) -> Self {
        ToolError::new(error.message)
    }
}

/// A connection to one Kubernetes API target of this instance.
pub struct Client {
    target: String,
    base: String,
}

impl Client {
    /// The client for `target`, or for the instance's default target when `None`.
    pub fn for_target(target: Option<&str>) -> Result<Self, ToolError> {
        let (target, base) = config::resolve_target(target)?;
        Ok(Self { target, base })
    }

    /// The target's name.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Every object of `resource` in `namespace` (or all namespaces) matching `label_selector`,
    /// following `continue` tokens.
    pub fn list(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, KubeError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.list_url(resource, namespace, label_selector, token.as_deref());
            let page = self.get(&url, resource)?;
            items.extend(page["items"].as_array().into_iter().flatten().cloned());
            match page["metadata"]["continue"]
                .as_str()
                .filter(|token| !token.is_empty())
            {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
        Err(KubeError {
            status: None,
            message: format!(
                "more than {} {} objects match; narrow the list with `namespace` or `labelSelector`",
                PAGE_SIZE * MAX_PAGES,
                resource.kind
            ),
        })
    }

    fn list_url(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        selector: Option<&str>,
        token: Option<&str>,
    ) -> String {
        let mut url = format!(
            "{}/apis/{}/{}",
            self.base,
            segment(resource.group),
            segment(resource.version)
        );
        if let Some(namespace) = namespace {
            url.push_str(&format!("/namespaces/{}", segment(namespace)));
        }
        url.push_str(&format!("/{}?limit={PAGE_SIZE}", segment(resource.plural)));
        if let Some(selector) = selector.filter(|selector| !selector.is_empty()) {
            url.push_str(&format!("&labelSelector={}", encode(selector)));
        }
        if let Some(token) = token {
            url.push_str(&format!("&continue={}", encode(token)));
        }
        url
    }

    fn get(&self, url: &str, resource: Resource) -> Result<Value, KubeError> {
        let response = Request::get(url)
            .header("accept", "application/json")
            .send()
            .map_err(|error| KubeError {
                status: None,
                message: error.to_string(),
            })?;
        if !response.is_success() {
            return Err(self.failure(&response, resource));
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

    fn failure(&self, response: &Response, resource: Resource) -> KubeError {
        let crd = format!("{}.{}", resource.plural, resource.group);
        let hint = match response.status {
            401 => format!(
                "check the `auth` of target `{}` in the capstan manifest",
                self.target
            ),
            403 => format!("the credentials need RBAC `list` on {crd}"),
            404 => format!(
                "the {crd} CRD (version {}) is not installed on this cluster",
                resource.version
            ),
            _ => String::new(),
        };
        let message = format!(
            "the Kubernetes API (target `{}`) answered HTTP {} listing {}: {}{}{hint}",
            self.target,
            response.status,
            resource.kind,
            status_message(response),
            if hint.is_empty() { "" } else { "; " },
        );
        KubeError {
            status: Some(response.status),
            message,
        }
    }
}

/// The `message` of a Kubernetes `Status` body, else the start of the body.
fn status_message(response: &Response) -> String {
    response
        .json::<Value>()
        .ok()
        .and_then(|status| status["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| excerpt(response.text().trim(), 300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_urls_encode_every_part() {
        let client = Client {
            target: "t".into(),
            base: "http://k/prefix".into(),
        };
        let rollouts = Resource {
            group: "argoproj.io",
            version: "v1alpha1",
            plural: "rollouts",
            kind: "Rollout",
        };
        assert_eq!(
            client.list_url(rollouts, None, None, None),
            "http://k/prefix/apis/argoproj.io/v1alpha1/rollouts?limit=500"
        );
        assert_eq!(
            client.list_url(rollouts, Some("a/b"), Some("app in (x,y)"), Some("c:1")),
            "http://k/prefix/apis/argoproj.io/v1alpha1/namespaces/a%2Fb/rollouts?limit=500\
             &labelSelector=app%20in%20%28x%2Cy%29&continue=c%3A1"
        );
        assert_eq!(segment(".."), "%2E%2E");
    }
}
