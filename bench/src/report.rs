//! The Markdown report: capstan against argocd-mcp and against the limit, capstan's own figures,
//! the targets with whether each was met, and the machine and versions it was measured on.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::stats::{Sample, show};
use crate::versus::{Cell, Comparison, Floor, Row, argocd_mcp};

/// One figure of capstan's own table: a name, its sample and the baseline it is compared with.
pub struct Figure<'a> {
    /// What was measured.
    pub name: &'a str,
    /// The measurement.
    pub sample: &'a Sample,
    /// The baseline measured in the same run, if any.
    pub baseline: Option<&'a Sample>,
}

/// capstan's own measurements.
pub struct Own<'a> {
    /// Call-path, start-up and sandbox figures.
    pub figures: Vec<Figure<'a>>,
    /// Resident memory of an idle capstan with the three GitOps plugins loaded.
    pub idle_rss_three_plugins: u64,
    /// Median warm start to ready.
    pub warm_start: &'a Sample,
}

/// The limits the targets set.
mod target {
    /// Where the CPU, throughput and memory targets are read.
    pub const LOADED: usize = 64;
    pub const THROUGHPUT_AT_LOADED: f64 = 6.0;
    pub const THROUGHPUT_AT_1: f64 = 3.0;
    /// The tools the throughput targets cover.
    pub const THROUGHPUT_TOOLS: [&str; 2] = ["get_application", "list_applications"];
    pub const CPU_GET_MS: f64 = 0.12;
    pub const CPU_LIST_MS: f64 = 0.8;
    pub const CPU_NOOP_US: f64 = 60.0;
    pub const OVERHEAD_P50_MS: f64 = 0.25;
    pub const OVERHEAD_P99_MS: f64 = 2.0;
    pub const IDLE_RSS_MB: f64 = 40.0;
    pub const PEAK_RSS_MB: f64 = 100.0;
    pub const WARM_START_MS: f64 = 300.0;
    pub const BYTES_RATIO: f64 = 0.1;
}

/// The comparison's tables alone (for profiling runs).
pub fn versus_tables(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Hypervisor steal while the workloads ran: {:.0}% of the machine's CPU time; upstream \
         requests that missed the stand-in's recording: {}.\n",
        comparison.steal * 100.0,
        comparison.upstream_misses
    );
    floor_table(&mut out, comparison);
    versus_table(&mut out, comparison);
    limit_table(&mut out, comparison);
    answers_table(&mut out, comparison);
    out
}

/// The whole report.
pub fn render(own: &Own<'_>, comparison: &Comparison, quick: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `./dev bench` (`capstan-bench`){}. Every ratio compares figures measured in the \
         same run; the test suite runs `--quick` so the harness cannot rot, and asserts no time.\n",
        if quick {
            " in quick mode: too few calls to quote"
        } else {
            ""
        }
    );
    environment(&mut out, comparison);
    targets(&mut out, own, comparison);
    floor_table(&mut out, comparison);
    versus_table(&mut out, comparison);
    limit_table(&mut out, comparison);
    answers_table(&mut out, comparison);
    own_table(&mut out, own, comparison);
    out
}

fn environment(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## Where\n");
    let _ = writeln!(
        out,
        "- Date: {}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    let _ = writeln!(
        out,
        "- Machine: {}; the hypervisor stole {:.0}% of its CPU time while the workloads ran \
         (latencies and ratios move with it from run to run)",
        machine(),
        comparison.steal * 100.0
    );
    let _ = writeln!(
        out,
        "- capstan {} ({}), {}, wasmtime 48, rmcp 3.9; release build",
        env!("CARGO_PKG_VERSION"),
        command_line("git", &["rev-parse", "--short", "HEAD"])
            .unwrap_or_else(|| "unknown commit".into()),
        command_line("rustc", &["--version"]).unwrap_or_else(|| "rustc".into()),
    );
    let _ = writeln!(
        out,
        "- argocd-mcp {} (npm) on Node {}, Streamable HTTP, read-only mode off",
        argocd_mcp::VERSION,
        comparison.node_version.trim_start_matches('v')
    );
    let _ = writeln!(
        out,
        "- Upstream: a stand-in that replays, byte for byte and without checks, what the fake \
         Argo CD v3.5.1 API of `capstan-tests` answered the same requests (recorded before the \
         measurements; {} requests missed the recording and went to the fake): {} generated \
         applications as large as real ones ({} for the large list, served by the fake \
         itself): 8 to 16 managed objects each with the ReplicaSets, pods, endpoints and jobs \
         their controllers create, ten deployments of history and the last sync's result, 10 \
         to 17 KiB per Application. The servers, the stand-in and the load generator share the \
         machine's cores.",
        comparison.upstream_misses,
        crate::versus::APPS,
        crate::versus::MANY_APPS
    );
    let _ = writeln!(
        out,
        "- Load: closed loop; each virtual user has its own MCP session (protocol 2025-11-25 \
         offered; argocd-mcp answers with its own version) on its own keep-alive HTTP/1.1 \
         connection and calls back to back for the window. The generator writes requests \
         rendered before the window (only the JSON-RPC id changes) and reads the answers with a \
         minimal parser (`Content-Length`, chunked, SSE), with no HTTP or MCP library in the \
         loop, on one current-thread runtime per core. CPU per call is the server process's \
         user and system time over the window (`/proc/PID/stat`) divided by the calls \
         completed. capstan runs the Argo CD plugin with an empty tool prefix and its default \
         limits (32 calls at once, 64 queued), and the test plugin `probe` for the no-op \
         call.\n"
    );
}

fn targets(out: &mut String, own: &Own<'_>, comparison: &Comparison) {
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(out, "| target | measured | met |");
    let _ = writeln!(out, "|---|---|---|");
    cpu_targets(out, comparison);
    throughput_targets(out, comparison);
    overhead_targets(out, comparison);
    memory_targets(out, own, comparison);
    let warm = millis(own.warm_start.median());
    target_row(
        out,
        &format!("warm start to ready ≤ {} ms", target::WARM_START_MS),
        &format!("{warm:.0} ms"),
        warm <= target::WARM_START_MS,
    );
    if let Some((question, ratio)) = comparison
        .answers
        .iter()
        .map(|a| {
            (
                a.question.as_str(),
                a.capstan.0 as f64 / a.reference.0.max(1) as f64,
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        target_row(
            out,
            "bytes for the same question ≤ 1/10 of argocd-mcp's (defaults)",
            &format!("largest share {:.1}% ({question})", ratio * 100.0),
            ratio <= target::BYTES_RATIO,
        );
    }
    let _ = writeln!(out);
}

/// capstan's CPU time per call at the loaded concurrency: `get_application`,
/// `list_applications` and the no-op tool call.
fn cpu_targets(out: &mut String, comparison: &Comparison) {
    let loaded = target::LOADED;
    for (tool, goal_ms) in [
        ("get_application", target::CPU_GET_MS),
        ("list_applications", target::CPU_LIST_MS),
    ] {
        let row = comparison
            .rows
            .iter()
            .find(|row| row.tool == tool && row.concurrency == loaded);
        if let Some((row, cpu)) = row.and_then(|row| Some((row, row.capstan.cpu_per_call()?))) {
            target_row(
                out,
                &format!(
                    "capstan CPU per `{tool}` call ({}) ≤ {goal_ms} ms at concurrency {loaded}",
                    row.scope
                ),
                &show(cpu),
                millis(cpu) <= goal_ms,
            );
        }
    }
    let noop = comparison
        .floors
        .iter()
        .find(|floor| floor.concurrency == loaded)
        .and_then(|floor| floor.noop.cpu_per_call());
    if let Some(cpu) = noop {
        target_row(
            out,
            &format!(
                "capstan CPU per no-op tool call ≤ {} µs at concurrency {loaded}",
                target::CPU_NOOP_US
            ),
            &show(cpu),
            cpu.as_secs_f64() * 1e6 <= target::CPU_NOOP_US,
        );
    }
}

fn throughput_targets(out: &mut String, comparison: &Comparison) {
    for (concurrency, goal) in [
        (1, target::THROUGHPUT_AT_1),
        (target::LOADED, target::THROUGHPUT_AT_LOADED),
    ] {
        let worst = comparison
            .rows
            .iter()
            .filter(|row| {
                row.concurrency == concurrency && target::THROUGHPUT_TOOLS.contains(&row.tool)
            })
            .map(|row| (row.tool, throughput_ratio(row)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((tool, ratio)) = worst {
            target_row(
                out,
                &format!(
                    "throughput ≥ {goal}× argocd-mcp at concurrency {concurrency} \
                     (`get_application`, `list_applications`)"
                ),
                &format!("lowest {ratio:.1}× (`{tool}`)"),
                ratio >= goal,
            );
        }
    }
}

fn overhead_targets(out: &mut String, comparison: &Comparison) {
    let serial: Vec<&Row> = comparison
        .rows
        .iter()
        .filter(|r| r.concurrency == 1)
        .collect();
    let worst_overhead = |pick: fn(&Sample) -> Duration| {
        serial
            .iter()
            .map(|row| {
                (
                    row.tool,
                    millis(pick(&row.capstan.latencies)) - millis(pick(&row.direct.latencies)),
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    for (name, pick, goal) in [
        (
            "p50",
            Sample::median as fn(&Sample) -> Duration,
            target::OVERHEAD_P50_MS,
        ),
        ("p99", Sample::p99, target::OVERHEAD_P99_MS),
    ] {
        if let Some((tool, overhead)) = worst_overhead(pick) {
            target_row(
                out,
                &format!(
                    "{name} overhead over the direct upstream call ≤ {goal} ms (concurrency 1)"
                ),
                &format!("highest {overhead:.2} ms (`{tool}`)"),
                overhead <= goal,
            );
        }
    }
}

fn memory_targets(out: &mut String, own: &Own<'_>, comparison: &Comparison) {
    let idle = megabytes(own.idle_rss_three_plugins);
    target_row(
        out,
        &format!(
            "idle RSS with the three GitOps plugins ≤ {} MB",
            target::IDLE_RSS_MB
        ),
        &format!("{idle:.1} MB"),
        idle <= target::IDLE_RSS_MB,
    );
    let loaded = target::LOADED;
    let peak = comparison
        .rows
        .iter()
        .filter(|row| row.concurrency == loaded)
        .map(|row| &row.capstan)
        .chain(
            comparison
                .floors
                .iter()
                .filter(|floor| floor.concurrency == loaded)
                .flat_map(|floor| [&floor.ping, &floor.noop]),
        )
        .filter_map(|cell| cell.peak_rss)
        .max();
    if let Some(peak) = peak.map(megabytes) {
        target_row(
            out,
            &format!(
                "peak RSS under concurrency {loaded} ≤ {} MB",
                target::PEAK_RSS_MB
            ),
            &format!("{peak:.1} MB"),
            peak <= target::PEAK_RSS_MB,
        );
    }
}

fn target_row(out: &mut String, target: &str, measured: &str, met: bool) {
    let _ = writeln!(
        out,
        "| {target} | {measured} | {} |",
        if met { "yes" } else { "**no**" }
    );
}

fn floor_table(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## The load generator and the limits\n");
    let _ = writeln!(
        out,
        "The generator's ceiling is the same generator against a canned MCP answer served by \
         the stand-in (no server work behind it); the direct row is `GET \
         /api/v1/applications/{{name}}` sent straight to the stand-in. Server CPU per call is \
         the stand-in's threads' for those two rows and capstan's process's for the others; the \
         generator's CPU per call is its own threads'.\n"
    );
    let _ = writeln!(
        out,
        "| concurrency | what | calls/s | p50 | p99 | server CPU per call | generator CPU per call |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for floor in &comparison.floors {
        let get = comparison
            .rows
            .iter()
            .find(|row| row.tool == "get_application" && row.concurrency == floor.concurrency);
        let mut cells = vec![("generator ceiling: canned MCP answer", &floor.canned)];
        if let Some(row) = get {
            cells.push(("direct `GET /api/v1/applications/{name}`", &row.direct));
        }
        cells.push(("capstan: MCP `ping`", &floor.ping));
        cells.push(("capstan: no-op tool call (`probe_noop`)", &floor.noop));
        if let Some(row) = get {
            cells.push(("capstan: `get_application`", &row.capstan));
        }
        for (what, cell) in cells {
            let _ = writeln!(
                out,
                "| {} | {what} | {:.0} | {} | {} | {} | {} |",
                floor.concurrency,
                cell.throughput(),
                show(cell.latencies.median()),
                show(cell.latencies.p99()),
                cell.cpu_per_call().map(show).unwrap_or_default(),
                show(cell.generator_cpu_per_call()),
            );
        }
    }
    let _ = writeln!(out);
    if let Some(sentence) = headroom(comparison) {
        let _ = writeln!(out, "{sentence}\n");
    }
}

/// How far above capstan's best throughput the generator's ceiling lies, at the highest
/// concurrency.
fn headroom(comparison: &Comparison) -> Option<String> {
    let floor: &Floor = comparison.floors.iter().max_by_key(|f| f.concurrency)?;
    let (what, best) = comparison
        .rows
        .iter()
        .filter(|row| row.concurrency == floor.concurrency)
        .map(|row| (format!("`{}`", row.tool), row.capstan.throughput()))
        .chain([("the no-op tool call".to_owned(), floor.noop.throughput())])
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(format!(
        "At concurrency {} the generator reaches {:.0} calls/s against the canned answer, {:.1}× \
         capstan's fastest row ({what}, {best:.0} calls/s).",
        floor.concurrency,
        floor.canned.throughput(),
        floor.canned.throughput() / best.max(f64::MIN_POSITIVE),
    ))
}

fn versus_table(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## capstan and argocd-mcp, same workload\n");
    let _ = writeln!(
        out,
        "| tool | concurrency | server | calls/s | p50 | p99 | failed | peak RSS | CPU s | CPU per call | capstan / argocd-mcp calls/s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &comparison.rows {
        let name = format!("`{}` ({})", row.tool, row.scope);
        cell_row(
            out,
            &name,
            row.concurrency,
            "capstan",
            &row.capstan,
            &format!("{:.1}×", throughput_ratio(row)),
        );
        cell_row(
            out,
            &name,
            row.concurrency,
            "argocd-mcp",
            &row.reference,
            "",
        );
    }
    let _ = writeln!(
        out,
        "\nFailed: calls answered with an error result or not at all. argocd-mcp does not flag \
         Argo CD's error answers as errors, so its failures can be undercounted.\n"
    );
}

fn cell_row(
    out: &mut String,
    name: &str,
    concurrency: usize,
    server: &str,
    cell: &Cell,
    ratio: &str,
) {
    let _ = writeln!(
        out,
        "| {name} | {concurrency} | {server} | {:.0} | {} | {} | {} | {} | {} | {} | {ratio} |",
        cell.throughput(),
        show(cell.latencies.median()),
        show(cell.latencies.p99()),
        cell.errors,
        cell.peak_rss
            .map(|b| format!("{:.1} MB", megabytes(b)))
            .unwrap_or_default(),
        cell.cpu_seconds
            .map(|s| format!("{s:.2}"))
            .unwrap_or_default(),
        cell.cpu_per_call().map(show).unwrap_or_default(),
    );
}

fn limit_table(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## capstan against the limit\n");
    let _ = writeln!(
        out,
        "The limit is the same upstream request sent straight to the stand-in by the same load \
         generator (no MCP, no sandbox) at the same concurrency; the overhead is capstan's \
         latency minus it.\n"
    );
    let _ = writeln!(
        out,
        "| tool | concurrency | direct p50 | capstan p50 | overhead p50 | direct p99 | capstan p99 | overhead p99 | direct calls/s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for row in &comparison.rows {
        let (d, c) = (&row.direct.latencies, &row.capstan.latencies);
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {:.2} ms | {} | {} | {:.2} ms | {:.0} |",
            row.tool,
            row.concurrency,
            show(d.median()),
            show(c.median()),
            millis(c.median()) - millis(d.median()),
            show(d.p99()),
            show(c.p99()),
            millis(c.p99()) - millis(d.p99()),
            row.direct.throughput(),
        );
    }
    let _ = writeln!(out);
}

fn answers_table(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(
        out,
        "## Bytes returned to the agent, same question, each server's defaults\n"
    );
    let _ = writeln!(
        out,
        "| question | argocd-mcp text | capstan text | capstan / argocd-mcp | argocd-mcp whole result | capstan whole result | capstan / argocd-mcp |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let share = |capstan: usize, reference: usize| capstan as f64 * 100.0 / reference.max(1) as f64;
    for answer in &comparison.answers {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1}% | {} | {} | {:.1}% |",
            answer.question,
            bytes(answer.reference.0),
            bytes(answer.capstan.0),
            share(answer.capstan.0, answer.reference.0),
            bytes(answer.reference.1),
            bytes(answer.capstan.1),
            share(answer.capstan.1, answer.reference.1),
        );
    }
    let _ = writeln!(
        out,
        "\nText: the content blocks a model reads. Whole result: the `tools/call` result as JSON, \
         which for capstan also carries `structuredContent` (the same data, for programs).\n"
    );
}

fn own_table(out: &mut String, own: &Own<'_>, comparison: &Comparison) {
    let _ = writeln!(out, "## capstan alone\n");
    let _ = writeln!(out, "| measurement | median | p99 | vs. baseline |");
    let _ = writeln!(out, "|---|---|---|---|");
    for figure in &own.figures {
        let ratio = figure
            .baseline
            .map(|b| {
                format!(
                    "{:.2}×",
                    figure.sample.median().as_secs_f64() / b.median().as_secs_f64()
                )
            })
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} |",
            figure.name,
            show(figure.sample.median()),
            show(figure.sample.p99())
        );
    }
    let _ = writeln!(
        out,
        "\nIdle resident memory: capstan with the Argo CD, Rollouts and Flux plugins loaded {:.1} MB; \
         with the Argo CD and probe plugins before the first workload {:.1} MB; argocd-mcp before the first \
         workload {:.1} MB.\n",
        megabytes(own.idle_rss_three_plugins),
        megabytes(comparison.idle_rss.0),
        megabytes(comparison.idle_rss.1),
    );
}

fn throughput_ratio(row: &Row) -> f64 {
    row.capstan.throughput() / row.reference.throughput().max(f64::MIN_POSITIVE)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn bytes(count: usize) -> String {
    match count {
        0..1024 => format!("{count} B"),
        _ => format!("{:.1} KiB", count as f64 / 1024.0),
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: f64 = info
                .lines()
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(kib / 1024.0 / 1024.0)
        })
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {memory:.0} GiB RAM, Linux {}",
        kernel.trim()
    )
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
