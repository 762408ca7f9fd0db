//! The host's middle ring, in one test binary (one link of the host, not four): each part for
//! real and in process, without a capstan process, and without a guest where none is needed.
//!
//! - `egress_hooks`: the `wasi:http` send hook on hand-built requests;
//! - `http_app`: the axum app through `oneshot`;
//! - `identity`: OAuth tokens from a loopback issuer and API keys, through the app;
//! - `registry`: snapshots of real probe instances;
//! - `snapshots`: `tools/list` of every GitOps plugin and the manifest error messages, against
//!   committed `insta` snapshots.

mod common;
mod egress_hooks;
mod http_app;
mod identity;
mod registry;
mod snapshots;
