//! Plugin log lines as MCP `notifications/message`.
//!
//! MCP logging is deprecated in the 2026-07-28 revision (SEP-2577) but is how 2025-11-25 clients
//! (and the conformance suite) receive a tool's log lines, so capstan still serves it: for
//! 2026-07-28 requests only when the request's `_meta` carries a `logLevel`, for sessions at the
//! level set by `logging/setLevel` (default `info`).
#![allow(deprecated)]

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProtocolVersion, SetLevelRequestParams,
};
use rmcp::service::{Peer, RequestContext, RoleServer};
use serde_json::Value;

use crate::events::LogLevel;

/// The lowest severity a client wants to receive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold(LoggingLevel);

impl Threshold {
    /// The threshold a `logging/setLevel` request asks for.
    pub fn from_request(request: &SetLevelRequestParams) -> Self {
        Self(request.level)
    }

    /// The threshold for one call: the request's own `logLevel` on 2026-07-28 (none means no log
    /// messages), else the session's `session` threshold, else `info`.
    pub fn for_call(
        context: &RequestContext<RoleServer>,
        session: Option<Threshold>,
    ) -> Option<Self> {
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if stateless {
            return context.meta.log_level().map(Self);
        }
        Some(session.unwrap_or(Self(LoggingLevel::Info)))
    }

    fn admits(self, level: LoggingLevel) -> bool {
        severity(level) >= severity(self.0)
    }
}

/// Sends `message` from `source` to the client if `threshold` admits its level.
pub async fn forward(
    peer: &Peer<RoleServer>,
    threshold: Option<Threshold>,
    source: &str,
    level: LogLevel,
    message: String,
) {
    let level = mcp_level(level);
    if !threshold.is_some_and(|t| t.admits(level)) {
        return;
    }
    let mut param = LoggingMessageNotificationParam::new(level, Value::String(message));
    param.logger = Some(source.to_owned());
    let _ = peer.notify_logging_message(param).await;
}

fn mcp_level(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Trace | LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Warn => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
    }
}

fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// What the server declares: tools and prompts with their change notifications, logging,
/// completions, and the Tasks extension (SEP-2663).
pub fn capabilities() -> rmcp::model::ServerCapabilities {
    rmcp::model::ServerCapabilities::builder()
        .enable_tools()
        .enable_tool_list_changed()
        .enable_prompts()
        .enable_prompts_list_changed()
        .enable_resources()
        .enable_resources_list_changed()
        .enable_resources_subscribe()
        .enable_skills()
        .enable_logging()
        .enable_completions()
        .enable_tasks()
        .build()
}
