//! Errors that say what to do, writes the API refuses, and hostile names.

use serde_json::json;

use super::*;

#[tokio::test]
async fn errors_say_what_is_missing_or_denied() {
    let s = setup_with(
        demo::cluster().forbidding("patch", "rollouts/status"),
        false,
    )
    .await;
    let missing = s
        .error(
            "get_rollout",
            json!({"namespace": "payments", "name": "nope"}),
        )
        .await;
    assert!(
        missing.contains("HTTP 404") && missing.contains("Rollout `payments/nope` does not exist"),
        "{missing}"
    );
    let denied = s
        .error(
            "abort",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert!(denied.contains("need RBAC verb `patch` on resource `rollouts/status` in API group `argoproj.io` in namespace `payments`"), "{denied}");
    assert_eq!(
        s.rollout("payments", "payments-api")["status"].get("abort"),
        None
    );
    s.kube.assert_no_violations();
    let without = setup_with(demo::cluster().without_crd("rollouts.argoproj.io"), true).await;
    let uninstalled = without.error("list_rollouts", json!({})).await;
    assert!(
        uninstalled.contains(
            "the rollouts.argoproj.io CRD (version v1alpha1) is not installed on target `prod`"
        ),
        "{uninstalled}"
    );
    without.kube.assert_no_violations();
}

#[tokio::test]
async fn a_write_the_api_refuses_as_invalid_is_reported_and_recorded() {
    let mut cluster = demo::cluster();
    cluster
        .update(
            "apps/v1",
            "ReplicaSet",
            "payments",
            "payments-worker-4b7c9d6f5",
            |rs| {
                rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!(7);
            },
        )
        .unwrap();
    let s = setup_with(cluster, false).await;
    let refused = s
        .error(
            "undo",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert!(
        refused.contains("HTTP 422")
            && refused.contains("is invalid")
            && refused.contains("names the field and the rule"),
        "{refused}"
    );
    assert_eq!(
        s.rollout("payments", "payments-worker")["metadata"]["generation"],
        9,
        "nothing was stored"
    );
    let violations = s.kube.violations();
    assert_eq!(
        violations.len(),
        1,
        "the real server would refuse it too: {violations:?}"
    );
    assert!(
        violations[0].reason.contains("imagePullPolicy"),
        "{}",
        violations[0]
    );
    s.kube.clear_journal();
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn hostile_names_stay_in_their_path_segment() {
    let s = setup().await;
    let sneaky = s
        .error(
            "get_rollout",
            json!({"namespace": "payments", "name": "x/../../../../api/v1/secrets"}),
        )
        .await;
    assert!(sneaky.contains("HTTP 404"), "{sneaky}");
    assert_eq!(
        s.gets(),
        [
            "/apis/argoproj.io/v1alpha1/namespaces/payments/rollouts/x%2F..%2F..%2F..%2F..%2Fapi%2Fv1%2Fsecrets"
        ]
    );
    let dots = s
        .error("abort", json!({"namespace": "payments", "name": ".."}))
        .await;
    assert!(dots.contains("not a Kubernetes object name"), "{dots}");
    let bad_namespace = s
        .client
        .call(
            "rollouts_abort",
            json!({"namespace": "../kube-system", "name": "web"}),
        )
        .await;
    assert!(bad_namespace.is_err() || is_error(bad_namespace.as_ref().unwrap()));
    assert_eq!(s.kube.requests().len(), 1, "nothing else reached the API");
    s.kube.assert_no_violations();
}
