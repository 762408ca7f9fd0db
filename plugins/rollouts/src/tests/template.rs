//! set_image (GET + PUT, retried on conflict) and undo (JSON Patch), on a Rollout or its
//! workloadRef Deployment.

use capstan_sdk::{Value, json};

use super::*;

const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/search/deployments/search-indexer";

fn history(namespace: &str, name: &str) -> String {
    format!(
        "/apis/apps/v1/namespaces/{namespace}/replicasets?limit=500&labelSelector=app.kubernetes.io%2Fname%3D{name}"
    )
}

/// The pod template of the recorded ReplicaSet of `revision`, without the controller's hash
/// label: what undo restores.
fn template_of(replica_sets: &str, revision: &str) -> Value {
    let replica_sets = parsed(replica_sets);
    let chosen = replica_sets["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| rs["metadata"]["annotations"]["rollout.argoproj.io/revision"] == revision)
        .expect("a ReplicaSet of that revision");
    let mut template = chosen["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("rollouts-pod-template-hash");
    template
}

fn image(object: &Value) -> &Value {
    &object["spec"]["template"]["spec"]["containers"][0]["image"]
}

#[test]
fn set_image_puts_the_whole_rollout_and_retries_a_conflict() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-payments-worker.json"))
        .on_json(
            "GET",
            &path,
            recorded!("rollout-payments-worker-touched.json"),
        )
        .on_status_json(
            "PUT",
            &path,
            409,
            recorded!("conflict-payments-worker.409.json"),
        )
        .on_json("PUT", &path, recorded!("set-image-payments-worker.json"));
    let result = ok(
        &fixture,
        "set_image",
        json!({"namespace": "payments", "name": "payments-worker", "container": "payments-worker",
               "image": "ghcr.io/example-org/payments-worker:2.14.0"}),
    );
    assert_eq!(
        result["requests"],
        json!([
            "PUT rollouts/payments-worker (resourceVersion 1022): 409 Conflict, retried",
            "PUT rollouts/payments-worker (resourceVersion 1075)"
        ])
    );
    assert_eq!(
        (result["changed"].as_bool(), result["action"].as_str()),
        (Some(true), Some("set_image"))
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {path}"),
            format!("PUT {path}"),
            format!("GET {path}"),
            format!("PUT {path}"),
        ],
        "a GET and a PUT, then both again after the 409"
    );
    let puts: Vec<_> = fixture
        .requests()
        .into_iter()
        .filter(|sent| sent.method == "PUT")
        .collect();
    assert_eq!(puts[0].header("content-type"), Some("application/json"));
    let (first, second) = (puts[0].json(), puts[1].json());
    assert_eq!(
        (
            first["metadata"]["resourceVersion"].as_str(),
            second["metadata"]["resourceVersion"].as_str()
        ),
        (Some("1022"), Some("1075")),
        "each PUT carries the resourceVersion it read"
    );
    for body in [&first, &second] {
        assert_eq!(image(body), "ghcr.io/example-org/payments-worker:2.14.0");
    }
    assert_eq!(
        second["metadata"]["annotations"]["example.com/touched-by"], "another-client",
        "the retry keeps the other client's write"
    );
    let mut expected = parsed(recorded!("rollout-payments-worker-touched.json"));
    expected["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("ghcr.io/example-org/payments-worker:2.14.0");
    assert_eq!(
        second, expected,
        "the whole object as read, with only the image changed"
    );
}

#[test]
fn set_image_gives_up_after_five_conflicts() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-payments-worker.json"))
        .on_status_json(
            "PUT",
            &path,
            409,
            recorded!("conflict-payments-worker.409.json"),
        );
    let message = error(
        &fixture,
        "set_image",
        json!({"namespace": "payments", "name": "payments-worker", "container": "*", "image": "x:1"}),
    );
    assert!(
        message.contains("HTTP 409")
            && message.contains("Rollout `payments/payments-worker` changed while this call was updating it; call the tool again"),
        "{message}"
    );
    assert_eq!(fixture.requests().len(), 10, "five GETs and five PUTs");
}

#[test]
fn set_image_names_the_containers_when_none_matches() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture().on_json("GET", &path, recorded!("rollout-payments-worker.json"));
    let missing = error(
        &fixture,
        "set_image",
        json!({"namespace": "payments", "name": "payments-worker", "container": "sidecar", "image": "x:1"}),
    );
    assert_eq!(
        missing,
        "unable to find container named \"sidecar\"; the Rollout has: payments-worker"
    );
    assert_eq!(fixture.request_lines(), [format!("GET {path}")]);
}

#[test]
fn set_image_changes_the_workload_ref_deployment() {
    let path = rollout_path("search", "search-indexer");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-search-indexer.json"))
        .on_json(
            "GET",
            DEPLOYMENT,
            recorded!("deployment-search-indexer.json"),
        )
        .on_json(
            "PUT",
            DEPLOYMENT,
            recorded!("set-image-search-indexer.json"),
        );
    let result = ok(
        &fixture,
        "set_image",
        json!({"namespace": "search", "name": "search-indexer", "container": "*",
               "image": "ghcr.io/example-org/search-indexer:1.5.0"}),
    );
    assert_eq!(
        result["requests"],
        json!(["PUT deployments/search-indexer (resourceVersion 1048)"])
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {path}"),
            format!("GET {DEPLOYMENT}"),
            format!("PUT {DEPLOYMENT}"),
            format!("GET {path}"),
        ],
        "the Rollout itself is only read, before and after"
    );
    let put = writes(&fixture).remove(0);
    let mut expected = parsed(recorded!("deployment-search-indexer.json"));
    expected["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("ghcr.io/example-org/search-indexer:1.5.0");
    assert_eq!(
        put,
        (
            "PUT".to_owned(),
            DEPLOYMENT.to_owned(),
            Some("application/json".to_owned()),
            expected
        )
    );
}

#[test]
fn undo_patches_the_workload_ref_deployment() {
    let path = rollout_path("search", "search-indexer");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-search-indexer.json"))
        .on_json(
            "GET",
            &history("search", "search-indexer"),
            recorded!("replicasets-search-indexer.json"),
        )
        // After a set_image: the template differs from revision 3's.
        .on_json(
            "GET",
            DEPLOYMENT,
            recorded!("set-image-search-indexer.json"),
        )
        .on_json("PATCH", DEPLOYMENT, recorded!("undo-search-indexer.json"));
    let undone = ok(
        &fixture,
        "undo",
        json!({"namespace": "search", "name": "search-indexer", "toRevision": 3}),
    );
    assert_eq!(
        (undone["changed"].as_bool(), undone["note"].as_str()),
        (
            Some(true),
            Some("rolled back to the template of revision 3")
        )
    );
    let template = template_of(recorded!("replicasets-search-indexer.json"), "3");
    assert_eq!(
        image(&json!({"spec": {"template": template}})),
        "ghcr.io/example-org/search-indexer:1.4.2"
    );
    assert_eq!(
        writes(&fixture),
        [(
            "PATCH".to_owned(),
            DEPLOYMENT.to_owned(),
            Some("application/json-patch+json".to_owned()),
            json!([{"op": "replace", "path": "/spec/template", "value": template}])
        )]
    );
    assert_eq!(
        fixture.request_lines(),
        [
            format!("GET {path}"),
            format!("GET {}", history("search", "search-indexer")),
            format!("GET {DEPLOYMENT}"),
            format!("PATCH {DEPLOYMENT}"),
            format!("GET {path}"),
        ]
    );
}

#[test]
fn undo_replaces_the_template_with_the_previous_revision() {
    let path = rollout_path("payments", "payments-worker");
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-payments-worker.json"))
        .on_json("GET", &path, recorded!("undo-payments-worker.json"))
        .on_json(
            "GET",
            &history("payments", "payments-worker"),
            recorded!("replicasets-payments-worker.json"),
        )
        .on_json("PATCH", &path, recorded!("undo-payments-worker.json"));
    let result = ok(
        &fixture,
        "undo",
        json!({"namespace": "payments", "name": "payments-worker"}),
    );
    assert_eq!(result["note"], "rolled back to the template of revision 8");
    assert_eq!(
        result["requests"],
        json!([
            "PATCH rollouts/payments-worker (json-patch) replace /spec/template with revision 8"
        ])
    );
    let template = template_of(recorded!("replicasets-payments-worker.json"), "8");
    assert_eq!(
        template["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "payments-worker"}),
        "the hash label is dropped"
    );
    assert_eq!(
        image(&json!({"spec": {"template": template}})),
        "ghcr.io/example-org/payments-worker:2.13.3"
    );
    assert_eq!(
        writes(&fixture),
        [(
            "PATCH".to_owned(),
            path.clone(),
            Some("application/json-patch+json".to_owned()),
            json!([{"op": "replace", "path": "/spec/template", "value": template}])
        )]
    );
    let again = ok(
        &fixture,
        "undo",
        json!({"namespace": "payments", "name": "payments-worker", "toRevision": 8}),
    );
    assert_eq!(
        (again["changed"].as_bool(), again["note"].as_str()),
        (
            Some(false),
            Some("skipped rollback: the current template already matches revision 8")
        ),
        "{again}"
    );
    assert_eq!(writes(&fixture).len(), 1, "nothing more was written");
}

#[test]
fn undo_names_the_revisions_there_are() {
    let fixture = fixture()
        .on_json(
            "GET",
            &rollout_path("payments", "payments-worker"),
            recorded!("rollout-payments-worker.json"),
        )
        .on_json(
            "GET",
            &history("payments", "payments-worker"),
            recorded!("replicasets-payments-worker.json"),
        )
        .on_json(
            "GET",
            &rollout_path("search", "search-indexer"),
            recorded!("rollout-search-indexer.json"),
        )
        .on_json(
            "GET",
            &history("search", "search-indexer"),
            recorded!("replicasets-search-indexer.json"),
        );
    let unknown = error(
        &fixture,
        "undo",
        json!({"namespace": "payments", "name": "payments-worker", "toRevision": 42}),
    );
    assert_eq!(
        unknown,
        "unable to find specified revision 42; the Rollout's revisions are: 9, 8"
    );
    let lonely = error(
        &fixture,
        "undo",
        json!({"namespace": "search", "name": "search-indexer", "toRevision": 0}),
    );
    assert_eq!(
        lonely,
        "no rollout history found: the Rollout owns no earlier ReplicaSet to go back to"
    );
    assert!(writes(&fixture).is_empty());
}
