//! The `/readyz` report: not ready until the first load finished; then the serving instances and
//! the manifests that failed (with whether their previous version still serves), as of the last
//! reload.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::Snapshot;

/// Whether the initial plugin load has finished, for `/readyz`.
pub trait Readiness: Send + Sync + 'static {
    /// `None` until the first load finished; then the readiness report.
    fn report(&self) -> Option<Value>;
}

/// What the last (re)load left serving, for `/readyz`.
#[derive(Default)]
pub struct LoadStatus {
    report: Mutex<Option<Value>>,
}

impl LoadStatus {
    /// Records the snapshot a (re)load produced; `reloads` counts the loads so far that changed
    /// something, the first included.
    pub fn record(&self, snapshot: &Snapshot, reloads: u64) {
        let instances: Vec<Value> = snapshot
            .instances()
            .iter()
            .map(|instance| {
                json!({
                    "name": instance.name(),
                    "tools": instance.tools().len(),
                    "prompts": instance.prompts().len(),
                    "sha256": instance.component().sha256(),
                })
            })
            .collect();
        let failures: Vec<Value> = snapshot
            .failures()
            .iter()
            .map(|failure| {
                json!({
                    "manifest": failure.manifest.display().to_string(),
                    "error": failure.error.to_string(),
                    "serving_previous": failure.serving_previous,
                })
            })
            .collect();
        let report = json!({
            "ready": true,
            "instances": instances,
            "failures": failures,
            "reloads": reloads,
        });
        *self.report.lock().expect("readiness lock") = Some(report);
    }
}

impl Readiness for LoadStatus {
    fn report(&self) -> Option<Value> {
        self.report.lock().expect("readiness lock").clone()
    }
}
