//! Bindings generated from `wit/plugin.wit`.
//!
//! The `wasi:http`, `wasi:io` and `wasi:clocks` types are those of the `wasip2` crate, the same
//! ones `wstd` uses, so an HTTP client built on `wstd` works unchanged inside a plugin.

#![allow(missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "../../wit",
    world: "capstan:plugin/plugin",
    pub_export_macro: true,
    export_macro_name: "export_bindings",
    default_bindings_module: "capstan_sdk::bindings",
    with: {
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:config/store@0.2.0-rc.1": generate,
    },
});
