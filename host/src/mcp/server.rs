//! The MCP server handler: tools and prompts from the registry, run in the sandbox. It records
//! each call of a served tool on `/metrics` (`metrics::record_call`: the outcome, the whole
//! call's time and the guest's), and counts open sessions and listen streams. A tool that says
//! it supports tasks, called by a client that declared the Tasks extension, runs as a task in
//! the [`Tasks`] store: the call answers the task at once, and `tasks/get`, `tasks/cancel` and
//! `tasks/update` serve it to the caller that started it. A task's plugin may ask for input:
//! the task waits as `input_required` until `tasks/update` answered, and its plugin is called
//! again with the answers and its state, which stays in the host. A task-capable call that
//! asks before its work starts answers `input_required` itself and becomes a task on the retry.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ClientCapabilities, CompleteRequestParams, CompleteResult, ContentBlock, CreateTaskResult,
    ErrorCode, GetPromptRequestParams, GetPromptResponse, GetSkillRequestParams, GetSkillResult,
    GetTaskParams, GetTaskResult, Implementation, InputRequiredResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SubscribeRequestParams, SubscriptionFilter,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ErrorData, ServerHandler};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};
use tracing::Instrument as _;

use super::catalog::{self, Located};
use super::guard::{self, Guard};
use super::logging::{self, Threshold};
use super::notify::Broadcaster;
use super::plugin_input::{self, MAX_SESSION_ROUNDS, Unaskable};
use super::rounds::{Answer, Binding, Opened, PluginRound, Retry, speaks_input_required};
use super::tasks::{Bounds, Ending, OPENING, Opening, TaskHandle, Tasks};
use super::watch::{self, Reading, Subscriber, Watches};
use super::{convert, result, spans};
use crate::access::{Decision, Outcome};
use crate::audit::{self, CallRecord, Confirmation, EgressSummary, PolicyVerdict};
use crate::caller::{Caller, CallerKind};
use crate::egress::{CallContext, TargetScope};
use crate::events::{CallTally, EventSink, GuestEvent, LogLevel};
use crate::guest_text::escape;
use crate::metrics::{self, CallOutcome};
use crate::registry::{Entry, Instance, InstanceError, Registry};
use crate::runtime::types::{self, TaskSupport};
use crate::runtime::{CallAnswer, CallError};

/// Settings of the MCP front that shape results.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Largest tool result, in bytes of JSON.
    pub result_cap: usize,
    /// How often subscribed resources are read again (see [`watch`]).
    pub resource_poll_interval: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            result_cap: 256 << 10,
            resource_poll_interval: watch::DEFAULT_POLL_INTERVAL,
        }
    }
}

/// The handler of one MCP session (or of one stateless request): tools and prompts from
/// `registry`, sessions and subscriptions remembered by `broadcaster` for change notifications.
#[derive(Clone)]
pub struct McpServer {
    registry: Arc<Registry>,
    broadcaster: Broadcaster,
    options: ServeOptions,
    guard: Guard,
    log_threshold: Arc<Mutex<Option<Threshold>>>,
    /// Counts the session on `/metrics` from `initialized` until its last handler is dropped.
    session: Arc<OnceLock<metrics::Open>>,
    /// The tasks of every session and stateless request of this process.
    tasks: Tasks,
    /// The resources this session watches for the client (`resources/subscribe`).
    watches: Arc<Watches>,
}

impl McpServer {
    /// A handler serving `registry`.
    pub fn new(registry: Arc<Registry>, broadcaster: Broadcaster, options: ServeOptions) -> Self {
        Self {
            registry,
            broadcaster,
            options,
            guard: Guard::default(),
            log_threshold: Arc::default(),
            session: Arc::default(),
            tasks: Tasks::default(),
            watches: Arc::default(),
        }
    }

    /// The same handler keeping its tasks in `tasks`.
    pub fn with_tasks(self, tasks: Tasks) -> Self {
        Self { tasks, ..self }
    }

    /// The same handler with `guard` deciding who may list and call what.
    pub fn with_guard(self, guard: Guard) -> Self {
        Self { guard, ..self }
    }

    /// A handler for a new session: the same registry and clients, its own log level.
    pub fn session(&self) -> Self {
        Self {
            log_threshold: Arc::default(),
            session: Arc::default(),
            watches: Arc::default(),
            ..self.clone()
        }
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(logging::capabilities())
            .with_server_info(Implementation::new("capstan", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "GitOps tools (Argo CD, Argo Rollouts, Flux and others) run by capstan in sandboxed plugins. Tool names start with the plugin instance's prefix.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = guard::caller_of(&context);
        let snapshot = self.registry.snapshot();
        let tools = snapshot
            .tools()
            .filter(|(_, entry)| self.guard.visible(&caller, entry))
            .map(|(_, entry)| convert::tool(&entry.instance.tools()[entry.index]))
            .collect();
        let listed = ListToolsResult::with_all_items(tools);
        Ok(match self.guard.is_per_caller() {
            true => listed.with_cache_scope(CacheScope::Private),
            false => listed,
        })
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        let snapshot = self.registry.snapshot();
        snapshot
            .tool(name)
            .map(|entry| convert::tool(&entry.instance.tools()[entry.index]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = spans::request(&request.name, &context);
        let answer = self
            .serve_call(request, context)
            .instrument(span.clone())
            .await;
        spans::record_answer(&span, &answer);
        answer
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let snapshot = self.registry.snapshot();
        let prompts = snapshot
            .prompts()
            .map(|(_, entry)| convert::prompt(&entry.instance.prompts()[entry.index]))
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let snapshot = self.registry.snapshot();
        let entry = snapshot.prompt(&request.name).cloned().ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "unknown prompt `{}`; call prompts/list to see the prompts this server offers",
                    request.name
                ),
                None,
            )
        })?;
        let caller = guard::caller_of(&context);
        let arguments =
            serde_json::to_value(request.arguments.clone().unwrap_or_default()).unwrap_or_default();
        let binding = Binding::new(&caller.subject, &request.name, None, &arguments);
        let responses = request.input_responses.as_ref();
        let opened = self
            .guard
            .rounds()
            .open_round(request.request_state.as_deref(), &binding);
        let round = match opened {
            Opened::Round(round) => Some(plugin_input::round(responses, round.state)),
            Opened::Rejected => return Err(rejected_state()),
            Opened::Nothing if responses.is_some() => Some(plugin_input::round(responses, None)),
            Opened::Nothing | Opened::Confirmation => None,
        };
        let rendered = self
            .render_prompt(&entry, (&arguments, round), &caller, &context)
            .await;
        match rendered {
            Ok(Ok(types::PromptAnswer::Complete(rendered))) => {
                Ok(convert::prompt_result(rendered).into())
            }
            Ok(Ok(types::PromptAnswer::InputRequired(input))) => {
                let asked = self.ask_client(&input, &binding, false, &context)?;
                Ok(GetPromptResponse::InputRequired(asked))
            }
            Ok(Err(message)) => Err(ErrorData::invalid_params(message, None)),
            Err(error) => Err(ErrorData::internal_error(
                format!(
                    "prompt `{}` of plugin instance `{}` {error}",
                    request.name,
                    entry.instance.name()
                ),
                None,
            )),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(catalog::list_resources(&self.registry.snapshot()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(catalog::list_templates(&self.registry.snapshot()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let snapshot = self.registry.snapshot();
        match catalog::locate(&snapshot, &request.uri)? {
            Located::SkillFile(text) => Ok(catalog::skill_file(&request.uri, text).into()),
            Located::Plugin(instance, own) => {
                let caller = guard::caller_of(&context);
                let call_context = self.read_context(&caller, &request.uri, &context);
                let read = catalog::read_plugin_resource(
                    &instance,
                    (&request.uri, &own),
                    call_context,
                    self.options.result_cap,
                )
                .await?;
                Ok(read.into())
            }
        }
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let subscriber = Subscriber::Session(context.peer.clone());
        let reading = self.reading(&request.uri, &context);
        self.watches.add(&request.uri, reading, subscriber)
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.watches.remove(&request.uri);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let snapshot = self.registry.snapshot();
        let Some((instance, reference)) = catalog::completion_target(&snapshot, &request) else {
            return Ok(CompleteResult::default());
        };
        let caller = guard::caller_of(&context);
        let chosen = catalog::chosen_arguments(&request);
        let mut call_context = self.side_context(&caller, &context);
        call_context.scope = self.guard.read_scope(
            &caller,
            &instance,
            guard::target_of(&instance, &chosen).as_deref(),
        );
        let values = instance
            .complete(
                &reference,
                (&request.argument.name, &request.argument.value, &chosen),
                call_context,
            )
            .await
            .unwrap_or_else(|error| {
                tracing::debug!(instance = instance.name(), %error, "completion failed");
                Vec::new()
            });
        Ok(catalog::completion(values))
    }

    async fn list_skills(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        Ok(ListSkillsResult::with_all_items(catalog::list_skills(
            &self.registry.snapshot(),
        )))
    }

    async fn get_skill(
        &self,
        request: GetSkillRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        let snapshot = self.registry.snapshot();
        let (_, skill) = snapshot.skill(&request.uri).ok_or_else(|| {
            ErrorData::invalid_params(
                format!(
                    "no skill is served at {}; call skills/list to see the skills",
                    request.uri
                ),
                None,
            )
        })?;
        Ok(GetSkillResult::new(catalog::skill(skill)))
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *self.log_threshold.lock().await = Some(Threshold::from_request(&request));
        Ok(())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.session.get_or_init(metrics::Open::session);
        self.broadcaster.add_peer(context.peer).await;
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = requested.supported_by(&self.get_info().capabilities);
        accepted.resource_subscriptions = accepted
            .resource_subscriptions
            .map(|uris| watch::accepted(&self.registry, &uris))
            .filter(|uris| !uris.is_empty());
        Some(accepted)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let owner = owner_of(&guard::caller_of(&context));
        let task = self.tasks.get(&owner, &request.task_id)?;
        Ok(GetTaskResult::new(task))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let owner = owner_of(&guard::caller_of(&context));
        self.tasks.cancel(&owner, &request.task_id)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let owner = owner_of(&guard::caller_of(&context));
        let delivered = self
            .tasks
            .update(&owner, &request.task_id, &request.input_responses)?;
        tracing::debug!(task = %escape(&request.task_id), ?delivered, "tasks/update");
        Ok(())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let _open = metrics::Open::listen_stream();
        let key = self
            .broadcaster
            .add_subscription(context.sink().clone())
            .await;
        let watches = Watches::default();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            let subscriber = Subscriber::Stream(context.sink().clone());
            let reading = self.reading(uri, context.request_context());
            if let Err(error) = watches.add(uri, reading, subscriber) {
                tracing::debug!(%uri, %error.message, "resource not watched");
            }
        }
        context.cancelled().await;
        drop(watches);
        self.broadcaster.remove_subscription(key).await;
        Ok(())
    }
}

/// How a call ended: the answer, and for a served tool its outcome and the guest's time in
/// the sandbox.
struct Called {
    answer: Result<CallToolResponse, ErrorData>,
    /// `None` when the call named no served tool (it is not counted), or when it became a
    /// task (the task counts and audits itself when it ends).
    outcome: Option<CallOutcome>,
    ran: Option<Duration>,
}

impl Called {
    /// An answer that is not a served tool's outcome: an unknown tool, or a task started.
    fn uncounted(answer: Result<CallToolResponse, ErrorData>) -> Self {
        Self {
            answer,
            outcome: None,
            ran: None,
        }
    }
}

impl Called {
    /// A call of a served tool that ended with `response` before its guest ran.
    fn stopped(outcome: CallOutcome, response: CallToolResponse) -> Self {
        Self {
            answer: Ok(response),
            outcome: Some(outcome),
            ran: None,
        }
    }
}

impl McpServer {
    /// One `tools/call`: the guarded call, its metrics and its audit record.
    async fn serve_call(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let caller = guard::caller_of(&context);
        tracing::debug!(caller = %caller.subject, tool = %request.name, "tools/call");
        let arguments = Value::Object(request.arguments.take().unwrap_or_default());
        let mut record = CallRecord::new(&caller, &request.name, &arguments, SystemTime::now());
        record.request = context.id.to_string();
        record.session = guard::session_of(&context);
        let retry = Retry {
            responses: request.input_responses.as_ref(),
            state: request.request_state.as_deref(),
        };
        let called = self
            .guarded_call(
                &caller,
                &request.name,
                &arguments,
                retry,
                &context,
                &mut record,
            )
            .await;
        let answer = called.answer;
        if let Ok(CallToolResponse::Task(_)) = &answer {
            return answer;
        }
        if let (Some(instance), Some(outcome)) = (&record.instance, called.outcome) {
            let took = started.elapsed();
            metrics::record_call(instance, &request.name, outcome, took, called.ran);
        }
        record.result = match &answer {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                audit::Outcome::IsError
            }
            Ok(CallToolResponse::Complete(_)) => audit::Outcome::Ok,
            Ok(_) => audit::Outcome::InputRequired,
            Err(_) => audit::Outcome::Error,
        };
        self.guard.audit().record(record, started);
        answer
    }

    /// The call after authentication: the tool looked up, its arguments checked, the policy
    /// asked, a confirmation obtained when a rule wants one, and only then the plugin run.
    async fn guarded_call(
        &self,
        caller: &Arc<Caller>,
        name: &str,
        arguments: &Value,
        retry: Retry<'_>,
        context: &RequestContext<RoleServer>,
        record: &mut CallRecord,
    ) -> Called {
        let snapshot = self.registry.snapshot();
        let Some(entry) = snapshot.tool(name).cloned() else {
            let unknown = ErrorData::invalid_params(
                format!(
                    "unknown tool `{name}`; call tools/list to see the tools this server offers"
                ),
                None,
            );
            return Called::uncounted(Err(unknown));
        };
        let target = guard::target_of(&entry.instance, arguments);
        tracing::Span::current().record("capstan.instance", entry.instance.name());
        record.instance = Some(entry.instance.name().to_owned());
        record.target.clone_from(&target);
        if let Some(problems) = invalid_arguments(&entry, arguments) {
            let refusal = CallToolResult::error(vec![ContentBlock::text(problems)]);
            return Called::stopped(CallOutcome::Validation, refusal.into());
        }
        let decision = spans::policy().in_scope(|| {
            let decision = self
                .guard
                .decide(caller, &entry, target.as_deref(), arguments);
            spans::record_decision(&decision);
            decision
        });
        record.decision = PolicyVerdict {
            outcome: decision.outcome.as_str(),
            rule: decision.rule.clone(),
        };
        let binding = Binding::new(&caller.subject, name, target.as_deref(), arguments);
        let opened = self.guard.rounds().open_round(retry.state, &binding);
        let mut confirmed = matches!(&opened, Opened::Round(round) if round.confirmed);
        match decision.outcome {
            Outcome::Deny => {
                let refusal = guard::refusal(name, &decision);
                return Called::stopped(CallOutcome::Policy, refusal.into());
            }
            Outcome::Confirm if !confirmed => {
                let answer = self
                    .guard
                    .rounds()
                    .confirm(&decision.reason, &binding, retry, context)
                    .await;
                if let Some((outcome, stop)) = confirmation_stop(name, &decision, answer, record) {
                    return Called::stopped(outcome, stop);
                }
                confirmed = true;
            }
            Outcome::Confirm => record.confirmation = Confirmation::Approved,
            Outcome::Allow if matches!(opened, Opened::Rejected) => {
                return Called::uncounted(Err(rejected_state()));
            }
            Outcome::Allow => {}
        }
        let round = match opened {
            Opened::Round(round) => Some(plugin_input::round(retry.responses, round.state)),
            // Answers echoed without a state still reach the plugin, with no state.
            Opened::Nothing if retry.responses.is_some() => {
                Some(plugin_input::round(retry.responses, None))
            }
            _ => None,
        };
        let scope = match (self.guard.is_per_caller(), target) {
            (false, _) => TargetScope::All,
            (true, Some(target)) => TargetScope::Only(target),
            (true, None) => TargetScope::Nothing,
        };
        let support = entry.instance.tools()[entry.index].tool.task_support;
        // Most tools never run as tasks: only theirs is the client's capability looked up.
        let client_has_tasks = support != TaskSupport::Forbidden && client_has_tasks(context);
        let ran = match (support, client_has_tasks) {
            (TaskSupport::Forbidden, _) | (TaskSupport::Optional, false) => {
                self.run_rounds(&entry, (arguments, round), (caller.clone(), scope), context)
                    .await
            }
            (TaskSupport::Required, false) => {
                let needs = ClientCapabilities::builder().enable_tasks().build();
                let refusal = ErrorData::missing_required_client_capability(needs);
                return Called::uncounted(Err(refusal));
            }
            (TaskSupport::Optional | TaskSupport::Required, true) => {
                let call = TaskCall {
                    entry: entry.clone(),
                    arguments: arguments.clone(),
                    round,
                    call_context: CallContext {
                        client_headers: client_headers(context),
                        caller: caller.clone(),
                        scope,
                        inputs: plugin_input::client_inputs(context),
                        ..CallContext::default()
                    },
                    record: record.clone(),
                };
                match self.start_task(call).await {
                    Started::Task(called) => return called,
                    Started::Asked(input, tally) => Ok(Ran::Asked(input, tally)),
                }
            }
        };
        let (result, tally, outcome) = match ran {
            Ok(Ran::Complete(result, tally, outcome)) => (result, tally, outcome),
            Ok(Ran::Asked(input, tally)) => {
                record.egress = EgressSummary {
                    requests: tally.requests(),
                    denials: tally.denials(),
                };
                let answer = match self.ask_client(&input, &binding, confirmed, context) {
                    Ok(asked) => CallToolResponse::InputRequired(asked),
                    Err(error) if error.code == ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY => {
                        return Called {
                            answer: Err(error),
                            outcome: Some(CallOutcome::Failed),
                            ran: tally.run_time(),
                        };
                    }
                    Err(error) => {
                        let failed = failed_call(&entry.instance, name, &error.message);
                        return Called {
                            answer: Ok(failed.into()),
                            outcome: Some(CallOutcome::Failed),
                            ran: tally.run_time(),
                        };
                    }
                };
                return Called {
                    answer: Ok(answer),
                    outcome: Some(CallOutcome::InputRequired),
                    ran: tally.run_time(),
                };
            }
            Err(cancelled) => {
                return Called {
                    answer: Err(cancelled),
                    outcome: Some(CallOutcome::Cancelled),
                    ran: None,
                };
            }
        };
        record.egress = EgressSummary {
            requests: tally.requests(),
            denials: tally.denials(),
        };
        Called {
            answer: Ok(result.into()),
            outcome: Some(outcome),
            ran: tally.run_time(),
        }
    }

    /// Runs the tool of `entry` like [`Self::run_tool`]; on a 2025-11-25 session, the plugin's
    /// questions are sent to the client by the host and the tool is called again with the
    /// answers, at most [`MAX_SESSION_ROUNDS`] times.
    async fn run_rounds(
        &self,
        entry: &Entry,
        (arguments, mut round): (&Value, Option<types::Round>),
        who: (Arc<Caller>, TargetScope),
        context: &RequestContext<RoleServer>,
    ) -> Result<Ran, ErrorData> {
        let mut asked = 0;
        loop {
            let ran = self
                .run_tool(entry, (arguments, round.as_ref()), who.clone(), context)
                .await?;
            let Ran::Asked(input, tally) = ran else {
                return Ok(ran);
            };
            if speaks_input_required(context) || asked == MAX_SESSION_ROUNDS {
                return Ok(Ran::Asked(input, tally));
            }
            let inputs = plugin_input::client_inputs(context);
            let requests = match plugin_input::input_requests(&input, inputs) {
                Ok(requests) => requests,
                Err(_) => return Ok(Ran::Asked(input, tally)),
            };
            let responses = plugin_input::ask_session(requests, context).await;
            round = Some(plugin_input::round(Some(&responses), input.state));
            asked += 1;
        }
    }

    /// Renders the prompt of `entry`; on a 2025-11-25 session, the plugin's questions are sent
    /// to the client by the host and the prompt rendered again with the answers, at most
    /// [`MAX_SESSION_ROUNDS`] times.
    async fn render_prompt(
        &self,
        entry: &Entry,
        (arguments, mut round): (&Value, Option<types::Round>),
        caller: &Arc<Caller>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Result<types::PromptAnswer, String>, InstanceError> {
        let mut asked = 0;
        loop {
            let rendered = entry
                .instance
                .get_prompt(
                    (entry.index, arguments, round.as_ref()),
                    self.side_context(caller, context),
                    self.options.result_cap,
                )
                .await?;
            let Ok(types::PromptAnswer::InputRequired(input)) = &rendered else {
                return Ok(rendered);
            };
            if speaks_input_required(context) || asked == MAX_SESSION_ROUNDS {
                return Ok(rendered);
            }
            let inputs = plugin_input::client_inputs(context);
            let Ok(requests) = plugin_input::input_requests(input, inputs) else {
                return Ok(rendered);
            };
            let responses = plugin_input::ask_session(requests, context).await;
            round = Some(plugin_input::round(Some(&responses), input.state.clone()));
            asked += 1;
        }
    }

    /// Runs the tool of `entry` for `caller`, its requests held to `scope`: the result (or the
    /// plugin's questions), the call's tally and its outcome; `Err` when the client cancelled
    /// it.
    async fn run_tool(
        &self,
        entry: &Entry,
        (arguments, round): (&Value, Option<&types::Round>),
        (caller, scope): (Arc<Caller>, TargetScope),
        context: &RequestContext<RoleServer>,
    ) -> Result<Ran, ErrorData> {
        let tool = &entry.instance.tools()[entry.index];
        let (events, receiver) = EventSink::channel(256);
        let tally = events.tally();
        let relay = relay_events(
            receiver,
            Relay::Client {
                peer: context.peer.clone(),
                progress_token: context.meta.get_progress_token(),
                log_threshold: Threshold::for_call(context, *self.log_threshold.lock().await),
            },
            Arc::from(format!("{}/{}", entry.instance.name(), tool.name())),
        );
        let call_context = CallContext {
            client_headers: client_headers(context),
            caller,
            scope,
            inputs: plugin_input::client_inputs(context),
            ..CallContext::default()
        };
        let call = entry.instance.call_tool(
            (entry.index, arguments, round),
            events,
            call_context,
            self.options.result_cap,
        );
        // The relay ends when the call's store, which holds the sender, is dropped; both run
        // in this task, so a call costs no extra task or cross-thread wake-up.
        let (outcome, denials) = tokio::select! {
            both = async { tokio::join!(call, relay) } => both,
            () = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("the client cancelled the call", None));
            }
        };
        if let Ok(CallAnswer::InputRequired(input)) = outcome {
            return Ok(Ran::Asked(input, tally));
        }
        let (result, outcome) = self.shape(entry, outcome, &denials);
        Ok(Ran::Complete(result, tally, outcome))
    }

    /// The `input_required` result asking the client the plugin's questions, its state
    /// sealed to the call bound by `binding`; an error when the questions are malformed or ask
    /// what the client cannot answer.
    fn ask_client(
        &self,
        input: &types::InputRequired,
        binding: &Binding,
        confirmed: bool,
        context: &RequestContext<RoleServer>,
    ) -> Result<InputRequiredResult, ErrorData> {
        let inputs = plugin_input::client_inputs(context);
        let requests = plugin_input::input_requests(input, inputs).map_err(unaskable)?;
        let round = PluginRound::new(input.state.clone(), confirmed);
        let state = self.guard.rounds().seal_round(&round, binding);
        Ok(InputRequiredResult::new(Some(requests), Some(state)))
    }

    /// How a watch of `uri` for the client of `context` reads: as that caller, with its
    /// headers, every poll interval.
    fn reading(&self, uri: &str, context: &RequestContext<RoleServer>) -> Reading {
        Reading {
            registry: self.registry.clone(),
            context: self.read_context(&guard::caller_of(context), uri, context),
            cap: self.options.result_cap,
            interval: self.options.resource_poll_interval,
        }
    }

    /// The context of a read of the resource at `uri` by `caller`: under a policy, it reaches
    /// the target the URI names when the policy lets the caller read there
    /// ([`Guard::read_scope`]).
    fn read_context(
        &self,
        caller: &Arc<Caller>,
        uri: &str,
        context: &RequestContext<RoleServer>,
    ) -> CallContext {
        let mut call_context = self.side_context(caller, context);
        if let Some((instance, _)) = self.registry.snapshot().resource(uri) {
            let target = instance.resource_target(uri);
            call_context.scope = self.guard.read_scope(caller, instance, target.as_deref());
        }
        call_context
    }

    /// The context of a prompt, resource read or completion run by `caller`: the targets a
    /// policy lets it reach without naming one (none when a policy decides per target).
    fn side_context(
        &self,
        caller: &Arc<Caller>,
        context: &RequestContext<RoleServer>,
    ) -> CallContext {
        let scope = match self.guard.is_per_caller() {
            true => TargetScope::Nothing,
            false => TargetScope::All,
        };
        CallContext {
            client_headers: client_headers(context),
            caller: caller.clone(),
            scope,
            inputs: plugin_input::client_inputs(context),
            ..CallContext::default()
        }
    }

    /// The MCP result of a guest's answer (or of its failure), its refusal notes and size
    /// cap applied, with the call's outcome.
    fn shape(
        &self,
        entry: &Entry,
        answer: Result<CallAnswer, InstanceError>,
        denials: &result::Denials,
    ) -> (CallToolResult, CallOutcome) {
        let tool = &entry.instance.tools()[entry.index];
        let cap = self.options.result_cap;
        let structured = tool.output_schema.is_some();
        let (result, failure) = match answer {
            Ok(CallAnswer::Whole(result)) => (convert::call_result(result), None),
            Ok(CallAnswer::TooLarge(start)) => (result::too_large(start, cap, structured), None),
            Ok(CallAnswer::InputRequired(_)) => (
                failed_call(
                    &entry.instance,
                    tool.name(),
                    "asked for input where the host had no round to give it",
                ),
                Some(CallOutcome::Failed),
            ),
            Err(error) => (
                failed_call(&entry.instance, tool.name(), &error.to_string()),
                Some(failure_outcome(&error)),
            ),
        };
        let result = result::note_denials(result, denials);
        let result = result::cap_size(result, cap, structured);
        let outcome = failure.unwrap_or(match result.is_error {
            Some(true) => CallOutcome::Error,
            _ => CallOutcome::Ok,
        });
        (result, outcome)
    }

    /// Starts `call` as a task of its caller: the `tools/call` answer is the task, unless
    /// its plugin asks for input before its work starts (then the questions are the answer,
    /// and the task is withdrawn). The task records the call's metrics and audit record when
    /// it ends.
    async fn start_task(&self, call: TaskCall) -> Started {
        let limits = &call.entry.instance.manifest().limits;
        let bounds = Bounds {
            per_instance: limits.max_tasks,
            per_caller: limits.max_tasks_per_caller,
            timeout: limits.task_timeout,
        };
        let owner = owner_of(&call.call_context.caller);
        let instance = call.entry.instance.name().to_owned();
        let server = self.clone();
        let span = tracing::Span::current();
        let started = self
            .tasks
            .start((&owner, &instance), bounds, move |handle| {
                async move { server.run_task(call, handle).await }.instrument(span)
            });
        let (task, opening) = match started {
            Ok(started) => started,
            Err(refused) => {
                let busy = CallToolResult::error(vec![ContentBlock::text(refused.to_string())]);
                return Started::Task(Called::stopped(CallOutcome::Busy, busy.into()));
            }
        };
        match tokio::time::timeout(OPENING, opening).await {
            Ok(Ok(Opening::Asked(input, tally))) => Started::Asked(input, tally),
            _ => Started::Task(Called::uncounted(Ok(CallToolResponse::Task(
                CreateTaskResult::new(task),
            )))),
        }
    }

    /// The body of a task: the call under the task time limit, its questions shown on the
    /// task and its plugin called again with the answers, its progress as the task's status,
    /// stopped when the owner cancels it; then its metrics and audit record.
    async fn run_task(&self, call: TaskCall, handle: TaskHandle) -> Ending {
        let _running = metrics::Open::task();
        let started = Instant::now();
        let TaskCall {
            entry,
            arguments,
            round,
            call_context,
            mut record,
        } = call;
        let tool = &entry.instance.tools()[entry.index];
        let (events, receiver) = EventSink::channel(256);
        let tally = events.tally();
        let source = Arc::from(format!("{}/{}", entry.instance.name(), tool.name()));
        let relay = relay_events(receiver, Relay::Task(handle.clone()), source);
        let deadline = started + entry.instance.manifest().limits.task_timeout;
        let rounds = self.task_rounds(
            &entry,
            (&arguments, round),
            (events, call_context),
            (&handle, deadline),
        );
        let (ran, denials) = tokio::select! {
            both = async { tokio::join!(rounds, relay) } => both,
            () = handle.cancelled() => {
                self.close_task(&entry, record, (started, CallOutcome::Cancelled, None));
                return Ending::Cancelled;
            }
        };
        record.egress = EgressSummary {
            requests: tally.requests(),
            denials: tally.denials(),
        };
        let answer = match ran {
            TaskRun::Answered(answer) => answer,
            TaskRun::Withdrawn => return Ending::Withdrawn,
            TaskRun::Failed(error, outcome) => {
                record.result = audit::Outcome::Error;
                self.close_task(&entry, record, (started, outcome, tally.run_time()));
                return Ending::Failed(error);
            }
        };
        let timeout = matches!(&answer, Err(InstanceError::Call(CallError::Timeout(_))));
        let (result, outcome) = self.shape(&entry, answer, &denials);
        record.result = match result.is_error {
            Some(true) => audit::Outcome::IsError,
            _ => audit::Outcome::Ok,
        };
        let ran = tally.run_time();
        let ending = match outcome {
            CallOutcome::Ok | CallOutcome::Error => Ending::Completed(result),
            _ if timeout => Ending::Failed(past_task_limit(&entry, "ran")),
            _ => Ending::Failed(ErrorData::internal_error(error_text(&result), None)),
        };
        self.close_task(&entry, record, (started, outcome, ran));
        ending
    }

    /// Calls the task's tool until it answers: each time it asks, the questions wait on the
    /// task for `tasks/update`, and the tool is called again with the answers and its state.
    /// A call that asks before its work started is withdrawn when `tools/call` still waits.
    async fn task_rounds(
        &self,
        entry: &Entry,
        (arguments, mut round): (&Value, Option<types::Round>),
        (events, call_context): (EventSink, CallContext),
        (handle, deadline): (&TaskHandle, Instant),
    ) -> TaskRun {
        let cap = self.options.result_cap;
        let inputs = call_context.inputs;
        for asked in 0..=MAX_SESSION_ROUNDS {
            let time_left = deadline.saturating_duration_since(Instant::now());
            let answer = entry
                .instance
                .call_tool_as_task(
                    (entry.index, arguments, round.as_ref()),
                    time_left,
                    events.clone(),
                    call_context.clone(),
                    cap,
                )
                .await;
            let input = match answer {
                Ok(CallAnswer::InputRequired(input)) => input,
                answer => {
                    handle.opened();
                    return TaskRun::Answered(answer);
                }
            };
            let tally = events.tally();
            let first = asked == 0 && round.is_none() && !tally.reported_progress();
            if first && handle.withdraw(input.clone(), tally) {
                return TaskRun::Withdrawn;
            }
            handle.opened();
            if asked == MAX_SESSION_ROUNDS {
                break;
            }
            let requests = match plugin_input::input_requests(&input, inputs) {
                Ok(requests) => plugin_input::numbered(requests, asked + 1),
                Err(why) => return TaskRun::Failed(unaskable(why), CallOutcome::Failed),
            };
            let answers = tokio::select! {
                answers = handle.ask(requests) => answers,
                () = tokio::time::sleep_until(deadline.into()) => {
                    let error = past_task_limit(entry, "waited for input");
                    return TaskRun::Failed(error, CallOutcome::Timeout);
                }
            };
            let answers = plugin_input::unnumbered(answers, asked + 1);
            round = Some(plugin_input::round(Some(&answers), input.state));
        }
        let tool = &entry.instance.tools()[entry.index];
        let error = ErrorData::internal_error(
            format!(
                "tool `{}` of plugin instance `{}` asked for input more than {MAX_SESSION_ROUNDS} times in one task; the plugin keeps asking, report it to its author",
                tool.exposed,
                entry.instance.name()
            ),
            None,
        );
        TaskRun::Failed(error, CallOutcome::Failed)
    }

    /// Counts a task's call on `/metrics` and writes its audit record.
    fn close_task(
        &self,
        entry: &Entry,
        mut record: CallRecord,
        (started, outcome, ran): (Instant, CallOutcome, Option<Duration>),
    ) {
        let tool = &entry.instance.tools()[entry.index];
        if outcome == CallOutcome::Cancelled {
            record.result = audit::Outcome::Error;
        }
        metrics::record_call(
            entry.instance.name(),
            &tool.exposed,
            outcome,
            started.elapsed(),
            ran,
        );
        self.guard.audit().record(record, started);
    }
}

/// How running a tool once ended.
enum Ran {
    /// Its result, tally and outcome.
    Complete(CallToolResult, Arc<CallTally>, CallOutcome),
    /// The plugin asks the client first.
    Asked(types::InputRequired, Arc<CallTally>),
}

/// The `-32021` error naming the client `capability` a plugin's question needs.
fn missing_capability(capability: &str) -> ErrorData {
    let mut needs = ClientCapabilities::default();
    match capability {
        "sampling" => needs.sampling = Some(Default::default()),
        "roots" => needs.roots = Some(Default::default()),
        _ => needs.elicitation = Some(Default::default()),
    }
    ErrorData::missing_required_client_capability(needs)
}

/// The error for an echoed `requestState` that does not verify.
fn rejected_state() -> ErrorData {
    ErrorData::invalid_params(
        "requestState does not verify: it was altered, expired, already used, or given for another call or caller; call again without it",
        None,
    )
}

/// A guarded call that runs as a task: what it runs and the audit record it completes.
struct TaskCall {
    entry: Entry,
    arguments: Value,
    /// The client's answers when the call is a retry of one that asked before its task.
    round: Option<types::Round>,
    call_context: CallContext,
    record: CallRecord,
}

/// How starting a task went, as `tools/call` answers it.
enum Started {
    /// The task started (or was refused): the answer.
    Task(Called),
    /// The plugin asked before its work started: ask the client, as for an ordinary call.
    Asked(types::InputRequired, Arc<CallTally>),
}

/// How a task's calls of its plugin ended.
enum TaskRun {
    /// The plugin's last answer (or its failure).
    Answered(Result<CallAnswer, InstanceError>),
    /// The plugin asked before its work started and `tools/call` asked the client instead.
    Withdrawn,
    /// The task cannot go on: this error, with the call's outcome.
    Failed(ErrorData, CallOutcome),
}

/// The error of a plugin's questions that cannot be asked.
fn unaskable(why: Unaskable) -> ErrorData {
    match why {
        Unaskable::Missing(capability, why) => ErrorData {
            message: why.into(),
            ..missing_capability(capability)
        },
        Unaskable::Invalid(why) => ErrorData::internal_error(why, None),
    }
}

/// The error of a task that `did` past its time limit.
fn past_task_limit(entry: &Entry, did: &str) -> ErrorData {
    ErrorData::internal_error(
        format!(
            "tool `{}` of plugin instance `{}` {did} past the task time limit of {} ([limits].task_timeout)",
            entry.instance.tools()[entry.index].name(),
            entry.instance.name(),
            humantime::format_duration(entry.instance.manifest().limits.task_timeout)
        ),
        None,
    )
}

/// Who owns the tasks `caller` starts: the subject within the way it authenticated, so an API
/// key named like an OAuth subject (or the same subject from another issuer) owns nothing of
/// the other's.
fn owner_of(caller: &Caller) -> String {
    match &caller.kind {
        CallerKind::Token { issuer } => format!("token {issuer} {}", caller.subject),
        CallerKind::ApiKey => format!("key {}", caller.subject),
        CallerKind::SharedToken => "shared token".to_owned(),
        CallerKind::Anonymous => "anonymous".to_owned(),
    }
}

/// Whether the request declared the Tasks extension (in its `_meta` or at `initialize`).
fn client_has_tasks(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|capabilities| capabilities.supports_tasks())
}

/// The text of an error result, for a task that failed.
fn error_text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Records the outcome of a confirmation; the answer to send instead of running the tool (and
/// the call's outcome), unless the person said yes.
fn confirmation_stop(
    tool: &str,
    decision: &Decision,
    answer: Answer,
    record: &mut CallRecord,
) -> Option<(CallOutcome, CallToolResponse)> {
    let (confirmation, stop) = match answer {
        Answer::Yes => (Confirmation::Approved, None),
        Answer::Pending(question) => (Confirmation::Asked, Some(question.into())),
        Answer::No => (
            Confirmation::Declined,
            Some(guard::unconfirmed(tool, decision, "the person declined").into()),
        ),
        Answer::TimedOut => (
            Confirmation::TimedOut,
            Some(guard::unconfirmed(tool, decision, "no answer came in time").into()),
        ),
        Answer::Rejected => (
            Confirmation::Rejected,
            Some(
                guard::unconfirmed(
                    tool,
                    decision,
                    "the approval sent back does not match this call (altered, expired, already used, or given for other arguments or another person); call again to be asked anew",
                )
                .into(),
            ),
        ),
        Answer::Unavailable(why) => (
            Confirmation::Unavailable,
            Some(guard::unconfirmed(tool, decision, &format!("{why}; use a client that supports elicitation, or ask the operator")).into()),
        ),
    };
    record.confirmation = confirmation;
    let outcome = match confirmation {
        Confirmation::Asked => CallOutcome::InputRequired,
        _ => CallOutcome::Unconfirmed,
    };
    stop.map(|stop| (outcome, stop))
}

/// The outcome of a call the instance or its sandbox could not complete.
fn failure_outcome(error: &InstanceError) -> CallOutcome {
    match error {
        InstanceError::Busy(_) => CallOutcome::Busy,
        InstanceError::Call(error) => match error {
            CallError::Timeout(_) => CallOutcome::Timeout,
            CallError::OutOfMemory { .. } | CallError::InstanceOutOfMemory { .. } => {
                CallOutcome::OutOfMemory
            }
            CallError::StackOverflow | CallError::Trap { .. } => CallOutcome::Trap,
            CallError::TooLarge(_) => CallOutcome::TooLarge,
            CallError::Failed(_) => CallOutcome::Failed,
        },
    }
}

/// The HTTP headers of the MCP request (empty over stdio), for targets that forward one.
fn client_headers(context: &RequestContext<RoleServer>) -> http::HeaderMap {
    context
        .extensions
        .get::<http::request::Parts>()
        .map(|parts| parts.headers.clone())
        .unwrap_or_default()
}

/// Why the arguments do not satisfy the tool's input schema, naming each field; `None` if they do.
fn invalid_arguments(entry: &Entry, arguments: &Value) -> Option<String> {
    let tool = &entry.instance.tools()[entry.index];
    let problems = tool.argument_problems(arguments, 8);
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "invalid arguments for tool `{}`, nothing was run:\n- {}\nSee the tool's inputSchema in tools/list.",
        tool.exposed,
        problems.join("\n- ")
    ))
}

fn failed_call(instance: &Instance, tool: &str, cause: &str) -> CallToolResult {
    // The cause may quote the guest (its panic message), so it goes in a field, escaped.
    tracing::warn!(instance = instance.name(), tool, cause = %escape(cause), "call failed");
    CallToolResult::error(vec![ContentBlock::text(format!(
        "tool `{tool}` of plugin instance `{}` {cause}. capstan and its other tools are unaffected.",
        instance.name()
    ))])
}

/// Forwards a call's progress and log events to the client until the call ends; returns the
/// egress refusals seen.
async fn relay_events(
    mut events: mpsc::Receiver<GuestEvent>,
    relay: Relay,
    source: Arc<str>,
) -> result::Denials {
    let mut denials = result::Denials::default();
    while let Some(event) = events.recv().await {
        match (event, &relay) {
            (GuestEvent::Denied { url, message, .. }, _) => denials.add(url, message),
            (GuestEvent::Log { level, message }, Relay::Task(_)) => {
                log_locally(&source, level, &message);
            }
            (
                GuestEvent::Log { level, message },
                Relay::Client {
                    peer,
                    log_threshold,
                    ..
                },
            ) => {
                log_locally(&source, level, &message);
                logging::forward(peer, *log_threshold, &source, level, message).await;
            }
            (
                GuestEvent::Progress {
                    done,
                    total,
                    message,
                },
                Relay::Task(handle),
            ) => {
                handle.opened();
                handle.set_status(progress_text(done, total, message));
            }
            (
                GuestEvent::Progress {
                    done,
                    total,
                    message,
                },
                Relay::Client {
                    peer,
                    progress_token: Some(token),
                    ..
                },
            ) => {
                let mut param = ProgressNotificationParam::new(token.clone(), done);
                param.total = total;
                param.message = message;
                let _ = peer.notify_progress(param).await;
            }
            (GuestEvent::Progress { .. }, Relay::Client { .. }) => {}
        }
    }
    denials
}

/// Where a call's progress and log lines go.
enum Relay {
    /// To the client that made the request: notifications on its response stream.
    Client {
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        log_threshold: Option<Threshold>,
    },
    /// Into the task's status message, which `tasks/get` shows.
    Task(TaskHandle),
}

/// A progress report as a task status: the guest's message, or how far it is.
fn progress_text(done: f64, total: Option<f64>, message: Option<String>) -> String {
    match (message, total) {
        (Some(message), _) => message,
        (None, Some(total)) => format!("{done} of {total}"),
        (None, None) => format!("{done} done"),
    }
}

/// Logs a guest's `host.log` line: its text in the `guest` field, escaped, never as the message.
fn log_locally(source: &str, level: LogLevel, message: &str) {
    let guest = escape(message);
    match level {
        LogLevel::Trace => tracing::trace!(plugin = source, %guest, "plugin log"),
        LogLevel::Debug => tracing::debug!(plugin = source, %guest, "plugin log"),
        LogLevel::Info => tracing::info!(plugin = source, %guest, "plugin log"),
        LogLevel::Warn => tracing::warn!(plugin = source, %guest, "plugin log"),
        LogLevel::Error => tracing::error!(plugin = source, %guest, "plugin log"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_owners_differ_by_how_the_caller_authenticated() {
        let named = |kind: CallerKind| Caller {
            subject: "alice".into(),
            kind,
            ..Caller::anonymous()
        };
        let owners = [
            owner_of(&named(CallerKind::ApiKey)),
            owner_of(&named(CallerKind::Token {
                issuer: "https://login.example.com".into(),
            })),
            owner_of(&named(CallerKind::Token {
                issuer: "https://other.example.com".into(),
            })),
            owner_of(&named(CallerKind::Anonymous)),
        ];
        let distinct: std::collections::BTreeSet<_> = owners.iter().collect();
        assert_eq!(distinct.len(), owners.len(), "{owners:?}");
    }
}
