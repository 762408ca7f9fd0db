//! Reading an Application list as it arrives, one application at a time, without ever holding
//! the list: Argo CD's answer for ten thousand applications runs past 100 MB, while a tool's
//! answer needs a page of rows and some counts. The SDK finds each element of the answer's
//! `items` in the stream ([`StreamedResponse::for_each_item`]) and this module parses it on its
//! own: as a [`Lite`] (only the fields rows, filters and counts use, strings borrowed from the
//! body; everything else in an Application — resources, history, conditions, managed fields —
//! is skipped while parsing), or as a `Value` for answers with `detail`. The caller keeps what
//! its answer needs and the element is dropped.
//!
//! The request is a streamed one ([`Context::send_streamed`](capstan_sdk::Context)), so the
//! host holds the body to the target's `max_streamed` rather than its `max_response`.

use capstan_sdk::http::{BodyError, ListNames, StreamedResponse};
use capstan_sdk::{ToolError, Value};
use serde::Deserialize;

use crate::client::{Client, Query};
use crate::lenient::{First, Flag, Name, Obj, Text};

/// The path of ApplicationService List.
const APPLICATIONS: &str = "/api/v1/applications";

/// `GET /api/v1/applications`, handing each application to `each` as a [`Lite`], in Argo CD's
/// order, as the answer arrives.
pub(crate) fn for_each(
    client: &Client,
    query: &Query,
    not_found: &str,
    mut each: impl FnMut(&Lite<'_>),
) -> Result<(), ToolError> {
    client.get_items(APPLICATIONS, query, not_found, NAMES, |item| {
        each(&serde_json::from_slice(item)?);
        Ok(())
    })
}

/// `GET /api/v1/applications`, handing each application to `each` as a full object.
pub(crate) fn for_each_full(
    client: &Client,
    query: &Query,
    not_found: &str,
    mut each: impl FnMut(Value),
) -> Result<(), ToolError> {
    client.get_items(APPLICATIONS, query, not_found, NAMES, |item| {
        each(serde_json::from_slice(item)?);
        Ok(())
    })
}

/// How errors name an Application list and its items.
const NAMES: ListNames = ListNames {
    list: "an Application list (an object with `items`)",
    items: "an array of Applications or null",
};

/// The row view of a full Application object ([`Lite::of`]).
pub(crate) fn view(app: &Value) -> Lite<'_> {
    Lite::of(app)
}

/// What rows read of an Application's status.
pub(crate) trait RowStatus<'a> {
    fn sync(&self) -> &Condition<'a>;
    fn health(&self) -> &Condition<'a>;
    /// The last operation's phase.
    fn phase(&self) -> &Text<'a>;
    fn controller_namespace(&self) -> &Text<'a>;
}

impl<'a> RowStatus<'a> for Status<'a> {
    fn sync(&self) -> &Condition<'a> {
        &self.sync
    }

    fn health(&self) -> &Condition<'a> {
        &self.health
    }

    fn phase(&self) -> &Text<'a> {
        &self.operation_state.phase
    }

    fn controller_namespace(&self) -> &Text<'a> {
        &self.controller_namespace
    }
}

/// Reads a streamed `ApplicationList` answer, handing each application to `each` as a
/// [`Lite`].
pub(crate) fn read(
    response: StreamedResponse,
    mut each: impl FnMut(&Lite<'_>),
) -> Result<(), BodyError> {
    response.for_each_item_of(NAMES, |item| {
        each(&serde_json::from_slice(item)?);
        Ok(())
    })
}

/// What rows, filters and counts read of an Application: name and namespace, project, source,
/// destination, automated sync, sync and health status, the last operation's phase. Its
/// strings borrow from the body; a field of another type than Argo CD's reads as absent, as
/// indexing the full object does ([`crate::lenient`]), but for the name, which must be a
/// string.
/// `S` is what is read of the status: [`Status`] for rows; more for `get_application`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Lite<'a, S = Status<'a>> {
    #[serde(borrow)]
    pub metadata: Obj<Metadata<'a>>,
    #[serde(borrow)]
    pub spec: Obj<Spec<'a>>,
    #[serde(bound(deserialize = "S: Deserialize<'de> + Default"))]
    pub status: Obj<S>,
}

impl<'a, S: Deserialize<'a> + Default> Lite<'a, S> {
    /// The view of a full Application object, which reads as the object does (a name that
    /// is not a string reads as empty).
    pub(crate) fn of(app: &'a Value) -> Self {
        Self::deserialize(app).unwrap_or_else(|_| Self::nameless(app))
    }

    /// The view of an object whose name is not a string (the only field a [`Lite`] refuses).
    fn nameless(app: &'a Value) -> Self {
        let namespace = &app["metadata"]["namespace"];
        Self {
            metadata: Obj::from(Metadata {
                name: Name::default(),
                namespace: Text::deserialize(namespace).unwrap_or_default(),
            }),
            spec: Obj::deserialize(&app["spec"]).unwrap_or_default(),
            status: Obj::deserialize(&app["status"]).unwrap_or_default(),
        }
    }
}

impl<'a, S> Lite<'a, S> {
    /// Whether automated sync is on: `syncPolicy.automated` is set and not `enabled: false`
    /// (as [`crate::autosync::active`] reads it).
    pub(crate) fn auto_sync(&self) -> bool {
        let automated = &self.spec.sync_policy.automated;
        automated.is_object() && !automated.enabled.is_false()
    }

    /// The source, or the first of `sources` for multi-source applications.
    pub(crate) fn source(&self) -> &Source<'a> {
        match &self.spec.source {
            Some(source) => source,
            None => &self.spec.sources,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Metadata<'a> {
    #[serde(borrow)]
    pub name: Name<'a>,
    #[serde(borrow)]
    pub namespace: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Spec<'a> {
    #[serde(borrow)]
    pub project: Text<'a>,
    /// `None` when missing or `null`.
    #[serde(borrow)]
    source: Option<Obj<Source<'a>>>,
    #[serde(borrow)]
    sources: First<Obj<Source<'a>>>,
    #[serde(borrow)]
    pub destination: Obj<Destination<'a>>,
    sync_policy: Obj<SyncPolicy>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Source<'a> {
    #[serde(rename = "repoURL", borrow)]
    pub repo_url: Text<'a>,
    #[serde(borrow)]
    pub path: Text<'a>,
    #[serde(borrow)]
    pub chart: Text<'a>,
    #[serde(borrow)]
    pub target_revision: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Destination<'a> {
    #[serde(borrow)]
    pub server: Text<'a>,
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub namespace: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SyncPolicy {
    automated: Obj<Automated>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Automated {
    enabled: Flag,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Status<'a> {
    #[serde(borrow)]
    pub sync: Obj<Condition<'a>>,
    #[serde(borrow)]
    pub health: Obj<Condition<'a>>,
    #[serde(borrow)]
    pub operation_state: Obj<Operation<'a>>,
    #[serde(borrow)]
    pub controller_namespace: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Condition<'a> {
    #[serde(borrow)]
    pub status: Text<'a>,
    #[serde(borrow)]
    pub revision: Text<'a>,
    #[serde(borrow)]
    pub message: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Operation<'a> {
    #[serde(borrow)]
    pub phase: Text<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sdk::http::Response;
    use capstan_sdk::json;

    fn full() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "argocd", "labels": {"a": "b"}, "managedFields": [{"x": 1}]},
            "spec": {"project": "shop", "source": {"repoURL": "https://git/x.git", "path": "apps/web", "targetRevision": "main",
                                                   "helm": {"valuesObject": {"big": "values"}}},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                     "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["A=b"]}},
            "status": {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "message": "ok"}, "resources": [{"kind": "Pod"}]},
        })
    }

    #[test]
    fn the_lite_view_parsed_from_text_gives_the_same_rows_as_the_full_object() {
        let mut elsewhere = full();
        elsewhere["status"]["controllerNamespace"] = json!("gitops");
        let mut odd = full();
        odd["spec"]["source"] = json!(null);
        odd["spec"]["sources"] = json!([{"repoURL": "https://git/y.git", "chart": "c"}]);
        odd["spec"]["syncPolicy"]["automated"] = json!({"enabled": false});
        odd["metadata"]["name"] = json!("we\"b");
        odd["status"]["health"] = json!("Healthy");
        for app in [full(), elsewhere, odd] {
            let text = app.to_string();
            let lite: Lite<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(crate::summary::lite_row(&lite), crate::summary::row(&app));
            assert_eq!(
                crate::summary::lite_wide_row(&lite),
                crate::summary::wide_row(&app)
            );
        }
    }

    #[test]
    fn items_arrive_one_at_a_time() {
        let text = r#"{"metadata": {"resourceVersion": "7"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#;
        let streamed = |body: &str| {
            let response = Response {
                status: 200,
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            };
            StreamedResponse::buffered("http://t/api/v1/applications", response)
        };
        let mut names = Vec::new();
        read(streamed(text), |app| {
            names.push(app.metadata.name.as_str().to_owned())
        })
        .unwrap();
        for empty in [r#"{"metadata": {}, "items": null}"#, r#"{"metadata": {}}"#] {
            read(streamed(empty), |_| panic!("no items")).unwrap();
        }
        assert_eq!(names, ["a", "b"]);
    }
}
