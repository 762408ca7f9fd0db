//! Per-instance concurrency: a fixed number of calls run, a bounded number wait, the rest are
//! told the instance is busy. Each gate keeps its instance's gauges on `/metrics` up to date:
//! `capstan_instance_calls_in_flight`, `capstan_instance_calls_queued` and the limits
//! `capstan_instance_concurrency_limit`, `capstan_instance_queue_limit`, labelled `instance`.
//! An instance's versions share its gauges, so a call still running on a replaced version
//! counts until it ends.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, SemaphorePermit};

/// The instance has `max_concurrency` calls running and `max_queue` waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the instance is at its concurrency limit ({running} calls running, {waiting} waiting); retry shortly, or raise [limits].max_concurrency / max_queue"
)]
pub struct Busy {
    /// Calls running.
    pub running: u32,
    /// Calls waiting.
    pub waiting: u32,
}

/// The label of the gate gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabel {
    instance: String,
}

/// The gate gauges of every instance, process-wide.
#[derive(Default)]
struct GateGauges {
    in_flight: Family<InstanceLabel, Gauge>,
    queued: Family<InstanceLabel, Gauge>,
    concurrency: Family<InstanceLabel, Gauge>,
    queue: Family<InstanceLabel, Gauge>,
}

static GAUGES: LazyLock<GateGauges> = LazyLock::new(GateGauges::default);

/// Adds the gate gauges to `registry`.
pub fn register_metrics(registry: &mut Registry) {
    registry.register(
        "capstan_instance_calls_in_flight",
        "Tool calls and prompt renders running in the sandbox, by instance",
        GAUGES.in_flight.clone(),
    );
    registry.register(
        "capstan_instance_calls_queued",
        "Tool calls and prompt renders waiting for one of the instance's running places, by instance",
        GAUGES.queued.clone(),
    );
    registry.register(
        "capstan_instance_concurrency_limit",
        "Calls an instance runs at once (its [limits].max_concurrency, at most half the sandbox's slots)",
        GAUGES.concurrency.clone(),
    );
    registry.register(
        "capstan_instance_queue_limit",
        "Calls that may wait for an instance ([limits].max_queue); more are refused as busy",
        GAUGES.queue.clone(),
    );
}

pub(super) struct Gate {
    running: Semaphore,
    max_running: u32,
    waiting: AtomicU32,
    max_waiting: u32,
    in_flight: Gauge,
    queued: Gauge,
}

impl Gate {
    /// The gate of instance `instance`.
    pub(super) fn new(instance: &str, max_running: u32, max_waiting: u32) -> Self {
        let label = InstanceLabel {
            instance: instance.to_owned(),
        };
        GAUGES
            .concurrency
            .get_or_create(&label)
            .set(i64::from(max_running));
        GAUGES
            .queue
            .get_or_create(&label)
            .set(i64::from(max_waiting));
        Self {
            running: Semaphore::new(max_running as usize),
            max_running,
            waiting: AtomicU32::new(0),
            max_waiting,
            in_flight: GAUGES.in_flight.get_or_create_owned(&label),
            queued: GAUGES.queued.get_or_create_owned(&label),
        }
    }

    /// Waits for a slot, unless the queue is already full.
    pub(super) async fn enter(&self) -> Result<Entered<'_>, Busy> {
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(Entered::new(permit, &self.in_flight));
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = LeaveQueue(&self.waiting);
        if queued >= self.max_waiting {
            return Err(Busy {
                running: self.max_running,
                waiting: queued,
            });
        }
        let _waiting = Counted::new(&self.queued);
        let permit = self.running.acquire().await.map_err(|_| Busy {
            running: self.max_running,
            waiting: queued,
        })?;
        Ok(Entered::new(permit, &self.in_flight))
    }
}

/// A running place, counted in flight while it is held.
#[derive(Debug)]
pub(super) struct Entered<'a> {
    _permit: SemaphorePermit<'a>,
    _counted: Counted<'a>,
}

impl<'a> Entered<'a> {
    fn new(permit: SemaphorePermit<'a>, in_flight: &'a Gauge) -> Self {
        Self {
            _permit: permit,
            _counted: Counted::new(in_flight),
        }
    }
}

/// One up on a gauge while it lives.
#[derive(Debug)]
struct Counted<'a>(&'a Gauge);

impl<'a> Counted<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

struct LeaveQueue<'a>(&'a AtomicU32);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queue_beyond_its_bound_is_refused_and_drains() {
        let gate = std::sync::Arc::new(Gate::new("gate-test-drain", 1, 1));
        let first = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(drop) })
        };
        tokio::task::yield_now().await;
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            gate.enter().await.unwrap_err(),
            Busy {
                running: 1,
                waiting: 1
            }
        );
        drop(first);
        waiter.await.unwrap().unwrap();
        assert!(gate.enter().await.is_ok());
    }

    #[tokio::test]
    async fn the_gauges_follow_running_and_waiting_calls() {
        let gate = std::sync::Arc::new(Gate::new("gate-test-gauges", 1, 4));
        let label = InstanceLabel {
            instance: "gate-test-gauges".into(),
        };
        assert_eq!(GAUGES.concurrency.get_or_create(&label).get(), 1);
        assert_eq!(GAUGES.queue.get_or_create(&label).get(), 4);
        let first = gate.enter().await.unwrap();
        assert_eq!((gate.in_flight.get(), gate.queued.get()), (1, 0));
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(drop) })
        };
        while gate.queued.get() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!((gate.in_flight.get(), gate.queued.get()), (1, 1));
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!((gate.in_flight.get(), gate.queued.get()), (0, 0));
        assert_eq!(GAUGES.in_flight.get_or_create(&label).get(), 0);
    }
}
