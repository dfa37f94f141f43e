//! A deliberately small HTTP/1.1 server-side codec for the mock: request parsing with bounded
//! sizes and deadlines, and response writing.
//!
//! Hand-rolled rather than a framework because the mock must stay synchronous, tiny and
//! predictable: it never panics on what a client sends; every malformed request becomes a
//! [`ReadError`] that the caller answers with 400/413/431 and a closed connection.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Largest request head (request line + headers) accepted.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (Claude Code's prompts with a full system prompt are ~100 KiB).
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Longest chunk-size or trailer line in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;
/// How long one request may take to arrive, and how long an idle keep-alive connection lives.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Socket read timeout: the granularity at which a blocked reader notices the stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// A parsed request. Header names keep their case as received; look-ups ignore case.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// Path part of the request target, exactly as received (still percent-encoded).
    pub path: String,
    /// Query string without the `?`, exactly as received (may be empty).
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    /// First value of a header, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All values of a header in arrival order (SigV4 joins repeated headers with commas).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection cleanly between requests.
    Closed,
    /// The server is shutting down.
    Stopped,
    /// Nothing complete arrived before the deadline.
    Timeout,
    /// Socket error: nothing sensible can be answered.
    Io,
    /// Malformed request: answer 400 and close.
    Bad(&'static str),
    /// Head too large: answer 431 and close.
    HeadTooLarge,
    /// Body too large: answer 413 and close.
    BodyTooLarge,
}

/// One server-side connection with its read buffer (keep-alive requests may be pipelined).
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    stop: Arc<AtomicBool>,
}

impl Conn {
    pub fn new(stream: TcpStream, stop: Arc<AtomicBool>) -> Conn {
        // A short read timeout lets a blocked read notice shutdown; errors here only make
        // reads block longer, and Drop also shuts the socket down, so ignoring them is safe.
        let _ = stream.set_read_timeout(Some(POLL));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_nodelay(true);
        Conn { stream, buf: Vec::new(), stop }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads more bytes into the buffer. `Ok(0)` means end of stream.
    fn fill(&mut self, deadline: Instant) -> Result<usize, ReadError> {
        let mut tmp = [0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(ReadError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(ReadError::Timeout);
            }
            match self.stream.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Err(ReadError::Io),
            }
        }
    }

    /// Reads one complete request (head and body).
    pub fn read_request(&mut self) -> Result<Request, ReadError> {
        let deadline = Instant::now() + REQUEST_DEADLINE;
        // RFC 9112 2.2: a server should ignore empty lines received before the request line.
        let head_end = loop {
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::HeadTooLarge);
            }
            if self.fill(deadline)? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Bad("connection closed inside the request head")
                });
            }
        };
        if head_end > MAX_HEAD {
            return Err(ReadError::HeadTooLarge);
        }
        let head: Vec<u8> = self.buf.drain(..head_end + 4).collect();
        let head = std::str::from_utf8(&head[..head_end]).map_err(|_| ReadError::Bad("request head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReadError::Bad("malformed request line"));
        };
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ReadError::Bad("malformed method"));
        }
        let http11 = match version {
            "HTTP/1.1" => true,
            "HTTP/1.0" => false,
            _ => return Err(ReadError::Bad("unsupported HTTP version")),
        };
        if !target.starts_with('/') {
            return Err(ReadError::Bad("request target must be origin-form"));
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (target, ""),
        };

        let mut headers = Vec::new();
        for line in lines {
            if headers.len() >= MAX_HEADERS {
                return Err(ReadError::HeadTooLarge);
            }
            if line.starts_with([' ', '\t']) {
                return Err(ReadError::Bad("obsolete header line folding"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ReadError::Bad("header line without a colon"));
            };
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b < 0x21) {
                return Err(ReadError::Bad("malformed header name"));
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }

        let mut req = Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body: Vec::new(),
            keep_alive: http11,
        };
        if let Some(conn) = req.header("connection") {
            let conn = conn.to_ascii_lowercase();
            if conn.split(',').any(|t| t.trim() == "close") {
                req.keep_alive = false;
            } else if conn.split(',').any(|t| t.trim() == "keep-alive") {
                req.keep_alive = true;
            }
        }

        let chunked = match req.header("transfer-encoding") {
            None => false,
            Some(te) => {
                let last = te.rsplit(',').next().unwrap_or_default().trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(ReadError::Bad("unsupported transfer-encoding"));
                }
                true
            }
        };
        let content_length = {
            let values = req.header_all("content-length");
            let mut parsed: Option<usize> = None;
            for v in values {
                let n: usize = v.parse().map_err(|_| ReadError::Bad("malformed content-length"))?;
                if parsed.is_some_and(|p| p != n) {
                    return Err(ReadError::Bad("conflicting content-length headers"));
                }
                parsed = Some(n);
            }
            parsed
        };
        if chunked && content_length.is_some() {
            // RFC 9112 6.3: both present is a smuggling vector; refuse it.
            return Err(ReadError::Bad("both transfer-encoding and content-length"));
        }
        if content_length.is_some_and(|n| n > MAX_BODY) {
            return Err(ReadError::BodyTooLarge);
        }
        let expects_body = chunked || content_length.is_some_and(|n| n > 0);
        if expects_body && req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
            // curl waits a second for this before sending bodies over 1 KiB.
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }

        if chunked {
            req.body = self.read_chunked(deadline)?;
        } else if let Some(n) = content_length {
            while self.buf.len() < n {
                if self.fill(deadline)? == 0 {
                    return Err(ReadError::Bad("connection closed inside the body"));
                }
            }
            req.body = self.buf.drain(..n).collect();
        }
        Ok(req)
    }

    /// Reads one CRLF-terminated line (without the CRLF) of at most `MAX_CHUNK_LINE` bytes.
    fn read_line(&mut self, deadline: Instant) -> Result<String, ReadError> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8(line[..i].to_vec()).map_err(|_| ReadError::Bad("chunk line is not UTF-8"));
            }
            if self.buf.len() > MAX_CHUNK_LINE {
                return Err(ReadError::Bad("chunk line too long"));
            }
            if self.fill(deadline)? == 0 {
                return Err(ReadError::Bad("connection closed inside a chunked body"));
            }
        }
    }

    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        // Bounded: every iteration consumes at least one line, and the body size is capped.
        loop {
            let line = self.read_line(deadline)?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            if size_text.is_empty() || size_text.len() > 8 {
                return Err(ReadError::Bad("malformed chunk size"));
            }
            let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Bad("malformed chunk size"))?;
            if size == 0 {
                // Trailer section: header lines until an empty line; their content is ignored.
                let mut trailers = 0;
                loop {
                    if self.read_line(deadline)?.is_empty() {
                        return Ok(body);
                    }
                    trailers += 1;
                    if trailers > MAX_HEADERS {
                        return Err(ReadError::HeadTooLarge);
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::BodyTooLarge);
            }
            while self.buf.len() < size + 2 {
                if self.fill(deadline)? == 0 {
                    return Err(ReadError::Bad("connection closed inside a chunk"));
                }
            }
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(ReadError::Bad("chunk not followed by CRLF"));
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }
}

/// How a response goes on the wire: some faults need a broken delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Normal,
    /// Announce the full `Content-Length`, send half the body, then close.
    Truncated,
    /// Close the connection without answering.
    Close,
}

/// A response ready to be written.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
            delivery: Delivery::Normal,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Writes a response. Returns whether the connection may carry another request.
pub(crate) fn write_response(stream: &mut TcpStream, resp: &Response, keep_alive: bool, request_id: &str) -> bool {
    if resp.delivery == Delivery::Close {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return false;
    }
    let keep_alive = keep_alive && resp.delivery == Delivery::Normal;
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (n, v) in &resp.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    head.push_str(&format!("x-amzn-RequestId: {request_id}\r\n"));
    head.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
    let body: &[u8] = match resp.delivery {
        Delivery::Truncated => &resp.body[..resp.body.len() / 2],
        _ => &resp.body,
    };
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    let ok = stream.write_all(&out).and_then(|()| stream.flush()).is_ok();
    if !keep_alive {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    ok && keep_alive
}

/// Standard reason phrases for the statuses the mock uses; clients ignore them anyway.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Mock Status",
    }
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
