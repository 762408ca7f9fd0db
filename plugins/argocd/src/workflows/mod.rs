//! The workflows as tools: several Argo CD calls an agent would otherwise chain by hand.
//!
//! - `directories`: create_applications_from_directories (dry run by default)
//! - `deploy`: deploy_and_watch (sync, follow with progress, optional rollback)
//! - `diagnose`: diagnose_application (collect evidence, name recognised causes)

pub(crate) mod deploy;
pub(crate) mod diagnose;
pub(crate) mod directories;

use capstan_sdk::{Tool, ToolError, ToolResult, Value};

pub(crate) fn tools() -> Vec<Tool> {
    vec![directories::tool(), deploy::tool(), diagnose::tool()]
}

pub(crate) fn call(tool: &str, arguments: &Value) -> Option<Result<ToolResult, ToolError>> {
    Some(match tool {
        "create_applications_from_directories" => directories::call(arguments),
        "deploy_and_watch" => deploy::call(arguments),
        "diagnose_application" => diagnose::call(arguments),
        _ => return None,
    })
}
