//! MCP tasks (the Tasks extension, SEP-2663): tool calls that outlive the request that started
//! them. The store owns every task of this process: who started it (only that caller sees or
//! cancels it), its status and latest progress message, and once it ends its result or error,
//! kept for the retention period. It bounds the tasks running per instance and per caller, and
//! names each task after the replica that runs it (`<replica>.<random>`), so a load balancer
//! can send `tasks/*` for it to the right replica.
//!
//! rmcp's `TaskManager` runs tasks too, but knows no owners, no bounds and no replica names;
//! this store keeps rmcp's wire types (`Task`, `DetailedTask`) and adds those.
//!
//! A task's call may ask the client for input: the task then shows `input_required` with the
//! outstanding requests, and `tasks/update` brings the answers (one at a time or all at once);
//! the call goes on once every request is answered. A task whose call asks before its work
//! starts (within [`OPENING`], before any progress report) is withdrawn instead, so that the
//! `tools/call` answers `input_required` itself and the task starts on the retry.
//!
//! Tasks live in memory: they survive the client disconnecting, not a restart of capstan.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt as _;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolResult, DetailedTask, InputRequests, InputResponses, JsonObject, Task, TaskPayload,
    TaskStatus,
};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::events::CallTally;
use crate::runtime::types;

/// How long a finished task's result stays readable by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Finished tasks kept at most, whatever their age; the oldest go first.
const MAX_RETAINED: usize = 4096;

/// How long `tools/call` waits, at most, to see whether a new task's call asks for input before
/// its work starts; the first progress report or the call's answer ends the wait sooner.
pub const OPENING: Duration = Duration::from_millis(400);

/// Settings of the task store.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// How long a finished task's result stays readable.
    pub retention: Duration,
    /// The polling interval suggested to clients.
    pub poll_interval: Duration,
    /// This replica's name, the first part of every task id (`[tasks] replica`).
    pub replica: Option<String>,
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self {
            retention: DEFAULT_RETENTION,
            poll_interval: Duration::from_secs(2),
            replica: None,
        }
    }
}

/// The limits one task runs under, from its instance's manifest.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Tasks of the instance running at once.
    pub per_instance: u32,
    /// Tasks of one caller on the instance running at once.
    pub per_caller: u32,
    /// How long one task may run.
    pub timeout: Duration,
}

/// Why a task was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The instance runs as many tasks as its manifest allows.
    #[error(
        "plugin instance `{instance}` is running {running} tasks, its limit ([limits].max_tasks); wait for one to finish or cancel one with tasks/cancel"
    )]
    Instance {
        /// The instance.
        instance: String,
        /// Tasks running.
        running: u32,
    },
    /// The caller runs as many tasks on the instance as its manifest allows one caller.
    #[error(
        "you are running {running} tasks on plugin instance `{instance}`, the limit for one caller ([limits].max_tasks_per_caller); wait for one to finish or cancel one with tasks/cancel"
    )]
    Caller {
        /// The instance.
        instance: String,
        /// The caller's tasks running there.
        running: u32,
    },
}

/// How a task's call ended.
#[derive(Debug)]
pub enum Ending {
    /// The tool answered (its answer may be an error result).
    Completed(CallToolResult),
    /// The call could not be completed (the sandbox stopped it, the host failed).
    Failed(ErrorData),
    /// The caller cancelled it.
    Cancelled,
    /// The call asked for input before its work started, and the `tools/call` that started
    /// the task answered with the questions: the task is forgotten, as if never started.
    Withdrawn,
}

/// How a new task's call opened, as its `tools/call` sees it.
#[derive(Debug)]
pub enum Opening {
    /// The call asked for input before its work started; the task is withdrawn and the
    /// `tools/call` answers with these questions.
    Asked(types::InputRequired, Arc<CallTally>),
    /// The call reported progress or answered: the task stands.
    Working,
}

/// What tasks/update did with the answers it brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Every outstanding request is answered: the call goes on.
    Resumed,
    /// Requests remain outstanding.
    Pending(usize),
    /// The task was not waiting for input (answers are ignored).
    NotWaiting,
}

/// The store of this process's tasks. Cheap to clone; clones share the tasks.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    settings: TaskSettings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tasks: HashMap<String, Entry>,
    running: HashMap<String, u32>,
    running_by_caller: HashMap<(String, String), u32>,
}

struct Entry {
    owner: String,
    instance: String,
    task: Task,
    /// The status-specific payload once the task has ended.
    ended: Option<(TaskPayload, Instant)>,
    /// The requests the call waits for, while it does.
    waiting: Option<Waiting>,
    cancel: CancellationToken,
}

/// A task's call waiting for the client's answers.
struct Waiting {
    /// Requests not answered yet, by key.
    pending: InputRequests,
    /// Answers so far, by key.
    answered: InputResponses,
    /// Where the answers go once every request is answered.
    resume: oneshot::Sender<InputResponses>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new(TaskSettings::default())
    }
}

impl Tasks {
    /// An empty store with `settings`.
    pub fn new(settings: TaskSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::default(),
            }),
        }
    }

    /// Starts `run` as a task of `owner` on `instance`, unless `bounds` are reached; the task
    /// as the `tools/call` answer announces it, and how its call opens (see [`Opening`]).
    /// `run` gets the task's handle: its status message, its questions and its cancellation.
    pub fn start<F, Fut>(
        &self,
        (owner, instance): (&str, &str),
        bounds: Bounds,
        run: F,
    ) -> Result<(Task, oneshot::Receiver<Opening>), Refused>
    where
        F: FnOnce(TaskHandle) -> Fut,
        Fut: Future<Output = Ending> + Send + 'static,
    {
        let id = self.new_id();
        let now = timestamp(SystemTime::now());
        let mut task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now);
        task.ttl_ms = Some(millis(bounds.timeout + self.inner.settings.retention));
        task.poll_interval_ms = Some(millis(self.inner.settings.poll_interval));
        let cancel = CancellationToken::new();
        {
            let mut state = self.lock();
            sweep(&mut state, self.inner.settings.retention);
            state.admit(owner, instance, bounds)?;
            state.tasks.insert(
                id.clone(),
                Entry {
                    owner: owner.to_owned(),
                    instance: instance.to_owned(),
                    task: task.clone(),
                    ended: None,
                    waiting: None,
                    cancel: cancel.clone(),
                },
            );
        }
        let (opened, opening) = oneshot::channel();
        let handle = TaskHandle {
            id: id.clone(),
            tasks: self.clone(),
            cancel,
            opening: Arc::new(Mutex::new(Some(opened))),
        };
        let running = run(handle);
        let tasks = self.clone();
        tokio::spawn(async move {
            // A panic in the host while running the call must still end the task and free
            // its place.
            let ending = AssertUnwindSafe(running)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Ending::Failed(ErrorData::internal_error(
                        "capstan failed while running this task; call the tool again",
                        None,
                    ))
                });
            tasks.finish(&id, ending);
        });
        Ok((task, opening))
    }

    /// `tasks/get`: the task `id` as its owner sees it.
    pub fn get(&self, owner: &str, id: &str) -> Result<DetailedTask, ErrorData> {
        let mut state = self.lock();
        sweep(&mut state, self.inner.settings.retention);
        let entry = owned(&state, owner, id)?;
        let payload = match (&entry.ended, &entry.waiting) {
            (Some((payload, _)), _) => payload.clone(),
            (None, Some(waiting)) => TaskPayload::InputRequired {
                input_requests: waiting.pending.clone(),
            },
            (None, None) => TaskPayload::Working,
        };
        Ok(DetailedTask::new(entry.task.clone(), payload))
    }

    /// `tasks/cancel`: stops the task's call; a task that has ended stays as it ended.
    pub fn cancel(&self, owner: &str, id: &str) -> Result<(), ErrorData> {
        let mut state = self.lock();
        sweep(&mut state, self.inner.settings.retention);
        owned(&state, owner, id)?.cancel.cancel();
        Ok(())
    }

    /// `tasks/update`: delivers `responses` to the task `id` of `owner`. Answers to requests
    /// the task is not waiting for are ignored; an answer that is not an object (the client's
    /// result for its request) is refused, and then nothing is delivered. Once every
    /// outstanding request is answered, the call goes on.
    pub fn update(
        &self,
        owner: &str,
        id: &str,
        responses: &InputResponses,
    ) -> Result<Delivered, ErrorData> {
        let mut state = self.lock();
        sweep(&mut state, self.inner.settings.retention);
        owned(&state, owner, id)?;
        let entry = state.tasks.get_mut(id).expect("the task was just found");
        let Some(waiting) = entry.waiting.as_mut() else {
            return Ok(Delivered::NotWaiting);
        };
        let answers: Vec<(&String, &serde_json::Value)> = responses
            .iter()
            .filter(|(key, _)| waiting.pending.contains_key(*key))
            .collect();
        if let Some((key, _)) = answers.iter().find(|(_, answer)| !answer.is_object()) {
            return Err(ErrorData::invalid_params(
                format!(
                    "inputResponses.{} must be an object: the client's result for that request (for elicitation/create, {{\"action\": \"accept\", \"content\": {{...}}}}); nothing was delivered",
                    crate::guest_text::escape(key)
                ),
                None,
            ));
        }
        for (key, answer) in answers {
            waiting.pending.remove(key);
            waiting.answered.insert(key.clone(), answer.clone());
        }
        if !waiting.pending.is_empty() {
            return Ok(Delivered::Pending(waiting.pending.len()));
        }
        let waiting = entry.waiting.take().expect("the task waits");
        entry.task.status = TaskStatus::Working;
        entry.task.last_updated_at = timestamp(SystemTime::now());
        // The call may have ended meanwhile (cancelled, timed out): nothing to resume then.
        let _ = waiting.resume.send(waiting.answered);
        Ok(Delivered::Resumed)
    }

    /// Parks the task `id` as `input_required` with `requests`; the answers arrive on the
    /// receiver once every request is answered.
    fn wait_for(&self, id: &str, requests: InputRequests) -> oneshot::Receiver<InputResponses> {
        let (resume, answers) = oneshot::channel();
        if let Some(entry) = self.lock().tasks.get_mut(id)
            && entry.ended.is_none()
        {
            entry.task.status = TaskStatus::InputRequired;
            entry.task.last_updated_at = timestamp(SystemTime::now());
            entry.waiting = Some(Waiting {
                pending: requests,
                answered: InputResponses::new(),
                resume,
            });
        }
        answers
    }

    /// Tasks running now.
    pub fn running(&self) -> usize {
        self.lock().running.values().map(|n| *n as usize).sum()
    }

    fn set_status(&self, id: &str, message: String) {
        if let Some(entry) = self.lock().tasks.get_mut(id)
            && entry.ended.is_none()
        {
            entry.task.status_message = Some(message);
            entry.task.last_updated_at = timestamp(SystemTime::now());
        }
    }

    fn finish(&self, id: &str, ending: Ending) {
        let mut state = self.lock();
        if matches!(ending, Ending::Withdrawn) {
            if let Some(entry) = state.tasks.remove(id) {
                state.release((entry.instance, entry.owner));
            }
            return;
        }
        let Some(entry) = state.tasks.get_mut(id) else {
            return;
        };
        entry.waiting = None;
        let payload = match ending {
            Ending::Completed(result) => TaskPayload::Completed {
                result: to_object(&result),
            },
            Ending::Failed(error) => TaskPayload::Failed {
                error: to_object(&error),
            },
            Ending::Cancelled | Ending::Withdrawn => TaskPayload::Cancelled,
        };
        entry.task.status = payload.status();
        entry.task.last_updated_at = timestamp(SystemTime::now());
        if payload.status() == TaskStatus::Cancelled {
            entry.task.status_message = Some("cancelled by the caller".to_owned());
        }
        entry.ended = Some((payload, Instant::now()));
        let key = (entry.instance.clone(), entry.owner.clone());
        state.release(key);
    }

    fn new_id(&self) -> String {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match &self.inner.settings.replica {
            Some(replica) => format!("{replica}.{random}"),
            None => random,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned lock still holds consistent state.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Counts a new task of `owner` on `instance`, unless a bound is reached.
    fn admit(&mut self, owner: &str, instance: &str, bounds: Bounds) -> Result<(), Refused> {
        let running = self.running.get(instance).copied().unwrap_or(0);
        if running >= bounds.per_instance {
            return Err(Refused::Instance {
                instance: instance.to_owned(),
                running,
            });
        }
        let key = (instance.to_owned(), owner.to_owned());
        let mine = self.running_by_caller.get(&key).copied().unwrap_or(0);
        if mine >= bounds.per_caller {
            return Err(Refused::Caller {
                instance: instance.to_owned(),
                running: mine,
            });
        }
        *self.running.entry(instance.to_owned()).or_default() += 1;
        *self.running_by_caller.entry(key).or_default() += 1;
        Ok(())
    }

    /// Uncounts a task that ended.
    fn release(&mut self, (instance, owner): (String, String)) {
        if let Some(n) = self.running.get_mut(&instance) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(&instance);
            }
        }
        let key = (instance, owner);
        if let Some(n) = self.running_by_caller.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.running_by_caller.remove(&key);
            }
        }
    }
}

/// The handle a running task's call holds: its status message, its questions, how it opened
/// and its cancellation.
#[derive(Clone)]
pub struct TaskHandle {
    id: String,
    tasks: Tasks,
    cancel: CancellationToken,
    /// Until the call's opening is told: where `tools/call` waits for it.
    opening: Arc<Mutex<Option<oneshot::Sender<Opening>>>>,
}

impl TaskHandle {
    /// The task's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets the message `tasks/get` shows while the task runs.
    pub fn set_status(&self, message: String) {
        self.tasks.set_status(&self.id, message);
    }

    /// Tells `tools/call` that the call's work has started: the task stands.
    pub fn opened(&self) {
        if let Some(opening) = self.take_opening() {
            let _ = opening.send(Opening::Working);
        }
    }

    /// Withdraws the task when its call asks before its work started and `tools/call` still
    /// waits to hear how it opened: true when `tools/call` took the questions (the task then
    /// ends with [`Ending::Withdrawn`]).
    pub fn withdraw(&self, input: types::InputRequired, tally: Arc<CallTally>) -> bool {
        self.take_opening()
            .is_some_and(|opening| opening.send(Opening::Asked(input, tally)).is_ok())
    }

    /// Shows the task as `input_required` with `requests` until `tasks/update` answered every
    /// one; the answers, by key.
    pub async fn ask(&self, requests: InputRequests) -> InputResponses {
        let answers = self.tasks.wait_for(&self.id, requests);
        match answers.await {
            Ok(answers) => answers,
            // The task ended while waiting: nobody will answer.
            Err(_) => std::future::pending().await,
        }
    }

    fn take_opening(&self) -> Option<oneshot::Sender<Opening>> {
        self.opening
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Resolves when the owner cancels the task.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }
}

/// The entry `id` if `owner` started it; otherwise the same error as for an id never seen, so
/// no caller learns of another's tasks.
fn owned<'s>(state: &'s State, owner: &str, id: &str) -> Result<&'s Entry, ErrorData> {
    state
        .tasks
        .get(id)
        .filter(|entry| entry.owner == owner)
        .ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "unknown task `{}`: no task of yours has this id here (it may have ended longer ago than the retention period, or capstan restarted); call the tool again",
                    crate::guest_text::escape(&id.chars().take(128).collect::<String>())
                ),
                None,
            )
        })
}

/// Forgets tasks that ended more than `retention` ago, and the oldest finished ones past
/// [`MAX_RETAINED`].
fn sweep(state: &mut State, retention: Duration) {
    let now = Instant::now();
    state.tasks.retain(|_, entry| match &entry.ended {
        Some((_, at)) => now.duration_since(*at) < retention,
        None => true,
    });
    let mut finished: Vec<(Instant, String)> = state
        .tasks
        .iter()
        .filter_map(|(id, entry)| entry.ended.as_ref().map(|(_, at)| (*at, id.clone())))
        .collect();
    if finished.len() > MAX_RETAINED {
        finished.sort_unstable();
        for (_, id) in &finished[..finished.len() - MAX_RETAINED] {
            state.tasks.remove(id);
        }
    }
}

fn to_object(value: &impl serde::Serialize) -> JsonObject {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => JsonObject::new(),
    }
}

fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    const BOUNDS: Bounds = Bounds {
        per_instance: 3,
        per_caller: 2,
        timeout: Duration::from_secs(60),
    };

    fn done(text: &str) -> Ending {
        Ending::Completed(CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    async fn settled(tasks: &Tasks, owner: &str, id: &str) -> DetailedTask {
        for _ in 0..200 {
            let task = tasks.get(owner, id).unwrap();
            if task.status().is_terminal() {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("task {id} did not end");
    }

    #[tokio::test]
    async fn a_task_is_seen_only_by_its_owner_and_keeps_its_result() {
        let tasks = Tasks::default();
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |_| async { done("synced") })
            .unwrap();
        assert_eq!(task.status, TaskStatus::Working);
        assert!(task.ttl_ms.is_some() && task.poll_interval_ms.is_some());
        let ended = settled(&tasks, "alice", &task.task_id).await;
        let TaskPayload::Completed { result } = ended.payload else {
            panic!("not completed: {ended:?}");
        };
        assert_eq!(result["content"][0]["text"], "synced");
        let theirs = tasks.get("mallory", &task.task_id).unwrap_err();
        let never = tasks.get("alice", "no-such-task").unwrap_err();
        assert_eq!(theirs.code, never.code);
        assert!(tasks.cancel("mallory", &task.task_id).is_err());
        assert!(
            tasks
                .update("mallory", &task.task_id, &InputResponses::new())
                .is_err()
        );
    }

    #[tokio::test]
    async fn cancelling_stops_the_call_and_is_idempotent() {
        let tasks = Tasks::default();
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |handle| async move {
                handle.set_status("waiting for Healthy".into());
                handle.cancelled().await;
                Ending::Cancelled
            })
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let working = tasks.get("alice", &task.task_id).unwrap();
        assert_eq!(working.status(), TaskStatus::Working);
        assert_eq!(
            working.task.status_message.as_deref(),
            Some("waiting for Healthy")
        );
        tasks.cancel("alice", &task.task_id).unwrap();
        let ended = settled(&tasks, "alice", &task.task_id).await;
        assert_eq!(ended.status(), TaskStatus::Cancelled);
        tasks.cancel("alice", &task.task_id).unwrap();
        assert_eq!(tasks.running(), 0);
    }

    #[tokio::test]
    async fn running_tasks_are_bounded_per_instance_and_per_caller() {
        let tasks = Tasks::default();
        let park = |handle: TaskHandle| async move {
            handle.cancelled().await;
            Ending::Cancelled
        };
        let (a1, _) = tasks.start(("alice", "argocd"), BOUNDS, park).unwrap();
        tasks.start(("alice", "argocd"), BOUNDS, park).unwrap();
        let third = tasks.start(("alice", "argocd"), BOUNDS, park).unwrap_err();
        assert!(
            matches!(third, Refused::Caller { running: 2, .. }),
            "{third}"
        );
        assert!(third.to_string().contains("max_tasks_per_caller"));
        tasks.start(("alice", "flux"), BOUNDS, park).unwrap();
        tasks.start(("bob", "argocd"), BOUNDS, park).unwrap();
        let full = tasks.start(("carol", "argocd"), BOUNDS, park).unwrap_err();
        assert!(
            matches!(full, Refused::Instance { running: 3, .. }),
            "{full}"
        );
        tasks.cancel("alice", &a1.task_id).unwrap();
        settled(&tasks, "alice", &a1.task_id).await;
        tasks.start(("carol", "argocd"), BOUNDS, park).unwrap();
    }

    #[tokio::test]
    async fn ids_name_the_replica_and_failures_carry_the_error() {
        let tasks = Tasks::new(TaskSettings {
            replica: Some("capstan-1".into()),
            ..TaskSettings::default()
        });
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |_| async {
                Ending::Failed(ErrorData::internal_error("the plugin crashed", None))
            })
            .unwrap();
        assert!(task.task_id.starts_with("capstan-1."), "{}", task.task_id);
        assert_eq!(task.task_id.len(), "capstan-1.".len() + 32);
        let ended = settled(&tasks, "alice", &task.task_id).await;
        let TaskPayload::Failed { error } = ended.payload else {
            panic!("not failed: {ended:?}");
        };
        assert_eq!(error["message"], "the plugin crashed");
        assert!(error["code"].is_number());
    }

    async fn buggy() -> Ending {
        panic!("a bug in the host")
    }

    #[tokio::test]
    async fn a_panic_while_running_fails_the_task_and_frees_its_place() {
        let tasks = Tasks::default();
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |_| buggy())
            .unwrap();
        let ended = settled(&tasks, "alice", &task.task_id).await;
        assert_eq!(ended.status(), TaskStatus::Failed);
        assert_eq!(tasks.running(), 0);
    }

    #[tokio::test]
    async fn finished_tasks_are_forgotten_after_the_retention_period() {
        let tasks = Tasks::new(TaskSettings {
            retention: Duration::from_millis(30),
            ..TaskSettings::default()
        });
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |_| async { done("ok") })
            .unwrap();
        settled(&tasks, "alice", &task.task_id).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(tasks.get("alice", &task.task_id).is_err());
    }

    fn elicit(message: &str) -> rmcp::model::InputRequest {
        serde_json::from_value(serde_json::json!({
            "method": "elicitation/create",
            "params": {"mode": "form", "message": message, "requestedSchema": {"type": "object", "properties": {}}},
        }))
        .unwrap()
    }

    fn accept(name: &str) -> serde_json::Value {
        serde_json::json!({"action": "accept", "content": {"name": name}})
    }

    async fn until_waiting(tasks: &Tasks, id: &str) -> DetailedTask {
        for _ in 0..200 {
            let task = tasks.get("alice", id).unwrap();
            if task.status() == TaskStatus::InputRequired {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("task {id} never asked");
    }

    #[tokio::test]
    async fn a_task_waits_until_every_request_is_answered_one_update_at_a_time() {
        let tasks = Tasks::default();
        let (task, _) = tasks
            .start(("alice", "argocd"), BOUNDS, |handle| async move {
                let requests =
                    InputRequests::from([("a".into(), elicit("A?")), ("b".into(), elicit("B?"))]);
                let answers = handle.ask(requests).await;
                done(&format!(
                    "{} {}",
                    answers["a"]["content"]["name"], answers["b"]["content"]["name"]
                ))
            })
            .unwrap();
        let id = &task.task_id;
        let asked = until_waiting(&tasks, id).await;
        let TaskPayload::InputRequired { input_requests } = &asked.payload else {
            panic!("no requests: {asked:?}");
        };
        assert_eq!(input_requests.keys().collect::<Vec<_>>(), ["a", "b"]);

        let strange = InputResponses::from([("zzz".into(), serde_json::json!({"ignored": true}))]);
        assert_eq!(
            tasks.update("alice", id, &strange).unwrap(),
            Delivered::Pending(2)
        );
        let malformed = InputResponses::from([("a".into(), serde_json::json!("yes"))]);
        let refused = tasks.update("alice", id, &malformed).unwrap_err();
        assert!(
            refused.message.contains("inputResponses.a"),
            "{}",
            refused.message
        );
        assert_eq!(
            until_waiting(&tasks, id).await.payload,
            asked.payload,
            "a refused update changes nothing"
        );

        let first = InputResponses::from([("a".into(), accept("one"))]);
        assert_eq!(
            tasks.update("alice", id, &first).unwrap(),
            Delivered::Pending(1)
        );
        let TaskPayload::InputRequired { input_requests } = tasks.get("alice", id).unwrap().payload
        else {
            panic!("no longer waiting");
        };
        assert_eq!(input_requests.keys().collect::<Vec<_>>(), ["b"]);
        assert!(
            tasks.update("mallory", id, &first).is_err(),
            "only the owner answers"
        );

        let second = InputResponses::from([("b".into(), accept("two"))]);
        assert_eq!(
            tasks.update("alice", id, &second).unwrap(),
            Delivered::Resumed
        );
        let ended = settled(&tasks, "alice", id).await;
        let TaskPayload::Completed { result } = ended.payload else {
            panic!("not completed: {ended:?}");
        };
        assert_eq!(result["content"][0]["text"], "\"one\" \"two\"");
        assert_eq!(
            tasks.update("alice", id, &second).unwrap(),
            Delivered::NotWaiting
        );
    }

    #[tokio::test]
    async fn a_task_that_asks_before_working_is_withdrawn_and_frees_its_place() {
        let tasks = Tasks::default();
        let (task, opening) = tasks
            .start(("alice", "argocd"), BOUNDS, |handle| async move {
                let input = types::InputRequired {
                    requests: Vec::new(),
                    state: Some("s".into()),
                };
                assert!(handle.withdraw(input, Arc::default()));
                Ending::Withdrawn
            })
            .unwrap();
        let Opening::Asked(input, _) = opening.await.unwrap() else {
            panic!("the call asked");
        };
        assert_eq!(input.state.as_deref(), Some("s"));
        for _ in 0..200 {
            if tasks.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(tasks.running(), 0);
        assert!(
            tasks.get("alice", &task.task_id).is_err(),
            "a withdrawn task is forgotten"
        );
    }

    #[tokio::test]
    async fn a_task_whose_opening_nobody_waits_for_stays_a_task() {
        let tasks = Tasks::default();
        let (task, opening) = tasks
            .start(("alice", "argocd"), BOUNDS, |handle| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let input = types::InputRequired {
                    requests: Vec::new(),
                    state: None,
                };
                match handle.withdraw(input, Arc::default()) {
                    true => Ending::Withdrawn,
                    false => done("kept"),
                }
            })
            .unwrap();
        drop(opening);
        let ended = settled(&tasks, "alice", &task.task_id).await;
        assert_eq!(ended.status(), TaskStatus::Completed);
    }
}
