//! `get_version`: the Argo CD server's version and the versions of the tools it bundles.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, json};

use crate::client::{Client, Query};
use crate::schema::{object, target_property};

pub(crate) fn tool() -> Tool {
    Tool::new(
        "get_version",
        "Gets the Argo CD server's version (and its bundled Helm, Kustomize and kubectl \
         versions). A cheap way to check that a target is reachable.",
    )
    .title("Get the Argo CD version")
    .input(object(json!({"target": target_property()}), &[]))
    .output(object(
        json!({
            "target": {"type": "string"},
            "version": {"type": "string", "description": "e.g. v3.5.1+109ca7c"},
            "details": {"type": "object", "description": "Argo CD's VersionMessage as served."},
        }),
        &["target", "version", "details"],
    ))
    .read_only()
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let not_found = "The target does not look like an Argo CD API server: check its URL (and path prefix) in the capstan manifest.";
    let details = client.get("/api/version", &Query::default(), not_found)?;
    let version = details["Version"].as_str().unwrap_or("unknown").to_owned();
    Ok(ToolResult::structured(json!({
        "target": client.target(),
        "version": version,
        "details": details,
    })))
}
