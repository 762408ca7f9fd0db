//! Host bindings generated from `wit/plugin.wit`.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "capstan:plugin/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use self::capstan::plugin::types;
