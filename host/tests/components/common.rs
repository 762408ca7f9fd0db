//! Shared by the in-process tests that load real plugin components.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use capstan::runtime::{EngineLimits, Runtime};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ lives in the repo root")
        .to_path_buf()
}

/// A compiled plugin component, e.g. `plugin("probe")`.
pub fn plugin(name: &str) -> PathBuf {
    let wasm = repo_root()
        .join("plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "{} is missing: build the plugins with `./dev build` (or `cargo build --release` in plugins/)",
        wasm.display()
    );
    wasm
}

/// One engine for the whole test binary (each engine reserves its own pool), compiling into
/// the compile cache the end-to-end tests share.
pub fn runtime() -> Runtime {
    static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
        let cache = repo_root().join("target/test-compile-cache");
        Runtime::new(EngineLimits::default(), &cache).expect("the runtime starts")
    });
    RUNTIME.clone()
}

/// Writes manifest `<name>.toml` into `dir` for component `plugin` with `rest` appended.
pub fn manifest(dir: &Path, name: &str, plugin_name: &str, rest: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "component = {:?}\n{rest}\n",
        plugin(plugin_name).display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}
