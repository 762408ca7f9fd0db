//! Finding the target that holds an application when a call names none: on an instance with
//! several Argo CD targets and no `default_target`, one GET of the application per target
//! (all in flight together, [`BATCH`] at a time) decides. Found on one target: the call goes
//! there. Found on several: the caller is asked to choose. Found nowhere: the answer names the
//! targets checked and those that could not answer, and why.

use capstan_sdk::http::Method;
use capstan_sdk::url::encode;
use capstan_sdk::{Context, ToolError, Value};

use crate::client::{Client, Query};

/// Targets asked at once.
const BATCH: usize = 16;

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
    let mut seen = Vec::with_capacity(targets.len());
    for batch in targets.chunks(BATCH) {
        seen.extend(ask(context, batch, &path, &query)?);
    }
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

/// GETs `path?query` on each of `targets` at once.
fn ask(
    context: &Context,
    targets: &[String],
    path: &str,
    query: &Query,
) -> Result<Vec<Seen>, ToolError> {
    let requests = targets
        .iter()
        .map(|target| {
            let client = Client::for_target(context, Some(target))?;
            Ok(client.request(Method::GET, path, query, None))
        })
        .collect::<Result<Vec<_>, ToolError>>()?;
    let answers = context.send_all(requests);
    Ok(answers
        .into_iter()
        .map(|answer| match answer {
            Ok(response) if response.is_success() => Seen::Found,
            // Argo CD answers 403 for an application the token may not see as for one that
            // does not exist.
            Ok(response) if matches!(response.status, 403 | 404) => Seen::Absent,
            Ok(response) => Seen::Failed(format!("HTTP {}", response.status)),
            Err(error) => Seen::Failed(error.to_string()),
        })
        .collect())
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
