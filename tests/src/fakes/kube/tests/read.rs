//! Fixtures, gets, lists, discovery, logs and contract violations.

use super::*;

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
    let stored = cluster
        .object("argoproj.io/v1alpha1", "Rollout", "default", "web")
        .unwrap();
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
        ("/apis/apps/v1/widgets".to_owned(), 404),
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
        "/apis/argoproj.io/v1alpha1/analysisruns",
        "/apis/argoproj.io/v1alpha1/experiments",
        "/apis/argoproj.io/v1alpha1/analysistemplates",
        "/apis/apps/v1/replicasets",
        "/apis/apps/v1/deployments",
        "/api/v1/pods",
    ] {
        let (status, list) = get(&server, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!list["items"].as_array().unwrap().is_empty(), "{path}");
    }
    server.assert_no_violations();
}

fn pod(namespace: &str, name: &str, containers: &[&str]) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": format!("example/{c}:1")}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
           "spec": {"containers": containers}})
}

fn event(name: &str, kind: &str, object: &str, reason: &str, kind_of_event: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "shop"},
           "involvedObject": {"kind": kind, "name": object, "namespace": "shop"},
           "reason": reason, "type": kind_of_event, "message": "m"})
}

#[tokio::test]
async fn discovery_maps_kinds_to_plurals_and_subresources() {
    let server = start(cluster().without_crd("buckets.source.toolkit.fluxcd.io"))
        .await
        .unwrap();
    let (_, core) = get(&server, "/api").await;
    assert_eq!(core["versions"], json!(["v1"]));
    let (_, v1) = get(&server, "/api/v1").await;
    let names: Vec<&str> = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"pods") && names.contains(&"pods/log") && names.contains(&"namespaces"),
        "{names:?}"
    );
    let (_, argo) = get(&server, "/apis/argoproj.io/v1alpha1").await;
    let resources = argo["resources"].as_array().unwrap();
    let entry = |name: &str| resources.iter().find(|r| r["name"] == name).cloned();
    assert_eq!(entry("rollouts").unwrap()["kind"], "Rollout");
    assert_eq!(
        entry("rollouts/status").unwrap()["verbs"],
        json!(["get", "patch", "update"])
    );
    assert!(
        entry("analysisruns/status").is_none(),
        "AnalysisRuns have no status subresource"
    );
    assert_eq!(
        entry("clusteranalysistemplates").unwrap()["namespaced"],
        false
    );
    let (_, groups) = get(&server, "/apis").await;
    let groups: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"apps") && groups.contains(&"helm.toolkit.fluxcd.io"),
        "{groups:?}"
    );
    let (_, sources) = get(&server, "/apis/source.toolkit.fluxcd.io/v1").await;
    assert!(
        sources["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "buckets")
    );
    assert_eq!(get(&server, "/apis/example.com/v1").await.0, 404);
    server.assert_no_violations();
}

#[tokio::test]
async fn installed_crds_are_objects_with_their_installer_labels() {
    let server = start(cluster().without_crd("buckets.source.toolkit.fluxcd.io"))
        .await
        .unwrap();
    let (status, list) = get(
        &server,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?labelSelector=app.kubernetes.io%2Fpart-of%3Dflux",
    )
    .await;
    assert_eq!(status, 200);
    let names = names(&list);
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(!names.contains(&"buckets.source.toolkit.fluxcd.io"));
    let crd = &list["items"][0];
    assert_eq!(
        crd["metadata"]["labels"]["app.kubernetes.io/version"],
        "v2.9.0"
    );
    assert_eq!(
        get(&server, "/apis/source.toolkit.fluxcd.io/v1/buckets")
            .await
            .0,
        404
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn cluster_scoped_kinds_live_outside_namespaces() {
    let template = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate",
        "metadata": {"name": "error-rate"},
        "spec": {"metrics": [{"name": "errors", "provider": {"prometheus": {"query": "x"}}}]}});
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    let server = start(cluster().with(template).unwrap().with(namespace).unwrap())
        .await
        .unwrap();
    let (status, object) = get(
        &server,
        "/apis/argoproj.io/v1alpha1/clusteranalysistemplates/error-rate",
    )
    .await;
    assert_eq!((status, object["metadata"].get("namespace")), (200, None));
    assert_eq!(get(&server, "/api/v1/namespaces/shop").await.0, 200);
    server.assert_no_violations();
    let (status, _) = get(
        &server,
        "/apis/argoproj.io/v1alpha1/namespaces/shop/clusteranalysistemplates/error-rate",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(server.violations().len(), 1);
}

#[tokio::test]
async fn events_are_selected_by_involved_object_reason_and_type() {
    let cluster = cluster()
        .with(event("e1", "Rollout", "web", "RolloutPaused", "Normal"))
        .unwrap()
        .with(event("e2", "Rollout", "api", "RolloutAborted", "Warning"))
        .unwrap()
        .with(event("e3", "Pod", "web-1", "BackOff", "Warning"))
        .unwrap();
    let server = start(cluster).await.unwrap();
    let select = |selector: &str| {
        format!(
            "/api/v1/namespaces/shop/events?fieldSelector={}",
            url::form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
        )
    };
    let (_, list) = get(
        &server,
        &select("involvedObject.kind=Rollout,involvedObject.name=web"),
    )
    .await;
    assert_eq!(names(&list), ["e1"]);
    let (_, list) = get(&server, &select("type=Warning,reason!=BackOff")).await;
    assert_eq!(names(&list), ["e2"]);
    let (status, body) = get(
        &server,
        &format!("{ROLLOUTS}/rollouts?fieldSelector=spec.replicas%3D2"),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("field label not supported: spec.replicas"))
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn pod_logs_are_plain_text_filtered_like_the_real_server() {
    let lines = [
        ("2026-06-02T09:00:00Z", "starting"),
        ("2026-06-02T09:00:05Z", "listening on :8080"),
        ("2026-06-02T09:01:00Z", "GET /healthz 200"),
    ];
    let cluster = cluster()
        .with(pod("shop", "web-1", &["web"]))
        .unwrap()
        .with(pod("shop", "web-2", &["web", "proxy"]))
        .unwrap()
        .with_logs("shop", "web-1", "web", &lines);
    let server = start(cluster).await.unwrap();
    let url = server.base_url();
    let text = |path: String| {
        let url = format!("{url}{path}");
        async move {
            let response = client().get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let base = "/api/v1/namespaces/shop/pods";
    let (status, body) = text(format!("{base}/web-1/log")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "starting\nlistening on :8080\nGET /healthz 200\n")
    );
    let (_, body) = text(format!("{base}/web-1/log?tailLines=1&timestamps=true")).await;
    assert_eq!(body, "2026-06-02T09:01:00Z GET /healthz 200\n");
    let (_, body) = text(format!(
        "{base}/web-1/log?container=web&sinceTime=2026-06-02T09:00:05Z&limitBytes=9"
    ))
    .await;
    assert_eq!(body, "listening");
    let (status, body) = text(format!("{base}/web-2/log")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(
            "a container name must be specified for pod web-2, choose one of: [web proxy]"
        ),
        "{body}"
    );
    let (status, _) = text(format!("{base}/web-1/log?previous=true")).await;
    assert_eq!(status, 400);
    assert_eq!(text(format!("{base}/web-3/log")).await.0, 404);
    server.assert_no_violations();
    assert_eq!(text(format!("{base}/web-1/log?lines=3")).await.0, 400);
    assert_eq!(
        server.violations().len(),
        1,
        "an undeclared log parameter is a violation"
    );
}
