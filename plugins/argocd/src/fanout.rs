//! Asking many Argo CD targets the same question: one GET per target, at most `width` in flight
//! at once. Each wave goes out through `Context::send_all`, which in a component sends its
//! requests together as `wasi:http` futures; the host's egress gives each its target's
//! credentials, `connect_timeout` and `timeout`, so a target that is down or slow fails alone.
//! Answers are read a wave at a time, in the order of the targets, and dropped once read, so
//! a fleet of large answers is never held at once. `locate` finds an application with it,
//! `fleet` lists applications across targets.

use std::time::Duration;

use capstan_sdk::http::{HttpError, Method, Response};
use capstan_sdk::{Context, ToolError};

use crate::client::{Client, Query};

/// Targets asked at once unless the call or the manifest says otherwise.
pub(crate) const WIDTH: usize = 16;

/// What one target answered: its response, or why none came.
pub(crate) type Answer = Result<Response, HttpError>;

/// GETs `path?query` (already encoded, from the API root) on each of `targets`, `width` at a
/// time, each given up after `timeout` when one is set (a target's own `timeout` in the
/// manifest bounds it too), and hands each answer to `read` with the target's name; the results
/// come back in the order of `targets`. With more than one wave, progress is reported after
/// each.
pub(crate) fn get_each<T>(
    context: &Context,
    targets: &[String],
    (width, timeout): (usize, Option<Duration>),
    path: &str,
    query: &Query,
    mut read: impl FnMut(&str, Answer) -> T,
) -> Result<Vec<T>, ToolError> {
    let width = width.max(1);
    let mut results = Vec::with_capacity(targets.len());
    for wave in targets.chunks(width) {
        let requests = wave
            .iter()
            .map(|target| {
                let client = Client::for_target(context, Some(target))?;
                let request = client.request(Method::GET, path, query, None);
                Ok(match timeout {
                    Some(timeout) => request.timeout(timeout),
                    None => request,
                })
            })
            .collect::<Result<Vec<_>, ToolError>>()?;
        let answers = context.send_all(requests);
        results.extend(
            wave.iter()
                .zip(answers)
                .map(|(target, answer)| read(target, answer)),
        );
        if targets.len() > width {
            let done = results.len();
            context.progress(
                done as f64,
                Some(targets.len() as f64),
                Some(&format!("{done} of {} targets answered", targets.len())),
            );
        }
    }
    Ok(results)
}
