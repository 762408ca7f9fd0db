//! Hot reload: plugins added, replaced, broken and removed under a running capstan while real
//! MCP clients call and listen; Kubernetes' atomic-writer layout; SIGHUP and polling; the compile
//! cache across restarts. Nothing here waits a fixed time: each step waits for its condition.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::paths;
use capstan_tests::wasm::tagged;
use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

/// Instance `probe` of `probe.wasm` in the same folder; `probe_config` answers `version`.
fn probe_manifest(version: &str, extra: &str) -> String {
    format!(
        "component = \"probe.wasm\"\nprefix = \"probe\"\n{extra}\n[config]\nversion = \"{version}\"\n"
    )
}

fn probe_wasm() -> Vec<u8> {
    std::fs::read(paths::plugin("probe")).unwrap()
}

/// A folder serving version 1 of probe from a copy of its component.
fn probe_folder() -> PluginDir {
    let plugins = PluginDir::new();
    plugins.swap_in("probe.wasm", &probe_wasm());
    plugins.swap_in("probe.toml", probe_manifest("1", "").as_bytes());
    plugins
}

async fn version(client: &Client) -> String {
    let result = client.call("probe_config", json!({"key": "version"}));
    text(&result.await.unwrap())
}

async fn tool_names(client: &Client) -> Vec<String> {
    let tools = client.tools().await.unwrap();
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

/// Polls `condition` until it holds; fails naming `what` after [`LIMIT`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + LIMIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The failures `/readyz` reports, by manifest file name: (error, previous version serving).
fn failures(capstan: &Capstan) -> BTreeMap<String, (String, bool)> {
    let report = capstan.readiness();
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    failures
        .iter()
        .map(|f| {
            let manifest = f["manifest"].as_str().unwrap_or_default();
            let file = manifest.rsplit('/').next().unwrap_or_default().to_owned();
            let error = f["error"].as_str().unwrap_or_default().to_owned();
            (file, (error, f["serving_previous"] == json!(true)))
        })
        .collect()
}

fn list_changes() -> SubscriptionFilter {
    SubscriptionFilter::builder()
        .tools_list_changed()
        .prompts_list_changed()
        .build()
}

#[tokio::test]
async fn an_added_plugin_is_served_and_every_client_is_told() {
    let plugins = probe_folder();
    let capstan = Capstan::start(&plugins);
    let legacy = Client::connect(&capstan.url()).await.unwrap();
    let modern = Client::connect_discover(&capstan.url()).await.unwrap();
    assert_eq!(
        modern.protocol_version(),
        Some(ProtocolVersion::V_2026_07_28)
    );
    let mut subscription = modern
        .service()
        .peer()
        .listen(list_changes())
        .await
        .unwrap();
    assert!(
        !tool_names(&legacy)
            .await
            .iter()
            .any(|n| n.starts_with("extra_"))
    );
    plugins.manifest("extra", "conformance", "prefix = \"extra\"");
    let told = legacy.wait_for(LIMIT, |r| r.tools_changed >= 1 && r.prompts_changed >= 1);
    assert!(told.await, "the legacy session was not told");
    // A busy machine can split the write into two reloads, each announced: listen until both
    // kinds of change have arrived.
    let both = |heard: &[ServerNotification]| {
        heard
            .iter()
            .any(|n| matches!(n, ServerNotification::ToolListChangedNotification(_)))
            && heard
                .iter()
                .any(|n| matches!(n, ServerNotification::PromptListChangedNotification(_)))
    };
    let mut heard = Vec::new();
    while !both(&heard) {
        let next = tokio::time::timeout(LIMIT, subscription.next()).await;
        heard.push(
            next.unwrap_or_else(|_| panic!("no notification after {heard:?}"))
                .unwrap()
                .expect("stream ended"),
        );
    }
    assert!(
        tool_names(&modern)
            .await
            .iter()
            .any(|n| n.starts_with("extra_"))
    );
    let result = legacy
        .call("extra_test_simple_text", json!({}))
        .await
        .unwrap();
    assert!(!is_error(&result), "{}", text(&result));
}

/// 32 clients call `probe_config` until told to stop; returns the answers by text, and the
/// failures.
struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<BTreeMap<String, usize>>>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(url: &str, clients: usize) -> Self {
        let mut load = Load {
            stop: Arc::default(),
            answers: Arc::default(),
            failures: Arc::default(),
            tasks: Vec::new(),
        };
        for _ in 0..clients {
            let client = Client::connect(url).await.unwrap();
            let (stop, answers, failures) = (
                load.stop.clone(),
                load.answers.clone(),
                load.failures.clone(),
            );
            load.tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = client.call("probe_config", json!({"key": "version"})).await;
                    match outcome {
                        Ok(result) if !is_error(&result) => {
                            *answers.lock().unwrap().entry(text(&result)).or_default() += 1
                        }
                        Ok(result) => failures.lock().unwrap().push(text(&result)),
                        Err(error) => failures.lock().unwrap().push(error.to_string()),
                    }
                }
                client.close().await;
            }));
        }
        load
    }

    fn answered(&self, version: &str) -> usize {
        self.answers
            .lock()
            .unwrap()
            .get(version)
            .copied()
            .unwrap_or(0)
    }

    async fn finish(self) -> (BTreeMap<String, usize>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let answers = self.answers.lock().unwrap().clone();
        let failures = self.failures.lock().unwrap().clone();
        (answers, failures)
    }
}

#[tokio::test]
async fn a_plugin_replaced_under_load_loses_no_call() {
    let plugins = probe_folder();
    let capstan = Capstan::start(&plugins);
    let listener = Client::connect(&capstan.url()).await.unwrap();
    let load = Load::start(&capstan.url(), 32).await;
    eventually("every client was answered by version 1", || async {
        load.answered("1") >= 64
    })
    .await;
    plugins.swap_in("probe.wasm", &tagged("probe", "replaced under load"));
    plugins.swap_in(
        "probe.toml",
        probe_manifest("2", "read_only = true").as_bytes(),
    );
    eventually("version 2 answered many calls", || async {
        load.answered("2") >= 256
    })
    .await;
    let (answers, failed) = load.finish().await;
    assert!(
        failed.is_empty(),
        "{} failed calls: {failed:?}",
        failed.len()
    );
    assert_eq!(
        answers.keys().collect::<Vec<_>>(),
        ["1", "2"],
        "{answers:?}"
    );
    let told = listener.wait_for(LIMIT, |r| r.tools_changed >= 1).await;
    assert!(
        told,
        "the list change (probe_mutate is gone) was not announced"
    );
    assert!(
        !tool_names(&listener)
            .await
            .contains(&"probe_mutate".to_owned())
    );
    assert!(failures_are_none(&capstan), "{:?}", failures(&capstan));
}

fn failures_are_none(capstan: &Capstan) -> bool {
    failures(capstan).is_empty()
}

/// Waits until `/readyz` reports `probe.toml` failing with the old version serving; returns the
/// error.
async fn wait_for_failure(capstan: &Capstan) -> String {
    eventually("/readyz reports the failure", || async {
        failures(capstan).contains_key("probe.toml")
    })
    .await;
    let (error, serving_previous) = failures(capstan).remove("probe.toml").unwrap();
    assert!(serving_previous, "{error}");
    error
}

#[tokio::test]
async fn broken_versions_leave_the_old_one_serving_and_say_why() {
    let plugins = probe_folder();
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    plugins.swap_in("probe.wasm", b"\0asm but not a component");
    let error = wait_for_failure(&capstan).await;
    assert!(
        error.contains("not a valid WebAssembly component"),
        "{error}"
    );
    assert_eq!(version(&client).await, "1");
    let metrics = capstan.metrics();
    assert!(
        metrics.contains("capstan_plugin_load_failures 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("capstan_reloads_total{result=\"failed\"} 0"),
        "{metrics}"
    );
    let log = capstan.log_text();
    assert!(log.contains("the previous version keeps serving"), "{log}");

    plugins.swap_in(
        "probe.wasm",
        &std::fs::read(paths::plugin("forbidden")).unwrap(),
    );
    eventually("the forbidden component is refused", || async {
        failures(&capstan)
            .get("probe.toml")
            .is_some_and(|(e, _)| e.contains("wasi:filesystem"))
    })
    .await;
    assert_eq!(version(&client).await, "1");

    plugins.swap_in("probe.wasm", &probe_wasm());
    eventually("the failure clears", || async {
        failures_are_none(&capstan)
    })
    .await;
    plugins.swap_in(
        "probe.toml",
        b"component = \"probe.wasm\"\nprefix = \"Not Valid\"\n",
    );
    let error = wait_for_failure(&capstan).await;
    assert!(error.contains("`prefix`"), "{error}");
    assert_eq!(version(&client).await, "1");
    assert!(capstan.metrics().contains("capstan_plugin_instances 1"));
}

/// A plugin folder laid out the way the kubelet writes a ConfigMap, Secret or projected volume:
/// the files live in a timestamped directory, `..data` links to it, and each file name links
/// through `..data`.
struct AtomicWriter<'a> {
    root: &'a Path,
    generation: u32,
}

impl AtomicWriter<'_> {
    /// Publishes `files` as the kubelet does: a new directory, `..data` flipped to it by a rename,
    /// links for new names, the old directory removed.
    fn publish(&mut self, files: &[(&str, Vec<u8>)]) {
        use std::os::unix::fs::symlink;
        self.generation += 1;
        let old = std::fs::read_link(self.root.join("..data")).ok();
        let dir = format!(
            "..2026_07_28_00_00_{:02}.{}",
            self.generation,
            100 + self.generation
        );
        std::fs::create_dir(self.root.join(&dir)).unwrap();
        for (name, bytes) in files {
            std::fs::write(self.root.join(&dir).join(name), bytes).unwrap();
        }
        symlink(&dir, self.root.join("..data_tmp")).unwrap();
        std::fs::rename(self.root.join("..data_tmp"), self.root.join("..data")).unwrap();
        for (name, _) in files {
            let link = self.root.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(PathBuf::from("..data").join(name), link).unwrap();
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(self.root.join(old)).unwrap();
        }
    }
}

#[tokio::test]
async fn kubernetes_volume_updates_are_picked_up_each_time() {
    let plugins = PluginDir::new();
    let mut writer = AtomicWriter {
        root: plugins.path(),
        generation: 0,
    };
    let manifest = |version: &str| probe_manifest(version, "").into_bytes();
    writer.publish(&[("probe.toml", manifest("1")), ("probe.wasm", probe_wasm())]);
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(version(&client).await, "1");
    writer.publish(&[("probe.toml", manifest("2")), ("probe.wasm", probe_wasm())]);
    eventually("version 2 serves", || async {
        version(&client).await == "2"
    })
    .await;
    let wasm = tagged("probe", "third configmap generation");
    writer.publish(&[("probe.toml", manifest("3")), ("probe.wasm", wasm)]);
    eventually("version 3 serves", || async {
        version(&client).await == "3"
    })
    .await;
    assert!(failures_are_none(&capstan), "{:?}", failures(&capstan));
}

#[tokio::test]
async fn a_removed_plugin_is_retired_and_clients_are_told() {
    let plugins = probe_folder();
    plugins.manifest("extra", "probe", "prefix = \"extra\"");
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert!(tool_names(&client).await.contains(&"extra_noop".to_owned()));
    plugins.remove("extra.toml");
    assert!(client.wait_for(LIMIT, |r| r.tools_changed >= 1).await);
    let names = tool_names(&client).await;
    assert!(!names.iter().any(|n| n.starts_with("extra_")), "{names:?}");
    assert!(names.contains(&"probe_noop".to_owned()), "{names:?}");
    let error = client.call("extra_noop", json!({})).await.unwrap_err();
    assert!(error.to_string().contains("unknown tool"), "{error}");
}

#[tokio::test]
async fn a_call_running_when_its_plugin_is_removed_finishes_on_it() {
    let plugins = probe_folder();
    let capstan = Capstan::start(&plugins);
    let client = Arc::new(Client::connect(&capstan.url()).await.unwrap());
    let caller = client.clone();
    let arguments = json!({"steps": 5, "delay_ms": 1000});
    let call = tokio::spawn(async move {
        let call = caller.call_with_progress("probe_progress", arguments, "removed");
        call.await.unwrap()
    });
    let started = client.wait_for(LIMIT, |r| !r.progress.is_empty());
    assert!(started.await, "the call never reported progress");
    plugins.remove("probe.toml");
    assert!(client.wait_for(LIMIT, |r| r.tools_changed >= 1).await);
    // The last progress report comes just before the result: fewer than 5 means the call was
    // still running in the removed instance when the reload finished.
    assert!(
        client.recorded().progress.len() < 5,
        "the call ended before the reload"
    );
    assert_eq!(text(&call.await.unwrap()), "done after 5 steps");
    assert!(tool_names(&client).await.is_empty());
}

#[tokio::test]
async fn sighup_rescans_when_not_watching() {
    let plugins = probe_folder();
    let options = Options {
        args: vec!["--no-watch".into()],
        ..Default::default()
    };
    let capstan = Capstan::start_with(&plugins, options);
    let client = Client::connect(&capstan.url()).await.unwrap();
    plugins.swap_in("probe.toml", probe_manifest("2", "").as_bytes());
    capstan.hang_up();
    eventually("SIGHUP loaded version 2", || async {
        version(&client).await == "2"
    })
    .await;
    assert!(capstan.log_text().contains("SIGHUP: rescanning"));
}

#[tokio::test]
async fn polling_picks_up_changes_without_file_system_events() {
    let plugins = probe_folder();
    let options = Options {
        args: vec!["--poll-interval".into(), "200ms".into()],
        ..Default::default()
    };
    let capstan = Capstan::start_with(&plugins, options);
    let client = Client::connect(&capstan.url()).await.unwrap();
    plugins.manifest("extra", "probe", "prefix = \"extra\"");
    assert!(client.wait_for(LIMIT, |r| r.tools_changed >= 1).await);
    assert!(tool_names(&client).await.contains(&"extra_noop".to_owned()));
    assert!(
        capstan.log_text().contains("Poll"),
        "{}",
        capstan.log_text()
    );
}

#[tokio::test]
async fn a_restart_after_reloads_compiles_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let options = || Options {
        cache_dir: Some(cache.path().join("compiled")),
        ..Default::default()
    };
    let plugins = probe_folder();
    let capstan = Capstan::start_with(&plugins, options());
    let client = Client::connect(&capstan.url()).await.unwrap();
    plugins.swap_in("probe.wasm", &tagged("probe", "compiled by a reload"));
    plugins.swap_in("probe.toml", probe_manifest("2", "").as_bytes());
    eventually("version 2 serves", || async {
        version(&client).await == "2"
    })
    .await;
    let compiled = capstan.log_text().matches("cached=false").count();
    assert_eq!(compiled, 2, "{}", capstan.log_text());
    drop(capstan);
    let restarted = Capstan::start_with(&plugins, options());
    let log = restarted.log_text();
    assert!(
        log.contains("cached=true") && !log.contains("cached=false"),
        "{log}"
    );
    let client = Client::connect(&restarted.url()).await.unwrap();
    assert_eq!(version(&client).await, "2");
}
