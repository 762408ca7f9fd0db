//! The rest of what Argo CD knows: clusters, projects, repositories (the app paths it finds in
//! one), the caller's session and RBAC (`can-i`), and its version.

use serde_json::{Value, json};

use super::app::{IN_CLUSTER, RECONCILED_AT};
use super::store::{Answer, ApiError, CONTROL_PLANE_NAMESPACE, Call, Store, ok};
use crate::fakes::ids::fake_uid;

/// The version the fake reports; the contract is this release's swagger.json.
pub const VERSION: &str = "v3.5.1+109ca7c";

/// The user the fake's session belongs to.
pub const USERNAME: &str = "capstan-bot";

/// The API versions a cluster reports (long, like a real one, which is why cluster lists are
/// trimmed by the plugin).
const API_VERSIONS: [&str; 24] = [
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "node.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "argoproj.io/v1alpha1",
    "cert-manager.io/v1",
    "monitoring.coreos.com/v1",
    "kustomize.toolkit.fluxcd.io/v1",
    "helm.toolkit.fluxcd.io/v2",
    "source.toolkit.fluxcd.io/v1",
    "metrics.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "certificates.k8s.io/v1",
];

/// A registered cluster.
pub(crate) fn cluster(name: &str, server: &str, apps: usize) -> Value {
    json!({
        "name": name, "server": server, "serverVersion": "1.33",
        "connectionState": {"status": "Successful", "attemptedAt": RECONCILED_AT},
        "info": {"serverVersion": "1.33", "applicationsCount": apps, "apiVersions": API_VERSIONS,
                 "connectionState": {"status": "Successful", "attemptedAt": RECONCILED_AT},
                 "cacheInfo": {"resourcesCount": 1800, "apisCount": 61, "lastCacheSyncTime": RECONCILED_AT}},
        "config": {"tlsClientConfig": {"insecure": false}},
        "labels": {"env": if server == IN_CLUSTER { "dev" } else if server.contains("prod") { "prod" } else { "staging" }},
    })
}

/// An AppProject that allows every repository and destination, with one role.
pub(crate) fn project(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": CONTROL_PLANE_NAMESPACE, "uid": fake_uid(&format!("project/{name}")),
                     "resourceVersion": "1043", "creationTimestamp": "2026-06-01T08:00:00Z"},
        "spec": {
            "description": format!("Applications of the {name} team"),
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "roles": [{"name": "deployer", "description": "CI deploys",
                       "policies": [format!("p, proj:{name}:deployer, applications, sync, {name}/*, allow")],
                       "groups": [format!("example-org:{name}")]}],
            "syncWindows": [{"kind": "deny", "schedule": "0 22 * * *", "duration": "8h",
                             "applications": ["*-prod"], "manualSync": true}],
        },
        "status": {},
    })
}

pub(crate) fn list_clusters(store: &mut Store, call: &Call<'_>) -> Answer {
    let server = call.query.first("server").unwrap_or_default();
    let name = call.query.first("name").unwrap_or_default();
    let items: Vec<&Value> = store
        .clusters
        .iter()
        .filter(|c| server.is_empty() || c["server"] == server)
        .filter(|c| name.is_empty() || c["name"] == name)
        .collect();
    ok(json!({"metadata": {}, "items": items}))
}

pub(crate) fn list_projects(store: &mut Store, call: &Call<'_>) -> Answer {
    let name = call.query.first("name").unwrap_or_default();
    let items: Vec<&Value> = store
        .projects
        .iter()
        .filter(|p| name.is_empty() || p["metadata"]["name"] == name)
        .collect();
    ok(json!({"metadata": {}, "items": items}))
}

pub(crate) fn get_project(store: &mut Store, call: &Call<'_>) -> Answer {
    let name = call.param("name");
    store
        .project(name)
        .cloned()
        .map(super::store::Reply::Json)
        .ok_or_else(|| ApiError::not_found(format!("appprojects.argoproj.io \"{name}\" not found")))
}

pub(crate) fn repo_apps(store: &mut Store, call: &Call<'_>) -> Answer {
    let repo = call.param("repo");
    let Some(paths) = store.repos.get(repo) else {
        return Err(ApiError::invalid(format!(
            "repository not found or not accessible: rpc error: code = Unknown desc = failed to list refs: repository not found: {repo}"
        )));
    };
    let items: Vec<Value> = paths
        .iter()
        .map(|(path, kind)| json!({"path": path, "type": kind}))
        .collect();
    ok(json!({"items": items}))
}

pub(crate) fn can_i(store: &mut Store, call: &Call<'_>) -> Answer {
    let asked = [
        call.param("resource"),
        call.param("action"),
        call.param("subresource"),
    ];
    let denied = store.denied.iter().any(|rule| {
        let parts: Vec<&str> = rule.splitn(3, '/').collect();
        parts.len() == 3
            && parts
                .iter()
                .zip(asked)
                .all(|(rule, asked)| glob(rule, asked))
    });
    ok(json!({"value": if denied { "no" } else { "yes" }}))
}

/// `*` anywhere matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(tail, &text[head.len() + i..])
                })
        }
    }
}

pub(crate) fn user_info(_store: &mut Store, _call: &Call<'_>) -> Answer {
    ok(
        json!({"loggedIn": true, "username": USERNAME, "iss": "argocd", "groups": ["example-org:platform"]}),
    )
}

pub(crate) fn version() -> Value {
    json!({
        "Version": VERSION,
        "BuildDate": "2026-08-12T14:03:11Z",
        "GitCommit": "109ca7ca71139e514114499d294a492e7910a965",
        "GitTag": "v3.5.1",
        "GitTreeState": "clean",
        "GoVersion": "go1.25.0",
        "Compiler": "gc",
        "Platform": "linux/amd64",
        "KustomizeVersion": "v5.7.1 2025-07-23T12:45:29Z",
        "HelmVersion": "v3.18.4+gd80839c",
        "KubectlVersion": "v0.34.0",
        "JsonnetVersion": "v0.21.0",
    })
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_like_casbin_patterns() {
        assert!(glob("*", "anything"));
        assert!(glob("prod/*", "prod/web"));
        assert!(!glob("prod/*", "dev/web"));
        assert!(glob("a*c", "abbbc"));
        assert!(!glob("a*c", "abd"));
    }
}
