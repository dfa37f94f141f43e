//! The mock AWS server: Bedrock runtime and control plane, STS, SSO-OIDC, the SSO portal and AWS
//! Sign-In (`aws login`, in `signin`) on one loopback port, with SigV4 verification, fault
//! injection and a request log.
//!
//! What the real Claude Code 2.1.330 sends (`claude -p "say hi" --output-format stream-json
//! --verbose`, `CLAUDE_CODE_USE_BEDROCK=1`, `AWS_REGION=us-east-1`, `ANTHROPIC_BEDROCK_BASE_URL`
//! and `AWS_ENDPOINT_URL` = this mock; run inside `unshare -n` so only loopback existed):
//!
//! - Every request is SigV4 (`AWS4-HMAC-SHA256`, scope `us-east-1`), sends and signs
//!   `x-amz-security-token` and `x-amz-content-sha256`, and uses keep-alive. Service `bedrock`
//!   for all Bedrock calls, `sts` for the probe. Content-Length bodies, never chunked.
//! - With static env keys and no settings, five requests, nothing else:
//!   1. `GET /inference-profiles?type=SYSTEM_DEFINED` (aws-sdk-js 3.936 `ListInferenceProfiles`;
//!      it follows `nextToken` and keeps the ids containing "anthropic"; an empty
//!      `{"inferenceProfileSummaries":[]}` is fine and leaves it on its defaults).
//!   2. Three `POST /model/<id>/invoke` availability probes (`max_tokens: 1`, prompt ".") for
//!      `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `us.anthropic.claude-opus-5-5` and
//!      `us.anthropic.claude-haiku-4-5-20251001-v1:0`, in varying order.
//!   3. `POST /model/us.anthropic.claude-opus-5-5/invoke-with-response-stream` with the real
//!      prompt (~50 KB; user agent `claude-cli/2.1.330`, `anthropic-version: 2023-06-01`).
//! - Model ids arrive with a raw `:` in the path, but the signature covers the path encoded
//!   once (`%3A`): the "encoded-once" canonical-URI variant. Ids without `:` match "as-received".
//! - The STS probe happens only when the settings have `awsAuthRefresh` (not for
//!   `awsCredentialExport` alone): `POST /`, `content-type: application/x-www-form-urlencoded`,
//!   body `Action=GetCallerIdentity&Version=2011-06-15`, signed with the default chain's key
//!   (env or `~/.aws/credentials`). On `403 ExpiredToken` it ran `awsAuthRefresh`, then
//!   `awsCredentialExport`, and signed every Bedrock call with the exported key.
//! - A `403 ExpiredTokenException` on the stream call shows up in stream-json as
//!   `{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":~500,
//!   "error_status":403,"error":"authentication_failed"}`; it re-ran `awsCredentialExport` and
//!   retried ~0.5 s later. A 403 on a probe `invoke` is not retried.
//! - A hook's `{"systemMessage":"a\nb"}` appears in stream-json as
//!   `{"type":"system","subtype":"informational","content":"UserPromptSubmit says: a\n
//!   UserPromptSubmit says: b","level":"notice",..}` (one prefix per line).
//! - When its default chain finds no credentials (no env keys, no `~/.aws/credentials`), the AWS
//!   SDK inside Claude Code connects to 169.254.169.254 (EC2 metadata); tests set
//!   `AWS_EC2_METADATA_DISABLED=true` (see `claude_bedrock_env`), after which strace showed
//!   connects to 127.0.0.1 only, and no DNS.
//! - A whole `-p` run against the mock takes about 1.3 s; stderr stays empty.

mod http;
pub mod proxy;
mod routes;
pub mod signin;
pub mod sts;

use std::collections::{HashMap, VecDeque};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::server::Server;
use http::{Conn, Delivery, ReadError, Response};

/// Most connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 256;
/// Most requests kept in the log (counts keep counting past it).
const MAX_RECORDED: usize = 100_000;

/// What a request was, by method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// SSO-OIDC `POST /token` (CreateToken).
    Token,
    /// AWS Sign-In `POST /v1/token` (CreateOAuth2Token, `aws login` refreshes).
    SigninToken,
    /// SSO portal `GET /federation/credentials` (GetRoleCredentials).
    RoleCredentials,
    /// STS query API `POST /` (GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity: `sts`).
    Sts,
    /// Bedrock runtime `POST /model/{id}/invoke`.
    BedrockInvoke,
    /// Bedrock runtime `POST /model/{id}/invoke-with-response-stream`.
    BedrockStream,
    /// Bedrock control plane `GET /inference-profiles...`.
    InferenceProfiles,
    /// Anything else (answered 404), so tests can spot unexpected calls.
    Other,
}

impl Route {
    pub const ALL: [Route; 8] = [
        Route::Token,
        Route::SigninToken,
        Route::RoleCredentials,
        Route::Sts,
        Route::BedrockInvoke,
        Route::BedrockStream,
        Route::InferenceProfiles,
        Route::Other,
    ];

    /// Short stable name, used by the `mock-aws` binary's commands and log.
    pub fn name(self) -> &'static str {
        match self {
            Route::Token => "token",
            Route::SigninToken => "signin-token",
            Route::RoleCredentials => "role-credentials",
            Route::Sts => "sts",
            Route::BedrockInvoke => "invoke",
            Route::BedrockStream => "stream",
            Route::InferenceProfiles => "inference-profiles",
            Route::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// An injected failure. Queued faults are consumed one per request, first in first out; a
/// sticky fault applies to every request of its route until cleared. Faults other than `Slow`
/// replace the route's normal behaviour entirely, without its side effects (no token is issued,
/// no refresh token rotates), so a retry after a fault sees the state as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status with an AWS-shaped error body.
    Status(u16),
    /// 429 with `Retry-After` and `x-amzn-errortype: ThrottlingException`.
    Throttle { retry_after_secs: u64 },
    /// Wait this long, then behave normally.
    Slow(Duration),
    /// 200 with a body that is not valid JSON.
    MalformedJson,
    /// Announce a `Content-Length`, send half the body, close the connection.
    Truncated,
    /// 400 `{"error":"invalid_grant"}`, as SSO-OIDC answers a dead refresh token.
    InvalidGrant,
    /// The route's own "your credentials are no good" answer: 401 `invalid_client` for
    /// CreateToken, 401 `UnauthorizedException` for the portal, 403 `ExpiredToken` (XML) for
    /// STS, 403 `ExpiredTokenException` for Bedrock routes, 401 `TOKEN_EXPIRED` for Sign-In.
    Unauthorized,
    /// Close the connection without answering.
    CloseConnection,
}

/// One request as the mock saw and answered it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Arrival order, from 0.
    pub seq: u64,
    pub at: SystemTime,
    pub method: String,
    /// Path exactly as received (percent-encoding intact), without the query.
    pub path: String,
    /// Query string exactly as received, without `?`.
    pub query: String,
    pub route: Route,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Model id from a Bedrock runtime path, percent-decoded.
    pub model_id: Option<String>,
    /// From the SigV4 `Authorization` header, whether or not it verified.
    pub access_key_id: Option<String>,
    /// Service and region from the SigV4 credential scope.
    pub signing_service: Option<String>,
    pub signing_region: Option<String>,
    /// The signature verified against the secret registered for `access_key_id`.
    pub signature_ok: bool,
    /// Which canonical URI variant matched ("as-received", "encoded-once", ...).
    pub signature_variant: Option<&'static str>,
    /// `x-amz-security-token` header.
    pub security_token: Option<String>,
    /// `x-amz-sso_bearer_token` header (SSO portal).
    pub bearer_token: Option<String>,
    /// Status answered; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// AWS error type or OIDC error code answered, if any.
    pub error: Option<String>,
    /// Fault that shaped the answer, if any.
    pub fault: Option<Fault>,
}

impl RecordedRequest {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether this is a successful, correctly signed request made with `access_key_id`.
    pub fn signed_ok_by(&self, access_key_id: &str) -> bool {
        self.signature_ok && self.status == Some(200) && self.access_key_id.as_deref() == Some(access_key_id)
    }

    /// A JSON summary (bodies over 2 KiB are cut) for logs and debugging.
    pub fn to_json(&self) -> serde_json::Value {
        let body = self.body_text();
        let body: String =
            if body.len() > 2048 { format!("{}…", body.chars().take(2048).collect::<String>()) } else { body };
        serde_json::json!({
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "route": self.route.name(),
            "headers": self.headers.iter().map(|(n, v)| serde_json::json!([n, v])).collect::<Vec<_>>(),
            "body": body,
            "modelId": self.model_id,
            "accessKeyId": self.access_key_id,
            "signingService": self.signing_service,
            "signingRegion": self.signing_region,
            "signatureOk": self.signature_ok,
            "signatureVariant": self.signature_variant,
            "securityToken": self.security_token,
            "bearerToken": self.bearer_token,
            "status": self.status,
            "error": self.error,
            "fault": self.fault.as_ref().map(|f| format!("{f:?}")),
        })
    }
}

/// A Bedrock/STS key the mock knows.
#[derive(Debug, Clone)]
struct Key {
    secret: String,
    session_token: Option<String>,
    valid: bool,
    /// Role credentials from GetRoleCredentials expire on their own.
    expires_at: Option<SystemTime>,
}

impl Key {
    /// Temporary credentials the mock handed out: valid until `expires_at`.
    fn issued(secret: &str, session_token: &str, expires_at: SystemTime) -> Key {
        Key {
            secret: secret.to_string(),
            session_token: Some(session_token.to_string()),
            valid: true,
            expires_at: Some(expires_at),
        }
    }

    fn usable(&self, now: SystemTime) -> bool {
        self.valid && self.expires_at.is_none_or(|t| now < t)
    }
}

/// An SSO access token the portal accepts.
#[derive(Debug, Clone)]
struct AccessToken {
    valid: bool,
    expires_at: Option<SystemTime>,
}

/// Everything the routes read and write, behind one mutex (requests are few; contention is
/// irrelevant, and one lock makes every test observation consistent).
#[derive(Debug)]
struct State {
    keys: HashMap<String, Key>,
    answer: String,
    oidc_client: Option<(String, String)>,
    refresh_token: Option<String>,
    token_expires_in: i64,
    rotate_refresh_token: bool,
    access_tokens: HashMap<String, AccessToken>,
    role_creds_lifetime: i64,
    faults: HashMap<Route, VecDeque<Fault>>,
    sticky: HashMap<Route, Fault>,
    requests: Vec<RecordedRequest>,
    counts: HashMap<Route, usize>,
    next_seq: u64,
    issued_access_tokens: Vec<String>,
    issued_refresh_tokens: Vec<String>,
    issued_role_keys: Vec<String>,
    signin: signin::SigninState,
    sts: sts::StsState,
}

impl State {
    fn new() -> State {
        State {
            keys: HashMap::new(),
            answer: "MOCK_ANSWER_OK".to_string(),
            oidc_client: None,
            refresh_token: None,
            token_expires_in: 3600,
            rotate_refresh_token: true,
            access_tokens: HashMap::new(),
            role_creds_lifetime: 3600,
            faults: HashMap::new(),
            sticky: HashMap::new(),
            requests: Vec::new(),
            counts: HashMap::new(),
            next_seq: 0,
            issued_access_tokens: Vec::new(),
            issued_refresh_tokens: Vec::new(),
            issued_role_keys: Vec::new(),
            signin: signin::SigninState::new(),
            sts: sts::StsState::default(),
        }
    }

    /// Next fault for a route: the FIFO queue first, then the sticky one.
    fn take_fault(&mut self, route: Route) -> Option<Fault> {
        if let Some(f) = self.faults.get_mut(&route).and_then(VecDeque::pop_front) {
            return Some(f);
        }
        self.sticky.get(&route).cloned()
    }
}

/// State shared by the handle and connection threads.
struct Shared {
    state: Mutex<State>,
    /// The server's stop flag: long waits (`Fault::Slow`) end early on it.
    stop: Arc<AtomicBool>,
    /// Feeds unique ids for tokens and keys.
    unique: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not turn every later observation into a second panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh hex string, unique within the process and unpredictable enough for a mock.
    fn unique_hex(&self, len: usize) -> String {
        let n = self.unique.fetch_add(1, Ordering::SeqCst);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let mut out = String::new();
        let mut round = 0u32;
        while out.len() < len && round < 16 {
            let seed = format!("{n}/{nanos}/{}/{round}", std::process::id());
            out.push_str(&crate::sigv4::sha256_hex(seed.as_bytes()));
            round += 1;
        }
        out.truncate(len);
        out
    }

    fn next_unique(&self) -> u64 {
        self.unique.fetch_add(1, Ordering::SeqCst)
    }
}

/// A running mock. Dropping it stops the server and joins its threads (bounded waits).
pub struct MockAws {
    shared: Arc<Shared>,
    server: Server,
}

impl std::fmt::Debug for MockAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAws").field("addr", &self.server.addr()).finish()
    }
}

impl MockAws {
    /// Starts a mock on `127.0.0.1` on a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound: nothing a test could do without it.
    pub fn start() -> MockAws {
        crate::server::started("mock AWS", MockAws::try_start())
    }

    /// Like [`MockAws::start`], returning the bind error instead of panicking.
    pub fn try_start() -> std::io::Result<MockAws> {
        let bound = Server::bind("mock-aws")?.max_connections(MAX_CONNECTIONS, overloaded);
        let shared =
            Arc::new(Shared { state: Mutex::new(State::new()), stop: bound.stop(), unique: AtomicU64::new(1) });
        let conn_shared = Arc::clone(&shared);
        let server = bound.serve(move |stream| serve_connection(stream, &conn_shared))?;
        Ok(MockAws { shared, server })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Registers a Bedrock/STS key. `valid = false` makes it answer as expired.
    pub fn add_key(&self, access_key_id: &str, secret: &str, session_token: Option<&str>, valid: bool) {
        self.shared.state().keys.insert(
            access_key_id.to_string(),
            Key {
                secret: secret.to_string(),
                session_token: session_token.map(str::to_string),
                valid,
                expires_at: None,
            },
        );
    }

    /// Marks a key valid or expired; unknown keys are ignored.
    pub fn set_key_valid(&self, access_key_id: &str, valid: bool) {
        if let Some(k) = self.shared.state().keys.get_mut(access_key_id) {
            k.valid = valid;
        }
    }

    /// Text the model answers (default `MOCK_ANSWER_OK`).
    pub fn set_answer(&self, text: &str) {
        self.shared.state().answer = text.to_string();
    }

    /// The client id and secret CreateToken accepts. Until set, every CreateToken is refused.
    pub fn set_oidc_client(&self, client_id: &str, client_secret: &str) {
        self.shared.state().oidc_client = Some((client_id.to_string(), client_secret.to_string()));
    }

    /// The refresh token CreateToken accepts now (replacing any other).
    pub fn set_refresh_token(&self, refresh_token: &str) {
        self.shared.state().refresh_token = Some(refresh_token.to_string());
    }

    /// The refresh token CreateToken accepts now, if any.
    pub fn refresh_token(&self) -> Option<String> {
        self.shared.state().refresh_token.clone()
    }

    /// `expiresIn` of new access tokens; they stop working at the portal after it (0 or less:
    /// dead on arrival).
    pub fn set_token_expires_in(&self, secs: i64) {
        self.shared.state().token_expires_in = secs;
    }

    /// Whether CreateToken rotates the refresh token (default true: each success returns a new
    /// one and the old one stops working). When false, the response has no `refreshToken`.
    pub fn set_rotate_refresh_token(&self, rotate: bool) {
        self.shared.state().rotate_refresh_token = rotate;
    }

    /// Seeds an access token the portal accepts (`valid = true`, no expiry) or rejects.
    pub fn add_access_token(&self, token: &str, valid: bool) {
        self.shared.state().access_tokens.insert(token.to_string(), AccessToken { valid, expires_at: None });
    }

    /// Marks an access token valid or invalid; unknown tokens are ignored.
    pub fn set_access_token_valid(&self, token: &str, valid: bool) {
        if let Some(t) = self.shared.state().access_tokens.get_mut(token) {
            t.valid = valid;
        }
    }

    /// Lifetime of role credentials from GetRoleCredentials; the keys stop working after it.
    pub fn set_role_creds_lifetime(&self, secs: i64) {
        self.shared.state().role_creds_lifetime = secs;
    }

    /// Queues a one-shot fault for a route.
    pub fn push_fault(&self, route: Route, fault: Fault) {
        self.shared.state().faults.entry(route).or_default().push_back(fault);
    }

    /// Sets (or with `None` clears) a fault applied to every request of a route.
    pub fn set_sticky_fault(&self, route: Route, fault: Option<Fault>) {
        let mut st = self.shared.state();
        match fault {
            Some(f) => st.sticky.insert(route, f),
            None => st.sticky.remove(&route),
        };
    }

    /// Drops all queued and sticky faults.
    pub fn clear_faults(&self) {
        let mut st = self.shared.state();
        st.faults.clear();
        st.sticky.clear();
    }

    /// Requests seen on a route (all of them, also past the log's cap).
    pub fn count(&self, route: Route) -> usize {
        self.shared.state().counts.get(&route).copied().unwrap_or_default()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Requests from `seq` on (for tailing the log).
    pub fn requests_since(&self, seq: u64) -> Vec<RecordedRequest> {
        self.shared.state().requests.iter().filter(|r| r.seq >= seq).cloned().collect()
    }

    /// Access tokens CreateToken handed out, oldest first.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.shared.state().issued_access_tokens.clone()
    }

    /// Refresh tokens CreateToken handed out (rotation), oldest first.
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.shared.state().issued_refresh_tokens.clone()
    }

    /// Access key ids GetRoleCredentials handed out, oldest first.
    pub fn issued_role_keys(&self) -> Vec<String> {
        self.shared.state().issued_role_keys.clone()
    }

    /// The whole log as JSON lines, handy in assertion messages.
    pub fn dump(&self) -> String {
        self.requests().iter().map(|r| r.to_json().to_string()).collect::<Vec<_>>().join("\n")
    }
}

/// A connection past `MAX_CONNECTIONS`: told so, then closed.
fn overloaded(mut stream: TcpStream) {
    let resp = Response::json(503, &serde_json::json!({"message": "mock: too many connections"}));
    http::write_response(&mut stream, &resp, false, "mock-overload");
}

fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) {
    let mut conn = Conn::new(stream, Arc::clone(&shared.stop));
    // Bounded: each iteration reads one request within `http::REQUEST_DEADLINE`, and the loop
    // ends on close, error, stop or a response that ends the connection.
    loop {
        let req = match conn.read_request() {
            Ok(r) => r,
            Err(ReadError::Closed | ReadError::Stopped | ReadError::Timeout | ReadError::Io) => {
                return;
            }
            Err(e) => {
                let (status, msg) = match e {
                    ReadError::HeadTooLarge => (431, "request head too large"),
                    ReadError::BodyTooLarge => (413, "request body too large"),
                    ReadError::Bad(m) => (400, m),
                    _ => (400, "bad request"),
                };
                let resp = Response::json(status, &serde_json::json!({ "message": format!("mock: {msg}") }))
                    .with_header("x-amzn-errortype", "BadRequestException");
                let seq = record_malformed(shared, status, msg);
                http::write_response(conn.stream(), &resp, false, &format!("mock-{seq}"));
                return;
            }
        };
        let (resp, seq) = routes::handle(shared, &req);
        if !http::write_response(conn.stream(), &resp, req.keep_alive, &format!("mock-{seq}")) {
            return;
        }
    }
}

/// Logs a request that could not even be parsed, as `Route::Other`.
fn record_malformed(shared: &Shared, status: u16, msg: &str) -> u64 {
    let mut st = shared.state();
    let seq = st.next_seq;
    st.next_seq += 1;
    *st.counts.entry(Route::Other).or_default() += 1;
    if st.requests.len() < MAX_RECORDED {
        st.requests.push(RecordedRequest {
            seq,
            at: SystemTime::now(),
            method: String::new(),
            path: String::new(),
            query: String::new(),
            route: Route::Other,
            headers: Vec::new(),
            body: Vec::new(),
            model_id: None,
            access_key_id: None,
            signing_service: None,
            signing_region: None,
            signature_ok: false,
            signature_variant: None,
            security_token: None,
            bearer_token: None,
            status: Some(status),
            error: Some(format!("malformed request: {msg}")),
            fault: None,
        });
    }
    seq
}

/// The status to record: `None` when the answer is a deliberate connection close.
fn delivered_status(resp: &Response) -> Option<u16> {
    (resp.delivery != Delivery::Close).then_some(resp.status)
}
