//! Fault-test helpers both fault matrices use: a directory that even root
//! cannot write, and a one-body HTTP server for answers the mock cannot give.

// Test helpers fail the test at the cause.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A directory made unwritable even for root (CI runs as root, which ignores
/// modes): `chattr +i` for root, `chmod 555` otherwise, proven by a probe
/// write, and undone on drop so the home can be removed.
pub struct ReadOnly {
    dir: PathBuf,
    root: bool,
}

impl ReadOnly {
    pub fn new(dir: &Path) -> ReadOnly {
        std::fs::create_dir_all(dir).unwrap();
        let uid = Command::new("id").arg("-u").output().unwrap();
        let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let guard = ReadOnly { dir: dir.to_path_buf(), root };
        let made = if root {
            Command::new("chattr").arg("+i").arg(dir).output().is_ok_and(|o| o.status.success())
        } else {
            Command::new("chmod").arg("555").arg(dir).status().is_ok_and(|s| s.success())
        };
        let probe = dir.join(".probe");
        let writable = std::fs::write(&probe, b"x").is_ok();
        let _ = std::fs::remove_file(&probe);
        assert!(
            made && !writable,
            "cannot make {} read-only here (root: {root}; root needs `chattr +i` on a filesystem that supports it)",
            dir.display()
        );
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.root {
            let _ = Command::new("chattr").arg("-i").arg(&self.dir).output();
        } else {
            let _ = Command::new("chmod").arg("755").arg(&self.dir).status();
        }
    }
}

/// A one-answer HTTP server on loopback for replies the mock cannot give.
/// Bounded: it stops on drop, and gives up after a minute on its own.
pub struct Stub {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stub {
    pub fn start(body: &'static str) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => answer(s, body),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Stub { port, stop, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Reads one request (head and `Content-Length` body, within 5 s), answers 200 with `body`.
fn answer(mut s: TcpStream, body: &str) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let complete = |buf: &[u8]| {
        let text = String::from_utf8_lossy(buf);
        let Some(end) = text.find("\r\n\r\n") else { return false };
        let len = text[..end]
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        buf.len() >= end + 4 + len
    };
    while !complete(&buf) && buf.len() < 64 * 1024 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes());
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
