//! Asking many Argo CD targets the same question: one GET per target, at most `width` in flight
//! at once. Each wave goes out through `Context::send_all`, which in a component sends its
//! requests together as `wasi:http` futures; the host's egress gives each its target's
//! credentials, `connect_timeout` and `timeout`, so a target that is down or slow fails alone.
//! Answers are read a wave at a time, in the order of the targets, and dropped once read, so
//! a fleet of large answers is never held at once. `locate` finds an application with it
//! ([`get_each`], answers read whole), `fleet` lists applications across targets
//! ([`get_each_streamed`]: each answer streams through the reader, one after another as they
//! arrive, so even a target of ten thousand applications is never held; while one is read the
//! others of the wave wait, and their time-out runs).

use std::time::Duration;

use capstan_sdk::http::{HttpError, Method, Request, Response, StreamedResponse};
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
    fan: (usize, Option<Duration>),
    path: &str,
    query: &Query,
    mut read: impl FnMut(&str, Answer) -> T,
) -> Result<Vec<T>, ToolError> {
    in_waves(context, targets, fan, path, query, |wave, requests| {
        let answers = context.send_all(requests);
        wave.iter()
            .zip(answers)
            .map(|(target, answer)| read(target, answer))
            .collect()
    })
}

/// [`get_each`], each answer handed to `read` with its body unread, to be read as it streams
/// in (`Context::send_all_streamed`), in the order the answers of a wave arrive (a slow target
/// keeps none of the others waiting); the results still come back in the order of `targets`.
/// The host holds each body to its target's `max_streamed`.
pub(crate) fn get_each_streamed<T>(
    context: &Context,
    targets: &[String],
    fan: (usize, Option<Duration>),
    path: &str,
    query: &Query,
    mut read: impl FnMut(&str, Result<StreamedResponse, HttpError>) -> T,
) -> Result<Vec<T>, ToolError> {
    in_waves(context, targets, fan, path, query, |wave, requests| {
        context.send_all_streamed(requests, |index, answer| read(&wave[index], answer))
    })
}

/// Builds the GET of each target, `width` targets a wave, hands each wave's requests to
/// `send` (which answers in the order of the wave) and reports progress after each wave when
/// there are several.
fn in_waves<T>(
    context: &Context,
    targets: &[String],
    (width, timeout): (usize, Option<Duration>),
    path: &str,
    query: &Query,
    mut send: impl FnMut(&[String], Vec<Request>) -> Vec<T>,
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
        results.extend(send(wave, requests));
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
