//! Who capstan is to Argo CD and what it may do: `get_user_info` (the session's user and
//! groups) and `can_i` (an RBAC check before an action, e.g. `sync` on `payments/*`).

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, args, json};

use crate::client::{Client, Query};
use crate::schema::{object, target_property};
use capstan_sdk::url::segment;

pub(crate) fn user_tool() -> Tool {
    Tool::new(
        "get_user_info",
        "Tells which Argo CD user (and groups) this target's credentials act as, and whether the \
         session is logged in. Use it when requests are refused, before asking for permissions.",
    )
    .title("Get the Argo CD user")
    .input(object(json!({"target": target_property()}), &[]))
    .output(object(json!({"target": {"type": "string"}, "loggedIn": {"type": "boolean"}, "username": {"type": "string"},
                          "issuer": {"type": "string"}, "groups": {"type": "array", "items": {"type": "string"}}}),
                   &["target", "loggedIn"]))
    .read_only()
}

pub(crate) fn user(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let info = client.get(
        "/api/v1/session/userinfo",
        &Query::default(),
        "Check the target's URL.",
    )?;
    Ok(ToolResult::structured(json!({
        "target": client.target(), "loggedIn": info["loggedIn"].as_bool().unwrap_or(false),
        "username": info["username"].as_str().unwrap_or_default(), "issuer": info["iss"].as_str().unwrap_or_default(),
        "groups": info["groups"].as_array().cloned().unwrap_or_default(),
    })))
}

pub(crate) fn can_i_tool() -> Tool {
    Tool::new(
        "can_i",
        "Checks Argo CD RBAC before acting: may this target's user perform `action` on \
         `resource`, for `object` (for applications `<project>/<application>`, wildcards allowed)? \
         E.g. resource `applications`, action `sync`, object `payments/payments-api`.",
    )
    .title("Check an Argo CD permission")
    .input(object(
        json!({"target": target_property(),
               "resource": {"type": "string", "enum": ["applications", "applicationsets", "clusters", "projects",
                                                        "repositories", "accounts", "certificates", "gpgkeys", "logs", "exec", "extensions"]},
               "action": {"type": "string", "minLength": 1, "maxLength": 64,
                          "description": "get, create, update, delete, sync, override, action/<group>/<kind>/<name>, …"},
               "object": {"type": "string", "minLength": 1, "maxLength": 512,
                          "description": "What the action is on, e.g. `payments/payments-api` or `*`."}}),
        &["resource", "action", "object"],
    ))
    .output(object(json!({"target": {"type": "string"}, "allowed": {"type": "boolean"}, "resource": {"type": "string"},
                          "action": {"type": "string"}, "object": {"type": "string"}}),
                   &["target", "allowed", "resource", "action", "object"]))
    .read_only()
}

pub(crate) fn can_i(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let client = Client::for_call(ctx, arguments)?;
    let [resource, action, object] =
        ["resource", "action", "object"].map(|name| args::str(arguments, name).unwrap_or_default());
    let path = format!(
        "/api/v1/account/can-i/{}/{}/{}",
        segment(resource)?,
        segment(action)?,
        segment(object)?
    );
    let answer = client.get(&path, &Query::default(), "Check the target's URL.")?;
    Ok(ToolResult::structured(json!({
        "target": client.target(), "allowed": answer["value"] == "yes",
        "resource": resource, "action": action, "object": object,
    })))
}
