//! The Argo CD plugin end to end: a real capstan serving the real component (prefix `""`, so
//! the tools have argocd-mcp's names) against the stateful fake Argo CD, over MCP with rmcp's
//! client. What each tool sends and answers is tested natively in the plugin against answers
//! recorded from the same fake (`plugins/argocd/src/tests/`); here stays what needs the whole
//! stack: one smoke test that drives every tool and holds every request to Argo CD's API
//! contract (and to the host's credentials), and what the host itself adds.

mod deploys;
mod fleet;
mod host;
mod large;
mod record;
mod served;
mod smoke;

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::RecordedRequest;
use capstan_tests::fakes::argocd::{self, ArgoCd, ArgoCdServer};
use rmcp::model::CallToolResult;
use serde_json::Value;

const TOKEN: &str = "argocd-token-3f9a1c";

/// A running Argo CD fake, capstan serving the plugin against it, and a connected client.
pub(crate) struct Env {
    pub argocd: ArgoCdServer,
    pub client: Client,
    _capstan: Capstan,
    _plugins: PluginDir,
}

impl Env {
    /// Starts `data` and capstan with the plugin; `manifest` adds manifest lines (e.g.
    /// `read_only = true`).
    pub(crate) async fn start(data: ArgoCd, manifest: &str) -> Self {
        Self::start_with_target(data, manifest, "").await
    }

    /// Like [`Env::start`], with extra lines in the target's table (e.g. `timeout = "1s"`).
    pub(crate) async fn start_with_target(data: ArgoCd, manifest: &str, target: &str) -> Self {
        Self::launch(data, (manifest, target), Vec::new()).await
    }

    /// Like [`Env::start`], capstan started with the extra command-line `args`.
    pub(crate) async fn start_with_args(data: ArgoCd, args: &[&str]) -> Self {
        let args = args.iter().map(|arg| (*arg).to_owned()).collect();
        Self::launch(data, ("", ""), args).await
    }

    async fn launch(data: ArgoCd, (manifest, target): (&str, &str), args: Vec<String>) -> Self {
        let argocd = argocd::start(data.with_base_path("/argocd").with_token(TOKEN))
            .await
            .unwrap();
        let plugins = PluginDir::new();
        plugins.manifest(
            "argocd",
            "argocd",
            &format!(
                "prefix = \"\"\n{manifest}\n[[targets]]\nname = \"prod\"\nurl = \"{}\"\n\
                 auth = {{ bearer_env = \"ARGOCD_TOKEN\" }}\n{target}",
                argocd.base_url()
            ),
        );
        let options = Options {
            env: vec![("ARGOCD_TOKEN".into(), TOKEN.into())],
            args,
            ..Default::default()
        };
        let capstan = Capstan::start_with(&plugins, options);
        let client = Client::connect(&capstan.url()).await.unwrap();
        Self {
            argocd,
            client,
            _capstan: capstan,
            _plugins: plugins,
        }
    }

    /// The capstan process.
    pub(crate) fn capstan(&self) -> &Capstan {
        &self._capstan
    }

    /// The demo data set, writes allowed.
    pub(crate) async fn demo() -> Self {
        Self::start(capstan_tests::fakes::demo::argocd(), "").await
    }

    /// Calls `tool` and returns its structured content, failing on an error result.
    pub(crate) async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.client.call(tool, arguments).await.unwrap();
        assert!(!is_error(&result), "{tool} failed: {}", text(&result));
        result
            .structured_content
            .clone()
            .unwrap_or_else(|| panic!("{tool} returned no structured content"))
    }

    /// Calls `tool`, expects an error result and returns its text.
    pub(crate) async fn fails(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await;
        assert!(
            is_error(&result),
            "{tool} should have failed: {}",
            text(&result)
        );
        text(&result)
    }

    /// Calls `tool` and returns the raw result.
    pub(crate) async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        self.client.call(tool, arguments).await.unwrap()
    }

    /// The API requests the fake received (under `/argocd/api/`), oldest first.
    pub(crate) fn api(&self) -> Vec<Sent> {
        self.argocd.requests().iter().map(Sent::from).collect()
    }
}

/// A request as the tests compare it: method, path below the base path, decoded query pairs
/// and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sent {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
    pub authorized: bool,
}

impl From<&RecordedRequest> for Sent {
    fn from(request: &RecordedRequest) -> Self {
        Self {
            method: request.method.clone(),
            path: request
                .path
                .strip_prefix("/argocd")
                .unwrap_or(&request.path)
                .to_owned(),
            query: request.query_pairs(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            authorized: request.authorization() == Some(format!("Bearer {TOKEN}").as_str()),
        }
    }
}

impl Sent {
    /// `METHOD /path?query` as sent (query still encoded), for readable assertions.
    pub(crate) fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", self.method, self.path, query.join("&"))
        }
    }
}

/// The request lines, for comparing a sequence at once.
pub(crate) fn lines(sent: &[Sent]) -> Vec<String> {
    sent.iter().map(Sent::line).collect()
}
