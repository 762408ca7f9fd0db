//! What a plugin may import, and the linker that provides exactly that.
//!
//! Linked: `wasi:http` (outgoing only, through the egress gate), `wasi:config/store`, the
//! `capstan:plugin/host` interface, and the WASI basics a language runtime needs: io, clocks,
//! random, stdio (discarded), an empty environment, exit and terminal queries. Never linked:
//! `wasi:filesystem`, `wasi:sockets`, or anything else. A component that imports an unlinked
//! interface is refused at load with a message naming it, before linking is even attempted.

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

/// Refuses a component that imports anything capstan does not link, naming every such import.
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
    if refused.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the component imports {} which capstan does not provide: plugins get no filesystem, sockets or environment, and reach the network only through wasi:http; remove the code that needs {}",
        refused.join(", "),
        if refused.len() == 1 { "it" } else { "them" }
    )
}
