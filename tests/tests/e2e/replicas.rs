//! Three capstan replicas sharing one plugin folder behind HAProxy, run with the configuration
//! capstan ships (`deploy/haproxy/haproxy.cfg`): stateless 2026-07-28 clients spread over the
//! replicas, 2025-11-25 sessions stay on theirs, and a load run loses no call while a replica
//! drains and restarts and while the plugin is replaced on every replica. MCP tasks started
//! through the balancer stay reachable: `tasks/*` reach the replica named in the task id.
//!
//! The load run lasts `$CAPSTAN_REPLICA_LOAD_SECONDS` (default 60) with
//! `$CAPSTAN_REPLICA_LOAD_CLIENTS` clients (default 200) and prints its figures (calls,
//! failures, latency through the load balancer in each phase, replica memory); run it with
//! `--nocapture` to see them. Nothing here asserts a time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir, free_address};
use capstan_tests::client::{Client, ClientOptions, is_error, params, text};
use capstan_tests::haproxy::Haproxy;
use capstan_tests::paths;
use capstan_tests::wasm::tagged;
use rmcp::model::{CallToolResponse, CancelTaskParams, GetTaskParams, TaskStatus};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

/// How a replica drains in these tests: a short delay for HAProxy's health check (every
/// 500 ms) to take it out, and a grace that covers the slowest call of the load.
const DRAIN: [&str; 4] = ["--drain-delay", "1500ms", "--drain-grace", "10s"];

fn probe_manifest(version: &str) -> String {
    format!("component = \"probe.wasm\"\nprefix = \"probe\"\n[config]\nversion = \"{version}\"\n")
}

/// Three replicas of capstan serving one folder, and HAProxy in front of them.
struct Fleet {
    plugins: PluginDir,
    addresses: [SocketAddr; 3],
    replicas: Vec<Capstan>,
    haproxy: Haproxy,
}

impl Fleet {
    fn start() -> Self {
        let plugins = PluginDir::new();
        let probe = std::fs::read(paths::plugin("probe")).unwrap();
        plugins.swap_in("probe.wasm", &probe);
        plugins.swap_in("probe.toml", probe_manifest("1").as_bytes());
        let conformance = std::fs::read(paths::plugin("conformance")).unwrap();
        plugins.swap_in("conformance.wasm", &conformance);
        plugins.swap_in(
            "conformance.toml",
            b"component = \"conformance.wasm\"\nprefix = \"\"\n",
        );
        let addresses = [free_address(), free_address(), free_address()];
        let replicas = (0..3)
            .map(|index| Self::replica(&plugins, addresses[index], index))
            .collect();
        let haproxy = Haproxy::start(addresses);
        Self {
            plugins,
            addresses,
            replicas,
            haproxy,
        }
    }

    /// Replica `index` (0-based), named as HAProxy's configuration names its server.
    fn replica(plugins: &PluginDir, address: SocketAddr, index: usize) -> Capstan {
        let mut args: Vec<String> = DRAIN.iter().map(|arg| arg.to_string()).collect();
        args.extend(["--replica".into(), format!("replica{}", index + 1)]);
        let options = Options {
            args,
            listen: Some(address),
            ..Options::default()
        };
        Capstan::start_with(plugins, options)
    }

    /// Drains replica `index` with SIGTERM, checks it exits 0, and starts it again on the same
    /// address. Returns how long the drain took.
    fn drain_and_restart(&mut self, index: usize) -> Duration {
        let started = Instant::now();
        self.replicas[index].terminate();
        let status = self.replicas[index].wait_exit(LIMIT);
        let drained = started.elapsed();
        let status = status.expect("the drained replica did not exit");
        assert!(status.success(), "the drained replica exited with {status}");
        self.replicas[index] = Self::replica(&self.plugins, self.addresses[index], index);
        drained
    }

    /// `tools/call`s of probe's `tool` each replica has counted (since it started).
    fn calls(&self, tool: &str) -> Vec<f64> {
        self.calls_of("probe", tool)
    }

    /// `tools/call`s of `instance`'s `tool` each replica has counted (since it started).
    fn calls_of(&self, instance: &str, tool: &str) -> Vec<f64> {
        let prefix = format!("capstan_tool_calls_total{{instance=\"{instance}\",tool=\"{tool}\",");
        self.replicas
            .iter()
            .map(|replica| {
                replica
                    .metrics()
                    .lines()
                    .filter(|line| line.starts_with(&prefix))
                    .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum()
            })
            .collect()
    }

    /// The value of the unlabelled gauge `name` on each replica.
    fn gauge(&self, name: &str) -> Vec<f64> {
        self.replicas
            .iter()
            .map(|replica| {
                let metrics = replica.metrics();
                let line = metrics.lines().find(|line| {
                    line.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with(' '))
                });
                line.and_then(|line| line.rsplit(' ').next()?.parse().ok())
                    .unwrap_or(f64::NAN)
            })
            .collect()
    }

    /// The version of probe each replica serves, asked of each directly.
    async fn versions(&self) -> Vec<String> {
        let mut versions = Vec::new();
        for replica in &self.replicas {
            let client = Client::connect_discover(&replica.url()).await.unwrap();
            let answer = client.call("probe_config", json!({"key": "version"}));
            versions.push(text(&answer.await.unwrap()));
        }
        versions
    }
}

/// Polls `condition` until it holds; fails naming `what` after [`LIMIT`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + LIMIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_calls_spread_over_replicas_and_sessions_stay_on_theirs() {
    let fleet = Fleet::start();
    let modern = Client::connect_discover(&fleet.haproxy.url())
        .await
        .unwrap();
    for _ in 0..30 {
        let answer = modern.call("probe_config", json!({"key": "version"}));
        assert_eq!(text(&answer.await.unwrap()), "1");
    }
    let spread = fleet.calls("probe_config");
    assert!(
        spread.iter().all(|calls| *calls > 0.0),
        "stateless calls did not reach every replica: {spread:?}"
    );

    // A session exists on one replica only: a request that reached another would be refused
    // (404, unknown session), so every call succeeding shows the session stayed put.
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(Client::connect(&fleet.haproxy.url()).await.unwrap());
    }
    for round in 0..10 {
        for session in &sessions {
            let answer = session.call("probe_echo", json!({"text": format!("round {round}")}));
            let answer = answer.await.expect("a call in a pinned session");
            assert!(!is_error(&answer), "{}", text(&answer));
        }
    }
    let open = fleet.gauge("capstan_mcp_sessions");
    assert_eq!(
        open.iter().sum::<f64>(),
        6.0,
        "sessions per replica: {open:?}"
    );
    assert!(
        open.iter().filter(|count| **count > 0.0).count() >= 2,
        "the sessions were not spread over replicas: {open:?}"
    );
    let echoed = fleet.calls("probe_echo");
    for (calls, sessions) in echoed.iter().zip(&open) {
        assert_eq!(
            *calls,
            sessions * 10.0,
            "calls {echoed:?}, sessions {open:?}"
        );
    }
    for session in sessions {
        session.close().await;
    }
}

/// Tasks started through the balancer land on whichever replica the round robin picks; every
/// `tasks/get` and `tasks/cancel` after that reaches the replica named in the task id (a wrong
/// replica would answer that it knows no such task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_stay_reachable_whichever_replica_a_request_lands_on() {
    let fleet = Fleet::start();
    let options = ClientOptions {
        discover: true,
        tasks: true,
        ..ClientOptions::default()
    };
    let client = Client::connect_with(&fleet.haproxy.url(), &options)
        .await
        .unwrap();
    let start = |seconds: u64| {
        let request = params(
            "slow_compute",
            json!({"seconds": seconds, "label": "fleet"}),
        );
        let peer = client.service().peer().clone();
        async move {
            match peer.call_tool_once(request).await.unwrap() {
                CallToolResponse::Task(created) => created.task.task_id,
                other => panic!("slow_compute did not answer with a task: {other:?}"),
            }
        }
    };
    let mut short = Vec::new();
    let mut long = Vec::new();
    for _ in 0..6 {
        short.push(start(1).await);
        long.push(start(600).await);
    }
    let on: BTreeSet<&str> = short
        .iter()
        .chain(&long)
        .map(|id| id.split('.').next().unwrap())
        .collect();
    assert!(on.len() >= 2, "the tasks all started on {on:?}");
    let peer = client.service().peer().clone();
    for id in &long {
        peer.cancel_task(CancelTaskParams::new(id)).await.unwrap();
    }
    for (ids, ending) in [
        (&short, TaskStatus::Completed),
        (&long, TaskStatus::Cancelled),
    ] {
        for id in ids {
            let mut status = TaskStatus::Working;
            for _ in 0..100 {
                let task = peer.get_task(GetTaskParams::new(id)).await;
                status = task
                    .expect("tasks/get reached the task's replica")
                    .task
                    .status();
                if status.is_terminal() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(status, ending, "task {id}");
        }
    }
    let ran = fleet.calls_of("conformance", "slow_compute");
    for (index, calls) in ran.iter().enumerate() {
        let named = short
            .iter()
            .chain(&long)
            .filter(|id| id.starts_with(&format!("replica{}.", index + 1)))
            .count();
        assert_eq!(*calls, named as f64, "calls per replica {ran:?}");
    }
}

/// One answered call of the load: when it started (from the load's start) and how long it took.
#[derive(Clone, Copy)]
struct Sample {
    at: Duration,
    took: Duration,
}

/// Clients calling through the load balancer until told to stop: mostly `probe_config`
/// (whose answer is the plugin version serving), and every tenth call a 300 ms `probe_sleep`,
/// so that a draining replica has calls in flight.
struct Load {
    started: Instant,
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<BTreeMap<String, usize>>>,
    failures: Arc<Mutex<Vec<String>>>,
    samples: Arc<Mutex<Vec<Sample>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(url: &str, clients: usize) -> Self {
        let mut load = Load {
            started: Instant::now(),
            stop: Arc::default(),
            answers: Arc::default(),
            failures: Arc::default(),
            samples: Arc::default(),
            tasks: Vec::new(),
        };
        for number in 0..clients {
            let client = Client::connect_discover(url).await.unwrap();
            let task = load.client(client, number);
            load.tasks.push(tokio::spawn(task));
        }
        load
    }

    fn client(&self, client: Client, number: usize) -> impl Future<Output = ()> + use<> {
        let (stop, answers, failures, samples, started) = (
            self.stop.clone(),
            self.answers.clone(),
            self.failures.clone(),
            self.samples.clone(),
            self.started,
        );
        async move {
            let mut call = number;
            while !stop.load(Ordering::Relaxed) {
                call += 1;
                let slow = call.is_multiple_of(10);
                let (tool, arguments) = if slow {
                    ("probe_sleep", json!({"ms": 300}))
                } else {
                    ("probe_config", json!({"key": "version"}))
                };
                let began = Instant::now();
                match client.call(tool, arguments).await {
                    Ok(result) if !is_error(&result) => {
                        let sample = Sample {
                            at: began - started,
                            took: began.elapsed(),
                        };
                        if !slow {
                            samples.lock().unwrap().push(sample);
                        }
                        *answers.lock().unwrap().entry(text(&result)).or_default() += 1;
                    }
                    Ok(result) => failures.lock().unwrap().push(text(&result)),
                    Err(error) => failures.lock().unwrap().push(error.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            client.close().await;
        }
    }

    fn answered(&self, answer: &str) -> usize {
        let answers = self.answers.lock().unwrap();
        answers.get(answer).copied().unwrap_or(0)
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    async fn finish(self) -> (BTreeMap<String, usize>, Vec<String>, Vec<Sample>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let answers = self.answers.lock().unwrap().clone();
        let failures = self.failures.lock().unwrap().clone();
        let samples = self.samples.lock().unwrap().clone();
        (answers, failures, samples)
    }
}

/// p50 and p99 of the samples that started within `window`, in milliseconds, and how many.
fn percentiles(samples: &[Sample], window: std::ops::Range<Duration>) -> (f64, f64, usize) {
    let mut took: Vec<Duration> = samples
        .iter()
        .filter(|sample| window.contains(&sample.at))
        .map(|sample| sample.took)
        .collect();
    took.sort();
    let at = |quantile: f64| {
        let index = ((took.len() as f64 - 1.0) * quantile).round() as usize;
        took.get(index)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    (at(0.5), at(0.99), took.len())
}

/// The most memory each replica held, sampled every 250 ms until stopped.
fn watch_memory(
    pids: Arc<Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut peaks = vec![0; 3];
        while !stop.load(Ordering::Relaxed) {
            for (peak, pid) in peaks.iter_mut().zip(pids.lock().unwrap().iter()) {
                *peak = (*peak).max(capstan_tests::capstan::resident_bytes(*pid));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        peaks
    })
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_run_loses_no_call_while_a_replica_drains_and_the_plugin_is_replaced() {
    let clients = env_number("CAPSTAN_REPLICA_LOAD_CLIENTS", 200) as usize;
    let run_for = Duration::from_secs(env_number("CAPSTAN_REPLICA_LOAD_SECONDS", 60));
    let mut fleet = Fleet::start();
    let idle: Vec<u64> = fleet.replicas.iter().map(Capstan::resident_bytes).collect();
    let pids = Arc::new(Mutex::new(
        fleet.replicas.iter().map(Capstan::pid).collect(),
    ));
    let stop_watching = Arc::new(AtomicBool::new(false));
    let memory = watch_memory(pids.clone(), stop_watching.clone());

    let load = Load::start(&fleet.haproxy.url(), clients).await;
    eventually("the load reached every replica", || async {
        load.answered("1") >= 1000 && fleet.calls("probe_config").iter().all(|n| *n > 0.0)
    })
    .await;

    let drain_started = load.elapsed();
    let drained = fleet.drain_and_restart(1);
    pids.lock().unwrap()[1] = fleet.replicas[1].pid();
    eventually("the restarted replica takes calls again", || async {
        fleet.calls("probe_config")[1] > 0.0
    })
    .await;
    let drain_window = drain_started..load.elapsed();

    let reload_started = load.elapsed();
    let replaced = tagged("probe", "replaced on every replica");
    fleet.plugins.swap_in("probe.wasm", &replaced);
    fleet
        .plugins
        .swap_in("probe.toml", probe_manifest("2").as_bytes());
    eventually("every replica serves version 2", || async {
        fleet.versions().await.iter().all(|version| version == "2")
    })
    .await;
    eventually("the load is answered by version 2", || async {
        load.answered("2") >= 1000
    })
    .await;
    let reload_window = reload_started..load.elapsed();

    while load.elapsed() < run_for {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ran = load.elapsed();
    let (answers, failures, samples) = load.finish().await;
    stop_watching.store(true, Ordering::Relaxed);
    let peaks = memory.join().unwrap();

    let calls: usize = answers.values().sum::<usize>() + failures.len();
    let mib = |bytes: &u64| format!("{:.1}", *bytes as f64 / 1048576.0);
    let (p50, p99, count) = percentiles(&samples, Duration::ZERO..ran);
    eprintln!(
        "load run: {clients} clients for {ran:.1?}: {calls} calls, {} failed",
        failures.len()
    );
    eprintln!("  all:    p50 {p50:.2} ms, p99 {p99:.2} ms over {count} probe_config calls");
    let (p50, p99, count) = percentiles(&samples, drain_window.clone());
    eprintln!(
        "  drain:  p50 {p50:.2} ms, p99 {p99:.2} ms over {count} calls ({:.1?} from SIGTERM to exit 0, then restarted)",
        drained
    );
    let (p50, p99, count) = percentiles(&samples, reload_window.clone());
    eprintln!("  reload: p50 {p50:.2} ms, p99 {p99:.2} ms over {count} calls");
    eprintln!(
        "  replica memory (MiB): idle {:?}, peak {:?}",
        idle.iter().map(mib).collect::<Vec<_>>(),
        peaks.iter().map(mib).collect::<Vec<_>>()
    );

    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_eq!(
        answers.keys().collect::<Vec<_>>(),
        ["1", "2", "slept"],
        "{answers:?}"
    );
}
