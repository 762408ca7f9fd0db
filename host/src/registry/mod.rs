//! The registry: which plugin instances are loaded and which tool and prompt names they serve.
//!
//! A [`Snapshot`] is immutable; the [`Registry`] swaps whole snapshots atomically, so a call
//! holds the snapshot (and instance) it started with while a reload installs the next one.
//! [`reload_snapshot`] builds the next snapshot against the serving one: instances whose
//! [`Fingerprint`] is unchanged are shared, and a new version that fails leaves the old one in.

mod gate;
mod instance;
mod load;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::mcp::notify::Changes;
pub use gate::Busy;
pub use instance::{Instance, InstanceError, PluginPrompt, PluginTool};
pub use load::{LoadOptions, Staged, load_snapshot, reload_snapshot};
pub use source::{Fingerprint, Source};

/// A manifest that could not be loaded, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The manifest file.
    pub manifest: PathBuf,
    /// What went wrong and what to do, for the operator.
    pub error: String,
    /// Whether the version loaded before from this manifest is still serving.
    pub serving_previous: bool,
}

impl LoadFailure {
    /// A failure of `manifest` with nothing serving in its place (yet).
    pub fn new(manifest: PathBuf, error: String) -> Self {
        Self {
            manifest,
            error,
            serving_previous: false,
        }
    }
}

/// Where an exposed name leads: the instance and the index of the tool or prompt in it.
#[derive(Clone)]
pub struct Entry {
    /// The instance serving it.
    pub instance: Arc<Instance>,
    /// Index into the instance's tools or prompts.
    pub index: usize,
}

/// One consistent view of every loaded instance and the names they serve.
#[derive(Default)]
pub struct Snapshot {
    instances: Vec<Arc<Instance>>,
    tools: BTreeMap<String, Entry>,
    prompts: BTreeMap<String, Entry>,
    failures: Vec<LoadFailure>,
}

impl Snapshot {
    /// Builds a snapshot from staged manifests. Instances that were already serving go first, so
    /// a new or changed instance whose tool or prompt name collides with one of them is the one
    /// refused (recorded as a failure naming both); a changed instance that is refused or failed
    /// leaves its previous version serving.
    pub fn assemble(staged: Vec<Staged>, mut failures: Vec<LoadFailure>) -> Self {
        let mut snapshot = Snapshot::default();
        let (serving, changed): (Vec<_>, Vec<_>) = staged
            .into_iter()
            .partition(|s| !matches!(s, Staged::Loaded { .. }));
        for staged in serving.into_iter().chain(changed) {
            if let Some(failure) = snapshot.stage(staged) {
                failures.push(failure);
            }
        }
        failures.sort_by(|a, b| a.manifest.cmp(&b.manifest));
        snapshot.failures = failures;
        snapshot
    }

    /// Adds what `staged` leaves serving; returns its failure, if any.
    fn stage(&mut self, staged: Staged) -> Option<LoadFailure> {
        let (mut failure, previous) = match staged {
            Staged::Unchanged(instance) => {
                let error = self.try_add(instance.clone()).err()?;
                (
                    LoadFailure::new(instance.manifest().path.clone(), error),
                    None,
                )
            }
            Staged::Loaded { instance, previous } => {
                let error = self.try_add(instance.clone()).err()?;
                (
                    LoadFailure::new(instance.manifest().path.clone(), error),
                    previous,
                )
            }
            Staged::Failed { failure, previous } => (failure, previous),
        };
        failure.serving_previous = previous.is_some_and(|p| self.try_add(p).is_ok());
        Some(failure)
    }

    fn try_add(&mut self, instance: Arc<Instance>) -> Result<(), String> {
        match self.collision(&instance) {
            Some(error) => Err(error),
            None => {
                self.add(instance);
                Ok(())
            }
        }
    }

    fn collision(&self, instance: &Instance) -> Option<String> {
        let tools = instance
            .tools()
            .iter()
            .map(|t| (&t.exposed, &self.tools, "tool"));
        let prompts = instance
            .prompts()
            .iter()
            .map(|p| (&p.exposed, &self.prompts, "prompt"));
        tools.chain(prompts).find_map(|(name, names, kind)| {
            names.get(name).map(|existing| {
                format!(
                    "{kind} name `{name}` is already served by instance `{}` ({}); give one of them a different `prefix`",
                    existing.instance.name(),
                    existing.instance.manifest().path.display()
                )
            })
        })
    }

    fn add(&mut self, instance: Arc<Instance>) {
        for (index, tool) in instance.tools().iter().enumerate() {
            let entry = Entry {
                instance: instance.clone(),
                index,
            };
            self.tools.insert(tool.exposed.clone(), entry);
        }
        for (index, prompt) in instance.prompts().iter().enumerate() {
            let entry = Entry {
                instance: instance.clone(),
                index,
            };
            self.prompts.insert(prompt.exposed.clone(), entry);
        }
        self.instances.push(instance);
    }

    /// Loaded instances, in load order.
    pub fn instances(&self) -> &[Arc<Instance>] {
        &self.instances
    }

    /// Exposed tool names and where they lead, sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.tools.iter()
    }

    /// The tool exposed as `name`.
    pub fn tool(&self, name: &str) -> Option<&Entry> {
        self.tools.get(name)
    }

    /// Exposed prompt names and where they lead, sorted by name.
    pub fn prompts(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.prompts.iter()
    }

    /// The prompt exposed as `name`.
    pub fn prompt(&self, name: &str) -> Option<&Entry> {
        self.prompts.get(name)
    }

    /// Manifests that failed to load.
    pub fn failures(&self) -> &[LoadFailure] {
        &self.failures
    }

    /// The instance loaded from the manifest at `path`.
    pub fn instance_from(&self, path: &Path) -> Option<&Arc<Instance>> {
        self.instances.iter().find(|i| i.manifest().path == path)
    }

    /// Which exposed lists differ from `previous`: names, or any tool's or prompt's definition.
    pub fn changes_since(&self, previous: &Snapshot) -> Changes {
        fn tool(entry: &Entry) -> &rmcp::model::Tool {
            &entry.instance.tools()[entry.index].tool
        }
        fn prompt(entry: &Entry) -> &rmcp::model::Prompt {
            &entry.instance.prompts()[entry.index].prompt
        }
        Changes {
            tools: !same_lists(&self.tools, &previous.tools, tool),
            prompts: !same_lists(&self.prompts, &previous.prompts, prompt),
        }
    }
}

fn same_lists<T: PartialEq>(
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
    definition: fn(&Entry) -> &T,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((x, ex), (y, ey))| x == y && definition(ex) == definition(ey))
}

/// The current snapshot, replaced atomically on reload.
#[derive(Default)]
pub struct Registry {
    current: ArcSwap<Snapshot>,
}

impl Registry {
    /// A registry serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The snapshot to use for one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Installs `snapshot` for every request that starts from now on; calls already running
    /// finish on the instances they started with. Returns the snapshot it replaced.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.current.swap(Arc::new(snapshot))
    }
}
