//! The External Secrets Operator plugin end to end: the JavaScript component (`plugins/eso`,
//! componentize-js) served by a real capstan (one writable instance, `eso`, and one read-only,
//! `esoro`), an rmcp client, and the fake Kubernetes API holding the scenario below, which
//! checks every request against the ESO CRDs and records it.
//!
//! Scenario: in `payments`, ExternalSecret `db-credentials` syncs from ClusterSecretStore
//! `aws-prod` (Ready) and writes the Secret `db-credentials`, whose value the plugin must never
//! show; ExternalSecret `api-keys` fails because its SecretStore `vault-payments` cannot log in
//! (Warning events say so). In `web`, ExternalSecret `tls` has no status yet.

use std::process::{Command, Output};
use std::sync::OnceLock;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::kube::{self, Cluster, KubeServer};
use capstan_tests::paths;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

const TOKEN: &str = "eso-token-0123456789";
const ESO: &str = "external-secrets.io/v1";
const EARLIER: &str = "2026-06-02T09:00:00Z";
const NOW: &str = "2026-06-02T09:30:00Z";
/// The value of the Secret `payments/db-credentials`: it must appear in no result.
const SECRET_VALUE: &str = "S3cr3t-Hunter2-never-leak";
const STORE_FAILURE: &str = "unable to log in to Vault: permission denied (403)";
const SYNC_FAILURE: &str = "could not get secret data from provider";
const EVENT_FAILURE: &str =
    "error retrieving secret at .data[0], key: payments/api, err: permission denied";

fn condition(status: &str, reason: &str, message: &str) -> Value {
    json!({"type": "Ready", "status": status, "reason": reason, "message": message,
           "lastTransitionTime": EARLIER})
}

fn external_secret(namespace: &str, name: &str, store: Value, status: Option<Value>) -> Value {
    let mut object = json!({
        "apiVersion": ESO, "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": store,
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [{"secretKey": "password", "remoteRef": {"key": format!("{namespace}/{name}"), "property": "password"}}],
        },
    });
    if let Some(status) = status {
        object["status"] = status;
    }
    object
}

fn event(name: &str, kind: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "payments"},
        "involvedObject": {"apiVersion": ESO, "kind": "ExternalSecret", "name": "api-keys", "namespace": "payments"},
        "reason": reason, "message": message, "type": kind, "count": 3,
        "firstTimestamp": EARLIER, "lastTimestamp": at,
        "source": {"component": "external-secrets"},
    })
}

/// The scenario in the module docs.
fn cluster() -> Cluster {
    let encoded = base64_encode(SECRET_VALUE.as_bytes());
    let objects = [
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "db-credentials", "namespace": "payments",
                            "labels": {"reconcile.external-secrets.io/managed": "true"}},
               "data": {"password": encoded}}),
        json!({"apiVersion": ESO, "kind": "ClusterSecretStore",
               "metadata": {"name": "aws-prod"},
               "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}},
               "status": {"capabilities": "ReadOnly",
                          "conditions": [condition("True", "Valid", "store validated")]}}),
        json!({"apiVersion": ESO, "kind": "SecretStore",
               "metadata": {"name": "vault-payments", "namespace": "payments"},
               "spec": {"provider": {"vault": {"server": "https://vault.example.test:8200", "path": "secret", "version": "v2"}}},
               "status": {"conditions": [condition("False", "InvalidProviderConfig", STORE_FAILURE)]}}),
        external_secret(
            "payments",
            "db-credentials",
            json!({"kind": "ClusterSecretStore", "name": "aws-prod"}),
            Some(json!({"refreshTime": NOW, "syncedResourceVersion": "1-abc",
                        "binding": {"name": "db-credentials"},
                        "conditions": [condition("True", "SecretSynced", "secret synced")]})),
        ),
        external_secret(
            "payments",
            "api-keys",
            json!({"kind": "SecretStore", "name": "vault-payments"}),
            Some(json!({"conditions": [condition("False", "SecretSyncedError", SYNC_FAILURE)]})),
        ),
        external_secret(
            "web",
            "tls",
            json!({"kind": "ClusterSecretStore", "name": "aws-prod"}),
            None,
        ),
        event("api-keys.1", "Warning", "UpdateFailed", EVENT_FAILURE, NOW),
        event(
            "api-keys.0",
            "Normal",
            "Created",
            "created Secret api-keys",
            EARLIER,
        ),
    ];
    objects
        .into_iter()
        .try_fold(Cluster::new(), Cluster::with)
        .expect("the ESO fixtures satisfy their CRDs")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `capstan check` on a folder with the ESO component, run once per process; it also compiles
/// the component into the shared cache before any test starts a server, so a cold cache
/// compiles it once rather than once per test.
fn checked() -> &'static Output {
    static CHECKED: OnceLock<Output> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let plugins = PluginDir::new();
        plugins.manifest(
            "eso",
            "eso",
            "[[targets]]\nname = \"prod\"\nurl = \"http://127.0.0.1:9\"\nkind = \"kubernetes\"",
        );
        Command::new(paths::capstan_bin())
            .arg("check")
            .arg(plugins.path())
            .env("CAPSTAN_CACHE_DIR", paths::shared_cache_dir())
            .output()
            .expect("running capstan check")
    })
}

/// A running scenario: the fake API, capstan and a connected client.
struct Eso {
    kube: KubeServer,
    _plugins: PluginDir,
    _capstan: Capstan,
    client: Client,
}

impl Eso {
    async fn start() -> Self {
        checked();
        let kube = kube::start(cluster().with_token(TOKEN)).await.unwrap();
        let plugins = PluginDir::new();
        let target = format!(
            "[[targets]]\nname = \"prod\"\nurl = \"{}\"\nkind = \"kubernetes\"\nauth = {{ bearer_env = \"ESO_TOKEN\" }}",
            kube.base_url()
        );
        plugins.manifest("eso", "eso", &target);
        plugins.manifest("esoro", "eso", &format!("read_only = true\n{target}"));
        let capstan = Capstan::start_with(
            &plugins,
            Options {
                env: vec![("ESO_TOKEN".into(), TOKEN.into())],
                ..Default::default()
            },
        );
        let client = Client::connect(&capstan.url()).await.unwrap();
        Self {
            kube,
            _plugins: plugins,
            _capstan: capstan,
            client,
        }
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.client.call(tool, arguments).await.unwrap()
    }

    /// Calls `eso_<tool>` and returns its structured content, failing on an error result.
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(&format!("eso_{tool}"), arguments).await;
        assert!(!is_error(&result), "{}", text(&result));
        result
            .structured_content
            .clone()
            .expect("structured content")
    }
}

#[test]
fn capstan_check_accepts_the_component() {
    let output = checked();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    for tool in [
        "eso_list_external_secrets",
        "eso_list_secret_stores",
        "eso_get_external_secret",
        "eso_refresh_external_secret",
    ] {
        assert!(stdout.contains(tool), "{stdout}");
    }
    assert!(
        !stdout.contains("warning") && !stderr.contains("warning"),
        "capstan check has advice for the ESO plugin: {stdout}{stderr}"
    );
}

#[tokio::test]
async fn the_tools_declare_hints_output_schemas_and_camel_case_arguments() {
    let eso = Eso::start().await;
    let tools = eso.client.tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "eso_get_external_secret",
            "eso_list_external_secrets",
            "eso_list_secret_stores",
            "eso_refresh_external_secret",
            "esoro_get_external_secret",
            "esoro_list_external_secrets",
            "esoro_list_secret_stores",
        ],
        "the read-only instance hides the refresh"
    );
    for tool in &tools {
        let hints = tool.annotations.as_ref().expect("annotations");
        assert!(
            tool.output_schema.is_some(),
            "{} has no output schema",
            tool.name
        );
        let writes = tool.name.ends_with("refresh_external_secret");
        assert_eq!(hints.read_only_hint, Some(!writes), "{}", tool.name);
        assert_eq!(hints.open_world_hint, Some(false), "{}", tool.name);
        if writes {
            assert_eq!(hints.destructive_hint, Some(false));
        }
        let properties = tool.input_schema["properties"].as_object().unwrap();
        for name in properties.keys() {
            assert!(
                !name.contains('_') && name.chars().next().is_some_and(char::is_lowercase),
                "{}: argument `{name}` is not camelCase",
                tool.name
            );
        }
    }
}

#[tokio::test]
async fn lists_show_sync_status_and_why_it_fails() {
    let eso = Eso::start().await;
    let all = eso.ok("list_external_secrets", json!({})).await;
    assert_eq!(
        (&all["count"], &all["failing"]),
        (&json!(3), &json!(2)),
        "{all}"
    );
    let rows = all["externalSecrets"].as_array().unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}/{}",
                row["namespace"].as_str().unwrap(),
                row["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        ["payments/api-keys", "payments/db-credentials", "web/tls"]
    );
    assert_eq!(
        rows[0]["status"],
        json!({"ready": "False", "reason": "SecretSyncedError", "message": SYNC_FAILURE, "since": EARLIER})
    );
    assert_eq!(rows[0]["store"], "SecretStore/vault-payments");
    assert_eq!(rows[1]["status"]["ready"], "True");
    assert_eq!(rows[1]["lastRefresh"], NOW);
    assert_eq!(rows[1]["targetSecret"], "db-credentials");
    assert_eq!(rows[2]["status"]["ready"], "Unknown", "{all}");

    let failing = eso
        .ok(
            "list_external_secrets",
            json!({"namespace": "payments", "failingOnly": true}),
        )
        .await;
    assert_eq!(failing["count"], 1, "{failing}");
    assert_eq!(failing["externalSecrets"][0]["name"], "api-keys");

    let stores = eso.ok("list_secret_stores", json!({})).await;
    assert_eq!(
        (&stores["count"], &stores["failing"]),
        (&json!(2), &json!(1)),
        "{stores}"
    );
    assert_eq!(
        stores["stores"][0],
        json!({"kind": "SecretStore", "name": "vault-payments", "namespace": "payments",
               "provider": "vault",
               "status": {"ready": "False", "reason": "InvalidProviderConfig",
                          "message": STORE_FAILURE, "since": EARLIER}})
    );
    assert_eq!(
        (
            &stores["stores"][1]["kind"],
            &stores["stores"][1]["provider"],
            &stores["stores"][1]["capabilities"]
        ),
        (
            &json!("ClusterSecretStore"),
            &json!("aws"),
            &json!("ReadOnly")
        )
    );
    let cluster_only = eso
        .ok("list_secret_stores", json!({"kind": "ClusterSecretStore"}))
        .await;
    assert_eq!(cluster_only["count"], 1, "{cluster_only}");

    let paths: Vec<String> = eso
        .kube
        .requests()
        .into_iter()
        .map(|request| request.path)
        .collect();
    assert!(
        paths
            .iter()
            .all(|path| path.starts_with("/apis/external-secrets.io/v1/")),
        "{paths:?}"
    );
    eso.kube.assert_no_violations();
}

#[tokio::test]
async fn get_shows_the_store_the_remote_keys_and_the_events() {
    let eso = Eso::start().await;
    let got = eso
        .ok(
            "get_external_secret",
            json!({"name": "api-keys", "namespace": "payments"}),
        )
        .await;
    assert_eq!(
        got["externalSecret"]["status"]["reason"], "SecretSyncedError",
        "{got}"
    );
    assert_eq!(
        (
            &got["store"]["found"],
            &got["store"]["status"]["reason"],
            &got["store"]["status"]["message"]
        ),
        (
            &json!(true),
            &json!("InvalidProviderConfig"),
            &json!(STORE_FAILURE)
        )
    );
    assert_eq!(
        got["wants"]["data"],
        json!([{"secretKey": "password", "remoteKey": "payments/api-keys", "property": "password"}])
    );
    let events: Vec<(&str, &str)> = got["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["reason"].as_str().unwrap(),
                event["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("Created", "created Secret api-keys"),
            ("UpdateFailed", EVENT_FAILURE)
        ],
        "oldest first: {got}"
    );
    let event_list = eso
        .kube
        .requests()
        .into_iter()
        .find(|request| request.path == "/api/v1/namespaces/payments/events")
        .expect("the events were listed");
    assert_eq!(
        event_list.query_values("fieldSelector"),
        ["involvedObject.kind=ExternalSecret,involvedObject.name=api-keys"]
    );

    let missing = eso
        .call(
            "eso_get_external_secret",
            json!({"name": "nope", "namespace": "payments"}),
        )
        .await;
    assert!(is_error(&missing));
    assert!(
        text(&missing).contains("ExternalSecret payments/nope does not exist"),
        "{}",
        text(&missing)
    );
    eso.kube.assert_no_violations();
}

#[tokio::test]
async fn refresh_sets_the_force_sync_annotation_with_a_merge_patch() {
    let eso = Eso::start().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let refreshed = eso
        .ok(
            "refresh_external_secret",
            json!({"name": "db-credentials", "namespace": "payments"}),
        )
        .await;
    let stamp: u64 = refreshed["forceSync"].as_str().unwrap().parse().unwrap();
    assert!(stamp >= before && stamp <= before + 60, "{refreshed}");
    assert_eq!(refreshed["previousRefresh"], NOW);
    let stored = eso
        .kube
        .object(ESO, "ExternalSecret", "payments", "db-credentials")
        .unwrap();
    assert_eq!(
        stored["metadata"]["annotations"]["force-sync"],
        json!(stamp.to_string())
    );
    let patches: Vec<_> = eso
        .kube
        .requests()
        .into_iter()
        .filter(|request| request.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0].path,
        "/apis/external-secrets.io/v1/namespaces/payments/externalsecrets/db-credentials"
    );
    assert_eq!(
        patches[0].content_type(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&patches[0].body).unwrap(),
        json!({"metadata": {"annotations": {"force-sync": stamp.to_string()}}})
    );
    assert_eq!(
        patches[0].authorization(),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the host adds the target's credential"
    );

    let refused = eso
        .client
        .call(
            "esoro_refresh_external_secret",
            json!({"name": "db-credentials", "namespace": "payments"}),
        )
        .await;
    assert!(
        refused.is_err() || is_error(refused.as_ref().unwrap()),
        "a read-only instance does not refresh"
    );
    assert_eq!(
        eso.kube
            .requests()
            .iter()
            .filter(|request| request.method == "PATCH")
            .count(),
        1
    );
    eso.kube.assert_no_violations();
}

#[tokio::test]
async fn no_secret_value_reaches_any_result() {
    let eso = Eso::start().await;
    let mut seen = Vec::new();
    for (tool, arguments) in [
        ("eso_list_external_secrets", json!({})),
        ("eso_list_secret_stores", json!({})),
        (
            "eso_get_external_secret",
            json!({"name": "db-credentials", "namespace": "payments"}),
        ),
        (
            "eso_get_external_secret",
            json!({"name": "api-keys", "namespace": "payments"}),
        ),
        (
            "eso_get_external_secret",
            json!({"name": "tls", "namespace": "web"}),
        ),
        (
            "eso_refresh_external_secret",
            json!({"name": "db-credentials", "namespace": "payments"}),
        ),
    ] {
        let result = eso.call(tool, arguments).await;
        assert!(!is_error(&result), "{tool}: {}", text(&result));
        seen.push(serde_json::to_string(&result).unwrap());
    }
    let encoded = base64_encode(SECRET_VALUE.as_bytes());
    for answer in &seen {
        assert!(
            !answer.contains(SECRET_VALUE) && !answer.contains(&encoded),
            "a result holds the Secret's value: {answer}"
        );
    }
    assert!(
        seen[2].contains("db-credentials"),
        "the Secret's name is shown, not its value"
    );
    let secret_reads: Vec<String> = eso
        .kube
        .requests()
        .into_iter()
        .map(|request| request.path)
        .filter(|path| path.split('/').any(|segment| segment == "secrets"))
        .collect();
    assert!(
        secret_reads.is_empty(),
        "the plugin read Secrets: {secret_reads:?}"
    );
}
