//! The egress gate: the only way out of the sandbox.
//!
//! Every `wasi:http` request a plugin sends lands in [`EgressHooks`]' send hook, which
//! normalises the URL ([`normalise`]), matches it against the instance's [`Target`]s (scheme,
//! host or address range, port, and a path prefix on segment boundaries), replaces whatever
//! credentials the guest set with the target's own ([`credentials`], [`kube`]), and sends it
//! with the target's own HTTP client ([`tls`]; no proxies). A target may instead act as the
//! signed-in caller: the caller's token is exchanged for one of the upstream's at an identity
//! provider ([`exchange`], RFC 8693). Names are resolved by capstan's resolver, which refuses
//! loopback, link-local and metadata addresses unless a target names them ([`resolve`],
//! [`address`]); the token endpoint is reached the same way. Redirects are followed hop by hop, each hop checked like a
//! new request and given only its own target's credentials. Anything else is refused with
//! `HttpRequestDenied`, reported to the call as a [`GuestEvent::Denied`](crate::events::GuestEvent)
//! with a [`RefusalReason`] so the agent learns which URL was refused and which targets exist,
//! and written to the audit log ([`audit`]).
//!
//! Response bodies are never held by the host: they stream to the plugin, capped at the
//! target's `max_response`, or at its much larger `max_streamed` when the plugin declared a
//! streamed read ([`STREAM_HEADER`]); a body past its cap fails with `HttpResponseBodySize`.

pub mod address;
pub mod audit;
pub mod credentials;
pub mod exchange;
mod hooks;
pub mod kube;
pub mod methods;
pub mod normalise;
#[cfg(test)]
mod properties;
pub mod resolve;
mod target;
pub mod tls;

pub use crate::events::RefusalReason;
pub use credentials::{Credentials, Secret};
pub use exchange::{ExchangeError, TokenExchange};
pub use hooks::{CallContext, EgressError, EgressHooks, EgressPolicy, EgressSettings, TargetScope};
pub use kube::KubeError;
pub use methods::{Allowances, PathPattern, RequestRules, TargetKind};
pub use normalise::UrlError;
pub use resolve::{ResolveError, ResolveOverrides};
pub use target::{DEFAULT_STREAMED_BYTES, Target, TargetError, TargetLimits};

/// The request header through which a plugin declares that it reads the response as a stream
/// (value [`STREAM_VALUE`]): its body is then held to the target's `max_streamed` rather than
/// its `max_response`. The host removes the header, whatever its value, before the request
/// leaves.
pub const STREAM_HEADER: &str = "capstan-response";

/// The value of [`STREAM_HEADER`] that declares a streamed read.
pub const STREAM_VALUE: &str = "stream";
pub use tls::{TlsError, TlsSettings};
