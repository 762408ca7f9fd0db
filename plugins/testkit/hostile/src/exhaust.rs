//! Attacks on the host's resources: CPU, stack, memory, time and result size.

use std::hint::black_box;
use std::time::Duration;

use capstan_sdk::{Content, Context, ToolError, ToolResult};

/// The most text blocks `blocks` returns.
pub const MAX_BLOCKS: u64 = 1_000_000;

const MIB: usize = 1024 * 1024;

/// Recurses until the stack runs out; the call is not a tail call and every frame keeps a
/// buffer alive across it, so the optimizer cannot turn it into a loop.
pub fn recurse() -> u64 {
    descend(0)
}

#[inline(never)]
fn descend(depth: u64) -> u64 {
    let mut frame = black_box([0u8; 256]);
    frame[(depth % 256) as usize] = depth as u8;
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let below = descend(depth + 1);
    below.wrapping_add(u64::from(black_box(frame)[(depth % 7) as usize]))
}

/// Loops forever.
pub fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// `mib` MiB, every byte written; aborts when the allocation fails.
fn touched(mib: u64) -> Vec<u8> {
    let bytes = usize::try_from(mib)
        .unwrap_or(usize::MAX)
        .saturating_mul(MIB);
    vec![1u8; bytes]
}

/// Allocates and touches `mib` MiB.
pub fn alloc(mib: u64) -> String {
    let buffer = touched(mib);
    format!("allocated {} bytes", black_box(&buffer).len())
}

/// Allocates and touches `mib` MiB, then sleeps `ms` milliseconds while holding it.
pub fn hold(ctx: &Context, mib: u64, ms: u64) -> String {
    let buffer = touched(mib);
    sleep_ms(ctx, ms);
    format!("held {} bytes", black_box(&buffer).len())
}

/// Sleeps in a host call.
pub fn sleep_ms(ctx: &Context, ms: u64) {
    ctx.sleep(Duration::from_millis(ms));
}

/// Keeps yielding through host calls, forever.
pub fn nap_loop(ctx: &Context) -> ! {
    loop {
        sleep_ms(ctx, 10);
    }
}

/// A text of `mib` MiB.
pub fn output(mib: u64) -> String {
    "x".repeat(
        usize::try_from(mib)
            .unwrap_or(usize::MAX)
            .saturating_mul(MIB),
    )
}

/// A result of `n` (at most [`MAX_BLOCKS`]) text blocks of a few bytes each.
pub fn blocks(n: u64) -> ToolResult {
    let blocks = (0..n.min(MAX_BLOCKS))
        .map(|index| Content::Text(format!("b{index}")))
        .collect();
    ToolResult::from_content(blocks)
}

/// Executes `unreachable`.
pub fn trap() -> Result<ToolResult, ToolError> {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    unreachable!("trap")
}
