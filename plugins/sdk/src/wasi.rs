//! The [`Transport`] of a plugin running as a component: requests over `wasi:http` (checked and
//! authenticated by the host's egress gate), settings from `wasi:config`, progress and log lines
//! through the host interface, and WASI's clocks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::Transport;
use crate::bindings::capstan::plugin::host as imports;
use crate::bindings::wasi::config::store;
use crate::host::Level;
use crate::http::{HttpError, Request, Response};

/// Talks to the host through the component's imports.
pub struct WasiTransport;

impl Transport for WasiTransport {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        wstd::runtime::block_on(request.send_wasi())
    }

    fn send_all(&self, requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let futures: Vec<_> = requests.into_iter().map(Request::send_wasi).collect();
        wstd::runtime::block_on(join_all(futures))
    }

    fn config(&self, key: &str) -> Option<String> {
        store::get(key).ok().flatten()
    }

    fn progress(&self, done: f64, total: Option<f64>, message: Option<&str>) {
        imports::progress(done, total, message);
    }

    fn log(&self, level: Level, message: &str) {
        imports::log(level, message);
    }

    fn sleep(&self, duration: Duration) {
        let duration = wstd::time::Duration::from(duration);
        wstd::runtime::block_on(async move { wstd::task::sleep(duration).await });
    }

    fn monotonic(&self) -> Duration {
        thread_local! { static ORIGIN: Instant = Instant::now(); }
        ORIGIN.with(|origin| origin.elapsed())
    }

    fn since_epoch(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn remaining(&self) -> Option<Duration> {
        Some(Duration::from_millis(imports::remaining_time()))
    }
}

/// Runs `futures` concurrently on the current `wstd` reactor and answers in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |context: &mut Context<'_>| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(
                outputs
                    .iter_mut()
                    .map(|o| o.take().expect("polled to completion"))
                    .collect(),
            )
        }
    })
    .await
}
