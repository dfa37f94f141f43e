//! The TCP scaffolding the loopback test servers share (the mock AWS server, the delaying proxy,
//! the npm registry): a listener on 127.0.0.1, an accept loop on its own thread, one thread per
//! connection, and a stop on drop that wakes the accept loop, shuts every connection down and
//! joins every thread, each wait bounded.
//!
//! Two steps, because a server's shared state usually wants the address or the stop flag
//! before the connection handler (which captures that state) exists:
//!
//! ```text
//! let bound = Server::bind("npm-registry")?;
//! let shared = Arc::new(Shared { stop: bound.stop(), base: bound.url(), .. });
//! let conn_shared = Arc::clone(&shared);
//! let server = bound.serve(move |stream| serve(stream, &conn_shared))?;
//! ```

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a stop waits for the accept thread, and then for all connection threads together,
/// before leaving the rest detached.
const JOIN_WAIT: Duration = Duration::from_secs(3);

/// Live connections: a clone of each socket (so a stop can shut it down) and its thread.
type Conns = Mutex<Vec<(TcpStream, JoinHandle<()>)>>;

/// A listener bound on 127.0.0.1 but not yet accepting.
#[derive(Debug)]
pub(crate) struct Bound {
    name: &'static str,
    listener: TcpListener,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    max_connections: usize,
    overflow: fn(TcpStream),
}

/// A running server. Dropping it stops it (see [`Server::stop`]).
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Conns>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds a free port on 127.0.0.1. `name` prefixes the thread names (`<name>-accept`,
    /// `<name>-conn`), which is what a hung test's thread dump shows.
    pub(crate) fn bind(name: &'static str) -> std::io::Result<Bound> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok(Bound {
            name,
            listener,
            addr,
            stop: Arc::new(AtomicBool::new(false)),
            max_connections: usize::MAX,
            overflow: drop,
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, shuts every live connection down and joins the threads, each wait
    /// bounded: a thread still busy after it is left detached (it holds only `Arc`s and a
    /// closed socket, and handlers poll the stop flag). Idempotent; `Drop` calls it.
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            // accept() blocks: one connection to ourselves wakes it to see the flag.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            join_bounded(h, JOIN_WAIT);
        }
        let conns = std::mem::take(&mut *lock(&self.conns));
        for (s, _) in &conns {
            let _ = s.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + JOIN_WAIT;
        for (_, h) in conns {
            join_bounded(h, deadline.saturating_duration_since(Instant::now()));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Bound {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The flag a stop sets; handlers poll it to end blocked reads and waits early.
    pub(crate) fn stop(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Serves at most `max` connections at once; a connection past that is handed to
    /// `overflow` on the accept thread (which may answer it) and then closed. Unlimited when
    /// not called.
    pub(crate) fn max_connections(self, max: usize, overflow: fn(TcpStream)) -> Bound {
        Bound { max_connections: max, overflow, ..self }
    }

    /// Starts the accept thread; `handler` runs on a thread of its own for each connection.
    pub(crate) fn serve(self, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> std::io::Result<Server> {
        let Bound { name, listener, addr, stop, max_connections, overflow } = self;
        let conns: Arc<Conns> = Arc::default();
        let loop_stop = Arc::clone(&stop);
        let loop_conns = Arc::clone(&conns);
        let handler = Arc::new(handler);
        let accept = std::thread::Builder::new().name(format!("{name}-accept")).spawn(move || {
            // Bounded by the stop flag: a stop sets it, then connects once to wake accept().
            for stream in listener.incoming() {
                if loop_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else {
                    // Transient accept errors (e.g. too many open files): back off briefly.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let mut live = lock(&loop_conns);
                live.retain(|(_, h)| !h.is_finished());
                if live.len() >= max_connections {
                    drop(live);
                    overflow(stream);
                    continue;
                }
                let Ok(clone) = stream.try_clone() else { continue };
                let handler = Arc::clone(&handler);
                let spawned = std::thread::Builder::new().name(format!("{name}-conn")).spawn(move || handler(stream));
                if let Ok(h) = spawned {
                    live.push((clone, h));
                }
            }
        })?;
        Ok(Server { addr, stop, conns, accept: Some(accept) })
    }
}

/// The server a test asked for, or a panic naming `what`: without it there is no test.
#[track_caller]
#[allow(clippy::panic, reason = "test helper: no server, no test")]
pub(crate) fn started<T>(what: &str, server: std::io::Result<T>) -> T {
    match server {
        Ok(s) => s,
        Err(e) => panic!("{what}: cannot listen on 127.0.0.1: {e}"),
    }
}

fn lock(conns: &Conns) -> MutexGuard<'_, Vec<(TcpStream, JoinHandle<()>)>> {
    // A panicking connection thread must not turn the stop into a second panic.
    conns.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Joins a thread if it finishes within `wait`; otherwise leaves it detached.
fn join_bounded(h: JoinHandle<()>, wait: Duration) {
    let deadline = Instant::now() + wait;
    while !h.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if h.is_finished() {
        let _ = h.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn serves_each_connection_and_stops_within_bounds() {
        let bound = Server::bind("test-server").unwrap();
        let stop = bound.stop();
        let mut server = bound
            .serve(move |mut s| {
                let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
                let mut b = [0u8; 1];
                // Echo one byte, then idle until stopped, as a keep-alive connection would.
                if s.read_exact(&mut b).is_ok() {
                    let _ = s.write_all(&b);
                }
                while !stop.load(Ordering::SeqCst) {
                    let _ = s.read(&mut b);
                }
            })
            .unwrap();
        let mut c = TcpStream::connect(server.addr()).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
        let started = Instant::now();
        server.stop();
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(lock(&server.conns).is_empty());
        assert!(TcpStream::connect_timeout(&server.addr(), Duration::from_millis(200)).is_err());
    }

    #[test]
    fn overflow_gets_the_connections_past_the_limit() {
        let mut server = Server::bind("test-server")
            .unwrap()
            .max_connections(0, |mut s| {
                let _ = s.write_all(b"busy");
            })
            .serve(|_| {})
            .unwrap();
        let mut c = TcpStream::connect(server.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert_eq!(out, "busy");
        server.stop();
    }
}
