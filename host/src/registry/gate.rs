//! Per-instance concurrency: a fixed number of calls run, a bounded number wait, the rest are
//! told the instance is busy.

use std::sync::atomic::{AtomicU32, Ordering};

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

pub(super) struct Gate {
    running: Semaphore,
    max_running: u32,
    waiting: AtomicU32,
    max_waiting: u32,
}

impl Gate {
    pub(super) fn new(max_running: u32, max_waiting: u32) -> Self {
        Self {
            running: Semaphore::new(max_running as usize),
            max_running,
            waiting: AtomicU32::new(0),
            max_waiting,
        }
    }

    /// Waits for a slot, unless the queue is already full.
    pub(super) async fn enter(&self) -> Result<SemaphorePermit<'_>, Busy> {
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = LeaveQueue(&self.waiting);
        if queued >= self.max_waiting {
            return Err(Busy {
                running: self.max_running,
                waiting: queued,
            });
        }
        self.running.acquire().await.map_err(|_| Busy {
            running: self.max_running,
            waiting: queued,
        })
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
        let gate = std::sync::Arc::new(Gate::new(1, 1));
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
}
