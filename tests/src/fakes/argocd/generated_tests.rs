//! Generated applications over real sockets: every object an application declares is in its
//! resource tree with the children its controllers create, live objects of every declared kind
//! are served, and a sync of a large application reports every object and keeps ten
//! deployments.

use serde_json::{Value, json};

use super::schema::check_definition;
use super::*;

async fn send(server: &ArgoCdServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = super::state_tests::send(server, method, path, body).await;
    assert_eq!(status, 200, "{path}");
    answer
}

async fn get(server: &ArgoCdServer, path: &str) -> Value {
    send(server, "GET", path, None).await
}

fn kinds(nodes: &[Value]) -> Vec<&str> {
    nodes.iter().map(|n| n["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn trees_hold_every_declared_object_and_what_its_controllers_created() {
    let server = start(ArgoCd::new().with_generated_apps(60)).await.unwrap();
    let mut cron_jobs = 0;
    for app in generate(60) {
        let name = app.name();
        let json = server.application(name).unwrap();
        let tree = get(
            &server,
            &format!("/api/v1/applications/{name}/resource-tree"),
        )
        .await;
        check_definition("v1alpha1ApplicationTree", &tree).unwrap();
        let nodes = tree["nodes"].as_array().unwrap();
        if json["status"]["health"]["status"] == "Missing" {
            assert!(nodes.is_empty(), "{name}: nothing runs while Missing");
            continue;
        }
        assert!((12..=40).contains(&nodes.len()), "{name}: {}", nodes.len());
        for entry in json["status"]["resources"].as_array().unwrap() {
            assert!(
                nodes
                    .iter()
                    .any(|n| n["kind"] == entry["kind"] && n["name"] == entry["name"]),
                "{name}: {entry} is in the tree"
            );
        }
        let kinds = kinds(nodes);
        for child in ["ReplicaSet", "Endpoints", "EndpointSlice"] {
            assert!(kinds.contains(&child), "{name}: {kinds:?}");
        }
        if kinds.contains(&"CronJob") {
            cron_jobs += 1;
            let jobs = kinds.iter().filter(|k| **k == "Job").count();
            let completed = nodes
                .iter()
                .filter(|n| n.to_string().contains("\"Completed\""))
                .count();
            assert_eq!((jobs, completed), (2, 2), "{name}");
        }
    }
    assert!(cron_jobs > 10, "{cron_jobs} applications run a CronJob");
    server.assert_no_violations();
}

#[tokio::test]
async fn live_objects_of_every_declared_kind_are_served() {
    let server = start(ArgoCd::new().with_generated_apps(60)).await.unwrap();
    // Application 8 (`payments-worker-dev`) declares all thirteen extras but the Ingress.
    let name = generate(60)[8].name().to_owned();
    let app = server.application(&name).unwrap();
    let entries = app["status"]["resources"].as_array().unwrap();
    assert_eq!(entries.len(), 15, "{name}");
    for entry in entries {
        let text = |key: &str| entry[key].as_str().unwrap_or_default();
        let path = format!(
            "/api/v1/applications/{name}/resource?namespace={}&resourceName={}&version={}&group={}&kind={}",
            text("namespace"),
            text("name"),
            text("version"),
            text("group"),
            text("kind")
        );
        let answer = get(&server, &path).await;
        let manifest: Value = serde_json::from_str(answer["manifest"].as_str().unwrap()).unwrap();
        assert_eq!(manifest["kind"], entry["kind"]);
    }
    let managed = get(
        &server,
        &format!("/api/v1/applications/{name}/managed-resources"),
    )
    .await;
    assert_eq!(managed["items"].as_array().unwrap().len(), 15);
    let logs = get(
        &server,
        &format!("/api/v1/applications/{name}/logs?kind=CronJob&group=batch&resourceName={name}-cleanup&namespace={}",
                 app["spec"]["destination"]["namespace"].as_str().unwrap()),
    )
    .await;
    assert!(
        logs.as_str().unwrap().contains("cleanup finished"),
        "{logs}"
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn a_sync_of_a_large_application_reports_every_object_and_keeps_ten_deployments() {
    let server = start(ArgoCd::new().with_generated_apps(8)).await.unwrap();
    let name = generate(8)[0].name().to_owned();
    let before = server.application(&name).unwrap();
    assert_eq!(before["status"]["history"].as_array().unwrap().len(), 10);
    let path = format!("/api/v1/applications/{name}");
    send(
        &server,
        "POST",
        &format!("{path}/sync"),
        Some(json!({"prune": true})),
    )
    .await;
    for _ in 0..3 {
        get(&server, &path).await;
    }
    let after = server.application(&name).unwrap();
    check_definition("v1alpha1Application", &after).unwrap();
    let state = &after["status"]["operationState"];
    assert_eq!(state["phase"], "Succeeded");
    let declared = after["status"]["resources"].as_array().unwrap();
    let results = state["syncResult"]["resources"].as_array().unwrap();
    assert_eq!(results.len(), declared.len());
    assert!(
        results
            .iter()
            .any(|r| r["message"] == format!("deployment.apps/{name} configured"))
    );
    assert!(results.iter().all(|r| r["status"] == "Synced"));
    let history = after["status"]["history"].as_array().unwrap();
    assert_eq!((history.len(), history[9]["id"].as_i64()), (10, Some(11)));
    assert_eq!(history[9]["revision"], state["syncResult"]["revision"]);
    server.assert_no_violations();
}

#[tokio::test]
async fn generated_failed_syncs_name_the_refused_object() {
    let apps = generate(60);
    let failed = apps
        .iter()
        .map(Application::to_json)
        .find(|app| app["status"]["operationState"]["phase"] == "Failed")
        .expect("some generated syncs failed");
    let results = failed["status"]["operationState"]["syncResult"]["resources"]
        .as_array()
        .unwrap();
    let refused: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] == "SyncFailed")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["kind"], "Ingress");
    assert!(
        failed["status"]["operationState"]["message"]
            .as_str()
            .unwrap()
            .contains("require-ingress-tls")
    );
    assert_eq!(failed["status"]["conditions"][0]["type"], "SyncError");
}

#[tokio::test]
async fn listed_only_applications_stream_out_filtered_and_as_large_as_generated_ones() {
    let server = start(
        ArgoCd::new()
            .with_app(Application::new("web").project("payments"))
            .with_listed_apps(300),
    )
    .await
    .unwrap();
    let all = get(&server, "/api/v1/applications").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 301);
    assert_eq!(items[0]["metadata"]["name"], "web");
    let expected: Vec<Value> = generate(300).iter().map(Application::to_json).collect();
    assert_eq!(items[1..], expected[..]);
    check_definition("v1alpha1ApplicationList", &all).unwrap();
    let written = server.listed_bytes();
    assert_eq!(written, all.to_string().len() as u64);
    assert!(written > 300 * 10_000, "{written} bytes");

    let payments = get(
        &server,
        "/api/v1/applications?projects=payments&selector=env%3Dprod",
    )
    .await;
    let names: Vec<&str> = payments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["metadata"]["name"].as_str().unwrap())
        .collect();
    let wanted: Vec<&str> = expected
        .iter()
        .filter(|app| {
            app["spec"]["project"] == "payments" && app["metadata"]["labels"]["env"] == "prod"
        })
        .map(|app| app["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(names, wanted, "the stored `web` is not in prod");
    let none = get(&server, "/api/v1/applications?projects=nobody").await;
    assert_eq!(none["items"], json!([]));
    server.assert_no_violations();
}
