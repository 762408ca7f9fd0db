//! The command line as operators run it: `capstan check` and `capstan tools`.

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
}

fn wat_core_module() -> Vec<u8> {
    // (module) in binary form: magic and version only.
    vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
}
