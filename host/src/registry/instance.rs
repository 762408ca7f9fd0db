//! One running plugin instance: a manifest, its component, its sandbox, and the tools,
//! prompts, resources and skills it serves.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument as _;
use wasmtime_wasi_config::WasiConfigVariables;

use super::gate::{Busy, Gate};
use super::resources::{self, ResourceDefinition, TemplateDefinition};
use super::schema::{PromptDefinition, SchemaError, ToolDefinition};
use super::skills::{self, SkillDefinition};
use super::source::{Fingerprint, Source};
use crate::egress::{CallContext, EgressError, EgressPolicy, EgressSettings};
use crate::events::EventSink;
use crate::manifest::Manifest;
use crate::runtime::{CallAnswer, CallError, Component, ReadAnswer, Runtime, Sandbox, types};
use crate::trace_context;

/// Why an instance could not be loaded from its source; the message says what to fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// The component does not compile, link or pass the import check.
    #[error("{component}: {error}")]
    Component {
        /// The component file or reference.
        component: String,
        /// Why, with its causes.
        error: String,
    },
    /// Compiling panicked.
    #[error("loading the component panicked: {0}")]
    Panicked(String),
    /// The egress policy cannot be built from the targets.
    #[error(transparent)]
    Egress(#[from] EgressError),
    /// Listing what the plugin offers failed.
    #[error("the plugin failed while listing its tools, prompts, resources or skills: {0}")]
    List(CallError),
    /// A resource or template URI that cannot be served.
    #[error("the plugin's resource {0}")]
    Resource(String),
    /// A skill that cannot be served.
    #[error("the plugin's skill `{skill}` {error}")]
    Skill {
        /// The skill's name.
        skill: String,
        /// What is wrong and how to fix it.
        error: String,
    },
    /// A tool or prompt name the host cannot expose.
    #[error("the plugin's {kind} name `{name}` is invalid: use 1 to 48 of a-z, 0-9 and _")]
    InvalidName {
        /// `tool` or `prompt`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A tool or prompt listed twice.
    #[error("the plugin lists the {kind} `{name}` twice")]
    Duplicate {
        /// `tool` or `prompt`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A tool's schemas cannot be served.
    #[error("tool `{tool}`: {error}")]
    Schema {
        /// The plugin's name of the tool.
        tool: String,
        /// What is wrong.
        error: SchemaError,
    },
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
    tools: Vec<ToolDefinition>,
    prompts: Vec<PromptDefinition>,
    resources: Vec<ResourceDefinition>,
    templates: Vec<TemplateDefinition>,
    skills: Vec<SkillDefinition>,
    gate: Gate,
}

impl Instance {
    /// Loads the component of `source` (compiling it off the async runtime, or taking it from the
    /// compile cache) and asks it for its tools and prompts. The error's message is for the
    /// operator.
    pub async fn load(
        runtime: &Runtime,
        source: Source,
        egress: EgressSettings,
    ) -> Result<Self, LoadError> {
        let Source {
            manifest,
            wasm,
            fingerprint,
        } = source;
        let component = compile(runtime, &manifest, wasm).await?;
        let sandbox = sandbox(&manifest, egress)?;
        let listed = component
            .list_all(&sandbox)
            .await
            .map_err(LoadError::List)?;
        let skills = serve_skills(&manifest, &listed.tools, listed.skills)?;
        let (resources, templates) =
            serve_resources(&manifest, listed.resources, listed.templates)?;
        Ok(Self {
            tools: serve_tools(&manifest, listed.tools)?,
            prompts: serve_prompts(&manifest, listed.prompts)?,
            resources,
            templates,
            skills,
            gate: Gate::new(
                &manifest.name,
                manifest
                    .limits
                    .max_concurrency
                    .min(runtime.fair_share_of_slots()),
                manifest.limits.max_queue,
            ),
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

    /// The names of the targets it may reach, in manifest order.
    pub fn target_names(&self) -> Vec<String> {
        self.manifest
            .targets
            .iter()
            .map(|target| target.name().to_owned())
            .collect()
    }

    /// The target a call that names none addresses, as the plugin SDK resolves it: the
    /// `default_target` setting, else the only target; `None` when that is ambiguous.
    pub fn default_target(&self) -> Option<&str> {
        if let Some(name) = self.manifest.config.get("default_target") {
            return Some(name);
        }
        match self.manifest.targets.as_slice() {
            [only] => Some(only.name()),
            _ => None,
        }
    }

    /// The loaded component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The tools it serves (read-only ones only, for a read-only instance).
    pub fn tools(&self) -> &[ToolDefinition] {
        &self.tools
    }

    /// The prompts it serves.
    pub fn prompts(&self) -> &[PromptDefinition] {
        &self.prompts
    }

    /// The resources it serves at fixed URIs.
    pub fn resources(&self) -> &[ResourceDefinition] {
        &self.resources
    }

    /// The resource templates it serves.
    pub fn templates(&self) -> &[TemplateDefinition] {
        &self.templates
    }

    /// The skills it serves.
    pub fn skills(&self) -> &[SkillDefinition] {
        &self.skills
    }

    /// The plugin's form of `uri` when it is one of this instance's resources or matches one
    /// of its templates.
    pub fn resource_for(&self, uri: &str) -> Option<String> {
        let scheme = resources::scheme_of(&self.manifest.prefix);
        let listed = self.resources.iter().find(|r| r.exposed == uri);
        if let Some(resource) = listed {
            return Some(resource.resource.uri.clone());
        }
        self.templates
            .iter()
            .filter(|t| resources::matches_template(&t.exposed, uri))
            .find_map(|t| {
                resources::plugin_uri(
                    uri,
                    resources::scheme(&t.template.uri_template),
                    scheme.as_deref(),
                )
            })
    }

    /// The target a read of `uri` (as clients see it) addresses: the value of the `{target}` of
    /// the template it matches, else the instance's default target.
    pub fn resource_target(&self, uri: &str) -> Option<String> {
        let named = self.templates.iter().find_map(|t| {
            let values = resources::template_values(&t.exposed, uri)?;
            values
                .into_iter()
                .find(|(name, _)| name == "target")
                .map(|(_, value)| value.to_owned())
        });
        named.or_else(|| self.default_target().map(str::to_owned))
    }

    /// The template clients see as `exposed`, in the plugin's form.
    pub fn template_for(&self, exposed: &str) -> Option<&TemplateDefinition> {
        self.templates.iter().find(|t| t.exposed == exposed)
    }

    /// Reads the resource at `uri` (the plugin's form) for `context`'s caller; contents over
    /// `cap` bytes are refused.
    pub async fn read_resource(
        &self,
        uri: &str,
        context: CallContext,
        cap: usize,
    ) -> Result<ReadAnswer, InstanceError> {
        let _slot = self.gate.enter().await?;
        Ok(self
            .component
            .read_resource(&self.sandbox, context, uri, cap)
            .await?)
    }

    /// Completes `argument` of `reference` (the plugin's names) from `value`, with the
    /// arguments already `chosen`.
    pub async fn complete(
        &self,
        reference: &types::CompletionRef,
        (argument, value, chosen): (&str, &str, &Value),
        context: CallContext,
    ) -> Result<Vec<String>, InstanceError> {
        let _slot = self.gate.enter().await?;
        let chosen = chosen.to_string();
        Ok(self
            .component
            .complete(
                &self.sandbox,
                context,
                reference,
                (argument, value, &chosen),
            )
            .await?)
    }

    /// Runs tool `index` with already-validated `arguments` in `context` (its caller, the
    /// client's headers, the targets it may reach; the tool is filled in here); progress, logs
    /// and egress refusals go to `events`. Targets with a token exchange act as the caller.
    /// A result over `cap` bytes keeps only the start of its text.
    pub async fn call_tool(
        &self,
        (index, arguments, round): (usize, &Value, Option<&types::Round>),
        events: EventSink,
        context: CallContext,
        cap: usize,
    ) -> Result<CallAnswer, InstanceError> {
        let _slot = self.gate.enter().await?;
        self.run_tool(
            &self.sandbox,
            (index, arguments, round),
            events,
            context,
            cap,
        )
        .await
    }

    /// Runs tool `index` as part of an MCP task: outside the concurrency gate (the task store
    /// bounds tasks with `[limits].max_tasks`), for at most `time_left` of the task's
    /// `[limits].task_timeout` instead of the call timeout.
    pub async fn call_tool_as_task(
        &self,
        (index, arguments, round): (usize, &Value, Option<&types::Round>),
        time_left: Duration,
        events: EventSink,
        context: CallContext,
        cap: usize,
    ) -> Result<CallAnswer, InstanceError> {
        let sandbox = Sandbox {
            timeout: time_left,
            ..self.sandbox.clone()
        };
        self.run_tool(&sandbox, (index, arguments, round), events, context, cap)
            .await
    }

    async fn run_tool(
        &self,
        sandbox: &Sandbox,
        (index, arguments, round): (usize, &Value, Option<&types::Round>),
        events: EventSink,
        context: CallContext,
        cap: usize,
    ) -> Result<CallAnswer, InstanceError> {
        let arguments = arguments.to_string();
        let name = self.tools[index].name();
        let context = CallContext {
            tool: name.to_owned(),
            ..context
        };
        let span = tracing::info_span!(
            target: trace_context::TARGET,
            "sandbox",
            otel.name = %format_args!("sandbox {name}"),
            "capstan.instance" = self.name(),
            "capstan.plugin.tool" = name,
        );
        Ok(self
            .component
            .call_tool(sandbox, events, context, (name, &arguments, round), cap)
            .instrument(span)
            .await?)
    }

    /// Renders prompt `index` with `arguments` (and the client's answers of the previous
    /// `round`) for `context`'s caller; a prompt over `cap` bytes is refused.
    pub async fn get_prompt(
        &self,
        (index, arguments, round): (usize, &Value, Option<&types::Round>),
        context: CallContext,
        cap: usize,
    ) -> Result<Result<types::PromptAnswer, String>, InstanceError> {
        let _slot = self.gate.enter().await?;
        let arguments = arguments.to_string();
        let name = self.prompts[index].name();
        Ok(self
            .component
            .get_prompt(&self.sandbox, context, (name, &arguments, round), cap)
            .await?)
    }
}

async fn compile(
    runtime: &Runtime,
    manifest: &Manifest,
    wasm: Vec<u8>,
) -> Result<Component, LoadError> {
    let runtime = runtime.clone();
    tokio::task::spawn_blocking(move || runtime.load(&wasm))
        .await
        .map_err(|error| LoadError::Panicked(error.to_string()))?
        .map_err(|error| LoadError::Component {
            component: manifest.component.to_string(),
            error: format!("{error:#}"),
        })
}

fn sandbox(manifest: &Manifest, egress: EgressSettings) -> Result<Sandbox, LoadError> {
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
    )?
    .with_budget(
        manifest.limits.request_buffer_bytes,
        manifest.limits.max_requests_per_call,
    );
    Ok(Sandbox {
        memory_bytes: manifest.limits.memory_bytes,
        memory_total: Arc::new(tokio::sync::Semaphore::new(
            manifest.limits.memory_total_bytes,
        )),
        timeout: manifest.limits.timeout,
        config: Arc::new(config),
        egress: Arc::new(policy),
    })
}

fn serve_tools(
    manifest: &Manifest,
    tools: Vec<types::Tool>,
) -> Result<Vec<ToolDefinition>, LoadError> {
    let mut served: Vec<ToolDefinition> = Vec::with_capacity(tools.len());
    for tool in tools {
        check_name(&tool.name, "tool")?;
        if served.iter().any(|t| t.name() == tool.name) {
            return Err(LoadError::Duplicate {
                kind: "tool",
                name: tool.name,
            });
        }
        if manifest.read_only && !tool.annotations.read_only {
            continue;
        }
        let exposed = manifest.exposed_name(&tool.name);
        let name = tool.name.clone();
        let definition = ToolDefinition::new(exposed, tool)
            .map_err(|error| LoadError::Schema { tool: name, error })?;
        served.push(definition);
    }
    Ok(served)
}

fn serve_prompts(
    manifest: &Manifest,
    prompts: Vec<types::Prompt>,
) -> Result<Vec<PromptDefinition>, LoadError> {
    let mut served: Vec<PromptDefinition> = Vec::with_capacity(prompts.len());
    for prompt in prompts {
        check_name(&prompt.name, "prompt")?;
        if served.iter().any(|p| p.name() == prompt.name) {
            return Err(LoadError::Duplicate {
                kind: "prompt",
                name: prompt.name,
            });
        }
        served.push(PromptDefinition {
            exposed: manifest.exposed_name(&prompt.name),
            prompt,
        });
    }
    Ok(served)
}

fn serve_skills(
    manifest: &Manifest,
    tools: &[types::Tool],
    skills: Vec<types::Skill>,
) -> Result<Vec<SkillDefinition>, LoadError> {
    let exposed = |name: &str| {
        tools
            .iter()
            .any(|tool| tool.name == name)
            .then(|| manifest.exposed_name(name))
    };
    let mut served: Vec<SkillDefinition> = Vec::with_capacity(skills.len());
    for skill in skills {
        let name = skill.name.clone();
        if served.iter().any(|s| s.name == name) {
            return Err(LoadError::Duplicate {
                kind: "skill",
                name,
            });
        }
        let definition = skills::serve_skill(&manifest.name, skill, &exposed)
            .map_err(|error| LoadError::Skill { skill: name, error })?;
        served.push(definition);
    }
    Ok(served)
}

fn serve_resources(
    manifest: &Manifest,
    resources: Vec<types::Resource>,
    templates: Vec<types::ResourceTemplate>,
) -> Result<(Vec<ResourceDefinition>, Vec<TemplateDefinition>), LoadError> {
    let scheme = resources::scheme_of(&manifest.prefix);
    let mut served = Vec::with_capacity(resources.len());
    for resource in resources {
        let exposed = resources::exposed_uri(&resource.uri, scheme.as_deref())
            .map_err(LoadError::Resource)?;
        if served
            .iter()
            .any(|r: &ResourceDefinition| r.exposed == exposed)
        {
            return Err(LoadError::Duplicate {
                kind: "resource",
                name: resource.uri,
            });
        }
        served.push(ResourceDefinition { exposed, resource });
    }
    let mut served_templates = Vec::with_capacity(templates.len());
    for template in templates {
        let exposed = resources::exposed_uri(&template.uri_template, scheme.as_deref())
            .map_err(LoadError::Resource)?;
        served_templates.push(TemplateDefinition { exposed, template });
    }
    Ok((served, served_templates))
}

fn check_name(name: &str, kind: &'static str) -> Result<(), LoadError> {
    let valid = !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(LoadError::InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}
