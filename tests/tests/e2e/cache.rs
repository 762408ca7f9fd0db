//! The compile cache and what may be loaded: warm restarts compile nothing, only files capstan
//! wrote are ever deserialized, and components that want the filesystem or sockets are refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, text};
use serde_json::json;

/// Starts capstan with its compile cache in `<cache>/compiled`, a folder capstan creates.
fn start_with_cache(plugins: &PluginDir, cache: &Path) -> Capstan {
    Capstan::start_with(
        plugins,
        Options {
            cache_dir: Some(cache.join("compiled")),
            ..Default::default()
        },
    )
}

fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache.join("compiled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

#[tokio::test]
async fn a_warm_restart_compiles_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let cold = start_with_cache(&plugins, cache.path());
    assert!(
        cold.log_text().contains("cached=false"),
        "{}",
        cold.log_text()
    );
    drop(cold);
    assert_eq!(cache_entries(cache.path()).len(), 1);
    let mode = std::fs::metadata(cache.path().join("compiled"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the cache directory must be private");
    let warm = start_with_cache(&plugins, cache.path());
    assert!(
        warm.log_text().contains("cached=true"),
        "{}",
        warm.log_text()
    );
    let client = Client::connect(&warm.url()).await.unwrap();
    assert_eq!(
        text(&client.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
}

#[tokio::test]
async fn cache_entries_others_could_have_written_are_not_loaded() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    drop(start_with_cache(&plugins, cache.path()));
    let entry = cache_entries(cache.path()).pop().unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let capstan = start_with_cache(&plugins, cache.path());
    let log = capstan.log_text();
    assert!(
        log.contains("ignoring a compile cache entry not written by capstan"),
        "{log}"
    );
    assert!(log.contains("cached=false"), "{log}");
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    drop(start_with_cache(&plugins, cache.path()));
    let entry = cache_entries(cache.path()).pop().unwrap();
    std::fs::write(&entry, b"garbage").unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
    let capstan = start_with_cache(&plugins, cache.path());
    assert!(
        capstan.log_text().contains("recompiling"),
        "{}",
        capstan.log_text()
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(
        text(&client.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
}

#[tokio::test]
async fn a_precompiled_artifact_in_a_plugin_folder_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    drop(start_with_cache(&plugins, cache.path()));
    let artifact = cache_entries(cache.path()).pop().unwrap();
    std::fs::copy(artifact, plugins.path().join("sneaky.wasm")).unwrap();
    plugins.raw_manifest("sneaky", "component = \"sneaky.wasm\"\n");
    let capstan = start_with_cache(&plugins, cache.path());
    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].1.contains("precompiled wasmtime artifact"),
        "{failures:?}"
    );
}

#[tokio::test]
async fn a_component_importing_the_filesystem_or_sockets_is_refused_at_load() {
    let plugins = PluginDir::new();
    plugins.manifest("forbidden", "forbidden", "");
    plugins.manifest("probe", "probe", "");
    let capstan = Capstan::start(&plugins);
    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let error = &failures[0].1;
    assert!(
        error.contains("wasi:filesystem/") && error.contains("wasi:sockets/"),
        "{error}"
    );
    assert!(error.contains("capstan does not provide"), "{error}");
    let client = Client::connect(&capstan.url()).await.unwrap();
    let tools = client.tools().await.unwrap();
    assert!(!tools.iter().any(|t| t.name.starts_with("forbidden_")));
}
