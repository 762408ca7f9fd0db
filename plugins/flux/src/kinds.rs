//! The Flux kinds this plugin knows (Flux 2.9 API versions) and where each keeps the revision
//! `flux get` shows.

use capstan_sdk::Value;
use capstan_sdk::kube::Resource;

/// A Flux kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    pub(crate) resource: Resource,
    revision: fn(&Value) -> Option<&str>,
}

const fn kind(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    name: &'static str,
    revision: fn(&Value) -> Option<&str>,
) -> Kind {
    Kind {
        resource: Resource {
            group,
            version,
            plural,
            kind: name,
        },
        revision,
    }
}

const SOURCE: &str = "source.toolkit.fluxcd.io";

/// Every kind, appliers first.
pub(crate) const KINDS: [Kind; 7] = [
    kind(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "kustomizations",
        "Kustomization",
        |object| object["status"]["lastAppliedRevision"].as_str(),
    ),
    kind(
        "helm.toolkit.fluxcd.io",
        "v2",
        "helmreleases",
        "HelmRelease",
        |object| {
            object["status"]["history"][0]["chartVersion"]
                .as_str()
                .or_else(|| object["status"]["lastAttemptedRevision"].as_str())
        },
    ),
    kind(
        SOURCE,
        "v1",
        "gitrepositories",
        "GitRepository",
        artifact_revision,
    ),
    kind(
        SOURCE,
        "v1",
        "ocirepositories",
        "OCIRepository",
        artifact_revision,
    ),
    kind(
        SOURCE,
        "v1",
        "helmrepositories",
        "HelmRepository",
        artifact_revision,
    ),
    kind(SOURCE, "v1", "helmcharts", "HelmChart", artifact_revision),
    kind(SOURCE, "v1", "buckets", "Bucket", artifact_revision),
];

fn artifact_revision(object: &Value) -> Option<&str> {
    object["status"]["artifact"]["revision"].as_str()
}

/// The names agents may pass as `kind`.
pub(crate) fn names() -> Vec<&'static str> {
    KINDS.iter().map(|kind| kind.resource.kind).collect()
}

/// The kind called `name` (as in [`names`]).
pub(crate) fn named(name: &str) -> Option<Kind> {
    KINDS
        .iter()
        .copied()
        .find(|kind| kind.resource.kind == name)
}

/// The kind called `name`, or an error listing the kinds there are.
pub(crate) fn require(name: &str) -> Result<Kind, capstan_sdk::ToolError> {
    named(name).ok_or_else(|| {
        capstan_sdk::ToolError::new(format!(
            "unknown Flux kind `{name}`; use one of {}",
            names().join(", ")
        ))
    })
}

impl Kind {
    /// The kind's name, e.g. `Kustomization`.
    pub(crate) fn name(&self) -> &'static str {
        self.resource.kind
    }

    /// The revision `flux get` shows for `object`: the source artifact's, the Kustomization's
    /// last applied one, or the HelmRelease's chart version.
    pub(crate) fn revision<'a>(&self, object: &'a Value) -> Option<&'a str> {
        (self.revision)(object).filter(|revision| !revision.is_empty())
    }

    /// Whether the controller never reconciles objects like `object` (an OCI HelmRepository).
    pub(crate) fn is_static(&self, object: &Value) -> bool {
        self.name() == "HelmRepository" && object["spec"]["type"] == "oci"
    }
}
