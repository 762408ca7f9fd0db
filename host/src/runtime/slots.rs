//! The pool's instance slots on `/metrics`: how many the pool has
//! (`capstan_sandbox_slots`) and how many running calls and listings hold
//! (`capstan_sandbox_slots_in_use`). Process-wide, like the pool's engine.

use std::sync::LazyLock;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::SemaphorePermit;

static SIZE: LazyLock<Gauge> = LazyLock::new(Gauge::default);
static IN_USE: LazyLock<Gauge> = LazyLock::new(Gauge::default);

/// Adds the slot gauges to `registry`.
pub fn register_metrics(registry: &mut Registry) {
    registry.register(
        "capstan_sandbox_slots",
        "Instance slots in the sandbox's pool",
        SIZE.clone(),
    );
    registry.register(
        "capstan_sandbox_slots_in_use",
        "Instance slots held by running calls and listings",
        IN_USE.clone(),
    );
}

/// Notes the pool's size.
pub(super) fn sized(slots: u32) {
    SIZE.set(i64::from(slots));
}

/// A slot held by one call, counted while it is.
pub(super) struct Held<'a> {
    _permit: SemaphorePermit<'a>,
    in_use: &'a Gauge,
}

impl<'a> Held<'a> {
    /// Counts `permit` in the process's slots in use.
    pub(super) fn new(permit: SemaphorePermit<'a>) -> Self {
        Self::counted_in(permit, &IN_USE)
    }

    fn counted_in(permit: SemaphorePermit<'a>, in_use: &'a Gauge) -> Self {
        in_use.inc();
        Self {
            _permit: permit,
            in_use,
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.in_use.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_slot_is_counted_until_it_is_given_back() {
        let (pool, in_use) = (tokio::sync::Semaphore::new(2), Gauge::default());
        let first = Held::counted_in(pool.try_acquire().unwrap(), &in_use);
        let second = Held::counted_in(pool.try_acquire().unwrap(), &in_use);
        assert_eq!((in_use.get(), pool.available_permits()), (2, 0));
        drop(first);
        assert_eq!(in_use.get(), 1);
        drop(second);
        assert_eq!((in_use.get(), pool.available_permits()), (0, 2));
    }
}
