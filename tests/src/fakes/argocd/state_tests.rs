//! The fake Argo CD's state and simulations over real sockets: writes, the sync progression,
//! scenario hooks, faults, logs, and every answer checked against the contract's definitions.

use serde_json::{Value, json};

use super::schema::check_definition;
use super::*;
use crate::fakes::tests::client;

/// Sends `method path` with an optional JSON body: (status, the answer as JSON, or as a string
/// when it is not JSON).
pub(super) async fn send(
    server: &ArgoCdServer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", server.base_url());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(server: &ArgoCdServer, path: &str) -> Value {
    let (status, body) = send(server, "GET", path, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn shop() -> ArgoCd {
    ArgoCd::new()
        .with_app(Application::new("web").project("shop").automated(false))
        .with_app(
            Application::new("api")
                .project("shop")
                .health("Degraded", Some("down"))
                .cause(Cause::OomKilled),
        )
        .with_app(
            Application::new("quota")
                .health("Degraded", None)
                .cause(Cause::Quota),
        )
}

#[tokio::test]
async fn a_sync_runs_then_settles_over_reads() {
    let server = start(shop()).await.unwrap();
    let body = json!({"revision": "main", "prune": true, "syncOptions": {"items": ["ServerSideApply=true"]}});
    let (status, app) = send(&server, "POST", "/api/v1/applications/web/sync", Some(body)).await;
    assert_eq!(status, 200, "{app}");
    // As Argo CD answers: the operation requested, the status not yet touched by the
    // application controller.
    assert!(app["status"]["operationState"].is_null(), "{app}");
    assert_eq!(
        app["operation"]["sync"]["syncOptions"],
        json!(["ServerSideApply=true"])
    );
    let (status, busy) = send(
        &server,
        "POST",
        "/api/v1/applications/web/sync",
        Some(json!({})),
    )
    .await;
    assert_eq!((status, busy["code"].as_u64()), (400, Some(9)));
    let first = get(&server, "/api/v1/applications/web").await;
    assert_eq!(first["status"]["health"]["status"], "Progressing");
    let second = get(&server, "/api/v1/applications/web").await;
    assert_eq!(second["status"]["operationState"]["phase"], "Succeeded");
    assert_eq!(second["status"]["sync"]["status"], "Synced");
    assert_eq!(second["status"]["history"].as_array().unwrap().len(), 3);
    let third = get(&server, "/api/v1/applications/web").await;
    assert_eq!(third["status"]["health"]["status"], "Healthy");
    check_definition("v1alpha1Application", &third).unwrap();
    server.assert_no_violations();
}

#[tokio::test]
async fn history_keeps_the_newest_ten_deployments() {
    let server = start(shop()).await.unwrap();
    for _ in 0..12 {
        let (status, app) = send(
            &server,
            "POST",
            "/api/v1/applications/web/sync",
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{app}");
        // Two reads finish the operation and record the deployment.
        get(&server, "/api/v1/applications/web").await;
        get(&server, "/api/v1/applications/web").await;
    }
    let app = get(&server, "/api/v1/applications/web").await;
    let ids: Vec<i64> = app["status"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (5..=14).collect::<Vec<i64>>());
    server.assert_no_violations();
}

#[tokio::test]
async fn scenario_hooks_degrade_or_fail_the_next_sync() {
    let server = start(shop()).await.unwrap();
    server.degrade_next_sync("web", Cause::ImagePull);
    send(
        &server,
        "POST",
        "/api/v1/applications/web/sync",
        Some(json!({})),
    )
    .await;
    for _ in 0..3 {
        get(&server, "/api/v1/applications/web").await;
    }
    assert_eq!(
        server.application("web").unwrap()["status"]["health"]["status"],
        "Degraded"
    );
    let tree = get(&server, "/api/v1/applications/web/resource-tree").await;
    assert!(tree.to_string().contains("ImagePullBackOff"), "{tree}");
    server.fail_next_sync("web", "one or more objects failed to apply");
    send(
        &server,
        "POST",
        "/api/v1/applications/web/sync",
        Some(json!({})),
    )
    .await;
    get(&server, "/api/v1/applications/web").await;
    let failed = get(&server, "/api/v1/applications/web").await;
    assert_eq!(failed["status"]["operationState"]["phase"], "Failed");
    server.assert_no_violations();
}

#[tokio::test]
async fn rollback_and_terminate_follow_argo_cd_rules() {
    let server = start(shop()).await.unwrap();
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applications/api/rollback",
        Some(json!({"id": 1})),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_u64()),
        (400, Some(9)),
        "auto-sync apps refuse rollback: {error}"
    );
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applications/web/rollback",
        Some(json!({"id": 9})),
    )
    .await;
    assert_eq!((status, error["code"].as_u64()), (400, Some(3)));
    let (status, app) = send(
        &server,
        "POST",
        "/api/v1/applications/web/rollback",
        Some(json!({"id": 1})),
    )
    .await;
    assert_eq!(status, 200);
    let previous = app["status"]["history"][0]["revision"].clone();
    assert_eq!(app["operation"]["sync"]["revision"], previous);
    let (status, _) = send(
        &server,
        "DELETE",
        "/api/v1/applications/web/operation",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        server.application("web").unwrap()["status"]["operationState"]["message"],
        "Operation terminated"
    );
    let (status, error) = send(
        &server,
        "DELETE",
        "/api/v1/applications/web/operation",
        None,
    )
    .await;
    assert_eq!((status, error["code"].as_u64()), (400, Some(9)));
    server.assert_no_violations();
}

fn new_app(name: &str, project: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "argocd"},
           "spec": {"project": project,
                    "sources": [{"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.2.0",
                                 "helm": {"valuesObject": {"replicas": 2}}}],
                    "destination": {"server": IN_CLUSTER, "namespace": name}}})
}

#[tokio::test]
async fn create_validates_and_upserts_like_argo_cd() {
    let server = start(shop()).await.unwrap();
    let (status, created) = send(
        &server,
        "POST",
        "/api/v1/applications",
        Some(new_app("new", "shop")),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"]["health"]["status"], "Missing");
    let same = send(
        &server,
        "POST",
        "/api/v1/applications",
        Some(new_app("new", "shop")),
    )
    .await;
    assert_eq!(same.0, 200, "an identical create is accepted");
    let other = new_app("new", "default");
    let (status, error) = send(&server, "POST", "/api/v1/applications", Some(other.clone())).await;
    assert_eq!(status, 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("existing application spec is different")
    );
    assert_eq!(
        send(
            &server,
            "POST",
            "/api/v1/applications?upsert=true",
            Some(other)
        )
        .await
        .0,
        200
    );
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applications",
        Some(new_app("x", "nope")),
    )
    .await;
    assert!(
        status == 400
            && error["message"]
                .as_str()
                .unwrap()
                .contains("does not exist")
    );
    assert_eq!(
        send(
            &server,
            "POST",
            "/api/v1/applications?validate=false",
            Some(new_app("x", "nope"))
        )
        .await
        .0,
        200
    );
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applications",
        Some(json!({"metadata": {"name": "y"}, "spec": {"projekt": "a"}})),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        server.violations().len(),
        1,
        "an unknown field in the body is a violation"
    );
}

#[tokio::test]
async fn patch_merges_and_delete_removes() {
    let server = start(shop()).await.unwrap();
    let patch = json!({"spec": {"source": {"targetRevision": "v2"}}}).to_string();
    let (status, app) = send(
        &server,
        "PATCH",
        "/api/v1/applications/web",
        Some(json!({"patch": patch, "patchType": "merge"})),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["spec"]["source"]["targetRevision"], "v2");
    assert_eq!(
        app["spec"]["source"]["path"], "web",
        "fields not in the patch stay"
    );
    let (status, _) = send(
        &server,
        "DELETE",
        "/api/v1/applications/web?cascade=false&propagationPolicy=foreground",
        None,
    )
    .await;
    assert_eq!(status, 400, "a policy without cascade is refused");
    let (status, _) = send(
        &server,
        "DELETE",
        "/api/v1/applications/web?cascade=true&propagationPolicy=background",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(server.application("web").is_none());
    server.assert_no_violations();
}

#[tokio::test]
async fn every_read_answer_matches_the_contract() {
    let server = start(shop().with_generated_apps(60)).await.unwrap();
    let checks = [
        (
            "/api/v1/applications/api/resource-tree",
            "v1alpha1ApplicationTree",
        ),
        (
            "/api/v1/applications/api/managed-resources",
            "applicationManagedResourcesResponse",
        ),
        ("/api/v1/applications/api/events", "eventsEventList"),
        (
            "/api/v1/applications/api/manifests",
            "repositoryManifestResponse",
        ),
        (
            "/api/v1/applications/api/revisions/abc/metadata",
            "v1alpha1RevisionMetadata",
        ),
        ("/api/v1/clusters", "v1alpha1ClusterList"),
        ("/api/v1/projects", "v1alpha1AppProjectList"),
        ("/api/v1/projects/shop", "v1alpha1AppProject"),
        ("/api/v1/session/userinfo", "sessionGetUserInfoResponse"),
        (
            "/api/v1/account/can-i/applications/sync/shop%2Fweb",
            "accountCanIResponse",
        ),
        ("/api/v1/applications", "v1alpha1ApplicationList"),
        ("/api/v1/applicationsets", "v1alpha1ApplicationSetList"),
    ];
    for (path, definition) in checks {
        let body = get(&server, path).await;
        check_definition(definition, &body).unwrap_or_else(|error| panic!("{path}: {error}"));
    }
    let tree = get(&server, "/api/v1/applications/api/resource-tree").await;
    let pod = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "Pod")
        .unwrap()
        .clone();
    let path = format!(
        "/api/v1/applications/api/events?resourceUID={}&resourceName={}&resourceNamespace={}",
        pod["uid"].as_str().unwrap(),
        pod["name"].as_str().unwrap(),
        pod["namespace"].as_str().unwrap()
    );
    let events = get(&server, &path).await;
    check_definition("eventsEventList", &events).unwrap();
    assert!(events.to_string().contains("OOMKilling"), "{events}");
    let quota = get(&server, "/api/v1/applications/quota/resource-tree").await;
    assert!(
        !quota.to_string().contains("\"Pod\""),
        "no pods under a quota refusal"
    );
    server.assert_no_violations();
}

/// The entries of a log stream (one line parses as a single JSON value).
fn log_lines(body: &Value) -> Vec<Value> {
    let Some(text) = body.as_str() else {
        return vec![body.clone()];
    };
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn logs_stream_with_filters_and_report_errors_in_band() {
    let server = start(shop()).await.unwrap();
    let all = log_lines(&send(&server, "GET", "/api/v1/applications/api/logs?kind=Deployment&resourceName=api&group=apps&namespace=api", None).await.1);
    assert!(all.last().unwrap()["result"]["last"] == true);
    for line in &all {
        check_definition("applicationLogEntry", &line["result"]).unwrap();
    }
    let tailed = log_lines(
        &send(
            &server,
            "GET",
            "/api/v1/applications/api/logs?tailLines=1&filter=memory",
            None,
        )
        .await
        .1,
    );
    assert!(
        tailed
            .iter()
            .filter(|l| l["result"]["last"] == false)
            .all(|l| l["result"]["content"].as_str().unwrap().contains("memory"))
    );
    let pod = all[0]["result"]["podName"].as_str().unwrap().to_owned();
    let previous = log_lines(
        &send(
            &server,
            "GET",
            &format!("/api/v1/applications/api/pods/{pod}/logs?previous=true&sinceSeconds=60"),
            None,
        )
        .await
        .1,
    );
    assert!(previous.len() <= 4, "{previous:?}");
    let (status, error) = send(
        &server,
        "GET",
        "/api/v1/applications/api/logs?container=sidecar",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        log_lines(&error)[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sidecar")
    );
    server.inject("ApplicationService_PodLogs2", Fault::StreamError);
    let (status, broken) = send(&server, "GET", "/api/v1/applications/api/logs", None).await;
    assert_eq!(status, 200);
    assert!(log_lines(&broken).last().unwrap()["error"]["grpc_code"] == 14);
    server.assert_no_violations();
}

#[tokio::test]
async fn injected_faults_answer_like_argo_cd() {
    let server = start(shop()).await.unwrap();
    server.inject("ApplicationService_Get", Fault::Status(403));
    let (status, error) = send(&server, "GET", "/api/v1/applications/web", None).await;
    assert_eq!((status, error["code"].as_u64()), (403, Some(7)));
    server.inject("ApplicationService_Get", Fault::Status(500));
    assert_eq!(
        send(&server, "GET", "/api/v1/applications/web", None)
            .await
            .0,
        500
    );
    server.inject("ApplicationService_Get", Fault::Malformed);
    let (status, body) = send(&server, "GET", "/api/v1/applications/web", None).await;
    assert!(status == 200 && body.is_string());
    server.clear_faults();
    assert_eq!(
        send(&server, "GET", "/api/v1/applications/web", None)
            .await
            .0,
        200
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn actions_appsets_rbac_and_repositories() {
    let server = start(crate::fakes::demo::argocd()).await.unwrap();
    let actions = get(&server, "/api/v1/applications/guestbook/resource/actions?kind=Deployment&resourceName=guestbook&namespace=guestbook&group=apps&version=v1").await;
    assert!(
        actions["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "scale")
    );
    let run = json!({"action": "scale", "kind": "Deployment", "resourceName": "guestbook", "namespace": "guestbook",
                     "group": "apps", "version": "v1", "resourceActionParameters": [{"name": "replicas", "value": "3"}]});
    assert_eq!(
        send(
            &server,
            "POST",
            "/api/v1/applications/guestbook/resource/actions/v2",
            Some(run)
        )
        .await
        .0,
        200
    );
    assert_eq!(server.actions_run()[0]["parameters"][0]["value"], "3");
    let set = server.appset("guestbook-envs").unwrap();
    let generated = send(
        &server,
        "POST",
        "/api/v1/applicationsets/generate",
        Some(json!({"applicationSet": set})),
    )
    .await
    .1;
    let names: Vec<&str> = generated["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["guestbook-dev", "guestbook-staging"]);
    server.deny("applications/sync/payments/*");
    assert_eq!(
        get(
            &server,
            "/api/v1/account/can-i/applications/sync/payments%2Fpayments-api"
        )
        .await["value"],
        "no"
    );
    assert_eq!(
        get(
            &server,
            "/api/v1/account/can-i/applications/get/payments%2Fpayments-api"
        )
        .await["value"],
        "yes"
    );
    let repo = percent_encoding::utf8_percent_encode(
        crate::fakes::demo::PLATFORM_REPO,
        percent_encoding::NON_ALPHANUMERIC,
    );
    let apps = get(&server, &format!("/api/v1/repositories/{repo}/apps")).await;
    assert_eq!(apps["items"].as_array().unwrap().len(), 5);
    check_definition("repositoryRepoAppsResponse", &apps).unwrap();
    server.assert_no_violations();
}

#[tokio::test]
async fn two_thousand_generated_apps_have_trees_events_and_logs() {
    let server = start(ArgoCd::new().with_generated_apps(2000))
        .await
        .unwrap();
    assert_eq!(server.application_count(), 2000);
    let list = get(&server, "/api/v1/applications").await;
    let last = list["items"].as_array().unwrap().last().unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let tree = get(
        &server,
        &format!("/api/v1/applications/{last}/resource-tree"),
    )
    .await;
    assert!(tree["nodes"].as_array().unwrap().len() >= 4);
    get(&server, &format!("/api/v1/applications/{last}/events")).await;
    let (status, _) = send(
        &server,
        "GET",
        &format!("/api/v1/applications/{last}/logs?tailLines=5"),
        None,
    )
    .await;
    assert!(status == 200 || status == 400);
    server.assert_no_violations();
    server.shutdown().await;
}

#[tokio::test]
async fn update_replaces_the_spec_and_appsets_follow_create_rules() {
    let server = start(crate::fakes::demo::argocd()).await.unwrap();
    let mut app = server.application("guestbook").unwrap();
    app["spec"]["source"]["targetRevision"] = json!("v9");
    let body = json!({"metadata": app["metadata"], "spec": app["spec"]});
    let (status, updated) =
        send(&server, "PUT", "/api/v1/applications/guestbook", Some(body)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        server.application("guestbook").unwrap()["spec"]["source"]["targetRevision"],
        "v9"
    );
    let mut set = server.appset("guestbook-envs").unwrap();
    let (status, _) = send(
        &server,
        "POST",
        "/api/v1/applicationsets",
        Some(set.clone()),
    )
    .await;
    assert_eq!(status, 200, "an identical ApplicationSet is accepted");
    set["spec"]["template"]["spec"]["project"] = json!("platform");
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applicationsets",
        Some(set.clone()),
    )
    .await;
    assert!(
        status == 400 && error["message"].as_str().unwrap().contains("upsert"),
        "{error}"
    );
    assert_eq!(
        send(
            &server,
            "POST",
            "/api/v1/applicationsets?upsert=true",
            Some(set)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        server.appset("guestbook-envs").unwrap()["spec"]["template"]["spec"]["project"],
        "platform"
    );
    assert_eq!(
        send(
            &server,
            "DELETE",
            "/api/v1/applicationsets/guestbook-envs",
            None
        )
        .await
        .0,
        200
    );
    assert!(server.appset("guestbook-envs").is_none());
    server.assert_no_violations();
}

#[tokio::test]
async fn automated_sync_refuses_rollback_until_turned_off_and_syncs_a_changed_source() {
    let server = start(crate::fakes::demo::argocd()).await.unwrap();
    let (status, error) = send(
        &server,
        "POST",
        "/api/v1/applications/guestbook/rollback",
        Some(json!({"id": 1})),
    )
    .await;
    assert_eq!(
        (status, error["message"].as_str()),
        (
            400,
            Some("rollback cannot be initiated when auto-sync is enabled")
        ),
        "Argo CD's own message: {error}"
    );
    // A changed source with automated sync on: the controller syncs it by itself.
    let image = json!({"spec": {"source": {"kustomize": {"images": ["gcr.io/heptio-images/ks-guestbook-demo:0.3"]}}}});
    let (status, patched) = send(
        &server,
        "PATCH",
        "/api/v1/applications/guestbook",
        Some(json!({"patch": image.to_string(), "patchType": "merge"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert!(
        patched["operation"].is_null(),
        "the answer comes before the controller"
    );
    let app = get(&server, "/api/v1/applications/guestbook").await;
    assert_eq!(app["operation"]["initiatedBy"]["automated"], true, "{app}");
    let (status, busy) = send(
        &server,
        "POST",
        "/api/v1/applications/guestbook/sync",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, busy["message"].as_str()),
        (400, Some("another operation is already in progress"))
    );
    for _ in 0..2 {
        get(&server, "/api/v1/applications/guestbook").await;
    }
    let app = server.application("guestbook").unwrap();
    let newest = app["status"]["history"].as_array().unwrap().last().unwrap();
    assert_eq!(newest["initiatedBy"], json!({"automated": true}));
    // Turned off with `enabled: false` (the settings stay), a rollback is accepted.
    let off = json!({"spec": {"syncPolicy": {"automated": {"enabled": false}}}});
    let (status, _) = send(
        &server,
        "PATCH",
        "/api/v1/applications/guestbook",
        Some(json!({"patch": off.to_string(), "patchType": "merge"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, rolled) = send(
        &server,
        "POST",
        "/api/v1/applications/guestbook/rollback",
        Some(json!({"id": 1})),
    )
    .await;
    assert_eq!(status, 200, "{rolled}");
    assert_eq!(
        rolled["spec"]["syncPolicy"]["automated"],
        json!({"prune": true, "selfHeal": true, "enabled": false})
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn a_transient_degraded_recovers_after_the_reads_it_was_given() {
    let server = start(shop()).await.unwrap();
    server.degrade_next_sync_briefly("web", Cause::CrashLoop, 2);
    send(
        &server,
        "POST",
        "/api/v1/applications/web/sync",
        Some(json!({})),
    )
    .await;
    let health: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let app = get(&server, "/api/v1/applications/web").await;
            seen.push(
                app["status"]["health"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        seen
    };
    assert_eq!(
        health,
        [
            "Progressing",
            "Progressing",
            "Degraded",
            "Degraded",
            "Healthy",
            "Healthy"
        ]
    );
    server.assert_no_violations();
}
