//! The Flux plugin end to end: a real capstan serving the compiled Flux component (one
//! writable instance, `flux`, and one read-only, `fluxro`), an rmcp client, and the fake
//! Kubernetes API holding the scenario in `fixtures.rs`, which checks every request against the
//! Flux CRDs and records it.
//!
//! Each tool's cases (answers, error paths, exact requests, waits) are native tests of the
//! plugin (`plugins/flux/src/tests/`), run against answers recorded from this scenario
//! (`record.rs`). Here: one smoke test over the tools through the whole stack within the API
//! contract (`smoke.rs`), and what only the host does (`host.rs`).

mod fixtures;
mod host;
mod record;
mod smoke;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::RecordedRequest;
use capstan_tests::fakes::kube::{self, Cluster, KubeServer};
use rmcp::model::CallToolResult;
use serde_json::Value;

const TOKEN: &str = "flux-token-0123456789";

/// A running scenario: the fake API, capstan and a connected client.
struct Flux {
    kube: KubeServer,
    _plugins: PluginDir,
    _capstan: Capstan,
    client: Client,
}

impl Flux {
    async fn start() -> Self {
        Self::with(fixtures::cluster()).await
    }

    async fn with(cluster: Cluster) -> Self {
        let kube = kube::start(cluster.with_token(TOKEN)).await.unwrap();
        let plugins = PluginDir::new();
        let target = format!(
            "[[targets]]\nname = \"prod\"\nurl = \"{}\"\nauth = {{ bearer_env = \"FLUX_TOKEN\" }}\n# The Helm release view reads the release storage Secrets.\nallow_secrets = true",
            kube.base_url()
        );
        plugins.manifest("flux", "flux", &target);
        plugins.manifest("fluxro", "flux", &format!("read_only = true\n{target}"));
        let capstan = Capstan::start_with(
            &plugins,
            Options {
                env: vec![("FLUX_TOKEN".into(), TOKEN.into())],
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

    /// Calls `flux_<tool>` and returns its structured content, failing on an error result.
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        structured(&result).clone()
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.client
            .call(&format!("flux_{tool}"), arguments)
            .await
            .unwrap()
    }

    /// The recorded requests with this method.
    fn requests(&self, method: &str) -> Vec<RecordedRequest> {
        self.kube
            .requests()
            .into_iter()
            .filter(|request| request.method == method)
            .collect()
    }

    fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Value {
        self.kube
            .object(api_version, kind, namespace, name)
            .unwrap_or_else(|| panic!("{kind} {namespace}/{name} is gone"))
    }
}

fn structured(result: &CallToolResult) -> &Value {
    assert!(!is_error(result), "{}", text(result));
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}
