//! The WebAssembly sandbox: one wasmtime [`Engine`](wasmtime::Engine) for the process, compiled
//! components cached on disk, and a fresh, limited store for every call.
//!
//! Lifecycle:
//! 1. [`Runtime::new`] builds the engine (pooling allocator, epoch interruption) and starts the
//!    epoch ticker.
//! 2. [`Runtime::load`] turns a `.wasm` file into a [`Component`]: it checks that the file is a
//!    component (never a precompiled artifact), compiles it or takes it from the compile cache,
//!    checks its imports against what capstan links, and pre-instantiates it.
//! 3. [`Component::call_tool`] and friends instantiate the component in a fresh store with the
//!    caller's [`Sandbox`] limits, run one export, and tear the store down; the time from
//!    taking a pool slot to the measured answer goes into the call's `CallTally`.

mod bindings;
mod cache;
mod call;
pub mod contract;
mod engine;
mod imports;
mod lift;
mod slots;
mod state;

pub use bindings::types;
pub use cache::CompileCache;
pub use call::{CallError, Component, Listed, ReadAnswer, Sandbox};
pub use engine::{EngineLimits, Runtime};
pub use lift::{CallAnswer, MAX_COMPLETIONS, MAX_LIST_BYTES, MAX_LISTED, TooLarge};
pub use slots::register_metrics;
