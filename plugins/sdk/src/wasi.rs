//! The [`Transport`] of a plugin running as a component: requests over `wasi:http` (checked and
//! authenticated by the host's egress gate), settings from `wasi:config`, progress and log lines
//! through the host interface, and WASI's clocks.
//!
//! Whole responses go through `wstd`'s client. Streamed ones ([`Transport::send_streamed`]) use
//! the `wasi:http` bindings directly, with blocking reads of the body stream, so the body can
//! be read through a plain [`std::io::Read`] from synchronous code (a `serde_json`
//! deserializer) between calls into the host, without an async reactor that would have to
//! outlive the read.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse,
    Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, StreamError};
use wstd::http::{Method, Uri};

use crate::Transport;
use crate::bindings::capstan::plugin::host as imports;
use crate::bindings::wasi::config::store;
use crate::host::Level;
use crate::http::{HttpError, Request, Response, StreamedResponse};

/// Talks to the host through the component's imports.
pub struct WasiTransport;

impl Transport for WasiTransport {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        wstd::runtime::block_on(request.send_wasi())
    }

    fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let futures: Vec<_> = requests.into_iter().map(Request::send_wasi).collect();
        wstd::runtime::block_on(join_all(futures))
    }

    fn send_streamed(&self, request: Request) -> Result<StreamedResponse, HttpError> {
        let started = Started::send(request)?;
        started.response()
    }

    fn send_all_streamed(
        &self,
        requests: Vec<Request>,
        each: &mut dyn FnMut(usize, Result<StreamedResponse, HttpError>),
    ) {
        // Request bodies are written with blocking writes, which could wait for an outbound
        // slot held by a response not read yet: requests with bodies go one at a time.
        if requests
            .iter()
            .any(|request| !request.body_bytes().is_empty())
        {
            for (index, request) in requests.into_iter().enumerate() {
                each(index, Started::send(request).and_then(Started::response));
            }
            return;
        }
        // All in flight first; then each response as it arrives, its body read before the
        // next is taken, so a target that is slow to answer keeps none of the others waiting.
        let mut pending = Vec::new();
        for (index, request) in requests.into_iter().enumerate() {
            match Started::send(request) {
                Ok(started) => pending.push((index, started)),
                Err(error) => each(index, Err(error)),
            }
        }
        while !pending.is_empty() {
            let next = {
                // The pollables are children of the futures: dropped before any future is.
                let pollables: Vec<Pollable> = pending
                    .iter()
                    .map(|(_, started)| started.future.subscribe())
                    .collect();
                let waiting: Vec<&Pollable> = pollables.iter().collect();
                poll(&waiting).first().map_or(0, |&ready| ready as usize)
            };
            let (index, started) = pending.remove(next);
            each(index, started.response());
        }
    }

    fn config(&self, key: &str) -> Option<String> {
        store::get(key).ok().flatten()
    }

    fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        imports::progress(done, total, message);
    }

    fn log(&self, level: Level, message: &str) {
        imports::log(level, message);
    }

    fn sleep(&self, duration: Duration) {
        let duration = wstd::time::Duration::from(duration);
        wstd::runtime::block_on(async move { wstd::task::sleep(duration).await });
    }

    fn monotonic(&self) -> Duration {
        thread_local! { static ORIGIN: Instant = Instant::now(); }
        ORIGIN.with(|origin| origin.elapsed())
    }

    fn since_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn remaining(&self) -> Option<Duration> {
        Some(Duration::from_millis(imports::remaining_time()))
    }

    fn client_can_answer(&self, kind: crate::InputKind) -> bool {
        imports::client_can_answer(kind.into_wit())
    }
}

/// Runs `futures` concurrently on the current `wstd` reactor and answers in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |context: &mut Context<'_>| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(
                outputs
                    .iter_mut()
                    .map(|o| o.take().expect("polled to completion"))
                    .collect(),
            )
        }
    })
    .await
}

/// The largest write `blocking-write-and-flush` takes.
const WRITE_CHUNK: usize = 4096;

/// The most one blocking read of a streamed body asks for.
const READ_CHUNK: u64 = 64 << 10;

/// A request sent over `wasi:http` whose response has not been waited for yet.
struct Started {
    url: String,
    future: FutureIncomingResponse,
}

impl Started {
    /// Sends `request`, its body written in full.
    fn send(request: Request) -> Result<Self, HttpError> {
        let url = request.url().to_owned();
        let invalid = |message: String| HttpError::Invalid { message };
        let uri: Uri = url
            .parse()
            .map_err(|error| invalid(format!("`{url}`: {error}")))?;
        let fields = Fields::new();
        for (name, value) in request.headers() {
            fields
                .append(name, value.as_bytes())
                .map_err(|error| invalid(format!("header `{name}`: {error:?}")))?;
        }
        let outgoing = OutgoingRequest::new(fields);
        let refused = |what: &str| invalid(format!("wasi:http refused the {what} of `{url}`"));
        outgoing
            .set_method(&wasi_method(request.method()))
            .map_err(|()| refused("method"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") | None => Scheme::Https,
            Some(other) => Scheme::Other(other.to_owned()),
        };
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| refused("scheme"))?;
        outgoing
            .set_authority(uri.authority().map(|authority| authority.as_str()))
            .map_err(|()| refused("authority"))?;
        if let Some(path) = uri.path_and_query() {
            outgoing
                .set_path_with_query(Some(path.as_str()))
                .map_err(|()| refused("path"))?;
        }
        let body = outgoing.body().map_err(|()| refused("body"))?;
        let future = outgoing_handler::handle(outgoing, options(request.timeout_set()))
            .map_err(|code| failed(&url, &code))?;
        write_body(&url, body, request.body_bytes())?;
        Ok(Self { url, future })
    }

    /// Waits for the response's head; the body stays unread.
    fn response(self) -> Result<StreamedResponse, HttpError> {
        let Self { url, future } = self;
        let pollable = future.subscribe();
        pollable.block();
        drop(pollable);
        let response: IncomingResponse = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(failed(&url, &code)),
            Some(Err(())) | None => {
                return Err(HttpError::Transport {
                    url,
                    message: "wasi:http gave no response".into(),
                });
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let body = response.consume().map_err(|()| HttpError::Transport {
            url: url.clone(),
            message: "the response body was already taken".into(),
        })?;
        let stream = body.stream().map_err(|()| HttpError::Transport {
            url: url.clone(),
            message: "the response body stream was already taken".into(),
        })?;
        let reader = BodyReader {
            stream: Some(stream),
            _body: body,
            url: url.clone(),
        };
        Ok(StreamedResponse::new(url, status, headers, reader))
    }
}

/// The request options for a time-out set on the request: connecting, the first byte, and
/// each later byte, as [`Request::timeout`] says.
fn options(timeout: Option<Duration>) -> Option<RequestOptions> {
    let timeout = timeout?;
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // A host that does not support one of them keeps its own.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    Some(options)
}

fn wasi_method(method: &Method) -> WasiMethod {
    match *method {
        Method::GET => WasiMethod::Get,
        Method::HEAD => WasiMethod::Head,
        Method::POST => WasiMethod::Post,
        Method::PUT => WasiMethod::Put,
        Method::DELETE => WasiMethod::Delete,
        Method::OPTIONS => WasiMethod::Options,
        Method::PATCH => WasiMethod::Patch,
        Method::CONNECT => WasiMethod::Connect,
        Method::TRACE => WasiMethod::Trace,
        ref other => WasiMethod::Other(other.as_str().to_owned()),
    }
}

/// Writes `payload` in full and finishes the body.
fn write_body(url: &str, body: OutgoingBody, payload: &[u8]) -> Result<(), HttpError> {
    let broken = |message: String| HttpError::Transport {
        url: url.to_owned(),
        message,
    };
    if !payload.is_empty() {
        let stream = body
            .write()
            .map_err(|()| broken("the request body stream was already taken".into()))?;
        for chunk in payload.chunks(WRITE_CHUNK) {
            stream.blocking_write_and_flush(chunk).map_err(|error| {
                broken(format!("writing the request body: {}", stream_error(error)))
            })?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|code| failed(url, &code))
}

/// A `wasi:http` failure as the plugin sees it: refused by the host's egress gate, or failed
/// on the way.
fn failed(url: &str, code: &ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied {
            url: url.to_owned(),
        },
        ErrorCode::HttpResponseBodySize(limit) => too_large(url, *limit),
        other => HttpError::Transport {
            url: url.to_owned(),
            message: format!("{other:?}"),
        },
    }
}

/// The failure of a body read: the host gives it as text (a failed body carries no
/// `error-code`), e.g. `HTTP response body size exceeds limit: 1073741824 bytes`.
fn body_failure(url: &str, text: &str) -> HttpError {
    let text = text.lines().next().unwrap_or_default();
    if let Some(rest) = text.split("response body size exceeds limit").nth(1) {
        let limit = rest
            .trim_start_matches(':')
            .trim()
            .trim_end_matches("bytes")
            .trim()
            .parse()
            .ok();
        return too_large(url, limit);
    }
    HttpError::Transport {
        url: url.to_owned(),
        message: format!("reading the response body: {text}"),
    }
}

/// A streamed body cut at the target's `max_streamed` (`limit` bytes, when known).
fn too_large(url: &str, limit: Option<u64>) -> HttpError {
    HttpError::Transport {
        url: url.to_owned(),
        message: format!(
            "the response body is larger than {}, the most capstan reads of a body streamed from \
             this target: narrow the request, or raise the target's `max_streamed` in the capstan \
             manifest",
            limit.map_or_else(|| "the limit".to_owned(), bytes)
        ),
    }
}

/// `1 GiB`, `512 MiB`, or bytes.
fn bytes(count: u64) -> String {
    match count {
        count if count >= 1 << 30 && count % (1 << 30) == 0 => format!("{} GiB", count >> 30),
        count if count >= 1 << 20 && count % (1 << 20) == 0 => format!("{} MiB", count >> 20),
        count => format!("{count} bytes"),
    }
}

fn stream_error(error: StreamError) -> String {
    match error {
        StreamError::Closed => "the stream closed".into(),
        StreamError::LastOperationFailed(error) => match http_error_code(&error) {
            Some(code) => format!("{code:?}"),
            None => error.to_debug_string(),
        },
    }
}

/// A response body read with blocking reads of its `wasi:io` stream. The stream is a child of
/// the body and is dropped first (fields drop in order).
struct BodyReader {
    stream: Option<InputStream>,
    _body: IncomingBody,
    url: String,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(stream) = &self.stream else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let wanted = u64::try_from(buf.len())
            .unwrap_or(READ_CHUNK)
            .min(READ_CHUNK);
        match stream.blocking_read(wanted) {
            // A blocking read gives at least one byte; an empty one is read again.
            Ok(chunk) if chunk.is_empty() => self.read(buf),
            Ok(chunk) => {
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Err(StreamError::Closed) => {
                self.stream = None;
                Ok(0)
            }
            Err(StreamError::LastOperationFailed(error)) => {
                self.stream = None;
                let failure = match http_error_code(&error) {
                    Some(code) => failed(&self.url, &code),
                    None => body_failure(&self.url, &error.to_debug_string()),
                };
                Err(std::io::Error::other(failure))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_cut_at_its_limit_names_max_streamed_and_other_failures_say_what_failed() {
        let cut = body_failure(
            "http://t/list",
            "HTTP response body size exceeds limit: 1073741824 bytes\nmore",
        );
        assert_eq!(
            cut.to_string(),
            "request to http://t/list failed: the response body is larger than 1 GiB, the most \
             capstan reads of a body streamed from this target: narrow the request, or raise the \
             target's `max_streamed` in the capstan manifest"
        );
        assert!(
            body_failure("u", "HTTP response body size exceeds limit: 3145728 bytes")
                .to_string()
                .contains("larger than 3 MiB")
        );
        assert!(
            body_failure("u", "HTTP response body size exceeds limit")
                .to_string()
                .contains("larger than the limit")
        );
        assert_eq!(
            body_failure("u", "connection read timeout").to_string(),
            "request to u failed: reading the response body: connection read timeout"
        );
        assert_eq!(bytes(1_000_001), "1000001 bytes");
    }
}
