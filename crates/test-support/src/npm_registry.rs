//! A minimal read-only npm registry on 127.0.0.1, enough for `npm view`, `npm pack` and
//! `npm install` of packages without dependencies — which is how Claude Code fetches an `npm`
//! plugin source:
//!
//! - `GET /<name>`: the packument (`dist-tags`, `versions` with `dist.tarball`, `dist.shasum`,
//!   `dist.integrity` (sha512, base64), `time`), for both the full and the abbreviated
//!   (`application/vnd.npm.install-v1+json`) `Accept` — the full one satisfies both;
//! - `GET /<name>/<version>` and `GET /<name>/<dist-tag>`: one version's manifest;
//! - `GET /<name>/-/<file>.tgz`: the tarball at the URL the packument names.
//!
//! Everything else is a JSON 404. Packages are "published" by the test with
//! [`NpmRegistry::publish`] (the package.json text and the tarball bytes); every request is
//! recorded. Claude Code's npm talks plain http only to the *default* registry, so a test writes
//! [`NpmRegistry::npmrc`] into its temp HOME's `.npmrc`.
//!
//! The HTTP side is deliberately tiny: GET and HEAD only, bodies ignored, bounded head size,
//! per-request deadlines, keep-alive, and every thread joined (within a bound) on drop.

use crate::server::Server;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// How long one request may take to arrive; also the idle keep-alive limit.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Socket read timeout: how soon a blocked reader notices the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Connections served at once; npm opens a handful.
const MAX_CONNECTIONS: usize = 64;

/// One published version.
#[derive(Debug, Clone)]
struct Version {
    manifest: Value,
    tgz: Arc<Vec<u8>>,
    file: String,
    time: String,
}

/// One request as the registry saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRequest {
    pub method: String,
    /// The request target (path and query) as received.
    pub target: String,
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    /// name → version → what was published, in publication order per name.
    packages: BTreeMap<String, Vec<(String, Version)>>,
    requests: Vec<RegistryRequest>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The server's stop flag: blocked reads end on it.
    stop: Arc<AtomicBool>,
    base: String,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running registry; dropping it stops it (bounded waits).
#[derive(Debug)]
pub struct NpmRegistry {
    shared: Arc<Shared>,
    _server: Server,
}

impl NpmRegistry {
    /// Starts a registry on a free loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound: nothing a test could do without it.
    pub fn start() -> NpmRegistry {
        crate::server::started("npm registry", NpmRegistry::try_start())
    }

    /// Like [`NpmRegistry::start`], returning the error.
    pub fn try_start() -> std::io::Result<NpmRegistry> {
        // Past the limit a connection is just closed: npm retries.
        let bound = Server::bind("npm-registry")?.max_connections(MAX_CONNECTIONS, drop);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), stop: bound.stop(), base: bound.url() });
        let conn_shared = Arc::clone(&shared);
        let server = bound.serve(move |stream| serve(stream, &conn_shared))?;
        Ok(NpmRegistry { shared, _server: server })
    }

    /// `http://127.0.0.1:PORT/` (npm wants the trailing slash).
    pub fn url(&self) -> String {
        format!("{}/", self.shared.base)
    }

    /// An `.npmrc` that makes this the default registry, with npm's background traffic (update
    /// checks, audit, funding) off.
    pub fn npmrc(&self) -> String {
        format!("registry={}\nupdate-notifier=false\naudit=false\nfund=false\n", self.url())
    }

    /// Publishes `tgz` under the name and version of `package_json` (the package's manifest);
    /// the latest publication becomes the `latest` dist-tag. Returns the tarball's integrity
    /// (`sha512-…`).
    ///
    /// # Panics
    /// If `package_json` is not JSON with a string `name` and `version`.
    #[allow(clippy::panic, reason = "test helper: a broken fixture fails the test")]
    pub fn publish(&self, package_json: &str, tgz: Vec<u8>) -> String {
        let mut manifest: Value = match serde_json::from_str(package_json) {
            Ok(v) => v,
            Err(e) => panic!("npm registry: package.json is not JSON: {e}"),
        };
        let (Some(name), Some(version)) =
            (manifest["name"].as_str().map(str::to_string), manifest["version"].as_str().map(str::to_string))
        else {
            panic!("npm registry: package.json has no name or version");
        };
        let integrity = integrity(&tgz);
        let shasum = sha1_smol::Sha1::from(&tgz).digest().to_string();
        let unscoped = name.rsplit('/').next().unwrap_or(&name).to_string();
        let file = format!("{unscoped}-{version}.tgz");
        let tarball = format!("{}/{}/-/{file}", self.shared.base, encode_name(&name));
        manifest["_id"] = json!(format!("{name}@{version}"));
        manifest["dist"] = json!({
            "tarball": tarball,
            "shasum": shasum,
            "integrity": integrity,
            "unpackedSize": tgz.len(),
        });
        let time = crate::rfc3339(crate::unix_now());
        let mut st = self.shared.state();
        let versions = st.packages.entry(name).or_default();
        versions.retain(|(v, _)| *v != version);
        versions.push((version, Version { manifest, tgz: Arc::new(tgz), file, time }));
        integrity
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RegistryRequest> {
        self.shared.state().requests.clone()
    }

    /// How often a tarball whose file name is `file` (e.g. `pkg-1.0.0.tgz`) was downloaded.
    pub fn downloads(&self, file: &str) -> usize {
        let suffix = format!("/-/{file}");
        self.requests().iter().filter(|r| r.status == 200 && r.target.ends_with(&suffix)).count()
    }

    /// The request log, one line each, for assertion messages.
    pub fn dump(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{} {} -> {}", r.method, r.target, r.status))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `sha512-<base64>`, npm's subresource-integrity string.
pub fn integrity(data: &[u8]) -> String {
    let digest = Sha512::digest(data);
    format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode(digest.as_slice()))
}

/// A package name as it appears in a URL path (`@scope/name` → `@scope%2fname`).
fn encode_name(name: &str) -> String {
    name.replace('/', "%2f")
}

fn decode_name(segment: &str) -> String {
    segment.replace("%2f", "/").replace("%2F", "/")
}

/// Serves one connection until it closes, errs, idles past the deadline or the registry stops.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let Some((method, target, keep_alive)) = read_head(&mut stream, &mut buf, shared) else { return };
        let (status, content_type, body) = route(shared, &method, &target);
        shared.state().requests.push(RegistryRequest { method: method.clone(), target, status });
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            if status == 200 { "OK" } else { "Not Found" },
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        let mut out = head.into_bytes();
        if method != "HEAD" {
            out.extend_from_slice(&body);
        }
        if stream.write_all(&out).and_then(|()| stream.flush()).is_err() || !keep_alive {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Reads one request head; `None` on close, error, timeout, stop or a malformed request. A
/// request with a body (npm sends none to a read-only registry) ends the connection after the
/// answer.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> Option<(String, String, bool)> {
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD || Instant::now() >= deadline || shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    };
    let head: Vec<u8> = buf.drain(..end + 4).collect();
    let head = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let mut keep_alive = version == "HTTP/1.1";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "connection" if value.contains("close") => keep_alive = false,
            "connection" if value.contains("keep-alive") => keep_alive = true,
            "content-length" if value != "0" => keep_alive = false,
            "transfer-encoding" => keep_alive = false,
            _ => {}
        }
    }
    Some((method.to_string(), target.to_string(), keep_alive))
}

/// The answer to one request: status, content type, body.
fn route(shared: &Shared, method: &str, target: &str) -> (u16, &'static str, Vec<u8>) {
    let not_found = || (404, "application/json", br#"{"error":"Not found"}"#.to_vec());
    if method != "GET" && method != "HEAD" {
        return not_found();
    }
    let path = target.split('?').next().unwrap_or_default().trim_start_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // `@scope/name` may arrive encoded (one segment) or as two segments.
    let (name, rest) = match segments.as_slice() {
        [scope, name, rest @ ..] if scope.starts_with('@') && !scope.contains("%2") => {
            (format!("{scope}/{name}"), rest.to_vec())
        }
        [name, rest @ ..] => (decode_name(name), rest.to_vec()),
        [] => return not_found(),
    };
    let st = shared.state();
    let Some(versions) = st.packages.get(&name) else { return not_found() };
    let latest = versions.last().map(|(v, _)| v.as_str()).unwrap_or_default();
    let as_json = |v: &Value| (200, "application/json", v.to_string().into_bytes());
    match rest.as_slice() {
        [] => as_json(&packument(&name, versions, latest)),
        ["-", file] => match versions.iter().find(|(_, v)| v.file == *file) {
            Some((_, v)) => (200, "application/octet-stream", v.tgz.as_ref().clone()),
            None => not_found(),
        },
        [spec] => {
            let wanted = if *spec == "latest" { latest } else { spec };
            match versions.iter().find(|(v, _)| v == wanted) {
                Some((_, v)) => as_json(&v.manifest),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn packument(name: &str, versions: &[(String, Version)], latest: &str) -> Value {
    let mut by_version = serde_json::Map::new();
    let mut time = serde_json::Map::new();
    for (v, pubd) in versions {
        by_version.insert(v.clone(), pubd.manifest.clone());
        time.insert(v.clone(), json!(pubd.time));
    }
    let created = versions.first().map(|(_, v)| v.time.clone()).unwrap_or_default();
    let modified = versions.last().map(|(_, v)| v.time.clone()).unwrap_or_default();
    time.insert("created".into(), json!(created));
    time.insert("modified".into(), json!(modified));
    let description = versions.last().map(|(_, v)| v.manifest["description"].clone()).unwrap_or(Value::Null);
    json!({
        "_id": name,
        "name": name,
        "description": description,
        "dist-tags": { "latest": latest },
        "versions": by_version,
        "time": time,
        "modified": modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> (u16, Vec<u8>) {
        let rest = url.trim_start_matches("http://");
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let end = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let status = String::from_utf8_lossy(&resp[9..12]).parse().unwrap();
        (status, resp[end + 4..].to_vec())
    }

    #[test]
    fn serves_packument_manifest_and_tarball() {
        let reg = NpmRegistry::start();
        assert_eq!(get(&format!("{}pkg", reg.url())).0, 404);
        reg.publish(r#"{"name":"pkg","version":"1.0.0","description":"d"}"#, b"one".to_vec());
        let integrity = reg.publish(r#"{"name":"pkg","version":"1.0.1"}"#, b"two".to_vec());
        let (status, body) = get(&format!("{}pkg", reg.url()));
        assert_eq!(status, 200);
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["dist-tags"]["latest"], "1.0.1");
        let dist = &doc["versions"]["1.0.1"]["dist"];
        assert_eq!(dist["integrity"], integrity.as_str());
        assert_eq!(dist["shasum"], sha1_smol::Sha1::from(b"two").digest().to_string().as_str());
        assert!(integrity.starts_with("sha512-") && integrity.len() == 7 + 88, "{integrity}");
        let (status, tgz) = get(dist["tarball"].as_str().unwrap());
        assert_eq!((status, tgz.as_slice()), (200, b"two".as_slice()));
        let (status, one) = get(&format!("{}pkg/1.0.0", reg.url()));
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_slice::<Value>(&one).unwrap()["version"], "1.0.0");
        assert_eq!(get(&format!("{}pkg/-/pkg-9.tgz", reg.url())).0, 404);
        assert_eq!(reg.downloads("pkg-1.0.1.tgz"), 1);
        assert!(reg.npmrc().starts_with(&format!("registry={}\n", reg.url())));
    }

    /// npm's SRI string, checked against `openssl dgst -sha512 -binary | base64` of "abc".
    #[test]
    fn integrity_is_sha512_base64() {
        assert_eq!(
            integrity(b"abc"),
            "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
        );
    }
}
