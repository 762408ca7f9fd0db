//! Rendering an [`Application`] as Argo CD's API serves it: metadata (with managed fields for
//! generated applications), spec, and a status whose history, operation state and resources
//! follow from what the builder was told.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::{Application, CREATED_AT, DAY, RECONCILED_AT};
use crate::fakes::argocd::history::{self, Deployment, LastSync};
use crate::fakes::argocd::managed::{self, Resource};
use crate::fakes::argocd::store::CONTROL_PLANE_NAMESPACE;
use crate::fakes::ids::{fake_hash, fake_sha, fake_uid};

impl Application {
    /// The Application as Argo CD's API serves it.
    pub fn to_json(&self) -> Value {
        let source = self.source();
        let mut status = json!({
            "sync": {"status": self.sync, "revision": self.revision, "comparedTo": self.compared_to(&source)},
            "health": self.health_json(),
            "summary": self.summary(),
            "history": self.history(&source),
            "resources": self.resources(),
            "reconciledAt": RECONCILED_AT,
            "observedAt": RECONCILED_AT,
            "sourceType": self.source_type(),
            "controllerNamespace": CONTROL_PLANE_NAMESPACE,
        });
        if !self.conditions.is_empty() {
            let conditions: Vec<Value> = self
                .conditions
                .iter()
                .map(|(kind, message)| json!({"type": kind, "message": message, "lastTransitionTime": RECONCILED_AT}))
                .collect();
            status["conditions"] = json!(conditions);
        }
        if let Some(failure) = &self.last_sync {
            let resources = status["resources"].as_array().map(Vec::as_slice);
            status["operationState"] =
                self.operation_state(&source, resources.unwrap_or_default(), failure.as_deref());
        }
        json!({"metadata": self.metadata(), "spec": self.spec(source), "status": status})
    }

    fn spec(&self, source: Value) -> Value {
        let mut spec = json!({
            "project": self.project, "source": source,
            "destination": self.destination_json(), "syncPolicy": self.sync_policy(),
        });
        if !self.info.is_empty() {
            let info: Vec<Value> = self
                .info
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            spec["info"] = json!(info);
        }
        if !self.ignored.is_empty() {
            spec["ignoreDifferences"] = self.ignore_differences();
        }
        spec
    }

    fn compared_to(&self, source: &Value) -> Value {
        let mut compared =
            json!({"source": source.clone(), "destination": self.destination_json()});
        if !self.ignored.is_empty() {
            compared["ignoreDifferences"] = self.ignore_differences();
        }
        compared
    }

    fn ignore_differences(&self) -> Value {
        self.ignored
            .iter()
            .map(|(group, kind, pointer)| json!({"group": group, "kind": kind, "jsonPointers": [pointer]}))
            .collect()
    }

    fn summary(&self) -> Value {
        let mut summary = json!({"images": self.images});
        if !self.external_urls.is_empty() {
            summary["externalURLs"] = json!(self.external_urls);
        }
        summary
    }

    /// The deployments, oldest first: the current revision last, the one before it finished
    /// two days earlier, older ones about a day apart.
    fn history(&self, source: &Value) -> Value {
        let count = self.deployments;
        (1..=count)
            .map(|id| {
                let steps = count - id;
                let revision = self.earlier_revision(steps);
                let initiated_by = match steps {
                    0 if self.automated => json!({"automated": true}),
                    0 => json!({"username": "admin"}),
                    steps => history::initiator(self.automated, steps),
                };
                Deployment {
                    id,
                    revision: &revision,
                    source,
                    age: self.age(steps),
                    initiated_by,
                }
                .to_json()
            })
            .collect()
    }

    /// The revision deployed `steps` deployments ago.
    fn earlier_revision(&self, steps: usize) -> String {
        match (steps, &self.chart) {
            (0, _) => self.revision.clone(),
            (1, Some(_)) => format!("{}-previous", self.revision),
            (1, None) => fake_sha(&format!("{}-previous", self.name)),
            (steps, Some(_)) => format!("{}-previous-{steps}", self.revision),
            (steps, None) => fake_sha(&format!("{steps}:{}-previous", self.name)),
        }
    }

    /// Seconds since the deployment `steps` ago finished.
    fn age(&self, steps: usize) -> u64 {
        let jitter = |step: usize| fake_hash(&format!("{}#{step}", self.name)) % (DAY / 4);
        match steps {
            0 => 0,
            steps => {
                history::previous_age() + (2..=steps).map(|step| DAY + jitter(step)).sum::<u64>()
            }
        }
    }

    fn operation_state(&self, source: &Value, resources: &[Value], failure: Option<&str>) -> Value {
        let sync_options = json!(self.sync_options);
        LastSync {
            revision: &self.revision,
            source,
            sync_options: &sync_options,
            automated: self.automated,
            retry: &self.retry_json(),
            resources,
            images: &self.images,
            age: if failure.is_some() { 600 } else { 0 },
            failure,
        }
        .to_json()
    }

    fn metadata(&self) -> Value {
        let key = format!("{}/{}", self.namespace, self.name);
        let mut metadata = json!({
            "name": self.name,
            "namespace": self.namespace,
            "uid": fake_uid(&key),
            "resourceVersion": (fake_hash(&key) % 900_000 + 100_000).to_string(),
            "generation": fake_hash(&self.name) % 40 + 2,
            "creationTimestamp": CREATED_AT,
        });
        if !self.labels.is_empty() {
            metadata["labels"] = json!(self.labels);
        }
        if !self.annotations.is_empty() {
            metadata["annotations"] = json!(self.annotations);
        }
        if !self.finalizers.is_empty() {
            metadata["finalizers"] = json!(self.finalizers);
        }
        if self.managed_fields {
            metadata["managedFields"] = MANAGED_FIELDS.clone();
        }
        metadata
    }

    fn source(&self) -> Value {
        let mut source = Map::new();
        source.insert("repoURL".into(), json!(self.repo_url));
        match &self.chart {
            Some(chart) => source.insert("chart".into(), json!(chart)),
            None => source.insert("path".into(), json!(self.path)),
        };
        source.insert("targetRevision".into(), json!(self.target_revision));
        if !self.kustomize_images.is_empty() {
            source.insert("kustomize".into(), json!({"images": self.kustomize_images}));
        }
        if !self.helm_value_files.is_empty() || !self.helm_parameters.is_empty() {
            source.insert("helm".into(), self.helm_json());
        }
        Value::Object(source)
    }

    fn helm_json(&self) -> Value {
        let parameters: Vec<Value> = self
            .helm_parameters
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let mut helm = json!({"releaseName": self.name});
        if !self.helm_value_files.is_empty() {
            helm["valueFiles"] = json!(self.helm_value_files);
        }
        if !parameters.is_empty() {
            helm["parameters"] = json!(parameters);
        }
        helm
    }

    fn destination_json(&self) -> Value {
        json!({"server": self.dest_server, "namespace": self.dest_namespace})
    }

    fn sync_policy(&self) -> Value {
        let mut policy = json!({"syncOptions": self.sync_options});
        if self.automated {
            policy["automated"] = json!({"prune": true, "selfHeal": true});
        }
        if self.retry_limit.is_some() {
            policy["retry"] = self.retry_json();
        }
        policy
    }

    fn retry_json(&self) -> Value {
        match self.retry_limit {
            Some(limit) => json!({"limit": limit,
                                  "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}),
            None => Value::Null,
        }
    }

    fn health_json(&self) -> Value {
        let mut health = json!({"status": self.health, "lastTransitionTime": RECONCILED_AT});
        if let Some(message) = &self.health_message {
            health["message"] = json!(message);
        }
        health
    }

    fn source_type(&self) -> &'static str {
        let helm = self.chart.is_some() || !self.helm_value_files.is_empty();
        let kustomize = self.path.contains("overlays") || !self.kustomize_images.is_empty();
        match (helm, kustomize) {
            (true, _) => "Helm",
            (false, true) => "Kustomize",
            (false, false) => "Directory",
        }
    }

    /// The managed objects: the Deployment carries the app's sync and health; a Missing
    /// application has none of its objects and all of them OutOfSync.
    fn resources(&self) -> Value {
        let missing = self.health == "Missing";
        self.resources
            .iter()
            .map(|&resource| {
                let (sync, health) = match resource {
                    _ if missing => ("OutOfSync", "Missing"),
                    Resource::Deployment => (self.sync.as_str(), self.health.as_str()),
                    _ => ("Synced", "Healthy"),
                };
                managed::status_entry(resource, &self.name, &self.dest_namespace, sync, health)
            })
            .collect()
    }
}

/// Who wrote which fields of a generated Application (`fieldsV1` as the API server records it).
static MANAGED_FIELDS: LazyLock<Value> = LazyLock::new(managed_fields);

fn managed_fields() -> Value {
    let leaf = json!({});
    let object = |fields: &[&str]| -> Value {
        let mut map = Map::new();
        map.insert(".".into(), leaf.clone());
        for field in fields {
            map.insert(format!("f:{field}"), leaf.clone());
        }
        Value::Object(map)
    };
    let spec = json!({
        "f:metadata": {"f:annotations": object(&[]), "f:finalizers": object(&[]), "f:labels": object(&[])},
        "f:spec": {".": {}, "f:destination": object(&["namespace", "server"]), "f:project": {},
                   "f:source": object(&["helm", "kustomize", "path", "repoURL", "targetRevision"]),
                   "f:syncPolicy": object(&["automated", "retry", "syncOptions"])},
    });
    let status = json!({
        "f:status": {".": {}, "f:controllerNamespace": {}, "f:health": object(&["lastTransitionTime", "status"]),
                     "f:history": {}, "f:observedAt": {}, "f:operationState": object(&["finishedAt", "message", "operation", "phase", "startedAt", "syncResult"]),
                     "f:reconciledAt": {}, "f:resources": {}, "f:sourceType": {},
                     "f:summary": object(&["externalURLs", "images"]),
                     "f:sync": object(&["comparedTo", "revision", "status"])},
    });
    json!([
        {"manager": "argocd-server", "operation": "Update", "apiVersion": "argoproj.io/v1alpha1",
         "time": CREATED_AT, "fieldsType": "FieldsV1", "fieldsV1": spec},
        {"manager": "argocd-application-controller", "operation": "Update", "apiVersion": "argoproj.io/v1alpha1",
         "time": RECONCILED_AT, "fieldsType": "FieldsV1", "fieldsV1": status},
    ])
}
