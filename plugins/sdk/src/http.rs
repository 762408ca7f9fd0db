//! HTTP requests to the instance's targets, the only way a plugin reaches the outside.
//!
//! The host checks every request against the manifest's `[[targets]]` and adds credentials
//! itself; plugins never set or see tokens. A request outside the targets fails with
//! [`HttpError::Denied`].
//!
//! A [`Request`] is built here and sent through the call's [`Context`](crate::Context)
//! (`ctx.send(request)`, or `ctx.send_all(requests)` for several at once), so the same handler
//! runs against `wasi:http` in a component and against recorded answers in a native test.
//!
//! Two ways to read an answer:
//!
//! - whole: [`Context::send`](crate::Context::send) answers a [`Response`] with the body in
//!   memory. The host holds such a body to the target's `max_response` (32 MiB by default).
//! - as a stream: [`Context::send_streamed`](crate::Context::send_streamed) answers a
//!   [`StreamedResponse`] whose body is read as it arrives, through [`std::io::Read`] or
//!   straight into a `serde` visitor ([`StreamedResponse::json_with`]), so a list of
//!   thousands of objects is looked at one object at a time and only what the answer needs
//!   is kept. The request says so to the host ([`STREAM_HEADER`], removed before the request
//!   leaves), which then holds the body to the target's much larger `max_streamed` (1 GiB by
//!   default) instead: the plugin promises to keep only bounded data, and its linear-memory
//!   limit holds it to that promise. For a list (`{"items": [...]}`),
//!   [`StreamedResponse::for_each_item`] is the fast way: each element of `items` is found in
//!   the stream and parsed on its own from a slice, into types that may borrow from it.

use std::fmt;
use std::io::{BufReader, Read};
use std::time::Duration;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
pub use wstd::http::Method;
use wstd::http::{Body, BodyExt, Client, ErrorCode, Request as WstdRequest};

use crate::split::Splitter;

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

/// The request header that tells capstan the plugin reads the response as a stream
/// ([`Context::send_streamed`](crate::Context::send_streamed) sets it): the host then holds
/// the body to the target's `max_streamed` rather than its `max_response`, and removes the
/// header before the request leaves.
pub const STREAM_HEADER: &str = "capstan-response";

/// The value of [`STREAM_HEADER`] that asks for a streamed body.
pub const STREAM_VALUE: &str = "stream";

/// Why a streamed body could not be read into what the plugin wanted.
#[derive(Debug)]
pub enum BodyError {
    /// The body did not arrive whole: the connection failed, a time-out passed, or the body
    /// grew past the target's `max_streamed`.
    Transport(HttpError),
    /// The body is not the JSON expected.
    Json {
        /// The parser's reason (with the line and column).
        error: serde_json::Error,
        /// The start of the body, for telling a proxy's or login page's answer apart.
        start: String,
    },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Transport(error) => write!(f, "{error}"),
            BodyError::Json { error, start } => {
                write!(
                    f,
                    "the body is not the JSON expected ({error}): \"{start}\""
                )
            }
        }
    }
}

impl std::error::Error for BodyError {}

impl From<BodyError> for crate::ToolError {
    fn from(error: BodyError) -> Self {
        crate::ToolError::new(error.to_string())
    }
}

/// How much of a body [`BodyError::Json`] quotes.
const QUOTED_START: usize = 160;

/// What a streamed body is read in at most: one buffer of this size sits between the transport
/// and the parser.
const STREAM_BUFFER: usize = 64 << 10;

/// A response whose body has not been read yet: it is read as it arrives, and never held whole
/// unless the plugin asks ([`StreamedResponse::buffer`]).
pub struct StreamedResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    url: String,
    body: Box<dyn Read>,
}

impl fmt::Debug for StreamedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamedResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl StreamedResponse {
    /// A response to the request to `url`, its body to be read from `body`. A transport gives
    /// a failure on the way as an [`std::io::Error`] wrapping the [`HttpError`]
    /// (`io::Error::other(http_error)`), which [`StreamedResponse::json_with`] reports as
    /// [`BodyError::Transport`].
    pub fn new(
        url: impl Into<String>,
        status: u16,
        headers: Vec<(String, String)>,
        body: impl Read + 'static,
    ) -> Self {
        Self {
            status,
            headers,
            url: url.into(),
            body: Box::new(body),
        }
    }

    /// A response read whole already, handed on as a stream (what a transport without
    /// streaming answers).
    pub fn buffered(url: impl Into<String>, response: Response) -> Self {
        let Response {
            status,
            headers,
            body,
        } = response;
        Self::new(url, status, headers, std::io::Cursor::new(body))
    }

    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The URL the request went to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as a reader. A failure on the way is an [`std::io::Error`] whose inner error is
    /// the [`HttpError`] (see [`transport_error`]).
    pub fn reader(&mut self) -> &mut dyn Read {
        &mut self.body
    }

    /// Parses the body as JSON while it arrives, handing it to `seed`: a `serde` visitor that
    /// looks at a long array one element at a time keeps only what it wants, so the plugin's
    /// memory does not grow with the body. Trailing data after the JSON value is an error.
    pub fn json_with<'de, S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, BodyError> {
        let mut tracked = Tracked::new(self.body, self.url);
        let parsed = {
            let reader = BufReader::with_capacity(STREAM_BUFFER, &mut tracked);
            let mut deserializer = serde_json::Deserializer::from_reader(reader);
            seed.deserialize(&mut deserializer)
                .and_then(|value| deserializer.end().map(|()| value))
        };
        parsed.map_err(|error| tracked.explain(error))
    }

    /// Parses the body as JSON into `T` while it arrives (a `T` that keeps few fields stays
    /// small however large the body is).
    pub fn json<T: DeserializeOwned>(self) -> Result<T, BodyError> {
        self.json_with(std::marker::PhantomData::<T>)
    }

    /// Reads a list, `{"items": [...]}` (other members ignored, `items` absent or `null` when
    /// empty), handing each element of `items` to `each` as its JSON text, in order, as the
    /// body arrives. Each element is found in the stream (by the SDK's `split` module) and
    /// parsed on its own, from a slice: much faster than [`StreamedResponse::json_with`], whose
    /// parser reads the stream byte by byte, and `each` may parse into types that borrow from
    /// the text (`serde_json::from_slice` into `&str` or `Cow<str>` fields). Memory holds one
    /// chunk of the body and the largest element, never the list. The first error of `each`
    /// stops the read and is reported as [`BodyError::Json`] (its line and column count from
    /// the element's start); so is a body that is not such a list.
    pub fn for_each_item(
        self,
        each: impl FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), BodyError> {
        self.for_each_item_of(ListNames::default(), each)
    }

    /// [`StreamedResponse::for_each_item`] with the list and its items named in errors as
    /// `names` says (e.g. "expected an Application list").
    pub fn for_each_item_of(
        self,
        names: ListNames,
        each: impl FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), BodyError> {
        let mut tracked = Tracked::new(self.body, self.url);
        let mut reader = ItemsReader::new(&mut tracked, each);
        let parsed = {
            let mut deserializer = serde_json::Deserializer::from_reader(&mut reader);
            names
                .deserialize(&mut deserializer)
                .and_then(|()| deserializer.end())
        };
        let failed = reader.failed.take();
        parsed.map_err(|error| tracked.explain(failed.unwrap_or(error)))
    }

    /// [`StreamedResponse::for_each_item`] with each element parsed into a `T`.
    pub fn items<T: DeserializeOwned>(self, mut each: impl FnMut(T)) -> Result<(), BodyError> {
        self.for_each_item(|item| {
            each(serde_json::from_slice(item)?);
            Ok(())
        })
    }

    /// Reads at most `limit` bytes of the body into a [`Response`] (the rest is left unread),
    /// e.g. to quote an error answer.
    pub fn buffer(self, limit: usize) -> Result<Response, HttpError> {
        let mut body = Vec::new();
        let mut tracked = Tracked::new(self.body, self.url);
        let read = (&mut tracked).take(limit as u64).read_to_end(&mut body);
        if let Err(error) = read {
            return Err(tracked
                .failure
                .take()
                .unwrap_or_else(|| transport_error(&tracked.url, &error)));
        }
        Ok(Response {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// The [`HttpError`] an [`std::io::Error`] from a body reader carries, else a
/// [`HttpError::Transport`] for `url` quoting it.
pub fn transport_error(url: &str, error: &std::io::Error) -> HttpError {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<HttpError>())
    {
        Some(carried) => carried.clone(),
        None => HttpError::Transport {
            url: url.to_owned(),
            message: error.to_string(),
        },
    }
}

/// A body reader that remembers why it failed and how the body started, so a parse error can
/// say which it was.
struct Tracked<R> {
    inner: R,
    url: String,
    failure: Option<HttpError>,
    start: Vec<u8>,
}

impl<R: Read> Tracked<R> {
    fn new(inner: R, url: String) -> Self {
        Self {
            inner,
            url,
            failure: None,
            start: Vec::new(),
        }
    }

    fn explain(mut self, error: serde_json::Error) -> BodyError {
        match self.failure.take() {
            Some(failure) => BodyError::Transport(failure),
            None => BodyError::Json {
                error,
                start: excerpt(String::from_utf8_lossy(&self.start).trim(), 120),
            },
        }
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(read) => {
                let room = QUOTED_START.saturating_sub(self.start.len()).min(read);
                self.start.extend_from_slice(&buf[..room]);
                Ok(read)
            }
            Err(error) => {
                self.failure = Some(transport_error(&self.url, &error));
                Err(error)
            }
        }
    }
}

/// What [`StreamedResponse::for_each_item`] asks of the list around the elements (each one a
/// placeholder by then).
/// How [`StreamedResponse::for_each_item_of`] names a list and its items when the body is not
/// the list expected ("invalid type: sequence, expected {list}").
#[derive(Debug, Clone, Copy)]
pub struct ListNames {
    /// The list: an object with `items`.
    pub list: &'static str,
    /// Its `items`: an array, or `null`.
    pub items: &'static str,
}

impl Default for ListNames {
    fn default() -> Self {
        Self {
            list: "a list (an object with `items`)",
            items: "an array or null",
        }
    }
}

/// Checks the list around its items (each one a placeholder by then).
impl<'de> DeserializeSeed<'de> for ListNames {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListNames {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.list)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Placeholders(self.items))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` of a list, its elements taken out: an array or `null`.
struct Placeholders(&'static str);

impl<'de> DeserializeSeed<'de> for Placeholders {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Placeholders {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// The body with the elements of its `items` taken out (handed to `each` instead), to be
/// read by `serde_json`: a [`Splitter`] over chunks of [`STREAM_BUFFER`] bytes.
struct ItemsReader<R, F> {
    inner: R,
    each: F,
    splitter: Splitter,
    chunk: Vec<u8>,
    skeleton: Vec<u8>,
    /// How much of `skeleton` has been read.
    read: usize,
    /// The error of `each` that stopped the read.
    failed: Option<serde_json::Error>,
}

impl<R: Read, F: FnMut(&[u8]) -> Result<(), serde_json::Error>> ItemsReader<R, F> {
    fn new(inner: R, each: F) -> Self {
        Self {
            inner,
            each,
            splitter: Splitter::new(),
            chunk: vec![0; STREAM_BUFFER],
            skeleton: Vec::new(),
            read: 0,
            failed: None,
        }
    }

    /// Splits the next chunk of the body; false at its end.
    fn fill(&mut self) -> std::io::Result<bool> {
        let read = self.inner.read(&mut self.chunk)?;
        if read == 0 {
            return Ok(false);
        }
        self.skeleton.clear();
        self.read = 0;
        let fed = self
            .splitter
            .feed(&self.chunk[..read], &mut self.skeleton, &mut self.each);
        fed.map(|()| true).map_err(|error| {
            self.failed = Some(error);
            std::io::Error::other("an item of the list is not the JSON expected")
        })
    }
}

impl<R: Read, F: FnMut(&[u8]) -> Result<(), serde_json::Error>> Read for ItemsReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.read == self.skeleton.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let pending = &self.skeleton[self.read..];
        let count = pending.len().min(buf.len());
        buf[..count].copy_from_slice(&pending[..count]);
        self.read += count;
        Ok(count)
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
    /// [`HttpError::Transport`] naming the time-out.
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

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io::Read;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::*;
    use crate::fixture::{Fixture, streamed_body};

    /// Counts the elements of `{"items": [...]}` and sums their `n`, holding none of them.
    struct Sum;

    impl<'de> DeserializeSeed<'de> for Sum {
        type Value = (u64, u64);

        fn deserialize<D: de::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<(u64, u64), D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Sum {
        type Value = (u64, u64);

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a list")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(u64, u64), A::Error> {
            let mut sum = (0, 0);
            while let Some(key) = map.next_key::<String>()? {
                if key == "items" {
                    sum = map.next_value_seed(Items)?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(sum)
        }
    }

    struct Items;

    impl<'de> DeserializeSeed<'de> for Items {
        type Value = (u64, u64);

        fn deserialize<D: de::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<(u64, u64), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Items {
        type Value = (u64, u64);

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(u64, u64), A::Error> {
            #[derive(serde::Deserialize)]
            struct Item {
                n: u64,
            }
            let (mut count, mut sum) = (0, 0);
            while let Some(item) = seq.next_element::<Item>()? {
                count += 1;
                sum += item.n;
            }
            Ok((count, sum))
        }
    }

    /// `{"items": [{"n": 0, "pad": "…"}, …]}` of `count` items, made while it is read.
    fn list(count: u64) -> Box<dyn Read> {
        let items = (0..count).map(|n| {
            let comma = if n == 0 { "" } else { "," };
            format!(r#"{comma}{{"n": {n}, "pad": "{}"}}"#, "x".repeat(200)).into_bytes()
        });
        let open = std::iter::once(br#"{"metadata": {}, "items": ["#.to_vec());
        let close = std::iter::once(b"]}".to_vec());
        streamed_body(open.chain(items).chain(close))
    }

    /// Reads `data`, then fails as the host fails a body cut at the target's limit.
    struct CutShort(std::io::Cursor<Vec<u8>>);

    impl Read for CutShort {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other(HttpError::Transport {
                    url: "http://t/list".into(),
                    message: "the response body is larger than 1 MiB, the most capstan reads of a body streamed from this target".into(),
                })),
                read => Ok(read),
            }
        }
    }

    #[test]
    fn a_streamed_body_reaches_the_visitor_as_it_arrives_and_says_so_to_the_host() {
        let fixture = Fixture::new()
            .target("t", "http://t")
            .on_reader("GET", "/list", 200, || list(50_000));
        let context = fixture.context();
        let response = context
            .send_streamed(Request::get("http://t/list"))
            .unwrap();
        assert!(response.is_success());
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        let (count, sum) = response.json_with(Sum).unwrap();
        assert_eq!((count, sum), (50_000, 50_000 * 49_999 / 2));
        assert_eq!(
            fixture.requests()[0].header(STREAM_HEADER),
            Some(STREAM_VALUE)
        );
        // The same route read whole, and a whole answer read as a stream.
        let whole = context.send(Request::get("http://t/list")).unwrap();
        assert!(whole.body.len() > 50_000 * 200);
        assert_eq!(fixture.requests()[1].header(STREAM_HEADER), None);
        let fixture = Fixture::new().target("t", "http://t").on_json(
            "GET",
            "/list",
            r#"{"items": [{"n": 2}, {"n": 3}]}"#,
        );
        let streamed = fixture
            .context()
            .send_streamed(Request::get("http://t/list"))
            .unwrap();
        assert_eq!(streamed.json_with(Sum).unwrap(), (2, 5));
    }

    #[derive(serde::Deserialize)]
    struct Item {
        n: u64,
    }

    /// Counts the items of a streamed list and sums their `n`, through `for_each_item`.
    fn sum_items(response: StreamedResponse) -> Result<(u64, u64), BodyError> {
        let (mut count, mut sum) = (0, 0);
        response.items(|item: Item| {
            count += 1;
            sum += item.n;
        })?;
        Ok((count, sum))
    }

    #[test]
    fn items_of_a_streamed_list_are_parsed_one_by_one_and_may_borrow() {
        let fixture = Fixture::new()
            .target("t", "http://t")
            .on_reader("GET", "/list", 200, || list(50_000))
            .on("GET", "/null", 200, r#"{"metadata": {}, "items": null}"#)
            .on("GET", "/none", 200, r#"{"metadata": {}}"#)
            .on(
                "GET",
                "/names",
                200,
                r#"{"items": [{"name": "a\"b"}, {"name": "c"}]}"#,
            );
        let context = fixture.context();
        let get = |path: &str| {
            context
                .send_streamed(Request::get(format!("http://t{path}")))
                .unwrap()
        };
        assert_eq!(
            sum_items(get("/list")).unwrap(),
            (50_000, 50_000 * 49_999 / 2)
        );
        assert_eq!(sum_items(get("/null")).unwrap(), (0, 0));
        assert_eq!(sum_items(get("/none")).unwrap(), (0, 0));
        #[derive(serde::Deserialize)]
        struct Named<'a> {
            #[serde(borrow)]
            name: std::borrow::Cow<'a, str>,
        }
        let mut names = Vec::new();
        get("/names")
            .for_each_item(|item| {
                let named: Named<'_> = serde_json::from_slice(item)?;
                names.push(named.name.into_owned());
                Ok(())
            })
            .unwrap();
        assert_eq!(names, ["a\"b", "c"]);
    }

    #[test]
    fn items_of_a_cut_or_bad_list_fail_as_the_whole_parse_does() {
        let fixture = Fixture::new()
            .target("t", "http://t")
            .on_reader("GET", "/cut", 200, || {
                Box::new(CutShort(std::io::Cursor::new(
                    br#"{"items": [{"n": 1}, {"n""#.to_vec(),
                )))
            })
            .on(
                "GET",
                "/html",
                200,
                "<html><body>Sign in to continue</body></html>",
            )
            .on("GET", "/truncated", 200, r#"{"items": [{"n": 1}"#)
            .on("GET", "/trailing", 200, r#"{"items": []} {"#)
            .on("GET", "/wrong", 200, r#"{"items": [{"n": "one"}]}"#)
            .on("GET", "/array", 200, r#"[{"n": 1}]"#);
        let context = fixture.context();
        let get = |path: &str| {
            sum_items(
                context
                    .send_streamed(Request::get(format!("http://t{path}")))
                    .unwrap(),
            )
            .unwrap_err()
        };
        let cut = get("/cut");
        assert!(
            matches!(cut, BodyError::Transport(HttpError::Transport { .. })),
            "{cut:?}"
        );
        assert!(cut.to_string().contains("larger than 1 MiB"), "{cut}");
        let html = get("/html").to_string();
        assert!(
            html.starts_with(
                "the body is not the JSON expected (expected value at line 1 column 1)"
            ) && html.contains("<html><body>Sign in"),
            "{html}"
        );
        for (path, reason) in [
            ("/truncated", "EOF while parsing"),
            ("/trailing", "trailing characters"),
            ("/wrong", "invalid type: string \"one\", expected u64"),
            ("/array", "expected a list (an object with `items`)"),
        ] {
            let error = get(path);
            assert!(matches!(error, BodyError::Json { .. }), "{path}: {error:?}");
            assert!(error.to_string().contains(reason), "{path}: {error}");
        }
    }

    #[test]
    fn a_body_cut_on_the_way_is_a_transport_error_and_a_bad_one_quotes_its_start() {
        let fixture = Fixture::new()
            .target("t", "http://t")
            .on_reader("GET", "/cut", 200, || {
                Box::new(CutShort(std::io::Cursor::new(
                    br#"{"items": [{"n": 1}, {"n""#.to_vec(),
                )))
            })
            .on(
                "GET",
                "/html",
                200,
                "<html><body>Sign in to continue</body></html>",
            )
            .on("GET", "/truncated", 200, r#"{"items": [{"n": 1}"#)
            .on("GET", "/trailing", 200, r#"{"items": []} {"#)
            .on("GET", "/wrong", 200, r#"{"items": [{"n": "one"}]}"#);
        let context = fixture.context();
        let get = |path: &str| {
            context
                .send_streamed(Request::get(format!("http://t{path}")))
                .unwrap()
                .json_with(Sum)
                .unwrap_err()
        };
        let cut = get("/cut");
        assert!(
            matches!(cut, BodyError::Transport(HttpError::Transport { .. })),
            "{cut:?}"
        );
        assert!(cut.to_string().contains("larger than 1 MiB"), "{cut}");
        let html = get("/html").to_string();
        assert!(
            html.starts_with(
                "the body is not the JSON expected (expected value at line 1 column 1)"
            ) && html.contains("<html><body>Sign in"),
            "{html}"
        );
        for (path, reason) in [
            ("/truncated", "EOF while parsing"),
            ("/trailing", "trailing characters"),
            ("/wrong", "invalid type: string \"one\", expected u64"),
        ] {
            let error = get(path);
            assert!(matches!(error, BodyError::Json { .. }), "{path}: {error:?}");
            assert!(error.to_string().contains(reason), "{path}: {error}");
        }
        let buffered = context
            .send_streamed(Request::get("http://t/cut"))
            .unwrap()
            .buffer(8)
            .unwrap();
        assert_eq!(buffered.body, br#"{"items""#);
        let failed = context
            .send_streamed(Request::get("http://t/cut"))
            .unwrap()
            .buffer(1 << 20);
        assert!(
            matches!(failed, Err(HttpError::Transport { .. })),
            "{failed:?}"
        );
    }
}
