//! Snapshots of what operators and clients see, checked against the committed files in
//! `tests/components/snapshots/` (`.config/insta.yaml` keeps a mismatch a failure that writes nothing; to
//! accept a change, run with `INSTA_UPDATE=always` and review the diff):
//!
//! - `tools/list` as MCP JSON for each GitOps plugin, loaded in-process through the registry
//!   and the MCP conversion;
//! - the message for each manifest in `tests/manifests/invalid/` (one problem per file).

use crate::common;

use std::path::{Path, PathBuf};

use capstan::egress::{EgressPolicy, EgressSettings};
use capstan::manifest::Manifest;
use capstan::mcp::convert;
use capstan::registry::{LoadOptions, load_snapshot};
use rmcp::model::ListToolsResult;

async fn tools_list(plugin: &str) -> ListToolsResult {
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), plugin, plugin, "");
    let options = LoadOptions {
        plugin_dirs: vec![dir.path().to_path_buf()],
        egress: Default::default(),
    };
    let snapshot = load_snapshot(&common::runtime(), &options).await;
    assert!(snapshot.failures().is_empty(), "{:?}", snapshot.failures());
    let tools = snapshot
        .tools()
        .map(|(_, entry)| convert::tool(&entry.instance.tools()[entry.index]))
        .collect();
    ListToolsResult::with_all_items(tools)
}

#[tokio::test]
async fn argocd_tools_list() {
    insta::assert_json_snapshot!(tools_list("argocd").await);
}

#[tokio::test]
async fn rollouts_tools_list() {
    insta::assert_json_snapshot!(tools_list("rollouts").await);
}

#[tokio::test]
async fn flux_tools_list() {
    insta::assert_json_snapshot!(tools_list("flux").await);
}

fn invalid_manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/invalid")
}

/// What capstan says about the manifest at `path`: its parse error, else (for a manifest that
/// parses) why its egress policy cannot be built for a server with an inbound token. Paths are
/// shown relative to `tests/`.
fn message(path: &Path) -> String {
    let message = match Manifest::load(path, 256 << 20) {
        Err(error) => error.to_string(),
        Ok(manifest) => {
            let settings = EgressSettings {
                inbound_authorization: true,
                ..EgressSettings::default()
            };
            let max_outbound = manifest.limits.max_outbound as usize;
            match EgressPolicy::new(&manifest.name, manifest.targets, max_outbound, &settings) {
                Err(error) => error.to_string(),
                Ok(_) => panic!(
                    "{} is valid; each manifest there needs a problem",
                    path.display()
                ),
            }
        }
    };
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    message.replace(&format!("{}/", tests.display()), "")
}

#[test]
fn invalid_manifests_are_explained() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(invalid_manifests())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.file_stem().unwrap().to_str().unwrap().to_owned();
        insta::assert_snapshot!(format!("manifest_{name}"), message(&file));
    }
}
