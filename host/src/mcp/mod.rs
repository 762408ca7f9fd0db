//! The MCP front: rmcp's server handler over the registry, its transports, and change
//! notifications.
//!
//! - [`server`]: the `ServerHandler`, which looks tools up in the current registry snapshot,
//!   validates arguments, runs the call in the sandbox and shapes the result.
//! - [`http`]: the axum app: `/mcp` (Streamable HTTP, both protocol generations), `/healthz`,
//!   `/readyz`, `/metrics`, with Host/Origin checks and inbound bearer auth on `/mcp`.
//! - [`notify`]: `tools/list_changed` and `prompts/list_changed` fan-out to every connected
//!   client (legacy GET streams and 2026-07-28 subscriptions); the registry's
//!   [`ChangeListener`](crate::registry::ChangeListener).
//! - [`convert`]: the registry's tool and prompt definitions and the plugins' results as MCP
//!   types; this is the only place where plugin types become protocol types.
//! - [`result`]: results shaped for the agent: the size cap and notes about refused requests
//!   (also used by `capstan call`, so an author sees what an agent gets).
//! - [`guard`]: who the caller is, what the policy lets them list and call, confirmation when a
//!   rule asks for it, and the audit record of every call.
//! - [`rounds`]: questions to the person behind a client before a call runs (confirmation):
//!   `input_required` with a sealed `requestState` on 2026-07-28, `elicitation/create` on
//!   sessions.
//! - `catalog`: resources, resource templates, completions and skills (SEP-2640) from the
//!   registry.
//! - `plugin_input`: a plugin's questions for the client (`input_required` on 2026-07-28,
//!   requests to the client on 2025-11-25 sessions).
//! - [`tasks`]: the store of MCP tasks (SEP-2663): tool calls that outlive their request, seen
//!   and cancelled only by the caller that started them, bounded per instance and per caller,
//!   named after the replica that runs them.
//! - [`watch`]: resource subscriptions (`resources/subscribe`, a listen stream's
//!   `resourceSubscriptions`): each watched resource read again as its subscriber every poll
//!   interval, `notifications/resources/updated` when it changed.
//! - `spans`: the trace spans of a `tools/call` and its policy decision, with the MCP
//!   semantic-convention attributes, continuing the caller's trace context.

mod catalog;
pub mod convert;
pub mod guard;
pub mod host_check;
pub mod http;
mod logging;
pub mod notify;
mod plugin_input;
pub mod result;
pub mod rounds;
pub mod server;
mod spans;
pub mod tasks;
pub mod watch;
