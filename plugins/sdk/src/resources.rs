//! Resources a plugin serves: fixed URIs ([`Resource`]) and URI templates
//! ([`ResourceTemplate`]), read with [`Plugin::read_resource`](crate::Plugin::read_resource),
//! and completions of their variables and of prompt arguments ([`CompletionRef`]).
//!
//! URIs are written in the plugin's own scheme (`argocd://{target}/applications/{name}`); the
//! host serves them with the instance's prefix as the scheme and hands `read_resource` the
//! plugin's own form back. [`match_template`] extracts a template's variables from a URI.

use std::collections::BTreeMap;

use crate::bindings::capstan::plugin::types;

/// A resource at a fixed URI.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    uri: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    mime_type: Option<String>,
}

impl Resource {
    /// The resource `name` at `uri`.
    pub fn new(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// What it holds.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The MIME type of its contents.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    pub(crate) fn into_wit(self) -> types::Resource {
        types::Resource {
            uri: self.uri,
            name: self.name,
            title: self.title,
            description: self.description,
            mime_type: self.mime_type,
        }
    }
}

/// A family of resources addressed by a level-1 URI template (`{name}` expressions).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTemplate {
    uri_template: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    mime_type: Option<String>,
}

impl ResourceTemplate {
    /// The template `name` for `uri_template`.
    pub fn new(uri_template: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            uri_template: uri_template.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
        }
    }

    /// A human-readable title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// What the resources hold.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The MIME type of their contents.
    pub fn mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }

    /// The template.
    pub fn uri_template(&self) -> &str {
        &self.uri_template
    }

    pub(crate) fn into_wit(self) -> types::ResourceTemplate {
        types::ResourceTemplate {
            uri_template: self.uri_template,
            name: self.name,
            title: self.title,
            description: self.description,
            mime_type: self.mime_type,
        }
    }
}

/// The contents of a read resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContents {
    uri: String,
    mime_type: Option<String>,
    body: Body,
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Text(String),
    Blob(String),
}

impl ResourceContents {
    /// Text contents of `uri`.
    pub fn text(uri: impl Into<String>, mime_type: &str, text: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: Some(mime_type.to_owned()),
            body: Body::Text(text.into()),
        }
    }

    /// Binary contents of `uri`, already base64-encoded.
    pub fn blob(uri: impl Into<String>, mime_type: &str, base64: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            mime_type: Some(mime_type.to_owned()),
            body: Body::Blob(base64.into()),
        }
    }

    /// The text, for text contents.
    pub fn as_text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(text) => Some(text),
            Body::Blob(_) => None,
        }
    }

    pub(crate) fn into_wit(self) -> types::EmbeddedResource {
        types::EmbeddedResource {
            uri: self.uri,
            mime_type: self.mime_type,
            contents: match self.body {
                Body::Text(text) => types::ResourceContents::Text(text),
                Body::Blob(blob) => types::ResourceContents::Blob(blob),
            },
        }
    }
}

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceError {
    /// No resource has the URI; the message says what exists.
    NotFound(String),
    /// It could not be read now; the message says what to do.
    Failed(String),
}

impl ResourceError {
    pub(crate) fn into_wit(self) -> types::ResourceError {
        match self {
            ResourceError::NotFound(message) => types::ResourceError::NotFound(message),
            ResourceError::Failed(message) => types::ResourceError::Failed(message),
        }
    }
}

impl From<crate::ToolError> for ResourceError {
    fn from(error: crate::ToolError) -> Self {
        ResourceError::Failed(error.message().to_owned())
    }
}

/// What a completion is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionRef {
    /// An argument of the prompt with this name.
    Prompt(String),
    /// A variable of the resource template with this URI template.
    ResourceTemplate(String),
}

impl CompletionRef {
    pub(crate) fn from_wit(reference: types::CompletionRef) -> Self {
        match reference {
            types::CompletionRef::Prompt(name) => CompletionRef::Prompt(name),
            types::CompletionRef::ResourceTemplate(uri) => CompletionRef::ResourceTemplate(uri),
        }
    }
}

/// Reads `uri`, one of `template`'s resources, by running a tool's `handler`: each template
/// variable becomes the argument `arguments` maps it to (`(variable, argument)` pairs), and
/// the tool's structured answer becomes the JSON contents. A tool error is not-found, with the
/// tool's message (what does not exist and how to find what does).
pub fn read_with_tool(
    ctx: &crate::Context,
    (uri, template): (&str, &str),
    arguments: &[(&str, &str)],
    handler: crate::Handler,
) -> Result<Vec<ResourceContents>, ResourceError> {
    let Some(variables) = match_template(template, uri) else {
        return Err(ResourceError::NotFound(format!(
            "this plugin serves {template} only"
        )));
    };
    let mut call = serde_json::Map::new();
    for (variable, argument) in arguments {
        if let Some(value) = variables.get(*variable) {
            call.insert(
                (*argument).to_owned(),
                serde_json::Value::String(value.clone()),
            );
        }
    }
    let answer = handler(ctx, &serde_json::Value::Object(call))
        .map_err(|error| ResourceError::NotFound(error.message().to_owned()))?;
    if answer.is_error() {
        let message: Vec<&str> = answer
            .content()
            .iter()
            .filter_map(|block| match block {
                crate::Content::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        return Err(ResourceError::NotFound(message.join("\n")));
    }
    let json = answer
        .structured_content()
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    Ok(vec![ResourceContents::text(
        uri,
        "application/json",
        json.to_string(),
    )])
}

/// The variables of `template` (level 1: `{name}` expressions) in `uri`, when `uri` matches
/// it; a variable matches one or more characters other than `/`, `?` and `#`.
pub fn match_template(template: &str, uri: &str) -> Option<BTreeMap<String, String>> {
    let mut variables = BTreeMap::new();
    let mut rest = uri;
    let mut pattern = template;
    while !pattern.is_empty() {
        match pattern.find('{') {
            Some(0) => {
                let end = pattern.find('}')?;
                let name = &pattern[1..end];
                pattern = &pattern[end + 1..];
                let stop = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                // The next literal bounds the variable when it does not start with a stop.
                let literal_end = pattern.find('{').unwrap_or(pattern.len());
                let literal = &pattern[..literal_end];
                let taken = match literal.chars().next() {
                    Some(c) if !matches!(c, '/' | '?' | '#') => rest[..stop].find(literal)?,
                    _ => stop,
                };
                if taken == 0 {
                    return None;
                }
                variables.insert(name.to_owned(), rest[..taken].to_owned());
                rest = &rest[taken..];
            }
            found => {
                let literal_end = found.unwrap_or(pattern.len());
                rest = rest.strip_prefix(&pattern[..literal_end])?;
                pattern = &pattern[literal_end..];
            }
        }
    }
    rest.is_empty().then_some(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_yields_its_variables_or_nothing() {
        let t = "argocd://{target}/applications/{name}";
        let got = match_template(t, "argocd://prod/applications/guestbook").unwrap();
        assert_eq!(got["target"], "prod");
        assert_eq!(got["name"], "guestbook");
        assert!(match_template(t, "argocd://prod/applications/").is_none());
        assert!(match_template(t, "argocd://prod/applications/a/b").is_none());
        assert!(match_template(t, "flux://prod/applications/a").is_none());
        let data = match_template("test://template/{id}/data", "test://template/42/data").unwrap();
        assert_eq!(data["id"], "42");
    }
}
