//! The Flux kinds this plugin reads, with their API versions (Flux 2.9) and where each keeps
//! the revision `flux get` shows.

use capstan_sdk::Value;

use capstan_sdk::kube::Resource;

/// A Flux kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    pub(crate) resource: Resource,
    revision: fn(&Value) -> Option<&str>,
}

pub(crate) const KINDS: [Kind; 4] = [
    Kind {
        resource: Resource {
            group: "kustomize.toolkit.fluxcd.io",
            version: "v1",
            plural: "kustomizations",
            kind: "Kustomization",
        },
        revision: |object| object["status"]["lastAppliedRevision"].as_str(),
    },
    Kind {
        resource: Resource {
            group: "helm.toolkit.fluxcd.io",
            version: "v2",
            plural: "helmreleases",
            kind: "HelmRelease",
        },
        revision: |object| {
            object["status"]["history"][0]["chartVersion"]
                .as_str()
                .or_else(|| object["status"]["lastAttemptedRevision"].as_str())
        },
    },
    Kind {
        resource: Resource {
            group: "source.toolkit.fluxcd.io",
            version: "v1",
            plural: "gitrepositories",
            kind: "GitRepository",
        },
        revision: artifact_revision,
    },
    Kind {
        resource: Resource {
            group: "source.toolkit.fluxcd.io",
            version: "v1",
            plural: "helmrepositories",
            kind: "HelmRepository",
        },
        revision: artifact_revision,
    },
];

fn artifact_revision(object: &Value) -> Option<&str> {
    object["status"]["artifact"]["revision"].as_str()
}

/// The names agents may pass as `kind`.
pub(crate) fn names() -> Vec<&'static str> {
    KINDS.iter().map(|kind| kind.resource.kind).collect()
}

/// The kind called `name` (as in `names()`).
pub(crate) fn named(name: &str) -> Option<Kind> {
    KINDS
        .iter()
        .copied()
        .find(|kind| kind.resource.kind == name)
}

impl Kind {
    /// The revision `flux get` shows for `object`: the source artifact's, the Kustomization's
    /// last applied one, or the HelmRelease's chart version.
    pub(crate) fn revision<'a>(&self, object: &'a Value) -> Option<&'a str> {
        (self.revision)(object)
    }
}
