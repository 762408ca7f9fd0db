//! Hot reload latency: from a changed file in the plugin folder to the MCP client receiving
//! `notifications/tools/list_changed`, for each GitOps plugin, with the new component already in
//! the compile cache (warm) and never seen before (cold: compiled during the reload).
//!
//! One step writes the new component under a new name, then renames a manifest naming it over
//! the old one; the clock starts as the manifest is written. The manifest's `prefix` alternates, so every step
//! changes the tool list and is announced. The figures include capstan's debounce (the folder
//! must be quiet for 250 ms before a reload starts).

use std::path::Path;
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::Client;
use capstan_tests::wasm::tagged;

use crate::stats::Sample;

/// The reload figures of one plugin.
pub struct PluginReload {
    /// The plugin (`argocd`, `rollouts`, `flux`).
    pub plugin: &'static str,
    /// The new component was in the compile cache.
    pub warm: Sample,
    /// The new component was compiled during the reload.
    pub cold: Sample,
}

/// Measures `steps` cold and `steps` warm reloads of each GitOps plugin.
pub async fn measure(steps: usize) -> anyhow::Result<Vec<PluginReload>> {
    let mut results = Vec::new();
    for plugin in ["argocd", "rollouts", "flux"] {
        results.push(measure_plugin(plugin, steps).await?);
    }
    Ok(results)
}

async fn measure_plugin(plugin: &'static str, steps: usize) -> anyhow::Result<PluginReload> {
    let cache = tempfile::tempdir()?;
    let initial = tagged(plugin, &unique("initial"));
    let mut bench = Bench::start(plugin, &initial, cache.path()).await?;
    let mut cold = Sample::default();
    let mut seen = vec![initial];
    for _ in 0..steps {
        let component = tagged(plugin, &unique("cold"));
        cold.push(bench.switch_to(&component).await?);
        seen.push(component);
    }
    // Every component seen so far is in the cache; cycling through them never switches to the
    // one serving.
    let mut warm = Sample::default();
    for step in 0..steps {
        warm.push(bench.switch_to(&seen[step % seen.len()]).await?);
    }
    bench.client.close().await;
    Ok(PluginReload { plugin, warm, cold })
}

/// A tag no compile cache has seen.
fn unique(what: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    format!("{what} {}", now.unwrap_or_default().as_nanos())
}

/// A capstan serving one instance of a plugin from its own folder, and a client listening.
struct Bench {
    plugin: &'static str,
    plugins: PluginDir,
    capstan: Capstan,
    client: Client,
    step: usize,
}

impl Bench {
    async fn start(plugin: &'static str, component: &[u8], cache: &Path) -> anyhow::Result<Self> {
        let plugins = PluginDir::new();
        write_step(&plugins, plugin, 0, component);
        let options = Options {
            cache_dir: Some(cache.to_path_buf()),
            ..Default::default()
        };
        let capstan = Capstan::start_with(&plugins, options);
        let client = Client::connect(&capstan.url()).await?;
        client.tools().await?;
        Ok(Self {
            plugin,
            plugins,
            capstan,
            client,
            step: 1,
        })
    }

    /// Switches the instance to `component`; returns the time from writing the manifest to the
    /// client hearing that the tool list changed.
    async fn switch_to(&mut self, component: &[u8]) -> anyhow::Result<Duration> {
        let heard = self.client.recorded().tools_changed;
        let started = write_step(&self.plugins, self.plugin, self.step, component);
        self.step += 1;
        let told = self
            .client
            .wait_for(Duration::from_secs(120), |r| r.tools_changed > heard)
            .await;
        let elapsed = started.elapsed();
        if !told {
            anyhow::bail!(
                "{}: no tools/list_changed after a reload; capstan's log:\n{}",
                self.plugin,
                self.capstan.log_text()
            );
        }
        Ok(elapsed)
    }
}

/// Writes `component` as `<plugin>-<step>.wasm`, then renames a manifest naming it into place
/// (its prefix alternates with `step`); returns when the manifest's write began.
fn write_step(plugins: &PluginDir, plugin: &str, step: usize, component: &[u8]) -> Instant {
    let file = format!("{plugin}-{step}.wasm");
    plugins.swap_in(&file, component);
    let manifest = format!(
        "component = \"{file}\"\nprefix = \"{plugin}{}\"\n",
        step % 2
    );
    let started = Instant::now();
    plugins.swap_in(&format!("{plugin}.toml"), manifest.as_bytes());
    started
}
