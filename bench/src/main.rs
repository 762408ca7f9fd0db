//! capstan's benchmarks. Every figure is printed with a baseline measured in the same run, as
//! medians and ratios; nothing here asserts a time. `--quick` runs a few iterations of
//! everything (the test suite runs it so the harness cannot rot).
//!
//! Measured:
//! - a no-op tool call through capstan over MCP Streamable HTTP on loopback, against an MCP
//!   `ping` on the same session (the protocol and HTTP cost without a plugin);
//! - the sandbox share of a call: a fresh store, instantiation and the `noop` export, in process;
//! - a GET of a loopback upstream from a plugin (sandbox, egress gate, injected token, in
//!   process), against the same GET from a plain reqwest client;
//! - process start to ready (`/readyz` 200) with a cold and a warm compile cache;
//! - hot reload: a changed file to `notifications/tools/list_changed` at the client, for each
//!   GitOps plugin, with a warm compile cache and with a cold compile (`--reload` runs only this).

mod egress;
mod reload;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::Client;
use clap::Parser;
use serde_json::json;
use stats::Sample;

/// Benchmarks of capstan's call path and start-up.
#[derive(Parser)]
struct Args {
    /// A few iterations of everything, for smoke-testing the harness.
    #[arg(long)]
    quick: bool,
    /// Calls per measurement.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Run only the in-process sandbox measurement (for profiling it).
    #[arg(long)]
    sandbox_only: bool,
    /// Run only the hot reload measurement.
    #[arg(long)]
    reload: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
    println!(
        "# capstan benchmarks ({} calls per row{})\n",
        calls,
        if args.quick { ", quick mode" } else { "" }
    );
    let (mcp_noop, mcp_ping) = mcp_calls(calls).await?;
    let sandbox = sandbox_calls(calls).await?;
    let (gated, direct) = egress::fetch_calls(calls.min(2000)).await?;
    let (cold, warm) = start_to_ready(starts)?;
    println!("| measurement | median | p99 | vs. baseline |");
    println!("|---|---|---|---|");
    row(
        "MCP `ping` over HTTP (baseline: no plugin)",
        &mcp_ping,
        None,
    );
    row("no-op tool call over HTTP", &mcp_noop, Some(&mcp_ping));
    row(
        "sandbox share: fresh store + instantiate + call (in process)",
        &sandbox,
        Some(&mcp_noop),
    );
    row(
        "GET of a loopback upstream, plain reqwest (baseline: no sandbox)",
        &direct,
        None,
    );
    row(
        "the same GET from a plugin: sandbox + egress gate + injected token",
        &gated,
        Some(&direct),
    );
    row("start to ready, cold compile cache", &cold, None);
    row("start to ready, warm compile cache", &warm, Some(&cold));
    println!(
        "\nvs. baseline: ratio of medians (tool call / ping; sandbox / tool call; plugin GET / plain GET; warm / cold).\n"
    );
    reload_table(starts).await
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

fn row(name: &str, sample: &Sample, baseline: Option<&Sample>) {
    let ratio = baseline
        .map(|b| {
            format!(
                "{:.2}×",
                sample.median().as_secs_f64() / b.median().as_secs_f64()
            )
        })
        .unwrap_or_else(|| "—".into());
    println!(
        "| {name} | {} | {} | {ratio} |",
        stats::show(sample.median()),
        stats::show(sample.p99())
    );
}

async fn mcp_calls(calls: usize) -> anyhow::Result<(Sample, Sample)> {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "[limits]\nmax_concurrency = 64");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await?;
    for _ in 0..calls.min(200) {
        client.call("probe_noop", json!({})).await?;
    }
    let mut noop = Sample::default();
    let mut ping = Sample::default();
    for _ in 0..calls {
        let started = Instant::now();
        client.call("probe_noop", json!({})).await?;
        noop.push(started.elapsed());
        let started = Instant::now();
        client
            .service()
            .send_request(rmcp::model::ClientRequest::PingRequest(Default::default()))
            .await?;
        ping.push(started.elapsed());
    }
    client.close().await;
    Ok((noop, ping))
}

async fn sandbox_calls(calls: usize) -> anyhow::Result<Sample> {
    let cache = tempdir()?;
    let runtime = capstan::runtime::Runtime::new(Default::default(), &cache)?;
    let plugins = PluginDir::new();
    let path = plugins.manifest("probe", "probe", "");
    let source = capstan::registry::Source::read(&path, runtime.limits().max_memory_bytes)
        .map_err(anyhow::Error::msg)?;
    let instance = capstan::registry::Instance::load(&runtime, source, Default::default())
        .await
        .map_err(anyhow::Error::msg)?;
    let noop = instance
        .tools()
        .iter()
        .position(|t| t.name == "noop")
        .context("probe has a noop tool")?;
    let arguments = json!({});
    for _ in 0..calls.min(200) {
        instance
            .call_tool(noop, &arguments, None, Default::default())
            .await?;
    }
    let mut sample = Sample::default();
    for _ in 0..calls {
        let started = Instant::now();
        instance
            .call_tool(noop, &arguments, None, Default::default())
            .await?;
        sample.push(started.elapsed());
    }
    let _ = std::fs::remove_dir_all(cache);
    Ok(sample)
}

fn start_to_ready(runs: usize) -> anyhow::Result<(Sample, Sample)> {
    let plugins = PluginDir::new();
    for plugin in ["argocd", "rollouts", "flux"] {
        plugins.manifest(plugin, plugin, "");
    }
    let mut cold = Sample::default();
    let mut warm = Sample::default();
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
        let _ = std::fs::remove_dir_all(cache);
    }
    Ok((cold, warm))
}

/// A fresh, empty folder (a cold compile cache) that outlives this call; the caller removes it.
fn tempdir() -> anyhow::Result<PathBuf> {
    Ok(tempfile::tempdir()?.keep())
}
