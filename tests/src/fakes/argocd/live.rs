//! The live Kubernetes objects behind an application, derived from its current state: the
//! objects its `status.resources` declares (a plain application's Deployment, Service and
//! ConfigMap when it declares none) and what their controllers create: the Deployment's
//! current ReplicaSet with a Pod per replica and up to two older ReplicaSets scaled to zero, a
//! Service's Endpoints and EndpointSlice, a CronJob's last two Jobs with their completed Pods,
//! the Secret an ExternalSecret writes. Their health, and the symptoms of a Degraded
//! application (crash loops, image pulls, OOM kills, failing probes, quota refusals,
//! configuration for another environment), follow the application's status and its
//! [`Cause`], so trees, events and logs stay consistent with what Get serves.

use serde_json::Value;

use super::app::Cause;
use super::managed::{self, Resource};
use super::store::AppRecord;
use crate::fakes::ids::{fake_hash, fake_uid};

/// The node the fake schedules every pod on.
pub(crate) const NODE: &str = "node-pool-a-7f3c";
/// Older ReplicaSets a Deployment keeps in the tree at most.
const OLD_REPLICA_SETS: usize = 2;
/// Jobs a CronJob keeps.
const JOBS: usize = 2;

/// One live object.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Index of the owner in the object list.
    pub parent: Option<usize>,
    pub health: Option<(String, Option<String>)>,
    pub images: Vec<String>,
    /// Pod phase summary shown in the tree's `info`, e.g. `CrashLoopBackOff`.
    pub status: Option<String>,
    /// Managed directly by the application (not created by a controller).
    pub managed: bool,
    /// An older ReplicaSet, scaled to zero.
    pub stale: bool,
    /// The tree's `info` entries other than a pod's status.
    pub info: Vec<(&'static str, String)>,
}

impl Object {
    fn new(kind: &'static str, group: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            group,
            version: "v1",
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: fake_uid(&format!("{kind}/{namespace}/{name}")),
            parent: None,
            health: None,
            images: Vec::new(),
            status: None,
            managed: false,
            stale: false,
            info: Vec::new(),
        }
    }

    fn declared(resource: Resource, namespace: &str, name: &str) -> Self {
        let (group, version, kind, _) = resource.parts();
        let mut object = Self::new(kind, group, namespace, name);
        object.version = version;
        object.managed = true;
        if resource.has_health() {
            object.health = Some(("Healthy".into(), None));
        }
        object
    }

    fn child(mut self, parent: usize) -> Self {
        self.parent = Some(parent);
        self
    }

    /// `apps/v1` or `v1`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether this object matches the filters given (empty filters match anything).
    pub(crate) fn matches(&self, kind: &str, name: &str, namespace: &str, group: &str) -> bool {
        (kind.is_empty() || self.kind == kind)
            && (name.is_empty() || self.name == name)
            && (namespace.is_empty() || self.namespace == namespace)
            && (group.is_empty() || self.group == group)
    }

    /// The kind of this object's owner, if it has one.
    pub(crate) fn owner_kind<'a>(&self, objects: &'a [Object]) -> Option<&'a str> {
        self.parent.map(|index| objects[index].kind)
    }
}

/// The state an application's workload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Healthy,
    Progressing,
    Suspended,
    Failing(Cause),
    Missing,
}

impl Workload {
    pub(crate) fn of(record: &AppRecord) -> Self {
        match record.app["status"]["health"]["status"].as_str() {
            Some("Degraded") => Workload::Failing(record.cause),
            Some("Progressing") => Workload::Progressing,
            Some("Suspended") => Workload::Suspended,
            Some("Missing") => Workload::Missing,
            _ => Workload::Healthy,
        }
    }
}

/// The application's live objects (none while it is Missing), each declared object followed
/// by what its controller created.
pub(crate) fn objects(record: &AppRecord) -> Vec<Object> {
    if Workload::of(record) == Workload::Missing {
        return Vec::new();
    }
    let mut objects = Vec::new();
    for (resource, namespace, name) in declared(record) {
        let index = objects.len();
        objects.push(Object::declared(resource, &namespace, &name));
        match resource {
            Resource::Deployment => deployment(record, &mut objects, index),
            Resource::Service => service(&mut objects, index),
            Resource::CronJob => cron_job(record, &mut objects, index),
            Resource::ExternalSecret => {
                let secret = Object::new("Secret", "", &namespace, &name).child(index);
                objects.push(secret);
            }
            _ => {}
        }
    }
    objects
}

/// The declared objects: (catalogue entry, namespace, name). Kinds the fake does not
/// simulate are left out.
fn declared(record: &AppRecord) -> Vec<(Resource, String, String)> {
    let app = &record.app;
    let namespace = app["spec"]["destination"]["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(record.name())
        .to_owned();
    let entries = managed::entries(app);
    if entries.is_empty() {
        return Resource::BASIC
            .into_iter()
            .map(|resource| (resource, namespace.clone(), resource.name(record.name())))
            .collect();
    }
    entries
        .iter()
        .filter_map(|entry| {
            let text = |key: &str| entry[key].as_str().unwrap_or_default();
            let resource = Resource::find(text("group"), text("kind"))?;
            let object_namespace = Some(text("namespace"))
                .filter(|ns| !ns.is_empty())
                .unwrap_or(&namespace);
            Some((
                resource,
                object_namespace.to_owned(),
                text("name").to_owned(),
            ))
        })
        .collect()
}

/// The Deployment's health, its current ReplicaSet and pods, and older ReplicaSets.
fn deployment(record: &AppRecord, objects: &mut Vec<Object>, index: usize) {
    let workload = Workload::of(record);
    let images = images(&record.app);
    let (namespace, name) = (
        objects[index].namespace.clone(),
        objects[index].name.clone(),
    );
    let deployment = &mut objects[index];
    deployment.images = images.clone();
    deployment.health = Some(deployment_health(workload, record.replicas));
    let revisions = revisions(&record.app);
    let current = replica_set(&namespace, &name, revisions.first().copied(), index);
    let hash = current.name[name.len() + 1..].to_owned();
    let mut current = current;
    current.images = images.clone();
    current.health = Some(deployment_health(workload, record.replicas));
    current.info = vec![("Revision", format!("Rev:{}", history_length(&record.app)))];
    let current_index = objects.len();
    objects.push(current);
    if workload != Workload::Failing(Cause::Quota) {
        for suffix in pod_suffixes(&name, record.replicas) {
            let pod_name = format!("{name}-{hash}-{suffix}");
            let mut pod = Object::new("Pod", "", &namespace, &pod_name).child(current_index);
            pod.images = images.clone();
            let (health, status) = pod_state(workload);
            pod.health = Some(health);
            pod.status = Some(status);
            objects.push(pod);
        }
    }
    let length = history_length(&record.app);
    for (step, revision) in revisions.iter().enumerate().skip(1) {
        let mut old = replica_set(&namespace, &name, Some(revision), index);
        old.images = images.clone();
        old.health = Some(("Healthy".into(), None));
        old.stale = true;
        old.info = vec![("Revision", format!("Rev:{}", length.saturating_sub(step)))];
        objects.push(old);
    }
}

fn replica_set(namespace: &str, name: &str, revision: Option<&str>, parent: usize) -> Object {
    let hash = format!(
        "{:010x}",
        fake_hash(&format!("{name}{}", revision.unwrap_or_default())) % 0xff_ffff_ffff
    );
    let rs_name = format!("{name}-{}", &hash[..10]);
    Object::new("ReplicaSet", "apps", namespace, &rs_name).child(parent)
}

/// The revision deployed now, then up to two earlier distinct ones, newest first.
fn revisions(app: &Value) -> Vec<&str> {
    let mut revisions = vec![revision(app)];
    let history = app["status"]["history"].as_array();
    for entry in history.into_iter().flatten().rev() {
        let earlier = entry["revision"].as_str().unwrap_or_default();
        if revisions.len() > OLD_REPLICA_SETS {
            break;
        }
        if !earlier.is_empty() && !revisions.contains(&earlier) {
            revisions.push(earlier);
        }
    }
    revisions
}

fn history_length(app: &Value) -> usize {
    app["status"]["history"].as_array().map_or(1, Vec::len)
}

/// A Service's Endpoints and EndpointSlice.
fn service(objects: &mut Vec<Object>, index: usize) {
    let (namespace, name) = (
        objects[index].namespace.clone(),
        objects[index].name.clone(),
    );
    let endpoints = Object::new("Endpoints", "", &namespace, &name).child(index);
    let slice_name = format!("{name}-{}", letters(&name, 0));
    let mut slice = Object::new("EndpointSlice", "discovery.k8s.io", &namespace, &slice_name);
    slice.parent = Some(index);
    objects.extend([endpoints, slice]);
}

/// A CronJob's last Jobs, each with its completed Pod.
fn cron_job(record: &AppRecord, objects: &mut Vec<Object>, index: usize) {
    let (namespace, name) = (
        objects[index].namespace.clone(),
        objects[index].name.clone(),
    );
    let images = images(&record.app);
    objects[index].images = images.clone();
    // Jobs are named after their schedule time in minutes since the epoch (daily at 03:00).
    let today = 29_787_000;
    for day in 0..JOBS {
        let job_name = format!("{name}-{}", today - 1440 * day);
        let mut job = Object::new("Job", "batch", &namespace, &job_name).child(index);
        job.health = Some(("Healthy".into(), Some("job completed".into())));
        let job_index = objects.len();
        objects.push(job);
        let pod_name = format!("{job_name}-{}", letters(&job_name, 0));
        let mut pod = Object::new("Pod", "", &namespace, &pod_name).child(job_index);
        pod.images = images.clone();
        pod.health = Some(("Healthy".into(), None));
        pod.status = Some("Completed".into());
        objects.push(pod);
    }
}

fn images(app: &Value) -> Vec<String> {
    let images: Vec<String> = app["status"]["summary"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| image.as_str().map(str::to_owned))
        .collect();
    if images.is_empty() {
        vec![format!(
            "ghcr.io/example-org/{}:latest",
            app["metadata"]["name"].as_str().unwrap_or("app")
        )]
    } else {
        images
    }
}

pub(crate) fn revision(app: &Value) -> &str {
    app["status"]["sync"]["revision"]
        .as_str()
        .unwrap_or_default()
}

/// Five letters from a hash of `seed`, from `offset` (0 or 5).
fn letters(seed: &str, offset: usize) -> String {
    let hash = format!("{:010x}", fake_hash(seed));
    hash[offset..offset + 5]
        .chars()
        .map(|c| match c {
            '0'..='9' => (b'b' + c as u8 - b'0') as char,
            other => other,
        })
        .collect()
}

fn pod_suffixes(name: &str, count: u32) -> Vec<String> {
    (0..count as usize)
        .map(|pod| match pod {
            0 | 1 => letters(name, pod * 5),
            pod => letters(&format!("{name}#{pod}"), 0),
        })
        .collect()
}

fn deployment_health(workload: Workload, replicas: u32) -> (String, Option<String>) {
    match workload {
        Workload::Healthy | Workload::Missing => ("Healthy".into(), None),
        Workload::Progressing => (
            "Progressing".into(),
            Some(format!(
                "Waiting for rollout to finish: {} of {replicas} updated replicas are available...",
                replicas - 1
            )),
        ),
        Workload::Suspended => ("Suspended".into(), Some("Deployment is paused".into())),
        Workload::Failing(_) => (
            "Degraded".into(),
            Some("Deployment has exceeded its progress deadline".into()),
        ),
    }
}

/// The pods' health and the status column `kubectl get pods` would show.
fn pod_state(workload: Workload) -> ((String, Option<String>), String) {
    let failing = |status: &str, message: &str| {
        (
            ("Degraded".to_owned(), Some(message.to_owned())),
            status.to_owned(),
        )
    };
    match workload {
        Workload::Healthy | Workload::Suspended | Workload::Missing => {
            (("Healthy".into(), None), "Running".into())
        }
        Workload::Progressing => (("Progressing".into(), None), "ContainerCreating".into()),
        Workload::Failing(Cause::CrashLoop | Cause::WrongEnvironment) => failing(
            "CrashLoopBackOff",
            "back-off 5m0s restarting failed container=app",
        ),
        Workload::Failing(Cause::ImagePull) => {
            failing("ImagePullBackOff", "Back-off pulling image")
        }
        Workload::Failing(Cause::OomKilled) => failing(
            "OOMKilled",
            "containers with unready status: [app]; last state: terminated (OOMKilled, exit code 137)",
        ),
        Workload::Failing(Cause::ProbeFailed) => (
            (
                "Progressing".into(),
                Some("containers with unready status: [app]".into()),
            ),
            "Running".into(),
        ),
        Workload::Failing(Cause::Quota) => (("Missing".into(), None), "Pending".into()),
    }
}
