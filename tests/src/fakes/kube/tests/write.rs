//! Creates, updates, patches, deletes, the status subresource, reactors and RBAC denials.

use super::*;

const WEB: &str = "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web";
const MERGE: Option<&str> = Some("application/merge-patch+json");
const JSON_PATCH: Option<&str> = Some("application/json-patch+json");
const JSON: Option<&str> = Some("application/json");

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "example/web:1"},
                                                         {"name": "proxy", "image": "example/proxy:1"}]}}}})
}

fn stored(server: &KubeServer) -> Value {
    server
        .object("argoproj.io/v1alpha1", "Rollout", "shop", "web")
        .unwrap()
}

#[tokio::test]
async fn creates_and_refuses_a_twin() {
    let server = start(cluster()).await.unwrap();
    let (status, created) = send(
        &server,
        "POST",
        &format!("{ROLLOUTS}/namespaces/shop/rollouts?fieldManager=t"),
        JSON,
        rollout("shop", "new"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].is_string());
    let (status, twin) = send(
        &server,
        "POST",
        &format!("{ROLLOUTS}/namespaces/shop/rollouts"),
        JSON,
        rollout("shop", "new"),
    )
    .await;
    assert_eq!(
        (status, twin["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    assert_eq!(
        twin["message"],
        "rollouts.argoproj.io \"new\" already exists"
    );
    let (status, _) = send(
        &server,
        "POST",
        &format!("{ROLLOUTS}/namespaces/shop/rollouts?dryRun=All"),
        JSON,
        rollout("shop", "dry"),
    )
    .await;
    assert_eq!(status, 201);
    assert!(
        server
            .object("argoproj.io/v1alpha1", "Rollout", "shop", "dry")
            .is_none()
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let server = start(cluster()).await.unwrap();
    let mut object = stored(&server);
    object["spec"]["replicas"] = json!(3);
    let (status, updated) = send(&server, "PUT", WEB, JSON, object.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        object["metadata"]["resourceVersion"]
    );
    object["spec"]["replicas"] = json!(4);
    let (status, conflict) = send(&server, "PUT", WEB, JSON, object.clone()).await;
    assert_eq!(
        (status, conflict["reason"].as_str()),
        (409, Some("Conflict"))
    );
    assert_eq!(
        conflict["message"],
        "Operation cannot be fulfilled on rollouts.argoproj.io \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(stored(&server)["spec"]["replicas"], 3);
    server.assert_no_violations();
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    assert_eq!(send(&server, "PUT", WEB, JSON, object).await.0, 422);
    assert_eq!(
        server.violations().len(),
        1,
        "a custom resource PUT needs a resourceVersion"
    );
}

#[tokio::test]
async fn the_status_subresource_splits_spec_and_status_writes() {
    let server = start(cluster()).await.unwrap();
    let before = stored(&server);
    let (status, _) = send(
        &server,
        "PATCH",
        WEB,
        MERGE,
        json!({"status": {"abort": true}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        stored(&server),
        before,
        "status in a main-resource write is ignored: a no-op"
    );
    let (_, written) = send(&server, "PATCH", &format!("{WEB}/status"), MERGE,
        json!({"spec": {"paused": true}, "status": {"abort": true}, "metadata": {"labels": {"x": "y"}}})).await;
    assert_eq!(written["status"]["abort"], true);
    assert!(
        written["spec"].get("paused").is_none(),
        "spec in a status write is ignored"
    );
    assert!(written["metadata"]["labels"].get("x").is_none());
    assert_eq!(
        written["metadata"]["generation"], 1,
        "a status write keeps the generation"
    );
    assert_ne!(
        written["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    let (_, written) = send(
        &server,
        "PATCH",
        WEB,
        MERGE,
        json!({"spec": {"paused": true}, "metadata": {"annotations": {"a": "b"}}}),
    )
    .await;
    assert_eq!(
        (
            written["spec"]["paused"].as_bool(),
            written["metadata"]["generation"].as_u64()
        ),
        (Some(true), Some(2))
    );
    let (_, written) = send(
        &server,
        "PATCH",
        WEB,
        MERGE,
        json!({"metadata": {"annotations": {"a": "c"}}}),
    )
    .await;
    assert_eq!(
        written["metadata"]["generation"], 2,
        "a metadata change keeps the generation"
    );
    assert_eq!(written["status"]["abort"], true);
    server.assert_no_violations();
}

#[tokio::test]
async fn json_patch_applies_tests_and_fails_whole() {
    let server = start(cluster()).await.unwrap();
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "example/web:0.9"}]}});
    let patch = json!([{"op": "test", "path": "/spec/replicas", "value": 2},
                       {"op": "replace", "path": "/spec/template", "value": template}]);
    let (status, written) = send(&server, "PATCH", WEB, JSON_PATCH, patch).await;
    assert_eq!(status, 200);
    assert_eq!(
        written["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/web:0.9"
    );
    let failing = json!([{"op": "test", "path": "/spec/replicas", "value": 5}, {"op": "remove", "path": "/spec/replicas"}]);
    let (status, body) = send(&server, "PATCH", WEB, JSON_PATCH, failing).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            422,
            Some("testing value /spec/replicas failed: test failed")
        )
    );
    assert_eq!(stored(&server)["spec"]["replicas"], 2);
    server.assert_no_violations();
}

#[tokio::test]
async fn strategic_merge_is_for_built_in_kinds_only() {
    let server = start(cluster().with(deployment()).unwrap()).await.unwrap();
    let strategic = Some("application/strategic-merge-patch+json");
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "example/web:2"}]}}}});
    let (status, written) = send(
        &server,
        "PATCH",
        "/apis/apps/v1/namespaces/shop/deployments/web",
        strategic,
        patch.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let containers = &written["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        (
            containers[0]["image"].as_str(),
            containers[1]["image"].as_str()
        ),
        (Some("example/web:2"), Some("example/proxy:1"))
    );
    server.assert_no_violations();
    let (status, body) = send(&server, "PATCH", WEB, strategic, patch).await;
    assert_eq!(status, 415);
    assert_eq!(
        body["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    assert_eq!(server.violations().len(), 1);
}

#[tokio::test]
async fn a_write_that_breaks_the_schema_is_refused_and_recorded() {
    let server = start(cluster()).await.unwrap();
    let before = stored(&server);
    let (status, body) = send(
        &server,
        "PATCH",
        WEB,
        MERGE,
        json!({"spec": {"replicas": "three"}}),
    )
    .await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("Invalid")));
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Rollout.argoproj.io \"web\" is invalid: /spec/replicas"),
        "{body}"
    );
    let (status, _) = send(
        &server,
        "PATCH",
        &format!("{WEB}/status"),
        MERGE,
        json!({"status": {"promoteFull": "yes"}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(stored(&server), before);
    assert_eq!(server.violations().len(), 2);
}

#[tokio::test]
async fn methods_params_and_media_types_follow_the_contract() {
    let server = start(cluster()).await.unwrap();
    assert_eq!(
        send(&server, "PATCH", WEB, Some("text/plain"), json!({}))
            .await
            .0,
        415
    );
    assert_eq!(
        send(&server, "POST", WEB, JSON, rollout("shop", "web"))
            .await
            .0,
        405
    );
    assert_eq!(
        send(
            &server,
            "PATCH",
            &format!("{WEB}?force=true&dryRun=All&fieldManager=x"),
            MERGE,
            json!({})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        send(
            &server,
            "PATCH",
            &format!("{WEB}?validate=true"),
            MERGE,
            json!({})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(&server, "PUT", WEB, MERGE, stored(&server)).await.0,
        415
    );
    assert_eq!(server.violations().len(), 4, "{:?}", server.violations());
    let (status, _) = send(
        &server,
        "PATCH",
        "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/nope",
        MERGE,
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        server.violations().len(),
        4,
        "a missing object is not a violation"
    );
}

#[tokio::test]
async fn deletes_objects() {
    let server = start(cluster().with(deployment()).unwrap()).await.unwrap();
    let (status, body) = send(&server, "DELETE", WEB, None, Value::Null).await;
    assert_eq!((status, body["kind"].as_str()), (200, Some("Rollout")));
    assert_eq!(send(&server, "DELETE", WEB, None, Value::Null).await.0, 404);
    let (_, body) = send(
        &server,
        "DELETE",
        "/apis/apps/v1/namespaces/shop/deployments/web?propagationPolicy=Foreground",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(
        (body["kind"].as_str(), body["status"].as_str()),
        (Some("Status"), Some("Success"))
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn reactors_simulate_controllers() {
    let server = start(cluster()).await.unwrap();
    server.react(|store, event| {
        if event.is_write()
            && event.is_about("Rollout", "web")
            && event.subresource.as_deref() == Some("status")
        {
            store
                .update(
                    "argoproj.io/v1alpha1",
                    "Rollout",
                    "shop",
                    "web",
                    |rollout| {
                        rollout["status"]["phase"] = json!("Degraded");
                        rollout["status"]["message"] =
                            json!("RolloutAborted: Rollout aborted update to revision 2");
                    },
                )
                .unwrap();
        }
    });
    send(
        &server,
        "PATCH",
        &format!("{WEB}/status"),
        MERGE,
        json!({"status": {"abort": true}}),
    )
    .await;
    let (_, object) = get(&server, WEB).await;
    assert_eq!(
        (
            object["status"]["abort"].as_bool(),
            object["status"]["phase"].as_str()
        ),
        (Some(true), Some("Degraded"))
    );
    let request = &server.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.content_type()),
        ("PATCH", Some("application/merge-patch+json"))
    );
    assert_eq!(request.json(), json!({"status": {"abort": true}}));
    server.assert_no_violations();
}

#[tokio::test]
async fn rbac_denials_name_the_verb_and_resource() {
    let server = start(cluster().forbidding("patch", "rollouts/status"))
        .await
        .unwrap();
    let (status, body) = send(
        &server,
        "PATCH",
        &format!("{WEB}/status"),
        MERGE,
        json!({"status": {"abort": true}}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body["message"],
        "rollouts.argoproj.io \"web\" is forbidden: User \"system:serviceaccount:capstan:capstan\" cannot patch resource \"rollouts/status\" in API group \"argoproj.io\" in the namespace \"shop\""
    );
    assert_eq!(
        send(
            &server,
            "PATCH",
            WEB,
            MERGE,
            json!({"spec": {"paused": true}})
        )
        .await
        .0,
        200
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn a_patch_may_guard_on_resource_version_and_a_create_may_generate_a_name() {
    let server = start(cluster()).await.unwrap();
    let version = stored(&server)["metadata"]["resourceVersion"].clone();
    let guarded = json!({"metadata": {"resourceVersion": version}, "spec": {"paused": true}});
    assert_eq!(
        send(&server, "PATCH", WEB, MERGE, guarded.clone()).await.0,
        200
    );
    let (status, body) = send(&server, "PATCH", WEB, MERGE, guarded).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("Conflict")));
    let mut generated = rollout("shop", "unused");
    generated["metadata"] = json!({"generateName": "web-", "namespace": "shop"});
    let (status, created) = send(
        &server,
        "POST",
        &format!("{ROLLOUTS}/namespaces/shop/rollouts"),
        JSON,
        generated,
    )
    .await;
    let name = created["metadata"]["name"].as_str().unwrap();
    assert_eq!((status, name.len()), (201, "web-".len() + 5));
    assert!(
        server
            .object("argoproj.io/v1alpha1", "Rollout", "shop", name)
            .is_some()
    );
    server.assert_no_violations();
}

#[tokio::test]
async fn without_a_status_subresource_status_is_written_through_the_main_resource() {
    let server = start(cluster().without_status_subresource("rollouts.argoproj.io"))
        .await
        .unwrap();
    let (status, _) = send(
        &server,
        "PATCH",
        &format!("{WEB}/status"),
        MERGE,
        json!({"status": {"abort": true}}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, written) = send(
        &server,
        "PATCH",
        WEB,
        MERGE,
        json!({"status": {"abort": true}}),
    )
    .await;
    assert_eq!(
        (
            written["status"]["abort"].as_bool(),
            written["metadata"]["generation"].as_u64()
        ),
        (Some(true), Some(2))
    );
    let (_, argo) = get(&server, "/apis/argoproj.io/v1alpha1").await;
    assert!(
        argo["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "rollouts/status")
    );
    server.assert_no_violations();
}
