//! Errors that say what to do: missing objects and CRDs, RBAC denials, writes the API refuses,
//! refused egress, and hostile names.

use capstan_sdk::fixture::Fixture;
use capstan_sdk::http::HttpError;
use capstan_sdk::json;

use super::*;

#[test]
fn a_missing_rollout_is_named() {
    let path = rollout_path("payments", "nope");
    let fixture = fixture().on_status_json("GET", &path, 404, recorded!("rollout-nope.404.json"));
    let missing = error(
        &fixture,
        "get_rollout",
        json!({"namespace": "payments", "name": "nope"}),
    );
    assert_eq!(
        missing,
        "the Kubernetes API (target `prod`) answered HTTP 404 to get Rollout `payments/nope`: \
         rollouts.argoproj.io \"nope\" not found — Rollout `payments/nope` does not exist; check \
         the name and namespace, or list them first"
    );
    assert_eq!(fixture.request_lines(), [format!("GET {path}")]);
}

#[test]
fn an_uninstalled_crd_is_named() {
    let fixture = fixture().on_status_json(
        "GET",
        "/apis/argoproj.io/v1alpha1/rollouts",
        404,
        recorded!("not-served.404.json"),
    );
    let uninstalled = error(&fixture, "list_rollouts", json!({}));
    assert!(
        uninstalled.contains(
            "the rollouts.argoproj.io CRD (version v1alpha1) is not installed on target `prod`"
        ),
        "{uninstalled}"
    );
}

#[test]
fn a_denied_write_names_the_rbac_rule_to_grant() {
    let path = rollout_path("payments", "payments-api");
    let fixture = fixture().on_status_json(
        "PATCH",
        &format!("{path}/status"),
        403,
        recorded!("abort-payments-api.403.json"),
    );
    let denied = error(
        &fixture,
        "abort",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(
        denied,
        "the Kubernetes API (target `prod`) answered HTTP 403 to patch Rollout \
         `payments/payments-api` (status): rollouts.argoproj.io \"payments-api\" is forbidden: \
         User \"system:serviceaccount:capstan:capstan\" cannot patch resource \"rollouts/status\" \
         in API group \"argoproj.io\" in the namespace \"payments\" — the credentials of target \
         `prod` need RBAC verb `patch` on resource `rollouts/status` in API group `argoproj.io` \
         in namespace `payments`; ask the cluster admin to grant it"
    );
    assert_eq!(
        fixture.request_lines(),
        [format!("PATCH {path}/status")],
        "a denial is not a missing subresource: nothing falls back"
    );
}

#[test]
fn a_write_the_api_refuses_as_invalid_quotes_the_api() {
    let path = rollout_path("payments", "payments-worker");
    let history = "/apis/apps/v1/namespaces/payments/replicasets?limit=500&labelSelector=app.kubernetes.io%2Fname%3Dpayments-worker";
    let mut replica_sets = parsed(recorded!("replicasets-payments-worker.json"));
    for rs in replica_sets["items"].as_array_mut().unwrap() {
        rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!(7);
    }
    let fixture = fixture()
        .on_json("GET", &path, recorded!("rollout-payments-worker.json"))
        .on_json("GET", history, &replica_sets.to_string())
        .on_status_json(
            "PATCH",
            &path,
            422,
            recorded!("undo-payments-worker-invalid.422.json"),
        );
    let refused = error(
        &fixture,
        "undo",
        json!({"namespace": "payments", "name": "payments-worker"}),
    );
    assert!(
        refused.contains("HTTP 422")
            && refused.contains("imagePullPolicy: 7 is not of type \"string\"")
            && refused.contains("names the field and the rule"),
        "{refused}"
    );
}

#[test]
fn a_request_capstan_refuses_is_reported() {
    let path = rollout_path("payments", "payments-api");
    let fixture = fixture().on_error(
        "GET",
        &path,
        HttpError::Denied {
            url: format!("{KUBE}{path}"),
        },
    );
    let refused = error(
        &fixture,
        "get_rollout",
        json!({"namespace": "payments", "name": "payments-api"}),
    );
    assert_eq!(
        refused,
        format!(
            "capstan refused the request to {KUBE}{path}; its note in this result says why and \
             which targets are allowed"
        )
    );
}

#[test]
fn an_instance_without_targets_says_so() {
    let fixture = Fixture::new();
    let message = error(&fixture, "list_rollouts", json!({}));
    assert_eq!(
        message,
        "this instance has no targets; add a [[targets]] entry to its manifest"
    );
}

#[test]
fn hostile_names_stay_in_their_path_segment() {
    let encoded = rollout_path("payments", "x%2F..%2F..%2F..%2F..%2Fapi%2Fv1%2Fsecrets");
    let fixture =
        fixture().on_status_json("GET", &encoded, 404, recorded!("rollout-hostile.404.json"));
    let sneaky = error(
        &fixture,
        "get_rollout",
        json!({"namespace": "payments", "name": "x/../../../../api/v1/secrets"}),
    );
    assert!(sneaky.contains("HTTP 404"), "{sneaky}");
    assert_eq!(fixture.request_lines(), [format!("GET {encoded}")]);
}

#[test]
fn dot_names_are_refused_before_any_request() {
    let fixture = fixture().on_json(
        "GET",
        &format!("{ROLLOUTS}/search/analysisruns"),
        recorded!("analysisruns-search.json"),
    );
    for (tool, arguments, kind) in [
        (
            "abort",
            json!({"namespace": "payments", "name": ".."}),
            "Rollout",
        ),
        (
            "promote",
            json!({"namespace": "payments", "name": "."}),
            "Rollout",
        ),
        (
            "get_rollout",
            json!({"namespace": "payments", "name": ".."}),
            "Rollout",
        ),
        (
            "set_image",
            json!({"namespace": "payments", "name": "..", "container": "*", "image": "x:1"}),
            "Rollout",
        ),
        (
            "get_analysis_run",
            json!({"namespace": "search", "name": "."}),
            "AnalysisRun",
        ),
        (
            "terminate_experiment",
            json!({"namespace": "search", "name": ".."}),
            "Experiment",
        ),
    ] {
        let message = error(&fixture, tool, arguments.clone());
        let name = arguments["name"].as_str().unwrap();
        assert_eq!(
            message,
            format!(
                "`{name}` is not a valid {kind} name (Kubernetes forbids `.` and `..`); pass the \
                 object's metadata.name as the list tools show it"
            ),
            "{tool}"
        );
    }
    assert!(fixture.requests().is_empty(), "nothing reached the API");
    let owner = error(
        &fixture,
        "list_analysis_runs",
        json!({"namespace": "search", "rollout": ".."}),
    );
    assert!(
        owner.contains("`..` is not a valid Rollout name"),
        "{owner}"
    );
    assert_eq!(
        fixture.request_lines(),
        ["GET /apis/argoproj.io/v1alpha1/namespaces/search/analysisruns?limit=500"],
        "the Rollout named `..` is never read"
    );
}
