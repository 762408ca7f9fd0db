//! Where the artifacts under test are. Tests use release builds: `./dev test` builds them first,
//! and the first use in a test process rebuilds them when their sources are newer (see
//! `paths/freshness.rs`), so a test never silently runs an old binary or plugin.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod freshness;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// The `capstan` binary: `$CAPSTAN_BIN` (used as is), else `target/release/capstan`, rebuilt
/// first when it is missing or older than its sources (checked once per process).
///
/// # Panics
///
/// When it is stale and `cargo build --release --locked -p capstan -p capstan-tests --bins`
/// fails.
pub fn capstan_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CAPSTAN_BIN") {
        return PathBuf::from(bin);
    }
    static FRESH: OnceLock<Result<(), String>> = OnceLock::new();
    let root = repo_root();
    if let Err(message) = FRESH.get_or_init(|| freshness::ensure(&freshness::host(&root))) {
        panic!("{message}");
    }
    root.join("target/release/capstan")
}

/// A compiled plugin component, e.g. `plugin("probe")`. The components are rebuilt first when
/// any is missing or older than the plugins' sources (checked once per process). `eso` is the
/// JavaScript plugin in `plugins/eso`, built with Node ([`eso_plugin`]).
///
/// # Panics
///
/// When they are stale and `cargo build --release --locked` in `plugins/` fails, or when there
/// is no component `name`.
pub fn plugin(name: &str) -> PathBuf {
    if name == "eso" {
        return eso_plugin();
    }
    static FRESH: OnceLock<Result<(), String>> = OnceLock::new();
    let root = repo_root();
    if let Err(message) = FRESH.get_or_init(|| freshness::ensure(&freshness::plugins(&root))) {
        panic!("{message}");
    }
    let wasm = freshness::plugin_dir(&root).join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "{} is missing: is {name} a member of the plugins workspace? Build the plugins with \
         `(cd plugins && cargo build --release --locked)` (or run ./dev build)",
        wasm.display()
    );
    wasm
}

/// The JavaScript ESO plugin's component, `plugins/target/eso/eso.wasm`, rebuilt first with
/// `node build.mjs` in `plugins/eso` when it is missing or older than its sources (checked once
/// per process).
///
/// # Panics
///
/// When it is stale and the build fails: it needs Node 22 and `npm ci` in `plugins/eso`, which
/// `./dev build` sets up.
pub fn eso_plugin() -> PathBuf {
    static FRESH: OnceLock<Result<(), String>> = OnceLock::new();
    let root = repo_root();
    if let Err(message) = FRESH.get_or_init(|| freshness::ensure(&freshness::eso(&root))) {
        panic!("{message}");
    }
    freshness::eso_component(&root)
}

/// A compile cache shared by the tests of one build, so each plugin is compiled once.
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target/test-compile-cache")
}
