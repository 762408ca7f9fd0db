//! The egress path's cost: the probe's `fetch` of a loopback upstream through an in-process
//! instance (fresh store, the gate's checks, credential injection, capstan's HTTP client),
//! against a direct GET of the same URL with a plain reqwest client, in the same run.

use std::time::Instant;

use anyhow::Context as _;
use capstan::events::EventSink;
use capstan::runtime::CallAnswer;
use capstan_tests::capstan::PluginDir;
use capstan_tests::upstream::Upstream;
use serde_json::json;

use crate::RESULT_CAP;
use crate::stats::Sample;

/// (through the sandbox and gate, direct) samples of `calls` GETs each.
pub async fn fetch_calls(calls: usize) -> anyhow::Result<(Sample, Sample)> {
    let upstream = Upstream::http().await;
    let url = format!("{}/api/bench", upstream.url());
    let cache = tempfile::tempdir()?;
    let runtime = capstan::runtime::Runtime::new(Default::default(), cache.path())?;
    let plugins = PluginDir::new();
    let token = plugins.path().join("token");
    std::fs::write(&token, "bench-token")?;
    let targets = format!(
        "[[targets]]\nname = \"up\"\nurl = \"{}/api\"\nauth = {{ bearer_file = {:?} }}",
        upstream.url(),
        token.display().to_string()
    );
    let path = plugins.manifest("probe", "probe", &targets);
    let distribution = capstan::distribution::DistributionSettings::default();
    let source =
        capstan::registry::Source::read(&path, runtime.limits().max_memory_bytes, &distribution)
            .await
            .map_err(anyhow::Error::msg)?;
    let instance = capstan::registry::Instance::load(&runtime, source, Default::default())
        .await
        .map_err(anyhow::Error::msg)?;
    let fetch = instance
        .tools()
        .iter()
        .position(|t| t.name() == "fetch")
        .context("probe has a fetch tool")?;
    let arguments = json!({ "url": url });
    capstan_tests::install_crypto_provider();
    let direct = reqwest::Client::builder().no_proxy().build()?;
    let (mut gated, mut plain) = (Sample::default(), Sample::default());
    for round in 0..calls + calls.min(100) {
        let started = Instant::now();
        let result = instance
            .call_tool(
                (fetch, &arguments, None),
                EventSink::none(),
                Default::default(),
                RESULT_CAP,
            )
            .await?;
        let failed = !matches!(result, CallAnswer::Whole(ref whole) if !whole.is_error);
        anyhow::ensure!(!failed, "the probe's fetch failed");
        let through_gate = started.elapsed();
        let started = Instant::now();
        direct.get(&url).send().await?.bytes().await?;
        if round >= calls.min(100) {
            gated.push(through_gate);
            plain.push(started.elapsed());
        }
    }
    Ok((gated, plain))
}
