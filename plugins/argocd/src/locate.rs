//! Finding the target that holds an application when a call names none: on an instance with
//! several Argo CD targets and no `default_target`, one GET of the application per target
//! (all in flight together, [`fanout::WIDTH`] at a time) decides. Found on one target: the call goes
//! there. Found on several: the caller is asked to choose. Found nowhere: the answer names the
//! targets checked and those that could not answer, and why.

use capstan_sdk::url::encode;
use capstan_sdk::{Context, ToolError, Value};

use crate::client::{Client, Query};
use crate::fanout::{self, Answer};

/// Whether a call with `arguments` needs its application located: it names no target (nor
/// argocd-mcp's `argocdBaseUrl`), and the instance has several targets and no default.
pub(crate) fn needed(context: &Context, arguments: &Value) -> bool {
    let config = context.config();
    arguments["target"].is_null()
        && arguments["argocdBaseUrl"].is_null()
        && config.get("default_target").is_none()
        && config.targets().len() > 1
}

/// What one target said about the application.
enum Seen {
    Found,
    Absent,
    Failed(String),
}

/// The client of the one target that holds application `name` (in `namespace`, if given).
pub(crate) fn target_of(
    context: &Context,
    name: &str,
    namespace: Option<&str>,
) -> Result<Client, ToolError> {
    let targets = context.config().targets();
    let mut query = Query::default();
    query.push_opt("appNamespace", namespace);
    let path = format!("/api/v1/applications/{}", encode(name));
    let seen = fanout::get_each(
        context,
        &targets,
        (fanout::WIDTH, None),
        &path,
        &query,
        seen_in,
    )?;
    let found: Vec<&str> = targets
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| matches!(seen, Seen::Found))
        .map(|(target, _)| target.as_str())
        .collect();
    match found.as_slice() {
        [one] => Client::for_target(context, Some(one)),
        [] => Err(nowhere(name, &targets, &seen)),
        several => Err(ToolError::new(format!(
            "application `{name}` exists on several targets ({}); pass `target` to choose one",
            several.join(", ")
        ))),
    }
}

/// What one target's answer says about the application.
fn seen_in(_target: &str, answer: Answer) -> Seen {
    match answer {
        Ok(response) if response.is_success() => Seen::Found,
        // Argo CD answers 403 for an application the token may not see as for one that
        // does not exist.
        Ok(response) if matches!(response.status, 403 | 404) => Seen::Absent,
        Ok(response) => Seen::Failed(format!("HTTP {}", response.status)),
        Err(error) => Seen::Failed(error.to_string()),
    }
}

fn nowhere(name: &str, targets: &[String], seen: &[Seen]) -> ToolError {
    let failed: Vec<String> = targets
        .iter()
        .zip(seen)
        .filter_map(|(target, seen)| match seen {
            Seen::Failed(why) => Some(format!("{target}: {why}")),
            _ => None,
        })
        .collect();
    let mut message = format!(
        "no application `{name}` on any target ({}); find its name with list_applications and \
         pass `target`",
        targets.join(", ")
    );
    if !failed.is_empty() {
        message.push_str(&format!(
            ". These targets could not answer: {}",
            failed.join("; ")
        ));
    }
    ToolError::new(message)
}
