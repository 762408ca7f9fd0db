//! Hot reload: plugins are added, replaced and removed while clients are calling, and no call is
//! lost.
//!
//! 1. [`watch`] notices changes in the plugin folders (file-system events, or polling with
//!    `--poll-interval`), including the `..data` symlink flip of a Kubernetes ConfigMap, Secret or
//!    projected volume; `SIGHUP` asks for a rescan too, with or without watching.
//! 2. The [`Reloader`] waits until the folders were quiet for [`DEBOUNCE`] (2 s at most), so a
//!    copy in progress or a burst of renames becomes one reload.
//! 3. It stages every manifest against the snapshot serving now
//!    ([`reload_snapshot`](crate::registry::reload_snapshot)): unchanged instances (same manifest
//!    bytes, same component sha256) are kept as they are; new and changed ones are validated,
//!    compiled off the async runtime (or taken from the compile cache), import-checked and
//!    pre-instantiated; one that fails at any step leaves its previous version serving; a removed
//!    manifest retires its instance.
//! 4. The finished snapshot is swapped in atomically. Calls already running hold the instance
//!    they started on and finish there.
//! 5. If the exposed tool or prompt list changed, every connected client hears
//!    `notifications/tools/list_changed` or `notifications/prompts/list_changed`.
//! 6. The outcome is logged, shown in `/readyz` ([`LoadStatus`]) and counted in `/metrics`.
//!
//! Step 5 is the registry's: [`Registry::replace`] tells its
//! [`ChangeListener`](crate::registry::ChangeListener).

mod settings;
mod watch;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::guest_text::escape;
use crate::metrics::Metrics;
use crate::registry::{LoadOptions, LoadStatus, Registry, Snapshot, reload_snapshot};
use crate::runtime::Runtime;
pub use settings::{ReloadFile, ReloadOverrides, ReloadSettings};
pub use watch::{FolderWatcher, WatchMode, WatchSet};

/// How long the plugin folders must be quiet before a change is loaded.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// The longest a reload waits for quiet: a folder that never stops changing is loaded anyway.
const MAX_SETTLE: Duration = Duration::from_secs(2);

/// Loads the plugin folders, then reloads them on every change and every `SIGHUP`.
pub struct Reloader {
    runtime: Runtime,
    options: LoadOptions,
    registry: Arc<Registry>,
    status: Arc<LoadStatus>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    reloads: u64,
}

impl Reloader {
    /// A reloader installing snapshots into `registry`, reporting into `status` and `metrics`.
    /// From now on a `SIGHUP` asks for a rescan (instead of ending the process).
    pub fn new(
        runtime: Runtime,
        options: LoadOptions,
        registry: Arc<Registry>,
        status: Arc<LoadStatus>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let wake = Arc::new(Notify::new());
        rescan_on_sighup(wake.clone())?;
        Ok(Self {
            runtime,
            options,
            registry,
            status,
            metrics,
            wake,
            reloads: 0,
        })
    }

    /// Reloads whenever something changes (watching in `mode`, if any) or a `SIGHUP` arrives,
    /// until `shutdown`. Call [`Self::reload`] once first.
    pub async fn run(mut self, mode: Option<WatchMode>, shutdown: CancellationToken) {
        let mut watcher = mode.and_then(|mode| self.start_watcher(mode));
        loop {
            if let Some(watcher) = &mut watcher
                && watcher.watch(self.watch_set())
            {
                // Changes made before the new watches existed were not seen.
                self.wake.notify_one();
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = shutdown.cancelled() => return,
            }
            settle(&self.wake).await;
            self.reload().await;
        }
    }

    fn start_watcher(&self, mode: WatchMode) -> Option<FolderWatcher> {
        match FolderWatcher::new(mode, self.wake.clone()) {
            Ok(watcher) => {
                tracing::info!(?mode, "watching the plugin folders for changes");
                Some(watcher)
            }
            Err(error) => {
                tracing::error!(
                    "cannot watch the plugin folders: {error}; plugins reload only on SIGHUP. Raise fs.inotify.max_user_instances or use --poll-interval"
                );
                None
            }
        }
    }

    /// Loads the plugin folders against the snapshot serving now, swaps the result in (the
    /// registry tells its listener whether the lists changed) and tells operators what changed.
    pub async fn reload(&mut self) {
        let started = Instant::now();
        let previous = self.registry.snapshot();
        let next = reload_snapshot(&self.runtime, &self.options, &previous).await;
        let counted = log_outcome(&previous, &next, started.elapsed()) || self.reloads == 0;
        self.registry.replace(next);
        let current = self.registry.snapshot();
        if counted {
            self.reloads += 1;
            let (instances, failures) = (current.instances().len(), current.failures().len());
            self.metrics.record_reload(instances, failures);
        }
        self.status.record(&current, self.reloads);
    }

    /// The plugin folders (also as entries of their parents, to notice them being replaced) and
    /// the folders holding the serving instances' manifests, components and the files their
    /// targets read at load, as named and with symlinks resolved.
    fn watch_set(&self) -> WatchSet {
        let entries: BTreeSet<PathBuf> = self.options.plugin_dirs.iter().map(absolute).collect();
        let mut contents = entries.clone();
        for instance in self.registry.snapshot().instances() {
            let manifest = instance.manifest();
            contents.extend(folders_of(&manifest.path));
            if let Some(file) = manifest.component.file() {
                contents.extend(folders_of(file));
            }
            for file in &manifest.files {
                contents.extend(folders_of(file));
            }
        }
        WatchSet { contents, entries }
    }
}

/// Waits until nothing woke `wake` for [`DEBOUNCE`], or [`MAX_SETTLE`] passed.
async fn settle(wake: &Notify) {
    let deadline = tokio::time::Instant::now() + MAX_SETTLE;
    while tokio::time::Instant::now() < deadline
        && tokio::time::timeout(DEBOUNCE, wake.notified())
            .await
            .is_ok()
    {}
}

#[cfg(unix)]
fn rescan_on_sighup(wake: Arc<Notify>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())
        .map_err(|error| anyhow::anyhow!("cannot install the SIGHUP handler: {error}"))?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: rescanning the plugin folders");
            wake.notify_one();
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn rescan_on_sighup(_wake: Arc<Notify>) -> anyhow::Result<()> {
    Ok(())
}

fn absolute(path: &PathBuf) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.clone())
}

/// The folder holding `file`, as named and with symlinks resolved.
fn folders_of(file: &Path) -> impl Iterator<Item = PathBuf> {
    let named = absolute(&file.to_path_buf())
        .parent()
        .map(Path::to_path_buf);
    let resolved = std::fs::canonicalize(file)
        .ok()
        .and_then(|path| path.parent().map(Path::to_path_buf));
    named.into_iter().chain(resolved)
}

/// Logs what a reload changed; returns false if it changed nothing (the same instances and the
/// same failures as `previous`), which is not worth counting.
fn log_outcome(previous: &Snapshot, next: &Snapshot, elapsed: Duration) -> bool {
    let new_failures = log_failures(previous, next);
    let cleared = previous.failures().iter();
    let cleared = cleared.filter(|f| !next.failures().iter().any(|n| n.same_as(f)));
    let summary = Summary::between(previous, next);
    let elapsed_ms = elapsed.as_millis() as u64;
    if summary.is_empty() && new_failures == 0 && cleared.count() == 0 {
        tracing::debug!(elapsed_ms, "rescanned the plugin folders: nothing changed");
        return false;
    }
    tracing::info!(
        added = summary.added,
        replaced = summary.replaced,
        removed = summary.removed,
        failed = next.failures().len(),
        elapsed_ms,
        "reloaded plugins"
    );
    true
}

/// Logs each failure of `next` that is new since `previous`; returns how many there were.
fn log_failures(previous: &Snapshot, next: &Snapshot) -> usize {
    let mut new = 0;
    for failure in next.failures() {
        let manifest = failure.manifest.display();
        // The error may quote the guest (a tool name it listed), so it goes in a field, escaped.
        let error = failure.error.to_string();
        let error = escape(&error);
        if previous.failures().iter().any(|f| f.same_as(failure)) {
            tracing::debug!(%manifest, %error, "still failing");
            continue;
        }
        new += 1;
        if failure.serving_previous {
            tracing::error!(%manifest, %error, "plugin not reloaded, the previous version keeps serving");
        } else {
            tracing::error!(%manifest, %error, "plugin not loaded");
        }
    }
    new
}

/// How the instances of two snapshots differ.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    added: usize,
    replaced: usize,
    removed: usize,
}

impl Summary {
    fn between(previous: &Snapshot, next: &Snapshot) -> Self {
        let mut summary = Self::default();
        for instance in next.instances() {
            match previous.instance_from(&instance.manifest().path) {
                None => summary.added += 1,
                Some(old) if !Arc::ptr_eq(old, instance) => summary.replaced += 1,
                Some(_) => {}
            }
        }
        let gone = previous.instances().iter();
        summary.removed = gone
            .filter(|old| next.instance_from(&old.manifest().path).is_none())
            .count();
        summary
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
