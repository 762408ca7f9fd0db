//! Resources, resource templates, completions and skills from the registry, in MCP.
//!
//! Resources and templates are the plugins' own, under each instance's URI scheme
//! ([`crate::registry::resources`]); reading one runs its plugin like a tool call. Skills
//! (SEP-2640) are served from what the plugins ship, rendered at load: `skills/list` and
//! `skills/get` give each skill's front matter and its files with their digests, and
//! `resources/read` serves the files.

use std::sync::Arc;

use rmcp::model::{
    CacheScope, CompleteRequestParams, CompleteResult, CompletionInfo, ErrorData,
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Reference, Resource,
    ResourceContents, ResourceTemplate, Skill, SkillFrontmatter, SkillResource, SkillResources,
};
use serde_json::{Map, Value};

use super::convert;
use crate::egress::CallContext;
use crate::registry::{Instance, InstanceError, SkillDefinition, Snapshot, resources};
use crate::runtime::types;

/// The MIME type of skill files.
const MARKDOWN: &str = "text/markdown";

/// Every resource at a fixed URI, sorted by URI.
pub fn list_resources(snapshot: &Snapshot) -> ListResourcesResult {
    let mut listed: Vec<Resource> = snapshot
        .instances()
        .iter()
        .flat_map(|instance| instance.resources())
        .map(|served| {
            let declared = &served.resource;
            let mut resource = Resource::new(&served.exposed, &declared.name);
            resource.title.clone_from(&declared.title);
            resource.description.clone_from(&declared.description);
            resource.mime_type.clone_from(&declared.mime_type);
            resource
        })
        .collect();
    listed.sort_by(|a, b| a.uri.cmp(&b.uri));
    ListResourcesResult::with_all_items(listed)
        .with_ttl_ms(STABLE_TTL_MS)
        .with_cache_scope(CacheScope::Public)
}

/// Every resource template, sorted by template.
pub fn list_templates(snapshot: &Snapshot) -> ListResourceTemplatesResult {
    let mut listed: Vec<ResourceTemplate> = snapshot
        .instances()
        .iter()
        .flat_map(|instance| instance.templates())
        .map(|served| {
            let declared = &served.template;
            let mut template = ResourceTemplate::new(&served.exposed, &declared.name);
            template.title.clone_from(&declared.title);
            template.description.clone_from(&declared.description);
            template.mime_type.clone_from(&declared.mime_type);
            template
        })
        .collect();
    listed.sort_by(|a, b| a.uri_template.cmp(&b.uri_template));
    ListResourceTemplatesResult::with_all_items(listed)
        .with_ttl_ms(STABLE_TTL_MS)
        .with_cache_scope(CacheScope::Public)
}

/// Where `uri` is served: a skill file, or a plugin's resource.
pub enum Located {
    /// A skill file's text.
    SkillFile(String),
    /// A plugin resource: its instance and the plugin's form of the URI.
    Plugin(Arc<Instance>, String),
}

/// Where `uri` is served; `-32602` with the URI when nowhere (SEP-2164).
pub fn locate(snapshot: &Snapshot, uri: &str) -> Result<Located, ErrorData> {
    if let Some(file) = snapshot.skill_file(uri) {
        return Ok(Located::SkillFile(file.content.clone()));
    }
    match snapshot.resource(uri) {
        Some((instance, own)) => Ok(Located::Plugin(instance.clone(), own)),
        None => Err(not_found(
            uri,
            "no resource has this URI; call resources/list and resources/templates/list to see what this server serves",
        )),
    }
}

/// A skill file as the contents of a read.
pub fn skill_file(uri: &str, text: String) -> ReadResourceResult {
    ReadResourceResult::new(vec![ResourceContents::TextResourceContents {
        uri: uri.to_owned(),
        mime_type: Some(MARKDOWN.into()),
        text,
        meta: None,
    }])
    .with_ttl_ms(STABLE_TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

/// How long lists and skill files may be cached: they change only when a plugin reloads, and
/// clients are told when (`list_changed`).
const STABLE_TTL_MS: u64 = 60_000;

/// Reads `own` (the plugin's form of `uri`) from `instance` for `context`'s caller.
pub async fn read_plugin_resource(
    instance: &Instance,
    (uri, own): (&str, &str),
    context: CallContext,
    cap: usize,
) -> Result<ReadResourceResult, ErrorData> {
    let read = instance
        .read_resource(own, context, cap)
        .await
        .map_err(|error| failed(instance, uri, &error))?;
    let scheme = resources::scheme_of(&instance.manifest().prefix);
    match read {
        Ok(contents) => Ok(ReadResourceResult::new(
            contents
                .into_iter()
                .map(|mut item| {
                    item.uri = resources::exposed_uri(&item.uri, scheme.as_deref())
                        .unwrap_or_else(|_| uri.to_owned());
                    convert::resource_contents(item)
                })
                .collect(),
        )
        // Live upstream state, read for this caller: never shared, never reused.
        .with_ttl_ms(0)
        .with_cache_scope(CacheScope::Private)),
        Err(types::ResourceError::NotFound(message)) => Err(not_found(uri, &message)),
        Err(types::ResourceError::Failed(message)) => Err(ErrorData::internal_error(
            format!("reading {uri} failed: {message}"),
            None,
        )),
    }
}

fn failed(instance: &Instance, uri: &str, error: &InstanceError) -> ErrorData {
    ErrorData::internal_error(
        format!(
            "reading {uri} from plugin instance `{}` failed: {error}",
            instance.name()
        ),
        None,
    )
}

fn not_found(uri: &str, message: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("resource not found: {uri}: {message}"),
        Some(serde_json::json!({"uri": uri})),
    )
}

/// What a completion request is about, resolved to an instance and the plugin's names.
pub fn completion_target(
    snapshot: &Snapshot,
    request: &CompleteRequestParams,
) -> Option<(Arc<Instance>, types::CompletionRef)> {
    match &request.r#ref {
        Reference::Prompt(prompt) => {
            let entry = snapshot.prompt(&prompt.name)?;
            let name = entry.instance.prompts()[entry.index].name().to_owned();
            Some((entry.instance.clone(), types::CompletionRef::Prompt(name)))
        }
        Reference::Resource(template) => snapshot.instances().iter().find_map(|instance| {
            let served = instance.template_for(&template.uri)?;
            let own = served.template.uri_template.clone();
            Some((
                instance.clone(),
                types::CompletionRef::ResourceTemplate(own),
            ))
        }),
        _ => None,
    }
}

/// The arguments a completion request says are already chosen, as a JSON object.
pub fn chosen_arguments(request: &CompleteRequestParams) -> Value {
    let chosen: Map<String, Value> = request
        .context
        .as_ref()
        .and_then(|context| context.arguments.as_ref())
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    Value::Object(chosen)
}

/// Completion values as MCP's result.
pub fn completion(values: Vec<String>) -> CompleteResult {
    let info = CompletionInfo::new(values).unwrap_or_default();
    CompleteResult::new(info)
}

/// Every skill, sorted by URI.
pub fn list_skills(snapshot: &Snapshot) -> Vec<Skill> {
    let mut skills: Vec<Skill> = snapshot
        .instances()
        .iter()
        .flat_map(|instance| instance.skills())
        .map(skill)
        .collect();
    skills.sort_by(|a, b| a.uri.cmp(&b.uri));
    skills
}

/// A served skill as MCP's skill entry.
pub fn skill(definition: &SkillDefinition) -> Skill {
    let mut frontmatter = SkillFrontmatter::new(&definition.name, definition.description());
    for (key, value) in &definition.frontmatter {
        if key != "name" && key != "description" {
            frontmatter = frontmatter.with_field(key.clone(), value.clone());
        }
    }
    let files = definition
        .files
        .iter()
        .map(|file| SkillResource::new(&file.uri, &file.digest, file.content.len() as u64))
        .collect();
    Skill::new(&definition.uri, frontmatter, SkillResources::Files(files))
}
