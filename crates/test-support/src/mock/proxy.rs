//! A delaying HTTP proxy in front of the mock: it forwards each request, waits for the mock's
//! complete answer, and — for the paths told — holds that answer for a while before passing it
//! on. Unlike [`super::Fault::Slow`], which sleeps *before* the mock acts, the mock has already
//! done its work when the hold starts: a refresh token has rotated, keys were issued. That is
//! the moment a client killed mid-call loses a session, and the window kill tests aim at.
//!
//! Point a service's endpoint override at [`DelayProxy::url`] (e.g.
//! `AWS_ENDPOINT_URL_SSO_OIDC`). The `Host` header is passed through unchanged, so what the
//! mock computes from it (a DPoP proof's `htu`) names the proxy, as the client does. One
//! upstream connection per request (`Connection: close`); the client's connection is closed
//! after each answer too, which every HTTP/1.1 client handles.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::http::{Conn, find};
use crate::server::Server;

/// Largest upstream answer relayed.
const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// How long the proxy waits for the mock's answer.
const UPSTREAM_DEADLINE: Duration = Duration::from_secs(30);
/// How often a hold checks whether the proxy is shutting down.
const HOLD_POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct State {
    /// Path → how long answers on it are held.
    holds: HashMap<String, Duration>,
    /// Path → answers received from the mock.
    answered: HashMap<String, usize>,
    /// Path → answers passed on to the client (or dropped: the client was gone).
    delivered: HashMap<String, usize>,
}

struct Shared {
    upstream: SocketAddr,
    stop: Arc<AtomicBool>,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running proxy on 127.0.0.1. Dropping it stops it (bounded waits; a held answer is
/// released early).
pub struct DelayProxy {
    shared: Arc<Shared>,
    server: Server,
}

impl std::fmt::Debug for DelayProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayProxy")
            .field("addr", &self.server.addr())
            .field("upstream", &self.shared.upstream)
            .finish()
    }
}

impl DelayProxy {
    /// Starts a proxy in front of `mock`.
    ///
    /// # Panics
    /// If no loopback port can be bound: nothing a test could do without it.
    pub fn start(mock: &super::MockAws) -> DelayProxy {
        crate::server::started("delay proxy", DelayProxy::try_start(mock.server.addr()))
    }

    /// A proxy in front of any HTTP/1.1 server at `upstream`.
    pub fn try_start(upstream: SocketAddr) -> std::io::Result<DelayProxy> {
        let bound = Server::bind("delay-proxy")?;
        let shared = Arc::new(Shared {
            upstream,
            stop: bound.stop(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let conn_shared = Arc::clone(&shared);
        let server = bound.serve(move |stream| serve(stream, &conn_shared))?;
        Ok(DelayProxy { shared, server })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Holds every answer to a request for `path` (exact, without the query) for `hold`
    /// after the mock answered; `Duration::ZERO` stops holding.
    pub fn hold(&self, path: &str, hold: Duration) {
        let mut st = self.shared.state();
        if hold.is_zero() {
            st.holds.remove(path);
        } else {
            st.holds.insert(path.to_string(), hold);
        }
    }

    /// Answers the mock gave so far to requests for `path`.
    pub fn answered(&self, path: &str) -> usize {
        self.shared.state().answered.get(path).copied().unwrap_or_default()
    }

    /// Answers passed on (or dropped because the client had gone) for `path`.
    pub fn delivered(&self, path: &str) -> usize {
        self.shared.state().delivered.get(path).copied().unwrap_or_default()
    }

    /// Waits until the mock has answered more than `seen` requests for `path`; the moment it
    /// noticed, or `None` after `limit`.
    pub fn wait_answered(&self, path: &str, seen: usize, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        let mut st = self.shared.state();
        loop {
            if st.answered.get(path).copied().unwrap_or_default() > seen {
                return Some(Instant::now());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = self.shared.changed.wait_timeout(st, left).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits until every answer the mock gave for `path` has been passed on (bounded).
    pub fn settle(&self, path: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut st = self.shared.state();
        loop {
            let (a, d) = (
                st.answered.get(path).copied().unwrap_or_default(),
                st.delivered.get(path).copied().unwrap_or_default(),
            );
            if d >= a {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self.shared.changed.wait_timeout(st, left).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// One client connection: one request, forwarded; the answer, held if asked, passed on.
fn serve(stream: TcpStream, shared: &Shared) {
    let mut conn = Conn::new(stream, Arc::clone(&shared.stop));
    let Ok(req) = conn.read_request() else { return };
    let mut out =
        format!("{} {}{}{} HTTP/1.1\r\n", req.method, req.path, if req.query.is_empty() { "" } else { "?" }, req.query);
    for (n, v) in &req.headers {
        if ["connection", "content-length", "transfer-encoding", "keep-alive"].iter().any(|h| n.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", req.body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&req.body);
    let Some(answer) = forward(shared.upstream, &bytes) else {
        let _ = conn.stream().shutdown(Shutdown::Both);
        return;
    };
    let hold = {
        let mut st = shared.state();
        *st.answered.entry(req.path.clone()).or_default() += 1;
        st.holds.get(&req.path).copied()
    };
    shared.changed.notify_all();
    if let Some(hold) = hold {
        let until = Instant::now() + hold;
        while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
            std::thread::sleep(HOLD_POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }
    // The answer says `Connection: close` (we asked upstream for it): close after it.
    let s = conn.stream();
    let _ = s.write_all(&answer).and_then(|()| s.flush());
    let _ = s.shutdown(Shutdown::Both);
    *shared.state().delivered.entry(req.path).or_default() += 1;
    shared.changed.notify_all();
}

/// Sends `request` upstream and reads the whole answer (to the end of its body, or to the
/// close). `None` when the mock could not be reached or closed without answering.
fn forward(upstream: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)).ok()?;
    let _ = s.set_read_timeout(Some(UPSTREAM_DEADLINE));
    s.write_all(request).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + UPSTREAM_DEADLINE;
    loop {
        if let Some(end) = complete(&buf) {
            buf.truncate(end);
            return Some(buf);
        }
        if Instant::now() >= deadline || buf.len() > MAX_ANSWER {
            return None;
        }
        match s.read(&mut chunk) {
            Ok(0) => return (!buf.is_empty()).then_some(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return (!buf.is_empty()).then_some(buf),
        }
    }
}

/// The length of a complete answer at the start of `buf`, when it has a `Content-Length`.
fn complete(buf: &[u8]) -> Option<usize> {
    let head_end = find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let len: usize = head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok()).flatten()
    })?;
    let end = head_end + 4 + len;
    (buf.len() >= end).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockAws;

    #[test]
    fn answers_pass_through_and_are_held_after_the_mock_acted() {
        let mock = MockAws::start();
        mock.set_oidc_client("c", "s");
        mock.set_refresh_token("rt0");
        let proxy = DelayProxy::start(&mock);
        proxy.hold("/token", Duration::from_millis(300));
        let url = proxy.url();
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            let body = r#"{"clientId":"c","clientSecret":"s","grantType":"refresh_token","refreshToken":"rt0"}"#;
            let addr = url.trim_start_matches("http://").to_string();
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            answer
        });
        assert!(proxy.wait_answered("/token", 0, Duration::from_secs(5)).is_some());
        // The mock rotated while the answer is still held.
        assert_ne!(mock.refresh_token().as_deref(), Some("rt0"));
        assert_eq!(proxy.delivered("/token"), 0);
        let answer = t.join().unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains(&mock.refresh_token().unwrap()), "{answer}");
        assert!(proxy.settle("/token", Duration::from_secs(1)));
        assert_eq!((proxy.answered("/token"), proxy.delivered("/token")), (1, 1));
    }
}
