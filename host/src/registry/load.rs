//! Building a snapshot from plugin folders: every `*.toml` manifest becomes an instance, or a
//! recorded failure that names the file and the fix; one bad plugin never stops the others.
//!
//! A reload is the same walk against the snapshot serving now ([`reload_snapshot`]): each
//! manifest is read with its component and fingerprinted ([`Source`]); an unchanged one keeps
//! its instance, a new or changed one is loaded (validated, compiled off the async runtime or
//! taken from the compile cache, import-checked, pre-instantiated, asked for its tools), and one
//! that fails at any step leaves its previous version serving. Manifests that are gone retire
//! their instances. Nothing is installed here: the caller swaps the finished snapshot in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::join_all;

use super::{FailureCause, Instance, LoadError, LoadFailure, Snapshot, Source};
use crate::distribution::DistributionSettings;
use crate::egress::EgressSettings;
use crate::runtime::Runtime;

/// What loading needs besides the runtime.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Folders holding manifests.
    pub plugin_dirs: Vec<PathBuf>,
    /// Host-wide settings of plugins' outgoing requests.
    pub egress: EgressSettings,
    /// Where `oci://` components are pulled from and cached.
    pub distribution: DistributionSettings,
}

/// How one manifest came out of a load.
pub enum Staged {
    /// Unchanged since the previous snapshot: the same instance keeps serving.
    Unchanged(Arc<Instance>),
    /// Loaded from a new or changed manifest or component.
    Loaded {
        /// The new instance.
        instance: Arc<Instance>,
        /// The version it replaces, if any.
        previous: Option<Arc<Instance>>,
    },
    /// The manifest or its component could not be loaded.
    Failed {
        /// What went wrong.
        failure: LoadFailure,
        /// The version loaded before from this manifest, which keeps serving.
        previous: Option<Arc<Instance>>,
    },
}

/// Loads every manifest in the plugin folders (in name order, folders in the order given).
pub async fn load_snapshot(runtime: &Runtime, options: &LoadOptions) -> Snapshot {
    reload_snapshot(runtime, options, &Snapshot::default()).await
}

/// Loads the plugin folders again against `previous`, reusing its unchanged instances and
/// keeping its instances serving where their new version fails.
pub async fn reload_snapshot(
    runtime: &Runtime,
    options: &LoadOptions,
    previous: &Snapshot,
) -> Snapshot {
    let mut failures = Vec::new();
    let mut manifests = Vec::new();
    let mut kept = Vec::new();
    for dir in &options.plugin_dirs {
        match manifest_files(dir) {
            Ok(files) => manifests.extend(files),
            Err(error) => {
                // A folder that cannot be read (being replaced, a mount problem) is not a
                // request to remove its plugins: what it served keeps serving.
                let serving = previous.instances().iter();
                let serving = serving.filter(|i| i.manifest().path.parent() == Some(dir));
                let before = kept.len();
                kept.extend(serving.cloned().map(Staged::Unchanged));
                let mut failure = LoadFailure::new(dir.clone(), error);
                failure.serving_previous = kept.len() > before;
                failures.push(failure);
            }
        }
    }
    let staged = manifests.into_iter().map(|path| {
        let previous = previous.instance_from(&path).cloned();
        stage(runtime, path, previous, options)
    });
    kept.extend(join_all(staged).await);
    Snapshot::assemble(kept, failures)
}

async fn stage(
    runtime: &Runtime,
    path: PathBuf,
    previous: Option<Arc<Instance>>,
    options: &LoadOptions,
) -> Staged {
    let max_memory = runtime.limits().max_memory_bytes;
    let source = match Source::read(&path, max_memory, &options.distribution).await {
        Ok(source) => source,
        Err(error) => {
            let failure = LoadFailure::new(path, error);
            return Staged::Failed { failure, previous };
        }
    };
    if let Some(unchanged) = previous
        .as_ref()
        .filter(|p| *p.fingerprint() == source.fingerprint)
    {
        return Staged::Unchanged(unchanged.clone());
    }
    match load_one(runtime, source, options.egress.clone()).await {
        Ok(instance) => Staged::Loaded {
            instance: Arc::new(instance),
            previous,
        },
        Err(error) => Staged::Failed {
            failure: LoadFailure::new(path, error),
            previous,
        },
    }
}

async fn load_one(
    runtime: &Runtime,
    source: Source,
    egress: EgressSettings,
) -> Result<Instance, LoadError> {
    let instance = Instance::load(runtime, source, egress).await?;
    tracing::info!(
        instance = instance.name(),
        tools = instance.tools().len(),
        prompts = instance.prompts().len(),
        cached = instance.component().from_cache(),
        "loaded plugin"
    );
    Ok(instance)
}

#[cfg(unix)]
fn refuse_writable_by_others(dir: &Path) -> Result<(), FailureCause> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(dir).map_err(|error| FailureCause::Folder(Arc::new(error)))?;
    let mode = metadata.permissions().mode() & 0o7777;
    match others_may_write(mode, || on_read_only_mount(dir)) {
        true => Err(FailureCause::WritableFolder { mode }),
        false => Ok(()),
    }
}

#[cfg(not(unix))]
fn refuse_writable_by_others(_dir: &Path) -> Result<(), FailureCause> {
    Ok(())
}

/// Whether users other than the owner may change a folder of permission bits `mode`: its group
/// or world write bit is set and it is not on a read-only mount. The kubelet mounts ConfigMap
/// and Secret volumes as folders of mode 0777 (2777 with an `fsGroup`) on a read-only mount,
/// where nobody can write whatever the bits say.
fn others_may_write(mode: u32, read_only_mount: impl FnOnce() -> bool) -> bool {
    mode & 0o022 != 0 && !read_only_mount()
}

/// Whether `dir` sits on a file system mounted read-only (`statvfs`'s `ST_RDONLY`).
#[cfg(unix)]
fn on_read_only_mount(dir: &Path) -> bool {
    rustix::fs::statvfs(dir)
        .is_ok_and(|fs| fs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

/// The `*.toml` files directly in `dir`, sorted; hidden entries (such as Kubernetes' `..data`)
/// are skipped. A folder others may write to is refused, as the compile cache is.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, FailureCause> {
    refuse_writable_by_others(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|error| FailureCause::Folder(Arc::new(error)))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            !name.starts_with('.') && name.ends_with(".toml") && path.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_others_may_write_is_refused_unless_its_mount_is_read_only() {
        assert!(!others_may_write(0o755, || false));
        assert!(others_may_write(0o775, || false));
        assert!(others_may_write(0o757, || false));
        assert!(others_may_write(0o2777, || false));
        // A kubelet ConfigMap volume: 0777 (2777 with an fsGroup) on a read-only mount.
        assert!(!others_may_write(0o2777, || true));
        assert!(!others_may_write(0o777, || true));
    }

    #[cfg(unix)]
    #[test]
    fn a_writable_temporary_folder_is_not_on_a_read_only_mount() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!on_read_only_mount(dir.path()));
    }
}
