//! The no-op tool call with everything a shared platform turns on: an OAuth access token
//! validated against a real OpenID provider's keys (`oidc-provider`, started by the test
//! harness), a Cedar policy deciding the call, and the call audit file; measured against the
//! same call on a capstan with none of them, in the same run.

use std::time::Instant;

use capstan_tests::capstan::{Capstan, Options, PluginDir, free_address};
use capstan_tests::client::{Client, ClientOptions};
use capstan_tests::oidc::{IdentityProvider, MCP_SCOPE, SigningAlg};
use serde_json::json;

use crate::stats::Sample;

/// Grants the provider's service clients (group `automation`) every tool of the probe.
const POLICY: &str = r#"
@id("automation-uses-the-probe")
permit (
  principal in Capstan::Group::"automation",
  action in Capstan::Action::"call",
  resource in Capstan::Instance::"probe"
);
"#;

/// `calls` no-op tool calls over a 2025-11-25 session with OAuth, policy and audit on.
pub async fn noop_calls(calls: usize) -> anyhow::Result<Sample> {
    let address = free_address();
    let audience = format!("http://{address}/mcp");
    let idp = IdentityProvider::start(&[audience.as_str()]);
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.cedar");
    std::fs::write(&policy, POLICY)?;
    let audit = dir.path().join("audit.jsonl");
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", "[limits]\nmax_concurrency = 64");
    let args = [
        "--oauth-issuer",
        idp.issuer(),
        "--oauth-audience",
        &audience,
        "--oauth-required-scope",
        MCP_SCOPE,
        "--policy",
        &policy.display().to_string(),
        "--audit-file",
        &audit.display().to_string(),
    ];
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            args: args.map(String::from).to_vec(),
            listen: Some(address),
            ..Options::default()
        },
    );
    let token = idp
        .client_credentials_token(&audience, MCP_SCOPE, SigningAlg::Rs256)
        .await
        .map_err(|error| anyhow::anyhow!("no token from the provider: {error:?}"))?;
    let client = Client::connect_with(&capstan.url(), &ClientOptions::bearer(&token)).await?;
    for _ in 0..calls.min(200) {
        client.call("probe_noop", json!({})).await?;
    }
    let mut sample = Sample::default();
    for _ in 0..calls {
        let started = Instant::now();
        let result = client.call("probe_noop", json!({})).await?;
        sample.push(started.elapsed());
        anyhow::ensure!(
            result.is_error != Some(true),
            "the guarded call was refused"
        );
    }
    client.close().await;
    Ok(sample)
}
