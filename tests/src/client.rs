//! An rmcp MCP client that records every notification it receives, for assertions.
//!
//! MCP logging is deprecated in 2026-07-28 but still what 2025-11-25 sessions use; the recorder
//! keeps log messages so tests can check capstan forwards plugin logs.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
    RequestMetaObject, ResourceUpdatedNotificationParam, Tool,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, NotificationContext, RequestContext, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::sync::Notify;

/// What the server sent besides responses.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// `notifications/progress`, in arrival order.
    pub progress: Vec<ProgressNotificationParam>,
    /// `notifications/message`, in arrival order.
    pub logs: Vec<LoggingMessageNotificationParam>,
    /// How many `notifications/tools/list_changed` arrived.
    pub tools_changed: usize,
    /// How many `notifications/prompts/list_changed` arrived.
    pub prompts_changed: usize,
    /// The URIs of `notifications/resources/updated`, in arrival order.
    pub resources_updated: Vec<String>,
    /// The messages of the questions (`elicitation/create`, or `input_required` elicitations on
    /// 2026-07-28) the server asked, in order.
    pub questions: Vec<String>,
}

/// The client handler: records notifications and wakes waiters.
#[derive(Clone)]
pub struct Recorder {
    recorded: Arc<Mutex<Recorded>>,
    changed: Arc<Notify>,
    info: ClientConfig,
    answer: Option<bool>,
}

impl Recorder {
    /// A recorder speaking `version` that, when `answer` is set, declares the elicitation
    /// capability and answers every yes/no question with it, and declares the Tasks extension
    /// when `tasks` is set.
    fn new(version: ProtocolVersion, answer: Option<bool>, tasks: bool) -> Self {
        let mut info = ClientConfig::default();
        info.protocol_version = version;
        if answer.is_some() {
            info.capabilities.elicitation = Some(Default::default());
        }
        if tasks {
            info.capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(rmcp::model::TASKS_EXTENSION_ID.into(), Default::default());
        }
        Self {
            recorded: Arc::default(),
            changed: Arc::new(Notify::new()),
            info,
            answer,
        }
    }

    fn record(&self, update: impl FnOnce(&mut Recorded)) {
        update(&mut self.recorded.lock().expect("recorder lock"));
        self.changed.notify_waiters();
    }
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record(|r| r.progress.push(params));
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record(|r| r.logs.push(params));
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.record(|r| r.tools_changed += 1);
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.record(|r| r.prompts_changed += 1);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.record(|r| r.resources_updated.push(params.uri));
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let message = match &request {
            ElicitRequestParams::FormElicitationParams { message, .. } => message.clone(),
            ElicitRequestParams::UrlElicitationParams { message, .. } => message.clone(),
            _ => String::new(),
        };
        self.record(|r| r.questions.push(message));
        Ok(match self.answer {
            Some(yes) => ElicitResult::new(ElicitationAction::Accept)
                .with_content(serde_json::json!({ "confirm": yes })),
            None => ElicitResult::new(ElicitationAction::Decline),
        })
    }

    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }
}

/// How a test client connects.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Connect the 2026-07-28 way (`server/discover`, no session) instead of a 2025-11-25
    /// session.
    pub discover: bool,
    /// Headers sent with every HTTP request (e.g. `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Declare elicitation and answer every yes/no question with this.
    pub answer: Option<bool>,
    /// Declare the Tasks extension (SEP-2663): tools that support tasks answer with one.
    pub tasks: bool,
}

impl ClientOptions {
    /// Options presenting `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Self {
        Self {
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            ..Self::default()
        }
    }
}

/// A connected MCP client.
pub struct Client {
    service: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
}

impl Client {
    /// Connects to `url` with the 2025-11-25 handshake (an MCP session).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_version(url, ProtocolVersion::V_2025_11_25).await
    }

    /// Connects to `url` asking for protocol `version`.
    pub async fn connect_version(url: &str, version: ProtocolVersion) -> anyhow::Result<Self> {
        Self::connect_config(StreamableHttpClientTransportConfig::with_uri(url), version).await
    }

    /// Connects to `url` (2025-11-25) sending `headers` with every HTTP request, as a client
    /// that presents its own upstream credential would.
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> anyhow::Result<Self> {
        let headers = headers
            .iter()
            .map(|(name, value)| Ok((HeaderName::try_from(*name)?, HeaderValue::try_from(*value)?)))
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
        Self::connect_config(config, ProtocolVersion::V_2025_11_25).await
    }

    async fn connect_config(
        config: StreamableHttpClientTransportConfig,
        version: ProtocolVersion,
    ) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let recorder = Recorder::new(version, None, false);
        let transport = StreamableHttpClientTransport::from_config(config);
        let service = recorder.clone().serve(transport).await?;
        Ok(Self { service, recorder })
    }

    /// Connects to `url` the 2026-07-28 way: `server/discover`, no session, every request
    /// self-contained.
    pub async fn connect_discover(url: &str) -> anyhow::Result<Self> {
        let options = ClientOptions {
            discover: true,
            ..ClientOptions::default()
        };
        Self::connect_with(url, &options).await
    }

    /// Connects to `url` as `options` say.
    pub async fn connect_with(url: &str, options: &ClientOptions) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let headers = options
            .headers
            .iter()
            .map(|(name, value)| {
                Ok((
                    HeaderName::try_from(name.as_str())?,
                    HeaderValue::try_from(value.as_str())?,
                ))
            })
            .collect::<anyhow::Result<HashMap<_, _>>>()?;
        let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
        let transport = StreamableHttpClientTransport::from_config(config);
        if !options.discover {
            let recorder =
                Recorder::new(ProtocolVersion::V_2025_11_25, options.answer, options.tasks);
            let service = recorder.clone().serve(transport).await?;
            return Ok(Self { service, recorder });
        }
        let recorder = Recorder::new(ProtocolVersion::V_2026_07_28, options.answer, options.tasks);
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        let service = recorder
            .clone()
            .serve_with_lifecycle(transport, lifecycle)
            .await?;
        Ok(Self { service, recorder })
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.service
            .peer_info()
            .map(|info| info.protocol_version.clone())
    }

    /// `tools/list`.
    pub async fn tools(&self) -> anyhow::Result<Vec<Tool>> {
        Ok(self.service.list_all_tools().await?)
    }

    /// `tools/call` with `arguments` (a JSON object).
    pub async fn call(&self, tool: &str, arguments: Value) -> anyhow::Result<CallToolResult> {
        Ok(self.service.call_tool(params(tool, arguments)).await?)
    }

    /// `tools/call` with a progress token.
    pub async fn call_with_progress(
        &self,
        tool: &str,
        arguments: Value,
        token: &str,
    ) -> anyhow::Result<CallToolResult> {
        let mut request = params(tool, arguments);
        request.meta = Some(RequestMetaObject::with_progress_token(
            rmcp::model::ProgressToken(rmcp::model::NumberOrString::String(token.into())),
        ));
        Ok(self.service.call_tool(request).await?)
    }

    /// The underlying rmcp service, for requests this wrapper does not cover.
    pub fn service(&self) -> &RunningService<RoleClient, Recorder> {
        &self.service
    }

    /// A copy of what was recorded so far.
    pub fn recorded(&self) -> Recorded {
        self.recorder
            .recorded
            .lock()
            .expect("recorder lock")
            .clone()
    }

    /// Waits up to `limit` for `condition` to hold on the recorded notifications.
    pub async fn wait_for(&self, limit: Duration, condition: impl Fn(&Recorded) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.recorder.changed.notified();
            if condition(&self.recorded()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return condition(&self.recorded());
            }
        }
    }

    /// Closes the session.
    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// The request parameters of a `tools/call` of `tool` with `arguments` (a JSON object), for
/// tests that drive rounds themselves (`call_tool_once`).
pub fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    let arguments = match arguments {
        Value::Object(map) => map,
        Value::Null => Default::default(),
        other => panic!("tool arguments must be a JSON object, not {other}"),
    };
    CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)
}

/// The concatenated text blocks of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether the result is an error result.
pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}
