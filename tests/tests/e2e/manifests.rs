//! Manifests: instances, prefixes, read-only filtering, config, collisions and bad files.

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::paths;
use serde_json::json;

#[tokio::test]
async fn one_component_runs_as_several_instances_with_their_own_config() {
    let plugins = PluginDir::new();
    plugins.manifest(
        "alpha",
        "probe",
        "prefix = \"a\"\n[config]\ngreeting = \"from alpha\"",
    );
    plugins.manifest(
        "beta",
        "probe",
        "prefix = \"b\"\n[config]\ngreeting = \"from beta\"\nnested = { key = 7 }",
    );
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let a = client
        .call("a_config", json!({"key": "greeting"}))
        .await
        .unwrap();
    let b = client
        .call("b_config", json!({"key": "greeting"}))
        .await
        .unwrap();
    assert_eq!(
        (text(&a).as_str(), text(&b).as_str()),
        ("from alpha", "from beta")
    );
    assert_eq!(
        text(
            &client
                .call("b_config", json!({"key": "nested.key"}))
                .await
                .unwrap()
        ),
        "7"
    );
}

#[tokio::test]
async fn an_empty_prefix_keeps_the_plugin_names() {
    let plugins = PluginDir::new();
    plugins.manifest("bare", "probe", "prefix = \"\"");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let names: Vec<String> = client
        .tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
}

#[tokio::test]
async fn a_read_only_instance_neither_lists_nor_runs_mutating_tools() {
    let plugins = PluginDir::new();
    plugins.manifest("ro", "probe", "read_only = true");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    let tools = client.tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    assert!(!tools.iter().any(|t| t.name == "ro_mutate"));
    let refused = client
        .call("ro_mutate", json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown tool"), "{refused}");
}

#[tokio::test]
async fn a_name_collision_refuses_the_later_instance_naming_both() {
    let plugins = PluginDir::new();
    plugins.manifest("first", "probe", "prefix = \"same\"");
    plugins.manifest("second", "probe", "prefix = \"same\"");
    let capstan = Capstan::start(&plugins);
    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (manifest, error) = &failures[0];
    assert_eq!(manifest, "second.toml");
    assert!(
        error.contains("instance `first`")
            && error.contains("already served")
            && error.contains("prefix"),
        "{error}"
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert!(!is_error(
        &client.call("same_noop", json!({})).await.unwrap()
    ));
}

#[tokio::test]
async fn bad_manifests_and_components_are_reported_and_the_rest_still_load() {
    let plugins = PluginDir::new();
    plugins.manifest("good", "probe", "");
    plugins.raw_manifest(
        "typo",
        &format!(
            "component = {:?}\nprefx = \"x\"\n",
            paths::plugin("probe").display().to_string()
        ),
    );
    plugins.raw_manifest("missing", "component = \"nowhere.wasm\"\n");
    std::fs::write(plugins.path().join("junk.wasm"), b"not wasm at all").unwrap();
    plugins.raw_manifest("junk", "component = \"junk.wasm\"\n");
    let capstan = Capstan::start(&plugins);
    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(
        failures
            .iter()
            .any(|(m, e)| m == "typo.toml" && e.contains("prefx")),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|(m, e)| m == "missing.toml"
            && e.contains("`component`")
            && e.contains("does not exist")),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|(m, e)| m == "junk.toml" && e.contains("not a valid WebAssembly component")),
        "{failures:?}"
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(
        text(&client.call("good_noop", json!({})).await.unwrap()),
        "ok"
    );
}
