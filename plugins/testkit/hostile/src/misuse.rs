//! Misuse of the operator's credential and of the gate's bookkeeping: floods of refused
//! requests with long, distinct URLs, meant to grow the host's per-call state and its log.
//!
//! Requests that try to write through a read-only instance, mint tokens, read secrets or
//! impersonate another identity need no code of their own: the `request` tool sends any
//! method, headers and body.

use capstan_sdk::{ToolError, Value, args, json};

use crate::raw_http;

/// The most requests `refusal_flood` sends.
pub const MAX_REFUSALS: u64 = 10_000;

/// The longest path `refusal_flood` builds, in bytes.
pub const MAX_PATH_BYTES: u64 = 64 * 1024;

/// `refusal_flood`: `n` GETs, one after another, of `http://{authority}/{i}/aaa…` with a path
/// of `path_bytes` bytes, each URL distinct; counts how the host answered.
pub fn refusal_flood(authority: &str, n: u64, path_bytes: u64) -> Result<Value, ToolError> {
    let filler = "a".repeat(path_bytes.min(MAX_PATH_BYTES) as usize);
    let (mut denied, mut other) = (0u64, 0u64);
    for i in 0..n.min(MAX_REFUSALS) {
        let spec = args::parse(json!({
            "scheme": "http",
            "authority": authority,
            "path_with_query": format!("/{i}/{filler}?secret-query={i}"),
        }))?;
        let outcome = raw_http::request(spec);
        if outcome["error"] == "HttpRequestDenied" {
            denied += 1;
        } else {
            other += 1;
        }
    }
    Ok(json!({"denied": denied, "other": other}))
}
