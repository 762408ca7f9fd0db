//! An MCP session through rmcp's Streamable HTTP client transport
//! (`StreamableHttpClient::post_message` on a reqwest client) called directly, one request at
//! a time, with rmcp's own message types, but without its service layer. The comparison uses it
//! outside the measurements, where whole results are read: to prime the upstream stand-in and
//! to size each server's answers. The measurements use the raw [`super::generator`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::Context as _;
use futures::StreamExt as _;
use http::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientConfig, ClientJsonRpcMessage,
    ClientNotification, ClientRequest, InitializeRequest, InitializedNotification, ProtocolVersion,
    RequestId, ServerJsonRpcMessage, ServerResult,
};
use rmcp::transport::streamable_http_client::{StreamableHttpClient, StreamableHttpPostResponse};
use serde_json::Value;

/// One initialised MCP session on its own HTTP connection.
pub struct Session {
    http: reqwest::Client,
    url: Arc<str>,
    id: Option<Arc<str>>,
    headers: HashMap<HeaderName, HeaderValue>,
    next_id: AtomicI64,
}

impl Session {
    /// Initialises a session with the MCP server at `url`, offering protocol 2025-11-25 and
    /// speaking whatever version the server answers with.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        capstan_tests::install_crypto_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()?;
        let mut session = Self {
            http,
            url: url.into(),
            id: None,
            headers: HashMap::new(),
            next_id: AtomicI64::new(1),
        };
        let mut hello = ClientConfig::default();
        hello.protocol_version = ProtocolVersion::V_2025_11_25;
        let request = ClientRequest::InitializeRequest(InitializeRequest::new(hello));
        let (result, id) = session.exchange(request).await?;
        let ServerResult::InitializeResult(answer) = result else {
            anyhow::bail!("{url} answered initialize with something else: {result:?}");
        };
        session.id = id;
        session.headers.insert(
            HeaderName::from_static("mcp-protocol-version"),
            HeaderValue::from_str(answer.protocol_version.as_str())?,
        );
        let initialized = ClientJsonRpcMessage::notification(
            ClientNotification::InitializedNotification(InitializedNotification::default()),
        );
        session.post(initialized).await?;
        Ok(session)
    }

    /// `tools/call` of `tool` with `arguments`.
    pub async fn call(&self, tool: &str, arguments: Value) -> anyhow::Result<CallToolResult> {
        let Value::Object(arguments) = arguments else {
            anyhow::bail!("tool arguments must be a JSON object, not {arguments}");
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        match self.exchange(request).await?.0 {
            ServerResult::CallToolResult(result) => Ok(result),
            // `ServerResult` is untagged: read a result that matched another shape again.
            other => Ok(serde_json::from_value(serde_json::to_value(other)?)?),
        }
    }

    /// Ends the session on the server.
    pub async fn close(self) {
        if let Some(id) = self.id {
            let _ = self
                .http
                .delete_session(self.url, id, None, self.headers)
                .await;
        }
    }

    /// Sends `request` and waits for its answer: (the result, the session id the server set).
    async fn exchange(
        &self,
        request: ClientRequest,
    ) -> anyhow::Result<(ServerResult, Option<Arc<str>>)> {
        let id = RequestId::Number(self.next_id.fetch_add(1, Ordering::Relaxed));
        let message = ClientJsonRpcMessage::request(request, id.clone());
        let (answer, session) = match self.post(message).await? {
            StreamableHttpPostResponse::Json(message, session) => (Some(message), session),
            StreamableHttpPostResponse::Sse(events, session) => {
                let data = events.map(|event| event.map(|event| event.data));
                (self.answer_in(data, &id).await?, session)
            }
            _ => (None, None),
        };
        let answer = answer.with_context(|| format!("{} sent no answer", self.url))?;
        match answer.into_result() {
            Some((Ok(result), _)) => Ok((result, session.map(Into::into))),
            Some((Err(error), _)) => Err(anyhow::anyhow!("{}: {error:?}", self.url)),
            None => anyhow::bail!("{} answered with something other than a result", self.url),
        }
    }

    /// The message among the SSE events' `data` that answers request `id`, if one does.
    async fn answer_in<E: std::error::Error + Send + Sync + 'static>(
        &self,
        mut events: impl futures::Stream<Item = Result<Option<String>, E>> + Unpin,
        id: &RequestId,
    ) -> anyhow::Result<Option<ServerJsonRpcMessage>> {
        while let Some(data) = events.next().await {
            let Some(data) = data?.filter(|data| !data.is_empty()) else {
                continue;
            };
            let message: ServerJsonRpcMessage = serde_json::from_str(&data)
                .with_context(|| format!("{} sent an unreadable event", self.url))?;
            let answers = match &message {
                ServerJsonRpcMessage::Response(response) => response.id == *id,
                ServerJsonRpcMessage::Error(error) => error.id.as_ref() == Some(id),
                _ => false,
            };
            if answers {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    async fn post(
        &self,
        message: ClientJsonRpcMessage,
    ) -> anyhow::Result<StreamableHttpPostResponse> {
        self.http
            .post_message(
                self.url.clone(),
                message,
                self.id.clone(),
                None,
                self.headers.clone(),
            )
            .await
            .with_context(|| format!("posting to {}", self.url))
    }
}
