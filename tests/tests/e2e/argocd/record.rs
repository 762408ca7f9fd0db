//! Not tests: the recorder of the answers the Argo CD plugin's native tests replay
//! (`plugins/argocd/tests/fixtures/`). Each function starts the fake Argo CD with the demo data
//! set (or its generated applications), sends the requests the tools send, and writes each
//! answer exactly as served; for diagnose_application, which sends many requests, it writes the
//! exchanges (`[{method, path, status, body}]`). They are `#[ignore]`d; after a change to the
//! fake or to what a tool sends, re-record with
//! `cargo test --release --locked -p capstan-tests --test e2e argocd::record -- --ignored`.

use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use capstan_tests::fakes::argocd::{self, ArgoCd, ArgoCdServer, Cause, Fault, generate};
use capstan_tests::fakes::demo::{self, PLATFORM_REPO};
use serde_json::{Value, json};

fn out_dir() -> PathBuf {
    capstan_tests::paths::repo_root().join("plugins/argocd/tests/fixtures")
}

/// Everything but RFC 3986 unreserved characters, as the plugin encodes.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes as the plugin does.
fn enc(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

fn query(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

struct Rec {
    fake: ArgoCdServer,
    http: reqwest::Client,
    /// A bundle being recorded: every exchange since `bundle_start`.
    bundle: Option<Vec<Value>>,
}

impl Rec {
    async fn new(data: ArgoCd) -> Self {
        Self {
            fake: argocd::start(data).await.unwrap(),
            http: capstan_tests::http_client(),
            bundle: None,
        }
    }

    async fn demo() -> Self {
        Self::new(demo::argocd()).await
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let url = format!("{}{path}", self.fake.base_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if let Some(bundle) = &mut self.bundle {
            let parsed: Value =
                serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
            bundle.push(
                json!({"method": method.as_str(), "path": path, "status": status, "body": parsed}),
            );
        }
        (status, text)
    }

    /// Sends and saves the answer as `name`, checking the status.
    async fn save(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let (got, text) = self.send(method, path, body).await;
        assert_eq!(got, status, "{method} {path}: {text}");
        write(name, &text);
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn get(&mut self, name: &str, path: &str) -> Value {
        self.save(name, "GET", path, None, 200).await
    }

    fn start_bundle(&mut self) {
        self.bundle = Some(Vec::new());
    }

    fn end_bundle(&mut self, name: &str) {
        let bundle = self.bundle.take().unwrap();
        write(name, &serde_json::to_string(&bundle).unwrap());
    }

    fn assert_clean(&self) {
        self.fake.assert_no_violations();
    }
}

fn write(name: &str, text: &str) {
    let path = out_dir().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
}

const APPS: &str = "/api/v1/applications";

fn multi_source(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "argocd", "labels": {"team": "web"}},
        "spec": {
            "project": "default",
            "sources": [
                {"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.2.0",
                 "helm": {"valueFiles": ["$values/web/values-prod.yaml"], "valuesObject": {"replicas": 3}}},
                {"repoURL": "https://github.com/example-org/values.git", "targetRevision": "main", "ref": "values"},
            ],
            "destination": {"server": argocd::IN_CLUSTER, "namespace": "web"},
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    })
}

fn platform_set() -> Value {
    json!({
        "metadata": {"name": "platform-addons"},
        "spec": {
            "generators": [{"git": {"repoURL": PLATFORM_REPO, "revision": "HEAD",
                                    "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "addon-{{path.basename}}"},
                "spec": {"project": "platform",
                         "source": {"repoURL": PLATFORM_REPO, "path": "{{path}}", "targetRevision": "HEAD"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": "{{path.basename}}"}},
            },
        },
    })
}

fn nodes(tree: &Value) -> Vec<Value> {
    tree["nodes"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_reads() {
    let mut r = Rec::demo().await;
    r.get(
        "apps/list-payments-data-prod.json",
        &format!(
            "{APPS}{}",
            query(&[
                ("projects", "payments"),
                ("projects", "data"),
                ("selector", "env=prod")
            ])
        ),
    )
    .await;
    r.get("apps/list.json", APPS).await;
    r.save(
        "apps/list-bad-selector.json",
        "GET",
        &format!("{APPS}{}", query(&[("selector", "env=prod&projects=x")])),
        None,
        400,
    )
    .await;
    r.get(
        "apps/recommendations.json",
        &format!("{APPS}/recommendations"),
    )
    .await;
    r.get("apps/search-api.json", &format!("{APPS}/search-api"))
        .await;
    r.get("apps/cert-manager.json", &format!("{APPS}/cert-manager"))
        .await;
    r.get(
        "apps/helm-guestbook.json",
        &format!("{APPS}/helm-guestbook"),
    )
    .await;
    r.get("apps/guestbook.json", &format!("{APPS}/guestbook"))
        .await;
    r.save(
        "apps/nope-404.json",
        "GET",
        &format!("{APPS}/nope"),
        None,
        404,
    )
    .await;
    for app in ["recommendations", "guestbook", "kube-prometheus-stack"] {
        r.get(
            &format!("tree/{app}.json"),
            &format!("{APPS}/{app}/resource-tree"),
        )
        .await;
    }
    r.get(
        "apps/guestbook-refresh-hard.json",
        &format!(
            "{APPS}/guestbook{}",
            query(&[("appNamespace", "argocd"), ("refresh", "hard")])
        ),
    )
    .await;
    r.fake.inject("ApplicationService_Get", Fault::Status(403));
    r.save(
        "errors/403.json",
        "GET",
        &format!("{APPS}/guestbook"),
        None,
        403,
    )
    .await;
    r.fake.inject("ApplicationService_List", Fault::Status(500));
    r.save("errors/500.json", "GET", APPS, None, 500).await;
    r.fake
        .inject("ApplicationService_ResourceTree", Fault::Malformed);
    r.save(
        "errors/malformed.html",
        "GET",
        &format!("{APPS}/guestbook/resource-tree"),
        None,
        200,
    )
    .await;
    r.fake.clear_faults();
    r.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_unauthenticated() {
    let mut r = Rec::new(demo::argocd().with_token("secret")).await;
    r.save(
        "errors/401.json",
        "GET",
        "/api/v1/session/userinfo",
        None,
        401,
    )
    .await;
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_catalog() {
    let mut r = Rec::demo().await;
    r.get("catalog/project-payments.json", "/api/v1/projects/payments")
        .await;
    r.get("catalog/projects.json", "/api/v1/projects").await;
    r.save(
        "catalog/project-nope-404.json",
        "GET",
        "/api/v1/projects/nope",
        None,
        404,
    )
    .await;
    r.get("catalog/clusters.json", "/api/v1/clusters").await;
    r.get(
        "catalog/clusters-prod-eu-west-1.json",
        &format!(
            "/api/v1/clusters{}",
            query(&[("server", "https://prod-eu-west-1.k8s.example.com")])
        ),
    )
    .await;
    r.get(
        "catalog/platform-apps.json",
        &format!(
            "/api/v1/repositories/{}/apps{}",
            enc(PLATFORM_REPO),
            query(&[("revision", "main")])
        ),
    )
    .await;
    let (status, text) = r
        .send(
            "GET",
            &format!(
                "/api/v1/repositories/{}/apps",
                enc("https://example.com/x.git")
            ),
            None,
        )
        .await;
    write(&format!("catalog/repo-unknown-{status}.json"), &text);
    r.get("catalog/userinfo.json", "/api/v1/session/userinfo")
        .await;
    r.get(
        "catalog/can-i-yes.json",
        &format!(
            "/api/v1/account/can-i/applications/get/{}",
            enc("payments/payments-api")
        ),
    )
    .await;
    r.fake.deny("applications/sync/payments/*");
    r.get(
        "catalog/can-i-no.json",
        &format!(
            "/api/v1/account/can-i/applications/sync/{}",
            enc("payments/payments-api")
        ),
    )
    .await;
    r.get("catalog/version.json", "/api/version").await;
    r.get(
        "manifests/helm-guestbook-v2.json",
        &format!(
            "{APPS}/helm-guestbook/manifests{}",
            query(&[("revision", "v2")])
        ),
    )
    .await;
    let rendered = r
        .get(
            "manifests/helm-guestbook.json",
            &format!("{APPS}/helm-guestbook/manifests"),
        )
        .await;
    let manifests: Vec<String> = rendered["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("targetManifests={}", enc(m.as_str().unwrap())))
        .collect();
    let path = format!(
        "{APPS}/helm-guestbook/server-side-diff?{}",
        manifests.join("&")
    );
    r.get("manifests/helm-guestbook-diff.json", &path).await;
    r.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_lifecycle() {
    let mut r = Rec::demo().await;
    r.save(
        "lifecycle/created-web.json",
        "POST",
        APPS,
        Some(&multi_source("web")),
        200,
    )
    .await;
    let mut changed = multi_source("web");
    changed["spec"]["sources"][0]["targetRevision"] = json!("1.3.0");
    let (status, text) = r.send("POST", APPS, Some(&changed)).await;
    write(&format!("lifecycle/create-different-{status}.json"), &text);
    r.save(
        "lifecycle/upserted-web.json",
        "POST",
        &format!("{APPS}?upsert=true"),
        Some(&changed),
        200,
    )
    .await;
    let mut elsewhere = multi_source("other");
    elsewhere["spec"]["project"] = json!("missing-project");
    let (status, text) = r.send("POST", APPS, Some(&elsewhere)).await;
    write(
        &format!("lifecycle/create-missing-project-{status}.json"),
        &text,
    );
    r.save(
        "lifecycle/created-other.json",
        "POST",
        &format!("{APPS}?validate=false"),
        Some(&elsewhere),
        200,
    )
    .await;
    let changes = json!({"metadata": {"labels": {"tier": "frontend"}},
                         "spec": {"syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}});
    let body = json!({"name": "web", "patch": changes.to_string(), "patchType": "merge"});
    r.save(
        "lifecycle/patched-web.json",
        "PATCH",
        &format!("{APPS}/web"),
        Some(&body),
        200,
    )
    .await;
    let delete = format!(
        "{APPS}/guestbook{}",
        query(&[("cascade", "true"), ("propagationPolicy", "background")])
    );
    r.save("lifecycle/deleted.json", "DELETE", &delete, None, 200)
        .await;
    r.save(
        "lifecycle/delete-missing-404.json",
        "DELETE",
        &format!("{APPS}/guestbook"),
        None,
        404,
    )
    .await;
    let (status, text) = r
        .send(
            "DELETE",
            &format!(
                "{APPS}/search-api{}",
                query(&[("cascade", "false"), ("propagationPolicy", "foreground")])
            ),
            None,
        )
        .await;
    write(&format!("lifecycle/delete-no-cascade-{status}.json"), &text);
    r.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_sync_and_operations() {
    let mut r = Rec::demo().await;
    let body = json!({"name": "helm-guestbook", "revision": "main", "prune": true,
                      "syncOptions": {"items": ["ServerSideApply=true"]}, "strategy": {"apply": {"force": false}}});
    r.save(
        "sync/helm-guestbook-started.json",
        "POST",
        &format!("{APPS}/helm-guestbook/sync"),
        Some(&body),
        200,
    )
    .await;
    for n in 1..=3 {
        r.get(
            &format!("sync/helm-guestbook-get-{n}.json"),
            &format!("{APPS}/helm-guestbook"),
        )
        .await;
    }
    r.fake.degrade_next_sync("guestbook", Cause::CrashLoop);
    r.save(
        "sync/guestbook-started.json",
        "POST",
        &format!("{APPS}/guestbook/sync"),
        Some(&json!({"name": "guestbook"})),
        200,
    )
    .await;
    let (status, text) = r
        .send(
            "POST",
            &format!("{APPS}/guestbook/sync"),
            Some(&json!({"name": "guestbook"})),
        )
        .await;
    write(&format!("sync/guestbook-busy-{status}.json"), &text);
    let (status, text) = r
        .send(
            "DELETE",
            &format!("{APPS}/guestbook/operation?appNamespace=argocd"),
            None,
        )
        .await;
    write(&format!("operations/terminated-{status}.json"), &text);
    let (status, text) = r
        .send("DELETE", &format!("{APPS}/guestbook/operation"), None)
        .await;
    write(&format!("operations/terminate-idle-{status}.json"), &text);
    let dry = json!({"name": "guestbook", "appNamespace": "argocd", "dryRun": true,
                     "resources": [{"group": "apps", "kind": "Deployment", "name": "guestbook", "namespace": "guestbook"}]});
    let mut fresh = Rec::demo().await;
    fresh
        .save(
            "sync/guestbook-dry-run.json",
            "POST",
            &format!("{APPS}/guestbook/sync"),
            Some(&dry),
            200,
        )
        .await;
    fresh.assert_clean();
    // History and rollback on a fresh estate.
    let mut r2 = Rec::demo().await;
    let app = r2
        .get("apps/search-api.json", &format!("{APPS}/search-api"))
        .await;
    for (n, entry) in app["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let revision = entry["revision"].as_str().unwrap();
        r2.get(
            &format!("operations/search-api-revision-{n}.json"),
            &format!("{APPS}/search-api/revisions/{revision}/metadata"),
        )
        .await;
    }
    let (status, text) = r2
        .send(
            "POST",
            &format!("{APPS}/guestbook/rollback"),
            Some(&json!({"name": "guestbook", "id": 1})),
        )
        .await;
    write(
        &format!("operations/rollback-auto-sync-{status}.json"),
        &text,
    );
    r2.save(
        "operations/helm-guestbook-rolled-back.json",
        "POST",
        &format!("{APPS}/helm-guestbook/rollback"),
        Some(&json!({"name": "helm-guestbook", "id": 1, "prune": true})),
        200,
    )
    .await;
    r.assert_clean();
    r2.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_resources() {
    let mut r = Rec::demo().await;
    r.get(
        "resources/helm-guestbook-managed-deployment.json",
        &format!("{APPS}/helm-guestbook/managed-resources?kind=Deployment"),
    )
    .await;
    r.get(
        "resources/helm-guestbook-managed.json",
        &format!("{APPS}/helm-guestbook/managed-resources"),
    )
    .await;
    let deployment = query(&[
        ("namespace", "guestbook"),
        ("resourceName", "guestbook"),
        ("version", "v1"),
        ("group", "apps"),
        ("kind", "Deployment"),
    ]);
    r.get(
        "resources/guestbook-deployment.json",
        &format!(
            "{APPS}/guestbook/resource?appNamespace=argocd&{}",
            &deployment[1..]
        ),
    )
    .await;
    let secret = query(&[
        ("appNamespace", "argocd"),
        ("namespace", "guestbook"),
        ("resourceName", "a/b?c=d&kind=Pod"),
        ("version", "v1"),
        ("kind", "Secret"),
    ]);
    r.save(
        "resources/secret-404.json",
        "GET",
        &format!("{APPS}/guestbook/resource{secret}"),
        None,
        404,
    )
    .await;
    let tree = r
        .get(
            "tree/guestbook.json",
            &format!("{APPS}/guestbook/resource-tree"),
        )
        .await;
    for (n, node) in nodes(&tree).iter().take(2).enumerate() {
        let text = |k: &str| node[k].as_str().unwrap_or_default().to_owned();
        let version = if text("version").is_empty() {
            "v1".to_owned()
        } else {
            text("version")
        };
        let q = query(&[
            ("namespace", &text("namespace")),
            ("resourceName", &text("name")),
            ("version", &version),
            ("group", &text("group")),
            ("kind", &text("kind")),
        ]);
        let path = format!("{APPS}/guestbook/resource{q}");
        r.get(&format!("resources/guestbook-node-{n}.json"), &path)
            .await;
    }
    r.get(
        "resources/guestbook-deployment-actions.json",
        &format!("{APPS}/guestbook/resource/actions{deployment}"),
    )
    .await;
    let scale = json!({"name": "guestbook", "namespace": "guestbook", "resourceName": "guestbook", "version": "v1",
                       "group": "apps", "kind": "Deployment", "action": "scale",
                       "resourceActionParameters": [{"name": "replicas", "value": "4"}]});
    r.save(
        "resources/action-ran.json",
        "POST",
        &format!("{APPS}/guestbook/resource/actions/v2"),
        Some(&scale),
        200,
    )
    .await;
    let mut resume = scale.clone();
    resume["action"] = json!("resume");
    resume["resourceActionParameters"] = json!([]);
    let (status, text) = r
        .send(
            "POST",
            &format!("{APPS}/guestbook/resource/actions/v2"),
            Some(&resume),
        )
        .await;
    write(&format!("resources/action-disabled-{status}.json"), &text);
    // Events.
    r.get(
        "events/recommendations.json",
        &format!("{APPS}/recommendations/events"),
    )
    .await;
    let tree = r
        .get(
            "tree/kube-prometheus-stack.json",
            &format!("{APPS}/kube-prometheus-stack/resource-tree"),
        )
        .await;
    let pod = nodes(&tree)
        .into_iter()
        .find(|n| n["kind"] == "Pod")
        .unwrap();
    let q = query(&[
        ("resourceNamespace", pod["namespace"].as_str().unwrap()),
        ("resourceName", pod["name"].as_str().unwrap()),
        ("resourceUID", pod["uid"].as_str().unwrap()),
    ]);
    r.get(
        "events/kube-prometheus-stack-pod.json",
        &format!("{APPS}/kube-prometheus-stack/events{q}"),
    )
    .await;
    // Logs.
    let q = query(&[
        ("appNamespace", "argocd"),
        ("namespace", "data"),
        ("resourceName", "recommendations"),
        ("kind", "Deployment"),
        ("group", "apps"),
        ("container", "app"),
        ("tailLines", "3"),
        ("sinceSeconds", "3600"),
        ("filter", "staging"),
        ("follow", "false"),
    ]);
    r.get(
        "logs/recommendations-deployment.ndjson",
        &format!("{APPS}/recommendations/logs{q}"),
    )
    .await;
    let tree = r
        .get(
            "tree/recommendations.json",
            &format!("{APPS}/recommendations/resource-tree"),
        )
        .await;
    let pod = nodes(&tree)
        .into_iter()
        .find(|n| n["kind"] == "Pod")
        .unwrap();
    let q = query(&[
        ("tailLines", "100"),
        ("previous", "true"),
        ("follow", "false"),
    ]);
    r.get(
        "logs/recommendations-pod-previous.ndjson",
        &format!(
            "{APPS}/recommendations/pods/{}/logs{q}",
            pod["name"].as_str().unwrap()
        ),
    )
    .await;
    let tree = r
        .get(
            "tree/guestbook.json",
            &format!("{APPS}/guestbook/resource-tree"),
        )
        .await;
    let pod = nodes(&tree)
        .into_iter()
        .find(|n| n["kind"] == "Pod")
        .unwrap();
    let (status, text) = r
        .send(
            "GET",
            &format!(
                "{APPS}/guestbook/pods/{}/logs{q}",
                pod["name"].as_str().unwrap()
            ),
            None,
        )
        .await;
    write(
        &format!("logs/guestbook-pod-previous-{status}.ndjson"),
        &text,
    );
    let q = query(&[
        ("container", "sidecar"),
        ("tailLines", "100"),
        ("follow", "false"),
    ]);
    let (status, text) = r
        .send("GET", &format!("{APPS}/guestbook/logs{q}"), None)
        .await;
    write(&format!("logs/guestbook-sidecar-{status}.ndjson"), &text);
    let q = query(&[("tailLines", "100"), ("follow", "false")]);
    let (status, text) = r
        .send(
            "GET",
            &format!(
                "{APPS}/guestbook/pods/{}/logs{q}",
                enc("../../projects/default")
            ),
            None,
        )
        .await;
    write(&format!("logs/hostile-pod-{status}.json"), &text);
    r.fake
        .inject("ApplicationService_PodLogs2", Fault::StreamError);
    let (status, text) = r
        .send("GET", &format!("{APPS}/guestbook/logs{q}"), None)
        .await;
    write(
        &format!("logs/guestbook-stream-error-{status}.ndjson"),
        &text,
    );
    r.fake.clear_faults();
    r.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_appsets() {
    let mut r = Rec::demo().await;
    r.get(
        "appsets/list-team-web.json",
        &format!(
            "/api/v1/applicationsets{}",
            query(&[("selector", "team=web")])
        ),
    )
    .await;
    let existing = r
        .get(
            "appsets/guestbook-envs.json",
            "/api/v1/applicationsets/guestbook-envs",
        )
        .await;
    let set = json!({"metadata": {"name": existing["metadata"]["name"], "namespace": existing["metadata"]["namespace"]},
                     "spec": existing["spec"]});
    r.save(
        "appsets/generated-guestbook-envs.json",
        "POST",
        "/api/v1/applicationsets/generate",
        Some(&json!({"applicationSet": set})),
        200,
    )
    .await;
    r.save(
        "appsets/generated-platform.json",
        "POST",
        "/api/v1/applicationsets/generate",
        Some(&json!({"applicationSet": platform_set()})),
        200,
    )
    .await;
    r.save(
        "appsets/created-dry-run.json",
        "POST",
        "/api/v1/applicationsets?dryRun=true",
        Some(&platform_set()),
        200,
    )
    .await;
    r.save(
        "appsets/created.json",
        "POST",
        "/api/v1/applicationsets",
        Some(&platform_set()),
        200,
    )
    .await;
    r.save(
        "appsets/deleted.json",
        "DELETE",
        "/api/v1/applicationsets/platform-addons",
        None,
        200,
    )
    .await;
    r.save(
        "appsets/delete-missing-404.json",
        "DELETE",
        "/api/v1/applicationsets/platform-addons",
        None,
        404,
    )
    .await;
    r.assert_clean();
}

fn directory_app(
    name: &str,
    path: &str,
    namespace: &str,
    project: &str,
    parent: Option<&str>,
) -> Value {
    let mut app = json!({
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": project,
            "source": {"repoURL": PLATFORM_REPO, "path": path, "targetRevision": "HEAD"},
            "destination": {"server": argocd::IN_CLUSTER, "namespace": namespace},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    });
    if let Some(parent) = parent {
        app["metadata"]["labels"] = json!({"app.kubernetes.io/part-of": parent});
    }
    app
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_workflows() {
    let mut r = Rec::demo().await;
    r.get(
        "workflows/platform-apps-platform.json",
        &format!(
            "/api/v1/repositories/{}/apps?appProject=platform",
            enc(PLATFORM_REPO)
        ),
    )
    .await;
    for dir in ["external-dns", "kyverno", "sealed-secrets", "velero"] {
        let app = directory_app(
            &format!("platform-{dir}"),
            &format!("apps/{dir}"),
            dir,
            "platform",
            Some("platform-root"),
        );
        r.save(
            &format!("workflows/created-platform-{dir}.json"),
            "POST",
            APPS,
            Some(&app),
            200,
        )
        .await;
    }
    let root = directory_app("platform-root", "bootstrap", "argocd", "platform", None);
    r.save(
        "workflows/created-platform-root.json",
        "POST",
        APPS,
        Some(&root),
        200,
    )
    .await;
    let again = directory_app("platform-velero", "apps/velero", "velero", "default", None);
    let (status, text) = r.send("POST", APPS, Some(&again)).await;
    write(&format!("workflows/create-existing-{status}.json"), &text);

    // deploy_and_watch: healthy.
    let mut r = Rec::demo().await;
    r.save(
        "workflows/search-api-sync.json",
        "POST",
        &format!("{APPS}/search-api/sync"),
        Some(&json!({"name": "search-api", "revision": "v3.9.0"})),
        200,
    )
    .await;
    for n in 1..=3 {
        r.get(
            &format!("workflows/search-api-get-{n}.json"),
            &format!("{APPS}/search-api"),
        )
        .await;
    }
    // Degraded, then rolled back.
    r.fake.degrade_next_sync("helm-guestbook", Cause::CrashLoop);
    r.save(
        "workflows/helm-guestbook-broken-sync.json",
        "POST",
        &format!("{APPS}/helm-guestbook/sync"),
        Some(&json!({"name": "helm-guestbook", "revision": "broken"})),
        200,
    )
    .await;
    let mut last = Value::Null;
    for n in 1..=3 {
        last = r
            .get(
                &format!("workflows/helm-guestbook-broken-get-{n}.json"),
                &format!("{APPS}/helm-guestbook"),
            )
            .await;
    }
    let history = last["status"]["history"].as_array().unwrap();
    let previous = &history[history.len() - 2];
    r.save(
        "workflows/helm-guestbook-rollback.json",
        "POST",
        &format!("{APPS}/helm-guestbook/rollback"),
        Some(&json!({"name": "helm-guestbook", "id": previous["id"]})),
        200,
    )
    .await;
    for n in 1..=3 {
        r.get(
            &format!("workflows/helm-guestbook-rollback-get-{n}.json"),
            &format!("{APPS}/helm-guestbook"),
        )
        .await;
    }
    // A failed sync.
    r.fake
        .fail_next_sync("guestbook", "one or more objects failed to apply");
    r.save(
        "workflows/guestbook-failing-sync.json",
        "POST",
        &format!("{APPS}/guestbook/sync"),
        Some(&json!({"name": "guestbook"})),
        200,
    )
    .await;
    for n in 1..=2 {
        r.get(
            &format!("workflows/guestbook-failing-get-{n}.json"),
            &format!("{APPS}/guestbook"),
        )
        .await;
    }
    r.assert_clean();
}

/// The requests diagnose_application sends for `app`, as the plugin sends them.
async fn diagnose(r: &mut Rec, app: &str, bundle: &str) {
    r.start_bundle();
    let (_, text) = r.send("GET", &format!("{APPS}/{app}"), None).await;
    let _: Value = serde_json::from_str(&text).unwrap();
    let (_, text) = r
        .send("GET", &format!("{APPS}/{app}/resource-tree"), None)
        .await;
    let tree: Value = serde_json::from_str(&text).unwrap();
    let unhealthy: Vec<Value> = nodes(&tree)
        .into_iter()
        .filter(|n| {
            n["health"]["status"]
                .as_str()
                .is_some_and(|h| h != "Healthy")
        })
        .collect();
    for node in unhealthy.iter().take(6) {
        let text = |k: &str| node[k].as_str().unwrap_or_default().to_owned();
        let q = query(&[
            ("resourceNamespace", &text("namespace")),
            ("resourceName", &text("name")),
            ("resourceUID", &text("uid")),
        ]);
        r.send("GET", &format!("{APPS}/{app}/events{q}"), None)
            .await;
    }
    for pod in unhealthy.iter().filter(|n| n["kind"] == "Pod").take(2) {
        let info: Vec<&str> = pod["info"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["value"].as_str().unwrap_or_default())
            .collect();
        let describe = format!(
            "{} {} {}",
            pod["health"]["status"].as_str().unwrap_or_default(),
            pod["health"]["message"].as_str().unwrap_or_default(),
            info.join(" ")
        );
        let restarted = describe.contains("CrashLoopBackOff") || describe.contains("OOMKilled");
        let ns = pod["namespace"].as_str().unwrap_or_default();
        let mut pairs = vec![("namespace", ns), ("tailLines", "30")];
        if restarted {
            pairs.push(("previous", "true"));
        }
        pairs.push(("follow", "false"));
        r.send(
            "GET",
            &format!(
                "{APPS}/{app}/pods/{}/logs{}",
                enc(pod["name"].as_str().unwrap()),
                query(&pairs)
            ),
            None,
        )
        .await;
    }
    r.end_bundle(bundle);
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_diagnoses() {
    let mut r = Rec::demo().await;
    diagnose(
        &mut r,
        "recommendations",
        "workflows/diagnose-recommendations.json",
    )
    .await;
    diagnose(
        &mut r,
        "kube-prometheus-stack",
        "workflows/diagnose-kube-prometheus-stack.json",
    )
    .await;
    for (cause, name) in [
        (Cause::ImagePull, "image-pull"),
        (Cause::ProbeFailed, "probe-failed"),
        (Cause::Quota, "quota"),
    ] {
        let mut r = Rec::demo().await;
        r.fake.degrade_next_sync("search-api", cause);
        r.send(
            "POST",
            &format!("{APPS}/search-api/sync"),
            Some(&json!({"name": "search-api"})),
        )
        .await;
        for _ in 0..3 {
            r.send("GET", &format!("{APPS}/search-api"), None).await;
        }
        diagnose(
            &mut r,
            "search-api",
            &format!("workflows/diagnose-search-api-{name}.json"),
        )
        .await;
        r.assert_clean();
    }
    r.assert_clean();
}

#[tokio::test]
#[ignore = "records the native tests' fixtures"]
async fn record_generated() {
    let mut r = Rec::new(ArgoCd::new().with_generated_apps(60)).await;
    let apps = generate(60);
    for index in [0, 1, 2, 3, 4, 10, 16, 20] {
        let name = apps[index].name().to_owned();
        r.get(
            &format!("generated/app-{index}.json"),
            &format!("{APPS}/{name}"),
        )
        .await;
        if index <= 3 || index == 10 {
            r.get(
                &format!("generated/tree-{index}.json"),
                &format!("{APPS}/{name}/resource-tree"),
            )
            .await;
        }
    }
    r.assert_clean();
}
