//! Running one export of a plugin in a fresh, limited store.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi_config::WasiConfigVariables;

use super::bindings::{Plugin, PluginPre, types};
use super::lift::{self, CallAnswer};
use super::slots;
use super::state::{CallState, EPOCH_TICK, MemoryLimiter, Refusal};
use crate::egress::{CallContext, EgressPolicy};
use crate::events::EventSink;

/// The limits and context one plugin instance runs under, shared by all its calls.
#[derive(Clone)]
pub struct Sandbox {
    /// Cap on the linear memory of one call, in bytes.
    pub memory_bytes: usize,
    /// The instance's budget for the linear memory of all its calls together, one permit a
    /// byte (`[limits].memory_total`).
    pub memory_total: Arc<Semaphore>,
    /// Wall-clock limit of one call, guest code and host I/O together.
    pub timeout: Duration,
    /// The manifest's `[config]` and target URLs, visible through `wasi:config`.
    pub config: Arc<WasiConfigVariables>,
    /// The egress gate for this instance's outgoing requests.
    pub egress: Arc<EgressPolicy>,
}

/// Why a call produced no result.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The call ran past its wall-clock limit.
    Timeout(Duration),
    /// The guest tried to grow its memory past the limit and then trapped.
    OutOfMemory {
        /// The memory the guest asked for.
        requested: usize,
        /// The limit.
        limit: usize,
    },
    /// The guest tried to grow its memory while the instance's other calls held the rest of
    /// its memory budget, and then trapped.
    InstanceOutOfMemory {
        /// The memory the guest asked for.
        requested: usize,
    },
    /// The guest overflowed its stack (usually unbounded recursion).
    StackOverflow,
    /// The guest trapped (a Rust panic, `unreachable`, a bad memory access, ...).
    Trap {
        /// The trap.
        trap: String,
        /// The last line the guest wrote to stderr, e.g. its panic message.
        stderr: Option<String>,
    },
    /// The guest's answer exceeds what the host reads; the message names the limit.
    TooLarge(String),
    /// The component misbehaved at the boundary or the host failed to run it.
    Failed(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout(limit) => write!(
                f,
                "timed out after {} (the instance's [limits].timeout); narrow the request or raise the limit",
                humantime::format_duration(*limit)
            ),
            CallError::OutOfMemory { requested, limit } => write!(
                f,
                "ran out of memory: needed {} but the instance's [limits].memory is {}",
                bytesize::ByteSize::b(*requested as u64).display().iec(),
                bytesize::ByteSize::b(*limit as u64).display().iec()
            ),
            CallError::InstanceOutOfMemory { requested } => write!(
                f,
                "ran out of memory: needed {} while the instance's other calls held the rest of its [limits].memory_total; retry when fewer calls run, or raise memory_total",
                bytesize::ByteSize::b(*requested as u64).display().iec(),
            ),
            CallError::StackOverflow => f.write_str("overflowed its stack (unbounded recursion?)"),
            CallError::Trap { trap, stderr } => match stderr {
                Some(line) => write!(f, "crashed ({trap}): {line}"),
                None => write!(f, "crashed ({trap})"),
            },
            CallError::TooLarge(message) | CallError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CallError {}

/// A loaded, pre-instantiated plugin component.
#[derive(Clone)]
pub struct Component {
    engine: Engine,
    pre: PluginPre<CallState>,
    sha256: Arc<str>,
    from_cache: bool,
    slots: Arc<Semaphore>,
}

enum Export<'a> {
    ListTools,
    ListPrompts,
    ListResources,
    ListResourceTemplates,
    ListSkills,
    /// Name, arguments, the previous round and the result cap.
    CallTool(&'a str, &'a str, Option<&'a types::Round>, usize),
    /// Name, arguments, the previous round and the result cap.
    GetPrompt(&'a str, &'a str, Option<&'a types::Round>, usize),
    /// The URI (the plugin's form) and the result cap.
    ReadResource(&'a str, usize),
    /// What is completed, the argument, its value so far and the chosen arguments (JSON).
    Complete(&'a types::CompletionRef, &'a str, &'a str, &'a str),
}

impl Export<'_> {
    /// The most bytes the host copies out of the guest at once while running this export.
    fn copy_limit(&self) -> usize {
        match self {
            Export::ListTools
            | Export::ListPrompts
            | Export::ListResources
            | Export::ListResourceTemplates
            | Export::ListSkills
            | Export::Complete(..) => lift::copy_limit(lift::MAX_LIST_BYTES),
            Export::CallTool(_, _, _, cap)
            | Export::GetPrompt(_, _, _, cap)
            | Export::ReadResource(_, cap) => lift::copy_limit(*cap),
        }
    }
}

enum Answer {
    Tools(Vec<types::Tool>),
    Prompts(Vec<types::Prompt>),
    Resources(Vec<types::Resource>),
    Templates(Vec<types::ResourceTemplate>),
    Skills(Vec<types::Skill>),
    Call(CallAnswer),
    Prompt(Result<types::PromptAnswer, String>),
    Read(Result<Vec<types::EmbeddedResource>, types::ResourceError>),
    Completion(Vec<String>),
}

/// A plugin's answer to reading one resource: its contents, or why not.
pub type ReadAnswer = Result<Vec<types::EmbeddedResource>, types::ResourceError>;

/// What a plugin lists once, when it is loaded.
#[derive(Debug, Default)]
pub struct Listed {
    /// `tools.list-tools`.
    pub tools: Vec<types::Tool>,
    /// `prompts.list-prompts`.
    pub prompts: Vec<types::Prompt>,
    /// `resources.list-resources`.
    pub resources: Vec<types::Resource>,
    /// `resources.list-resource-templates`.
    pub templates: Vec<types::ResourceTemplate>,
    /// `skills.list-skills`.
    pub skills: Vec<types::Skill>,
}

impl Component {
    pub(super) fn new(
        engine: Engine,
        pre: PluginPre<CallState>,
        sha256: String,
        from_cache: bool,
        slots: Arc<Semaphore>,
    ) -> Self {
        Self {
            engine,
            pre,
            sha256: sha256.into(),
            from_cache,
            slots,
        }
    }

    /// Hex sha256 of the component's `.wasm` bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// True when the compiled code came from the compile cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// Runs one listing export with no events, caller or inputs.
    async fn list(&self, sandbox: &Sandbox, export: Export<'_>) -> Result<Answer, CallError> {
        self.run(sandbox, EventSink::none(), CallContext::default(), export)
            .await
    }

    /// Calls every listing export: tools, prompts, resources, templates and skills.
    pub async fn list_all(&self, sandbox: &Sandbox) -> Result<Listed, CallError> {
        let mut listed = Listed::default();
        for export in [
            Export::ListTools,
            Export::ListPrompts,
            Export::ListResources,
            Export::ListResourceTemplates,
            Export::ListSkills,
        ] {
            match self.list(sandbox, export).await? {
                Answer::Tools(tools) => listed.tools = tools,
                Answer::Prompts(prompts) => listed.prompts = prompts,
                Answer::Resources(resources) => listed.resources = resources,
                Answer::Templates(templates) => listed.templates = templates,
                Answer::Skills(skills) => listed.skills = skills,
                _ => unreachable!("a listing export answers with its list"),
            }
        }
        Ok(listed)
    }

    /// Calls `tools.call-tool`, with the client's answers of the previous `round`; progress
    /// and log events go to `events`. A result over `cap` bytes keeps only the start of its
    /// text (see [`lift`]).
    pub async fn call_tool(
        &self,
        sandbox: &Sandbox,
        events: EventSink,
        context: CallContext,
        (name, arguments, round): (&str, &str, Option<&types::Round>),
        cap: usize,
    ) -> Result<CallAnswer, CallError> {
        let export = Export::CallTool(name, arguments, round, cap);
        match self.run(sandbox, events, context, export).await? {
            Answer::Call(result) => Ok(result),
            _ => unreachable!("call-tool answers with a call result"),
        }
    }

    /// Calls `prompts.get-prompt`; a rendered prompt over `cap` bytes is refused.
    pub async fn get_prompt(
        &self,
        sandbox: &Sandbox,
        context: CallContext,
        (name, arguments, round): (&str, &str, Option<&types::Round>),
        cap: usize,
    ) -> Result<Result<types::PromptAnswer, String>, CallError> {
        let export = Export::GetPrompt(name, arguments, round, cap);
        match self
            .run(sandbox, EventSink::none(), context, export)
            .await?
        {
            Answer::Prompt(result) => Ok(result),
            _ => unreachable!("get-prompt answers with a prompt"),
        }
    }

    /// Calls `resources.read-resource` for `uri` (the plugin's form); contents over `cap`
    /// bytes are refused.
    pub async fn read_resource(
        &self,
        sandbox: &Sandbox,
        context: CallContext,
        uri: &str,
        cap: usize,
    ) -> Result<ReadAnswer, CallError> {
        let export = Export::ReadResource(uri, cap);
        match self
            .run(sandbox, EventSink::none(), context, export)
            .await?
        {
            Answer::Read(read) => Ok(read),
            _ => unreachable!("read-resource answers with contents"),
        }
    }

    /// Calls `completions.complete`: at most [`lift::MAX_COMPLETIONS`] values.
    pub async fn complete(
        &self,
        sandbox: &Sandbox,
        context: CallContext,
        reference: &types::CompletionRef,
        (argument, value, chosen): (&str, &str, &str),
    ) -> Result<Vec<String>, CallError> {
        let export = Export::Complete(reference, argument, value, chosen);
        match self
            .run(sandbox, EventSink::none(), context, export)
            .await?
        {
            Answer::Completion(values) => Ok(values),
            _ => unreachable!("complete answers with values"),
        }
    }

    async fn run(
        &self,
        sandbox: &Sandbox,
        events: EventSink,
        context: CallContext,
        export: Export<'_>,
    ) -> Result<Answer, CallError> {
        // Waiting for a pool slot counts against the call's deadline.
        let deadline = tokio::time::Instant::now() + sandbox.timeout + 2 * EPOCH_TICK;
        let slot = tokio::time::timeout_at(deadline, self.slots.acquire())
            .await
            .map_err(|_| CallError::Timeout(sandbox.timeout))?
            .map_err(|_| CallError::Failed("the runtime is shutting down".into()))?;
        let _slot = slots::Held::new(slot);
        let (ran, tally) = (Instant::now(), events.tally());
        let mut store = self.new_store(sandbox, events, context, deadline.into_std());
        let copy_limit = export.copy_limit();
        store.set_hostcall_fuel(copy_limit);
        let outcome =
            tokio::time::timeout_at(deadline, invoke(&self.pre, &mut store, export)).await;
        tally.record_run(ran.elapsed());
        match outcome {
            Err(_) => Err(CallError::Timeout(sandbox.timeout)),
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) if lift::is_over_copy_limit(&error) => {
                Err(lift::over_copy_limit(copy_limit))
            }
            Ok(Err(error)) => Err(classify(error, &store, sandbox.timeout)),
        }
    }

    fn new_store(
        &self,
        sandbox: &Sandbox,
        events: EventSink,
        context: CallContext,
        ends_at: std::time::Instant,
    ) -> Store<CallState> {
        let ticks = (sandbox.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        // The guest is told the time to the wall-clock deadline, less the slack the host
        // gives itself beyond the timeout.
        let ends_at = ends_at.checked_sub(2 * EPOCH_TICK).unwrap_or(ends_at);
        let inputs = context.inputs;
        let state = CallState::new(
            sandbox.egress.hooks(events.clone(), context),
            sandbox.config.clone(),
            MemoryLimiter::new(sandbox.memory_bytes, sandbox.memory_total.clone()),
            (ticks, ends_at),
            (events, inputs),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| Ok(context.data_mut().deadline.tick()));
        store
    }
}

/// Runs `export` in a fresh instance; its answer is measured before anything else is done with
/// it ([`lift`]), and a prompt or list over its limit is an `Ok(Err(TooLarge))`.
async fn invoke(
    pre: &PluginPre<CallState>,
    store: &mut Store<CallState>,
    export: Export<'_>,
) -> wasmtime::Result<Result<Answer, CallError>> {
    let plugin: Plugin = pre.instantiate_async(&mut *store).await?;
    Ok(match export {
        Export::ListTools => lift::list_tools(&plugin, store).await?.map(Answer::Tools),
        Export::ListPrompts => lift::list_prompts(&plugin, store)
            .await?
            .map(Answer::Prompts),
        Export::ListResources => lift::list_resources(&plugin, store)
            .await?
            .map(Answer::Resources),
        Export::ListResourceTemplates => lift::list_resource_templates(&plugin, store)
            .await?
            .map(Answer::Templates),
        Export::ListSkills => lift::list_skills(&plugin, store).await?.map(Answer::Skills),
        Export::CallTool(name, arguments, round, cap) => {
            lift::call_tool(&plugin, store, (name, arguments, round), cap)
                .await?
                .map(Answer::Call)
        }
        Export::GetPrompt(name, arguments, round, cap) => {
            lift::get_prompt(&plugin, store, (name, arguments, round), cap)
                .await?
                .map(Answer::Prompt)
        }
        Export::ReadResource(uri, cap) => lift::read_resource(&plugin, store, uri, cap)
            .await?
            .map(Answer::Read),
        Export::Complete(reference, argument, value, chosen) => Ok(Answer::Completion(
            lift::complete(&plugin, store, reference, (argument, value, chosen)).await?,
        )),
    })
}

fn classify(error: wasmtime::Error, store: &Store<CallState>, timeout: Duration) -> CallError {
    let state = store.data();
    let Some(trap) = error.downcast_ref::<Trap>() else {
        return CallError::Failed(format!("{error:#}"));
    };
    match trap {
        Trap::Interrupt => CallError::Timeout(timeout),
        Trap::StackOverflow => CallError::StackOverflow,
        _ => match state.limiter.refused {
            Some(Refusal::Instance(requested)) => CallError::InstanceOutOfMemory { requested },
            Some(Refusal::Call(requested)) => CallError::OutOfMemory {
                requested,
                limit: state.limiter.limit(),
            },
            None => CallError::Trap {
                trap: trap.to_string(),
                stderr: panic_message(&state.stderr.contents()),
            },
        },
    }
}

/// The most telling line of a guest's stderr: a Rust panic's message (the line after
/// `panicked at`), else the last line that is not a `note:`.
fn panic_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let after_panic = lines
        .iter()
        .position(|line| line.contains("panicked at"))
        .and_then(|at| lines.get(at + 1));
    after_panic
        .or_else(|| lines.iter().rev().find(|line| !line.starts_with("note:")))
        .map(|line| line.chars().take(500).collect())
}
