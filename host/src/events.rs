//! What a guest reports while a call runs: progress, log lines, and the egress gate's
//! refusals. The runtime (`host.progress`, `host.log`) and the egress gate (refusals) emit
//! them into an [`EventSink`]; the MCP front relays them to the client. The sink's
//! [`CallTally`] carries the call's counts and its time in the sandbox up to the front.
//!
//! A sink may also carry an [`EgressWatch`]: it sees every decision of the egress gate as it
//! is made ([`EgressNote`]: allowed to a target with the answer's status, or refused with the
//! reason), which `capstan call` prints. Serving sets none, and then nothing is built.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

/// What the MCP client behind a call can answer when the plugin asks for input
/// (`host.client-can-answer`): the capabilities it declared. Nothing outside a call that may
/// ask (listing, tasks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientInputs {
    /// It can ask its user (`elicitation`, form mode).
    pub elicitation: bool,
    /// It can ask its model (`sampling`).
    pub sampling: bool,
    /// It can list its roots (`roots`).
    pub roots: bool,
}

/// Severity of a guest log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// A failure.
    Error,
}

/// Why the egress gate refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The URL is not inside any of the instance's targets.
    OutsideTargets,
    /// The URL (or a redirect's `Location`) does not parse or has no usable host.
    BadUrl,
    /// The scheme is not `http` or `https`.
    Scheme,
    /// The URL carries user info (`user@host`).
    UserInfo,
    /// The host resolves only to addresses the policy refuses (loopback, metadata, ...).
    AddressRefused,
    /// More redirects than the host follows.
    TooManyRedirects,
    /// The host could not add the target's credentials.
    Credentials,
    /// The target exchanges the caller's token, and the caller has none (anonymous, shared
    /// token, API key).
    NoCallerIdentity,
    /// The token exchange for the target failed (endpoint unreachable, `invalid_grant`, ...).
    TokenExchange,
    /// The URL is inside one of the instance's targets, but not the one the call was
    /// authorised for.
    OutsideCallTarget,
    /// The method is never sent (`TRACE`, `CONNECT`, unknown), or not one the target takes
    /// (its `methods`, or a read-only instance's).
    MethodNotAllowed,
    /// The path is in the target's `deny_paths`.
    DeniedPath,
    /// The request would mint a token the plugin could read (Argo CD token creation,
    /// Kubernetes `TokenRequest`).
    CredentialMinting,
    /// The request would read or change Kubernetes `Secret` objects.
    SecretAccess,
    /// The request carries `Impersonate-*` headers for a Kubernetes target.
    Impersonation,
}

impl RefusalReason {
    /// A stable, short name for metrics and audit records.
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::OutsideTargets => "outside_targets",
            RefusalReason::BadUrl => "bad_url",
            RefusalReason::Scheme => "scheme",
            RefusalReason::UserInfo => "user_info",
            RefusalReason::AddressRefused => "address_refused",
            RefusalReason::TooManyRedirects => "too_many_redirects",
            RefusalReason::Credentials => "credentials",
            RefusalReason::NoCallerIdentity => "no_caller_identity",
            RefusalReason::TokenExchange => "token_exchange",
            RefusalReason::OutsideCallTarget => "outside_call_target",
            RefusalReason::MethodNotAllowed => "method_not_allowed",
            RefusalReason::DeniedPath => "denied_path",
            RefusalReason::CredentialMinting => "credential_minting",
            RefusalReason::SecretAccess => "secret_access",
            RefusalReason::Impersonation => "impersonation",
        }
    }
}

/// Something a guest reported during a call.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestEvent {
    /// `host.progress`.
    Progress {
        /// Progress so far.
        done: f64,
        /// Expected final value, when known.
        total: Option<f64>,
        /// A human-readable status.
        message: Option<String>,
    },
    /// The egress gate refused a request.
    Denied {
        /// The request's URL (without query).
        url: String,
        /// Why, as a kind.
        reason: RefusalReason,
        /// Why, for the agent: the cause and the instance's allowed targets.
        message: String,
    },
    /// `host.log`.
    Log {
        /// Severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
}

/// One decision of the egress gate, as an [`EgressWatch`] sees it. Carries no header and no
/// query string: the URL is cut as audit records cut it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressNote {
    /// The request's method.
    pub method: String,
    /// The URL (the final hop's, after redirects), without query or fragment.
    pub url: String,
    /// What the gate did with it.
    pub decision: EgressDecision,
}

/// What the egress gate did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressDecision {
    /// Let through to `target`: the final response's status, or why no response came.
    Allowed {
        /// The target the URL matched.
        target: String,
        /// The status, or the failure (connection refused, timeout, TLS, ...).
        answer: Result<u16, String>,
    },
    /// Refused, at the first hop or at a redirect; nothing more was sent.
    Refused {
        /// Why, as a kind.
        reason: RefusalReason,
        /// Why, as the agent reads it: the cause and the instance's allowed targets.
        message: String,
    },
}

/// Sees every [`EgressNote`] of a call as the gate makes the decision (on the thread that
/// runs the call: keep it short).
#[derive(Clone)]
pub struct EgressWatch(Arc<dyn Fn(&EgressNote) + Send + Sync>);

impl EgressWatch {
    /// A watch that hands every note to `observe`.
    pub fn new(observe: impl Fn(&EgressNote) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }
}

impl std::fmt::Debug for EgressWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EgressWatch")
    }
}

/// Where a call's events go: a bounded channel to the call's relay, or nowhere; the call's
/// tally, which counts every request even when the channel is full; and, optionally, a watch
/// of the egress gate's decisions.
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    sender: Option<mpsc::Sender<GuestEvent>>,
    tally: Arc<CallTally>,
    egress: Option<EgressWatch>,
}

/// How many requests a call sent, how many the gate refused, and how long the guest ran.
#[derive(Debug, Default)]
pub struct CallTally {
    requests: AtomicU32,
    denials: AtomicU32,
    /// Nanoseconds in the sandbox plus one; zero while the guest has not run.
    ran: AtomicU64,
    /// Progress reports.
    reports: AtomicU32,
}

impl CallTally {
    /// Requests the gate let through.
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests the gate refused.
    pub fn denials(&self) -> u32 {
        self.denials.load(Ordering::Relaxed)
    }

    /// Whether the guest reported progress: its work has started.
    pub fn reported_progress(&self) -> bool {
        self.reports.load(Ordering::Relaxed) > 0
    }

    /// Notes that the guest ran for `took` (from taking its pool slot to its measured answer,
    /// or to its end when it failed); a task that calls its plugin again adds up its runs.
    pub fn record_run(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX - 1);
        let _ = self
            .ran
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ran| {
                Some(ran.max(1).saturating_add(nanos))
            });
    }

    /// How long the guest ran; `None` when it never did (refused before, or no pool slot).
    pub fn run_time(&self) -> Option<Duration> {
        match self.ran.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos - 1)),
        }
    }
}

impl EventSink {
    /// A sink that drops every event (listing tools, rendering prompts).
    pub fn none() -> Self {
        Self::default()
    }

    /// A sink holding at most `capacity` unread events, and its receiving end. The receiver
    /// ends when every clone of the sink is dropped.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<GuestEvent>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let sink = Self {
            sender: Some(sender),
            tally: Arc::default(),
            egress: None,
        };
        (sink, receiver)
    }

    /// The same sink, with `watch` seeing every decision of the egress gate.
    pub fn watching_egress(mut self, watch: EgressWatch) -> Self {
        self.egress = Some(watch);
        self
    }

    /// Hands the note `note` builds to the egress watch; builds nothing when there is none.
    pub fn note_egress(&self, note: impl FnOnce() -> EgressNote) {
        if let Some(EgressWatch(observe)) = &self.egress {
            observe(&note());
        }
    }

    /// The call's tally, shared by every clone of this sink.
    pub fn tally(&self) -> Arc<CallTally> {
        self.tally.clone()
    }

    /// Counts a request the gate let through.
    pub fn count_request(&self) {
        self.tally.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends `event` if there is room. Events are advisory: when the consumer lags they are
    /// dropped rather than let a chatty guest grow host memory. Refusals are counted either way.
    pub fn emit(&self, event: GuestEvent) {
        match event {
            GuestEvent::Denied { .. } => self.tally.denials.fetch_add(1, Ordering::Relaxed),
            GuestEvent::Progress { .. } => self.tally.reports.fetch_add(1, Ordering::Relaxed),
            GuestEvent::Log { .. } => 0,
        };
        if let Some(sender) = &self.sender {
            let _ = sender.try_send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_sink_drops_and_a_closed_one_ends_the_receiver() {
        let (sink, mut receiver) = EventSink::channel(1);
        let log = |message: &str| GuestEvent::Log {
            level: LogLevel::Info,
            message: message.into(),
        };
        sink.emit(log("kept"));
        sink.emit(log("dropped"));
        drop(sink);
        assert_eq!(receiver.recv().await, Some(log("kept")));
        assert_eq!(receiver.recv().await, None);
        EventSink::none().emit(log("nowhere"));
    }

    #[test]
    fn the_tally_counts_requests_and_refusals_even_when_events_are_dropped() {
        let (sink, _receiver) = EventSink::channel(1);
        let tally = sink.tally();
        let denied = || GuestEvent::Denied {
            url: "https://x".into(),
            reason: RefusalReason::OutsideTargets,
            message: "no".into(),
        };
        sink.clone().count_request();
        sink.emit(denied());
        sink.emit(denied());
        assert_eq!((tally.requests(), tally.denials()), (1, 2));
    }

    #[test]
    fn egress_notes_are_built_only_for_a_watch() {
        let note = || EgressNote {
            method: "GET".into(),
            url: "http://a.test/x".into(),
            decision: EgressDecision::Allowed {
                target: "a".into(),
                answer: Ok(200),
            },
        };
        EventSink::none().note_egress(|| unreachable!("no watch, no note"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = seen.clone();
        let watch = EgressWatch::new(move |note| kept.lock().unwrap().push(note.clone()));
        let (sink, _receiver) = EventSink::channel(1);
        let sink = sink.watching_egress(watch);
        sink.clone().note_egress(note);
        assert_eq!(*seen.lock().unwrap(), [note()]);
    }

    #[test]
    fn the_tally_knows_whether_and_how_long_the_guest_ran() {
        let tally = CallTally::default();
        assert_eq!(tally.run_time(), None);
        tally.record_run(Duration::ZERO);
        assert_eq!(tally.run_time(), Some(Duration::ZERO));
        tally.record_run(Duration::from_micros(70));
        assert_eq!(tally.run_time(), Some(Duration::from_micros(70)));
    }
}
