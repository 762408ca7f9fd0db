//! `oci://` components on in-process snapshots, served from a plugin cache seeded by hand: a
//! digest the cache holds loads with no registry at all (the reference names a loopback port
//! nothing listens on), and a cached blob changed on disk is refused while the previous
//! version keeps serving.

use crate::common;

use std::path::Path;

use capstan::distribution::{DistributionSettings, sha256};
use capstan::registry::{LoadOptions, load_snapshot, reload_snapshot};
use serde_json::json;

/// Writes the Wasm artifact of `wasm` into the cache at `cache` and returns its manifest digest.
fn seed(cache: &Path, wasm: &[u8]) -> String {
    let blobs = cache.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.wasm.config.v0+json",
            "digest": sha256(config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/wasm",
            "digest": sha256(wasm),
            "size": wasm.len(),
        }],
    }))
    .unwrap();
    for bytes in [wasm, &manifest] {
        std::fs::write(blobs.join(&sha256(bytes)[7..]), bytes).unwrap();
    }
    sha256(&manifest)
}

fn options(plugins: &Path, cache: &Path) -> LoadOptions {
    LoadOptions {
        plugin_dirs: vec![plugins.to_path_buf()],
        egress: Default::default(),
        distribution: DistributionSettings {
            cache_dir: cache.to_path_buf(),
            insecure_registries: vec!["127.0.0.1:9".into()],
            ..DistributionSettings::default()
        },
    }
}

#[tokio::test]
async fn a_cached_digest_loads_without_a_registry_and_a_changed_blob_is_refused() {
    let (plugins, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let wasm = std::fs::read(common::plugin("probe")).unwrap();
    let digest = seed(cache.path(), &wasm);
    let manifest = format!("component = \"oci://127.0.0.1:9/plugins/probe@{digest}\"\n");
    std::fs::write(plugins.path().join("probe.toml"), &manifest).unwrap();
    let runtime = common::runtime();
    let options = options(plugins.path(), cache.path());
    let first = load_snapshot(&runtime, &options).await;
    assert!(first.failures().is_empty(), "{:?}", first.failures());
    assert_eq!(first.instances().len(), 1);

    let layer = cache.path().join("blobs/sha256").join(&sha256(&wasm)[7..]);
    let mut changed = wasm.clone();
    changed.push(0);
    std::fs::write(&layer, &changed).unwrap();
    std::fs::write(
        plugins.path().join("probe.toml"),
        format!("{manifest}prefix = \"p\"\n"),
    )
    .unwrap();
    let second = reload_snapshot(&runtime, &options, &first).await;
    let failures = second.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].serving_previous);
    let message = failures[0].error.to_string();
    assert!(
        message.contains(&sha256(&wasm)) && message.contains(&sha256(&changed)),
        "{message}"
    );
    assert_eq!(
        second.instances().len(),
        1,
        "the previous version keeps serving"
    );
}
