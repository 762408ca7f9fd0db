//! The `test://` resources, the resource template and the completions the suite reads
//! (`resources-*`, `sep-2164-resource-not-found`, `completion-complete`), with the URIs, texts
//! and MIME types of the suite's reference server.
//!
//! The plugin is loaded with an empty prefix, so the host serves these URIs unchanged.

use capstan_sdk::resources::match_template;
use capstan_sdk::{
    CompletionRef, Resource, ResourceContents, ResourceError, ResourceTemplate, Value,
};

use crate::TEST_IMAGE_PNG;

/// `resources-read-text`: a fixed text resource.
const STATIC_TEXT: &str = "test://static-text";

/// `resources-read-binary`: a fixed binary resource (the 1×1 PNG).
const STATIC_BINARY: &str = "test://static-binary";

/// `resources-subscribe` / `resources-unsubscribe`: the resource the suite subscribes to (the
/// host answers the subscriptions; the content never changes here).
const WATCHED: &str = "test://watched-resource";

/// `resources-templates-read`: reading `test://template/123/data` substitutes `123`.
const DATA_TEMPLATE: &str = "test://template/{id}/data";

/// Values offered for the `id` of [`DATA_TEMPLATE`].
const TEMPLATE_IDS: [&str; 3] = ["123", "456", "789"];

/// Values offered for `arg1` and `arg2` of `test_prompt_with_arguments` (`completion-complete`
/// completes `arg1` from `test`).
const ARGUMENT_VALUES: [&str; 6] = ["paris", "park", "party", "test", "test-value", "testing"];

/// The resources at fixed URIs.
pub fn list() -> Vec<Resource> {
    vec![
        Resource::new(STATIC_TEXT, "static-text")
            .title("Static Text Resource")
            .description("A static text resource for testing")
            .mime_type("text/plain"),
        Resource::new(STATIC_BINARY, "static-binary")
            .title("Static Binary Resource")
            .description("A static binary resource (image) for testing")
            .mime_type("image/png"),
        Resource::new(WATCHED, "watched-resource")
            .title("Watched Resource")
            .description("A resource clients subscribe to for testing; its content never changes")
            .mime_type("text/plain"),
    ]
}

/// The resource templates.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(DATA_TEMPLATE, "template")
            .title("Resource Template")
            .description("A resource template with parameter substitution")
            .mime_type("application/json"),
    ]
}

/// Reads `uri`: one of the fixed resources or a URI of the template; anything else is not found
/// (the host answers -32602 with the URI).
pub fn read(uri: &str) -> Result<Vec<ResourceContents>, ResourceError> {
    let contents = match uri {
        STATIC_TEXT => ResourceContents::text(
            uri,
            "text/plain",
            "This is the content of the static text resource.",
        ),
        STATIC_BINARY => ResourceContents::blob(uri, "image/png", TEST_IMAGE_PNG),
        WATCHED => ResourceContents::text(uri, "text/plain", "Watched resource content"),
        _ => match match_template(DATA_TEMPLATE, uri) {
            Some(variables) => {
                let id = variables.get("id").map(String::as_str).unwrap_or_default();
                ResourceContents::text(uri, "application/json", template_data(id))
            }
            None => {
                return Err(ResourceError::NotFound(format!(
                    "no resource at {uri}; this plugin serves {STATIC_TEXT}, {STATIC_BINARY}, \
                     {WATCHED} and {DATA_TEMPLATE}"
                )));
            }
        },
    };
    Ok(vec![contents])
}

/// The JSON text of the template's resource for `id`, with the reference server's key order
/// (`{"id":...,"templateTest":true,"data":"Data for ID: ..."}`).
fn template_data(id: &str) -> String {
    let quoted = |text: &str| Value::String(text.to_owned()).to_string();
    format!(
        "{{\"id\":{},\"templateTest\":true,\"data\":{}}}",
        quoted(id),
        quoted(&format!("Data for ID: {id}"))
    )
}

/// Completions: `arg1`/`arg2` of `test_prompt_with_arguments`, `resourceUri` of
/// `test_prompt_with_embedded_resource` and `id` of the template, matching `value` as a
/// case-insensitive prefix.
pub fn complete(reference: &CompletionRef, argument: &str, value: &str) -> Vec<String> {
    let candidates: Vec<&str> = match (reference, argument) {
        (CompletionRef::Prompt(prompt), "arg1" | "arg2")
            if prompt == "test_prompt_with_arguments" =>
        {
            ARGUMENT_VALUES.to_vec()
        }
        (CompletionRef::Prompt(prompt), "resourceUri")
            if prompt == "test_prompt_with_embedded_resource" =>
        {
            vec![STATIC_TEXT, STATIC_BINARY, WATCHED]
        }
        (CompletionRef::ResourceTemplate(template), "id") if template == DATA_TEMPLATE => {
            TEMPLATE_IDS.to_vec()
        }
        _ => Vec::new(),
    };
    let prefix = value.to_lowercase();
    candidates
        .into_iter()
        .filter(|candidate| candidate.to_lowercase().starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_resources_read_as_the_reference_server_answers() {
        let text = read(STATIC_TEXT).unwrap();
        assert_eq!(
            text[0].as_text(),
            Some("This is the content of the static text resource.")
        );
        let binary = read(STATIC_BINARY).unwrap();
        assert_eq!(binary[0].as_text(), None, "a blob, not text");
        assert!(read(WATCHED).is_ok());
        assert_eq!(list().len(), 3, "the three URIs above, no more");
    }

    #[test]
    fn the_template_substitutes_its_id_in_the_reference_json() {
        let data = read("test://template/123/data").unwrap();
        assert_eq!(
            data[0].as_text(),
            Some(r#"{"id":"123","templateTest":true,"data":"Data for ID: 123"}"#)
        );
        let odd = read(r#"test://template/a"b/data"#).unwrap();
        let parsed: Value = serde_json::from_str(odd[0].as_text().unwrap()).unwrap();
        assert_eq!(
            parsed["id"], r#"a"b"#,
            "an id with a quote stays valid JSON"
        );
    }

    #[test]
    fn an_unknown_uri_is_not_found() {
        let error = read("test://nonexistent-resource-for-conformance-testing").unwrap_err();
        assert!(
            matches!(error, ResourceError::NotFound(message) if message.contains("test://static-text"))
        );
        assert!(read("test://template//data").is_err());
    }

    #[test]
    fn completions_match_by_prefix() {
        let prompt = CompletionRef::Prompt("test_prompt_with_arguments".into());
        assert_eq!(
            complete(&prompt, "arg1", "test"),
            ["test", "test-value", "testing"]
        );
        assert_eq!(complete(&prompt, "arg2", "PAR"), ["paris", "park", "party"]);
        assert!(complete(&prompt, "other", "").is_empty());
        let template = CompletionRef::ResourceTemplate(DATA_TEMPLATE.into());
        assert_eq!(complete(&template, "id", "4"), ["456"]);
        let embedded = CompletionRef::Prompt("test_prompt_with_embedded_resource".into());
        assert_eq!(
            complete(&embedded, "resourceUri", "test://static-t"),
            [STATIC_TEXT]
        );
    }
}
