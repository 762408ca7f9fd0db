//! Reading an Application list as it arrives, one application at a time, without ever holding
//! the list: Argo CD's answer for ten thousand applications runs past 100 MB, while a tool's
//! answer needs a page of rows and some counts. The body streams from the host into a `serde`
//! visitor over `{"items": [...]}` that parses each element into a `T` and hands it to the
//! caller, which keeps what its answer needs and drops the rest. With `T` = [`Lite`] only the
//! fields rows, filters and counts use are parsed (everything else in an Application —
//! resources, history, conditions, managed fields — is skipped while parsing); with `T` =
//! `Value` each full object is parsed, for answers with `detail`.
//!
//! The request is a streamed one ([`Context::send_streamed`](capstan_sdk::Context)), so the
//! host holds the body to the target's `max_streamed` rather than its `max_response`.

use std::fmt;
use std::marker::PhantomData;

use capstan_sdk::http::{BodyError, StreamedResponse};
use capstan_sdk::{ToolError, Value};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::client::{Client, Query};

/// The path of ApplicationService List.
const APPLICATIONS: &str = "/api/v1/applications";

/// `GET /api/v1/applications`, handing each application to `each` as a `T`, in Argo CD's
/// order, as the answer arrives.
pub(crate) fn for_each<T: DeserializeOwned>(
    client: &Client,
    query: &Query,
    not_found: &str,
    each: impl FnMut(T),
) -> Result<(), ToolError> {
    client.get_streamed(APPLICATIONS, query, not_found, Items::new(each))
}

/// Reads a streamed `ApplicationList` answer, handing each application to `each` as a `T`.
pub(crate) fn read<T: DeserializeOwned>(
    response: StreamedResponse,
    each: impl FnMut(T),
) -> Result<(), BodyError> {
    response.json_with(Items::new(each))
}

/// An `ApplicationList` whose `items` go one by one to the closure; its other fields
/// (`metadata`) are skipped.
struct Items<T, F> {
    each: F,
    item: PhantomData<fn() -> T>,
}

impl<T, F> Items<T, F> {
    fn new(each: F) -> Self {
        Self {
            each,
            item: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(T)> DeserializeSeed<'de> for Items<T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(T)> Visitor<'de> for Items<T, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an Application list (an object with `items`)")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Elements::<T, F>(&mut self.each, PhantomData))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` array (`null` when Argo CD has no applications).
struct Elements<'a, T, F>(&'a mut F, PhantomData<fn() -> T>);

impl<'de, T: DeserializeOwned, F: FnMut(T)> DeserializeSeed<'de> for Elements<'_, T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(T)> Visitor<'de> for Elements<'_, T, F> {
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
        while let Some(item) = seq.next_element::<T>()? {
            (self.0)(item);
        }
        Ok(())
    }
}

/// What rows, filters and counts read of an Application: name and namespace, project, source,
/// destination, automated sync, sync and health status, the last operation's phase. It
/// serializes back to the same shape (only these fields), which the row and filter functions
/// read as they read a full Application.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub(crate) struct Lite {
    metadata: Metadata,
    spec: Spec,
    status: Status,
}

impl From<Lite> for Value {
    /// The application as a (small) JSON object.
    fn from(lite: Lite) -> Value {
        serde_json::to_value(lite).unwrap_or_default()
    }
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
    }

    #[test]
    fn full_items_arrive_one_at_a_time() {
        let mut names = Vec::new();
        let mut each =
            |app: Value| names.push(app["metadata"]["name"].as_str().unwrap().to_owned());
        let text = r#"{"metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#;
        Items::new(&mut each)
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .unwrap();
        for empty in [r#"{"metadata": {}, "items": null}"#, r#"{"metadata": {}}"#] {
            Items::new(&mut each)
                .deserialize(&mut serde_json::Deserializer::from_str(empty))
                .unwrap();
        }
        assert_eq!(names, ["a", "b"]);
        let mut lites = 0;
        Items::new(|_: Lite| lites += 1)
            .deserialize(&mut serde_json::Deserializer::from_str(text))
            .unwrap();
        assert_eq!(lites, 2);
    }
}
