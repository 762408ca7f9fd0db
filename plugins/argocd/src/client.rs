//! The Argo CD REST client: picks the target, builds URLs with every path segment and query
//! value percent-encoded, sends JSON, and turns Argo CD's error answers (HTTP status, gRPC code,
//! message) and transport failures into messages that tell the agent what to do.

use capstan_sdk::http::{BodyError, HttpError, ListNames, Method, Request, Response, excerpt};
use capstan_sdk::url::encode;
use capstan_sdk::{Context, ToolError, Value};

/// How much of an error answer to a streamed request is read, to quote it.
pub(crate) const ERROR_BODY: usize = 64 << 10;

/// A connection to one Argo CD target of this instance, over the call's context.
pub(crate) struct Client {
    context: Context,
    target: String,
    base: String,
}

/// One GET of [`Client::get_all`]: the path (already encoded, from the API root), its query,
/// and what to tell the agent when Argo CD answers 404.
pub(crate) struct Get {
    pub path: String,
    pub query: Query,
    pub not_found: String,
}

impl Client {
    /// The client for `target`, or for the instance's default target when `None`.
    pub(crate) fn for_target(context: &Context, target: Option<&str>) -> Result<Self, ToolError> {
        let (target, base) = context.config().resolve_target(target)?;
        Ok(Self {
            context: context.clone(),
            target,
            base,
        })
    }

    /// The client a call's arguments address: `target`, else argocd-mcp's `argocdBaseUrl`
    /// (which must be the URL of one of the instance's targets), else the default target.
    pub(crate) fn for_call(context: &Context, arguments: &Value) -> Result<Self, ToolError> {
        if let Some(target) = arguments["target"].as_str() {
            return Self::for_target(context, Some(target));
        }
        let Some(url) = arguments["argocdBaseUrl"].as_str() else {
            return Self::for_target(context, None);
        };
        let wanted = url.trim_end_matches('/');
        let config = context.config();
        let targets = config.targets();
        let found = targets.iter().find(|name| {
            config
                .target_url(name)
                .is_ok_and(|base| base.trim_end_matches('/').eq_ignore_ascii_case(wanted))
        });
        match found {
            Some(name) => Self::for_target(context, Some(name)),
            None => Err(ToolError::new(format!(
                "argocdBaseUrl `{wanted}` is not one of this instance's Argo CD targets ({}); pass `target` with one of those names instead",
                targets.join(", ")
            ))),
        }
    }

    /// The call's context.
    pub(crate) fn context(&self) -> &Context {
        &self.context
    }

    /// The target's name.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// GETs `path` (already encoded, from the API root) with `query` and parses the JSON
    /// answer. `not_found` tells the agent what to do when Argo CD answers 404.
    pub(crate) fn get(
        &self,
        path: &str,
        query: &Query,
        not_found: &str,
    ) -> Result<Value, ToolError> {
        self.send(Method::GET, path, query, None, not_found)
    }

    /// GETs `path` (already encoded, from the API root) with `query`, a list (its errors name it
    /// and its items as `names` says), and hands each element of its `items` to `each` as JSON
    /// text as the answer arrives, never holding the body (see
    /// [`capstan_sdk::http::StreamedResponse::for_each_item_of`]). The host holds the body to
    /// the target's `max_streamed`. `not_found` tells the agent what to do when Argo CD
    /// answers 404.
    pub(crate) fn get_items(
        &self,
        path: &str,
        query: &Query,
        not_found: &str,
        names: ListNames,
        each: impl FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), ToolError> {
        let request = self.request(Method::GET, path, query, None);
        let response = self
            .context
            .send_streamed(request)
            .map_err(|error| self.transport("GET", path, error))?;
        if !response.is_success() {
            let response = response
                .buffer(ERROR_BODY)
                .map_err(|error| self.transport("GET", path, error))?;
            return Err(self.failure("GET", path, &response, not_found));
        }
        response
            .for_each_item_of(names, each)
            .map_err(|error| self.unreadable("GET", path, error))
    }

    /// Why a streamed answer could not be read: it broke off (or grew past the target's
    /// `max_streamed`), or it is not the JSON expected.
    fn unreadable(&self, verb: &str, path: &str, error: BodyError) -> ToolError {
        match error {
            BodyError::Transport(error) => self.transport(verb, path, error),
            BodyError::Json { error, start } => self.not_json_start(verb, path, &start, &error),
        }
    }

    /// Sends `method path?query` with an optional JSON `body` and parses the JSON answer.
    pub(crate) fn send(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<&Value>,
        not_found: &str,
    ) -> Result<Value, ToolError> {
        let verb = method.to_string();
        let response = self.exchange(method, path, query, body)?;
        self.parse(&verb, path, &response, not_found)
    }

    /// [`Client::get`] of several paths at once (all in flight together), answered in order.
    pub(crate) fn get_all(&self, gets: &[Get]) -> Vec<Result<Value, ToolError>> {
        let requests = gets
            .iter()
            .map(|get| self.request(Method::GET, &get.path, &get.query, None))
            .collect();
        self.context
            .send_all(requests)
            .into_iter()
            .zip(gets)
            .map(|(answer, get)| {
                let response = answer.map_err(|error| self.transport("GET", &get.path, error))?;
                self.parse("GET", &get.path, &response, &get.not_found)
            })
            .collect()
    }

    fn parse(
        &self,
        verb: &str,
        path: &str,
        response: &Response,
        not_found: &str,
    ) -> Result<Value, ToolError> {
        if !response.is_success() {
            return Err(self.failure(verb, path, response, not_found));
        }
        self.json(verb, path, response)
    }

    /// GETs `path` (already encoded, from the API root) with `query` and answers a 2xx answer
    /// unparsed (to parse into a typed view), else the error [`Client::get`] reports.
    pub(crate) fn get_response(
        &self,
        path: &str,
        query: &Query,
        not_found: &str,
    ) -> Result<Response, ToolError> {
        let response = self.exchange(Method::GET, path, query, None)?;
        if !response.is_success() {
            return Err(self.failure("GET", path, &response, not_found));
        }
        Ok(response)
    }

    /// The JSON body of an answer to `verb path` (`null` when empty), or the error saying it
    /// is not JSON.
    pub(crate) fn json(
        &self,
        verb: &str,
        path: &str,
        response: &Response,
    ) -> Result<Value, ToolError> {
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        response
            .json()
            .map_err(|error| self.not_json(verb, path, response, &error))
    }

    fn not_json(
        &self,
        verb: &str,
        path: &str,
        response: &Response,
        error: &serde_json::Error,
    ) -> ToolError {
        self.not_json_start(verb, path, &excerpt(response.text().trim(), 120), error)
    }

    /// An answer that is not the JSON expected, quoting how it starts.
    fn not_json_start(
        &self,
        verb: &str,
        path: &str,
        start: &str,
        error: &serde_json::Error,
    ) -> ToolError {
        ToolError::new(format!(
            "Argo CD target `{}` answered {verb} {path} with a body that is not JSON ({error}): \
             \"{start}\". Check that the target's URL (and path prefix) points at the Argo CD API \
             server and not at a proxy or login page.",
            self.target,
        ))
    }

    /// GETs `path` and returns the raw body of a 2xx answer (for streams), or the error as
    /// [`Client::get`] reports it. A non-2xx stream answer carries its error in the body.
    pub(crate) fn get_text(
        &self,
        path: &str,
        query: &Query,
        not_found: &str,
    ) -> Result<String, ToolError> {
        let response = self.exchange(Method::GET, path, query, None)?;
        if !response.is_success() {
            return Err(self.failure("GET", path, &response, not_found));
        }
        Ok(response.text())
    }

    /// The request `method path?query` to this target, with an optional JSON `body`.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<&Value>,
    ) -> Request {
        let url = format!("{}{path}{}", self.base, query.render());
        let request = Request::new(method, &url).header("accept", "application/json");
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Option<&Value>,
    ) -> Result<Response, ToolError> {
        let verb = method.to_string();
        self.context
            .send(self.request(method, path, query, body))
            .map_err(|error| self.transport(&verb, path, error))
    }

    fn transport(&self, verb: &str, path: &str, error: HttpError) -> ToolError {
        let text = error.to_string();
        let hint = if too_large(&error) {
            "Narrow the request (for lists: projects, selector, repo or appNamespace), or raise \
             the target's `max_streamed` in the capstan manifest."
        } else if timed_out(&error) {
            "Argo CD did not answer in time: retry later, narrow the request, or raise the target's \
             `timeout` in the capstan manifest."
        } else if matches!(error, HttpError::Denied { .. }) {
            "capstan's egress policy refused it: the URL is outside the instance's targets."
        } else {
            "Check that Argo CD is reachable from capstan (URL, DNS, TLS) and retry."
        };
        ToolError::new(format!(
            "{verb} {path} to Argo CD target `{}` failed: {text}. {hint}",
            self.target
        ))
    }

    fn failure(&self, verb: &str, path: &str, response: &Response, not_found: &str) -> ToolError {
        let hint = match response.status {
            401 => format!(
                "The credentials were missing or rejected: check the `auth` of target `{}` in the \
                 capstan manifest (the token may have expired).",
                self.target
            ),
            403 => "The token lacks Argo CD RBAC permission for this request; check with can_i, and \
                    ask an Argo CD admin for the permission on the application's project."
                .to_owned(),
            404 => not_found.to_owned(),
            status if status >= 500 => {
                "Argo CD failed on its side; retry later or check the argocd-server and repo-server logs.".to_owned()
            }
            _ => String::new(),
        };
        let (status, message) = status_and_message(response);
        let text = format!(
            "Argo CD (target `{}`) answered {status} to {verb} {path}: {message}. {hint}",
            self.target
        );
        ToolError::new(text.trim_end())
    }
}

/// Whether a streamed answer was cut because it grew past the target's `max_streamed`.
pub(crate) fn too_large(error: &HttpError) -> bool {
    error.to_string().contains("max_streamed")
}

/// Whether a request failed because the target did not answer in time (its `timeout` or
/// `connect_timeout` in the capstan manifest).
pub(crate) fn timed_out(error: &HttpError) -> bool {
    let text = error.to_string().to_lowercase();
    text.contains("timeout") || text.contains("timed out")
}

/// `HTTP 403 (gRPC code 7 PermissionDenied)` and Argo CD's message, of a non-2xx answer.
pub(crate) fn status_and_message(response: &Response) -> (String, String) {
    let (code, message) = argocd_error(response);
    let code = code
        .map(|code| format!(" (gRPC code {code} {})", code_name(code)))
        .unwrap_or_default();
    (format!("HTTP {}{code}", response.status), message)
}

/// The gRPC code and message of an Argo CD error body (`{"error", "code", "message"}`, or a
/// stream's `{"error": {"grpc_code", "message"}}`), else the start of the body.
fn argocd_error(response: &Response) -> (Option<u64>, String) {
    let text = response.text();
    let body: Option<Value> = text
        .lines()
        .next()
        .and_then(|line| serde_json::from_str(line).ok());
    let Some(body) = body else {
        return (None, excerpt(text.trim(), 300));
    };
    let error = if body["error"].is_object() {
        &body["error"]
    } else {
        &body
    };
    let code = error["code"]
        .as_u64()
        .or_else(|| error["grpc_code"].as_u64());
    let message = [&error["message"], &error["error"]]
        .into_iter()
        .find_map(|field| field.as_str().filter(|text| !text.is_empty()))
        .map(str::to_owned)
        .unwrap_or_else(|| excerpt(text.trim(), 300));
    (code, message)
}

/// The name of a gRPC status code.
pub(crate) fn code_name(code: u64) -> &'static str {
    match code {
        1 => "Canceled",
        2 => "Unknown",
        3 => "InvalidArgument",
        4 => "DeadlineExceeded",
        5 => "NotFound",
        6 => "AlreadyExists",
        7 => "PermissionDenied",
        8 => "ResourceExhausted",
        9 => "FailedPrecondition",
        10 => "Aborted",
        11 => "OutOfRange",
        12 => "Unimplemented",
        13 => "Internal",
        14 => "Unavailable",
        15 => "DataLoss",
        16 => "Unauthenticated",
        _ => "OK",
    }
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

    /// Adds `name=value` when `value` is set and not empty.
    pub(crate) fn push_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
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
        query.push_opt("selector", Some(""));
        assert_eq!(query.render(), "?projects=a%20b&projects=c");
        assert_eq!(Query::default().render(), "");
    }

    #[test]
    fn error_bodies_give_code_and_message() {
        let response = |body: &str| Response {
            status: 403,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let (code, message) = argocd_error(&response(
            r#"{"error":"denied","code":7,"message":"permission denied"}"#,
        ));
        assert_eq!((code, message.as_str()), (Some(7), "permission denied"));
        let (code, message) = argocd_error(&response(
            r#"{"error":{"grpc_code":3,"message":"bad container"}}"#,
        ));
        assert_eq!((code, message.as_str()), (Some(3), "bad container"));
        let (code, message) = argocd_error(&response("<html>proxy</html>"));
        assert_eq!((code, message.as_str()), (None, "<html>proxy</html>"));
        assert_eq!(code_name(9), "FailedPrecondition");
    }
}
