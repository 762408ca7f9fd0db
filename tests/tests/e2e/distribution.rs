//! Plugins from an OCI registry (a real CNCF distribution server on loopback): published with
//! `capstan plugin push`, served by digest, kept in the plugin cache so a restart needs no
//! registry, behind basic auth with credentials from the environment, and refused when the
//! registry serves other content than the manifest pins (a moved tag, a tampered blob).

use std::future::Future;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::paths;
use capstan_tests::registry::{PASSWORD, Registry, USERNAME};
use capstan_tests::wasm::tagged;
use serde_json::json;
use sha2::{Digest as _, Sha256};

const LIMIT: Duration = Duration::from_secs(60);

/// What every capstan run here gets: no docker config of the machine's, no stray credentials.
struct Env {
    docker_config: tempfile::TempDir,
    credentials: Option<(&'static str, &'static str)>,
}

impl Env {
    fn anonymous() -> Self {
        Self {
            docker_config: tempfile::tempdir().unwrap(),
            credentials: None,
        }
    }

    fn with_credentials() -> Self {
        Self {
            credentials: Some((USERNAME, PASSWORD)),
            ..Self::anonymous()
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![(
            "DOCKER_CONFIG".to_owned(),
            self.docker_config.path().display().to_string(),
        )];
        let (user, password) = self.credentials.unwrap_or(("", ""));
        vars.push(("CAPSTAN_REGISTRY_USERNAME".to_owned(), user.to_owned()));
        vars.push(("CAPSTAN_REGISTRY_PASSWORD".to_owned(), password.to_owned()));
        vars
    }
}

fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `capstan plugin push` of `wasm` to `oci://REGISTRY/plugins/probe:TAG`.
fn try_push(registry: &Registry, wasm: &[u8], tag: &str, env: &Env) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.wasm");
    std::fs::write(&file, wasm).unwrap();
    Command::new(paths::capstan_bin())
        .args(["plugin", "push"])
        .arg(&file)
        .arg(format!("oci://{}/plugins/probe:{tag}", registry.host()))
        .args(["--insecure-registry", &registry.host()])
        .envs(env.vars())
        .output()
        .expect("running capstan plugin push")
}

/// Pushes and returns the digest reference it prints.
fn push(registry: &Registry, wasm: &[u8], tag: &str, env: &Env) -> String {
    let output = try_push(registry, wasm, tag, env);
    assert!(
        output.status.success(),
        "push failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let expected = format!("oci://{}/plugins/probe:{tag}@sha256:", registry.host());
    assert!(reference.starts_with(&expected), "{reference}");
    reference
}

fn manifest(reference: &str, version: &str) -> String {
    format!("component = \"{reference}\"\nprefix = \"probe\"\n[config]\nversion = \"{version}\"\n")
}

fn serve(plugins: &PluginDir, cache: &Path, registry_host: &str, env: &Env) -> Capstan {
    Capstan::start_with(
        plugins,
        Options {
            args: vec![
                "--plugin-cache".into(),
                cache.display().to_string(),
                "--insecure-registry".into(),
                registry_host.into(),
            ],
            env: env.vars(),
            ..Default::default()
        },
    )
}

async fn version(client: &Client) -> String {
    let result = client.call("probe_config", json!({"key": "version"})).await;
    text(&result.expect("calling probe_config"))
}

async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < LIMIT, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn only_failure(capstan: &Capstan) -> String {
    let failures = capstan.load_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    failures[0].1.clone()
}

#[tokio::test]
async fn a_pushed_plugin_is_served_by_digest_and_a_restart_needs_no_registry() {
    let mut registry = Registry::start();
    let env = Env::anonymous();
    let reference = push(&registry, &tagged("probe", "oci one"), "1.0.0", &env);
    let cache = tempfile::tempdir().unwrap();
    let plugins = PluginDir::new();
    plugins.raw_manifest("probe", &manifest(&reference, "1"));
    // The author's tools take the same flags: `capstan check` pulls and checks it first.
    let checked = Command::new(paths::capstan_bin())
        .arg("check")
        .arg(plugins.path())
        .arg("--plugin-cache")
        .arg(cache.path())
        .args(["--insecure-registry", &registry.host()])
        .arg("--cache-dir")
        .arg(cache.path().join("compiled"))
        .envs(env.vars())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success() && report.contains("ok    probe") && report.contains("probe_noop"),
        "{report}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let capstan = serve(&plugins, cache.path(), &registry.host(), &env);
    assert!(
        capstan.load_failures().is_empty(),
        "{:?}",
        capstan.load_failures()
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(
        text(&client.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
    client.close().await;
    drop(capstan);

    registry.stop();
    let restarted = serve(&plugins, cache.path(), &registry.host(), &env);
    assert!(
        restarted.load_failures().is_empty(),
        "{:?}",
        restarted.load_failures()
    );
    let client = Client::connect(&restarted.url()).await.unwrap();
    assert_eq!(version(&client).await, "1");
}

#[tokio::test]
async fn registry_credentials_come_from_the_environment() {
    let registry = Registry::with_basic_auth();
    let refused = try_push(
        &registry,
        &tagged("probe", "auth"),
        "auth",
        &Env::anonymous(),
    );
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("CAPSTAN_REGISTRY_USERNAME"), "{error}");
    let env = Env::with_credentials();
    let reference = push(&registry, &tagged("probe", "auth"), "auth", &env);
    let plugins = PluginDir::new();
    plugins.raw_manifest("probe", &manifest(&reference, "1"));

    let anonymous = tempfile::tempdir().unwrap();
    let without = serve(
        &plugins,
        anonymous.path(),
        &registry.host(),
        &Env::anonymous(),
    );
    let error = only_failure(&without);
    assert!(
        error.contains(&registry.host()) && error.contains("CAPSTAN_REGISTRY_USERNAME"),
        "{error}"
    );
    drop(without);

    let cache = tempfile::tempdir().unwrap();
    let with = serve(&plugins, cache.path(), &registry.host(), &env);
    assert!(
        with.load_failures().is_empty(),
        "{:?}",
        with.load_failures()
    );
    assert!(!with.log_text().contains(PASSWORD));
    let client = Client::connect(&with.url()).await.unwrap();
    assert_eq!(
        text(&client.call("probe_noop", json!({})).await.unwrap()),
        "ok"
    );
}

#[tokio::test]
async fn a_tag_moved_to_other_content_is_refused_naming_both_digests() {
    let registry = Registry::start();
    let env = Env::anonymous();
    let first = push(&registry, &tagged("probe", "first"), "stable", &env);
    let second = push(&registry, &tagged("probe", "second"), "stable", &env);
    let digest = |reference: &str| reference.rsplit('@').next().unwrap().to_owned();
    let plugins = PluginDir::new();
    plugins.raw_manifest("probe", &manifest(&first, "1"));
    let cache = tempfile::tempdir().unwrap();
    let capstan = serve(&plugins, cache.path(), &registry.host(), &env);
    let error = only_failure(&capstan);
    assert!(
        error.contains(&digest(&first))
            && error.contains(&digest(&second))
            && error.contains("moved"),
        "{error}"
    );
}

#[tokio::test]
async fn a_tampered_blob_is_refused_and_the_serving_version_stays() {
    let registry = Registry::start();
    let env = Env::anonymous();
    let good = push(&registry, &tagged("probe", "good"), "good", &env);
    let plugins = PluginDir::new();
    plugins.swap_in("probe.toml", manifest(&good, "1").as_bytes());
    let cache = tempfile::tempdir().unwrap();
    let capstan = serve(&plugins, cache.path(), &registry.host(), &env);
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(version(&client).await, "1");

    let wasm = tagged("probe", "tampered");
    let tampered = push(&registry, &wasm, "tampered", &env);
    let layer = registry.blob_path(&sha256(&wasm));
    // Same length, other bytes: the registry's size records still match.
    std::fs::write(&layer, tagged("probe", "TAMPERED")).unwrap();
    plugins.swap_in("probe.toml", manifest(&tampered, "2").as_bytes());
    eventually("the tampered version to fail", || async {
        !capstan.load_failures().is_empty()
    })
    .await;
    let error = only_failure(&capstan);
    assert!(
        error.contains(&sha256(&wasm)) && error.contains("changed"),
        "{error}"
    );
    assert_eq!(
        version(&client).await,
        "1",
        "the previous version keeps serving"
    );
}

#[tokio::test]
async fn reloading_from_one_digest_to_another_fails_no_call() {
    let registry = Registry::start();
    let env = Env::anonymous();
    let one = push(&registry, &tagged("probe", "reload one"), "one", &env);
    let two = push(&registry, &tagged("probe", "reload two"), "two", &env);
    let plugins = PluginDir::new();
    plugins.swap_in("probe.toml", manifest(&one, "1").as_bytes());
    let cache = tempfile::tempdir().unwrap();
    let capstan = serve(&plugins, cache.path(), &registry.host(), &env);
    let client = Arc::new(Client::connect(&capstan.url()).await.unwrap());
    let (stop, failed, calls) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            let (failed, calls) = (failed.clone(), calls.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let result = client.call("probe_noop", json!({})).await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    let answered = matches!(&result, Ok(answer) if !is_error(answer));
                    if !answered {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    plugins.swap_in("probe.toml", manifest(&two, "2").as_bytes());
    eventually("version 2 to serve", || async {
        version(&client).await == "2"
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls failed during the reload"
    );
    assert!(
        capstan.load_failures().is_empty(),
        "{:?}",
        capstan.load_failures()
    );
}
