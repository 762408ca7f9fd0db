//! What one closed-loop measurement yields ([`Cell`]) and how long it runs ([`Window`]); the
//! load itself is [`super::generator`]'s.

use std::time::Duration;

use rmcp::model::CallToolResult;

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
    /// CPU seconds the server used during the window.
    pub cpu_seconds: Option<f64>,
    /// The server's peak resident memory during the window (`None` for the in-process
    /// stand-in).
    pub peak_rss: Option<u64>,
    /// CPU seconds the load generator's threads used during the window.
    pub generator_cpu_seconds: f64,
}

impl Cell {
    /// Completed calls per second.
    pub fn throughput(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time per completed call.
    pub fn cpu_per_call(&self) -> Option<Duration> {
        self.cpu_seconds
            .map(|seconds| Duration::from_secs_f64(seconds / self.calls.max(1) as f64))
    }

    /// The load generator's CPU time per completed call.
    pub fn generator_cpu_per_call(&self) -> Duration {
        Duration::from_secs_f64(self.generator_cpu_seconds / self.calls.max(1) as f64)
    }
}

/// How long to measure, after how many warm-up calls per user.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// The measured time.
    pub length: Duration,
    /// Unmeasured calls each user makes first (for at most the window's length, or 2 s).
    pub warm_up: usize,
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
