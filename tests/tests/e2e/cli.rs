//! The command line as operators run it: `capstan check`, `capstan tools` and `capstan policy`.

use std::process::Command;

use capstan_tests::capstan::PluginDir;
use capstan_tests::paths;

fn capstan(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(paths::capstan_bin())
        .args(args)
        .env("CAPSTAN_CACHE_DIR", paths::shared_cache_dir())
        .output()
        .expect("running capstan");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_lists_the_tools_of_a_good_folder_and_succeeds() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "read_only = true");
    let (ok, stdout, stderr) = capstan(&["check", plugins.path().to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("ok    probe") && stdout.contains("probe_echo"),
        "{stdout}"
    );
    assert!(!stdout.contains("probe_mutate"), "{stdout}");
}

#[test]
fn check_fails_on_a_bad_manifest_and_says_why() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "[limits]\nmemory = \"a lot\"");
    let (ok, stdout, _) = capstan(&["check", plugins.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stdout.contains("probe.toml")
            && stdout.contains("limits.memory")
            && stdout.contains("64MiB"),
        "{stdout}"
    );
}

#[test]
fn check_refuses_a_component_that_imports_the_filesystem() {
    let plugins = PluginDir::new();
    // A core wasm module is not a component: refused before anything runs.
    std::fs::write(plugins.path().join("core.wasm"), wat_core_module()).unwrap();
    plugins.raw_manifest("core", "component = \"core.wasm\"\n");
    let (ok, stdout, _) = capstan(&["check", plugins.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stdout.contains("core.toml"), "{stdout}");
}

/// A plugin built against the previous contract (capstan:plugin@0.1.0, kept as the `legacy`
/// fixture) is refused with the version it was built against and how to rebuild, while a
/// current plugin in the same folder loads.
#[test]
fn check_refuses_a_plugin_built_against_another_contract_version() {
    let plugins = PluginDir::new();
    plugins.manifest("legacy", "legacy", "");
    plugins.manifest("probe", "probe", "");
    let (ok, stdout, _) = capstan(&["check", plugins.path().to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(
        stdout.contains("legacy.toml")
            && stdout.contains("capstan plugin contract 0.1.0")
            && stdout.contains("runs contract 0.2.0")
            && stdout.contains("rebuild the plugin"),
        "{stdout}"
    );
    assert!(stdout.contains("probe_noop"), "{stdout}");
}

#[test]
fn tools_prints_a_table() {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "");
    let (ok, stdout, stderr) = capstan(&["tools", plugins.path().to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert!(
        header.starts_with("TOOL") && header.contains("INSTANCE") && header.contains("KIND"),
        "{stdout}"
    );
    let mutate = stdout
        .lines()
        .find(|l| l.starts_with("probe_mutate"))
        .unwrap();
    assert!(mutate.contains("destructive"), "{mutate}");

    let plugins = PluginDir::new();
    plugins.manifest("conformance", "conformance", "prefix = \"\"");
    let (ok, stdout, stderr) = capstan(&["tools", plugins.path().to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let row = |tool: &str| {
        let prefix = format!("{tool} ");
        stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap()
            .to_owned()
    };
    assert!(row("slow_compute").contains("read-only, task "), "{stdout}");
    assert!(row("failing_job").contains("task only"), "{stdout}");
    assert!(!row("greet").contains(", task"), "{stdout}");
}

fn capstan_status(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(paths::capstan_bin())
        .args(args)
        .env("CAPSTAN_CACHE_DIR", paths::shared_cache_dir())
        .output()
        .expect("running capstan");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

fn example_policy() -> String {
    paths::repo_root()
        .join("docs/examples/policy.cedar")
        .display()
        .to_string()
}

#[test]
fn policy_check_lists_the_rules_or_the_problems_with_their_place() {
    let (code, text) = capstan_status(&["policy", "check", &example_policy()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("ok: 6 rules (developers-read, developers-sync-staging,"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("policy.cedar");
    std::fs::write(
        &broken,
        "permit(principal, action, resource);\npermit(principal, action, resource)\n  when { resource.readonly };\n",
    )
    .unwrap();
    let (code, text) = capstan_status(&["policy", "check", broken.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("policy.cedar:3:"), "{text}");
    assert!(text.contains("readonly"), "{text}");
}

#[test]
fn policy_explain_prints_the_outcome_rule_and_reason_and_exits_3_on_deny() {
    let policy = example_policy();
    let ask = |extra: &[&str]| {
        let mut args = vec!["policy", "explain", "--policy", &policy];
        args.extend_from_slice(extra);
        capstan_status(&args)
    };
    let sync = ["--tool", "argocd_sync_application", "--destructive"];
    let (code, text) = ask(&[
        &[
            "--principal",
            "alice",
            "--group",
            "developers",
            "--target",
            "staging",
        ][..],
        &sync,
    ]
    .concat());
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("outcome: allow") && text.contains("developers-sync-staging"),
        "{text}"
    );
    let (code, text) = ask(&[
        &["--principal", "bob", "--group", "sre", "--target", "prod"][..],
        &sync,
    ]
    .concat());
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("outcome: confirm") && text.contains("sre-sync-prod"),
        "{text}"
    );
    let (code, text) = ask(&[
        &[
            "--principal",
            "alice",
            "--group",
            "developers",
            "--target",
            "prod",
        ][..],
        &sync,
    ]
    .concat());
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("outcome: deny") && text.contains("no rule grants"),
        "{text}"
    );
    let (code, text) = ask(&[
        "--principal",
        "ci-deployer",
        "--kind",
        "api-key",
        "--target",
        "staging",
        "--tool",
        "argocd_sync_application",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ci-sync-staging"), "{text}");
}

#[test]
fn policy_explain_takes_the_tool_from_the_plugins() {
    let plugins = PluginDir::new();
    plugins.manifest(
        "argocd",
        "argocd",
        "[[targets]]\nname = \"prod\"\nurl = \"https://argocd.example.com\"",
    );
    let dir = plugins.path().to_str().unwrap();
    let base = [
        "policy",
        "explain",
        "--policy",
        &example_policy(),
        "--plugins",
        dir,
    ];
    let delete = [
        &base[..],
        &[
            "--principal",
            "bob",
            "--group",
            "sre",
            "--target",
            "prod",
            "--tool",
            "argocd_delete_application",
        ],
    ]
    .concat();
    let (code, text) = capstan_status(&delete);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("no-deletes-on-prod") && text.contains("#platform-sre"),
        "{text}"
    );
    let read = [
        &base[..],
        &[
            "--principal",
            "alice",
            "--group",
            "developers",
            "--target",
            "prod",
            "--tool",
            "argocd_get_application",
        ],
    ]
    .concat();
    let (code, text) = capstan_status(&read);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("developers-read"), "{text}");
    let unknown = [
        &base[..],
        &["--principal", "alice", "--tool", "argocd_nope"],
    ]
    .concat();
    let (code, text) = capstan_status(&unknown);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("argocd_nope"), "{text}");
}

fn wat_core_module() -> Vec<u8> {
    // (module) in binary form: magic and version only.
    vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
}
