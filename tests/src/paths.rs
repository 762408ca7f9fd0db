//! Where the artifacts under test are. Tests use release builds: `./dev test` builds them first.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// The `capstan` binary: `$CAPSTAN_BIN`, else `target/release/capstan`.
pub fn capstan_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAPSTAN_BIN") {
        return PathBuf::from(bin);
    }
    let bin = repo_root().join("target/release/capstan");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --release -p capstan` (or run ./dev test)",
        bin.display()
    );
    bin
}

/// A compiled plugin component, e.g. `plugin("probe")`.
pub fn plugin(name: &str) -> PathBuf {
    let wasm = repo_root()
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "{} is missing: build the plugins with `cargo build --release` in plugins/ (or run ./dev test)",
        wasm.display()
    );
    wasm
}

/// A compile cache shared by the tests of one build, so each plugin is compiled once.
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target/test-compile-cache")
}
