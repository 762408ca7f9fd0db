//! Agent Skills (SEP-2640) served from the skills the plugins ship: listed with their digests,
//! read as resources, every tool they name served under the instance's prefix, and exported
//! as an Agent Skills folder by the CLI.

use std::collections::BTreeSet;
use std::process::Command;

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::Client;
use capstan_tests::paths;
use rmcp::model::{
    GetSkillRequestParams, ReadResourceRequestParams, ResourceContents, SkillResources,
};

/// The three GitOps plugins, Argo CD under the prefix `prod` (so skills must name `prod_*`).
fn gitops_plugins() -> PluginDir {
    let plugins = PluginDir::new();
    plugins.manifest("prod", "argocd", "prefix = \"prod\"");
    plugins.manifest("rollouts", "rollouts", "");
    plugins.manifest("flux", "flux", "");
    plugins
}

/// The text of a read resource.
fn text_of(contents: &[ResourceContents]) -> String {
    match &contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Every token that looks like a tool of one of the instances (`prod_…`, `rollouts_…`,
/// `flux_…`) in `text`.
fn tool_mentions(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| {
            ["prod_", "rollouts_", "flux_"]
                .iter()
                .any(|prefix| word.starts_with(prefix) && word.len() > prefix.len())
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_skill_is_served_with_digests_and_names_only_served_tools() {
    let plugins = gitops_plugins();
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let tools: BTreeSet<String> = client
        .tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    let skills = client.service().list_all_skills().await.unwrap();
    let names: BTreeSet<&str> = skills.iter().map(|s| s.frontmatter.name.as_str()).collect();
    for expected in [
        "argocd-degraded-application",
        "argocd-sync-failures",
        "argocd-safe-deploy-and-rollback",
        "rollouts-paused-or-aborted-canary",
        "rollouts-analysis-failures",
        "rollouts-blue-green-promotion",
        "flux-kustomization-build-failures",
        "flux-helmrelease-failures",
        "flux-source-fetch-failures",
        "flux-blocked-dependencies",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    for skill in &skills {
        assert!(skill.uri.starts_with("skill://"), "{}", skill.uri);
        assert!(!skill.frontmatter.description.is_empty());
        let SkillResources::Files(files) = &skill.resources else {
            panic!("{} has no file manifest", skill.uri);
        };
        for file in files {
            let read = client
                .service()
                .read_resource(ReadResourceRequestParams::new(&file.uri))
                .await
                .unwrap();
            let text = text_of(&read.contents);
            file.verify(text.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", file.uri));
            assert!(
                !text.contains("{{tool:"),
                "{} has an unrendered tool",
                file.uri
            );
            let mentioned = tool_mentions(&text);
            assert!(!mentioned.is_empty(), "{} names no tool", file.uri);
            let unknown: Vec<_> = mentioned.difference(&tools).collect();
            assert!(
                unknown.is_empty(),
                "{} names tools not served: {unknown:?}",
                file.uri
            );
        }
        let got = client
            .service()
            .get_skill(GetSkillRequestParams::new(&skill.uri))
            .await
            .unwrap();
        assert_eq!(&got.skill, skill);
    }
    let degraded = skills
        .iter()
        .find(|s| s.frontmatter.name == "argocd-degraded-application")
        .unwrap();
    assert!(
        degraded.uri.starts_with("skill://prod/"),
        "{}",
        degraded.uri
    );
    let missing = client
        .service()
        .get_skill(GetSkillRequestParams::new(
            "skill://prod/no-such-skill/SKILL.md",
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("skills/list"), "{missing}");
}

#[tokio::test]
async fn skills_export_writes_an_agent_skills_folder_as_clients_are_served_it() {
    let plugins = gitops_plugins();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(paths::capstan_bin())
        .args(["skills", "export"])
        .arg(plugins.path())
        .arg("--out")
        .arg(out.path())
        .arg("--cache-dir")
        .arg(paths::shared_cache_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written.len(), 10, "{written:?}");
    let md =
        std::fs::read_to_string(out.path().join("argocd-degraded-application/SKILL.md")).unwrap();
    assert!(
        md.starts_with("---\nname: argocd-degraded-application\n"),
        "{md}"
    );
    assert!(
        md.contains("prod_get_application"),
        "tool names carry the prefix"
    );
    assert!(!md.contains("{{tool:"));
    let unknown = Command::new(paths::capstan_bin())
        .args(["skills", "export"])
        .arg(plugins.path())
        .arg("--out")
        .arg(out.path())
        .args(["--instance", "staging"])
        .arg("--cache-dir")
        .arg(paths::shared_cache_dir())
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no plugin instance is named `staging`")
    );
}
