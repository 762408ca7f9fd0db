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
        distribution: Default::default(),
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

/// Every property name in `schema` (nested objects and array items included), with its path.
fn property_names(schema: &serde_json::Value, path: &str, into: &mut Vec<String>) {
    if let Some(properties) = schema["properties"].as_object() {
        for (name, inner) in properties {
            into.push(format!("{path}{name}"));
            property_names(inner, &format!("{path}{name}."), into);
        }
    }
    property_names_of_items(schema, path, into);
}

fn property_names_of_items(schema: &serde_json::Value, path: &str, into: &mut Vec<String>) {
    if schema["items"].is_object() {
        property_names(&schema["items"], &format!("{path}[]."), into);
    }
}

fn is_camel_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

/// One style for arguments across the GitOps plugins (camelCase, as the Argo CD plugin has for
/// argocd-mcp compatibility), tool names in snake_case, and an output schema and annotations on
/// every tool.
#[tokio::test]
async fn every_gitops_tool_keeps_the_argument_conventions() {
    let mut broken = Vec::new();
    for plugin in ["argocd", "rollouts", "flux"] {
        for tool in tools_list(plugin).await.tools {
            let name = tool.name.to_string();
            let tool_name_ok = name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !tool_name_ok {
                broken.push(format!("{plugin}: tool `{name}` is not snake_case"));
            }
            let schema = serde_json::Value::Object((*tool.input_schema).clone());
            let mut arguments = Vec::new();
            property_names(&schema, "", &mut arguments);
            for argument in arguments {
                let last = argument.rsplit('.').next().unwrap_or_default();
                if !is_camel_case(last) {
                    broken.push(format!(
                        "{plugin}: `{name}` argument `{argument}` is not camelCase"
                    ));
                }
            }
            if tool.output_schema.is_none() {
                broken.push(format!("{plugin}: `{name}` has no output schema"));
            }
            if tool.annotations.is_none() {
                broken.push(format!("{plugin}: `{name}` has no annotations"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
