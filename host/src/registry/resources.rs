//! The resources and resource templates an instance serves, under URIs of its own.
//!
//! A plugin writes URIs in its own scheme (`argocd://{target}/applications/{name}`); an
//! instance serves them with its prefix as the scheme (`_` becoming `-`), so two instances of
//! one plugin never share a URI, and an instance with an empty prefix keeps the plugin's
//! scheme. [`plugin_uri`] maps a requested URI back to the plugin's form for `read-resource`;
//! [`matches_template`] tells which template a URI belongs to (RFC 6570 level 1).

use crate::runtime::types;

/// A resource as served: its URI for clients, and the plugin's declaration.
#[derive(Debug, Clone)]
pub struct ResourceDefinition {
    /// The URI clients read.
    pub exposed: String,
    /// What the plugin declared.
    pub resource: types::Resource,
}

/// A resource template as served: its template for clients, and the plugin's declaration.
#[derive(Debug, Clone)]
pub struct TemplateDefinition {
    /// The template clients see.
    pub exposed: String,
    /// What the plugin declared.
    pub template: types::ResourceTemplate,
}

/// The scheme an instance with `prefix` serves its resources under; `None` keeps the plugin's.
pub fn scheme_of(prefix: &str) -> Option<String> {
    (!prefix.is_empty()).then(|| prefix.replace('_', "-"))
}

/// `uri` (the plugin's form) as served under `scheme`; an error says what is wrong with it.
pub fn exposed_uri(uri: &str, scheme: Option<&str>) -> Result<String, String> {
    let Some((own, rest)) = uri.split_once("://") else {
        return Err(format!("`{uri}` is not a URI of the form SCHEME://..."));
    };
    let valid_scheme = own.starts_with(|c: char| c.is_ascii_alphabetic())
        && own
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(format!("`{uri}` has an invalid scheme `{own}`"));
    }
    if uri.len() > 1024 || uri.chars().any(char::is_control) {
        return Err(format!(
            "`{uri}` is longer than 1024 bytes or holds control characters"
        ));
    }
    Ok(match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => uri.to_owned(),
    })
}

/// The plugin's form of `requested`, served from a plugin URI with scheme `own` under
/// `scheme`; `None` when `requested` is not under `scheme`.
pub fn plugin_uri(requested: &str, own: &str, scheme: Option<&str>) -> Option<String> {
    let (asked, rest) = requested.split_once("://")?;
    match scheme {
        Some(scheme) if asked == scheme => Some(format!("{own}://{rest}")),
        None if asked == own => Some(requested.to_owned()),
        _ => None,
    }
}

/// The scheme of a plugin URI or template.
pub fn scheme(uri: &str) -> &str {
    uri.split_once("://").map_or("", |(scheme, _)| scheme)
}

/// Whether `uri` is one of the URIs `template` describes: each `{name}` stands for one or
/// more characters other than `/`, `?` and `#`.
pub fn matches_template(template: &str, uri: &str) -> bool {
    template_values(template, uri).is_some()
}

/// The value of each `{name}` of `template` in `uri`, in order; `None` when `uri` is not one of
/// the URIs `template` describes (see [`matches_template`]).
pub fn template_values<'u>(template: &str, uri: &'u str) -> Option<Vec<(String, &'u str)>> {
    let mut values = Vec::new();
    let mut rest = uri;
    let mut pattern = template;
    while !pattern.is_empty() {
        if let Some(after) = pattern.strip_prefix('{') {
            let end = after.find('}')?;
            let name = &after[..end];
            pattern = &after[end + 1..];
            let stop = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let literal = &pattern[..pattern.find('{').unwrap_or(pattern.len())];
            let taken = match literal.chars().next() {
                Some(c) if !matches!(c, '/' | '?' | '#') => rest[..stop].find(literal)?,
                _ => stop,
            };
            if taken == 0 {
                return None;
            }
            values.push((name.to_owned(), &rest[..taken]));
            rest = &rest[taken..];
        } else {
            let literal_end = pattern.find('{').unwrap_or(pattern.len());
            rest = rest.strip_prefix(&pattern[..literal_end])?;
            pattern = &pattern[literal_end..];
        }
    }
    rest.is_empty().then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_serves_its_resources_under_its_prefix() {
        let scheme = scheme_of("prod_argocd");
        let uri = "argocd://{target}/applications/{name}";
        let exposed = exposed_uri(uri, scheme.as_deref()).unwrap();
        assert_eq!(exposed, "prod-argocd://{target}/applications/{name}");
        assert_eq!(
            exposed_uri("test://static-text", None).unwrap(),
            "test://static-text"
        );
        assert!(exposed_uri("no-scheme", None).is_err());
        assert!(exposed_uri("1x://a", None).is_err());
    }

    #[test]
    fn a_requested_uri_maps_back_to_the_plugins_form_only_under_its_scheme() {
        let back = plugin_uri(
            "prod-argocd://a/applications/b",
            "argocd",
            Some("prod-argocd"),
        );
        assert_eq!(back.as_deref(), Some("argocd://a/applications/b"));
        assert_eq!(
            plugin_uri("argocd://a/b", "argocd", Some("prod-argocd")),
            None
        );
        assert_eq!(
            plugin_uri("test://x", "test", None).as_deref(),
            Some("test://x")
        );
    }

    #[test]
    fn templates_match_one_segment_per_variable() {
        let t = "argocd://{target}/applications/{name}";
        assert!(matches_template(t, "argocd://prod/applications/guestbook"));
        assert!(!matches_template(t, "argocd://prod/applications/a/b"));
        assert!(!matches_template(t, "argocd://prod/applications/"));
        assert!(!matches_template(t, "argocd://prod/projects/x"));
        assert!(matches_template(
            "test://template/{id}/data",
            "test://template/7/data"
        ));
        assert!(matches_template("flux://{t}/{kind}.{v}", "flux://a/b.c"));
    }

    #[test]
    fn a_template_gives_the_value_of_each_variable() {
        let values = template_values(
            "prod://{target}/applications/{name}",
            "prod://eu/applications/web",
        )
        .unwrap();
        assert_eq!(
            values,
            [("target".to_owned(), "eu"), ("name".to_owned(), "web")]
        );
        assert!(template_values("prod://{target}/x", "prod://eu/y").is_none());
    }
}
