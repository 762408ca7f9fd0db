//! Managed resources, live manifests (bounded, several at once), resource actions over the v2
//! endpoint, events and logs: the requests, the answers and the errors Argo CD reports.

use capstan_sdk::{Value, json};

use super::{argocd, fails, ok, recorded};

const GUESTBOOK: &str = "/api/v1/applications/guestbook";

#[test]
fn managed_resources_show_what_differs_from_git() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/helm-guestbook/managed-resources?kind=Deployment",
            recorded!("resources/helm-guestbook-managed-deployment.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/helm-guestbook/managed-resources",
            recorded!("resources/helm-guestbook-managed.json"),
        );
    let answer = ok(
        &fixture,
        "get_application_managed_resources",
        json!({"applicationName": "helm-guestbook", "kind": "Deployment"}),
    );
    assert_eq!(answer["modified"], 1);
    let row = &answer["resources"][0];
    assert_eq!(
        (
            row["kind"].as_str(),
            row["name"].as_str(),
            row["modified"].as_bool()
        ),
        (Some("Deployment"), Some("helm-guestbook"), Some(true))
    );
    assert!(row["diff"].as_str().unwrap().contains("replicas"), "{row}");
    assert!(row.get("liveState").is_none() && row.get("missingLive").is_none());
    let detail = ok(
        &fixture,
        "get_application_managed_resources",
        json!({"applicationName": "helm-guestbook", "detail": true, "limit": 1, "project": "default"}),
    );
    assert!(
        detail["resources"][0]["liveState"]["metadata"].is_object(),
        "states are parsed, not strings"
    );
    assert_eq!(
        (
            detail["total"].as_u64(),
            detail["returned"].as_u64(),
            detail["modified"].as_u64()
        ),
        (Some(3), Some(1), Some(1)),
        "`modified` counts every object, not just the page"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/helm-guestbook/managed-resources?kind=Deployment",
            "GET /api/v1/applications/helm-guestbook/managed-resources?project=default"
        ]
    );
}

#[test]
fn get_resources_reads_named_objects_and_reports_each_failure_apart() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource?appNamespace=argocd&namespace=guestbook&resourceName=guestbook&version=v1&group=apps&kind=Deployment",
            recorded!("resources/guestbook-deployment.json"),
        )
        .on_status_json(
            "GET",
            "/api/v1/applications/guestbook/resource?appNamespace=argocd&namespace=guestbook&resourceName=a%2Fb%3Fc%3Dd%26kind%3DPod&version=v1&kind=Secret",
            404,
            recorded!("resources/secret-404.json"),
        );
    let named = ok(
        &fixture,
        "get_resources",
        json!({"applicationName": "guestbook", "applicationNamespace": "argocd",
               "resourceRefs": [{"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps"},
                                {"kind": "Secret", "name": "a/b?c=d&kind=Pod", "namespace": "guestbook"}]}),
    );
    let resources = named["resources"].as_array().unwrap();
    assert_eq!(resources[0]["ref"], "Deployment/guestbook/guestbook");
    assert_eq!(resources[0]["manifest"]["kind"], "Deployment");
    assert_eq!(resources[1]["ref"], "Secret/guestbook/a/b?c=d&kind=Pod");
    let error = resources[1]["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 404")
            && error.ends_with(
                "Secret/guestbook/a/b?c=d&kind=Pod is not part of application guestbook; check get_application_resource_tree."
            ),
        "{error}"
    );
    assert!(named.get("omitted").is_none());
    assert_eq!(fixture.requests().len(), 2);
    let refused = fails(
        &fixture,
        "get_resources",
        json!({"applicationName": "guestbook", "resourceRefs": [{"kind": "Deployment", "name": ""}]}),
    );
    assert_eq!(
        refused,
        "a resource reference needs at least `kind` and `name`; take them from get_application_resource_tree"
    );
    assert_eq!(fixture.requests().len(), 2);
}

#[test]
fn get_resources_without_refs_reads_a_bounded_number_of_the_trees_objects() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource-tree",
            recorded!("tree/guestbook.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource?namespace=guestbook&resourceName=guestbook&version=v1&group=apps&kind=Deployment",
            recorded!("resources/guestbook-node-0.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource?namespace=guestbook&resourceName=guestbook-41342c38f7&version=v1&group=apps&kind=ReplicaSet",
            recorded!("resources/guestbook-node-1.json"),
        );
    let bounded = ok(
        &fixture,
        "get_resources",
        json!({"applicationName": "guestbook", "limit": 2}),
    );
    let refs: Vec<&str> = bounded["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        refs,
        [
            "Deployment/guestbook/guestbook",
            "ReplicaSet/guestbook/guestbook-41342c38f7"
        ]
    );
    assert_eq!(
        bounded["omitted"], 7,
        "the tree holds nine objects: the Deployment, its ReplicaSets and pods, the Service with \
         its Endpoints and EndpointSlice, and the ConfigMap"
    );
    assert_eq!(bounded["resources"][1]["manifest"]["kind"], "ReplicaSet");
    assert_eq!(
        fixture.request_lines()[0],
        "GET /api/v1/applications/guestbook/resource-tree"
    );
    assert_eq!(fixture.requests().len(), 3);
}

#[test]
fn get_resources_reads_more_objects_than_fit_in_one_batch_in_order() {
    let manifest = |name: &str| {
        json!({"manifest": json!({"kind": "ConfigMap", "metadata": {"name": name, "managedFields": [{}]}}).to_string()})
            .to_string()
    };
    let mut fixture = argocd();
    let mut refs = Vec::new();
    for n in 0..6 {
        let name = format!("config-{n}");
        fixture = fixture.on_json(
            "GET",
            &format!("{GUESTBOOK}/resource?namespace=guestbook&resourceName={name}&version=v1&kind=ConfigMap"),
            &manifest(&name),
        );
        refs.push(json!({"kind": "ConfigMap", "name": name, "namespace": "guestbook"}));
    }
    let answer = ok(
        &fixture,
        "get_resources",
        json!({"applicationName": "guestbook", "resourceRefs": refs}),
    );
    let read: Vec<&Value> = answer["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["manifest"]["metadata"])
        .collect();
    assert_eq!(read.len(), 6);
    for (n, metadata) in read.iter().enumerate() {
        assert_eq!(metadata["name"], format!("config-{n}"));
        assert!(
            metadata.get("managedFields").is_none(),
            "managed fields are dropped"
        );
    }
    assert_eq!(fixture.requests().len(), 6);
}

#[test]
fn resource_actions_are_listed_and_run_with_parameters() {
    let deployment = json!({"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps", "version": "v1"});
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/resource/actions?namespace=guestbook&resourceName=guestbook&version=v1&group=apps&kind=Deployment",
            recorded!("resources/guestbook-deployment-actions.json"),
        )
        .on_json(
            "POST",
            "/api/v1/applications/guestbook/resource/actions/v2",
            recorded!("resources/action-ran.json"),
        )
        .on_status_json(
            "POST",
            "/api/v1/applications/guestbook/resource/actions/v2",
            400,
            recorded!("resources/action-disabled-400.json"),
        );
    let listed = ok(
        &fixture,
        "get_resource_actions",
        json!({"applicationName": "guestbook", "resourceRef": deployment}),
    );
    assert_eq!(
        listed,
        json!({"target": "prod", "resource": "Deployment/guestbook/guestbook", "actions": [
            {"name": "restart", "disabled": false, "params": []},
            {"name": "pause", "disabled": false, "params": []},
            {"name": "resume", "disabled": true, "params": []},
            {"name": "scale", "disabled": false, "params": ["replicas"]}]})
    );
    let ran = ok(
        &fixture,
        "run_resource_action",
        json!({"applicationName": "guestbook", "resourceRef": deployment,
               "action": "scale", "parameters": {"replicas": 4}}),
    );
    assert_eq!(
        ran,
        json!({"target": "prod", "resource": "Deployment/guestbook/guestbook", "action": "scale", "ran": true})
    );
    let sent = fixture.requests().pop().unwrap();
    assert_eq!(
        sent.line(),
        "POST /api/v1/applications/guestbook/resource/actions/v2"
    );
    assert_eq!(
        sent.json(),
        json!({"name": "guestbook", "namespace": "guestbook", "resourceName": "guestbook", "version": "v1",
               "group": "apps", "kind": "Deployment", "action": "scale",
               "resourceActionParameters": [{"name": "replicas", "value": "4"}]})
    );
    let disabled = fails(
        &fixture,
        "run_resource_action",
        json!({"applicationName": "guestbook", "appNamespace": "argocd",
               "resourceRef": {"kind": "Deployment", "name": "guestbook", "namespace": "guestbook", "group": "apps"},
               "action": "resume", "parameters": {"force": true, "note": "x"}}),
    );
    assert!(disabled.contains("action resume is disabled"), "{disabled}");
    assert_eq!(
        fixture.requests().pop().unwrap().json(),
        json!({"name": "guestbook", "appNamespace": "argocd", "namespace": "guestbook", "resourceName": "guestbook",
               "version": "v1", "group": "apps", "kind": "Deployment", "action": "resume",
               "resourceActionParameters": [{"name": "force", "value": "true"}, {"name": "note", "value": "x"}]}),
        "parameters are sent as strings; the version defaults to v1"
    );
}

#[test]
fn events_of_the_application_and_of_one_object() {
    let pod = json!({"name": "kube-prometheus-stack-fae63bfa9e-eiadk", "namespace": "kube-prometheus-stack",
                     "uid": "c56f6774-7814-fadc-3e0b-a0ff2b22a829"});
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/recommendations/events",
            recorded!("events/recommendations.json"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/kube-prometheus-stack/events?resourceNamespace=kube-prometheus-stack&resourceName=kube-prometheus-stack-fae63bfa9e-eiadk&resourceUID=c56f6774-7814-fadc-3e0b-a0ff2b22a829",
            recorded!("events/kube-prometheus-stack-pod.json"),
        );
    let app_events = ok(
        &fixture,
        "get_application_events",
        json!({"applicationName": "recommendations"}),
    );
    assert_eq!(app_events["warnings"], 0);
    assert!(
        app_events["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["object"] == "Application/recommendations"),
        "{app_events}"
    );
    let events = ok(
        &fixture,
        "get_resource_events",
        json!({"applicationName": "kube-prometheus-stack", "resourceName": pod["name"],
               "resourceNamespace": pod["namespace"], "resourceUID": pod["uid"]}),
    );
    assert_eq!(events["warnings"], 2);
    let reasons: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Scheduled", "Pulling", "OOMKilling", "BackOff"]);
    let oom = &events["events"][2];
    assert_eq!(
        oom.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["count", "lastSeen", "message", "object", "reason", "type"]
    );
    assert_eq!(
        oom["object"],
        format!("Pod/{}", pod["name"].as_str().unwrap())
    );
    let raw = ok(
        &fixture,
        "get_resource_events",
        json!({"applicationName": "kube-prometheus-stack", "resourceName": pod["name"],
               "resourceNamespace": pod["namespace"], "resourceUID": pod["uid"], "detail": true, "limit": 1}),
    );
    assert!(
        raw["events"][0]["involvedObject"].is_object(),
        "detail gives the events as served"
    );
    assert_eq!(raw["hasMore"], true);
    assert_eq!(fixture.requests().len(), 3);
}

#[test]
fn events_are_sorted_newest_first() {
    let list = json!({"items": [
        {"type": "Normal", "reason": "Old", "firstTimestamp": "2026-08-20T10:00:00Z", "involvedObject": {"kind": "Pod", "name": "p"}},
        {"type": "Warning", "reason": "New", "lastTimestamp": "2026-08-20T12:00:00Z", "count": 3, "involvedObject": {"kind": "Pod", "name": "p"}},
        {"type": "Normal", "reason": "Middle", "eventTime": "2026-08-20T11:00:00Z", "involvedObject": {"kind": "Pod", "name": "p"}}]});
    let fixture = argocd().on_json("GET", "/api/v1/applications/web/events", &list.to_string());
    let events = ok(
        &fixture,
        "get_application_events",
        json!({"applicationName": "web"}),
    );
    let reasons: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["New", "Middle", "Old"]);
    assert_eq!(events["events"][0]["count"], 3);
    assert_eq!(events["events"][1]["count"], 1);
    assert_eq!(events["warnings"], 1);
}

#[test]
fn logs_pass_every_filter_and_report_stream_errors() {
    let fixture = argocd()
        .on_json(
            "GET",
            "/api/v1/applications/recommendations/logs?appNamespace=argocd&namespace=data&resourceName=recommendations&kind=Deployment&group=apps&container=app&tailLines=3&sinceSeconds=3600&filter=staging&follow=false",
            recorded!("logs/recommendations-deployment.ndjson"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/recommendations/pods/recommendations-a9ab724772-jhgbb/logs?tailLines=100&previous=true&follow=false",
            recorded!("logs/recommendations-pod-previous.ndjson"),
        )
        .on_status_json(
            "GET",
            "/api/v1/applications/guestbook/pods/guestbook-41342c38f7-dkbfa/logs",
            400,
            recorded!("logs/guestbook-pod-previous-400.ndjson"),
        )
        .on_status_json(
            "GET",
            "/api/v1/applications/guestbook/logs?container=sidecar&tailLines=100&follow=false",
            400,
            recorded!("logs/guestbook-sidecar-400.ndjson"),
        )
        .on_json(
            "GET",
            "/api/v1/applications/guestbook/logs?tailLines=100&follow=false",
            recorded!("logs/guestbook-stream-error-200.ndjson"),
        );
    let logs = ok(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "recommendations", "applicationNamespace": "argocd",
               "resourceRef": {"kind": "Deployment", "name": "recommendations", "namespace": "data", "group": "apps"},
               "container": "app", "tailLines": 3, "sinceSeconds": 3600, "filter": "staging"}),
    );
    assert_eq!(logs["complete"], true);
    let lines = logs["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 4, "the stream's closing entry is not a line");
    assert!(
        lines
            .iter()
            .all(|l| l["text"].as_str().unwrap().contains("staging")),
        "{logs}"
    );
    assert_eq!(
        lines[0],
        json!({"pod": "recommendations-a9ab724772-jhgbb", "time": "2026-08-20T11:42:01Z",
               "text": "{\"level\":\"info\",\"msg\":\"connecting to database\",\"host\":\"postgres.staging.svc.cluster.local\",\"env\":\"staging\"}"})
    );
    let previous = ok(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "recommendations", "podName": "recommendations-a9ab724772-jhgbb", "previous": true}),
    );
    assert!(
        previous["lines"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"attempt\":7"),
        "{previous}"
    );
    let refused = fails(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "guestbook", "podName": "guestbook-41342c38f7-dkbfa", "previous": true}),
    );
    assert!(
        refused.contains("HTTP 400 (gRPC code 3 InvalidArgument)")
            && refused.contains("previous terminated container"),
        "{refused}"
    );
    let wrong = fails(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "guestbook", "container": "sidecar"}),
    );
    assert!(
        wrong.contains("HTTP 400") && wrong.contains("container sidecar is not valid"),
        "a 400 stream error is not swallowed: {wrong}"
    );
    let broken = ok(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "guestbook"}),
    );
    assert_eq!(broken["complete"], false);
    assert_eq!(
        broken["error"],
        "error reading the log stream: http2: client connection lost (gRPC code 14 Unavailable)"
    );
    assert_eq!(
        broken["lines"].as_array().unwrap().len(),
        3,
        "lines before the error are kept"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/recommendations/logs?appNamespace=argocd&namespace=data&resourceName=recommendations&kind=Deployment&group=apps&container=app&tailLines=3&sinceSeconds=3600&filter=staging&follow=false",
            "GET /api/v1/applications/recommendations/pods/recommendations-a9ab724772-jhgbb/logs?tailLines=100&previous=true&follow=false",
            "GET /api/v1/applications/guestbook/pods/guestbook-41342c38f7-dkbfa/logs?tailLines=100&previous=true&follow=false",
            "GET /api/v1/applications/guestbook/logs?container=sidecar&tailLines=100&follow=false",
            "GET /api/v1/applications/guestbook/logs?tailLines=100&follow=false",
        ]
    );
}

#[test]
fn an_error_as_the_only_entry_of_a_stream_is_an_error() {
    let stream = recorded!("logs/guestbook-stream-error-200.ndjson");
    let error_only = stream.lines().last().unwrap();
    let fixture = argocd().on_json("GET", "/api/v1/applications/guestbook/logs", error_only);
    let message = fails(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "guestbook", "matchCase": true, "filter": "!GET"}),
    );
    assert_eq!(
        message,
        "Argo CD reported an error in the log stream of guestbook: error reading the log stream: \
         http2: client connection lost (gRPC code 14 Unavailable). Check podName and container \
         against get_application_resource_tree; `previous` only works after a restart."
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/guestbook/logs?tailLines=100&filter=%21GET&matchCase=true&follow=false"
        ]
    );
}

#[test]
fn long_logs_keep_the_newest_lines() {
    let stream = recorded!("logs/recommendations-pod-previous.ndjson");
    let entries: Vec<&str> = stream
        .lines()
        .filter(|line| !line.contains("\"last\":true"))
        .collect();
    let long: Vec<&str> = entries.iter().copied().cycle().take(1000).collect();
    let fixture = argocd().on_json(
        "GET",
        "/api/v1/applications/recommendations/logs",
        &long.join("\n"),
    );
    let answer = ok(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "recommendations", "tailLines": 1000}),
    );
    let kept = answer["lines"].as_array().unwrap().len();
    assert_eq!(answer["dropped"].as_u64().unwrap() as usize + kept, 1000);
    assert!(kept > 100 && answer["complete"] == false, "{kept}");
    let text: usize = answer["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["text"].as_str().unwrap().len() + 40)
        .sum();
    assert!(text <= 48 * 1024, "{text}");
    assert!(
        answer["lines"][kept - 1]["text"]
            .as_str()
            .unwrap()
            .contains("database connection failed"),
        "the newest line is kept"
    );
}

#[test]
fn a_hostile_pod_name_stays_in_its_own_path_segment() {
    let fixture = argocd().on_status_json(
        "GET",
        "/api/v1/applications/guestbook/pods/..%2F..%2Fprojects%2Fdefault/logs",
        404,
        recorded!("logs/hostile-pod-404.json"),
    );
    let message = fails(
        &fixture,
        "get_application_workload_logs",
        json!({"applicationName": "guestbook", "podName": "../../projects/default"}),
    );
    assert!(
        message.contains("HTTP 404 (gRPC code 5 NotFound)"),
        "{message}"
    );
    assert_eq!(
        fixture.request_lines(),
        [
            "GET /api/v1/applications/guestbook/pods/..%2F..%2Fprojects%2Fdefault/logs?tailLines=100&follow=false"
        ]
    );
}
