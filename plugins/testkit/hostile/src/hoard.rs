//! Attacks on host memory that the guest's own `[limits].memory` does not count: request
//! bodies the host buffers, header fields it stores, resource handles it keeps.
//!
//! Every attack holds what it made until the call ends (or sleeps `ms` first), so the tests can
//! read the host's resident memory while the hoard is alive.

use std::time::Duration;

use capstan_sdk::{Context, Value, json};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::Fields;
use wasip2::http::types::{FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::poll::poll;
use wasip2::io::streams::OutputStream;

const MIB: u64 = 1024 * 1024;

/// How long one body waits for the host to take more bytes before the next one is started.
const STALL: Duration = Duration::from_millis(200);

/// The most requests `hoard_bodies` opens and fields `hoard_fields` makes.
pub const MAX_HOARD: u64 = 100_000;

/// An opened request whose body is never finished; dropping it aborts the request.
struct Held {
    _stream: OutputStream,
    _body: OutgoingBody,
    _future: FutureIncomingResponse,
}

/// `hoard_bodies`: opens `n` POSTs to `url` (`scheme://authority/path`), writes up to `mib`
/// MiB into each body without finishing it, then holds them all for `ms` milliseconds.
pub fn hoard_bodies(ctx: &Context, url: &str, n: u64, mib: u64, ms: u64) -> Value {
    let chunk = vec![b'h'; MIB as usize];
    let mut held = Vec::new();
    let mut written = 0u64;
    let mut refused = None;
    for _ in 0..n.min(MAX_HOARD) {
        match open(url) {
            Ok((stream, body, future)) => {
                written += fill(&stream, &chunk, mib * MIB);
                held.push(Held {
                    _stream: stream,
                    _body: body,
                    _future: future,
                });
            }
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
    }
    ctx.sleep(Duration::from_millis(ms));
    json!({"opened": held.len(), "written": written, "refused": refused})
}

fn open(url: &str) -> Result<(OutputStream, OutgoingBody, FutureIncomingResponse), String> {
    let (scheme, rest) = url.split_once("://").ok_or("no scheme")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let set = request.set_method(&Method::Post).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(format!("the host refused the parts of {url}"));
    }
    let body = request.body().map_err(|()| "no body".to_owned())?;
    let future = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;
    let stream = body.write().map_err(|()| "no body stream".to_owned())?;
    Ok((stream, body, future))
}

/// Writes up to `total` bytes as fast as the host takes them; stops when the host has taken
/// nothing for [`STALL`] or the stream fails. Returns the bytes written.
fn fill(stream: &OutputStream, chunk: &[u8], total: u64) -> u64 {
    let mut written = 0;
    while written < total {
        let room = match stream.check_write() {
            Ok(room) => room,
            Err(_) => return written,
        };
        if room == 0 {
            let ready = stream.subscribe();
            let timeout = monotonic_clock::subscribe_duration(STALL.as_nanos() as u64);
            if poll(&[&ready, &timeout]) == [1] {
                return written;
            }
            continue;
        }
        let size = room.min(total - written).min(chunk.len() as u64);
        if stream.write(&chunk[..size as usize]).is_err() {
            return written;
        }
        written += size;
    }
    written
}

/// `hoard_fields`: makes `n` header collections of one `kib` KiB value each, holds them for
/// `ms` milliseconds, and reports how many the host accepted and the first refusal.
pub fn hoard_fields(ctx: &Context, n: u64, kib: u64, ms: u64) -> Value {
    let value = vec![b'f'; (kib * 1024) as usize];
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..n.min(MAX_HOARD) {
        let fields = Fields::new();
        if let Err(error) = fields.append("x-hoard", &value) {
            refused = Some(format!("{error:?}"));
            break;
        }
        held.push(fields);
    }
    ctx.sleep(Duration::from_millis(ms));
    json!({"made": held.len(), "refused": refused})
}
