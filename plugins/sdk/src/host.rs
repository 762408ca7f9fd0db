//! The severity of a log line a plugin writes with [`Context::log`](crate::Context::log).

pub use crate::bindings::capstan::plugin::host::Level;
