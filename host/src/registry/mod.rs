//! The registry: which plugin instances are loaded and which tool and prompt names they serve.
//!
//! A [`Snapshot`] is immutable; the [`Registry`] swaps whole snapshots atomically, so a call
//! holds the snapshot (and instance) it started with while a reload installs the next one.

mod gate;
mod instance;
mod load;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use gate::Busy;
pub use instance::{Instance, InstanceError, PluginPrompt, PluginTool};
pub use load::{LoadOptions, load_snapshot};

/// A manifest that could not be loaded, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The manifest file.
    pub manifest: PathBuf,
    /// What went wrong and what to do, for the operator.
    pub error: String,
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
    /// Builds a snapshot from loaded instances in order; an instance whose tool or prompt name
    /// collides with an earlier one is refused and recorded as a failure naming both.
    pub fn assemble(instances: Vec<Arc<Instance>>, mut failures: Vec<LoadFailure>) -> Self {
        let mut snapshot = Snapshot::default();
        for instance in instances {
            match snapshot.collision(&instance) {
                Some(error) => failures.push(LoadFailure {
                    manifest: instance.manifest().path.clone(),
                    error,
                }),
                None => snapshot.add(instance),
            }
        }
        failures.sort_by(|a, b| a.manifest.cmp(&b.manifest));
        snapshot.failures = failures;
        snapshot
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

    /// Installs `snapshot` for every request that starts from now on.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}
