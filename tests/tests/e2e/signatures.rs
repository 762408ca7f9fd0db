//! Cosign signatures of plugins from an OCI registry (a real CNCF distribution server on
//! loopback): key pairs from `capstan plugin keygen`, signatures pushed by `capstan plugin sign`
//! as cosign does, and a server that runs a component only when a key that applies signed it.
//! Unsigned components, components signed by another key, signatures copied from another
//! digest and tampered signature payloads are refused, each naming what failed, a reload to
//! a refused component leaves the previous version serving, and a verified signature is kept
//! with the cached component so a restart needs no registry.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::paths;
use capstan_tests::registry::Registry;
use capstan_tests::wasm::tagged;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
/// The private keys' password (a test fixture).
const PASSWORD: &str = "capstan-signature-test";

/// A registry, a folder for keys, and the environment every capstan run gets: no docker config
/// of the machine's, no registry credentials, the key password.
struct Setup {
    registry: Registry,
    keys: tempfile::TempDir,
    docker_config: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            registry: Registry::start(),
            keys: tempfile::tempdir().unwrap(),
            docker_config: tempfile::tempdir().unwrap(),
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "DOCKER_CONFIG".into(),
                self.docker_config.path().display().to_string(),
            ),
            ("CAPSTAN_REGISTRY_USERNAME".into(), String::new()),
            ("CAPSTAN_REGISTRY_PASSWORD".into(), String::new()),
            ("COSIGN_PASSWORD".into(), PASSWORD.into()),
        ]
    }

    fn capstan(&self, args: &[&str]) -> Output {
        Command::new(paths::capstan_bin())
            .args(args)
            .envs(self.vars())
            .output()
            .expect("running capstan")
    }

    fn succeed(&self, args: &[&str]) -> String {
        let output = self.capstan(args);
        assert!(
            output.status.success(),
            "capstan {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// `capstan plugin keygen`: `NAME.key` and `NAME.pub` in the key folder.
    fn keygen(&self, name: &str) -> PathBuf {
        let prefix = self.keys.path().join(name);
        self.succeed(&[
            "plugin",
            "keygen",
            "--output-prefix",
            &prefix.display().to_string(),
        ]);
        prefix
    }

    /// `capstan plugin push` of a distinct probe build; the pinned reference.
    fn push(&self, tag: &str) -> String {
        let file = self.keys.path().join(format!("{tag}.wasm"));
        std::fs::write(&file, tagged("probe", tag)).unwrap();
        let host = self.registry.host();
        self.succeed(&[
            "plugin",
            "push",
            &file.display().to_string(),
            &format!("oci://{host}/plugins/probe:{tag}"),
            "--insecure-registry",
            &host,
        ])
    }

    fn try_sign(&self, key: &Path, reference: &str) -> Output {
        self.capstan(&[
            "plugin",
            "sign",
            "--key",
            &format!("{}.key", key.display()),
            reference,
            "--insecure-registry",
            &self.registry.host(),
        ])
    }

    /// `capstan plugin sign`; the signature image it names.
    fn sign(&self, key: &Path, reference: &str) -> String {
        let output = self.try_sign(key, reference);
        assert!(
            output.status.success(),
            "sign failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn serve(&self, plugins: &PluginDir, cache: &Path, extra: &[String]) -> Capstan {
        let mut args = vec![
            "--plugin-cache".into(),
            cache.display().to_string(),
            "--insecure-registry".into(),
            self.registry.host(),
        ];
        args.extend_from_slice(extra);
        Capstan::start_with(
            plugins,
            Options {
                args,
                env: self.vars(),
                ..Default::default()
            },
        )
    }

    /// The registry's storage folder of the repository `plugins/probe`.
    fn repository_dir(&self) -> PathBuf {
        let blob = self
            .registry
            .blob_path(&format!("sha256:{}", "0".repeat(64)));
        let storage = blob.ancestors().nth(5).unwrap().to_path_buf();
        storage.join("repositories/plugins/probe")
    }
}

fn digest(reference: &str) -> &str {
    reference.rsplit('@').next().unwrap()
}

/// `REPO:sha256-HEX.sig` for a pinned `oci://REPO:TAG@sha256:HEX`.
fn signature_tag(reference: &str) -> String {
    let tagged = reference.strip_prefix("oci://").unwrap().split('@').next();
    let (repository, _tag) = tagged.unwrap().rsplit_once(':').unwrap();
    format!("{repository}:{}.sig", digest(reference).replace(':', "-"))
}

/// A manifest of `reference` (tools prefixed `prefix`) with optional extra lines.
fn manifest(reference: &str, prefix: &str, version: &str, extra: &str) -> String {
    format!(
        "component = \"{reference}\"\nprefix = \"{prefix}\"\n[config]\nversion = \"{version}\"\n{extra}"
    )
}

fn signed_by(key: &str) -> String {
    format!("[signature]\nkey = \"{key}.pub\"\n")
}

fn copy_public_key(key: &Path, plugins: &PluginDir) {
    let name = key.file_name().unwrap().to_str().unwrap();
    std::fs::copy(
        format!("{}.pub", key.display()),
        plugins.path().join(format!("{name}.pub")),
    )
    .unwrap();
}

fn failure_of(capstan: &Capstan, instance: &str) -> String {
    let failures = capstan.load_failures();
    failures
        .iter()
        .find(|(path, _)| path.contains(&format!("{instance}.toml")))
        .map(|(_, message)| message.clone())
        .unwrap_or_else(|| panic!("no failure of {instance}: {failures:?}"))
}

async fn version(client: &Client, prefix: &str) -> String {
    let result = client
        .call(&format!("{prefix}_config"), json!({"key": "version"}))
        .await;
    text(&result.expect("calling the config tool"))
}

async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < LIMIT, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn only_a_component_signed_by_the_manifests_key_runs() {
    let mut setup = Setup::new();
    let (trusted, stranger) = (setup.keygen("trusted"), setup.keygen("stranger"));
    let signed = setup.push("signed");
    let signatures = setup.sign(&trusted, &signed);
    assert_eq!(signatures, signature_tag(&signed));
    let unsigned = setup.push("unsigned");
    let foreign = setup.push("foreign");
    setup.sign(&stranger, &foreign);
    let copied = setup.push("copied");
    // The signature image of `signed`, put where `copied`'s would be.
    let tags = setup.repository_dir().join("_manifests/tags");
    let from = tags.join(format!("{}.sig", digest(&signed).replace(':', "-")));
    let to = tags.join(format!("{}.sig", digest(&copied).replace(':', "-")));
    copy_dir(&from, &to);

    let plugins = PluginDir::new();
    copy_public_key(&trusted, &plugins);
    let key = signed_by("trusted");
    plugins.raw_manifest("good", &manifest(&signed, "good", "1", &key));
    plugins.raw_manifest("bare", &manifest(&unsigned, "bare", "1", &key));
    plugins.raw_manifest("alien", &manifest(&foreign, "alien", "1", &key));
    plugins.raw_manifest("copy", &manifest(&copied, "copy", "1", &key));
    plugins.raw_manifest("open", &manifest(&unsigned, "open", "1", ""));
    let cache = tempfile::tempdir().unwrap();
    let capstan = setup.serve(&plugins, cache.path(), &[]);

    let error = failure_of(&capstan, "bare");
    let expected = format!("no signature found at {}", signature_tag(&unsigned));
    assert!(error.contains(&expected), "{error}");
    let error = failure_of(&capstan, "alien");
    assert!(
        error.contains("signed, but by no trusted key") && error.contains("trusted.pub"),
        "{error}"
    );
    let error = failure_of(&capstan, "copy");
    assert!(
        error.contains("for another digest") && error.contains(digest(&signed)),
        "{error}"
    );
    assert_eq!(
        capstan.load_failures().len(),
        3,
        "{:?}",
        capstan.load_failures()
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(version(&client, "good").await, "1");
    assert_eq!(
        version(&client, "open").await,
        "1",
        "no key applies to `open`"
    );
    client.close().await;
    drop(capstan);

    // The verified signature is kept with the cached component: a restart needs no registry.
    setup.registry.stop();
    for refused in ["bare", "alien", "copy"] {
        plugins.remove(&format!("{refused}.toml"));
    }
    let restarted = setup.serve(&plugins, cache.path(), &[]);
    assert!(
        restarted.load_failures().is_empty(),
        "{:?}",
        restarted.load_failures()
    );
    let client = Client::connect(&restarted.url()).await.unwrap();
    assert_eq!(version(&client, "good").await, "1");
}

#[tokio::test]
async fn the_server_can_trust_keys_and_require_signatures_for_every_oci_component() {
    let setup = Setup::new();
    let release = setup.keygen("release");
    let signed = setup.push("release");
    setup.sign(&release, &signed);
    let unsigned = setup.push("unsigned");
    let plugins = PluginDir::new();
    plugins.raw_manifest("good", &manifest(&signed, "good", "1", ""));
    plugins.raw_manifest("bare", &manifest(&unsigned, "bare", "1", ""));
    let cache = tempfile::tempdir().unwrap();

    let only_required = setup.serve(&plugins, cache.path(), &["--require-signatures".into()]);
    for instance in ["good", "bare"] {
        let error = failure_of(&only_required, instance);
        assert!(
            error.contains("no key applies") && error.contains("--trusted-key"),
            "{error}"
        );
    }
    drop(only_required);

    let trusted = [
        "--require-signatures".into(),
        "--trusted-key".into(),
        format!("{}.pub", release.display()),
    ];
    let capstan = setup.serve(&plugins, cache.path(), &trusted);
    let error = failure_of(&capstan, "bare");
    assert!(error.contains("no signature found at"), "{error}");
    assert_eq!(capstan.load_failures().len(), 1);
    let client = Client::connect(&capstan.url()).await.unwrap();
    assert_eq!(version(&client, "good").await, "1");
}

#[tokio::test]
async fn a_tampered_signature_payload_is_refused() {
    let setup = Setup::new();
    let key = setup.keygen("cosign");
    let signed = setup.push("tampered");
    setup.sign(&key, &signed);
    let payload = std::fs::read_dir(setup.repository_dir().join("_layers/sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .map(|hex| setup.registry.blob_path(&format!("sha256:{hex}")))
        .find(|blob| std::fs::read(blob).unwrap().starts_with(b"{\"critical\""))
        .expect("the signature payload blob");
    let mut bytes = std::fs::read(&payload).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&payload, bytes).unwrap();

    let plugins = PluginDir::new();
    copy_public_key(&key, &plugins);
    plugins.raw_manifest(
        "probe",
        &manifest(&signed, "probe", "1", &signed_by("cosign")),
    );
    let cache = tempfile::tempdir().unwrap();
    let capstan = setup.serve(&plugins, cache.path(), &[]);
    let error = failure_of(&capstan, "probe");
    assert!(
        error.contains("should be") && error.contains("changed"),
        "{error}"
    );
}

#[tokio::test]
async fn reloading_between_signed_digests_fails_no_call_and_an_unsigned_one_is_refused() {
    let setup = Setup::new();
    let key = setup.keygen("cosign");
    let (one, two) = (setup.push("one"), setup.push("two"));
    setup.sign(&key, &one);
    setup.sign(&key, &two);
    let unsigned = setup.push("three");
    let plugins = PluginDir::new();
    copy_public_key(&key, &plugins);
    let signature = signed_by("cosign");
    let write = |reference: &str, version: &str| {
        let text = manifest(reference, "probe", version, &signature);
        plugins.swap_in("probe.toml", text.as_bytes());
    };
    write(&one, "1");
    let cache = tempfile::tempdir().unwrap();
    let capstan = setup.serve(&plugins, cache.path(), &[]);
    let client = Arc::new(Client::connect(&capstan.url()).await.unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            let (calls, failed) = (calls.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let result = client.call("probe_noop", json!({})).await;
                    calls.fetch_add(1, Ordering::Relaxed);
                    if result.as_ref().map_or(true, is_error) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    write(&two, "2");
    eventually("version 2 to serve", || async {
        version(&client, "probe").await == "2"
    })
    .await;
    write(&unsigned, "3");
    eventually("the unsigned version to be refused", || async {
        !capstan.load_failures().is_empty()
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
        "calls failed during reloads"
    );
    let error = failure_of(&capstan, "probe");
    assert!(error.contains("no signature found at"), "{error}");
    assert_eq!(
        version(&client, "probe").await,
        "2",
        "the previous version keeps serving"
    );
}

#[tokio::test]
async fn signing_needs_the_password_and_a_digest_and_keeps_other_signatures() {
    let setup = Setup::new();
    let (first, second) = (setup.keygen("first"), setup.keygen("second"));
    let reference = setup.push("both");
    let tag_only = reference.split('@').next().unwrap();
    let refused = setup.try_sign(&first, tag_only);
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains("names no digest"), "{error}");
    let wrong = Command::new(paths::capstan_bin())
        .args(["plugin", "sign", "--key"])
        .arg(format!("{}.key", first.display()))
        .arg(&reference)
        .args(["--insecure-registry", &setup.registry.host()])
        .envs(setup.vars())
        .env("COSIGN_PASSWORD", "not the password")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let error = String::from_utf8_lossy(&wrong.stderr);
    assert!(error.contains("COSIGN_PASSWORD"), "{error}");
    assert!(
        !error.contains("not the password") && !error.contains(PASSWORD),
        "{error}"
    );
    setup.sign(&first, &reference);
    setup.sign(&second, &reference);
    setup.sign(&second, &reference);

    let plugins = PluginDir::new();
    copy_public_key(&first, &plugins);
    copy_public_key(&second, &plugins);
    plugins.raw_manifest(
        "one",
        &manifest(&reference, "one", "1", &signed_by("first")),
    );
    plugins.raw_manifest(
        "two",
        &manifest(&reference, "two", "1", &signed_by("second")),
    );
    let cache = tempfile::tempdir().unwrap();
    let capstan = setup.serve(&plugins, cache.path(), &[]);
    assert!(
        capstan.load_failures().is_empty(),
        "{:?}",
        capstan.load_failures()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
}
