//! capstan's benchmarks. Every figure is printed with a baseline measured in the same run, as
//! medians and ratios; nothing here asserts a time. `--quick` runs a few iterations of
//! everything (the test suite runs it so the harness cannot rot).
//!
//! Measured:
//! - capstan with the Argo CD plugin against the reference server `argocd-mcp` 0.9.0 and against
//!   the direct upstream request, in front of a stand-in that replays the fake Argo CD's answers,
//!   driven by a raw HTTP/1.1 load generator with the same workloads at concurrency 1, 8 and 64:
//!   throughput, latency, peak memory, CPU time per call and answer sizes; with the
//!   generator's own ceiling (a canned MCP answer), and capstan's `ping` and no-op tool call
//!   at the same concurrencies ([`versus`]);
//! - a no-op tool call through capstan over MCP Streamable HTTP on loopback, against an MCP
//!   `ping` on the same session (the protocol and HTTP cost without a plugin), and the same call
//!   with OAuth (a JWT from a real OpenID provider), a Cedar policy and the audit file on
//!   ([`guarded`]);
//! - the sandbox share of a call: a fresh store, instantiation and the `noop` export, in process;
//! - a GET of a loopback upstream from a plugin (sandbox, egress gate, injected token, in
//!   process), against the same GET from a plain reqwest client;
//! - process start to ready (`/readyz` 200) with a cold and a warm compile cache, and idle
//!   memory with the three GitOps plugins loaded;
//! - inbound authentication in process (`--auth` runs only this): `authenticate` with the
//!   issuer's keys cached, RS256 and ES256 tokens each seen for the first time and one token
//!   presented again, against the shared-token check;
//! - hot reload: a changed file to `notifications/tools/list_changed` at the client, for each
//!   GitOps plugin, with a warm compile cache and with a cold compile (`--reload` runs only this);
//! - a policy decision with 1,000 Cedar rules against one rule, in process ([`policy`];
//!   `--policy-only` runs only this).
//!
//! The full run writes its report to `docs/benchmarks.md` (`--output` to choose another file).

mod auth;
mod egress;
mod guarded;
mod policy;
mod reload;
mod report;
mod stats;
mod versus;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capstan::events::EventSink;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::Client;
use clap::Parser;
use serde_json::json;
use stats::Sample;

use crate::report::{Figure, Own};
use crate::versus::process::Process;

/// The result cap a call gets from `capstan serve` by default.
const RESULT_CAP: usize = 256 << 10;

/// Benchmarks of capstan's call path and start-up, and capstan against argocd-mcp.
#[derive(Parser)]
struct Args {
    /// A few iterations of everything, for smoke-testing the harness.
    #[arg(long)]
    quick: bool,
    /// Calls per measurement of capstan's own figures.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Seconds each server is driven per workload and concurrency in the comparison.
    #[arg(long, default_value_t = 5.0)]
    window: f64,
    /// Where to write the Markdown report (default: docs/benchmarks.md for a full run, nowhere
    /// in quick mode).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Compare only this tool (repeatable; default: get_application, list_applications,
    /// get_application_resource_tree and sync_application).
    #[arg(long = "only", value_name = "TOOL")]
    only: Vec<String>,
    /// Run only the in-process sandbox measurement (for profiling it).
    #[arg(long)]
    sandbox_only: bool,
    /// Run only the hot reload measurement.
    #[arg(long)]
    reload: bool,
    /// Run only the policy decision measurement.
    #[arg(long)]
    policy_only: bool,
    /// Run only the inbound authentication measurement.
    #[arg(long)]
    auth: bool,
    /// Run only the comparison with argocd-mcp and print it (for profiling; writes nothing).
    #[arg(long)]
    versus_only: bool,
    /// Concurrency levels of the comparison.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 64])]
    concurrency: Vec<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // On a worker thread, not the main one: the load generator's futures then run where the
    // runtime's I/O wakes them, as a server's would, instead of crossing threads per reply.
    tokio::spawn(run(args)).await?
}

async fn run(args: Args) -> anyhow::Result<()> {
    let calls = if args.quick { 50 } else { args.calls };
    let starts = if args.quick { 1 } else { 5 };
    if args.sandbox_only {
        let sandbox = sandbox_calls(calls).await?;
        let (median, p99) = (stats::show(sandbox.median()), stats::show(sandbox.p99()));
        println!("sandbox share: median {median}, p99 {p99}");
        return Ok(());
    }
    if args.reload {
        return reload_table(starts).await;
    }
    let (policy_one, policy_many) = policy::measure(calls * 4)?;
    if args.policy_only {
        let (one, many) = (
            stats::show(policy_one.median()),
            stats::show(policy_many.median()),
        );
        println!("policy decision: 1 rule median {one}, 1,000 rules median {many}");
        return Ok(());
    }
    if args.auth {
        let samples = auth::measure(calls).await?;
        for (name, sample) in auth_figures(&samples) {
            let (median, p99) = (stats::show(sample.median()), stats::show(sample.p99()));
            println!("{name}: median {median}, p99 {p99}");
        }
        return Ok(());
    }
    let plan = versus::Plan {
        concurrency: args.concurrency.clone(),
        window: versus::Window {
            length: Duration::from_secs_f64(if args.quick { 0.2 } else { args.window }),
            warm_up: if args.quick { 2 } else { 20 },
        },
        only: args.only.clone(),
    };
    if args.versus_only {
        let comparison = versus::run(&plan).await?;
        println!("{}", report::versus_tables(&comparison));
        return Ok(());
    }
    // capstan alone first: the comparison leaves many client sessions behind.
    eprintln!("measuring capstan alone");
    let (mcp_noop, mcp_ping, mcp_noop_stateless) = mcp_calls(calls).await?;
    let guarded = guarded::noop_calls(calls).await?;
    let sandbox = sandbox_calls(calls).await?;
    let (gated, direct) = egress::fetch_calls(calls.min(2000)).await?;
    let (cold, warm, idle_rss) = start_to_ready(starts)?;
    let auth = auth::measure(calls.min(2000)).await?;
    eprintln!("measuring capstan against argocd-mcp and the direct upstream request");
    let comparison = versus::run(&plan).await?;
    let figure = |name, sample, baseline| Figure {
        name,
        sample,
        baseline,
    };
    let own = Own {
        figures: vec![
            figure(
                "MCP `ping` over HTTP (baseline: no plugin)",
                &mcp_ping,
                None,
            ),
            figure("no-op tool call over HTTP", &mcp_noop, Some(&mcp_ping)),
            figure(
                "no-op tool call with OAuth (JWT from oidc-provider), a Cedar policy and the audit file on",
                &guarded,
                Some(&mcp_noop),
            ),
            figure(
                "no-op tool call, protocol 2026-07-28 (no session)",
                &mcp_noop_stateless,
                Some(&mcp_noop),
            ),
            figure(
                "sandbox share: fresh store + instantiate + call (in process)",
                &sandbox,
                Some(&mcp_noop),
            ),
            figure(
                "GET of a loopback upstream, plain reqwest (baseline: no sandbox)",
                &direct,
                None,
            ),
            figure(
                "the same GET from a plugin: sandbox + egress gate + injected token",
                &gated,
                Some(&direct),
            ),
            figure(
                "authenticate: shared token (baseline: constant-time compare)",
                &auth.shared,
                None,
            ),
            figure(
                "authenticate: new RS256 token, keys cached (signature check)",
                &auth.rs256,
                Some(&auth.shared),
            ),
            figure(
                "authenticate: new ES256 token, keys cached (signature check)",
                &auth.es256,
                Some(&auth.shared),
            ),
            figure(
                "authenticate: RS256 token presented again (remembered)",
                &auth.remembered,
                Some(&auth.shared),
            ),
            figure("start to ready, cold compile cache", &cold, None),
            figure("start to ready, warm compile cache", &warm, Some(&cold)),
            figure(
                "policy decision, 1 Cedar rule (in process)",
                &policy_one,
                None,
            ),
            figure(
                "policy decision, 1,000 Cedar rules (in process)",
                &policy_many,
                Some(&policy_one),
            ),
        ],
        idle_rss_three_plugins: idle_rss,
        warm_start: &warm,
    };
    let text = report::render(&own, &comparison, args.quick);
    println!("{text}");
    let output = match (&args.output, args.quick) {
        (Some(path), _) => Some(path.clone()),
        (None, false) => Some(capstan_tests::paths::repo_root().join("docs/benchmarks.md")),
        (None, true) => None,
    };
    if let Some(path) = output {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    reload_table(starts).await
}

fn auth_figures(samples: &auth::AuthSamples) -> [(&'static str, &stats::Sample); 4] {
    [
        ("authenticate, shared token (baseline)", &samples.shared),
        ("authenticate, new RS256 token", &samples.rs256),
        ("authenticate, new ES256 token", &samples.es256),
        ("authenticate, RS256 token again", &samples.remembered),
    ]
}

async fn reload_table(steps: usize) -> anyhow::Result<()> {
    let results = reload::measure(steps).await?;
    println!("| file change → tools/list_changed received | median of {steps} | max |");
    println!("|---|---|---|");
    for result in &results {
        for (cache, sample) in [("warm cache", &result.warm), ("cold compile", &result.cold)] {
            println!(
                "| {}, {cache} | {} | {} |",
                result.plugin,
                stats::show(sample.median()),
                stats::show(sample.max())
            );
        }
    }
    println!(
        "\nIncludes the {} ms debounce: a reload starts once the plugin folder was quiet that long.",
        capstan::reload::DEBOUNCE.as_millis()
    );
    Ok(())
}

/// (no-op call, ping) over a 2025-11-25 session, and the no-op call the 2026-07-28 way (no
/// session, every request self-contained).
async fn mcp_calls(calls: usize) -> anyhow::Result<(Sample, Sample, Sample)> {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "[limits]\nmax_concurrency = 64");
    let capstan = Capstan::start(&plugins);
    let session = Client::connect(&capstan.url()).await?;
    let stateless = Client::connect_discover(&capstan.url()).await?;
    for _ in 0..calls.min(200) {
        session.call("probe_noop", json!({})).await?;
        stateless.call("probe_noop", json!({})).await?;
    }
    let mut noop = Sample::default();
    let mut ping = Sample::default();
    let mut noop_stateless = Sample::default();
    for _ in 0..calls {
        let started = Instant::now();
        session.call("probe_noop", json!({})).await?;
        noop.push(started.elapsed());
        let started = Instant::now();
        session
            .service()
            .send_request(rmcp::model::ClientRequest::PingRequest(Default::default()))
            .await?;
        ping.push(started.elapsed());
        let started = Instant::now();
        stateless.call("probe_noop", json!({})).await?;
        noop_stateless.push(started.elapsed());
    }
    session.close().await;
    stateless.close().await;
    Ok((noop, ping, noop_stateless))
}

async fn sandbox_calls(calls: usize) -> anyhow::Result<Sample> {
    let cache = tempdir()?;
    let runtime = capstan::runtime::Runtime::new(Default::default(), &cache)?;
    let plugins = PluginDir::new();
    let path = plugins.manifest("probe", "probe", "");
    let distribution = capstan::distribution::DistributionSettings::default();
    let source =
        capstan::registry::Source::read(&path, runtime.limits().max_memory_bytes, &distribution)
            .await
            .map_err(anyhow::Error::msg)?;
    let instance = capstan::registry::Instance::load(&runtime, source, Default::default())
        .await
        .map_err(anyhow::Error::msg)?;
    let noop = instance
        .tools()
        .iter()
        .position(|t| t.name() == "noop")
        .context("probe has a noop tool")?;
    let arguments = json!({});
    for _ in 0..calls.min(200) {
        instance
            .call_tool(
                (noop, &arguments, None),
                EventSink::none(),
                Default::default(),
                RESULT_CAP,
            )
            .await?;
    }
    let mut sample = Sample::default();
    for _ in 0..calls {
        let started = Instant::now();
        instance
            .call_tool(
                (noop, &arguments, None),
                EventSink::none(),
                Default::default(),
                RESULT_CAP,
            )
            .await?;
        sample.push(started.elapsed());
    }
    let _ = std::fs::remove_dir_all(cache);
    Ok(sample)
}

/// Start to ready with a cold and a warm compile cache, and the largest idle resident memory of
/// a warm-started capstan serving the three GitOps plugins.
fn start_to_ready(runs: usize) -> anyhow::Result<(Sample, Sample, u64)> {
    let plugins = PluginDir::new();
    for plugin in ["argocd", "rollouts", "flux"] {
        plugins.manifest(plugin, plugin, "");
    }
    let mut cold = Sample::default();
    let mut warm = Sample::default();
    let mut idle_rss = 0;
    for _ in 0..runs {
        let cache = tempdir()?;
        for sample in [&mut cold, &mut warm] {
            let started = Instant::now();
            let capstan = Capstan::spawn(
                plugins.path(),
                Options {
                    cache_dir: Some(cache.clone()),
                    ..Default::default()
                },
            );
            capstan.wait_ready(Duration::from_secs(300));
            sample.push(started.elapsed());
        }
        let capstan = Capstan::spawn(
            plugins.path(),
            Options {
                cache_dir: Some(cache.clone()),
                ..Default::default()
            },
        );
        capstan.wait_ready(Duration::from_secs(300));
        std::thread::sleep(Duration::from_millis(500));
        idle_rss = idle_rss.max(Process::new(capstan.pid()).rss()?);
        drop(capstan);
        let _ = std::fs::remove_dir_all(cache);
    }
    Ok((cold, warm, idle_rss))
}

/// A fresh, empty folder (a cold compile cache) that outlives this call; the caller removes it.
fn tempdir() -> anyhow::Result<PathBuf> {
    Ok(tempfile::tempdir()?.keep())
}
