//! End-to-end tests: each starts a real `capstan serve` on 127.0.0.1 with real compiled plugins
//! and talks to it with a real MCP client (rmcp's), or runs the real CLI.

mod access;
mod argocd;
mod authoring;
mod cache;
mod cli;
mod credentials;
mod demo;
mod dev_loop;
mod distribution;
mod drain;
mod egress;
mod eso;
mod flux;
mod gate;
mod gitops;
mod hostile;
mod identity;
mod manifests;
mod memory;
mod metrics;
mod protocol;
mod reload;
mod replicas;
mod rollouts;
mod sandbox;
mod signatures;
mod skills;
mod stdio;
mod tasks;
mod traces;

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::Client;

/// A capstan serving the probe plugin as instance `probe` (prefix `probe`), and a client.
async fn probe_server(extra: &str) -> (PluginDir, Capstan, Client) {
    let plugins = PluginDir::new();
    plugins.manifest("probe", "probe", extra);
    let capstan = Capstan::start(&plugins);
    let client = Client::connect(&capstan.url())
        .await
        .expect("connecting to capstan");
    (plugins, capstan, client)
}
