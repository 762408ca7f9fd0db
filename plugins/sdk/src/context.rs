//! The context a handler runs in: every way a tool reaches outside its own code (HTTP to the
//! instance's targets, the manifest's settings, progress and log lines, the clock) goes through
//! a [`Context`], which hands the work to a [`Transport`].
//!
//! In a component the transport is [`WasiTransport`](crate::wasi::WasiTransport) (`wasi:http`,
//! `wasi:config`, the host's `progress` and `log`); in a native test it is a
//! [`Fixture`](crate::fixture::Fixture) that serves recorded answers and records every request,
//! so a handler is tested in milliseconds without a host, a sandbox or a fake server.

use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::ToolError;
use crate::host::Level;
use crate::http::{
    HttpError, Request, Response, STREAM_HEADER, STREAM_VALUE, StreamedResponse, excerpt,
};
use crate::input::{Answers, Input, InputKind, Round};

/// What a [`Context`] needs from the world. Implement it only to run handlers somewhere new;
/// plugins use the [`Context`] methods.
pub trait Transport {
    /// Sends one request and reads the whole response.
    fn send(&self, request: Request) -> Result<Response, HttpError>;

    /// Sends several requests at once (as far as the transport can) and answers in order.
    fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        requests
            .into_iter()
            .map(|request| self.send(request))
            .collect()
    }

    /// Sends one request and answers once the response's head is in, its body unread. By
    /// default the response is read whole and handed on as a stream.
    fn send_streamed(&self, request: Request) -> Result<StreamedResponse, HttpError> {
        let url = request.url().to_owned();
        self.send(request)
            .map(|response| StreamedResponse::buffered(url, response))
    }

    /// Sends several requests at once (as far as the transport can), then hands each response,
    /// its body unread, to `each` with its index, as the responses arrive (or in order); a
    /// response is dropped once `each` returns. By default they are sent one after another.
    fn send_all_streamed(
        &self,
        requests: Vec<Request>,
        each: &mut dyn FnMut(usize, Result<StreamedResponse, HttpError>),
    ) {
        for (index, request) in requests.into_iter().enumerate() {
            each(index, self.send_streamed(request));
        }
    }

    /// The manifest setting `key`, if set.
    fn config(&self, key: &str) -> Option<String>;

    /// Reports progress of the current call.
    fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>);

    /// Writes a log line.
    fn log(&self, level: Level, message: &str);

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration);

    /// Time on a monotonic clock (from an arbitrary origin); moves on while sleeping.
    fn monotonic(&self) -> Duration;

    /// Wall-clock time since the Unix epoch.
    fn since_epoch(&self) -> Duration;

    /// Time left before the host stops the call, when known.
    fn remaining(&self) -> Option<Duration> {
        None
    }

    /// Whether the client behind the call can answer input of `kind`.
    fn client_can_answer(&self, kind: InputKind) -> bool {
        let _ = kind;
        false
    }
}

/// One call's way out, cheap to clone; clients built for a call keep a clone.
#[derive(Clone)]
pub struct Context {
    transport: Rc<dyn Transport>,
    /// The client's answers, when an earlier round of this call asked.
    round: Option<Rc<Round>>,
}

impl Context {
    /// A context over `transport`.
    pub fn new(transport: impl Transport + 'static) -> Self {
        Self {
            transport: Rc::new(transport),
            round: None,
        }
    }

    /// The same context carrying the client's answers of the previous round.
    pub fn with_round(mut self, round: Round) -> Self {
        self.round = Some(Rc::new(round));
        self
    }

    /// The client's answers of the previous round, if this call was asked again.
    pub fn round(&self) -> Option<&Round> {
        self.round.as_deref()
    }

    /// The answers to every question of `input` when the previous round brought them all;
    /// otherwise an error carrying the questions still open, which the handler returns (with
    /// `?`) so the host asks the client and calls again.
    pub fn ask(&self, input: Input) -> Result<Answers<'_>, ToolError> {
        let open = input.unanswered(self.round());
        match (self.round(), open.requests().is_empty()) {
            (Some(round), true) => Ok(Answers::new(round)),
            _ => Err(ToolError::input_required(open)),
        }
    }

    /// Whether the client behind this call can answer input of `kind` (it declared the
    /// capability); ask only for what it can.
    pub fn can_answer(&self, kind: InputKind) -> bool {
        self.transport.client_can_answer(kind)
    }

    /// The context of a call inside a component: `wasi:http`, `wasi:config` and the host.
    pub fn component() -> Self {
        Self::new(crate::wasi::WasiTransport)
    }

    /// Sends `request` to one of the instance's targets and reads the whole response. The host
    /// refuses anything outside the targets ([`HttpError::Denied`]) and adds the credentials.
    pub fn send(&self, request: Request) -> Result<Response, HttpError> {
        self.transport.send(request)
    }

    /// Sends several requests at once and answers in order.
    pub fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        self.transport.send_all(requests)
    }

    /// Sends `request` and answers once the response's head is in, its body still to be read
    /// as it arrives ([`StreamedResponse::json_with`] parses it into a `serde` visitor,
    /// [`StreamedResponse::reader`] gives the bytes). Use it for answers that can be large
    /// (lists of everything), keeping only what the tool's answer needs: the host then holds
    /// the body to the target's `max_streamed` (1 GiB by default) instead of its
    /// `max_response`, and a body past it fails with an error naming `max_streamed`.
    pub fn send_streamed(&self, request: Request) -> Result<StreamedResponse, HttpError> {
        self.transport.send_streamed(streaming(request))
    }

    /// Sends several requests at once, then reads each response, its body unread, with
    /// `read(index, response)` as the responses arrive, and answers what `read` returned, in
    /// the order of `requests`. Bodies are read one after another: while one is read, the
    /// others wait (the host holds only a little of each), so a request's time-out also covers
    /// its wait behind the bodies read before it.
    pub fn send_all_streamed<T>(
        &self,
        requests: Vec<Request>,
        mut read: impl FnMut(usize, Result<StreamedResponse, HttpError>) -> T,
    ) -> Vec<T> {
        let mut answers: Vec<Option<T>> = requests.iter().map(|_| None).collect();
        let requests = requests.into_iter().map(streaming).collect();
        self.transport
            .send_all_streamed(requests, &mut |index, response| {
                let answer = read(index, response);
                if let Some(slot) = answers.get_mut(index) {
                    *slot = Some(answer);
                }
            });
        answers
            .into_iter()
            .map(|answer| answer.expect("the transport answers every request"))
            .collect()
    }

    /// GETs `url` with `accept: application/json` and parses a 2xx body; a non-2xx status
    /// becomes an error that quotes the status and the start of the body.
    pub fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, ToolError> {
        let response = self.send(Request::get(url).header("accept", "application/json"))?;
        if !response.is_success() {
            return Err(ToolError::new(format!(
                "GET {url} answered HTTP {}: {}",
                response.status,
                excerpt(&response.text(), 500)
            )));
        }
        Ok(response.json()?)
    }

    /// The instance's settings: its manifest's `[config]` and its targets.
    pub fn config(&self) -> crate::config::Config<'_> {
        crate::config::Config::new(self)
    }

    pub(crate) fn setting(&self, key: &str) -> Option<String> {
        self.transport.config(key)
    }

    /// Reports progress (`done` of `total`, with an optional message); the host forwards it as
    /// `notifications/progress` when the client asked for progress.
    pub fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        self.transport.progress(done, total, message);
    }

    /// Writes a log line, tagged by the host with the plugin instance and tool. Never log
    /// secrets.
    pub fn log(&self, level: Level, message: &str) {
        self.transport.log(level, message);
    }

    /// Writes an `info` log line.
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// Writes a `warn` log line.
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    /// Sleeps for `duration` (a host timer; it counts against the call's timeout).
    pub fn sleep(&self, duration: Duration) {
        self.transport.sleep(duration);
    }

    /// Time on a monotonic clock; use differences of two readings.
    pub fn monotonic(&self) -> Duration {
        self.transport.monotonic()
    }

    /// Wall-clock time since the Unix epoch (for timestamps sent upstream).
    pub fn since_epoch(&self) -> Duration {
        self.transport.since_epoch()
    }

    /// Time left before the host stops this call: the instance's call timeout, or the task
    /// time limit when the call runs as an MCP task (`None` where the transport cannot tell).
    pub fn remaining(&self) -> Option<Duration> {
        self.transport.remaining()
    }

    /// How long a tool may wait when its caller did not say: the time left in the call less a
    /// margin to answer in (a tenth of it, at least two seconds), at most `max`; `default`
    /// when the time left is unknown.
    pub fn wait_budget(&self, default: Duration, max: Duration) -> Duration {
        match self.remaining() {
            Some(left) => {
                let margin = (left / 10).max(Duration::from_secs(2));
                left.saturating_sub(margin)
                    .min(max)
                    .max(Duration::from_secs(1))
            }
            None => default.min(max),
        }
    }
}

/// `request` with the header that tells the host its body is read as a stream.
fn streaming(request: Request) -> Request {
    request.header(STREAM_HEADER, STREAM_VALUE)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::fixture::Fixture;

    #[test]
    fn a_wait_budget_leaves_a_margin_of_the_time_left_and_keeps_to_its_bounds() {
        let secs = Duration::from_secs;
        let budget = |fixture: Fixture| fixture.context().wait_budget(secs(25), secs(3600));
        assert_eq!(budget(Fixture::new()), secs(25), "unknown: the default");
        assert_eq!(budget(Fixture::new().time_limit(secs(30))), secs(27));
        assert_eq!(budget(Fixture::new().time_limit(secs(1800))), secs(1620));
        assert_eq!(budget(Fixture::new().time_limit(secs(86_400))), secs(3600));
        assert_eq!(budget(Fixture::new().time_limit(secs(2))), secs(1));
        let fixture = Fixture::new().time_limit(secs(30));
        fixture.context().sleep(secs(10));
        assert_eq!(fixture.context().remaining(), Some(secs(20)));
    }
}
