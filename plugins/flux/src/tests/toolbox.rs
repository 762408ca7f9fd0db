//! The toolbox (every tool described under the name it is dispatched by) and the prompts.

use capstan_sdk::{Content, Map, Value, json};

use super::{cluster, error};

const TOOLS: [&str; 11] = [
    "list_flux_resources",
    "get_flux_resource",
    "get_flux_events",
    "get_flux_logs",
    "trace_resource",
    "get_flux_status",
    "flux_tree",
    "reconcile",
    "reconcile_dependencies",
    "suspend",
    "resume",
];

#[test]
fn every_tool_is_described_under_the_name_it_is_called_by() {
    let toolbox = crate::toolbox();
    assert_eq!(toolbox.names().collect::<Vec<_>>(), TOOLS);
    let described: Vec<String> = toolbox
        .tools()
        .iter()
        .map(|tool| tool.name().to_owned())
        .collect();
    assert_eq!(described, TOOLS);
}

#[test]
fn an_unknown_tool_is_an_error_that_lists_the_tools() {
    let fixture = cluster();
    assert_eq!(
        error(&fixture, "delete_everything", json!({})),
        format!(
            "the Flux plugin has no tool `delete_everything`; it has {}",
            TOOLS.join(", ")
        )
    );
    assert!(fixture.requests().is_empty());
}

fn render(name: &str, arguments: Value) -> Result<String, String> {
    let arguments: Map<String, Value> = arguments.as_object().unwrap().clone();
    let result = crate::prompts::render(name, &arguments)?;
    let texts: Vec<String> = result
        .messages
        .into_iter()
        .filter_map(|message| match message.content {
            Content::Text(text) => Some(text),
            _ => None,
        })
        .collect();
    Ok(texts.join("\n"))
}

#[test]
fn the_prompts_name_the_object_and_its_generated_chart() {
    let release = render(
        "debug_helmrelease",
        json!({"name": "redis", "namespace": "data"}),
    )
    .unwrap();
    assert!(
        release.contains("HelmRelease `redis` in namespace `data`")
            && release.contains("data-redis"),
        "{release}"
    );
    let kustomization = render("debug_kustomization", json!({"name": "apps"})).unwrap();
    assert!(kustomization.contains("flux-system"), "{kustomization}");
    assert_eq!(
        render("debug_helmrelease", json!({"name": "redis"})).unwrap_err(),
        "the prompt needs `namespace`"
    );
    assert!(
        render("debug_everything", json!({"name": "x"}))
            .unwrap_err()
            .contains("no prompt named `debug_everything`")
    );
}
