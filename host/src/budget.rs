//! Byte budgets an instance's calls share: a semaphore with one permit a byte, taken without
//! waiting and given back when the holder drops its permit.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Adds `bytes` from `budget` to `held` without waiting; false when the budget cannot spare
/// them (nothing is taken then).
pub fn try_take(
    budget: &Arc<Semaphore>,
    held: &mut Option<OwnedSemaphorePermit>,
    bytes: usize,
) -> bool {
    if bytes == 0 {
        return true;
    }
    let Some(permit) = u32::try_from(bytes)
        .ok()
        .and_then(|count| budget.clone().try_acquire_many_owned(count).ok())
    else {
        return false;
    };
    match held {
        Some(held) => held.merge(permit),
        None => *held = Some(permit),
    }
    true
}
