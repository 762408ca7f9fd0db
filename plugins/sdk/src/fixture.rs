//! A [`Transport`] for native tests: it serves recorded answers by method and path, records every
//! request a handler sends, every progress report and log line, and runs a virtual clock, so a
//! handler is tested in milliseconds with `cargo test` on the build machine.
//!
//! ```ignore
//! let fixture = Fixture::new()
//!     .target("prod", "https://argocd.example")
//!     .on_json("GET", "/api/v1/applications/web", include_str!("fixtures/web.json"));
//! let result = get_application(&fixture.context(), &json!({"applicationName": "web"}))?;
//! assert_eq!(fixture.request_lines(), ["GET /api/v1/applications/web"]);
//! ```
//!
//! A path without `?` answers whatever the query; one with `?` only that exact query. Several
//! answers for one route are served in turn and the last one repeats (a resource that changes
//! while a tool polls it). A request no route answers panics, naming it and the routes there
//! are: a test says what its handler may send.
//!
//! A handler may read an answer whole ([`Context::send`]) or as a stream
//! ([`Context::send_streamed`]); either works with every route. [`Fixture::on_reader`] serves a
//! body made while it is read (ten thousand applications without holding them, or a body that
//! fails part way as the host cuts one), and the request a streaming handler sent carries the
//! [`STREAM_HEADER`](crate::http::STREAM_HEADER) it tells the host with.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;

use crate::host::Level;
use crate::http::{HttpError, Request, Response, StreamedResponse, transport_error};
use crate::{Context, Transport};

/// Recorded answers and a record of what a handler did; clones share both.
#[derive(Clone, Default)]
pub struct Fixture {
    state: Rc<RefCell<State>>,
}

#[derive(Default)]
struct State {
    settings: BTreeMap<String, String>,
    targets: Vec<(String, String)>,
    routes: Vec<Route>,
    sent: Vec<Sent>,
    progress: Vec<Progress>,
    logs: Vec<(Level, String)>,
    clock: Duration,
    slept: Duration,
    /// The call's time limit, when the test set one.
    limit: Option<Duration>,
    /// What the client behind the call can answer.
    answerable: Vec<crate::InputKind>,
}

struct Route {
    method: String,
    path: String,
    answers: VecDeque<Answer>,
}

/// Makes a body anew for each request that reads it.
type MakeBody = Rc<dyn Fn() -> Box<dyn Read>>;

/// One recorded answer.
#[derive(Clone)]
enum Answer {
    /// A response with its body in memory, or the failure the host would give.
    Whole(Result<Response, HttpError>),
    /// A JSON response whose body is made while it is read.
    Made { status: u16, make: MakeBody },
}

impl Answer {
    fn whole(self, url: &str) -> Result<Response, HttpError> {
        match self {
            Answer::Whole(answer) => answer,
            Answer::Made { status, make } => {
                let mut body = Vec::new();
                make()
                    .read_to_end(&mut body)
                    .map_err(|error| transport_error(url, &error))?;
                Ok(Response {
                    status,
                    headers: json_headers(),
                    body,
                })
            }
        }
    }

    fn streamed(self, url: &str) -> Result<StreamedResponse, HttpError> {
        match self {
            Answer::Whole(answer) => {
                answer.map(|response| StreamedResponse::buffered(url, response))
            }
            Answer::Made { status, make } => {
                Ok(StreamedResponse::new(url, status, json_headers(), make()))
            }
        }
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

/// A request a handler sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The URL as sent.
    pub url: String,
    /// The URL without its target's base URL (`/api/v1/...?query`).
    pub path: String,
    /// The headers the handler set, names as given.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The time-out the handler set on the request, if any.
    pub timeout: Option<Duration>,
}

impl Sent {
    /// `METHOD path`, e.g. `GET /api/v1/applications/web?refresh=normal`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The body parsed as JSON (`Value::Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A progress report.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Progress so far.
    pub done: f64,
    /// The expected total.
    pub total: Option<f64>,
    /// The message.
    pub message: Option<String>,
}

impl Fixture {
    /// A fixture with no targets, settings or routes; the virtual clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the target `name` at `url` (what the host exposes as `capstan.targets` and
    /// `capstan.target.<name>.url`).
    pub fn target(self, name: &str, url: &str) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.targets.push((name.to_owned(), url.to_owned()));
            let names: Vec<&str> = state.targets.iter().map(|(n, _)| n.as_str()).collect();
            let names = names.join(",");
            state.settings.insert("capstan.targets".into(), names);
            state
                .settings
                .insert(format!("capstan.target.{name}.url"), url.to_owned());
        }
        self
    }

    /// Lets the call run `limit` in all (from the virtual clock's zero), as the host's call
    /// timeout or task time limit would: [`Context::remaining`](crate::Context::remaining)
    /// answers what is left of it.
    pub fn time_limit(self, limit: Duration) -> Self {
        self.state.borrow_mut().limit = Some(limit);
        self
    }

    /// Makes the client behind the call able to answer `kinds` of input
    /// ([`Context::can_answer`](crate::Context::can_answer)); none by default.
    pub fn client_answers(self, kinds: &[crate::InputKind]) -> Self {
        self.state.borrow_mut().answerable = kinds.to_vec();
        self
    }

    /// Sets the manifest setting `key` (from `[config]`).
    pub fn setting(self, key: &str, value: &str) -> Self {
        self.state
            .borrow_mut()
            .settings
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Answers `method path` with `status` and the text `body`.
    pub fn on(self, method: &str, path: &str, status: u16, body: &str) -> Self {
        let response = Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        self.answer(method, path, Ok(response))
    }

    /// Answers `method path` with 200 and the JSON text `body` (a recorded answer, or
    /// `value.to_string()`).
    pub fn on_json(self, method: &str, path: &str, body: &str) -> Self {
        self.on_status_json(method, path, 200, body)
    }

    /// Answers `method path` with `status` and the JSON text `body`.
    pub fn on_status_json(self, method: &str, path: &str, status: u16, body: &str) -> Self {
        let response = Response {
            status,
            headers: json_headers(),
            body: body.as_bytes().to_vec(),
        };
        self.answer(method, path, Ok(response))
    }

    /// Answers `method path` with `status` and a JSON body that `make` produces anew for each
    /// request, read as the handler consumes it: a body too large to hold in a test, or one
    /// whose reader fails part way (an [`std::io::Error`] wrapping an [`HttpError`], as the
    /// host's cut of a body past the target's limit reaches a plugin).
    pub fn on_reader(
        self,
        method: &str,
        path: &str,
        status: u16,
        make: impl Fn() -> Box<dyn Read> + 'static,
    ) -> Self {
        let answer = Answer::Made {
            status,
            make: Rc::new(make),
        };
        self.route_to(method, path, answer)
    }

    /// Fails `method path` the way the host fails a request: refused by the egress gate, or
    /// lost on the way.
    pub fn on_error(self, method: &str, path: &str, error: HttpError) -> Self {
        self.answer(method, path, Err(error))
    }

    fn answer(self, method: &str, path: &str, answer: Result<Response, HttpError>) -> Self {
        self.route_to(method, path, Answer::Whole(answer))
    }

    fn route_to(self, method: &str, path: &str, answer: Answer) -> Self {
        {
            let mut state = self.state.borrow_mut();
            let existing = state
                .routes
                .iter_mut()
                .find(|route| route.method == method && route.path == path);
            match existing {
                Some(route) => route.answers.push_back(answer),
                None => state.routes.push(Route {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    answers: VecDeque::from([answer]),
                }),
            }
        }
        self
    }

    /// A context whose I/O is this fixture's.
    pub fn context(&self) -> Context {
        Context::new(self.clone())
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<Sent> {
        self.state.borrow().sent.clone()
    }

    /// Every request sent so far as `METHOD path`.
    pub fn request_lines(&self) -> Vec<String> {
        self.state.borrow().sent.iter().map(Sent::line).collect()
    }

    /// Every progress report so far.
    pub fn progress(&self) -> Vec<Progress> {
        self.state.borrow().progress.clone()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    /// The time the handler spent sleeping (on the virtual clock).
    pub fn slept(&self) -> Duration {
        self.state.borrow().slept
    }
}

impl State {
    fn relative(&self, url: &str) -> String {
        self.targets
            .iter()
            .filter_map(|(_, base)| url.strip_prefix(base.trim_end_matches('/')))
            .find(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
            .map(str::to_owned)
            .unwrap_or_else(|| url.to_owned())
    }

    fn route(&mut self, method: &str, path: &str) -> Option<&mut Route> {
        let without_query = path.split('?').next().unwrap_or(path);
        let exact = self
            .routes
            .iter()
            .position(|route| route.method == method && route.path == path);
        let loose = || {
            self.routes.iter().position(|route| {
                route.method == method && !route.path.contains('?') && route.path == without_query
            })
        };
        let index = exact.or_else(loose)?;
        self.routes.get_mut(index)
    }

    fn routes_listed(&self) -> String {
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|route| format!("{} {}", route.method, route.path))
            .collect();
        if routes.is_empty() {
            "none".into()
        } else {
            routes.join(", ")
        }
    }
}

impl Fixture {
    /// Records `request` and takes the answer its route gives.
    fn take(&self, request: &Request) -> Answer {
        let mut state = self.state.borrow_mut();
        let method = request.method().to_string();
        let path = state.relative(request.url());
        state.sent.push(Sent {
            method: method.clone(),
            url: request.url().to_owned(),
            path: path.clone(),
            headers: request.headers().to_vec(),
            body: request.body_bytes().to_vec(),
            timeout: request.timeout_set(),
        });
        let listed = state.routes_listed();
        let Some(route) = state.route(&method, &path) else {
            panic!("no fixture answers {method} {path}; the fixture has: {listed}");
        };
        if route.answers.len() > 1 {
            route.answers.pop_front().expect("an answer")
        } else {
            route.answers.front().cloned().expect("an answer")
        }
    }
}

impl Transport for Fixture {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        self.take(&request).whole(request.url())
    }

    fn send_streamed(&self, request: Request) -> Result<StreamedResponse, HttpError> {
        self.take(&request).streamed(request.url())
    }

    fn config(&self, key: &str) -> Option<String> {
        self.state.borrow().settings.get(key).cloned()
    }

    fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        self.state.borrow_mut().progress.push(Progress {
            done,
            total,
            message: message.map(str::to_owned),
        });
    }

    fn log(&self, level: Level, message: &str) {
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_owned()));
    }

    fn sleep(&self, duration: Duration) {
        let mut state = self.state.borrow_mut();
        state.clock += duration;
        state.slept += duration;
    }

    fn monotonic(&self) -> Duration {
        self.state.borrow().clock
    }

    fn since_epoch(&self) -> Duration {
        // 2026-01-01T00:00:00Z, moved on by the virtual clock: timestamps are reproducible.
        Duration::from_secs(1_767_225_600) + self.state.borrow().clock
    }

    fn remaining(&self) -> Option<Duration> {
        let state = self.state.borrow();
        state.limit.map(|limit| limit.saturating_sub(state.clock))
    }

    fn client_can_answer(&self, kind: crate::InputKind) -> bool {
        self.state.borrow().answerable.contains(&kind)
    }
}

/// A body read piece by piece from `pieces`, each made only when the reader reaches it (for
/// [`Fixture::on_reader`]): `streamed_body((0..10_000).map(|n| item(n)))` is never held whole.
pub fn streamed_body<I>(pieces: I) -> Box<dyn Read>
where
    I: IntoIterator<Item = Vec<u8>>,
    I::IntoIter: 'static,
{
    Box::new(Pieces {
        pieces: Box::new(pieces.into_iter()),
        current: std::io::Cursor::new(Vec::new()),
    })
}

struct Pieces {
    pieces: Box<dyn Iterator<Item = Vec<u8>>>,
    current: std::io::Cursor<Vec<u8>>,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let read = self.current.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            match self.pieces.next() {
                Some(piece) => self.current = std::io::Cursor::new(piece),
                None => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_path_or_exact_query_and_repeat_their_last_answer() {
        let fixture = Fixture::new()
            .target("prod", "https://argocd.example/root/")
            .on_json("GET", "/api/v1/applications", r#"{"any":true}"#)
            .on_json(
                "GET",
                "/api/v1/applications?refresh=hard",
                r#"{"hard":true}"#,
            )
            .on("POST", "/api/v1/sync", 200, "first")
            .on("POST", "/api/v1/sync", 200, "then");
        let context = fixture.context();
        let (_, base) = context.config().resolve_target(None).unwrap();
        let get = |path: &str| context.send(Request::get(format!("{base}{path}"))).unwrap();
        assert_eq!(get("/api/v1/applications?x=1").text(), r#"{"any":true}"#);
        assert_eq!(
            get("/api/v1/applications?refresh=hard").text(),
            r#"{"hard":true}"#
        );
        let post = || {
            context
                .send(Request::post(format!("{base}/api/v1/sync")))
                .unwrap()
                .text()
        };
        assert_eq!([post(), post(), post()], ["first", "then", "then"]);
        assert_eq!(fixture.request_lines()[0], "GET /api/v1/applications?x=1");
        assert_eq!(
            fixture.requests()[0].url,
            "https://argocd.example/root/api/v1/applications?x=1"
        );
    }

    #[test]
    #[should_panic(expected = "no fixture answers GET /missing; the fixture has: none")]
    fn an_unexpected_request_names_itself() {
        let fixture = Fixture::new().target("t", "http://k");
        let _ = fixture.context().send(Request::get("http://k/missing"));
    }

    #[test]
    fn settings_and_targets_read_as_the_host_exposes_them() {
        let fixture = Fixture::new()
            .target("a", "http://a")
            .target("b", "http://b")
            .setting("default_target", "b");
        let context = fixture.context();
        assert_eq!(context.config().targets(), ["a", "b"]);
        assert_eq!(
            context.config().resolve_target(None).unwrap(),
            ("b".to_owned(), "http://b".to_owned())
        );
        let error = context.config().target_url("c").unwrap_err();
        assert_eq!(error, "no target named `c`; this instance has: a, b");
    }
}
