//! set_image (GET + PUT, retried on conflict) and undo (JSON Patch), on a Rollout or its
//! workloadRef Deployment.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use super::*;

#[tokio::test]
async fn set_image_puts_the_whole_rollout_and_retries_a_conflict() {
    let s = setup().await;
    let gets = Arc::new(AtomicUsize::new(0));
    let counter = gets.clone();
    s.kube.react(move |store, event| {
        if event.verb == "get"
            && event.is_about("Rollout", "payments-worker")
            && counter.fetch_add(1, Ordering::SeqCst) == 0
        {
            store
                .update(
                    V1ALPHA1,
                    "Rollout",
                    "payments",
                    "payments-worker",
                    |rollout| {
                        rollout["metadata"]["annotations"] =
                            json!({"example.com/touched-by": "another-client"});
                    },
                )
                .unwrap();
        }
    });
    let result = s.ok("set_image", json!({"namespace": "payments", "name": "payments-worker", "container": "payments-worker", "image": "ghcr.io/example-org/payments-worker:2.14.0"})).await;
    assert_eq!(result["requests"].as_array().unwrap().len(), 2, "{result}");
    let path = format!("{ROLLOUTS}/payments/rollouts/payments-worker");
    let requests: Vec<(String, String)> = s
        .kube
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let expected: Vec<(String, String)> = ["GET", "PUT", "GET", "PUT"]
        .iter()
        .map(|method| (method.to_string(), path.clone()))
        .collect();
    assert_eq!(
        requests, expected,
        "a GET and a PUT, then both again after the 409"
    );
    let puts: Vec<RecordedRequest> = s
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts[0].content_type(), Some("application/json"));
    assert_ne!(
        puts[0].json()["metadata"]["resourceVersion"],
        puts[1].json()["metadata"]["resourceVersion"]
    );
    let rollout = s.rollout("payments", "payments-worker");
    assert_eq!(
        rollout["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example-org/payments-worker:2.14.0"
    );
    assert_eq!(
        rollout["metadata"]["annotations"]["example.com/touched-by"], "another-client",
        "the retry kept the other write"
    );
    assert_eq!(rollout["metadata"]["generation"], 10);
    let missing = s.error("set_image", json!({"namespace": "payments", "name": "payments-worker", "container": "sidecar", "image": "x:1"})).await;
    assert!(
        missing.contains("unable to find container named \"sidecar\"")
            && missing.contains("payments-worker"),
        "{missing}"
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn set_image_and_undo_change_the_workload_ref_deployment() {
    let s = setup().await;
    s.ok("set_image", json!({"namespace": "search", "name": "search-indexer", "container": "*", "image": "ghcr.io/example-org/search-indexer:1.5.0"})).await;
    let writes = s.writes();
    assert_eq!(
        (writes.len(), writes[0].0.as_str(), writes[0].1.as_str()),
        (
            1,
            "PUT",
            "/apis/apps/v1/namespaces/search/deployments/search-indexer"
        )
    );
    let deployment = s
        .kube
        .object("apps/v1", "Deployment", "search", "search-indexer")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example-org/search-indexer:1.5.0"
    );
    assert_eq!(deployment["metadata"]["generation"], 5);
    assert_eq!(
        s.rollout("search", "search-indexer")["metadata"]["generation"],
        3,
        "the Rollout itself is unchanged"
    );
    let undone = s
        .ok(
            "undo",
            json!({"namespace": "search", "name": "search-indexer", "to_revision": 3}),
        )
        .await;
    assert_eq!(undone["changed"], true);
    let last = s.writes().pop().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_deref()),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/search/deployments/search-indexer",
            Some("application/json-patch+json")
        )
    );
    let deployment = s
        .kube
        .object("apps/v1", "Deployment", "search", "search-indexer")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example-org/search-indexer:1.4.2"
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn undo_replaces_the_template_with_the_previous_revision() {
    let s = setup().await;
    let result = s
        .ok(
            "undo",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert_eq!(result["note"], "rolled back to the template of revision 8");
    let (method, path, content_type, body) = s.writes().pop().unwrap();
    assert_eq!(
        (method.as_str(), path.as_str(), content_type.as_deref()),
        (
            "PATCH",
            "/apis/argoproj.io/v1alpha1/namespaces/payments/rollouts/payments-worker",
            Some("application/json-patch+json")
        )
    );
    let template = &body[0]["value"];
    assert_eq!(
        (body[0]["op"].as_str(), body[0]["path"].as_str()),
        (Some("replace"), Some("/spec/template"))
    );
    assert_eq!(
        template["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "payments-worker"}),
        "the hash label is dropped"
    );
    let rollout = s.rollout("payments", "payments-worker");
    assert_eq!(rollout["spec"]["template"], *template);
    assert_eq!(
        rollout["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/example-org/payments-worker:2.13.3"
    );
    let again = s
        .ok(
            "undo",
            json!({"namespace": "payments", "name": "payments-worker", "to_revision": 8}),
        )
        .await;
    assert_eq!(again["changed"], false, "{again}");
    let unknown = s
        .error(
            "undo",
            json!({"namespace": "payments", "name": "payments-worker", "to_revision": 42}),
        )
        .await;
    assert!(
        unknown.contains("unable to find specified revision 42; the Rollout's revisions are: 9, 8"),
        "{unknown}"
    );
    let lonely = s
        .error(
            "undo",
            json!({"namespace": "search", "name": "search-indexer", "to_revision": 0}),
        )
        .await;
    assert!(lonely.contains("no rollout history found"), "{lonely}");
    s.kube.assert_no_violations();
}
