//! The Argo CD REST client: picks the target, builds URLs with every path segment and query
//! value percent-encoded, and turns Argo CD's error answers into messages for the agent.

use capstan_sdk::http::{Request, Response, excerpt};
use capstan_sdk::url::encode;
use capstan_sdk::{ToolError, Value, config};

/// A connection to one Argo CD target of this instance.
pub(crate) struct Client {
    target: String,
    base: String,
}

impl Client {
    /// The client for `target`, or for the instance's default target when `None`.
    pub(crate) fn for_target(target: Option<&str>) -> Result<Self, ToolError> {
        let (target, base) = config::resolve_target(target)?;
        Ok(Self { target, base })
    }

    /// The target's name.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// GETs `path` (already encoded, from the API root) with `query`, and parses the JSON
    /// answer. `not_found` tells the agent what to do when Argo CD answers 404.
    pub(crate) fn get(
        &self,
        path: &str,
        query: &Query,
        not_found: &str,
    ) -> Result<Value, ToolError> {
        let url = format!("{}{path}{}", self.base, query.render());
        let response = Request::get(&url)
            .header("accept", "application/json")
            .send()?;
        if !response.is_success() {
            return Err(self.failure(path, &response, not_found));
        }
        response.json().map_err(|error| {
            ToolError::new(format!(
                "Argo CD target `{}` answered GET {path} with a body that is not JSON ({error}); \
                 check that the target's URL points at the Argo CD API server",
                self.target
            ))
        })
    }

    fn failure(&self, path: &str, response: &Response, not_found: &str) -> ToolError {
        let hint = match response.status {
            401 => format!(
                "The credentials were missing or rejected: check the `auth` of target `{}` in the \
                 capstan manifest.",
                self.target
            ),
            403 => "The token lacks Argo CD RBAC permission for this request; ask an Argo CD \
                    admin for `get` on the application's project."
                .to_owned(),
            404 => not_found.to_owned(),
            status if status >= 500 => {
                "Argo CD failed; retry later or check the argocd-server logs.".to_owned()
            }
            _ => String::new(),
        };
        let message = format!(
            "Argo CD (target `{}`) answered HTTP {} to GET {path}: {}. {hint}",
            self.target,
            response.status,
            argocd_message(response)
        );
        ToolError::new(message.trim_end())
    }
}

/// The `message` (or `error`) of an Argo CD error body, else the start of the body.
fn argocd_message(response: &Response) -> String {
    let body: Option<Value> = response.json().ok();
    let field = |name: &str| {
        body.as_ref()
            .and_then(|body| body.get(name))
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    field("message")
        .or_else(|| field("error"))
        .unwrap_or_else(|| excerpt(response.text().trim(), 300))
}

/// A query string under construction; every name and value is percent-encoded.
#[derive(Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Adds `name=value`.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        self.pairs.push((encode(name), encode(value)));
    }

    /// Adds `name=value` when `value` is set.
    pub(crate) fn push_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.push(name, value);
        }
    }

    /// `?a=b&c=d`, or nothing.
    fn render(&self) -> String {
        if self.pairs.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self
            .pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!("?{}", pairs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_render_in_order() {
        let mut query = Query::default();
        query.push("projects", "a b");
        query.push("projects", "c");
        query.push_opt("repo", None);
        assert_eq!(query.render(), "?projects=a%20b&projects=c");
        assert_eq!(Query::default().render(), "");
    }
}
