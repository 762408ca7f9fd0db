//! MCP Streamable HTTP as bytes, for the load generator: the session handshake (`initialize`
//! offering protocol 2025-11-25, then `notifications/initialized`), requests rendered once per
//! session with a fixed-width JSON-RPC id that is rewritten in place per call, and a check of
//! an answer that reads no JSON (a result, JSON or SSE, that is not a tool error).
//!
//! JSON is built and read only here, outside the measured loop: in the handshake and when the
//! requests are rendered.

use std::net::SocketAddr;
use std::ops::Range;

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use super::http1::{Connection, Message};

/// The protocol version offered.
const PROTOCOL: &str = "2025-11-25";
/// The id every rendered request is built with; its digits are replaced per call.
const ID_PLACEHOLDER: &str = "0000000000";

/// An open MCP session: its id (none from a server without sessions) and the protocol version
/// the server chose.
pub struct Session {
    id: Option<String>,
    protocol: String,
}

/// A request rendered once and sent many times.
#[derive(Clone)]
pub struct Rendered {
    bytes: Vec<u8>,
    /// Where the JSON-RPC id's digits are, for an MCP request.
    id_digits: Option<Range<usize>>,
}

impl Rendered {
    /// A request sent as is every time.
    pub fn fixed(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            id_digits: None,
        }
    }

    /// The request with JSON-RPC id `id` (kept to its last ten decimal digits).
    pub fn with_id(&mut self, id: u64) -> &[u8] {
        if let Some(digits) = self.id_digits.clone() {
            let mut rest = id;
            for byte in self.bytes[digits].iter_mut().rev() {
                *byte = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        }
        &self.bytes
    }
}

/// The body of a `tools/call` of `tool` with `arguments`, id to be filled in per call.
pub fn tool_call(tool: &str, arguments: Value) -> Vec<u8> {
    request_body("tools/call", json!({"name": tool, "arguments": arguments}))
}

/// The body of an MCP `ping`, id to be filled in per call.
pub fn ping() -> Vec<u8> {
    request_body("ping", Value::Null)
}

fn request_body(method: &str, params: Value) -> Vec<u8> {
    let mut request = json!({"jsonrpc": "2.0", "id": ID_PLACEHOLDER, "method": method});
    if !params.is_null() {
        request["params"] = params;
    }
    serde_json::to_vec(&request).expect("a JSON value serialises")
}

/// Opens a session on `connection` with the server at `address`.
pub async fn open(connection: &mut Connection, address: SocketAddr) -> anyhow::Result<Session> {
    let hello = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "capstan-bench", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    let request = post(address, None, &serde_json::to_vec(&hello)?);
    let answer = connection.exchange(&request).await?;
    ensure!(
        answer.status() == 200,
        "{address} answered initialize with HTTP {}",
        answer.status()
    );
    let id = answer.header("mcp-session-id").map(str::to_owned);
    let result = json_rpc_answer(&answer)?;
    let protocol = result["result"]["protocolVersion"]
        .as_str()
        .with_context(|| format!("{address} answered initialize with {result}"))?
        .to_owned();
    let session = Session { id, protocol };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let request = post(address, Some(&session), &serde_json::to_vec(&initialized)?);
    let status = connection.exchange(&request).await?.status();
    ensure!(
        (200..300).contains(&status),
        "{address} answered notifications/initialized with HTTP {status}"
    );
    Ok(session)
}

/// `body` (from [`tool_call`] or [`ping`]) as a whole request on `session`.
pub fn render(address: SocketAddr, session: &Session, body: &[u8]) -> Rendered {
    let bytes = post(address, Some(session), body);
    let placeholder = format!("\"{ID_PLACEHOLDER}\"");
    let id_digits =
        find(&bytes, placeholder.as_bytes()).map(|at| at + 1..at + 1 + ID_PLACEHOLDER.len());
    Rendered { bytes, id_digits }
}

/// The request that ends `session`, if the server keeps sessions.
pub fn close(address: SocketAddr, session: &Session) -> Option<Vec<u8>> {
    let id = session.id.as_deref()?;
    Some(
        format!(
            "DELETE /mcp HTTP/1.1\r\nhost: {address}\r\nmcp-session-id: {id}\r\n\
             mcp-protocol-version: {}\r\ncontent-length: 0\r\n\r\n",
            session.protocol
        )
        .into_bytes(),
    )
}

/// Whether `answer` carries a JSON-RPC result that is not a tool error. Reads no JSON: the
/// result member opens the message (SSE framing and key order allow a few bytes before it),
/// and a tool error says `"isError":true`.
pub fn succeeded(answer: &Message<'_>) -> bool {
    let opening = &answer.body[..answer.body.len().min(512)];
    answer.status() == 200
        && find(opening, b"\"result\":").is_some()
        && find(answer.body, b"\"isError\":true").is_none()
}

fn post(address: SocketAddr, session: Option<&Session>, body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(session) = session {
        if let Some(id) = &session.id {
            head.push_str(&format!("mcp-session-id: {id}\r\n"));
        }
        head.push_str(&format!("mcp-protocol-version: {}\r\n", session.protocol));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The JSON-RPC message of an answer: the body itself, or the SSE event that carries a result
/// or an error.
fn json_rpc_answer(answer: &Message<'_>) -> anyhow::Result<Value> {
    let sse = answer
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("text/event-stream"));
    if !sse {
        return Ok(serde_json::from_slice(answer.body)?);
    }
    let text = std::str::from_utf8(answer.body)?;
    for data in text.lines().filter_map(|line| line.strip_prefix("data:")) {
        let Ok(message) = serde_json::from_str::<Value>(data.trim()) else {
            continue;
        };
        if message.get("result").is_some() || message.get("error").is_some() {
            return Ok(message);
        }
    }
    bail!("the event stream carried no answer")
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_id_in_place() {
        let address: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let session = Session {
            id: Some("s1".into()),
            protocol: PROTOCOL.into(),
        };
        let mut rendered = render(address, &session, &tool_call("noop", json!({})));
        let text = String::from_utf8(rendered.with_id(42).to_vec()).unwrap();
        assert!(text.contains("mcp-session-id: s1\r\n"), "{text}");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        let message: Value = serde_json::from_str(body).unwrap();
        assert_eq!(message["id"], "0000000042");
        assert_eq!(message["params"]["name"], "noop");
    }
}
