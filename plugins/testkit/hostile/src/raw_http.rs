//! Outgoing requests through the raw `wasi:http` bindings, so the tests choose every byte the
//! guest hands the host (an authority like `allowed@evil:8080`, a path like `/a/%2e%2e/b`)
//! without a URL parser in between.
//!
//! No failure here panics or becomes a tool error: each one is reported with the stage it
//! happened at and the `wasi:http` error, so the tests can assert exactly what the host did.

use std::collections::BTreeMap;
use std::fmt::Debug;

use capstan_sdk::{Map, ToolError, Value, json};
use serde::Deserialize;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    Scheme, http_error_code,
};
use wasip2::io::error::Error as IoError;
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, StreamError};

/// The most requests `flood` starts.
pub const MAX_FLOOD: u64 = 2000;

/// How much of a response body `request` reads unless told otherwise.
const DEFAULT_READ_LIMIT: u64 = 1024 * 1024;

/// How much of the body `request` returns.
const KEPT_BODY: usize = 4096;

/// The largest chunk `blocking-read` and `blocking-write-and-flush` are asked to move.
const READ_CHUNK: u64 = 64 * 1024;
const WRITE_CHUNK: usize = 4096;

/// The arguments of `request`: the parts of one outgoing request, each as raw as `wasi:http`
/// takes it. Absent scheme, authority and path are left unset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    scheme: Option<String>,
    authority: Option<String>,
    path_with_query: Option<String>,
    method: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    body: Option<String>,
    /// Sends `body` this many times over (default once), for bodies too big to pass as
    /// an argument.
    body_repeat: Option<u64>,
    read_limit: Option<u64>,
}

impl Spec {
    /// A GET of `url` (`scheme://authority/path?query`), split without any normalisation.
    fn get(url: &str) -> Result<Self, ToolError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| ToolError::new(format!("`{url}` has no scheme")))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], rest[at..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        Ok(Self {
            scheme: Some(scheme.to_owned()),
            authority: Some(authority.to_owned()),
            path_with_query: Some(path),
            method: None,
            headers: Vec::new(),
            body: None,
            body_repeat: None,
            read_limit: None,
        })
    }
}

/// What happened to one request.
struct Outcome {
    stage: &'static str,
    error: Option<String>,
    request_body_error: Option<String>,
    status: Option<u16>,
    headers: Map<String, Value>,
    body: Vec<u8>,
    body_bytes: u64,
}

impl Outcome {
    fn new() -> Self {
        Self {
            stage: "ok",
            error: None,
            request_body_error: None,
            status: None,
            headers: Map::new(),
            body: Vec::new(),
            body_bytes: 0,
        }
    }

    fn failed(mut self, stage: &'static str, error: String) -> Self {
        self.stage = stage;
        self.error = Some(error);
        self
    }

    fn into_json(self) -> Value {
        let mut out = json!({
            "stage": self.stage,
            "body": String::from_utf8_lossy(&self.body),
            "body_bytes": self.body_bytes,
            "headers": self.headers,
        });
        insert_some(&mut out, "error", self.error);
        insert_some(&mut out, "request_body_error", self.request_body_error);
        insert_some(&mut out, "status", self.status);
        out
    }
}

fn insert_some(out: &mut Value, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        out[key] = value.into();
    }
}

/// A `wasi` error's `Debug` without its type prefix: `HttpRequestDenied`, `Forbidden`.
fn describe(error: impl Debug) -> String {
    let text = format!("{error:?}");
    match text.split_once("::") {
        Some((prefix, rest)) if !prefix.contains(['(', ' ', '"']) => rest.to_owned(),
        _ => text,
    }
}

/// An I/O error as its `wasi:http` error code, else the first line of its debug text (a host
/// may append a backtrace).
fn describe_io(error: &IoError) -> String {
    match http_error_code(error) {
        Some(code) => describe(code),
        None => first_line(&error.to_debug_string()),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn describe_stream(error: StreamError) -> String {
    match error {
        StreamError::Closed => "Closed".to_owned(),
        StreamError::LastOperationFailed(error) => describe_io(&error),
    }
}

/// `request`: one request exactly as specified, its body written in full, its response read up
/// to `read_limit` bytes.
pub fn request(spec: Spec) -> Value {
    let limit = spec.read_limit.unwrap_or(DEFAULT_READ_LIMIT);
    exchange(&spec, limit, KEPT_BODY).into_json()
}

/// `read_endless`: GETs `url` and counts body bytes until the body ends or fails.
pub fn read_endless(url: &str) -> Result<Value, ToolError> {
    let outcome = exchange(&Spec::get(url)?, u64::MAX, 0);
    let mut out = json!({"stage": outcome.stage, "bytes": outcome.body_bytes});
    insert_some(&mut out, "error", outcome.error);
    insert_some(&mut out, "status", outcome.status);
    Ok(out)
}

fn exchange(spec: &Spec, read_limit: u64, keep: usize) -> Outcome {
    let outcome = Outcome::new();
    let (request, body) = match build(spec) {
        Ok(built) => built,
        Err((stage, error)) => return outcome.failed(stage, error),
    };
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return outcome.failed("send", describe(code)),
    };
    let payload = spec
        .body
        .as_deref()
        .unwrap_or_default()
        .repeat(spec.body_repeat.unwrap_or(1) as usize);
    let outcome = Outcome {
        request_body_error: write_body(body, payload.as_bytes()).err(),
        ..outcome
    };
    match wait(&future) {
        Ok(response) => read_response(response, read_limit, keep, outcome),
        Err(error) => outcome.failed("response", error),
    }
}

/// The request and its body, or the stage that refused a part of it.
fn build(spec: &Spec) -> Result<(OutgoingRequest, OutgoingBody), (&'static str, String)> {
    let fields = Fields::new();
    for (name, value) in &spec.headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|error| ("header", describe(error)))?;
    }
    let request = OutgoingRequest::new(fields);
    let method = spec.method.as_deref().unwrap_or("GET");
    refused(
        request.set_method(&parse_method(method)),
        "set_method",
        method,
    )?;
    if let Some(scheme) = &spec.scheme {
        let parsed = parse_scheme(scheme);
        refused(request.set_scheme(Some(&parsed)), "set_scheme", scheme)?;
    }
    if let Some(authority) = &spec.authority {
        refused(
            request.set_authority(Some(authority)),
            "set_authority",
            authority,
        )?;
    }
    if let Some(path) = &spec.path_with_query {
        refused(request.set_path_with_query(Some(path)), "set_path", path)?;
    }
    let body = request
        .body()
        .map_err(|()| ("send", "the request body was already taken".to_owned()))?;
    Ok((request, body))
}

fn refused(
    set: Result<(), ()>,
    stage: &'static str,
    value: &str,
) -> Result<(), (&'static str, String)> {
    set.map_err(|()| (stage, format!("refused {value:?}")))
}

fn parse_method(method: &str) -> Method {
    match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

fn parse_scheme(scheme: &str) -> Scheme {
    match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    }
}

/// Writes `payload` in full, flushes it and finishes the body.
fn write_body(body: OutgoingBody, payload: &[u8]) -> Result<(), String> {
    if !payload.is_empty() {
        let stream = body
            .write()
            .map_err(|()| "the body stream was already taken".to_owned())?;
        for chunk in payload.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(describe_stream)?;
        }
    }
    OutgoingBody::finish(body, None).map_err(describe)
}

/// Blocks until the response arrives.
fn wait(future: &FutureIncomingResponse) -> Result<IncomingResponse, String> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(describe(code)),
        Some(Err(())) => Err("the response was already taken".to_owned()),
        None => Err("the response was not ready after blocking".to_owned()),
    }
}

fn read_response(response: IncomingResponse, limit: u64, keep: usize, outcome: Outcome) -> Outcome {
    let mut outcome = Outcome {
        status: Some(response.status()),
        headers: header_map(&response),
        ..outcome
    };
    let Ok(body) = response.consume() else {
        return outcome.failed("body", "the response body was already taken".to_owned());
    };
    let Ok(stream) = body.stream() else {
        return outcome.failed("body", "the body stream was already taken".to_owned());
    };
    let failure = read_body(&stream, limit, keep, &mut outcome);
    drop(stream);
    drop(body);
    match failure {
        Some(error) => outcome.failed("body", error),
        None => outcome,
    }
}

/// The response headers; repeated names are joined with `, `.
fn header_map(response: &IncomingResponse) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in response.headers().entries() {
        let value = String::from_utf8_lossy(&value).into_owned();
        let joined = match map.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier}, {value}"),
            None => value,
        };
        map.insert(name, Value::String(joined));
    }
    map
}

/// Reads up to `limit` bytes, keeping the first `keep`; the error that ended it early, if any.
fn read_body(
    stream: &InputStream,
    limit: u64,
    keep: usize,
    outcome: &mut Outcome,
) -> Option<String> {
    while outcome.body_bytes < limit {
        let chunk = match stream.blocking_read((limit - outcome.body_bytes).min(READ_CHUNK)) {
            Ok(chunk) => chunk,
            Err(StreamError::Closed) => return None,
            Err(StreamError::LastOperationFailed(error)) => return Some(describe_io(&error)),
        };
        let room = keep.saturating_sub(outcome.body.len()).min(chunk.len());
        outcome.body.extend_from_slice(&chunk[..room]);
        outcome.body_bytes += chunk.len() as u64;
    }
    None
}

/// `flood`: starts `n` GETs of `url` before waiting for any, then collects every answer.
pub fn flood(url: &str, n: u64) -> Result<Value, ToolError> {
    let spec = Spec::get(url)?;
    let mut errors = BTreeMap::<String, u64>::new();
    let mut pending = Vec::new();
    for _ in 0..n.min(MAX_FLOOD) {
        match start(&spec) {
            Ok(future) => pending.push(Waiting::new(future)),
            Err(error) => *errors.entry(error).or_default() += 1,
        }
    }
    let mut ok = 0u64;
    while !pending.is_empty() {
        for answer in collect_ready(&mut pending) {
            match answer {
                Ok(()) => ok += 1,
                Err(error) => *errors.entry(error).or_default() += 1,
            }
        }
    }
    Ok(json!({"ok": ok, "errors": errors}))
}

/// A request in flight; the pollable is declared first so it is dropped before its future.
struct Waiting {
    pollable: Pollable,
    future: FutureIncomingResponse,
}

impl Waiting {
    fn new(future: FutureIncomingResponse) -> Self {
        Self {
            pollable: future.subscribe(),
            future,
        }
    }
}

/// Sends one body-less request, returning its future or the described failure.
fn start(spec: &Spec) -> Result<FutureIncomingResponse, String> {
    let (request, body) = build(spec).map_err(|(stage, error)| format!("{stage}: {error}"))?;
    let future = outgoing_handler::handle(request, None).map_err(describe)?;
    OutgoingBody::finish(body, None).map_err(describe)?;
    Ok(future)
}

/// Waits until some requests have answered, takes them out of `pending` and drops each response
/// unread (before its future): `Ok` per response, the described error per failure.
fn collect_ready(pending: &mut Vec<Waiting>) -> Vec<Result<(), String>> {
    let pollables: Vec<&Pollable> = pending.iter().map(|waiting| &waiting.pollable).collect();
    let mut ready = poll(&pollables);
    ready.sort_unstable_by(|a, b| b.cmp(a));
    ready
        .into_iter()
        .map(|index| {
            let Waiting { pollable, future } = pending.swap_remove(index as usize);
            drop(pollable);
            wait(&future).map(drop)
        })
        .collect()
}
