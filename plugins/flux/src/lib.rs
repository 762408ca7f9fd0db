//! The Flux plugin: inspect, reconcile, suspend, resume and trace Flux's objects
//! (Kustomizations, HelmReleases and their sources) over the Kubernetes API.
//!
//! Every tool takes an optional `target`, the name of one of the instance's `[[targets]]` (a
//! Kubernetes API server, in-cluster or a kubeconfig context; default: `default_target` from
//! `[config]`, or the only target). The host adds the target's credentials; this plugin never
//! sees a token.
//!
//! Every handler is a function of the call's [`capstan_sdk::Context`] and its arguments, and
//! does all its I/O (Kubernetes API requests, the clock, progress reports) through the
//! context, so the native tests (the `tests` module) run each tool against recorded API
//! answers (`tests/fixtures/`).
//!
//! Modules by concern: `kinds` (the Flux kinds), `health` (the status rules), `sources` (what
//! points where), `kube` (the API calls), `resources` (list and get), `events`, `logs`,
//! `trace`, `tree`, `status` (the installation), `reconcile` (the write tools) with `wait` and
//! `dependencies`, `prompts`.

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
mod served;
mod sources;
mod status;
mod time;
mod trace;
mod tree;
mod wait;

#[cfg(test)]
mod tests;

use capstan_sdk::{Map, Plugin, Prompt, PromptResult, Toolbox, Value};

struct Flux;

/// Every tool with its handler.
pub(crate) fn toolbox() -> Toolbox {
    Toolbox::new("Flux")
        .tool("list_flux_resources", resources::list_tool, resources::list)
        .tool("get_flux_resource", resources::get_tool, resources::get)
        .tool("get_flux_events", events::tool, events::call)
        .tool("get_flux_logs", logs::tool, logs::call)
        .tool("trace_resource", trace::tool, trace::call)
        .tool("get_flux_status", status::tool, status::call)
        .tool("flux_tree", tree::tool, tree::call)
        .tool("reconcile", reconcile::reconcile_tool, reconcile::reconcile)
        .tool(
            "reconcile_dependencies",
            reconcile::dependencies_tool,
            reconcile::reconcile_dependencies,
        )
        .tool("suspend", reconcile::suspend_tool, reconcile::suspend)
        .tool("resume", reconcile::resume_tool, reconcile::resume)
}

impl Plugin for Flux {
    fn toolbox() -> Toolbox {
        toolbox()
    }

    fn prompts() -> Vec<Prompt> {
        prompts::list()
    }

    fn get_prompt(
        _ctx: &capstan_sdk::Context,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<PromptResult, capstan_sdk::ToolError> {
        prompts::render(name, &arguments).map_err(capstan_sdk::ToolError::new)
    }

    fn resource_templates() -> Vec<capstan_sdk::ResourceTemplate> {
        served::templates()
    }

    fn read_resource(
        ctx: &capstan_sdk::Context,
        uri: &str,
    ) -> Result<Vec<capstan_sdk::ResourceContents>, capstan_sdk::ResourceError> {
        served::read(ctx, uri)
    }

    fn complete(
        ctx: &capstan_sdk::Context,
        reference: &capstan_sdk::CompletionRef,
        argument: &str,
        value: &str,
        chosen: &Map<String, Value>,
    ) -> Vec<String> {
        served::complete(ctx, reference, argument, value, chosen)
    }

    fn skills() -> Vec<capstan_sdk::Skill> {
        vec![
            capstan_sdk::skill!("flux-kustomization-build-failures"),
            capstan_sdk::skill!("flux-helmrelease-failures"),
            capstan_sdk::skill!("flux-source-fetch-failures"),
            capstan_sdk::skill!("flux-blocked-dependencies"),
        ]
    }
}

capstan_sdk::export_plugin!(Flux);
