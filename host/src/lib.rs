//! capstan serves the Model Context Protocol over HTTP (or stdio) and runs every tool inside a
//! sandboxed WebAssembly component.
//!
//! The modules form layers that depend only downwards:
//!
//! ```text
//! serve ─▶ mcp, reload ─▶ registry ─▶ runtime ─▶ egress
//!                    (caller, events, units: ground level, used by any layer)
//! ```
//!
//! One call flows through them in this order: [`identity`] (who is calling) → [`mcp`] (HTTP,
//! Host/Origin, rmcp) →
//! [`registry`] (tool name → plugin instance, argument validator) → [`runtime`] (fresh store,
//! memory and time limits) → the plugin → [`egress`] (allowlist, credentials) → the upstream API
//! → back, with the result capped in size. Progress, logs and refusals travel back as
//! [`events`]. [`manifest`] parses the per-instance TOML files, [`config`] the server settings,
//! [`units`] their sizes and durations, [`cli`] the command line; [`serve`] wires a server
//! together, [`reload`] keeps its plugins in step with the plugin folders, [`metrics`] counts what
//! happened, [`telemetry`] logs and exports traces (whose W3C context [`trace_context`] reads and
//! writes), and [`inspect`] backs `check` and `tools`.

pub mod access;
pub mod allocator;
pub mod audit;
pub mod backtraces;
pub mod budget;
pub mod caller;
pub mod cli;
pub mod config;
pub mod distribution;
pub mod drain;
pub mod egress;
pub mod events;
pub mod guest_text;
pub mod identity;
pub mod inspect;
pub mod manifest;
pub mod mcp;
pub mod metrics;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod serve;
pub mod telemetry;
pub mod trace_context;
pub mod units;

#[cfg(test)]
mod layering;
