//! What one call's store holds: WASI contexts, the egress hooks, the manifest's config, the
//! memory limiter, the deadline counter, and the sink for progress and log events.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::capstan::plugin::host;
use crate::egress::EgressHooks;
use crate::events::{EventSink, GuestEvent, LogLevel};

/// How often the epoch ticker advances the engine's epoch. A call's deadline is counted in
/// these ticks ([`EpochDeadline`]), and a spinning guest yields to the async runtime at every
/// tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How much of the guest's stderr is kept to explain a trap (a Rust panic message lands there).
const STDERR_CAPTURE: usize = 4096;

/// The store data of one call.
pub struct CallState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: EgressHooks,
    pub(super) config: Arc<WasiConfigVariables>,
    pub(super) limiter: MemoryLimiter,
    pub(super) deadline: EpochDeadline,
    pub(super) stderr: MemoryOutputPipe,
    events: EventSink,
}

impl CallState {
    pub(super) fn new(
        hooks: EgressHooks,
        config: Arc<WasiConfigVariables>,
        memory_limit: usize,
        deadline_ticks: u64,
        events: EventSink,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            config,
            limiter: MemoryLimiter::new(memory_limit),
            deadline: EpochDeadline::new(deadline_ticks),
            stderr,
            events,
        }
    }

    fn emit(&self, event: GuestEvent) {
        self.events.emit(event);
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl host::Host for CallState {
    async fn progress(
        &mut self,
        done: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> wasmtime::Result<()> {
        self.emit(GuestEvent::Progress {
            done,
            total,
            message: message.map(|m| truncate(m, 1024)),
        });
        Ok(())
    }

    async fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host::Level::Trace => LogLevel::Trace,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        };
        self.emit(GuestEvent::Log {
            level,
            message: truncate(message, 8192),
        });
        Ok(())
    }
}

fn truncate(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Caps the total linear memory of one instance and remembers a refused growth, so a trap that
/// follows can be reported as running out of memory.
pub(super) struct MemoryLimiter {
    limit: usize,
    in_use: usize,
    pub(super) refused: Option<usize>,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            in_use: 0,
            refused: None,
        }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.in_use - current.min(self.in_use) + desired;
        if total > self.limit {
            self.refused = Some(total);
            return Ok(false);
        }
        self.in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Counts epoch ticks for one call: the guest yields to the async runtime at every tick and is
/// interrupted when its time is up.
pub(super) struct EpochDeadline {
    elapsed: u64,
    limit: u64,
}

impl EpochDeadline {
    fn new(limit: u64) -> Self {
        Self { elapsed: 0, limit }
    }

    pub(super) fn tick(&mut self) -> UpdateDeadline {
        self.elapsed += 1;
        if self.elapsed >= self.limit {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        }
    }
}
