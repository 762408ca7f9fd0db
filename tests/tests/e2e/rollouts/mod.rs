//! The Argo Rollouts plugin end to end: a real capstan serving the compiled component, an MCP
//! client, and the fake Kubernetes API holding the demo Rollouts (validated against the
//! Argo Rollouts CRDs). Each test asserts the exact requests the plugin sent and the state they
//! left, and ends with no contract violation: `read` (read tools and hints), `steps` (promote,
//! pause, resume, abort, retry, restart, waiting), `template` (set_image, undo), `children`
//! (AnalysisRun and Experiment actions) and `errors` (denials, missing objects and CRDs,
//! refused writes, hostile names).

mod children;
mod errors;
mod read;
mod steps;
mod template;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::kube::{self, Cluster, KubeServer};
use capstan_tests::fakes::{RecordedRequest, demo};
use serde_json::Value;

const TOKEN: &str = "rollouts-token-0123456789";
const V1ALPHA1: &str = "argoproj.io/v1alpha1";
const ROLLOUTS: &str = "/apis/argoproj.io/v1alpha1/namespaces";

pub(super) struct Setup {
    pub(super) kube: KubeServer,
    pub(super) client: Client,
    _capstan: Capstan,
    _plugins: PluginDir,
}

async fn setup_with(cluster: Cluster, read_only: bool) -> Setup {
    let kube = kube::start(cluster.with_token(TOKEN)).await.unwrap();
    let plugins = PluginDir::new();
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!(
            "prefix = \"rollouts\"\nread_only = {read_only}\n[[targets]]\nname = \"prod\"\nurl = \"{}\"\nauth = {{ bearer_env = \"KUBE_TOKEN\" }}",
            kube.base_url()
        ),
    );
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("KUBE_TOKEN".into(), TOKEN.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    Setup {
        kube,
        client,
        _capstan: capstan,
        _plugins: plugins,
    }
}

async fn setup() -> Setup {
    setup_with(demo::cluster(), false).await
}

impl Setup {
    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self
            .client
            .call(&format!("rollouts_{tool}"), arguments)
            .await
            .unwrap();
        assert!(!is_error(&result), "{tool}: {}", text(&result));
        result
            .structured_content
            .clone()
            .expect("structured content")
    }

    async fn error(&self, tool: &str, arguments: Value) -> String {
        let result = self
            .client
            .call(&format!("rollouts_{tool}"), arguments)
            .await
            .unwrap();
        assert!(is_error(&result), "{tool} should fail: {}", text(&result));
        text(&result)
    }

    fn rollout(&self, namespace: &str, name: &str) -> Value {
        self.kube
            .object(V1ALPHA1, "Rollout", namespace, name)
            .unwrap()
    }

    /// Every request but GETs: (method, path, content type, body).
    fn writes(&self) -> Vec<(String, String, Option<String>, Value)> {
        self.kube
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .map(write)
            .collect()
    }

    fn gets(&self) -> Vec<String> {
        self.kube
            .requests()
            .iter()
            .filter(|r| r.method == "GET")
            .map(RecordedRequest::target)
            .collect()
    }
}

fn write(request: &RecordedRequest) -> (String, String, Option<String>, Value) {
    (
        request.method.clone(),
        request.path.clone(),
        request.content_type().map(str::to_owned),
        request.json(),
    )
}

fn merge(method: &str, path: &str, body: Value) -> (String, String, Option<String>, Value) {
    (
        method.into(),
        path.into(),
        Some("application/merge-patch+json".into()),
        body,
    )
}
