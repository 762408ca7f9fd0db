//! What the host does around the Flux plugin: a read-only instance serves only the read tools
//! (and refuses a write), the tools' hints and schemas reach the client, the prompts are served
//! under the instance's prefix, and arguments outside a tool's input schema never reach the
//! plugin.

use capstan_tests::client::is_error;
use serde_json::json;

use super::Flux;

#[tokio::test]
async fn a_read_only_instance_lists_only_the_read_tools_and_the_prompts_render() {
    let flux = Flux::start().await;
    let tools = flux.client.tools().await.unwrap();
    let names = |prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = tools
            .iter()
            .filter_map(|t| t.name.strip_prefix(prefix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("fluxro_"),
        [
            "flux_tree",
            "get_flux_events",
            "get_flux_logs",
            "get_flux_resource",
            "get_flux_status",
            "list_flux_resources",
            "trace_resource"
        ]
    );
    assert_eq!(
        names("flux_"),
        [
            "flux_tree",
            "get_flux_events",
            "get_flux_logs",
            "get_flux_resource",
            "get_flux_status",
            "list_flux_resources",
            "reconcile",
            "reconcile_dependencies",
            "resume",
            "suspend",
            "trace_resource"
        ]
    );
    for tool in tools.iter().filter(|t| t.name.starts_with("flux_")) {
        let hints = tool.annotations.as_ref().expect("annotations");
        let writes = [
            "flux_reconcile",
            "flux_reconcile_dependencies",
            "flux_resume",
            "flux_suspend",
        ];
        assert_eq!(
            hints.read_only_hint,
            Some(!writes.contains(&tool.name.as_ref())),
            "{}",
            tool.name
        );
        assert_eq!(hints.destructive_hint, Some(false), "{}", tool.name);
        assert_eq!(hints.open_world_hint, Some(false), "{}", tool.name);
        assert!(tool.output_schema.is_some(), "{}", tool.name);
        assert!(
            tool.input_schema
                .get("properties")
                .and_then(|p| p.get("target"))
                .is_some()
        );
    }
    let denied = flux
        .client
        .call(
            "fluxro_reconcile",
            json!({"kind": "Kustomization", "name": "apps", "namespace": "flux-system"}),
        )
        .await;
    assert!(denied.is_err() || is_error(denied.as_ref().unwrap()));

    let prompt = flux
        .client
        .service()
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("flux_debug_helmrelease").with_arguments(
                json!({"name": "redis", "namespace": "data"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let rendered = serde_json::to_string(&prompt).unwrap();
    assert!(
        rendered.contains("HelmRelease `redis` in namespace `data`")
            && rendered.contains("data-redis"),
        "{rendered}"
    );
    let prompts = flux.client.service().list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.starts_with("flux_"))
        .collect();
    assert_eq!(
        names,
        ["flux_debug_helmrelease", "flux_debug_kustomization"]
    );
    assert!(flux.requests("PATCH").is_empty());
    flux.kube.assert_no_violations();
}

#[tokio::test]
async fn arguments_outside_the_input_schema_never_reach_the_plugin() {
    let flux = Flux::start().await;
    for arguments in [
        json!({"kind": "Kustomization", "name": "x", "namespace": "../kube-system"}),
        json!({"kind": "Secret", "name": "x", "namespace": "flux-system"}),
        json!({"kind": "Kustomization", "name": "", "namespace": "flux-system"}),
    ] {
        let refused = flux
            .client
            .call("flux_get_flux_resource", arguments.clone())
            .await;
        assert!(
            refused.as_ref().is_ok_and(is_error) || refused.is_err(),
            "{arguments}: {refused:?}"
        );
    }
    assert!(
        flux.kube.requests().is_empty(),
        "refused by the host before the plugin ran"
    );
}

#[tokio::test]
async fn a_flux_object_is_read_by_uri_under_each_instances_scheme() {
    use rmcp::model::{
        ArgumentInfo, CompleteRequestParams, ReadResourceRequestParams, Reference, ResourceContents,
    };
    let flux = Flux::start().await;
    let service = flux.client.service();
    let templates: Vec<String> = service
        .list_all_resource_templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.uri_template.clone())
        .collect();
    assert!(
        templates.contains(&"flux://{target}/{kind}/{namespace}/{name}".to_owned())
            && templates.contains(&"fluxro://{target}/{kind}/{namespace}/{name}".to_owned()),
        "each instance serves the template under its prefix: {templates:?}"
    );
    for scheme in ["flux", "fluxro"] {
        let uri = format!("{scheme}://prod/Kustomization/flux-system/apps");
        let read = service
            .read_resource(ReadResourceRequestParams::new(&uri))
            .await
            .unwrap();
        let ResourceContents::TextResourceContents { uri: got, text, .. } = &read.contents[0]
        else {
            panic!("{read:?}");
        };
        assert_eq!(got, &uri);
        let object: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(object["name"], "apps", "{object}");
        assert_eq!(object["kind"], "Kustomization", "{object}");
    }
    let kinds = service
        .complete(CompleteRequestParams::new(
            Reference::for_resource("flux://{target}/{kind}/{namespace}/{name}"),
            ArgumentInfo::new("kind", "Helm"),
        ))
        .await
        .unwrap();
    assert!(
        kinds
            .completion
            .values
            .iter()
            .all(|k| k.starts_with("Helm"))
            && !kinds.completion.values.is_empty(),
        "{:?}",
        kinds.completion.values
    );
}
