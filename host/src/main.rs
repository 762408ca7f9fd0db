//! The `capstan` binary; everything lives in the library.

/// mimalloc instead of the system allocator: every call allocates and frees request,
/// sandbox and JSON buffers across worker threads, where glibc's malloc spends a measurable
/// share of the call (see `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    capstan::backtraces::keep_out_of_errors();
    capstan::allocator::return_freed_memory_at_once();
    capstan::cli::run()
}
