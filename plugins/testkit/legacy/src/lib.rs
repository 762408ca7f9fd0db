//! A plugin built against the previous plugin contract, `capstan:plugin@0.1.0` (its WIT is
//! kept in `wit/` here, word for word). It exists so that the host's handling of components
//! built against another contract version stays tested: capstan refuses to load it with a
//! message naming the version and how to rebuild.

#![allow(missing_docs)]

wit_bindgen::generate!({
    path: "wit",
    world: "capstan:plugin/plugin",
    generate_all,
});

use exports::capstan::plugin::{prompts, tools};

struct Legacy;

impl tools::Guest for Legacy {
    fn list_tools() -> Vec<tools::Tool> {
        vec![tools::Tool {
            name: "hello".into(),
            title: None,
            description: "Says hello, from a plugin built against contract 0.1.0.".into(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: capstan::plugin::types::Annotations {
                read_only: true,
                destructive: false,
                idempotent: true,
                open_world: false,
            },
        }]
    }

    fn call_tool(_name: String, _arguments: String) -> tools::CallResult {
        tools::CallResult {
            content: vec![capstan::plugin::types::Content::Text("hello".into())],
            structured: None,
            is_error: false,
        }
    }
}

impl prompts::Guest for Legacy {
    fn list_prompts() -> Vec<prompts::Prompt> {
        Vec::new()
    }

    fn get_prompt(name: String, _arguments: String) -> Result<prompts::PromptResult, String> {
        Err(format!("no prompt `{name}`"))
    }
}

export!(Legacy);
