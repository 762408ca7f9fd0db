//! The fake Kubernetes API: fixture validation against the CRDs, lists, gets and errors.

use serde_json::{Value, json};

use super::*;
use crate::fakes::tests::client;

const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1";

fn rollout(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": format!("example/{name}:1.0")}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1m"}}]}},
        },
    })
}

fn cluster() -> Cluster {
    Cluster::new()
        .with(rollout("shop", "web"))
        .and_then(|cluster| cluster.with(rollout("shop", "api")))
        .and_then(|cluster| cluster.with(rollout("ops", "tools")))
        .unwrap()
}

async fn get(server: &FakeServer, path_and_query: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path_and_query}", server.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["metadata"]["name"].as_str().unwrap())
        .collect()
}

#[test]
fn an_invalid_rollout_fixture_is_rejected() {
    let mut wrong_type = rollout("shop", "web");
    wrong_type["spec"]["replicas"] = json!("two");
    let error = Cluster::new().with(wrong_type).unwrap_err().to_string();
    assert!(error.contains("/spec/replicas"), "{error}");

    let mut missing_container_name = rollout("shop", "web");
    missing_container_name["spec"]["template"]["spec"]["containers"][0] = json!({"image": "x"});
    assert!(Cluster::new().with(missing_container_name).is_err());

    let mut unknown_field = rollout("shop", "web");
    unknown_field["spec"]["strategy"]["canary"]["stepz"] = json!([]);
    let error = Cluster::new().with(unknown_field).unwrap_err().to_string();
    assert!(error.contains("stepz"), "{error}");
}

#[test]
fn invalid_flux_fixtures_are_rejected() {
    let kustomization = |spec: Value| {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps", "namespace": "flux-system"}, "spec": spec})
    };
    let source = json!({"kind": "GitRepository", "name": "flux-system"});
    let valid = json!({"interval": "10m", "prune": true, "sourceRef": source});
    assert!(Cluster::new().with(kustomization(valid)).is_ok());
    let missing_prune = json!({"interval": "10m", "sourceRef": source});
    assert!(Cluster::new().with(kustomization(missing_prune)).is_err());
    let bad_interval = json!({"interval": "ten minutes", "prune": true, "sourceRef": source});
    assert!(Cluster::new().with(kustomization(bad_interval)).is_err());
}

#[test]
fn fixtures_need_a_known_kind_a_valid_name_and_no_twin() {
    let mut wrong_version = rollout("shop", "web");
    wrong_version["apiVersion"] = json!("argoproj.io/v1beta1");
    assert!(Cluster::new().with(wrong_version).is_err());
    assert!(Cluster::new().with(rollout("shop", "Not_Valid")).is_err());
    assert!(cluster().with(rollout("shop", "web")).is_err());
}

#[test]
fn the_server_fills_in_metadata() {
    let mut object = rollout("shop", "web");
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    let cluster = Cluster::new().with(object).unwrap();
    let stored = cluster.objects().next().unwrap();
    assert_eq!(stored["metadata"]["namespace"], "default");
    assert!(
        stored["metadata"]["uid"].is_string() && stored["metadata"]["resourceVersion"].is_string()
    );
}

#[tokio::test]
async fn lists_by_namespace_or_everywhere_with_selectors() {
    let server = start(cluster()).await.unwrap();
    let (status, list) = get(&server, &format!("{ROLLOUTS}/rollouts")).await;
    assert_eq!((status, list["kind"].as_str()), (200, Some("RolloutList")));
    assert_eq!(names(&list), ["tools", "api", "web"]);
    let (_, list) = get(&server, &format!("{ROLLOUTS}/namespaces/shop/rollouts")).await;
    assert_eq!(names(&list), ["api", "web"]);
    let (_, list) = get(
        &server,
        &format!("{ROLLOUTS}/rollouts?labelSelector=app%20in%20(web,tools)"),
    )
    .await;
    assert_eq!(names(&list), ["tools", "web"]);
    let (_, list) = get(
        &server,
        &format!("{ROLLOUTS}/rollouts?fieldSelector=metadata.name%3Dapi"),
    )
    .await;
    assert_eq!(names(&list), ["api"]);
    server.assert_no_violations();
}

#[tokio::test]
async fn pages_with_limit_and_continue() {
    let server = start(cluster()).await.unwrap();
    let (_, first) = get(&server, &format!("{ROLLOUTS}/rollouts?limit=2")).await;
    assert_eq!(names(&first), ["tools", "api"]);
    let token = first["metadata"]["continue"].as_str().unwrap();
    let next = format!(
        "{ROLLOUTS}/rollouts?limit=2&continue={}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    let (_, second) = get(&server, &next).await;
    assert_eq!(names(&second), ["web"]);
    assert!(second["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn gets_one_object_or_a_not_found_status() {
    let server = start(cluster()).await.unwrap();
    let (status, object) = get(&server, &format!("{ROLLOUTS}/namespaces/shop/rollouts/web")).await;
    assert_eq!((status, object["kind"].as_str()), (200, Some("Rollout")));
    let (status, missing) = get(
        &server,
        &format!("{ROLLOUTS}/namespaces/shop/rollouts/nope"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(missing["kind"], "Status");
    assert_eq!(missing["reason"], "NotFound");
    assert_eq!(
        missing["message"],
        "rollouts.argoproj.io \"nope\" not found"
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn uninstalled_crds_answer_404_without_a_violation() {
    let server = start(cluster().without_crd("helmreleases.helm.toolkit.fluxcd.io"))
        .await
        .unwrap();
    let (status, body) = get(&server, "/apis/helm.toolkit.fluxcd.io/v2/helmreleases").await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("NotFound")));
    server.assert_no_violations();
}

#[tokio::test]
async fn contract_violations_are_answered_and_recorded() {
    let server = start(cluster()).await.unwrap();
    let cases = [
        (format!("{ROLLOUTS}/rollouts?namespace=shop"), 400),
        ("/apis/argoproj.io/v1beta1/rollouts".to_owned(), 404),
        ("/apis/apps/v1/deployments".to_owned(), 404),
        (
            format!("{ROLLOUTS}/namespaces/shop/rollouts/web?labelSelector=a"),
            400,
        ),
        (format!("{ROLLOUTS}/namespaces/shop/rollouts/%2E%2E"), 404),
    ];
    for (path, expected) in &cases {
        assert_eq!(get(&server, path).await.0, *expected, "{path}");
    }
    assert_eq!(server.violations().len(), cases.len());
}

#[tokio::test]
async fn serves_under_a_base_path_and_requires_a_token_when_set() {
    let server = start(
        cluster()
            .with_base_path("/k8s/clusters/c-1")
            .with_token("t0k3n"),
    )
    .await
    .unwrap();
    let url = format!("{}{ROLLOUTS}/rollouts", server.base_url());
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    let authorized = client()
        .get(&url)
        .bearer_auth("t0k3n")
        .send()
        .await
        .unwrap();
    assert_eq!(authorized.status(), 200);
    assert_eq!(
        server.requests().last().unwrap().path,
        "/k8s/clusters/c-1/apis/argoproj.io/v1alpha1/rollouts"
    );
}

#[tokio::test]
async fn the_demo_cluster_serves_every_kind() {
    let server = start(crate::fakes::demo::cluster()).await.unwrap();
    for path in [
        "/apis/argoproj.io/v1alpha1/rollouts",
        "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations",
        "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
        "/apis/source.toolkit.fluxcd.io/v1/gitrepositories",
        "/apis/source.toolkit.fluxcd.io/v1/helmrepositories",
    ] {
        let (status, list) = get(&server, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!list["items"].as_array().unwrap().is_empty(), "{path}");
    }
    server.assert_no_violations();
}
