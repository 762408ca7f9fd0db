//! The egress gate: the only way out of the sandbox.
//!
//! Every `wasi:http` request a plugin sends lands in [`EgressHooks::send_request`], which
//! normalises the URL, matches it against the instance's [`Target`]s (scheme, host, port and a
//! path prefix on segment boundaries), replaces whatever credentials the guest set with the
//! target's own, and sends it with capstan's HTTP client (no proxies, no redirects followed: a
//! redirect goes back to the guest, whose next request is checked like any other). Anything else
//! is refused with `HttpRequestDenied`, and the refusal is reported to the call so the agent
//! learns which URL was refused and which targets exist.

mod credentials;
mod hooks;
mod target;

pub use credentials::Credentials;
pub use hooks::{EgressHooks, EgressLimits, EgressPolicy};
pub use target::{Target, TargetError};
