//! Reading an Application list without holding it as one big `Value`. Rows need a few fields:
//! deserializing only those keeps `list_applications` over thousands of applications small in
//! memory and fast, as everything else in Argo CD's answer (resources, history, conditions) is
//! skipped while parsing. Full objects (`detail`) are parsed one at a time and handed to the
//! caller, which keeps only the page it answers.

use std::fmt;

use capstan_sdk::{ToolError, Value};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::client::{Client, Query};

/// `GET /api/v1/applications`, keeping only what rows need.
pub(crate) fn fetch(
    client: &Client,
    query: &Query,
    not_found: &str,
) -> Result<Vec<Value>, ToolError> {
    let list: List = client.get_as("/api/v1/applications", query, not_found)?;
    Ok(list.into_values())
}

/// The applications of an `ApplicationList` answer, keeping only what rows need.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    serde_json::from_slice::<List>(body).map(List::into_values)
}

/// `GET /api/v1/applications`, calling `each` with every full Application in order.
pub(crate) fn for_each(
    client: &Client,
    query: &Query,
    not_found: &str,
    each: impl FnMut(Value),
) -> Result<(), ToolError> {
    client.get_with("/api/v1/applications", query, not_found, Items(each))
}

/// An `ApplicationList` whose `items` go one by one to the closure.
struct Items<F>(F);

impl<'de, F: FnMut(Value)> DeserializeSeed<'de> for Items<F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(Value)> Visitor<'de> for Items<F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an Application list")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Elements(&mut self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` array (`null` when Argo CD has no applications).
struct Elements<'a, F>(&'a mut F);

impl<'de, F: FnMut(Value)> DeserializeSeed<'de> for Elements<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, F: FnMut(Value)> Visitor<'de> for Elements<'_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of Applications or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            (self.0)(item);
        }
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct List {
    /// `null` when Argo CD has no applications.
    items: Option<Vec<Lite>>,
}

impl List {
    fn into_values(self) -> Vec<Value> {
        self.items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| serde_json::to_value(item).ok())
            .collect()
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    controller_namespace: Option<String>,
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
        assert_eq!(
            crate::summary::wide_row(&lite),
            crate::summary::wide_row(&full)
        );
        let mut elsewhere = full.clone();
        elsewhere["status"]["controllerNamespace"] = json!("gitops");
        let lite: Lite = serde_json::from_value(elsewhere.clone()).unwrap();
        let lite = serde_json::to_value(lite).unwrap();
        assert_eq!(crate::summary::row(&lite)["namespace"], "argocd");
        assert_eq!(crate::summary::row(&lite), crate::summary::row(&elsewhere));
        assert!(lite["status"].get("resources").is_none());
        let empty: List = serde_json::from_str(r#"{"metadata": {}, "items": null}"#).unwrap();
        assert!(empty.items.is_none());
    }

    #[test]
    fn full_items_arrive_one_at_a_time() {
        let mut names = Vec::new();
        let mut each =
            |app: Value| names.push(app["metadata"]["name"].as_str().unwrap().to_owned());
        let text = r#"{"metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#;
        Items(&mut each)
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .unwrap();
        let empty = r#"{"metadata": {}, "items": null}"#;
        Items(&mut each)
            .deserialize(&mut serde_json::Deserializer::from_str(empty))
            .unwrap();
        assert_eq!(names, ["a", "b"]);
    }
}
