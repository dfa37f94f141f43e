//! A minimal blocking HTTP/1.1 client for tests: loopback addresses only, one request per
//! connection, bounded in time and size. Enough to poke the mock without an HTTP crate.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::sigv4;

/// How long a request may take in total.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Largest response read.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// Resolves `http://HOST:PORT` to a loopback socket address, refusing anything else so that a
/// test can never reach the network by mistake. Returns the address and the `Host` value.
pub fn loopback_addr(base_url: &str) -> io::Result<(SocketAddr, String)> {
    let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
    let hostport = base_url.strip_prefix("http://").ok_or_else(|| invalid("only http:// URLs"))?.trim_end_matches('/');
    let addr = hostport
        .to_socket_addrs()?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| invalid("the test client talks to loopback addresses only"))?;
    Ok((addr, hostport.to_string()))
}

/// Sends raw bytes and returns everything the server answers until it closes (or the timeout).
pub fn send_raw(base_url: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let (addr, _) = loopback_addr(base_url)?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(bytes)?;
    read_to_close(&mut s)
}

fn read_to_close(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < deadline && out.len() < MAX_RESPONSE {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            // A reset after the server closed is still "the end" for our purposes.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Sends one request with `Connection: close` and reads the whole response.
///
/// `Host` and `Content-Length` are added unless `headers` has them (or `Transfer-Encoding`).
/// A response shorter than its `Content-Length` is an `UnexpectedEof` error.
pub fn send(
    base_url: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let (_, host) = loopback_addr(base_url)?;
    let has = |n: &str| headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n));
    let mut req = format!("{method} {path_and_query} HTTP/1.1\r\n");
    if !has("host") {
        req.push_str(&format!("Host: {host}\r\n"));
    }
    if !has("content-length") && !has("transfer-encoding") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    parse_response(&send_raw(base_url, &bytes)?)
}

/// Parses a complete HTTP/1.1 response (Content-Length or read-to-close bodies).
pub fn parse_response(raw: &[u8]) -> io::Result<HttpResponse> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no complete response head"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("response head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 =
        status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let content_length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<usize>().ok());
    if let Some(n) = content_length {
        if body.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("response body cut short: {} of {n} bytes", body.len()),
            ));
        }
        body.truncate(n);
    }
    Ok(HttpResponse { status, headers, body })
}

/// Static credentials for a signed request.
#[derive(Debug, Clone, Copy)]
pub struct Creds<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// A request for [`send_signed`].
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// Path as sent on the wire.
    pub path: &'a str,
    /// Query string without `?` (may be empty).
    pub query: &'a str,
    /// Extra headers to send and sign (`host` is added).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Signing name: `bedrock`, `sts`, ...
    pub service: &'a str,
    pub creds: Creds<'a>,
}

/// Sends a SigV4-signed request (signed "now", region `us-east-1`) the way the AWS SDKs do.
pub fn send_signed(base_url: &str, r: &SignedRequest<'_>) -> io::Result<HttpResponse> {
    let (_, host) = loopback_addr(base_url)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let amz_date = sigv4::amz_date(now);
    let mut headers: Vec<(String, String)> = vec![("host".to_string(), host)];
    headers.extend(r.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_string())));
    let signer = sigv4::Signer {
        access_key_id: r.creds.access_key_id,
        secret_access_key: r.creds.secret_access_key,
        session_token: r.creds.session_token,
        region: "us-east-1",
        service: r.service,
        amz_date: &amz_date,
    };
    let added = sigv4::sign(&signer, r.method, r.path, r.query, &headers, r.body);
    let all: Vec<(String, String)> = headers.into_iter().chain(added).collect();
    let refs: Vec<(&str, &str)> = all.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let target = if r.query.is_empty() { r.path.to_string() } else { format!("{}?{}", r.path, r.query) };
    send(base_url, r.method, &target, &refs, r.body)
}
