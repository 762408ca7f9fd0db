//! Closed-loop load: `concurrency` workers, each with its own MCP session (or sharing one plain
//! HTTP client for the direct baseline), send one request after another for a fixed window;
//! every latency is kept, and the server process's CPU time and peak memory are read around the
//! window.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use rmcp::model::CallToolResult;

use super::process::Process;
use super::session::Session;
use super::workload::{DirectRequest, Workload};
use crate::stats::Sample;

/// What one server did under one workload at one concurrency.
pub struct Cell {
    /// Every call's latency.
    pub latencies: Sample,
    /// Calls that completed inside the window.
    pub calls: usize,
    /// Calls that failed (an error result or a transport error).
    pub errors: usize,
    /// The window's real length.
    pub elapsed: Duration,
    /// CPU seconds the server used during the window (`None` for the in-process baseline).
    pub cpu_seconds: Option<f64>,
    /// The server's peak resident memory during the window.
    pub peak_rss: Option<u64>,
}

impl Cell {
    /// Completed calls per second.
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

/// How long to measure, after how many warm-up calls per worker.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The measured time.
    pub length: Duration,
    /// Unmeasured calls each worker makes first.
    pub warm_up: usize,
}

/// Drives `workload` through the first `concurrency` of `sessions` for `window`, measuring
/// `server`.
pub async fn mcp(
    sessions: &[Arc<Session>],
    concurrency: usize,
    workload: &Workload,
    window: Window,
    server: Process,
) -> anyhow::Result<Cell> {
    let counter = Arc::new(AtomicUsize::new(0));
    let warm_up = sessions[..concurrency].iter().map(|session| {
        let (session, counter) = (session.clone(), counter.clone());
        async move {
            for _ in 0..window.warm_up {
                let call = counter.fetch_add(1, Ordering::Relaxed);
                let _ = session.call(workload.tool, workload.arguments(call)).await;
            }
        }
    });
    join_all(warm_up).await;
    measured(concurrency, window, Some(server), |worker| {
        let (session, counter) = (sessions[worker].clone(), counter.clone());
        async move {
            let call = counter.fetch_add(1, Ordering::Relaxed);
            let result = session.call(workload.tool, workload.arguments(call)).await;
            matches!(result, Ok(result) if result.is_error != Some(true))
        }
    })
    .await
}

/// Sends `workload`'s upstream request straight to the Argo CD API at `base` with a plain
/// HTTP client: the limit no MCP server can beat.
pub async fn direct(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    concurrency: usize,
    workload: &Workload,
    window: Window,
) -> anyhow::Result<Cell> {
    let counter = AtomicUsize::new(0);
    let send = |call: usize| {
        let DirectRequest { method, path, body } = workload.direct(call);
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            match request.send().await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.bytes().await.is_ok() && ok
                }
                Err(_) => false,
            }
        }
    };
    for call in 0..window.warm_up * concurrency {
        send(call).await;
    }
    measured(concurrency, window, None, |_| {
        send(counter.fetch_add(1, Ordering::Relaxed))
    })
    .await
}

/// Runs `call(worker)` back to back on `concurrency` workers for the window; `call` answers
/// whether the request succeeded.
async fn measured<F, Fut>(
    concurrency: usize,
    window: Window,
    server: Option<Process>,
    call: F,
) -> anyhow::Result<Cell>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if let Some(server) = server {
        server.reset_peak()?;
    }
    let cpu_before = server.map(|s| s.cpu_seconds()).transpose()?;
    let started = Instant::now();
    let deadline = started + window.length;
    let workers = (0..concurrency).map(|worker| {
        let call = &call;
        async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let sent = Instant::now();
                if !call(worker).await {
                    errors += 1;
                }
                latencies.push(sent.elapsed());
            }
            (latencies, errors)
        }
    });
    let results = join_all(workers).await;
    let elapsed = started.elapsed();
    let mut cell = Cell {
        latencies: Sample::default(),
        calls: 0,
        errors: 0,
        elapsed,
        cpu_seconds: None,
        peak_rss: None,
    };
    for (latencies, errors) in results {
        cell.calls += latencies.len();
        cell.errors += errors;
        latencies.into_iter().for_each(|l| cell.latencies.push(l));
    }
    if let (Some(server), Some(before)) = (server, cpu_before) {
        cell.cpu_seconds = Some(server.cpu_seconds()? - before);
        cell.peak_rss = Some(server.peak_rss()?);
    }
    Ok(cell)
}

/// The size of what the agent gets back: the text blocks a model reads, and the whole result
/// as JSON (text plus `structuredContent`).
pub fn result_bytes(result: &CallToolResult) -> (usize, usize) {
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.len()))
        .sum();
    let whole = serde_json::to_vec(result)
        .map(|json| json.len())
        .unwrap_or(0);
    (text, whole)
}
