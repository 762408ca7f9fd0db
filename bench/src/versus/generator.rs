//! The load generator: `concurrency` virtual users, each with its own keep-alive connection (and
//! its own MCP session when the target speaks MCP), spread over one current-thread runtime per
//! OS thread (as many threads as cores, at most one per user). Each user sends requests rendered
//! before the window, in turn, back to back (a closed loop); in the loop only bytes are written
//! and read: no HTTP or MCP library, no JSON, no allocation per call but the latency record.
//!
//! The threads set up their users (connect, open the session, warm up), then wait at a gate;
//! the server's CPU time, the generator threads' own CPU time and the server's memory peak are
//! read around the window, while the threads wait at the gates before and after it.

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::future::{join_all, try_join_all};

use super::http1::{Connection, Message};
use super::load::{Cell, Window};
use super::mcp_wire::{self, Rendered};
use super::process::{Meter, Threads};
use crate::stats::Sample;

/// The prefix of the generator threads' names, for their CPU time.
pub const THREAD_NAME: &str = "loadgen";
/// The longest a user warms up before the window.
const WARM_UP_LIMIT: Duration = Duration::from_secs(2);

/// What the users send.
pub enum Script {
    /// Whole HTTP requests, the same for every user; an answer succeeds with a 2xx status.
    Http(Vec<Vec<u8>>),
    /// JSON-RPC request bodies (see [`mcp_wire::tool_call`]): each user opens an MCP session and
    /// renders them for it once; an answer succeeds with a result that is not a tool error.
    Mcp(Vec<Vec<u8>>),
}

/// One measurement: a script against a server at a concurrency for a window.
pub struct Load {
    /// The server's address.
    pub address: SocketAddr,
    /// The requests, taken in turn (each user starts at a different one).
    pub script: Arc<Script>,
    /// Users calling at once.
    pub concurrency: usize,
    /// How long to measure, after how much warm-up.
    pub window: Window,
    /// Whose CPU time and memory the cell reports.
    pub server: Meter,
}

/// Runs `load` on threads of its own and waits for it (call from a blocking context).
pub fn run(load: &Load) -> anyhow::Result<Cell> {
    let threads = load.concurrency.clamp(1, cores());
    let gates = Gates::new(threads + 1);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for thread in 0..threads {
            let users: Vec<usize> = (thread..load.concurrency).step_by(threads).collect();
            let gates = &gates;
            let handle = std::thread::Builder::new()
                .name(format!("{THREAD_NAME}-{thread}"))
                .spawn_scoped(scope, move || drive(load, &users, gates))
                .context("starting a load generator thread")?;
            handles.push(handle);
        }
        let readings = around_window(load, &gates);
        let mut outcomes = Vec::new();
        for handle in handles {
            let outcome = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a load generator thread panicked"))?;
            outcomes.push(outcome?);
        }
        Ok(cell(readings?, outcomes))
    })
}

/// The gates every generator thread and the measuring thread pass together.
struct Gates {
    /// Users set up and warmed up.
    ready: Barrier,
    /// Readings taken: the window starts.
    go: Barrier,
    /// Every user's last call answered.
    done: Barrier,
    /// Readings taken: the users may close their sessions.
    release: Barrier,
}

impl Gates {
    fn new(parties: usize) -> Self {
        Self {
            ready: Barrier::new(parties),
            go: Barrier::new(parties),
            done: Barrier::new(parties),
            release: Barrier::new(parties),
        }
    }
}

/// What the measuring thread read around the window.
struct Readings {
    elapsed: Duration,
    server_cpu: f64,
    generator_cpu: f64,
    peak_rss: Option<u64>,
}

/// Takes the readings while the generator threads wait at the gates; passes every gate even
/// when a reading fails, so no thread waits forever.
fn around_window(load: &Load, gates: &Gates) -> anyhow::Result<Readings> {
    let generator = Threads::named(THREAD_NAME);
    gates.ready.wait();
    let before = load
        .server
        .reset_peak()
        .and_then(|()| Ok((load.server.cpu_seconds()?, generator.cpu_seconds()?)));
    gates.go.wait();
    let started = Instant::now();
    gates.done.wait();
    let elapsed = started.elapsed();
    let after = (|| {
        let cpu = (load.server.cpu_seconds()?, generator.cpu_seconds()?);
        Ok::<_, anyhow::Error>((cpu, load.server.peak_rss()?))
    })();
    gates.release.wait();
    let (server_before, generator_before) = before?;
    let ((server_after, generator_after), peak_rss) = after?;
    Ok(Readings {
        elapsed,
        server_cpu: server_after - server_before,
        generator_cpu: generator_after - generator_before,
        peak_rss,
    })
}

/// Every latency and the failed calls of one thread's users.
struct Outcome {
    latencies: Vec<Duration>,
    errors: usize,
}

/// One generator thread: sets up `users` (indices among all users), passes the gates, runs the
/// window between them and closes the sessions at the end.
fn drive(load: &Load, users: &[usize], gates: &Gates) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let setup = runtime
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .and_then(|runtime| {
            runtime.block_on(try_join_all(
                users.iter().map(|&index| User::open(load, index)),
            ))
        });
    gates.ready.wait();
    gates.go.wait();
    let outcome = match (&runtime, setup) {
        (Ok(runtime), Ok(mut users)) => {
            let deadline = Instant::now() + load.window.length;
            let outcome = runtime.block_on(run_window(&mut users, deadline));
            Ok((outcome, users))
        }
        (_, Err(error)) => Err(error),
        (Err(error), _) => Err(anyhow::anyhow!("{error}")),
    };
    gates.done.wait();
    gates.release.wait();
    let (outcome, users) = outcome?;
    if let Ok(runtime) = runtime {
        runtime.block_on(join_all(users.into_iter().map(User::close)));
    }
    Ok(outcome)
}

async fn run_window(users: &mut [User], deadline: Instant) -> Outcome {
    let per_user = join_all(users.iter_mut().map(|user| async move {
        let mut latencies = Vec::with_capacity(1 << 12);
        let mut errors = 0;
        while Instant::now() < deadline {
            let sent = Instant::now();
            if !user.call().await {
                errors += 1;
            }
            latencies.push(sent.elapsed());
        }
        (latencies, errors)
    }))
    .await;
    let mut outcome = Outcome {
        latencies: Vec::new(),
        errors: 0,
    };
    for (latencies, errors) in per_user {
        outcome.latencies.extend(latencies);
        outcome.errors += errors;
    }
    outcome
}

fn cell(readings: Readings, outcomes: Vec<Outcome>) -> Cell {
    let mut cell = Cell {
        latencies: Sample::default(),
        calls: 0,
        errors: 0,
        elapsed: readings.elapsed,
        cpu_seconds: Some(readings.server_cpu),
        peak_rss: readings.peak_rss,
        generator_cpu_seconds: readings.generator_cpu,
    };
    for outcome in outcomes {
        cell.calls += outcome.latencies.len();
        cell.errors += outcome.errors;
        outcome
            .latencies
            .into_iter()
            .for_each(|latency| cell.latencies.push(latency));
    }
    cell
}

/// How an answer is judged.
#[derive(Clone, Copy)]
enum Check {
    Status,
    McpResult,
}

/// One virtual user: a connection, its session and its rendered requests.
struct User {
    address: SocketAddr,
    connection: Connection,
    session: Option<mcp_wire::Session>,
    requests: Vec<Rendered>,
    check: Check,
    /// Calls made, which is also the next call's JSON-RPC id.
    calls: u64,
    /// Which request the user started at.
    offset: usize,
}

impl User {
    /// Connects user number `index`, opens its session, renders its requests and warms up.
    async fn open(load: &Load, index: usize) -> anyhow::Result<Self> {
        let address = load.address;
        let mut connection = Connection::open(address)
            .await
            .with_context(|| format!("connecting to {address}"))?;
        let (session, requests, check) = match &*load.script {
            Script::Http(requests) => {
                let requests = requests.iter().cloned().map(Rendered::fixed).collect();
                (None, requests, Check::Status)
            }
            Script::Mcp(bodies) => {
                let session = mcp_wire::open(&mut connection, address).await?;
                let requests = bodies
                    .iter()
                    .map(|body| mcp_wire::render(address, &session, body))
                    .collect();
                (Some(session), requests, Check::McpResult)
            }
        };
        let mut user = Self {
            address,
            connection,
            session,
            requests,
            check,
            calls: 0,
            offset: index * 7,
        };
        user.warm_up(load.window).await;
        Ok(user)
    }

    async fn warm_up(&mut self, window: Window) {
        let started = Instant::now();
        let limit = window.length.min(WARM_UP_LIMIT);
        for _ in 0..window.warm_up {
            self.call().await;
            if started.elapsed() > limit {
                break;
            }
        }
    }

    /// Sends the next request and reads its answer: whether it succeeded. A broken connection
    /// is replaced for the next call.
    async fn call(&mut self) -> bool {
        let turn = (self.offset + self.calls as usize) % self.requests.len();
        self.calls += 1;
        let request = self.requests[turn].with_id(self.calls);
        let (succeeded, closes) = match self.connection.exchange(request).await {
            Ok(answer) => (self.check.passes(&answer), answer.closes()),
            Err(_) => (false, true),
        };
        if closes {
            self.reconnect().await;
        }
        succeeded
    }

    async fn reconnect(&mut self) {
        if let Ok(connection) = Connection::open(self.address).await {
            self.connection = connection;
        }
    }

    /// Ends the session on the server, if it keeps sessions.
    async fn close(mut self) {
        let request = self
            .session
            .as_ref()
            .and_then(|session| mcp_wire::close(self.address, session));
        if let Some(request) = request {
            let _ = self.connection.exchange(&request).await;
        }
    }
}

impl Check {
    fn passes(self, answer: &Message<'_>) -> bool {
        match self {
            Self::Status => (200..300).contains(&answer.status()),
            Self::McpResult => mcp_wire::succeeded(answer),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
