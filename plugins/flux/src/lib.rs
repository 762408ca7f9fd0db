//! The Flux plugin: inspect, reconcile, suspend, resume and trace Flux's objects
//! (Kustomizations, HelmReleases and their sources) over the Kubernetes API.
//!
//! Every tool takes an optional `target`, the name of one of the instance's `[[targets]]` (a
//! Kubernetes API server, in-cluster or a kubeconfig context; default: `default_target` from
//! `[config]`, or the only target). The host adds the target's credentials; this plugin never
//! sees a token.
//!
//! Modules by concern: `kinds` (the Flux kinds), `health` (the status rules), `sources` (what
//! points where), `kube` (the API calls), `resources` (list and get), `events`, `logs`,
//! `trace`, `tree`, `status` (the installation), `reconcile` (the write tools) with `wait` and `dependencies`, `prompts`.

mod dependencies;
mod events;
mod health;
mod helm;
mod kinds;
mod kube;
mod logs;
mod prompts;
mod reconcile;
mod resources;
mod schema;
mod sources;
mod status;
mod time;
mod trace;
mod tree;
mod wait;

use capstan_sdk::{Map, Plugin, Prompt, PromptResult, Tool, ToolError, ToolResult, Value};

struct Flux;

type Handler = fn(Value) -> Result<ToolResult, ToolError>;

/// Every tool with its handler.
fn tools() -> Vec<(Tool, Handler)> {
    vec![
        (resources::list_tool(), resources::list),
        (resources::get_tool(), resources::get),
        (events::tool(), events::call),
        (logs::tool(), logs::call),
        (trace::tool(), trace::call),
        (status::tool(), status::call),
        (tree::tool(), tree::call),
        (reconcile::reconcile_tool(), reconcile::reconcile),
        (
            reconcile::dependencies_tool(),
            reconcile::reconcile_dependencies,
        ),
        (reconcile::suspend_tool(), reconcile::suspend),
        (reconcile::resume_tool(), reconcile::resume),
    ]
}

impl Plugin for Flux {
    fn tools() -> Vec<Tool> {
        tools().into_iter().map(|(tool, _)| tool).collect()
    }

    fn call(name: &str, arguments: Value) -> Result<ToolResult, ToolError> {
        let tools = tools();
        match tools.iter().find(|(tool, _)| tool.name() == name) {
            Some((_, handler)) => handler(arguments),
            None => Err(ToolError::new(format!(
                "the Flux plugin has no tool `{name}`; it has {}",
                tools
                    .iter()
                    .map(|(tool, _)| tool.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn prompts() -> Vec<Prompt> {
        prompts::list()
    }

    fn get_prompt(name: &str, arguments: Map<String, Value>) -> Result<PromptResult, String> {
        prompts::render(name, &arguments)
    }
}

capstan_sdk::export_plugin!(Flux);
