//! Building a snapshot from plugin folders: every `*.toml` manifest becomes an instance, or a
//! recorded failure that names the file and the fix; one bad plugin never stops the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::join_all;

use super::{Instance, LoadFailure, Snapshot};
use crate::egress::EgressSettings;
use crate::manifest::Manifest;
use crate::runtime::Runtime;

/// What loading needs besides the runtime.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Folders holding manifests.
    pub plugin_dirs: Vec<PathBuf>,
    /// Host-wide settings of plugins' outgoing requests.
    pub egress: EgressSettings,
}

/// Loads every manifest in the plugin folders (in name order, folders in the order given).
pub async fn load_snapshot(runtime: &Runtime, options: &LoadOptions) -> Snapshot {
    let mut failures = Vec::new();
    let mut manifests = Vec::new();
    for dir in &options.plugin_dirs {
        match manifest_files(dir) {
            Ok(files) => manifests.extend(files),
            Err(error) => failures.push(LoadFailure {
                manifest: dir.clone(),
                error,
            }),
        }
    }
    let loads = manifests
        .iter()
        .map(|path| load_one(runtime, path, options.egress.clone()));
    let mut instances = Vec::new();
    for (path, outcome) in manifests.iter().zip(join_all(loads).await) {
        match outcome {
            Ok(instance) => instances.push(Arc::new(instance)),
            Err(error) => failures.push(LoadFailure {
                manifest: path.clone(),
                error,
            }),
        }
    }
    Snapshot::assemble(instances, failures)
}

async fn load_one(
    runtime: &Runtime,
    path: &Path,
    egress: EgressSettings,
) -> Result<Instance, String> {
    let manifest = Manifest::load(path, runtime.limits().max_memory_bytes)
        .map_err(|error| error.message_without_path())?;
    let instance = Instance::load(runtime, manifest, egress).await?;
    tracing::info!(
        instance = instance.name(),
        tools = instance.tools().len(),
        prompts = instance.prompts().len(),
        cached = instance.component().from_cache(),
        "loaded plugin"
    );
    Ok(instance)
}

/// The `*.toml` files directly in `dir`, sorted; hidden entries (such as Kubernetes' `..data`)
/// are skipped.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read the plugin folder: {error}"))?;
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
