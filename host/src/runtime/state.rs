//! What one call's store holds: WASI contexts, the egress hooks, the manifest's config, the
//! memory limiter, the deadline counter, and the sink for progress and log events.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::capstan::plugin::host;
use crate::egress::EgressHooks;
use crate::events::{ClientInputs, EventSink, GuestEvent, LogLevel};

/// How often the epoch ticker advances the engine's epoch. A call's deadline is counted in
/// these ticks ([`EpochDeadline`]), and a spinning guest yields to the async runtime at every
/// tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How much of the guest's stderr is kept to explain a trap (a Rust panic message lands there).
const STDERR_CAPTURE: usize = 4096;

/// Handles (streams, pollables, requests, header fields, ...) one call may hold at once.
/// wasmtime allows a million; a thousand requests in flight need about two each.
pub const RESOURCE_TABLE_CAPACITY: usize = 4096;

/// The largest header collection (`wasi:http` `fields`) a guest may build, names and values
/// together. With [`RESOURCE_TABLE_CAPACITY`] this bounds what header fields of one call can
/// hold in host memory at 64 MiB (wasmtime's defaults allow 128 KiB × a million).
pub const FIELD_SIZE_LIMIT: usize = 16 << 10;

/// The store data of one call.
pub struct CallState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: EgressHooks,
    pub(super) config: Arc<WasiConfigVariables>,
    pub(super) limiter: MemoryLimiter,
    pub(super) deadline: EpochDeadline,
    /// When the host stops the call (wall clock), for `host.remaining-time`.
    ends_at: std::time::Instant,
    pub(super) stderr: MemoryOutputPipe,
    events: EventSink,
    /// What the client can answer (`host.client-can-answer`).
    inputs: ClientInputs,
}

impl CallState {
    pub(super) fn new(
        hooks: EgressHooks,
        config: Arc<WasiConfigVariables>,
        limiter: MemoryLimiter,
        (deadline_ticks, ends_at): (u64, std::time::Instant),
        (events, inputs): (EventSink, ClientInputs),
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(FIELD_SIZE_LIMIT);
        let mut table = ResourceTable::new();
        table.set_max_capacity(RESOURCE_TABLE_CAPACITY);
        Self {
            wasi,
            http,
            table,
            hooks,
            config,
            limiter,
            deadline: EpochDeadline::new(deadline_ticks),
            ends_at,
            stderr,
            events,
            inputs,
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

    async fn remaining_time(&mut self) -> wasmtime::Result<u64> {
        let left = self
            .ends_at
            .saturating_duration_since(std::time::Instant::now());
        Ok(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
    }

    async fn client_can_answer(&mut self, kind: host::InputKind) -> wasmtime::Result<bool> {
        Ok(match kind {
            host::InputKind::Elicitation => self.inputs.elicitation,
            host::InputKind::Sampling => self.inputs.sampling,
            host::InputKind::Roots => self.inputs.roots,
        })
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

/// Caps the linear memory of one call at `[limits].memory`, and of all the instance's calls
/// together at `[limits].memory_total` (a semaphore counted in bytes, shared by the instance's
/// calls); remembers a refused growth, so a trap that follows can be reported as running out
/// of memory.
pub(super) struct MemoryLimiter {
    limit: usize,
    in_use: usize,
    shared: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
    pub(super) refused: Option<Refusal>,
}

/// A growth the limiter refused: the memory asked for, and which cap refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The call's own `[limits].memory`.
    Call(usize),
    /// The instance's `[limits].memory_total`, held by its other calls.
    Instance(usize),
}

impl MemoryLimiter {
    /// A limiter for one call: at most `limit` bytes, taken from the instance's `shared` budget.
    pub(super) fn new(limit: usize, shared: Arc<Semaphore>) -> Self {
        Self {
            limit,
            in_use: 0,
            shared,
            held: None,
            refused: None,
        }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// Takes `bytes` more from the instance's budget without waiting.
    fn reserve(&mut self, bytes: usize) -> bool {
        crate::budget::try_take(&self.shared, &mut self.held, bytes)
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
            self.refused = Some(Refusal::Call(total));
            return Ok(false);
        }
        if !self.reserve(total.saturating_sub(self.in_use)) {
            self.refused = Some(Refusal::Instance(total));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_share_the_instance_budget_and_give_it_back() {
        let shared = Arc::new(Semaphore::new(100));
        let mut first = MemoryLimiter::new(80, shared.clone());
        let mut second = MemoryLimiter::new(80, shared.clone());
        assert!(first.memory_growing(0, 60, None).unwrap());
        assert!(!second.memory_growing(0, 60, None).unwrap());
        assert_eq!(second.refused, Some(Refusal::Instance(60)));
        assert!(second.memory_growing(0, 40, None).unwrap());
        assert!(!first.memory_growing(60, 81, None).unwrap());
        assert_eq!(first.refused, Some(Refusal::Call(81)));
        assert_eq!(shared.available_permits(), 0);
        drop(first);
        assert_eq!(shared.available_permits(), 60);
        assert!(second.memory_growing(40, 80, None).unwrap());
        drop(second);
        assert_eq!(shared.available_permits(), 100);
    }
}
