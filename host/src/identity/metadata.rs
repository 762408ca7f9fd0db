//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document clients read to find the
//! authorization server, where it is served, and the `resource_metadata` URL named in
//! `WWW-Authenticate` challenges.

use serde_json::{Value, json};
use url::Url;

use super::settings::OAuthSettings;

/// The well-known prefix of RFC 9728.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// capstan's protected resource metadata.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    document: Value,
    url: String,
    paths: Vec<String>,
}

impl ProtectedResource {
    /// The metadata for the resource `settings.audience`.
    pub fn new(settings: &OAuthSettings) -> Self {
        let document = json!({
            "resource": settings.audience,
            "authorization_servers": settings.authorization_servers,
            "scopes_supported": settings.scopes_supported,
            "bearer_methods_supported": ["header"],
            "resource_name": "capstan",
        });
        let suffix = resource_path(&settings.audience);
        let mut paths = vec![WELL_KNOWN.to_owned()];
        if !suffix.is_empty() {
            paths.push(format!("{WELL_KNOWN}{suffix}"));
        }
        Self {
            document,
            url: metadata_url(&settings.audience),
            paths,
        }
    }

    /// The JSON document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Where clients fetch it: the `resource_metadata` of challenges.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The paths it is served at on capstan: the plain well-known path and, when the resource
    /// has a path, the path-suffixed form.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }
}

/// The metadata URL of a resource: the well-known prefix inserted between host and path
/// (`https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`).
pub fn metadata_url(resource: &str) -> String {
    match Url::parse(resource) {
        Ok(url) => {
            let origin = url.origin().ascii_serialization();
            format!("{origin}{WELL_KNOWN}{}", resource_path(resource))
        }
        Err(_) => WELL_KNOWN.to_owned(),
    }
}

/// The resource's path without a trailing slash (`""` for the root).
fn resource_path(resource: &str) -> String {
    Url::parse(resource)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_inserts_the_well_known_prefix_before_the_path() {
        assert_eq!(
            metadata_url("https://capstan.example.com/mcp"),
            "https://capstan.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://capstan.example.com:8443/"),
            "https://capstan.example.com:8443/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8931/tools/mcp/"),
            "http://127.0.0.1:8931/.well-known/oauth-protected-resource/tools/mcp"
        );
    }

    #[test]
    fn the_document_names_the_resource_and_its_servers() {
        let settings = OAuthSettings {
            issuer: "https://idp.example.com".into(),
            audience: "https://capstan.example.com/mcp".into(),
            required_scopes: vec!["capstan".into()],
            jwks_uri: None,
            groups_claim: "groups".into(),
            name_claim: None,
            client_id_claim: None,
            leeway: std::time::Duration::from_secs(30),
            jwks_refresh_interval: std::time::Duration::from_secs(60),
            authorization_servers: vec!["https://idp.example.com".into()],
            scopes_supported: vec!["capstan".into()],
        };
        let resource = ProtectedResource::new(&settings);
        assert_eq!(
            resource.document(),
            &json!({
                "resource": "https://capstan.example.com/mcp",
                "authorization_servers": ["https://idp.example.com"],
                "scopes_supported": ["capstan"],
                "bearer_methods_supported": ["header"],
                "resource_name": "capstan",
            })
        );
        assert_eq!(
            resource.paths(),
            [
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/mcp"
            ]
        );
    }
}
