//! How the process allocator (mimalloc, installed by the binary) gives memory back.
//!
//! mimalloc returns pages it no longer uses to the system only after a purge delay (a second by
//! default), and only when a thread next touches its arenas; after a burst, such as a hostile
//! call that filled its handle table with header fields, an otherwise idle capstan kept tens
//! of MiB resident. [`return_freed_memory_at_once`] sets the delay to zero, so freed pages go
//! back as soon as they are free. The benchmarks show no difference in the call path
//! (`docs/benchmarks.md`); the memory tests in `e2e::hostile` show resident memory falling back.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the bindings name no constant for it);
/// the unit test below checks it against mimalloc's documented default.
const PURGE_DELAY: mi_option_t = 15;

/// mimalloc's default purge delay, in milliseconds.
#[cfg(test)]
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// Makes mimalloc return freed pages to the system at once instead of after its purge delay.
/// Call it first thing in `main`.
#[allow(unsafe_code)]
pub fn return_freed_memory_at_once() {
    // SAFETY: `mi_option_set` only stores a value in mimalloc's option table; it may be called
    // at any time from any thread, and `PURGE_DELAY` is a valid option index (tested below).
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

/// The current purge delay, in milliseconds.
#[cfg(test)]
#[allow(unsafe_code)]
fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reading an option has no preconditions.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_index_is_mimallocs_purge_delay() {
        // Only this test touches the option, so the library's default is still in place.
        assert_eq!(purge_delay_ms(), DEFAULT_PURGE_DELAY_MS);
        return_freed_memory_at_once();
        assert_eq!(purge_delay_ms(), 0);
    }
}
