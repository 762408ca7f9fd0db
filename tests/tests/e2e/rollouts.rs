//! The Argo Rollouts plugin end to end: a real capstan serving the compiled component, an MCP
//! client, and the fake Kubernetes API holding the demo Rollouts (validated against the
//! Argo Rollouts CRDs). Each test asserts the exact requests the plugin sent and the state they
//! left, and ends with no contract violation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::kube::{self, Cluster, KubeServer};
use capstan_tests::fakes::{RecordedRequest, demo};
use serde_json::{Value, json};

const TOKEN: &str = "rollouts-token-0123456789";
const V1ALPHA1: &str = "argoproj.io/v1alpha1";
const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/namespaces";

struct Setup {
    kube: KubeServer,
    client: Client,
    _capstan: Capstan,
    _plugins: PluginDir,
}

async fn setup_with(cluster: Cluster, read_only: bool) -> Setup {
    let kube = kube::start(cluster.with_token(TOKEN)).await.unwrap();
    let plugins = PluginDir::new();
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!(
            "prefix = \"rollouts\"\nread_only = {read_only}\n[[targets]]\nname = \"prod\"\nurl = \"{}\"\nauth = {{ bearer_env = \"KUBE_TOKEN\" }}",
            kube.base_url()
        ),
    );
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("KUBE_TOKEN".into(), TOKEN.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    Setup {
        kube,
        client,
        _capstan: capstan,
        _plugins: plugins,
    }
}

async fn setup() -> Setup {
    setup_with(demo::cluster(), false).await
}

impl Setup {
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self
            .client
            .call(&format!("rollouts_{tool}"), arguments)
            .await
            .unwrap();
        assert!(!is_error(&result), "{tool}: {}", text(&result));
        result
            .structured_content
            .clone()
            .expect("structured content")
    }

    async fn error(&self, tool: &str, arguments: Value) -> String {
        let result = self
            .client
            .call(&format!("rollouts_{tool}"), arguments)
            .await
            .unwrap();
        assert!(is_error(&result), "{tool} should fail: {}", text(&result));
        text(&result)
    }

    fn rollout(&self, namespace: &str, name: &str) -> Value {
        self.kube
            .object(V1ALPHA1, "Rollout", namespace, name)
            .unwrap()
    }

    /// Every request but GETs: (method, path, content type, body).
    fn writes(&self) -> Vec<(String, String, Option<String>, Value)> {
        self.kube
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(write)
            .collect()
    }

    fn gets(&self) -> Vec<String> {
        self.kube
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .map(RecordedRequest::target)
            .collect()
    }
}

fn write(request: &RecordedRequest) -> (String, String, Option<String>, Value) {
    (
        request.method.clone(),
        request.path.clone(),
        request.content_type().map(str::to_owned),
        request.json(),
    )
}

fn merge(method: &str, path: &str, body: Value) -> (String, String, Option<String>, Value) {
    (
        method.into(),
        path.into(),
        Some("application/merge-patch+json".into()),
        body,
    )
}

#[tokio::test]
async fn a_read_only_instance_lists_only_the_read_tools_with_their_hints() {
    let read_only = setup_with(demo::cluster(), true).await;
    let mut names: Vec<String> = read_only
        .client
        .tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rollouts_get_analysis_run",
            "rollouts_get_rollout",
            "rollouts_list_analysis_runs",
            "rollouts_list_experiments",
            "rollouts_list_rollouts"
        ]
    );
    let writable = setup().await;
    let tools = writable.client.tools().await.unwrap();
    assert_eq!(tools.len(), 17);
    let hints = |name: &str| {
        let tool = tools
            .iter()
            .find(|t| t.name == format!("rollouts_{name}"))
            .unwrap();
        let hints = tool.annotations.clone().unwrap();
        (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
        )
    };
    assert_eq!(hints("get_rollout"), (Some(true), Some(false), Some(true)));
    for destructive in [
        "abort",
        "undo",
        "set_image",
        "promote_full",
        "terminate_analysis_run",
        "terminate_experiment",
    ] {
        assert_eq!(hints(destructive).1, Some(true), "{destructive}");
    }
    for gentle in [
        "promote",
        "pause",
        "resume",
        "retry",
        "restart",
        "retry_experiment",
    ] {
        assert_eq!(hints(gentle).1, Some(false), "{gentle}");
    }
    assert_eq!(hints("pause").2, Some(true));
    assert_eq!(hints("promote").2, Some(false));
    read_only.kube.assert_no_violations();
}

#[tokio::test]
async fn list_rollouts_rows_show_phase_step_weights_and_replicas() {
    let s = setup().await;
    let listed = s.ok("list_rollouts", json!({})).await;
    assert_eq!(listed["count"], 6);
    let row = |name: &str| {
        listed["rollouts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row("payments-api"),
        json!({"name": "payments-api", "namespace": "payments", "strategy": "Canary", "status": "Paused",
               "message": "CanaryPauseStep", "step": "1/4", "setWeight": 20, "actualWeight": 20,
               "replicas": 5, "ready": 6, "updated": 1, "available": 6,
               "images": ["ghcr.io/example-org/payments-api:2.14.0"]})
    );
    assert_eq!(
        (
            row("recommendations")["status"].as_str(),
            row("checkout-web")["strategy"].as_str()
        ),
        (Some("Degraded"), Some("BlueGreen"))
    );
    assert_eq!(
        row("search-indexer")["workloadRef"]["name"],
        "search-indexer"
    );
    let filtered = s
        .ok(
            "list_rollouts",
            json!({"namespace": "search", "labelSelector": "team=search"}),
        )
        .await;
    assert_eq!(filtered["count"], 2);
    assert_eq!(
        s.gets(),
        [
            "/apis/argoproj.io/v1alpha1/rollouts?limit=500",
            "/apis/argoproj.io/v1alpha1/namespaces/search/rollouts?limit=500&labelSelector=team%3Dsearch",
        ]
    );
    assert!(
        s.kube
            .requests()
            .iter()
            .all(|r| r.authorization() == Some(&format!("Bearer {TOKEN}")))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn get_rollout_answers_the_dashboard_shape() {
    let s = setup().await;
    let info = &s
        .ok(
            "get_rollout",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await["rollout"];
    assert_eq!(
        (
            info["status"].as_str(),
            info["step"].as_str(),
            info["setWeight"].as_str()
        ),
        (Some("Paused"), Some("1/4"), Some("20"))
    );
    let sets = info["replicaSets"].as_array().unwrap();
    let roles: Vec<(String, bool, bool, usize)> = sets
        .iter()
        .map(|rs| {
            (
                rs["revision"].as_str().unwrap().to_owned(),
                rs["canary"] == true,
                rs["stable"] == true,
                rs["pods"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("7".to_owned(), true, false, 1),
            ("6".to_owned(), false, true, 5)
        ]
    );
    assert_eq!(sets[0]["pods"][0]["ready"], "1/1");
    assert_eq!(
        info["containers"],
        json!([{"name": "payments-api", "image": "ghcr.io/example-org/payments-api:2.14.0"}])
    );
    let blue_green = &s
        .ok(
            "get_rollout",
            json!({"namespace": "checkout", "name": "checkout-web"}),
        )
        .await["rollout"];
    let sets = blue_green["replicaSets"].as_array().unwrap();
    assert_eq!(
        (
            sets[0]["preview"].as_bool(),
            sets[1]["active"].as_bool(),
            sets[0]["status"].as_str()
        ),
        (Some(true), Some(true), Some("Progressing"))
    );
    let inconclusive = &s
        .ok(
            "get_rollout",
            json!({"namespace": "search", "name": "search-api"}),
        )
        .await["rollout"];
    assert_eq!(inconclusive["analysisRuns"][0]["status"], "Inconclusive");
    let worker = &s
        .ok(
            "get_rollout",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await["rollout"];
    assert_eq!(worker["experiments"][0]["status"], "Successful");
    assert_eq!(worker["replicaSets"][1]["status"], "ScaledDown");
    let indexer = &s
        .ok(
            "get_rollout",
            json!({"namespace": "search", "name": "search-indexer"}),
        )
        .await["rollout"];
    assert_eq!(
        indexer["containers"][0]["image"],
        "ghcr.io/example-org/search-indexer:1.4.2"
    );
    assert!(
        s.gets()
            .contains(&"/apis/apps/v1/namespaces/search/deployments/search-indexer".to_owned())
    );
    assert!(s.gets().contains(&"/apis/apps/v1/namespaces/payments/replicasets?limit=500&labelSelector=app.kubernetes.io%2Fname%3Dpayments-api".to_owned()));
    assert!(s.writes().is_empty());
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn analysis_runs_and_experiments_are_listed_with_metric_results() {
    let s = setup().await;
    let runs = s
        .ok(
            "list_analysis_runs",
            json!({"namespace": "search", "rollout": "search-api"}),
        )
        .await;
    assert_eq!(runs["count"], 1);
    let run = s
        .ok(
            "get_analysis_run",
            json!({"namespace": "data", "name": "recommendations-9b6c5d4f8-7"}),
        )
        .await;
    let run = &run["analysisRun"];
    assert_eq!(
        (
            run["status"].as_str(),
            run["failed"].as_i64(),
            run["successful"].as_i64()
        ),
        (Some("Failed"), Some(3), Some(1))
    );
    assert_eq!(run["metrics"][0]["name"], "error-rate");
    assert_eq!(run["revision"], "7");
    let all = s.ok("list_analysis_runs", json!({})).await;
    assert_eq!(all["count"], 2);
    let experiments = s
        .ok("list_experiments", json!({"namespace": "search"}))
        .await;
    assert_eq!(
        (
            experiments["count"].as_i64(),
            experiments["experiments"][0]["status"].as_str()
        ),
        (Some(1), Some("Running"))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_clears_a_canary_pause_step_through_the_status_subresource() {
    let s = setup().await;
    let result = s
        .ok(
            "promote",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/payments/rollouts/payments-api/status"),
            json!({"status": {"pauseConditions": null}})
        )]
    );
    let rollout = s.rollout("payments", "payments-api");
    assert!(rollout["status"].get("pauseConditions").is_none());
    assert_eq!(
        rollout["metadata"]["generation"], 7,
        "a status write keeps the generation"
    );
    assert_eq!(
        (result["status"].as_str(), result["message"].as_str()),
        (Some("Progressing"), Some("waiting for rollout to unpause"))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_moves_past_an_inconclusive_analysis_step() {
    let s = setup().await;
    s.ok(
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    )
    .await;
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/search/rollouts/search-api/status"),
            json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": 3}})
        )]
    );
    let status = &s.rollout("search", "search-api")["status"];
    assert_eq!(
        (
            status["currentStepIndex"].as_i64(),
            status["controllerPause"].as_bool()
        ),
        (Some(3), Some(false))
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_mid_step_and_blue_green_and_manual_pause() {
    let s = setup().await;
    s.kube.with_store(|store| {
        store
            .update(V1ALPHA1, "Rollout", "search", "search-api", |rollout| {
                let status = rollout["status"].as_object_mut().unwrap();
                status.remove("pauseConditions");
                status.remove("controllerPause");
                rollout["status"]["canary"]["currentStepAnalysisRunStatus"]["status"] =
                    json!("Running");
                rollout["spec"]["paused"] = json!(true);
            })
            .unwrap();
    });
    s.ok(
        "promote",
        json!({"namespace": "search", "name": "search-api"}),
    )
    .await;
    s.ok(
        "promote",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    )
    .await;
    assert_eq!(
        s.writes(),
        [
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/search/rollouts/search-api/status"),
                json!({"status": {"pauseConditions": null, "currentStepIndex": 3}})
            ),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/search/rollouts/search-api"),
                json!({"spec": {"paused": false}})
            ),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/checkout/rollouts/checkout-web/status"),
                json!({"status": {"pauseConditions": null}})
            ),
        ]
    );
    assert_eq!(s.rollout("search", "search-api")["spec"]["paused"], false);
    assert!(
        s.rollout("checkout", "checkout-web")["status"]
            .get("pauseConditions")
            .is_none()
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn promote_full_unpauses_and_requests_full_promotion_once() {
    let s = setup().await;
    s.ok(
        "pause",
        json!({"namespace": "checkout", "name": "checkout-web"}),
    )
    .await;
    let result = s
        .ok(
            "promote_full",
            json!({"namespace": "checkout", "name": "checkout-web"}),
        )
        .await;
    assert_eq!(result["changed"], true);
    let healthy = s
        .ok(
            "promote_full",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert_eq!(
        (
            healthy["changed"].as_bool(),
            healthy["requests"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0))
    );
    let path = format!("{ROLLOUTS}/checkout/rollouts/checkout-web");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &path, json!({"spec": {"paused": true}})),
            merge(
                "PATCH",
                &format!("{path}/status"),
                json!({"status": {"promoteFull": true}})
            ),
            merge("PATCH", &path, json!({"spec": {"paused": false}})),
        ]
    );
    let rollout = s.rollout("checkout", "checkout-web");
    assert_eq!(
        (
            rollout["status"]["promoteFull"].as_bool(),
            rollout["spec"]["paused"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(rollout["metadata"]["generation"], 14, "two spec changes");
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn pause_and_resume_toggle_spec_paused_and_resume_promotes_a_pause_step() {
    let s = setup().await;
    let paused = s
        .ok(
            "pause",
            json!({"namespace": "payments", "name": "payments-worker"}),
        )
        .await;
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        true
    );
    assert_eq!(
        paused["status"], "Progressing",
        "the controller has not observed generation 10 yet"
    );
    s.ok(
        "resume",
        json!({"namespace": "payments", "name": "payments-worker"}),
    )
    .await;
    s.ok(
        "resume",
        json!({"namespace": "payments", "name": "payments-api"}),
    )
    .await;
    let idle = s
        .ok(
            "resume",
            json!({"namespace": "search", "name": "search-indexer"}),
        )
        .await;
    assert_eq!(idle["changed"], false);
    let worker = format!("{ROLLOUTS}/payments/rollouts/payments-worker");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &worker, json!({"spec": {"paused": true}})),
            merge("PATCH", &worker, json!({"spec": {"paused": false}})),
            merge(
                "PATCH",
                &format!("{ROLLOUTS}/payments/rollouts/payments-api/status"),
                json!({"status": {"pauseConditions": null}})
            ),
        ]
    );
    assert_eq!(
        s.rollout("payments", "payments-worker")["spec"]["paused"],
        false
    );
    s.kube.assert_no_violations();
}

/// A Rollouts controller: an abort turns the Rollout Degraded, a retry brings it back.
fn abort_controller(kube: &KubeServer) {
    kube.react(|store, event| {
        if !(event.is_write()
            && event.kind == "Rollout"
            && event.subresource.as_deref() == Some("status"))
        {
            return;
        }
        let (namespace, name) = (
            event.namespace.clone().unwrap(),
            event.name.clone().unwrap(),
        );
        store
            .update(V1ALPHA1, "Rollout", &namespace, &name, |rollout| {
                let status = &mut rollout["status"];
                if status["abort"] == true {
                    status["phase"] = json!("Degraded");
                    status["message"] =
                        json!("RolloutAborted: Rollout aborted update to revision 7");
                    status["abortedAt"] = json!("2026-08-20T11:50:00Z");
                } else {
                    status["phase"] = json!("Progressing");
                    status["message"] = json!("more replicas need to be updated");
                    status.as_object_mut().unwrap().remove("abortedAt");
                }
            })
            .unwrap();
    });
}

#[tokio::test]
async fn abort_and_retry_patch_status_and_wait_for_the_controller() {
    let s = setup().await;
    abort_controller(&s.kube);
    let aborted = s.ok("abort", json!({"namespace": "payments", "name": "payments-api", "wait_for": "degraded", "timeout": 10})).await;
    assert_eq!(aborted["wait"]["outcome"], "reached");
    assert_eq!(
        (aborted["status"].as_str(), aborted["message"].as_str()),
        (
            Some("Degraded"),
            Some("RolloutAborted: Rollout aborted update to revision 7")
        )
    );
    let retried = s
        .ok(
            "retry",
            json!({"namespace": "payments", "name": "payments-api"}),
        )
        .await;
    assert_eq!(
        retried["status"], "Degraded",
        "as the API answered the patch, before the controller ran"
    );
    assert_eq!(
        s.rollout("payments", "payments-api")["status"]["phase"],
        "Progressing"
    );
    let path = format!("{ROLLOUTS}/payments/rollouts/payments-api/status");
    assert_eq!(
        s.writes(),
        [
            merge("PATCH", &path, json!({"status": {"abort": true}})),
            merge("PATCH", &path, json!({"status": {"abort": false}}))
        ]
    );
    assert_eq!(
        s.rollout("payments", "payments-api")["status"]["abort"],
        false
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn waiting_reports_progress_stops_at_paused_and_times_out_with_the_phase() {
    let s = setup().await;
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    s.kube.react(move |store, event| {
        if event.verb == "patch"
            && event.is_about("Rollout", "checkout-web")
            && event.subresource.is_some()
        {
            store
                .update(V1ALPHA1, "Rollout", "checkout", "checkout-web", |rollout| {
                    let status = &mut rollout["status"];
                    status.as_object_mut().unwrap().remove("pauseConditions");
                    status["phase"] = json!("Progressing");
                    status["message"] = json!("active service cutover pending");
                })
                .unwrap();
            return;
        }
        let promoted = store
            .object(V1ALPHA1, "Rollout", "checkout", "checkout-web")
            .unwrap()["status"]["promoteFull"]
            == true;
        if event.verb == "get"
            && event.is_about("Rollout", "checkout-web")
            && promoted
            && counter.fetch_add(1, Ordering::SeqCst) == 2
        {
            store
                .update(V1ALPHA1, "Rollout", "checkout", "checkout-web", |rollout| {
                    let status = &mut rollout["status"];
                    status["phase"] = json!("Healthy");
                    status["message"] = json!("");
                    status["stableRS"] = status["currentPodHash"].clone();
                    status["controllerPause"] = json!(false);
                })
                .unwrap();
        }
    });
    let arguments = json!({"namespace": "checkout", "name": "checkout-web", "wait_for": "healthy", "timeout": 20});
    let result = s
        .client
        .call_with_progress("rollouts_promote_full", arguments, "wait-1")
        .await
        .unwrap();
    let result = result.structured_content.unwrap();
    assert_eq!(
        (
            result["wait"]["outcome"].as_str(),
            result["status"].as_str()
        ),
        (Some("reached"), Some("Healthy"))
    );
    assert!(result["wait"]["polls"].as_u64().unwrap() >= 2);
    assert!(
        s.client
            .recorded()
            .progress
            .iter()
            .any(|p| p.message.as_deref() == Some("Healthy"))
    );
    let stopped = s.ok("retry", json!({"namespace": "payments", "name": "payments-api", "wait_for": "healthy", "timeout": 10})).await;
    assert_eq!(
        (
            stopped["wait"]["outcome"].as_str(),
            stopped["status"].as_str()
        ),
        (Some("stopped"), Some("Paused"))
    );
    let timed_out = s.ok("restart", json!({"namespace": "payments", "name": "payments-worker", "wait_for": "degraded", "timeout": 1})).await;
    assert_eq!(timed_out["wait"]["outcome"], "timed_out");
    assert_eq!(timed_out["status"], "Progressing");
    assert_eq!(
        timed_out["message"],
        "waiting for rollout spec update to be observed"
    );
    s.kube.assert_no_violations();
}

#[tokio::test]
async fn restart_sets_restart_at_after_the_delay() {
    let s = setup().await;
    let before = std::time::SystemTime::now();
    s.ok(
        "restart",
        json!({"namespace": "payments", "name": "payments-worker", "delay_seconds": 600}),
    )
    .await;
    let rollout = s.rollout("payments", "payments-worker");
    let at = rollout["spec"]["restartAt"].as_str().unwrap().to_owned();
    assert!(
        at.ends_with('Z') && at.len() == 20,
        "RFC 3339 in UTC, whole seconds: {at}"
    );
    let parsed = humantime::parse_rfc3339(&at).unwrap();
    assert!(
        parsed >= before + std::time::Duration::from_secs(599),
        "{at} is at least ten minutes out"
    );
    assert_eq!(
        s.writes(),
        [merge(
            "PATCH",
            &format!("{ROLLOUTS}/payments/rollouts/payments-worker"),
            json!({"spec": {"restartAt": at}})
        )]
    );
    s.kube.assert_no_violations();
}

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

#[tokio::test]
async fn analysis_runs_and_experiments_are_terminated_and_retried_on_the_main_resource() {
    let s = setup().await;
    let run = s
        .ok(
            "terminate_analysis_run",
            json!({"namespace": "search", "name": "search-api-7f6d4c8b9-5-2"}),
        )
        .await;
    assert_eq!(run["object"]["terminate"], true);
    s.ok(
        "terminate_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    )
    .await;
    s.ok(
        "retry_experiment",
        json!({"namespace": "search", "name": "search-api-load-test"}),
    )
    .await;
    let base = "/apis/argoproj.io/v1alpha1/namespaces/search";
    assert_eq!(
        s.writes(),
        [
            merge(
                "PATCH",
                &format!("{base}/analysisruns/search-api-7f6d4c8b9-5-2"),
                json!({"spec": {"terminate": true}})
            ),
            merge(
                "PATCH",
                &format!("{base}/experiments/search-api-load-test"),
                json!({"spec": {"terminate": true}})
            ),
            merge(
                "PATCH",
                &format!("{base}/experiments/search-api-load-test"),
                json!({"status": null})
            ),
        ]
    );
    let experiment = s
        .kube
        .object(V1ALPHA1, "Experiment", "search", "search-api-load-test")
        .unwrap();
    assert_eq!(
        (
            experiment["spec"]["terminate"].as_bool(),
            experiment.get("status")
        ),
        (Some(true), None)
    );
    s.kube.assert_no_violations();
}

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
            && refused.contains("fix the arguments"),
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
