//! Managed resources, live manifests (bounded), resource actions over the v2 endpoint, events
//! and logs: requests, answers and the errors Argo CD reports.

use capstan_tests::fakes::argocd::Fault;
use serde_json::{Value, json};

use super::{Env, lines};

async fn first_pod(env: &Env, app: &str) -> Value {
    let pods = env
        .ok(
            "get_application_resource_tree",
            json!({"applicationName": app, "kind": "Pod"}),
        )
        .await;
    pods["nodes"][0].clone()
}

#[tokio::test]
async fn managed_resources_show_what_differs_from_git() {
    let env = Env::demo().await;
    let answer = env
        .ok(
            "get_application_managed_resources",
            json!({"applicationName": "helm-guestbook", "kind": "Deployment"}),
        )
        .await;
    assert_eq!(answer["modified"], 1);
    let row = &answer["resources"][0];
    assert_eq!(
        (row["kind"].as_str(), row["modified"].as_bool()),
        (Some("Deployment"), Some(true))
    );
    assert!(row["diff"].as_str().unwrap().contains("replicas"));
    assert!(row.get("liveState").is_none());
    let detail = env
        .ok(
            "get_application_managed_resources",
            json!({"applicationName": "helm-guestbook", "detail": true, "limit": 1}),
        )
        .await;
    assert!(
        detail["resources"][0]["liveState"]["metadata"].is_object(),
        "states are parsed, not strings"
    );
    assert_eq!(
        lines(&env.api())[0],
        "GET /api/v1/applications/helm-guestbook/managed-resources?kind=Deployment"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn get_resources_reads_named_objects_or_a_bounded_number() {
    let env = Env::demo().await;
    let named = env
        .ok("get_resources", json!({"applicationName": "guestbook", "applicationNamespace": "argocd",
                                    "resourceRefs": [{"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps"},
                                                     {"kind": "Secret", "name": "a/b?c=d&kind=Pod", "namespace": "guestbook"}]}))
        .await;
    assert_eq!(named["resources"][0]["manifest"]["kind"], "Deployment");
    assert!(
        named["resources"][1]["error"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{}",
        named["resources"][1]
    );
    let requests = env.argocd.requests();
    let hostile = requests
        .iter()
        .find(|r| r.query_values("kind") == ["Secret"])
        .expect("the Secret was asked for");
    assert_eq!(hostile.query_values("resourceName"), ["a/b?c=d&kind=Pod"]);
    assert_eq!(hostile.query_values("kind"), ["Secret"]);
    env.argocd.clear_journal();
    let bounded = env
        .ok(
            "get_resources",
            json!({"applicationName": "guestbook", "limit": 2}),
        )
        .await;
    assert_eq!(
        (
            bounded["resources"].as_array().unwrap().len(),
            bounded["omitted"].as_u64()
        ),
        (2, Some(7)),
        "the tree holds nine objects: the Deployment, its ReplicaSets and pods, the Service with \
         its Endpoints and EndpointSlice, and the ConfigMap"
    );
    let sent = lines(&env.api());
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], "GET /api/v1/applications/guestbook/resource-tree");
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn resource_actions_are_listed_and_run_with_parameters() {
    let env = Env::demo().await;
    let deployment = json!({"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps", "version": "v1"});
    let listed = env
        .ok(
            "get_resource_actions",
            json!({"applicationName": "guestbook", "resourceRef": deployment}),
        )
        .await;
    let scale = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "scale")
        .unwrap()
        .clone();
    assert_eq!(scale["params"], json!(["replicas"]));
    env.ok(
        "run_resource_action",
        json!({"applicationName": "guestbook", "resourceRef": deployment,
                                         "action": "scale", "parameters": {"replicas": 4}}),
    )
    .await;
    let sent = env.api().pop().unwrap();
    assert_eq!(
        sent.line(),
        "POST /api/v1/applications/guestbook/resource/actions/v2"
    );
    assert_eq!(
        sent.body,
        json!({"name": "guestbook", "namespace": "guestbook", "resourceName": "guestbook", "version": "v1",
                                 "group": "apps", "kind": "Deployment", "action": "scale",
                                 "resourceActionParameters": [{"name": "replicas", "value": "4"}]})
    );
    assert_eq!(env.argocd.actions_run()[0]["endpoint"], "v2");
    let disabled = env
        .fails(
            "run_resource_action",
            json!({"applicationName": "guestbook", "resourceRef": deployment, "action": "resume"}),
        )
        .await;
    assert!(disabled.contains("disabled"), "{disabled}");
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn events_of_the_application_and_of_one_object() {
    let env = Env::demo().await;
    let app_events = env
        .ok(
            "get_application_events",
            json!({"applicationName": "recommendations"}),
        )
        .await;
    assert!(
        app_events["events"][0]["object"]
            .as_str()
            .unwrap()
            .starts_with("Application/")
    );
    let pod = first_pod(&env, "kube-prometheus-stack").await;
    let events = env
        .ok("get_resource_events", json!({"applicationName": "kube-prometheus-stack", "resourceName": pod["name"],
                                          "resourceNamespace": pod["namespace"], "resourceUID": pod["uid"]}))
        .await;
    assert!(events["warnings"].as_u64().unwrap() >= 2);
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "OOMKilling"),
        "{events}"
    );
    let sent = env.api().pop().unwrap();
    assert_eq!(
        sent.query
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["resourceNamespace", "resourceName", "resourceUID"]
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn logs_pass_every_filter_and_report_stream_errors() {
    let env = Env::demo().await;
    let deployment = json!({"kind": "Deployment", "name": "recommendations", "namespace": "data", "group": "apps"});
    let logs = env
        .ok("get_application_workload_logs", json!({"applicationName": "recommendations", "applicationNamespace": "argocd",
                                                    "resourceRef": deployment, "container": "app", "tailLines": 3,
                                                    "sinceSeconds": 3600, "filter": "staging"}))
        .await;
    assert_eq!(logs["complete"], true);
    let texts: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        !texts.is_empty() && texts.iter().all(|t| t.contains("staging")),
        "{texts:?}"
    );
    let sent = env.api().pop().unwrap();
    assert_eq!(
        sent.line(),
        "GET /api/v1/applications/recommendations/logs?appNamespace=argocd&namespace=data&resourceName=recommendations&kind=Deployment&group=apps&container=app&tailLines=3&sinceSeconds=3600&filter=staging&follow=false"
    );
    let pod = first_pod(&env, "recommendations").await;
    let previous = env
        .ok(
            "get_application_workload_logs",
            json!({"applicationName": "recommendations", "podName": pod["name"], "previous": true}),
        )
        .await;
    assert!(
        previous["lines"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"attempt\":7"),
        "{previous}"
    );
    assert!(
        env.api()
            .pop()
            .unwrap()
            .path
            .ends_with(&format!("/pods/{}/logs", pod["name"].as_str().unwrap()))
    );
    let healthy_pod = first_pod(&env, "guestbook").await;
    let refused = env
        .fails("get_application_workload_logs", json!({"applicationName": "guestbook", "podName": healthy_pod["name"], "previous": true}))
        .await;
    assert!(
        refused.contains("previous terminated container"),
        "{refused}"
    );
    let wrong = env
        .fails(
            "get_application_workload_logs",
            json!({"applicationName": "guestbook", "container": "sidecar"}),
        )
        .await;
    assert!(
        wrong.contains("HTTP 400") && wrong.contains("sidecar"),
        "a 400 stream error is not swallowed: {wrong}"
    );
    env.argocd
        .inject("ApplicationService_PodLogs2", Fault::StreamError);
    let broken = env
        .ok(
            "get_application_workload_logs",
            json!({"applicationName": "guestbook"}),
        )
        .await;
    assert_eq!(broken["complete"], false);
    assert!(
        broken["error"].as_str().unwrap().contains("Unavailable"),
        "{broken}"
    );
    assert!(
        !broken["lines"].as_array().unwrap().is_empty(),
        "lines before the error are kept"
    );
    env.argocd.assert_no_violations();
}

#[tokio::test]
async fn a_hostile_pod_name_stays_in_its_own_path_segment() {
    let env = Env::demo().await;
    let message = env
        .fails(
            "get_application_workload_logs",
            json!({"applicationName": "guestbook", "podName": "../../projects/default"}),
        )
        .await;
    assert!(
        message.contains("HTTP 404 (gRPC code 5 NotFound)"),
        "{message}"
    );
    let request = &env.argocd.requests()[0];
    assert_eq!(
        request.path,
        "/argocd/api/v1/applications/guestbook/pods/..%2F..%2Fprojects%2Fdefault/logs"
    );
    env.argocd.assert_no_violations();
}
