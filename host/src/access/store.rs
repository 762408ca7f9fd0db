//! The policy in force, swapped without a pause when its file changes. A broken file never
//! replaces a working policy: the previous one keeps deciding, the status says what is wrong,
//! and the error is logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{Policy, PolicyError};
use crate::metrics::Metrics;

/// The policy file's state, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStatus {
    /// The policy file.
    pub file: PathBuf,
    /// Rules in the policy serving now.
    pub rules: usize,
    /// When the serving policy was loaded (RFC 3339).
    pub loaded_at: String,
    /// Why the last attempt to load the file failed, while an older policy serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The policy in force and where it comes from.
pub struct PolicyStore {
    file: PathBuf,
    current: ArcSwap<Option<Arc<Policy>>>,
    status: Mutex<PolicyStatus>,
    metrics: Option<Arc<Metrics>>,
    /// The file's metadata when it was loaded, for `watch` to compare with.
    loaded: Stamp,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("status", &self.status())
            .finish()
    }
}

impl PolicyStore {
    /// Loads `file`; a missing or invalid file is an error naming the file, line and problem.
    pub fn load(file: &Path, metrics: Option<Arc<Metrics>>) -> Result<Self, PolicyError> {
        let loaded = stamp(file);
        let policy = Policy::from_file(file)?;
        let store = Self {
            file: file.to_path_buf(),
            current: ArcSwap::from_pointee(None),
            status: Mutex::new(PolicyStatus {
                file: file.to_path_buf(),
                rules: 0,
                loaded_at: String::new(),
                error: None,
            }),
            metrics,
            loaded,
        };
        store.install(policy);
        Ok(store)
    }

    /// The policy deciding now.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        (**self.current.load()).clone()
    }

    /// The file's state.
    pub fn status(&self) -> PolicyStatus {
        self.status.lock().expect("policy status lock").clone()
    }

    /// Reads the file again; on success the new policy decides from now on, on failure the
    /// previous one keeps deciding and the status carries the error. Returns whether it loaded.
    pub fn reload(&self) -> bool {
        match Policy::from_file(&self.file) {
            Ok(policy) => {
                tracing::info!(file = %self.file.display(), rules = policy.rules(), "policy reloaded");
                self.install(policy);
                true
            }
            Err(error) => {
                tracing::error!(file = %self.file.display(), "the policy file is broken; the previous policy keeps serving: {error}");
                self.status.lock().expect("policy status lock").error = Some(error.to_string());
                if let Some(metrics) = &self.metrics {
                    metrics.record_policy_reload(None);
                }
                false
            }
        }
    }

    fn install(&self, policy: Policy) {
        let rules = policy.rules();
        self.current.store(Arc::new(Some(Arc::new(policy))));
        let mut status = self.status.lock().expect("policy status lock");
        status.rules = rules;
        status.loaded_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        status.error = None;
        if let Some(metrics) = &self.metrics {
            metrics.record_policy_reload(Some(rules));
        }
    }

    /// Looks at the file's metadata every `interval` and reloads it once a change has held
    /// for one interval (so a file being written is not read half-way), until `shutdown`.
    /// Metadata follows symlinks, so a flipped Kubernetes ConfigMap counts. `installed` is
    /// called after each reload that put a new policy in force (the tools each caller may list
    /// can have changed), never after a broken edit.
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        shutdown: CancellationToken,
        installed: impl Fn() + Send + 'static,
    ) {
        let mut seen = self.loaded;
        let mut pending = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let now = stamp(&self.file);
            if now == seen {
                pending = None;
            } else if pending.as_ref() == Some(&now) {
                seen = now;
                pending = None;
                if self.reload() {
                    installed();
                }
            } else {
                pending = Some(now);
            }
        }
    }
}

/// What tells one version of a file from the next.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(file: &Path) -> Stamp {
    let metadata = std::fs::metadata(file).ok()?;
    Some((metadata.modified().ok()?, metadata.len(), inode(&metadata)))
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}
