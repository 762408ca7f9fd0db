//! The Argo Rollouts plugin end to end: a real capstan serving the compiled component, an MCP
//! client, and the fake Kubernetes API holding the demo Rollouts (validated against the
//! Argo Rollouts CRDs). What each tool sends and answers is tested natively, against answers
//! recorded from this fake (`plugins/rollouts/src/tests/`); here stays what needs the whole
//! stack: `smoke` drives every tool through capstan and asserts the fake saw no request the
//! real API would refuse, plus what the host adds (credentials, argument validation, progress
//! notifications); `instances` covers read-only filtering and the targets the host exposes.

mod instances;
mod smoke;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::demo;
use capstan_tests::fakes::kube::{self, KubeServer};
use serde_json::Value;

const TOKEN: &str = "rollouts-token-0123456789";
const V1ALPHA1: &str = "argoproj.io/v1alpha1";

pub(super) struct Setup {
    pub(super) kube: KubeServer,
    pub(super) client: Client,
    _capstan: Capstan,
    _plugins: PluginDir,
}

/// A writable instance over the demo cluster, whose API wants the bearer token the host adds.
async fn setup() -> Setup {
    let kube = kube::start(demo::cluster().with_token(TOKEN))
        .await
        .unwrap();
    let plugins = PluginDir::new();
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!(
            "prefix = \"rollouts\"\nread_only = false\n[[targets]]\nname = \"prod\"\nurl = \"{}\"\nauth = {{ bearer_env = \"KUBE_TOKEN\" }}",
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
}
