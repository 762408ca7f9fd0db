//! HTTP requests to the instance's targets, the only way a plugin reaches the outside.
//!
//! The host checks every request against the manifest's `[[targets]]` and adds credentials
//! itself; plugins never set or see tokens. A request outside the targets fails with
//! [`HttpError::Denied`].
//!
//! A [`Request`] is built here and sent through the call's [`Context`](crate::Context)
//! (`ctx.send(request)`, or `ctx.send_all(requests)` for several at once), so the same handler
//! runs against `wasi:http` in a component and against recorded answers in a native test.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
pub use wstd::http::Method;
use wstd::http::{Body, BodyExt, Client, ErrorCode, Request as WstdRequest};

/// Why a request did not produce a response.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// The host refused the request: the URL is not one of the instance's targets.
    Denied {
        /// The URL that was refused.
        url: String,
    },
    /// The request could not be built (bad URL, header or method).
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// The request was sent but failed on the way (connection, timeout, body).
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Denied { url } => write!(
                f,
                "capstan refused the request to {url}; its note in this result says why and which targets are allowed"
            ),
            HttpError::Invalid { message } => write!(f, "invalid request: {message}"),
            HttpError::Transport { url, message } => {
                write!(f, "request to {url} failed: {message}")
            }
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::ToolError {
    fn from(error: HttpError) -> Self {
        crate::ToolError::new(error.to_string())
    }
}

/// A response with its body read in full.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A request being built; send it with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::GET, url)
    }

    /// A POST request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::POST, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(self, body: &Value) -> Self {
        let mut request = self.header("content-type", "application/json");
        request.body = body.to_string().into_bytes();
        request
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Gives up on the request when no answer has come within `timeout` (connecting, then
    /// the first byte of the response, then each later byte). The host holds it to the
    /// target's own `timeout` as well, whichever is shorter; the failure is
    /// [`HttpError::Failed`] naming the time-out.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time-out set with [`Request::timeout`], if any.
    pub fn timeout_set(&self) -> Option<Duration> {
        self.timeout
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers set so far, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sends the request over `wasi:http` and reads the whole response; used by the
    /// component's [`Transport`](crate::Transport).
    pub(crate) async fn send_wasi(self) -> Result<Response, HttpError> {
        let url = self.url.clone();
        let mut client = Client::new();
        if let Some(timeout) = self.timeout {
            client.set_connect_timeout(timeout);
            client.set_first_byte_timeout(timeout);
            client.set_between_bytes_timeout(timeout);
        }
        let request = self.build()?;
        let response = client
            .send(request)
            .await
            .map_err(|error| classify(&url, error))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let body = read_body(response.into_body())
            .await
            .map_err(|error| classify(&url, error))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn build(self) -> Result<WstdRequest<Body>, HttpError> {
        let mut builder = WstdRequest::builder().method(self.method).uri(&self.url);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Body::from(self.body))
            .map_err(|error| HttpError::Invalid {
                message: error.to_string(),
            })
    }
}

/// The most a body's announced length reserves up front; a longer body grows the buffer as it
/// arrives, so an upstream that announces more than it sends cannot make the plugin allocate it.
const MAX_RESERVE: u64 = 16 << 20;

/// Reads a body frame by frame into one buffer, sized up front when the length is known: a
/// large answer (an Application list over thousands of apps runs to tens of megabytes) is
/// held once, not also as the frames and a copy of them.
async fn read_body(body: Body) -> Result<Vec<u8>, wstd::http::Error> {
    let length = body.content_length().unwrap_or(0).min(MAX_RESERVE);
    let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    let mut body = body.into_boxed_body();
    while let Some(frame) = body.frame().await {
        if let Some(chunk) = frame?.data_ref() {
            data.extend_from_slice(chunk);
        }
    }
    Ok(data)
}

/// At most `limit` characters of `text`, with `…` when cut.
pub fn excerpt(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn classify(url: &str, error: wstd::http::Error) -> HttpError {
    match error.downcast_ref::<ErrorCode>() {
        Some(ErrorCode::HttpRequestDenied) => HttpError::Denied {
            url: url.to_owned(),
        },
        _ => HttpError::Transport {
            url: url.to_owned(),
            message: format!("{error:#}"),
        },
    }
}
