//! One running plugin instance: a manifest, its component, its sandbox, and the tools and
//! prompts it serves.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use wasmtime_wasi_config::WasiConfigVariables;

use super::gate::{Busy, Gate};
use super::source::{Fingerprint, Source};
use crate::egress::{CallContext, EgressPolicy, EgressSettings};
use crate::manifest::Manifest;
use crate::mcp::convert;
use crate::runtime::{CallError, Component, GuestEvent, Runtime, Sandbox, types};

/// A tool as served: its exposed name, the plugin's own name, its MCP description and the
/// compiled validator of its input schema.
pub struct PluginTool {
    /// The name clients call (`<prefix>_<name>`).
    pub exposed: String,
    /// The plugin's own name for it.
    pub name: String,
    /// The MCP tool description.
    pub tool: rmcp::model::Tool,
    /// Validates arguments before the plugin runs.
    pub validator: Arc<jsonschema::Validator>,
}

/// A prompt as served.
pub struct PluginPrompt {
    /// The name clients ask for.
    pub exposed: String,
    /// The plugin's own name for it.
    pub name: String,
    /// The MCP prompt description.
    pub prompt: rmcp::model::Prompt,
}

/// Why a call to an instance produced no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InstanceError {
    /// Too many calls running and waiting.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The sandbox stopped the call.
    #[error("{0}")]
    Call(#[from] CallError),
}

/// A loaded plugin instance.
pub struct Instance {
    manifest: Manifest,
    fingerprint: Fingerprint,
    component: Component,
    sandbox: Sandbox,
    tools: Vec<PluginTool>,
    prompts: Vec<PluginPrompt>,
    gate: Gate,
}

impl Instance {
    /// Loads the component of `source` (compiling it off the async runtime, or taking it from the
    /// compile cache) and asks it for its tools and prompts. The error is a message for the
    /// operator.
    pub async fn load(
        runtime: &Runtime,
        source: Source,
        egress: EgressSettings,
    ) -> Result<Self, String> {
        let Source {
            manifest,
            wasm,
            fingerprint,
        } = source;
        let component = compile(runtime, &manifest, wasm).await?;
        let sandbox = sandbox(&manifest, egress)?;
        let tools = component
            .list_tools(&sandbox)
            .await
            .map_err(|error| format!("the plugin failed while listing its tools: {error}"))?;
        let prompts = component
            .list_prompts(&sandbox)
            .await
            .map_err(|error| format!("the plugin failed while listing its prompts: {error}"))?;
        Ok(Self {
            tools: serve_tools(&manifest, tools)?,
            prompts: serve_prompts(&manifest, prompts)?,
            gate: Gate::new(manifest.limits.max_concurrency, manifest.limits.max_queue),
            manifest,
            fingerprint,
            component,
            sandbox,
        })
    }

    /// What the manifest and component it was loaded from hash to.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The instance's name (its manifest's file name without `.toml`).
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The manifest it was loaded from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The loaded component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The tools it serves (read-only ones only, for a read-only instance).
    pub fn tools(&self) -> &[PluginTool] {
        &self.tools
    }

    /// The prompts it serves.
    pub fn prompts(&self) -> &[PluginPrompt] {
        &self.prompts
    }

    /// Runs tool `index` with already-validated `arguments`.
    pub async fn call_tool(
        &self,
        index: usize,
        arguments: &Value,
        events: Option<mpsc::Sender<GuestEvent>>,
        client_headers: http::HeaderMap,
    ) -> Result<types::CallResult, InstanceError> {
        let _slot = self.gate.enter().await?;
        let arguments = arguments.to_string();
        let name = &self.tools[index].name;
        let context = CallContext {
            tool: name.clone(),
            client_headers,
        };
        Ok(self
            .component
            .call_tool(&self.sandbox, events, context, name, &arguments)
            .await?)
    }

    /// Renders prompt `index` with `arguments`.
    pub async fn get_prompt(
        &self,
        index: usize,
        arguments: &Value,
    ) -> Result<Result<types::PromptResult, String>, InstanceError> {
        let _slot = self.gate.enter().await?;
        let arguments = arguments.to_string();
        let name = &self.prompts[index].name;
        Ok(self
            .component
            .get_prompt(&self.sandbox, name, &arguments)
            .await?)
    }
}

async fn compile(
    runtime: &Runtime,
    manifest: &Manifest,
    wasm: Vec<u8>,
) -> Result<Component, String> {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || runtime.load(&wasm))
        .await
        .map_err(|error| format!("loading the component panicked: {error}"))?
        .map_err(|error| format!("{}: {error:#}", manifest.component.display()))
}

fn sandbox(manifest: &Manifest, egress: EgressSettings) -> Result<Sandbox, String> {
    let mut config: WasiConfigVariables = manifest
        .config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let names: Vec<&str> = manifest.targets.iter().map(|t| t.name()).collect();
    config.insert("capstan.targets", names.join(","));
    for target in &manifest.targets {
        config.insert(
            format!("capstan.target.{}.url", target.name()),
            target.base_url(),
        );
    }
    let policy = EgressPolicy::new(
        &manifest.name,
        manifest.targets.clone(),
        manifest.limits.max_outbound as usize,
        &egress,
    )?;
    Ok(Sandbox {
        memory_bytes: manifest.limits.memory_bytes,
        timeout: manifest.limits.timeout,
        config: Arc::new(config),
        egress: Arc::new(policy),
    })
}

fn serve_tools(manifest: &Manifest, tools: Vec<types::Tool>) -> Result<Vec<PluginTool>, String> {
    let mut served: Vec<PluginTool> = Vec::with_capacity(tools.len());
    for tool in tools {
        check_name(&tool.name, "tool")?;
        if served.iter().any(|t| t.name == tool.name) {
            return Err(format!("the plugin lists the tool `{}` twice", tool.name));
        }
        if manifest.read_only && !tool.annotations.read_only {
            continue;
        }
        let exposed = manifest.exposed_name(&tool.name);
        let (mcp_tool, validator) = convert::tool(&exposed, &tool)
            .map_err(|error| format!("tool `{}`: {error}", tool.name))?;
        served.push(PluginTool {
            exposed,
            name: tool.name,
            tool: mcp_tool,
            validator: Arc::new(validator),
        });
    }
    Ok(served)
}

fn serve_prompts(
    manifest: &Manifest,
    prompts: Vec<types::Prompt>,
) -> Result<Vec<PluginPrompt>, String> {
    let mut served: Vec<PluginPrompt> = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        check_name(&prompt.name, "prompt")?;
        if served.iter().any(|p| p.name == prompt.name) {
            return Err(format!(
                "the plugin lists the prompt `{}` twice",
                prompt.name
            ));
        }
        let exposed = manifest.exposed_name(&prompt.name);
        served.push(PluginPrompt {
            prompt: convert::prompt(&exposed, &prompt),
            exposed,
            name: prompt.name,
        });
    }
    Ok(served)
}

fn check_name(name: &str, kind: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the plugin's {kind} name `{name}` is invalid: use 1 to 48 of a-z, 0-9 and _"
        ))
    }
}
