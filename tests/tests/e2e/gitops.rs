//! The GitOps plugins end to end: capstan, the real Argo CD, Rollouts and Flux components, and
//! the fake upstreams (which check every request against the real API contracts).

use capstan_tests::capstan::{Capstan, Options, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes;
use capstan_tests::fakes::argocd::ArgoCdServer;
use capstan_tests::fakes::kube::KubeServer;
use serde_json::{Value, json};

const TOKEN: &str = "demo-token-0123456789";

async fn gitops() -> (ArgoCdServer, KubeServer, PluginDir, Capstan, Client) {
    let argocd = fakes::argocd::start(
        fakes::demo::argocd()
            .with_base_path("/argocd")
            .with_token(TOKEN),
    )
    .await
    .unwrap();
    let kube = fakes::kube::start(fakes::demo::cluster().with_token(TOKEN))
        .await
        .unwrap();
    let plugins = PluginDir::new();
    let target = |url: String| {
        format!(
            "[[targets]]\nname = \"demo\"\nurl = \"{url}\"\nauth = {{ bearer_env = \"DEMO_TOKEN\" }}"
        )
    };
    plugins.manifest(
        "argocd",
        "argocd",
        &format!("read_only = true\n{}", target(argocd.base_url())),
    );
    plugins.manifest(
        "rollouts",
        "rollouts",
        &format!("read_only = true\n{}", target(kube.base_url())),
    );
    plugins.manifest(
        "flux",
        "flux",
        &format!("read_only = true\n{}", target(kube.base_url())),
    );
    let capstan = Capstan::start_with(
        &plugins,
        Options {
            env: vec![("DEMO_TOKEN".into(), TOKEN.into())],
            ..Default::default()
        },
    );
    let client = Client::connect(&capstan.url()).await.unwrap();
    (argocd, kube, plugins, capstan, client)
}

fn structured(result: &rmcp::model::CallToolResult) -> &Value {
    assert!(!is_error(result), "{}", text(result));
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

#[tokio::test]
async fn argocd_tools_answer_from_the_api_under_a_path_prefix() {
    let (argocd, _kube, _plugins, _capstan, client) = gitops().await;
    let listed = client
        .call("argocd_list_applications", json!({"search": "payments"}))
        .await
        .unwrap();
    let names: Vec<&str> = structured(&listed)["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["payments-api", "payments-worker"]);
    let app = client
        .call(
            "argocd_get_application",
            json!({"applicationName": "guestbook"}),
        )
        .await
        .unwrap();
    assert_eq!(structured(&app)["summary"]["name"], "guestbook");
    let missing = client
        .call("argocd_get_application", json!({"applicationName": "nope"}))
        .await
        .unwrap();
    assert!(
        is_error(&missing) && text(&missing).contains("404"),
        "{}",
        text(&missing)
    );
    let version = client.call("argocd_get_version", json!({})).await.unwrap();
    assert!(structured(&version)["version"].is_string());
    argocd.assert_no_violations();
    let requests = argocd.requests();
    assert!(
        requests.iter().all(|r| r.path.starts_with("/argocd/")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/argocd/api/v1"))
            .all(|r| r.authorization() == Some(format!("Bearer {TOKEN}").as_str()))
    );
}

#[tokio::test]
async fn rollouts_and_flux_tools_list_from_the_kubernetes_api() {
    let (_argocd, kube, _plugins, _capstan, client) = gitops().await;
    let rollouts = client
        .call("rollouts_list_rollouts", json!({}))
        .await
        .unwrap();
    assert!(
        !structured(&rollouts)["rollouts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{}",
        text(&rollouts)
    );
    let flux = client
        .call("flux_list_flux_resources", json!({}))
        .await
        .unwrap();
    let rows = structured(&flux)["resources"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["kind"] == "Kustomization")
            && rows.iter().any(|r| r["kind"] == "HelmRelease"),
        "{rows:?}"
    );
    kube.assert_no_violations();
}

#[tokio::test]
async fn a_name_that_tries_to_escape_its_path_segment_is_refused() {
    let (argocd, _kube, _plugins, _capstan, client) = gitops().await;
    let sneaky = client
        .call(
            "argocd_get_application",
            json!({"applicationName": "../projects/default"}),
        )
        .await
        .unwrap();
    assert!(is_error(&sneaky), "{}", text(&sneaky));
    assert!(
        argocd
            .requests()
            .iter()
            .all(|r| !r.path.contains("projects")),
        "{:?}",
        argocd.requests()
    );
}
