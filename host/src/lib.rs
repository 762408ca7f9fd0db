//! capstan serves the Model Context Protocol over HTTP (or stdio) and runs every tool inside a
//! sandboxed WebAssembly component.
//!
//! One call flows through the modules in this order:
//! [`mcp`] (HTTP, Host/Origin, auth, rmcp) → [`registry`] (tool name → plugin instance) →
//! argument validation → [`runtime`] (fresh store, memory and time limits) → the plugin →
//! [`egress`] (allowlist, credentials) → the upstream API → back, with the result capped in size.
//! [`manifest`] parses the per-instance TOML files, [`config`] the server settings, [`cli`] the
//! command line; [`serve`] wires a server together, [`reload`] keeps its plugins in step with the
//! plugin folders, [`metrics`] counts what happened, and [`inspect`] backs `check` and `tools`.

pub mod cli;
pub mod config;
pub mod egress;
pub mod inspect;
pub mod manifest;
pub mod mcp;
pub mod metrics;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod serve;
pub mod telemetry;
pub mod units;
