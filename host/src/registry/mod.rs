//! The registry: which plugin instances are loaded and which tool and prompt names they serve.
//!
//! A [`Snapshot`] is immutable; the [`Registry`] swaps whole snapshots atomically, so a call
//! holds the snapshot (and instance) it started with while a reload installs the next one.
//! [`reload_snapshot`] builds the next snapshot against the serving one: instances whose
//! [`Fingerprint`] is unchanged are shared, and a new version that fails leaves the old one in.
//!
//! The registry speaks no protocol: it keeps the plugins' own tool and prompt declarations
//! ([`schema`]) and tells a [`ChangeListener`] when a replaced snapshot changes what clients
//! would see. [`LoadStatus`] keeps the readiness report of the last (re)load.

mod gate;
mod instance;
mod load;
mod param_headers;
pub mod resources;
pub mod schema;
pub mod skills;
mod source;
mod status;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use gate::{Busy, register_metrics};
pub use instance::{Instance, InstanceError, LoadError};
pub use load::{LoadOptions, Staged, load_snapshot, reload_snapshot};
pub use resources::{ResourceDefinition, TemplateDefinition};
pub use schema::{PromptDefinition, SchemaError, ToolDefinition};
pub use skills::SkillDefinition;
pub use source::{Fingerprint, Source, SourceError};
pub use status::{LoadStatus, Readiness};

/// Why a manifest is not serving (in its current version); the message says what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FailureCause {
    /// The plugin folder cannot be listed.
    #[error("cannot read the plugin folder: {0}")]
    Folder(Arc<std::io::Error>),
    /// Users other than its owner may write to the plugin folder, and so choose what runs.
    #[error(
        "the plugin folder is writable by other users (mode {mode:o}), who could choose what capstan runs; run `chmod go-w` on it or mount it read-only (Kubernetes mounts ConfigMap volumes read-only)"
    )]
    WritableFolder {
        /// The folder's permission bits.
        mode: u32,
    },
    /// The manifest or its component cannot be read, or the manifest is invalid.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Reading the manifest panicked.
    #[error("reading the manifest panicked: {0}")]
    ReadPanicked(String),
    /// The instance cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A tool or prompt name is already served by another instance.
    #[error(
        "{kind} name `{name}` is already served by instance `{instance}` ({}); give one of them a different `prefix`",
        manifest.display()
    )]
    Collision {
        /// `tool` or `prompt`.
        kind: &'static str,
        /// The exposed name.
        name: String,
        /// The instance serving it.
        instance: String,
        /// That instance's manifest.
        manifest: PathBuf,
    },
}

/// A manifest that could not be loaded, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The manifest file.
    pub manifest: PathBuf,
    /// What went wrong and what to do, for the operator.
    pub error: FailureCause,
    /// Whether the version loaded before from this manifest is still serving.
    pub serving_previous: bool,
}

impl LoadFailure {
    /// A failure of `manifest` with nothing serving in its place (yet).
    pub fn new(manifest: PathBuf, error: impl Into<FailureCause>) -> Self {
        Self {
            manifest,
            error: error.into(),
            serving_previous: false,
        }
    }

    /// True when `other` is the same manifest failing with the same message.
    pub fn same_as(&self, other: &LoadFailure) -> bool {
        self.manifest == other.manifest && self.error.to_string() == other.error.to_string()
    }
}

/// Which exposed lists changed between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    /// The tool list.
    pub tools: bool,
    /// The prompt list.
    pub prompts: bool,
    /// The resource, template or skill lists.
    pub resources: bool,
}

impl Changes {
    /// Only the tool list.
    pub const TOOLS: Self = Self {
        tools: true,
        prompts: false,
        resources: false,
    };

    /// True when any list changed.
    pub fn any(&self) -> bool {
        self.tools || self.prompts || self.resources
    }
}

/// Who is told when a replaced snapshot changes the exposed lists (the MCP front, which tells
/// its clients). Called on the task that replaced the snapshot: hand slow work off.
pub trait ChangeListener: Send + Sync + 'static {
    /// The lists in `changes` differ from those of the snapshot before.
    fn changed(&self, changes: Changes);
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

    fn try_add(&mut self, instance: Arc<Instance>) -> Result<(), FailureCause> {
        match self.collision(&instance) {
            Some(error) => Err(error),
            None => {
                self.add(instance);
                Ok(())
            }
        }
    }

    fn collision(&self, instance: &Instance) -> Option<FailureCause> {
        let tools = instance
            .tools()
            .iter()
            .map(|t| (&t.exposed, &self.tools, "tool"));
        let prompts = instance
            .prompts()
            .iter()
            .map(|p| (&p.exposed, &self.prompts, "prompt"));
        let named = tools.chain(prompts).find_map(|(name, names, kind)| {
            names.get(name).map(|existing| FailureCause::Collision {
                kind,
                name: name.clone(),
                instance: existing.instance.name().to_owned(),
                manifest: existing.instance.manifest().path.clone(),
            })
        });
        named.or_else(|| self.uri_collision(instance))
    }

    /// A resource URI or template of `instance` that a serving instance already serves (two
    /// instances with an empty prefix and the same plugin scheme).
    fn uri_collision(&self, instance: &Instance) -> Option<FailureCause> {
        let uris = |i: &Instance| -> Vec<String> {
            let resources = i.resources().iter().map(|r| r.exposed.clone());
            resources
                .chain(i.templates().iter().map(|t| t.exposed.clone()))
                .collect()
        };
        let mine = uris(instance);
        self.instances.iter().find_map(|existing| {
            let theirs = uris(existing);
            mine.iter()
                .find(|uri| theirs.contains(uri))
                .map(|uri| FailureCause::Collision {
                    kind: "resource",
                    name: uri.clone(),
                    instance: existing.name().to_owned(),
                    manifest: existing.manifest().path.clone(),
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
        fn tool(entry: &Entry) -> &ToolDefinition {
            &entry.instance.tools()[entry.index]
        }
        fn prompt(entry: &Entry) -> &PromptDefinition {
            &entry.instance.prompts()[entry.index]
        }
        Changes {
            tools: !same_lists(&self.tools, &previous.tools, |a, b| {
                tool(a).same_as(tool(b))
            }),
            prompts: !same_lists(&self.prompts, &previous.prompts, |a, b| {
                prompt(a).same_as(prompt(b))
            }),
            resources: self.resource_lists() != previous.resource_lists(),
        }
    }

    /// Every served resource URI, template and skill file with its digest, for telling
    /// whether the resource lists changed.
    fn resource_lists(&self) -> Vec<String> {
        let mut lists: Vec<String> = self
            .instances
            .iter()
            .flat_map(|instance| {
                let resources = instance
                    .resources()
                    .iter()
                    .map(|r| format!("r {} {:?}", r.exposed, r.resource));
                let templates = instance
                    .templates()
                    .iter()
                    .map(|t| format!("t {} {:?}", t.exposed, t.template));
                let skills = instance
                    .skills()
                    .iter()
                    .flat_map(|s| s.files.iter().map(|f| format!("s {} {}", f.uri, f.digest)));
                resources.chain(templates).chain(skills).collect::<Vec<_>>()
            })
            .collect();
        lists.sort();
        lists
    }

    /// The instance serving the resource at `uri` (a fixed resource or one a template
    /// describes), and the plugin's form of the URI.
    pub fn resource(&self, uri: &str) -> Option<(&Arc<Instance>, String)> {
        self.instances
            .iter()
            .find_map(|instance| instance.resource_for(uri).map(|own| (instance, own)))
    }

    /// The skill whose `SKILL.md` is at `uri`, with its instance.
    pub fn skill(&self, uri: &str) -> Option<(&Arc<Instance>, &SkillDefinition)> {
        self.instances.iter().find_map(|instance| {
            instance
                .skills()
                .iter()
                .find(|skill| skill.uri == uri)
                .map(|skill| (instance, skill))
        })
    }

    /// The skill file at `uri`.
    pub fn skill_file(&self, uri: &str) -> Option<&skills::SkillFile> {
        self.instances
            .iter()
            .flat_map(|instance| instance.skills())
            .find_map(|skill| skill.file(uri))
    }
}

fn same_lists(
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
    same: impl Fn(&Entry, &Entry) -> bool,
) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((x, ex), (y, ey))| {
            x == y
                && (Arc::ptr_eq(&ex.instance, &ey.instance) && ex.index == ey.index || same(ex, ey))
        })
}

/// The current snapshot, replaced atomically on reload.
#[derive(Default)]
pub struct Registry {
    current: ArcSwap<Snapshot>,
    listener: Option<Arc<dyn ChangeListener>>,
}

impl Registry {
    /// A registry serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(snapshot),
            listener: None,
        }
    }

    /// An empty registry that tells `listener` when a replaced snapshot changes the lists.
    pub fn with_listener(listener: Arc<dyn ChangeListener>) -> Self {
        Self {
            current: ArcSwap::default(),
            listener: Some(listener),
        }
    }

    /// The snapshot to use for one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Installs `snapshot` for every request that starts from now on; calls already running
    /// finish on the instances they started with. Tells the listener, if the exposed lists
    /// changed. Returns the snapshot it replaced.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let next = Arc::new(snapshot);
        let previous = self.current.swap(next.clone());
        if let Some(listener) = &self.listener {
            let changes = next.changes_since(&previous);
            if changes.any() {
                listener.changed(changes);
            }
        }
        previous
    }
}
