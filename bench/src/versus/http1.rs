//! Just enough HTTP/1.1 for the load generator and the upstream stand-in: a keep-alive
//! connection that writes bytes rendered by its caller and reads messages framed by
//! `Content-Length` or chunked transfer coding (an SSE answer is a chunked body like any other)
//! into one buffer reused from message to message. No allocation per message once the buffer
//! has grown, no parsing beyond the start line and the headers that frame the body.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The largest head read before the connection is given up on.
const MAX_HEAD: usize = 64 << 10;
/// Free room the buffer keeps for each read.
const READ_ROOM: usize = 64 << 10;

/// One keep-alive connection, either side.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// Bytes at the front of `buffer` that belong to the message last returned.
    consumed: usize,
    /// The last chunked body, without its framing.
    chunks: Vec<u8>,
}

/// A message read from a [`Connection`], valid until the next read.
pub struct Message<'a> {
    /// The start line and headers, without the blank line after them.
    head: &'a [u8],
    /// The body, without chunk framing.
    pub body: &'a [u8],
}

/// Where a message's body lies once read.
enum Body {
    Buffered(Range<usize>),
    Chunked,
}

impl Connection {
    /// Connects to `address` (Nagle off: every write is a whole request).
    pub async fn open(address: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        Ok(Self::over(stream))
    }

    /// Wraps an accepted or connected stream.
    pub fn over(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buffer: Vec::with_capacity(READ_ROOM),
            consumed: 0,
            chunks: Vec::new(),
        }
    }

    /// Writes `bytes`, a whole rendered message.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends `request` and reads its answer, skipping interim (1xx) answers.
    pub async fn exchange(&mut self, request: &[u8]) -> io::Result<Message<'_>> {
        self.send(request).await?;
        loop {
            let (head, body) = self
                .receive_framing()
                .await?
                .ok_or(io::ErrorKind::UnexpectedEof)?;
            if status_of(&self.buffer[..head]) >= 200 {
                return Ok(self.message(head, body));
            }
        }
    }

    /// Reads the next message; `None` when the peer closed the connection between messages.
    pub async fn receive(&mut self) -> io::Result<Option<Message<'_>>> {
        let framing = self.receive_framing().await?;
        Ok(framing.map(|(head, body)| self.message(head, body)))
    }

    fn message(&self, head: usize, body: Body) -> Message<'_> {
        let body = match body {
            Body::Buffered(range) => &self.buffer[range],
            Body::Chunked => &self.chunks[..],
        };
        Message {
            head: &self.buffer[..head],
            body,
        }
    }

    /// Reads one whole message into the buffer, from its start: (where its head ends, where its
    /// body lies); `None` at a clean end of the stream.
    async fn receive_framing(&mut self) -> io::Result<Option<(usize, Body)>> {
        self.discard_consumed();
        let Some(head) = self.read_head().await? else {
            return Ok(None);
        };
        let body_start = head + 4;
        let body = match Framing::of(&self.buffer[..head]) {
            Framing::Length(length) => {
                self.fill_to(body_start + length).await?;
                self.consumed = body_start + length;
                Body::Buffered(body_start..body_start + length)
            }
            Framing::Chunked => {
                self.consumed = self.read_chunks(body_start).await?;
                Body::Chunked
            }
        };
        Ok(Some((head, body)))
    }

    fn discard_consumed(&mut self) {
        if self.consumed == self.buffer.len() {
            self.buffer.clear();
        } else {
            self.buffer.drain(..self.consumed);
        }
        self.consumed = 0;
    }

    /// Reads until the buffer holds a whole head: where it ends (the blank line's start).
    async fn read_head(&mut self) -> io::Result<Option<usize>> {
        loop {
            if let Some(end) = head_end(&self.buffer) {
                return Ok(Some(end));
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if !self.fill().await? {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Decodes the chunked body starting at `at` into `chunks`: where the message ends.
    async fn read_chunks(&mut self, mut at: usize) -> io::Result<usize> {
        self.chunks.clear();
        loop {
            let line_end = self.line_end(at).await?;
            let size = chunk_size(&self.buffer[at..line_end])?;
            at = line_end + 2;
            if size == 0 {
                return self.skip_trailers(at).await;
            }
            self.fill_to(at + size + 2).await?;
            self.chunks.extend_from_slice(&self.buffer[at..at + size]);
            at += size + 2;
        }
    }

    /// Skips the trailer lines and the blank line that end a chunked body at `at`.
    async fn skip_trailers(&mut self, mut at: usize) -> io::Result<usize> {
        loop {
            let line_end = self.line_end(at).await?;
            if line_end == at {
                return Ok(at + 2);
            }
            at = line_end + 2;
        }
    }

    /// Where the line starting at `at` ends (its CR), reading as needed.
    async fn line_end(&mut self, at: usize) -> io::Result<usize> {
        loop {
            if let Some(offset) = find(&self.buffer[at.min(self.buffer.len())..], b"\r\n") {
                return Ok(at + offset);
            }
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    async fn fill_to(&mut self, length: usize) -> io::Result<()> {
        while self.buffer.len() < length {
            self.buffer
                .reserve((length - self.buffer.len()).max(READ_ROOM / 4));
            if !self.fill().await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// One read into the buffer's free room: false at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.buffer.capacity() - self.buffer.len() < READ_ROOM / 4 {
            self.buffer.reserve(READ_ROOM);
        }
        Ok(self.stream.read_buf(&mut self.buffer).await? > 0)
    }
}

impl Message<'_> {
    /// A response's status code (0 when the start line is not a status line).
    pub fn status(&self) -> u16 {
        status_of(self.head)
    }

    /// A request's method and target.
    pub fn method_and_target(&self) -> Option<(&[u8], &[u8])> {
        let line = self.head.split(|&b| b == b'\r').next()?;
        let mut parts = line.split(|&b| b == b' ');
        Some((parts.next()?, parts.next()?))
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(self.head, name).and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Whether the sender closes the connection after this message.
    pub fn closes(&self) -> bool {
        header_value(self.head, "connection").is_some_and(|v| v.eq_ignore_ascii_case(b"close"))
    }
}

/// How a message's body is delimited.
enum Framing {
    Length(usize),
    Chunked,
}

impl Framing {
    /// The framing `head` declares; no length header means no body (the stand-in's requests, and
    /// the servers' answers, always frame their bodies).
    fn of(head: &[u8]) -> Self {
        let chunked = header_value(head, "transfer-encoding")
            .is_some_and(|value| ends_with_ignore_case(value, b"chunked"));
        if chunked {
            return Self::Chunked;
        }
        let length = header_value(head, "content-length")
            .and_then(|value| std::str::from_utf8(value).ok()?.trim().parse().ok());
        Self::Length(length.unwrap_or(0))
    }
}

/// Where the head in `buffer` ends (the start of its blank line), if it is all there.
fn head_end(buffer: &[u8]) -> Option<usize> {
    find(buffer, b"\r\n\r\n")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn status_of(head: &[u8]) -> u16 {
    head.get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok()?.parse().ok())
        .unwrap_or(0)
}

fn header_value<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        key.eq_ignore_ascii_case(name.as_bytes())
            .then(|| value.trim_ascii())
    })
}

fn ends_with_ignore_case(value: &[u8], suffix: &[u8]) -> bool {
    value.len() >= suffix.len() && value[value.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn chunk_size(line: &[u8]) -> io::Result<usize> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    std::str::from_utf8(digits)
        .ok()
        .and_then(|digits| usize::from_str_radix(digits.trim(), 16).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connection whose peer writes `bytes` in pieces of `piece` bytes, then waits.
    async fn reading(bytes: &'static [u8], piece: usize) -> Connection {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut peer, _) = listener.accept().await.unwrap();
            for part in bytes.chunks(piece) {
                peer.write_all(part).await.unwrap();
                peer.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            let mut sink = [0u8; 1];
            let _ = peer.read(&mut sink).await;
        });
        Connection::open(address).await.unwrap()
    }

    #[tokio::test]
    async fn reads_length_and_chunked_bodies_back_to_back() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nMcp-Session-Id: abc\r\n\r\nhello\
                      HTTP/1.1 100 Continue\r\n\r\n\
                      HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                      6\r\nevent:\r\na;ext=1\r\n message\n\n\r\n0\r\n\r\n\
                      HTTP/1.1 202 Accepted\r\nconnection: close\r\n\r\n";
        for piece in [1, 7, bytes.len()] {
            let mut connection = reading(bytes, piece).await;
            let first = connection.receive().await.unwrap().unwrap();
            assert_eq!((first.status(), first.body), (200, &b"hello"[..]));
            assert_eq!(first.header("mcp-session-id"), Some("abc"));
            let second = connection.exchange(b"").await.unwrap();
            assert_eq!(second.status(), 200);
            assert_eq!(second.header("Content-Type"), Some("text/event-stream"));
            assert_eq!(second.body, b"event: message\n\n");
            let third = connection.receive().await.unwrap().unwrap();
            assert_eq!(
                (third.status(), third.body.len(), third.closes()),
                (202, 0, true)
            );
        }
    }

    #[tokio::test]
    async fn reads_a_request_line() {
        let bytes = b"POST /api/v1/x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}";
        let mut connection = reading(bytes, 3).await;
        let request = connection.receive().await.unwrap().unwrap();
        let (method, target) = request.method_and_target().unwrap();
        assert_eq!((method, target), (&b"POST"[..], &b"/api/v1/x?y=1"[..]));
        assert_eq!(request.body, b"{}");
    }
}
