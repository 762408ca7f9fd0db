//! What a plugin may import, and the linker that provides exactly that.
//!
//! Linked: `wasi:http` (outgoing only, through the egress gate), `wasi:config/store`, the
//! `capstan:plugin/host` interface, and the WASI basics a language runtime needs: io, clocks,
//! random, stdio (discarded), an empty environment, exit and terminal queries. Never linked:
//! `wasi:filesystem`, `wasi:sockets`, or anything else. A component that imports an unlinked
//! interface is refused at load with a message naming it and what to change in the plugin
//! (by family: filesystem, sockets, the rest of wasi:http or wasi:cli, anything else), before
//! linking is even attempted.

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::p2::bindings::{cli, random};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView as _};

use super::bindings;
use super::state::CallState;

/// Interface prefixes a component may import (any version of each package).
const ALLOWED_IMPORTS: &[&str] = &[
    "capstan:plugin/",
    "wasi:http/types@",
    "wasi:http/outgoing-handler@",
    "wasi:config/store@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/terminal-",
];

/// Builds the linker every plugin instance is linked with.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    link(&mut linker)
        .map_err(anyhow::Error::from)
        .context("could not set up the plugin linker")?;
    Ok(linker)
}

fn link(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    // io, clocks, random, stdio and wasi:http (types + outgoing-handler).
    wasmtime_wasi_http::p2::add_to_linker_async(linker)?;
    // What Rust's std imports on wasm32-wasip2 beyond the proxy world.
    cli::environment::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::exit::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::terminal_input::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::terminal_output::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(linker, CallState::cli)?;
    random::insecure::add_to_linker::<CallState, WasiRandom>(linker, CallState::random)?;
    random::insecure_seed::add_to_linker::<CallState, WasiRandom>(linker, CallState::random)?;
    wasmtime_wasi_config::add_to_linker(linker, |state: &mut CallState| {
        wasmtime_wasi_config::WasiConfig::new(&state.config)
    })?;
    bindings::capstan::plugin::host::add_to_linker::<CallState, HasSelf<CallState>>(
        linker,
        |state| state,
    )?;
    Ok(())
}

/// Refuses a component that imports anything capstan does not link, naming every such import
/// and what to change in the plugin.
pub fn check(engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let refused: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| {
            !ALLOWED_IMPORTS
                .iter()
                .any(|allowed| name.starts_with(allowed))
        })
        .collect();
    match refusal(&refused) {
        None => Ok(()),
        Some(message) => Err(anyhow::anyhow!(message)),
    }
}

/// Families of imports capstan refuses, each with what to change in the plugin.
const FIXES: &[(&str, &str)] = &[
    (
        "wasi:filesystem/",
        "plugins get no filesystem: remove the code that opens files (std::fs, a crate reading a config or CA file) and put settings in the manifest's [config] (the plugin reads them through wasi:config); a wasm32-wasip1 module adapted into a component may import it even when the code opens no file, so build with `--target wasm32-wasip2`",
    ),
    (
        "wasi:sockets/",
        "plugins open no sockets: send HTTP through wasi:http (capstan-sdk's Context::send), not std::net, tokio or an HTTP client that opens its own connections (reqwest, hyper, ureq); build with `--target wasm32-wasip2` and don't use wasi:sockets",
    ),
    (
        "wasi:http/",
        "plugins only send requests (wasi:http/outgoing-handler and wasi:http/types): remove what needs the rest",
    ),
    (
        "wasi:cli/",
        "plugins get stdin, stdout, stderr, the (empty) environment, exit and terminal queries of wasi:cli: remove what needs the rest",
    ),
];

/// The refusal of the imports in `refused`, grouped by family, each with its fix; `None` when
/// nothing is refused.
fn refusal(refused: &[String]) -> Option<String> {
    if refused.is_empty() {
        return None;
    }
    let family = |name: &str| {
        FIXES
            .iter()
            .position(|(prefix, _)| name.starts_with(prefix))
    };
    let mut lines = Vec::new();
    for (index, (_, fix)) in FIXES.iter().enumerate() {
        let names: Vec<&str> = refused
            .iter()
            .filter(|name| family(name) == Some(index))
            .map(String::as_str)
            .collect();
        if !names.is_empty() {
            lines.push(format!("{}: {fix}", names.join(", ")));
        }
    }
    let others: Vec<&str> = refused
        .iter()
        .filter(|name| family(name).is_none())
        .map(String::as_str)
        .collect();
    if !others.is_empty() {
        lines.push(format!(
            "{}: capstan links only wasi:http (outgoing), wasi:config/store, wasi:io, wasi:clocks, wasi:random, basic wasi:cli and capstan:plugin/host; remove the dependency that imports {}",
            others.join(", "),
            if others.len() == 1 { "it" } else { "them" }
        ));
    }
    Some(format!(
        "the component imports what capstan does not provide (plugins get no filesystem, sockets or environment, and reach the network only through wasi:http): {}",
        lines.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_import_is_named_with_the_fix_for_its_family() {
        assert_eq!(refusal(&[]), None);
        let refused = [
            "wasi:filesystem/types@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "acme:kv/store@1.0.0",
        ]
        .map(String::from);
        let message = refusal(&refused).expect("refused");
        assert!(message.contains("capstan does not provide"), "{message}");
        assert!(
            message.contains(
                "wasi:filesystem/types@0.2.6, wasi:filesystem/preopens@0.2.6: plugins get no filesystem"
            ),
            "{message}"
        );
        assert!(
            message.contains("wasi:sockets/tcp@0.2.6: plugins open no sockets")
                && message.contains("don't use wasi:sockets")
                && message.contains("wasm32-wasip2"),
            "{message}"
        );
        assert!(
            message.contains("acme:kv/store@1.0.0: capstan links only")
                && message.ends_with("remove the dependency that imports it"),
            "{message}"
        );
    }

    #[test]
    fn the_allowed_imports_are_never_refused() {
        let allowed = [
            "wasi:http/outgoing-handler@0.2.6",
            "wasi:cli/stderr@0.2.6",
            "wasi:cli/terminal-input@0.2.6",
            "capstan:plugin/host@0.2.0",
        ];
        for name in allowed {
            assert!(
                ALLOWED_IMPORTS
                    .iter()
                    .any(|prefix| name.starts_with(prefix)),
                "{name}"
            );
        }
    }
}
