//! Attempts to learn a credential from inside the sandbox: everything `wasi:config` hands out,
//! keys that would hold a token if the host leaked one there, the environment and the arguments.

use capstan_sdk::Context;
use capstan_sdk::bindings::wasi::config::store;

/// Config keys a careless host might keep a credential under.
const GUESSED_KEYS: &[&str] = &[
    "token",
    "password",
    "secret",
    "api_key",
    "apikey",
    "auth",
    "authorization",
    "bearer",
    "credentials",
    "capstan.token",
    "capstan.secret",
    "capstan.credentials",
];

/// The same guesses under each target's own key prefix.
const TARGET_SUFFIXES: &[&str] = &[
    "token",
    "password",
    "secret",
    "auth",
    "authorization",
    "bearer",
    "credentials",
    "username",
    "header.authorization",
    "headers.authorization",
    "client_key",
    "token_env",
    "token_file",
];

/// Every value the guest could read, one `source key=value` line each.
pub fn guess_secrets(ctx: &Context) -> String {
    let mut seen = all_config();
    for key in guessed_keys(ctx) {
        if let Some(value) = ctx.config().get(&key) {
            seen.push(format!("config {key}={value}"));
        }
    }
    seen.extend(std::env::vars().map(|(key, value)| format!("env {key}={value}")));
    seen.extend(std::env::args().map(|arg| format!("arg {arg}")));
    format!("saw {} values\n{}", seen.len(), seen.join("\n"))
}

/// Everything `wasi:config/store.get-all` returns.
fn all_config() -> Vec<String> {
    match store::get_all() {
        Ok(pairs) => pairs
            .into_iter()
            .map(|(key, value)| format!("config {key}={value}"))
            .collect(),
        Err(error) => vec![format!("config get-all failed: {error:?}")],
    }
}

fn guessed_keys(ctx: &Context) -> Vec<String> {
    let per_target = ctx.config().targets().into_iter().flat_map(|target| {
        TARGET_SUFFIXES
            .iter()
            .map(move |suffix| format!("capstan.target.{target}.{suffix}"))
    });
    GUESSED_KEYS
        .iter()
        .map(|key| (*key).to_owned())
        .chain(per_target)
        .collect()
}
