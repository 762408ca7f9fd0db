//! Logging: structured `tracing` events to stderr (stdout belongs to the stdio transport).
//! The filter comes from `CAPSTAN_LOG` (or `RUST_LOG`), default `info`. Egress decisions are
//! logged under the `capstan::audit` target.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift_codegen=warn,rmcp=warn";

/// Installs the global subscriber for a server.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("CAPSTAN_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Installs a subscriber that shows only warnings, for one-shot commands.
pub fn init_quiet() {
    let filter = EnvFilter::try_from_env("CAPSTAN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,wasmtime=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
