//! The host's middle ring, in one test binary (one link of the host, not four): each part for
//! real and in process, without a capstan process, and without a guest where none is needed.
//!
//! - `dev_loop`: `capstan call` in process: a real probe, its requests and the gate's decisions;
//! - `distribution`: `oci://` components from a seeded plugin cache, no registry;
//! - `egress_hooks`: the `wasi:http` send hook on hand-built requests;
//! - `exchange`: token exchange in the send hook, against a loopback token endpoint;
//! - `http_app`: the axum app through `oneshot`;
//! - `mcp_input`: property tests: any MCP message to the app with a real probe behind it;
//! - `policy`: the policy store's hot reload of a Cedar policy file;
//! - `identity`: OAuth tokens from a loopback issuer and API keys, through the app;
//! - `registry`: snapshots of real probe instances;
//! - `snapshots`: `tools/list` of every GitOps plugin and the manifest error messages, against
//!   committed `insta` snapshots.

mod common;
mod dev_loop;
mod distribution;
mod egress_hooks;
mod exchange;
mod http_app;
mod identity;
mod mcp_input;
mod policy;
mod registry;
mod snapshots;
