//! MCP tasks (SEP-2663) end to end: a real capstan serving the conformance fixtures
//! (`slow_compute`, `failing_job`, `protocol_error_job`: tools whose contract says they may or
//! must run as tasks), driven by rmcp clients that declare the Tasks extension or do not.
//! A task outlives the client that started it, runs under its own time limit, is seen and
//! cancelled only by its owner, and is bounded per instance and per caller. A task's plugin
//! that asks for input (`multi_input`) parks the task as `input_required` until `tasks/update`
//! answered; a task-capable tool that asks first (`test_tool_with_task`) answers
//! `input_required` before any task exists.

use std::time::Duration;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, ClientOptions, is_error, params, text};
use rmcp::model::{
    CallToolResponse, CancelTaskParams, ErrorCode, GetTaskParams, GetTaskResult, InputResponses,
    TaskPayload, TaskStatus, UpdateTaskParams,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const ALICE_KEY: &str = "capstan_alice_key_0123456789abcdefghijklmnopqr";
const BOB_KEY: &str = "capstan_bob_key_0123456789abcdefghijklmnopqrst";

/// capstan serving the conformance fixtures with `limits`, callers named by API keys.
fn start(limits: &str) -> (PluginDir, tempfile::TempDir, Capstan) {
    let plugins = PluginDir::new();
    plugins.manifest(
        "conformance",
        "conformance",
        &format!("prefix = \"\"\n[limits]\n{limits}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    let entry = |name: &str, key: &str| {
        let digest: String = Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("[[key]]\nname = \"{name}\"\nsha256 = \"{digest}\"\ngroups = []\n\n")
    };
    std::fs::write(&keys, entry("alice", ALICE_KEY) + &entry("bob", BOB_KEY)).unwrap();
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            args: vec![
                "--api-keys-file".into(),
                keys.to_str().unwrap().into(),
                "--task-retention".into(),
                "1m".into(),
            ],
            ..Options::default()
        },
    );
    (plugins, dir, capstan)
}

/// A client of `key`, speaking 2026-07-28 (`discover`) or 2025-11-25, declaring tasks or not.
async fn client(capstan: &Capstan, key: &str, discover: bool, tasks: bool) -> Client {
    let options = ClientOptions {
        discover,
        tasks,
        ..ClientOptions::bearer(key)
    };
    Client::connect_with(&capstan.url(), &options)
        .await
        .unwrap()
}

/// A 2026-07-28 client of `key` with the Tasks extension that declares elicitation.
async fn asking_client(capstan: &Capstan, key: &str) -> Client {
    let options = ClientOptions {
        discover: true,
        tasks: true,
        answer: Some(true),
        ..ClientOptions::bearer(key)
    };
    Client::connect_with(&capstan.url(), &options)
        .await
        .unwrap()
}

/// Polls task `id` until it waits for input; the keys it waits for.
async fn waiting_for(client: &Client, id: &str) -> Vec<String> {
    for _ in 0..100 {
        let task = get(client, id).await.unwrap();
        if let TaskPayload::InputRequired { input_requests } = &task.task.payload {
            return input_requests.keys().cloned().collect();
        }
        assert!(!task.task.status().is_terminal(), "task ended: {task:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} never asked");
}

/// Answers `key` of task `id` with the name `name`.
async fn answer(
    client: &Client,
    id: &str,
    key: &str,
    answer: Value,
) -> Result<(), rmcp::ServiceError> {
    let responses: InputResponses = [(key.to_owned(), answer)].into_iter().collect();
    client
        .service()
        .peer()
        .update_task(UpdateTaskParams::new(id, responses))
        .await
}

fn named(name: &str) -> Value {
    json!({"action": "accept", "content": {"name": name}})
}

/// Calls `tool` once, expecting a task; its id.
async fn start_task(client: &Client, tool: &str, arguments: Value) -> String {
    let answer = client
        .service()
        .peer()
        .call_tool_once(params(tool, arguments))
        .await
        .unwrap();
    match answer {
        CallToolResponse::Task(created) => {
            assert_eq!(created.task.status, TaskStatus::Working);
            assert!(created.task.ttl_ms.is_some_and(|ttl| ttl > 0));
            created.task.task_id
        }
        other => panic!("{tool} did not answer with a task: {other:?}"),
    }
}

/// Calls `slow_compute` for `seconds`, expecting the task to be refused; the refusal's text.
async fn refused_task(client: &Client, seconds: u64) -> String {
    let answer = client
        .service()
        .peer()
        .call_tool_once(params("slow_compute", json!({"seconds": seconds})))
        .await
        .unwrap();
    let CallToolResponse::Complete(refused) = answer else {
        panic!("a task past a limit was started: {answer:?}");
    };
    assert!(is_error(&refused), "{}", text(&refused));
    text(&refused)
}

async fn get(client: &Client, id: &str) -> Result<GetTaskResult, rmcp::ServiceError> {
    client
        .service()
        .peer()
        .get_task(GetTaskParams::new(id))
        .await
}

/// Polls task `id` until it ends (at most `limit`).
async fn settled(client: &Client, id: &str, limit: Duration) -> GetTaskResult {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let task = get(client, id).await.unwrap();
        if task.task.status().is_terminal() {
            return task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task {id} still {:?} after {limit:?}",
            task.task.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn completed_text(task: &GetTaskResult) -> String {
    match &task.task.payload {
        TaskPayload::Completed { result } => {
            let result: rmcp::model::CallToolResult =
                serde_json::from_value(Value::Object(result.clone())).unwrap();
            assert!(!is_error(&result), "{}", text(&result));
            text(&result)
        }
        other => panic!("the task did not complete: {other:?}"),
    }
}

fn error_code(error: &rmcp::ServiceError) -> Option<ErrorCode> {
    match error {
        rmcp::ServiceError::McpError(data) => Some(data.code),
        _ => None,
    }
}

#[tokio::test]
async fn a_long_call_runs_as_a_task_past_the_call_timeout_and_outlives_its_client() {
    // The call timeout is one second; the task's own limit is ten.
    let (_plugins, _keys, capstan) = start("timeout = \"1s\"\ntask_timeout = \"10s\"");
    let alice = client(&capstan, ALICE_KEY, true, true).await;
    let id = start_task(
        &alice,
        "slow_compute",
        json!({"seconds": 3, "label": "canary"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let working = get(&alice, &id).await.unwrap();
    assert_eq!(working.task.status(), TaskStatus::Working);
    let status = working.task.task.status_message.clone().unwrap_or_default();
    assert!(
        status.contains("canary: "),
        "progress as status: {status:?}"
    );
    // The client goes away; the task goes on, and a new client of the same caller reads it.
    alice.close().await;
    let again = client(&capstan, ALICE_KEY, true, true).await;
    let done = settled(&again, &id, Duration::from_secs(10)).await;
    assert_eq!(completed_text(&done), "Computed canary in 3 seconds");

    // A client without the Tasks extension gets today's bounded call: the call timeout holds.
    let plain = client(&capstan, ALICE_KEY, true, false).await;
    let quick = plain
        .call("slow_compute", json!({"seconds": 0}))
        .await
        .unwrap();
    assert_eq!(text(&quick), "Computed compute in 0 seconds");
    let cut = plain
        .call("slow_compute", json!({"seconds": 3}))
        .await
        .unwrap();
    assert!(
        is_error(&cut) && text(&cut).contains("timed out"),
        "{}",
        text(&cut)
    );
    // A tool that only runs as a task tells such a client what it lacks.
    let refused = plain
        .service()
        .peer()
        .call_tool_once(params("failing_job", json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&refused),
        Some(ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY),
        "{refused}"
    );
}

#[tokio::test]
async fn tool_errors_complete_crashes_fail_and_the_task_limit_is_enforced() {
    let (_plugins, _keys, capstan) = start("task_timeout = \"2s\"");
    let alice = client(&capstan, ALICE_KEY, false, true).await;

    let failing = start_task(&alice, "failing_job", json!({})).await;
    let ended = settled(&alice, &failing, Duration::from_secs(10)).await;
    match &ended.task.payload {
        TaskPayload::Completed { result } => assert_eq!(result["isError"], true, "{result:?}"),
        other => panic!("a tool error completes the task: {other:?}"),
    }

    let crashing = start_task(&alice, "protocol_error_job", json!({})).await;
    let ended = settled(&alice, &crashing, Duration::from_secs(10)).await;
    match &ended.task.payload {
        TaskPayload::Failed { error } => {
            assert!(error["code"].is_number());
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("crashes on purpose"), "{message}");
        }
        other => panic!("a crash fails the task: {other:?}"),
    }

    let overlong = start_task(&alice, "slow_compute", json!({"seconds": 30})).await;
    let ended = settled(&alice, &overlong, Duration::from_secs(10)).await;
    match &ended.task.payload {
        TaskPayload::Failed { error } => {
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("task_timeout"), "{message}");
        }
        other => panic!("a task past its limit fails: {other:?}"),
    }
}

#[tokio::test]
async fn only_the_owner_sees_or_cancels_a_task_and_cancelling_frees_its_place() {
    let (_plugins, _keys, capstan) = start("max_tasks = 2\nmax_tasks_per_caller = 1");
    let alice = client(&capstan, ALICE_KEY, true, true).await;
    let bob = client(&capstan, BOB_KEY, true, true).await;
    let id = start_task(&alice, "slow_compute", json!({"seconds": 600})).await;

    // Bob cannot tell Alice's task from one that never existed.
    let theirs = get(&bob, &id).await.unwrap_err();
    let never = get(&bob, "no-such-task").await.unwrap_err();
    assert_eq!(error_code(&theirs), Some(ErrorCode::INVALID_PARAMS));
    assert_eq!(error_code(&theirs), error_code(&never));
    let cancel = bob
        .service()
        .peer()
        .cancel_task(CancelTaskParams::new(&id))
        .await;
    assert!(cancel.is_err(), "bob cancelled alice's task");
    assert_eq!(
        get(&alice, &id).await.unwrap().task.status(),
        TaskStatus::Working
    );

    // Alice has used her one place on the instance; Bob takes the last one, and then the
    // instance is full even for Alice's other session.
    let refused = refused_task(&alice, 600).await;
    assert!(refused.contains("max_tasks_per_caller"), "{refused}");
    let bobs = start_task(&bob, "slow_compute", json!({"seconds": 600})).await;
    let other_session = client(&capstan, ALICE_KEY, false, true).await;
    let full = refused_task(&other_session, 1).await;
    assert!(full.contains("is running 2 tasks, its limit"), "{full}");

    // Cancelling stops the guest and frees the place at once; cancelling again is a no-op.
    for (owner, task) in [(&alice, &id), (&bob, &bobs)] {
        owner
            .service()
            .peer()
            .cancel_task(CancelTaskParams::new(task))
            .await
            .unwrap();
        let ended = settled(owner, task, Duration::from_secs(5)).await;
        assert_eq!(ended.task.status(), TaskStatus::Cancelled);
        owner
            .service()
            .peer()
            .cancel_task(CancelTaskParams::new(task))
            .await
            .unwrap();
    }
    let next = start_task(&alice, "slow_compute", json!({"seconds": 0})).await;
    let done = settled(&alice, &next, Duration::from_secs(5)).await;
    assert_eq!(completed_text(&done), "Computed compute in 0 seconds");
    let metrics = capstan_tests::http_client()
        .get(format!("http://{}/metrics", capstan.address()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "capstan_tool_calls_total{instance=\"conformance\",tool=\"slow_compute\",outcome=\"cancelled\"} 2"
        ),
        "{metrics}"
    );
}

/// The value of the unlabelled series `name` in a `/metrics` text.
fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A hundred tasks that wait hold a hundred sandbox slots (one instance each, asleep in the
/// guest) and no thread; cancelling them gives every slot back. Prints the memory they hold.
#[tokio::test]
async fn a_hundred_waiting_tasks_hold_a_slot_each_and_give_them_back() {
    let (_plugins, _keys, capstan) =
        start("max_tasks = 100\nmax_tasks_per_caller = 100\nmemory_total = \"2GiB\"");
    let alice = client(&capstan, ALICE_KEY, true, true).await;
    // One call first, so the component is compiled and the allocator warm.
    let first = start_task(&alice, "slow_compute", json!({"seconds": 0})).await;
    settled(&alice, &first, Duration::from_secs(10)).await;
    let idle = capstan.resident_bytes();
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(start_task(&alice, "slow_compute", json!({"seconds": 600})).await);
    }
    let mut in_use = 0.0;
    for _ in 0..100 {
        in_use = gauge(&capstan.metrics(), "capstan_sandbox_slots_in_use");
        if in_use >= 100.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(in_use, 100.0, "slots held by 100 waiting tasks");
    let running = gauge(&capstan.metrics(), "capstan_tasks_running");
    assert_eq!(running, 100.0, "tasks running on /metrics");
    let waiting = capstan.resident_bytes();
    eprintln!(
        "100 waiting tasks: {in_use} sandbox slots, resident memory {:.1} MiB idle, {:.1} MiB with the tasks ({:.0} KiB a task)",
        idle as f64 / (1 << 20) as f64,
        waiting as f64 / (1 << 20) as f64,
        waiting.saturating_sub(idle) as f64 / 1024.0 / 100.0
    );
    let peer = alice.service().peer().clone();
    for id in &ids {
        peer.cancel_task(CancelTaskParams::new(id)).await.unwrap();
    }
    for id in &ids {
        let ended = settled(&alice, id, Duration::from_secs(10)).await;
        assert_eq!(ended.task.status(), TaskStatus::Cancelled);
    }
    let released = gauge(&capstan.metrics(), "capstan_sandbox_slots_in_use");
    assert_eq!(released, 0.0, "slots still held after cancelling");
    let running = gauge(&capstan.metrics(), "capstan_tasks_running");
    assert_eq!(
        running, 0.0,
        "tasks still counted as running after cancelling"
    );
}

#[tokio::test]
async fn a_task_that_asks_waits_for_every_answer_from_its_owner_then_goes_on() {
    let (_plugins, _keys, capstan) = start("task_timeout = \"20s\"");
    let alice = asking_client(&capstan, ALICE_KEY).await;
    let bob = asking_client(&capstan, BOB_KEY).await;
    let id = start_task(&alice, "multi_input", json!({})).await;
    assert_eq!(waiting_for(&alice, &id).await, ["first", "second"]);

    // Only the owner answers; an answer that is not an object is refused and changes nothing.
    let theirs = answer(&bob, &id, "first", named("mallory"))
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&theirs),
        Some(ErrorCode::INVALID_PARAMS),
        "{theirs}"
    );
    let malformed = answer(&alice, &id, "first", json!("yes"))
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&malformed),
        Some(ErrorCode::INVALID_PARAMS),
        "{malformed}"
    );
    // Answers to keys the task does not wait for are acknowledged and ignored.
    answer(&alice, &id, "third", named("nobody")).await.unwrap();
    assert_eq!(waiting_for(&alice, &id).await, ["first", "second"]);

    // One answer at a time: the task waits until both came.
    answer(&alice, &id, "first", named("ada")).await.unwrap();
    assert_eq!(waiting_for(&alice, &id).await, ["second"]);
    answer(&alice, &id, "second", named("grace")).await.unwrap();
    let done = settled(&alice, &id, Duration::from_secs(10)).await;
    assert_eq!(completed_text(&done), "Got first=ada and second=grace");
}

#[tokio::test]
async fn a_task_tool_that_asks_first_answers_input_required_and_becomes_a_task_on_the_retry() {
    let (_plugins, _keys, capstan) = start("");
    let alice = asking_client(&capstan, ALICE_KEY).await;
    let asked = alice
        .service()
        .peer()
        .call_tool_once(params("test_tool_with_task", json!({})))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(asked) = asked else {
        panic!("expected input_required before any task, got {asked:?}");
    };
    let keys: Vec<_> = asked
        .input_requests
        .iter()
        .flatten()
        .map(|(key, _)| key.clone())
        .collect();
    assert_eq!(keys, ["user_name"]);
    let state = asked.request_state.clone().expect("a request state");
    let responses: InputResponses = [("user_name".to_owned(), named("Alice"))]
        .into_iter()
        .collect();
    let retry = |state: String| {
        params("test_tool_with_task", json!({}))
            .with_input_responses(responses.clone())
            .with_request_state(state)
    };
    // An altered state starts nothing.
    let tampered = alice
        .service()
        .peer()
        .call_tool_once(retry(format!("{state}x")))
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&tampered),
        Some(ErrorCode::INVALID_PARAMS),
        "{tampered}"
    );
    let started = alice
        .service()
        .peer()
        .call_tool_once(retry(state))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = started else {
        panic!("the retry did not start a task: {started:?}");
    };
    let done = settled(&alice, &created.task.task_id, Duration::from_secs(10)).await;
    assert_eq!(
        completed_text(&done),
        "Hello, Alice! (asked before the task started)"
    );
}
