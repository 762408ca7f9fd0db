//! The trace spans the MCP front opens (target [`trace_context::TARGET`], exported only when
//! traces are on): one per `tools/call`, named `tools/call {tool}` with the OpenTelemetry MCP
//! semantic-convention attributes (`mcp.method.name`, `gen_ai.tool.name`,
//! `gen_ai.operation.name`, `jsonrpc.request.id`, `mcp.session.id`, plus `capstan.instance`),
//! continuing the caller's trace context (`_meta` first, then the HTTP headers); and one for the
//! policy decision (`capstan.policy.outcome`). Argument values never become attributes.

use rmcp::ErrorData;
use rmcp::model::CallToolResponse;
use rmcp::service::{RequestContext, RoleServer};
use tracing::field::Empty;

use super::guard;
use crate::access::Decision;
use crate::trace_context;

/// The span of one `tools/call` of `tool`, continuing the caller's trace.
pub fn request(tool: &str, context: &RequestContext<RoleServer>) -> tracing::Span {
    let span = tracing::info_span!(
        target: trace_context::TARGET,
        "tools/call",
        otel.name = %format_args!("tools/call {tool}"),
        otel.kind = "server",
        otel.status_code = Empty,
        "mcp.method.name" = "tools/call",
        "gen_ai.operation.name" = "execute_tool",
        "gen_ai.tool.name" = tool,
        "jsonrpc.request.id" = %context.id,
        "mcp.session.id" = Empty,
        "capstan.instance" = Empty,
        "error.type" = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(session) = guard::session_of(context) {
        span.record("mcp.session.id", session.as_str());
    }
    let headers = context
        .extensions
        .get::<http::request::Parts>()
        .map(|parts| &parts.headers);
    let empty = http::HeaderMap::new();
    let parent = trace_context::remote_parent(headers.unwrap_or(&empty), &context.meta);
    trace_context::continue_from(&span, parent);
    span
}

/// Marks the request span failed when the call answered with an error or a tool error.
pub fn record_answer(span: &tracing::Span, answer: &Result<CallToolResponse, ErrorData>) {
    let error_type = match answer {
        Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
            "tool_error".to_owned()
        }
        Ok(_) => return,
        Err(error) => error.code.0.to_string(),
    };
    span.record("otel.status_code", "error");
    span.record("error.type", error_type.as_str());
}

/// The span of the policy decision, entered around it.
pub fn policy() -> tracing::Span {
    tracing::info_span!(
        target: trace_context::TARGET,
        "policy",
        otel.name = "policy",
        "capstan.policy.outcome" = Empty,
    )
}

/// Notes the decision on the current (policy) span.
pub fn record_decision(decision: &Decision) {
    tracing::Span::current().record("capstan.policy.outcome", decision.outcome.as_str());
}
