//! Progress reports and log lines, forwarded by the host to the MCP client.

use crate::bindings::capstan::plugin::host as imports;
pub use crate::bindings::capstan::plugin::host::Level;

/// Reports progress of the current call (`done` of `total`, with an optional message). The host
/// forwards it as `notifications/progress` when the client asked for progress.
pub fn progress(done: f64, total: Option<f64>, message: Option<&str>) {
    imports::progress(done, total, message);
}

/// Writes a log line, tagged by the host with the plugin instance and tool. Never log secrets.
pub fn log(level: Level, message: &str) {
    imports::log(level, message);
}

/// Writes an `info` log line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes a `warn` log line.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Sleeps for `duration` (a host timer; it counts against the call's timeout).
pub fn sleep(duration: std::time::Duration) {
    let duration = wstd::time::Duration::from(duration);
    wstd::runtime::block_on(async move { wstd::task::sleep(duration).await });
}
