//! The part of an Application list that rows and filters read. Deserializing only these
//! fields keeps `list_applications` over thousands of applications small in memory and fast:
//! everything else in Argo CD's answer (resources, history, conditions) is skipped while
//! parsing.

use capstan_sdk::{ToolError, Value};
use serde::{Deserialize, Serialize};

use crate::client::{Client, Query};

/// `GET /api/v1/applications`, keeping only what rows need.
pub(crate) fn fetch(
    client: &Client,
    query: &Query,
    not_found: &str,
) -> Result<Vec<Value>, ToolError> {
    let list: List = client.get_as("/api/v1/applications", query, not_found)?;
    Ok(list
        .items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| serde_json::to_value(item).ok())
        .collect())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct List {
    /// `null` when Argo CD has no applications.
    items: Option<Vec<Lite>>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct Lite {
    metadata: Metadata,
    spec: Spec,
    status: Status,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Spec {
    project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Source>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<Source>,
    destination: Destination,
    sync_policy: SyncPolicy,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Source {
    #[serde(rename = "repoURL", skip_serializing_if = "Option::is_none")]
    repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_revision: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct Destination {
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct SyncPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    automated: Option<Value>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Status {
    sync: Condition,
    health: Condition,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_state: Option<Operation>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct Condition {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
struct Operation {
    phase: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sdk::json;

    #[test]
    fn the_lite_view_gives_the_same_rows_as_the_full_object() {
        let full = json!({
            "metadata": {"name": "web", "namespace": "argocd", "labels": {"a": "b"}, "managedFields": [{"x": 1}]},
            "spec": {"project": "shop", "source": {"repoURL": "https://git/x.git", "path": "apps/web", "targetRevision": "main",
                                                   "helm": {"valuesObject": {"big": "values"}}},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                     "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["A=b"]}},
            "status": {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "message": "ok"}, "resources": [{"kind": "Pod"}]},
        });
        let lite: Lite = serde_json::from_value(full.clone()).unwrap();
        let lite = serde_json::to_value(lite).unwrap();
        assert_eq!(crate::summary::row(&lite), crate::summary::row(&full));
        assert!(lite["status"].get("resources").is_none());
        let empty: List = serde_json::from_str(r#"{"metadata": {}, "items": null}"#).unwrap();
        assert!(empty.items.is_none());
    }
}
