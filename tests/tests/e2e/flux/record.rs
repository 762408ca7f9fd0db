//! Serves the scenario of `fixtures.rs` on fixed loopback ports for recording the Flux plugin's
//! native-test fixtures (`plugins/flux/tests/fixtures/`, see the README there). Ignored in
//! normal runs; start it by hand, record with curl, then stop it:
//!
//! ```text
//! cargo test --release --locked -p capstan-tests --test e2e flux::record -- --ignored --nocapture
//! ```
//!
//! - `127.0.0.1:18382`: the scenario, with [`fixtures::flux_controllers`] answering reconcile
//!   requests;
//! - `127.0.0.1:18383`: the scenario with no controller: nothing handles a request;
//! - `127.0.0.1:18384`: the scenario without the HelmRelease CRD and the GitRepository `fleet`,
//!   where listing GitRepositories, patching Kustomizations and reading Secrets are forbidden.
//!
//! They stop after `FLUX_SCENARIO_SECONDS` (default 600).

use std::net::SocketAddr;
use std::time::Duration;

use capstan_tests::fakes::kube;

use super::fixtures;

#[tokio::test]
#[ignore = "serves the scenario until FLUX_SCENARIO_SECONDS pass, for recording fixtures by hand"]
async fn serve_the_scenario_for_recording() {
    let scenario = kube::serve_on(
        SocketAddr::from(([127, 0, 0, 1], 18382)),
        fixtures::cluster(),
    )
    .await
    .unwrap();
    scenario.react(fixtures::flux_controllers);
    let idle = kube::serve_on(
        SocketAddr::from(([127, 0, 0, 1], 18383)),
        fixtures::cluster(),
    )
    .await
    .unwrap();
    let mut restricted = fixtures::cluster()
        .without_crd("helmreleases.helm.toolkit.fluxcd.io")
        .forbidding("list", "gitrepositories")
        .forbidding("patch", "kustomizations")
        .forbidding("get", "secrets");
    restricted.remove(fixtures::SOURCE, "GitRepository", "flux-system", "fleet");
    let restricted = kube::serve_on(SocketAddr::from(([127, 0, 0, 1], 18384)), restricted)
        .await
        .unwrap();
    println!("scenario:   {}", scenario.base_url());
    println!("idle:       {}", idle.base_url());
    println!("restricted: {}", restricted.base_url());
    let seconds = std::env::var("FLUX_SCENARIO_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(600);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    for server in [&*scenario, &*idle, &*restricted] {
        for violation in server.violations() {
            println!("contract violation: {violation}");
        }
    }
}
