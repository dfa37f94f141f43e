//! HTTPS calls to the SSO endpoints: endpoint resolution as the AWS SDKs do it,
//! one ureq agent configuration (timeouts, proxy, CA bundle), bounded retries,
//! and one-line errors naming the endpoint and what went wrong.
//!
//! Request headers and bodies carry secrets (bearer tokens, refresh tokens,
//! client secrets); nothing here ever formats them.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::env::{Env, vars};

/// Connecting (TCP and TLS, through any proxy) must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One API call, retries and back-off included, ends within this. Hooks
/// run while the user waits; a stuck endpoint must not hang Claude Code.
pub const CALL_BUDGET: Duration = Duration::from_secs(15);
/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// Answers are a few hundred bytes; anything near this is not an SSO answer.
const MAX_BODY: u64 = 256 * 1024;
/// Not worth starting an attempt with less than this left of the budget.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// The AWS services we call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// IAM Identity Center OIDC (CreateToken).
    Oidc,
    /// The SSO portal (GetRoleCredentials).
    Portal,
    /// STS (AssumeRole, AssumeRoleWithWebIdentity).
    Sts,
    /// AWS Sign-In (`aws login` token refresh).
    Signin,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Oidc => "SSO-OIDC",
            Service::Portal => "SSO portal",
            Service::Sts => "STS",
            Service::Signin => "AWS Sign-In",
        }
    }

    /// The service-specific override the SDKs read (it wins over `AWS_ENDPOINT_URL`).
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Oidc => vars::AWS_ENDPOINT_URL_SSO_OIDC,
            Service::Portal => vars::AWS_ENDPOINT_URL_SSO,
            Service::Sts => vars::AWS_ENDPOINT_URL_STS,
            Service::Signin => vars::AWS_ENDPOINT_URL_SIGNIN,
        }
    }

    /// The config key the region comes from, for messages.
    fn region_key(self) -> &'static str {
        match self {
            Service::Oidc | Service::Portal => "sso_region",
            Service::Sts | Service::Signin => "region",
        }
    }

    fn default_url(self, region: &str) -> String {
        match self {
            Service::Oidc => format!("https://oidc.{region}.amazonaws.com"),
            Service::Portal => format!("https://portal.sso.{region}.amazonaws.com"),
            Service::Sts if region.starts_with("cn-") => format!("https://sts.{region}.amazonaws.com.cn"),
            Service::Sts => format!("https://sts.{region}.amazonaws.com"),
            // botocore's endpoint rules for the signin service, per partition.
            Service::Signin if region.starts_with("cn-") => format!("https://{region}.signin.amazonaws.cn"),
            Service::Signin if region.starts_with("us-gov-") => format!("https://{region}.signin.amazonaws-us-gov.com"),
            Service::Signin => format!("https://{region}.signin.aws.amazon.com"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{var}={url} is not usable as the {service} endpoint: {reason}; fix or unset {var}")]
    BadEndpoint { service: &'static str, var: &'static str, url: String, reason: &'static str },
    #[error("invalid {key} {region:?} for the {service} endpoint; fix {key} in your AWS config")]
    BadRegion { service: &'static str, key: &'static str, region: String },
    #[error("{var} is not a usable proxy URL ({shown}); fix or unset {var}")]
    BadProxy { var: &'static str, shown: String },
    #[error(
        "cannot use AWS_CA_BUNDLE {path}: {detail}; point AWS_CA_BUNDLE at a PEM file of CA certificates or unset it"
    )]
    CaBundle { path: PathBuf, detail: String },
    #[error(
        "cannot resolve host {host} for {at} (DNS lookup failed, {attempts} attempt(s)); check your network connection and the endpoint URL"
    )]
    Dns { at: String, host: String, attempts: u32 },
    #[error(
        "connection refused by {at} after {attempts} attempt(s); check the endpoint URL and that the service is reachable"
    )]
    Refused { at: String, attempts: u32 },
    #[error(
        "TLS with {at} failed: {detail}; if a proxy or firewall intercepts TLS, set AWS_CA_BUNDLE to its CA certificate file"
    )]
    Tls { at: String, detail: String },
    #[error("proxy {proxy} failed for {at}: {detail}; check {var} and NO_PROXY")]
    Proxy { at: String, proxy: String, var: &'static str, detail: String },
    #[error(
        "{at} did not answer within {secs} s (timeout after {attempts} attempt(s)); check your network or proxy and retry"
    )]
    Timeout { at: String, secs: u64, attempts: u32 },
    #[error("connection to {at} failed after {attempts} attempt(s): {detail}; check your network and retry")]
    Connection { at: String, detail: String, attempts: u32 },
    #[error("{at} answered HTTP {status}{}{}; {}", code_part(code), message_part(message), status_hint(*status))]
    Status { at: String, status: u16, code: Option<String>, message: Option<String> },
    #[error("{at} sent an unreadable answer ({detail}); retry later, and check any proxy in between")]
    BadResponse { at: String, detail: String },
}

fn code_part(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn message_part(message: &Option<String>) -> String {
    message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
}

fn status_hint(status: u16) -> &'static str {
    match status {
        429 => "AWS is throttling requests: wait a minute and retry",
        500..=599 => "an AWS-side error: retry in a minute",
        401 => "the SSO session was refused: log in again",
        403 => "access denied: check sso_account_id and sso_role_name, or log in again",
        _ => "check the SSO configuration and endpoint",
    }
}

impl HttpError {
    /// Whether another attempt may succeed: the network or AWS had a moment,
    /// as opposed to a configuration the user must fix.
    fn retryable(&self) -> bool {
        match self {
            // DNS too: right after a laptop wakes up, the network needs a moment.
            HttpError::Dns { .. }
            | HttpError::Refused { .. }
            | HttpError::Timeout { .. }
            | HttpError::Connection { .. } => true,
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            // A cut-off body is a dropped connection; malformed JSON is not
            // produced here (callers parse), so this is transport trouble.
            HttpError::BadResponse { .. } => true,
            _ => false,
        }
    }

    fn set_attempts(&mut self, n: u32) {
        match self {
            HttpError::Dns { attempts, .. }
            | HttpError::Refused { attempts, .. }
            | HttpError::Timeout { attempts, .. }
            | HttpError::Connection { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

/// A resolved service endpoint: base URL without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub service: Service,
    pub base: String,
    host: String,
    port: Option<u16>,
    https: bool,
}

impl Endpoint {
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the host is this machine (127.0.0.0/8, ::1, localhost).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} endpoint {}", self.service.name(), self.base)
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

/// The endpoint for `service` in `region`, as the SDKs pick it:
/// `AWS_ENDPOINT_URL_SSO_OIDC`/`AWS_ENDPOINT_URL_SSO`, then `AWS_ENDPOINT_URL`,
/// then the public AWS endpoint. Plain `http://` only for loopback hosts.
pub fn resolve(env: &Env, service: Service, region: &str) -> Result<Endpoint, HttpError> {
    for var in [service.env_var(), vars::AWS_ENDPOINT_URL] {
        if let Some(url) = env.get(var) {
            return parse_endpoint(service, var, url.trim());
        }
    }
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(HttpError::BadRegion {
            service: service.name(),
            key: service.region_key(),
            region: region.chars().take(64).collect(),
        });
    }
    parse_endpoint(service, service.region_key(), &service.default_url(region))
}

fn parse_endpoint(service: Service, var: &'static str, url: &str) -> Result<Endpoint, HttpError> {
    let bad = |reason| HttpError::BadEndpoint { service: service.name(), var, url: url.to_string(), reason };
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if lower.starts_with("https://") {
        (true, url.get(8..).unwrap_or(""))
    } else if lower.starts_with("http://") {
        (false, url.get(7..).unwrap_or(""))
    } else {
        return Err(bad("it must start with https://"));
    };
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it must be a plain URL without query, fragment or spaces"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad("user names or passwords in the URL are not supported"));
    }
    let (host, port) = split_host_port(authority).ok_or_else(|| bad("it has no valid host[:port]"))?;
    if !https && !is_loopback_host(&host) {
        return Err(bad("plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost); use https://"));
    }
    let base = url.trim_end_matches('/').to_string();
    Ok(Endpoint { service, base, host, port, https })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → (host without brackets, port).
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    if authority.is_empty() {
        return None;
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        host.parse::<std::net::Ipv6Addr>().ok()?;
        return Some((host.to_string(), port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (authority, None),
    };
    let valid =
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    valid.then(|| (host.to_ascii_lowercase(), port))
}

/// Whether `NO_PROXY` exempts `host[:port]`, with the rules curl and Python's
/// urllib share: `*` for all; `example.com`, `.example.com` and
/// `*.example.com` all match example.com's subdomains (and, but for the
/// leading-dot form's strictest readers, example.com itself); an optional
/// `:port`; IP addresses exactly or by IPv4 CIDR (`10.0.0.0/8`).
pub fn no_proxy_matches(no_proxy: &str, host: &str, port: Option<u16>) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    for raw in no_proxy.split(',') {
        let entry = raw.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return true;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            if let (Some(IpAddr::V4(ip)), Ok(IpAddr::V4(net)), Ok(bits)) =
                (host_ip, net.parse::<IpAddr>(), bits.parse::<u32>())
                && bits <= 32
            {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                if u32::from(ip) & mask == u32::from(net) & mask {
                    return true;
                }
            }
            continue;
        }
        let (name, entry_port) = match split_host_port(entry.trim_start_matches("*.").trim_start_matches('.')) {
            Some((h, p)) => (h, p),
            None => (entry.trim_start_matches("*.").trim_start_matches('.').to_string(), None),
        };
        if entry_port.is_some() && entry_port != port.or(Some(443)) {
            continue;
        }
        if let (Some(ip), Ok(entry_ip)) = (host_ip, name.parse::<IpAddr>()) {
            if ip == entry_ip {
                return true;
            }
            continue;
        }
        if host == name || host.ends_with(&format!(".{name}")) {
            return true;
        }
    }
    false
}

/// The proxy for an endpoint: `https_proxy`/`HTTPS_PROXY` (lower case wins,
/// as in Python's urllib, which botocore uses) unless the host is loopback
/// or `no_proxy`/`NO_PROXY` exempts it. Returns the proxy, how to show it
/// (no credentials) and the variable it came from.
fn proxy_for(env: &Env, endpoint: &Endpoint) -> Result<Option<(ureq::Proxy, String, &'static str)>, HttpError> {
    if !endpoint.https || endpoint.is_loopback() {
        return Ok(None);
    }
    let Some((var, url)) = [vars::HTTPS_PROXY_LOWER, vars::HTTPS_PROXY]
        .into_iter()
        .find_map(|v| env.get(v).map(|u| (v, u.trim().to_string())))
    else {
        return Ok(None);
    };
    let no_proxy = env.get(vars::NO_PROXY_LOWER).or_else(|| env.get(vars::NO_PROXY)).unwrap_or("");
    if no_proxy_matches(no_proxy, &endpoint.host, endpoint.port) {
        return Ok(None);
    }
    let shown = redact_proxy(&url);
    let proxy = ureq::Proxy::new(&url).map_err(|_| HttpError::BadProxy { var, shown: shown.clone() })?;
    Ok(Some((proxy, shown, var)))
}

/// `http://user:pass@host:3128` → `http://host:3128`: proxy passwords stay out of messages.
fn redact_proxy(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    format!("{scheme}{host}")
}

/// Roots: `AWS_CA_BUNDLE` alone when set (as botocore does: the bundle
/// replaces the default store), else the system store through the platform
/// verifier. Never ureq's default (bundled roots, which ignore corporate CAs).
fn root_certs(env: &Env) -> Result<ureq::tls::RootCerts, HttpError> {
    let Some(path) = env.get(vars::AWS_CA_BUNDLE) else {
        return Ok(ureq::tls::RootCerts::PlatformVerifier);
    };
    let path = match (path.strip_prefix("~/"), env.home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    };
    let err = |detail: String| HttpError::CaBundle { path: path.clone(), detail };
    let pem = match crate::fsutil::read_optional(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Err(err("the file does not exist".into())),
        Err(e) => return Err(err(e.to_string())),
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c.to_owned()),
            Ok(_) => {}
            Err(e) => return Err(err(format!("invalid PEM ({e})"))),
        }
    }
    if certs.is_empty() {
        return Err(err("no certificates found in it".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One API call. Header values and the body may be secret: they are sent,
/// never shown.
pub struct Request<'a> {
    /// Operation name for messages, e.g. "CreateToken".
    pub op: &'static str,
    pub method: Method,
    /// Path below the endpoint's base, starting with `/`.
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    /// The body for POST.
    pub body: Body,
}

/// A request body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    None,
    /// `application/json`.
    Json(String),
    /// `application/x-www-form-urlencoded` (the STS Query API).
    Form(String),
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("op", &self.op)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// An answer other than a retryable failure. The body may hold secrets.
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// `x-amzn-errortype` (AWS JSON protocols), without any `:detail` suffix.
    pub error_type: Option<String>,
    /// "SSO-OIDC CreateToken at https://…/token", for messages.
    pub at: String,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("error_type", &self.error_type)
            .field("at", &self.at)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Reply {
    /// The AWS error code: the `error` field (OIDC), `x-amzn-errortype`, or `__type`.
    pub fn error_code(&self) -> Option<String> {
        let v: Option<serde_json::Value> = serde_json::from_str(&self.body).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|x| x.as_str()).map(str::to_string);
        let code = field("error").or_else(|| self.error_type.clone()).or_else(|| field("__type"))?;
        // `__type` can be "namespace#Code".
        Some(clean(code.rsplit('#').next().unwrap_or(&code), 64))
    }

    /// The error's human message (`error_description` or `message`), shortened.
    pub fn error_message(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        ["error_description", "message", "Message"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
            .map(|m| clean(m, 160))
    }

    /// This answer as an error, for statuses the caller has no special meaning for.
    pub fn into_status_error(self) -> HttpError {
        HttpError::Status { status: self.status, code: self.error_code(), message: self.error_message(), at: self.at }
    }
}

/// Printable, single-line, bounded: server text goes into one-line messages.
fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// An HTTP client for one endpoint.
pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    proxy: Option<(String, &'static str)>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("endpoint", &self.endpoint).field("proxy", &self.proxy).finish()
    }
}

impl Client {
    /// Builds the agent: connect timeout, overall budget, proxy, trust roots,
    /// no redirects (a redirect would carry the bearer token elsewhere), and
    /// HTTP error statuses returned as answers so AWS error codes can be read.
    pub fn new(env: &Env, endpoint: Endpoint) -> Result<Client, HttpError> {
        let roots = if endpoint.https { root_certs(env)? } else { ureq::tls::RootCerts::PlatformVerifier };
        let proxy = proxy_for(env, &endpoint)?;
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_BUDGET))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .proxy(proxy.as_ref().map(|(p, _, _)| p.clone()))
            .tls_config(tls)
            .user_agent(concat!("cc-aws-keepalive/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            endpoint,
            proxy: proxy.map(|(_, shown, var)| (shown, var)),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `req`, retrying timeouts, connection failures, 5xx and 429 with
    /// back-off (honouring `Retry-After`) within [`CALL_BUDGET`]. Other
    /// answers, 4xx included, are returned for the caller to interpret.
    pub fn send(&self, req: &Request<'_>) -> Result<Reply, HttpError> {
        let start = Instant::now();
        let deadline = start + CALL_BUDGET;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = self.once(req, remaining);
            let (mut err, delay) = match outcome {
                Ok(reply) => return Ok(reply),
                Err(Failure::Http(e)) if !e.retryable() => return Err(e),
                Err(Failure::Http(e)) => (e, backoff(attempt)),
                Err(Failure::Retry(reply)) => {
                    let after = reply.retry_after;
                    (reply.reply.into_status_error(), after.unwrap_or_else(|| backoff(attempt)))
                }
            };
            err.set_attempts(attempt);
            let left = deadline.saturating_duration_since(Instant::now());
            if attempt >= MAX_ATTEMPTS || delay + MIN_ATTEMPT > left {
                // A timeout that used up the budget says so, whatever attempt it was.
                if let HttpError::Timeout { secs, .. } = &mut err {
                    *secs = start.elapsed().as_secs().max(1);
                }
                return Err(err);
            }
            std::thread::sleep(delay);
        }
    }

    fn at(&self, req: &Request<'_>) -> String {
        format!("{} {} at {}{}", self.endpoint.service.name(), req.op, self.endpoint.base, req.path)
    }

    fn once(&self, req: &Request<'_>, budget: Duration) -> Result<Reply, Failure> {
        let at = self.at(req);
        let url = format!("{}{}", self.endpoint.base, req.path);
        let budget = budget.max(MIN_ATTEMPT);
        let result = match req.method {
            Method::Get => {
                let mut b = self.agent.get(&url);
                for (k, v) in req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in req.headers {
                    b = b.header(*k, *v);
                }
                b.config().timeout_global(Some(budget)).build().call()
            }
            Method::Post => {
                let mut b = self.agent.post(&url);
                for (k, v) in req.query {
                    b = b.query(*k, *v);
                }
                for (k, v) in req.headers {
                    b = b.header(*k, *v);
                }
                let (content_type, body) = match &req.body {
                    Body::None => ("application/json", ""),
                    Body::Json(b) => ("application/json", b.as_str()),
                    Body::Form(b) => ("application/x-www-form-urlencoded; charset=utf-8", b.as_str()),
                };
                b.config().timeout_global(Some(budget)).build().content_type(content_type).send(body)
            }
        };
        let mut resp = result.map_err(|e| Failure::Http(self.classify(&at, budget, e)))?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let error_type = header("x-amzn-errortype").map(|t| clean(t.split(':').next().unwrap_or(&t), 64));
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let body =
            resp.body_mut().with_config().limit(MAX_BODY).lossy_utf8(true).read_to_string().map_err(|e| match e {
                ureq::Error::Timeout(_) => {
                    Failure::Http(HttpError::Timeout { at: at.clone(), secs: budget.as_secs().max(1), attempts: 1 })
                }
                ureq::Error::BodyExceedsLimit(_) => Failure::Http(HttpError::BadResponse {
                    at: at.clone(),
                    detail: format!("answer larger than {MAX_BODY} bytes"),
                }),
                _ => {
                    Failure::Http(HttpError::BadResponse { at: at.clone(), detail: "the answer was cut short".into() })
                }
            })?;
        let reply = Reply { status, body, error_type, at };
        if status == 429 || status >= 500 {
            return Err(Failure::Retry(RetryReply { reply, retry_after }));
        }
        Ok(reply)
    }

    /// Turns a transport error into the one-line reason the user needs.
    fn classify(&self, at: &str, budget: Duration, e: ureq::Error) -> HttpError {
        let at = at.to_string();
        let via_proxy = |detail: &str| {
            self.proxy.as_ref().map(|(shown, var)| HttpError::Proxy {
                at: at.clone(),
                proxy: shown.clone(),
                var,
                detail: detail.to_string(),
            })
        };
        match e {
            ureq::Error::Timeout(_) => HttpError::Timeout { at, secs: budget.as_secs().max(1), attempts: 1 },
            ureq::Error::HostNotFound => via_proxy("the proxy's host name does not resolve")
                .unwrap_or(HttpError::Dns { at, host: self.endpoint.host.clone(), attempts: 1 }),
            ureq::Error::ConnectProxyFailed(detail) => {
                via_proxy(&clean(&detail, 160)).unwrap_or(HttpError::Connection { at, detail, attempts: 1 })
            }
            ureq::Error::InvalidProxyUrl => match &self.proxy {
                Some((shown, var)) => HttpError::BadProxy { var, shown: shown.clone() },
                None => HttpError::Connection { at, detail: "invalid proxy URL".into(), attempts: 1 },
            },
            ureq::Error::Tls(detail) => HttpError::Tls { at, detail: detail.to_string() },
            ureq::Error::Rustls(inner) => HttpError::Tls { at, detail: clean(&inner.to_string(), 160) },
            ureq::Error::Pem(_) => HttpError::Tls { at, detail: "invalid certificate data".into() },
            ureq::Error::Io(io) => {
                use std::io::ErrorKind as K;
                let detail = clean(&io.to_string(), 160);
                // The system resolver's failures arrive as plain I/O errors.
                let lower = detail.to_ascii_lowercase();
                if ["lookup address", "not known", "no address associated", "no such host", "nodename nor servname"]
                    .iter()
                    .any(|m| lower.contains(m))
                {
                    return via_proxy("the proxy's host name does not resolve").unwrap_or(HttpError::Dns {
                        at,
                        host: self.endpoint.host.clone(),
                        attempts: 1,
                    });
                }
                match io.kind() {
                    K::ConnectionRefused => {
                        via_proxy("connection refused by the proxy").unwrap_or(HttpError::Refused { at, attempts: 1 })
                    }
                    K::TimedOut | K::WouldBlock => {
                        HttpError::Timeout { at, secs: budget.as_secs().max(1), attempts: 1 }
                    }
                    // rustls reports handshake failures (certificates, protocol) this way.
                    K::InvalidData if self.endpoint.https => HttpError::Tls { at, detail },
                    K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                        HttpError::Connection {
                            at,
                            detail: "the connection was closed before a complete answer".into(),
                            attempts: 1,
                        }
                    }
                    _ => HttpError::Connection { at, detail, attempts: 1 },
                }
            }
            ureq::Error::Protocol(p) => HttpError::BadResponse {
                at,
                detail: format!("not a valid HTTP answer: {}", clean(&p.to_string(), 120)),
            },
            ureq::Error::LargeResponseHeader(_, _) => {
                HttpError::BadResponse { at, detail: "response headers too large".into() }
            }
            ureq::Error::ConnectionFailed => HttpError::Connection { at, detail: "no connection".into(), attempts: 1 },
            other => HttpError::Connection { at, detail: clean(&other.to_string(), 160), attempts: 1 },
        }
    }
}

/// A 429/5xx answer, with its `Retry-After`.
struct RetryReply {
    reply: Reply,
    retry_after: Option<Duration>,
}

enum Failure {
    Http(HttpError),
    Retry(RetryReply),
}

/// 200 ms, 400 ms, 800 ms … plus up to 100 ms of jitter, so processes that
/// failed together do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(200) * 2u32.saturating_pow(attempt.saturating_sub(1).min(6));
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos() % 100))
        .unwrap_or(0);
    base + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_like_the_sdks() {
        let env = Env::default();
        assert_eq!(resolve(&env, Service::Oidc, "eu-west-1").unwrap().base, "https://oidc.eu-west-1.amazonaws.com");
        assert_eq!(
            resolve(&env, Service::Portal, "eu-west-1").unwrap().base,
            "https://portal.sso.eu-west-1.amazonaws.com"
        );
        for (service, region, url) in [
            (Service::Sts, "eu-west-1", "https://sts.eu-west-1.amazonaws.com"),
            (Service::Sts, "cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn"),
            (Service::Signin, "us-east-1", "https://us-east-1.signin.aws.amazon.com"),
            (Service::Signin, "cn-north-1", "https://cn-north-1.signin.amazonaws.cn"),
            (Service::Signin, "us-gov-west-1", "https://us-gov-west-1.signin.amazonaws-us-gov.com"),
        ] {
            assert_eq!(resolve(&env, service, region).unwrap().base, url);
        }
        let e = resolve(&env, Service::Sts, "").unwrap_err().to_string();
        assert!(e.contains("invalid region") && e.contains("STS"), "{e}");
        assert!(resolve(&env, Service::Oidc, "eu-west-1/../x").is_err());
        assert!(resolve(&env, Service::Oidc, "").is_err());
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9/"),
            ("AWS_ENDPOINT_URL_SSO", "https://p.example"),
        ]);
        assert_eq!(resolve(&env, Service::Oidc, "x").unwrap().base, "http://127.0.0.1:9");
        assert_eq!(resolve(&env, Service::Portal, "x").unwrap().base, "https://p.example");
        for ok in ["http://localhost:1", "http://[::1]:80", "http://127.3.4.5", "HTTPS://Oidc.Example.com:8443/prefix"]
        {
            assert!(parse_endpoint(Service::Oidc, "V", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://oidc.example.com",
            "http://10.0.0.1",
            "ftp://x",
            "oidc.example.com",
            "https://",
            "https://a b",
            "https://u:p@x.com",
            "https://x.com?q=1",
            "https://x:notaport",
            "http://127.0.0.1.evil.com",
        ] {
            let e = parse_endpoint(Service::Oidc, "AWS_ENDPOINT_URL_SSO_OIDC", bad).unwrap_err().to_string();
            assert!(e.contains("AWS_ENDPOINT_URL_SSO_OIDC"), "{bad}: {e}");
        }
    }

    #[test]
    fn no_proxy_rules() {
        let h = |np: &str, host: &str| no_proxy_matches(np, host, None);
        assert!(h("*", "oidc.us-east-1.amazonaws.com"));
        assert!(h("amazonaws.com", "oidc.us-east-1.amazonaws.com"));
        assert!(h(".amazonaws.com", "oidc.us-east-1.amazonaws.com"));
        assert!(h("*.amazonaws.com", "oidc.us-east-1.amazonaws.com"));
        assert!(h(" foo , AMAZONAWS.COM ", "oidc.us-east-1.amazonaws.com"));
        assert!(!h("zonaws.com", "oidc.us-east-1.amazonaws.com"));
        assert!(!h("", "x.com"));
        assert!(!h("example.com", "x.com"));
        assert!(h("10.0.0.0/8", "10.1.2.3"));
        assert!(!h("10.0.0.0/8", "11.1.2.3"));
        assert!(h("::1", "[::1]"));
        assert!(h("x.com:443", "api.x.com"));
        assert!(!h("x.com:8443", "api.x.com"));
    }

    #[test]
    fn proxy_choice_and_redaction() {
        let ep = resolve(&Env::default(), Service::Oidc, "us-east-1").unwrap();
        let env = Env::from_pairs([("HTTPS_PROXY", "http://user:pw@proxy.corp:3128")]);
        let (_, shown, var) = proxy_for(&env, &ep).unwrap().unwrap();
        assert_eq!((shown.as_str(), var), ("http://proxy.corp:3128", "HTTPS_PROXY"));
        let env = Env::from_pairs([("HTTPS_PROXY", "http://a:1"), ("https_proxy", "http://b:2")]);
        assert_eq!(proxy_for(&env, &ep).unwrap().unwrap().1, "http://b:2");
        let env = Env::from_pairs([("HTTPS_PROXY", "http://a:1"), ("NO_PROXY", "amazonaws.com")]);
        assert!(proxy_for(&env, &ep).unwrap().is_none());
        let local = parse_endpoint(Service::Oidc, "V", "http://127.0.0.1:1").unwrap();
        let env = Env::from_pairs([("HTTPS_PROXY", "http://a:1")]);
        assert!(proxy_for(&env, &local).unwrap().is_none());
    }

    #[test]
    fn ca_bundle_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("kc-http-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let env = Env::from_pairs([("AWS_CA_BUNDLE", missing.to_str().unwrap())]);
        let e = root_certs(&env).unwrap_err().to_string();
        assert!(e.contains("missing.pem") && e.contains("AWS_CA_BUNDLE"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let env = Env::from_pairs([("AWS_CA_BUNDLE", empty.to_str().unwrap())]);
        assert!(root_certs(&env).unwrap_err().to_string().contains("no certificates"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn status_errors_read_aws_codes() {
        let r = Reply {
            status: 400,
            body: r#"{"error":"invalid_grant","error_description":"Invalid refresh token provided"}"#.into(),
            error_type: Some("InvalidGrantException".into()),
            at: "SSO-OIDC CreateToken at x".into(),
        };
        assert_eq!(r.error_code().as_deref(), Some("invalid_grant"));
        let e = r.into_status_error().to_string();
        assert!(e.contains("HTTP 400 invalid_grant (Invalid refresh token provided)"), "{e}");
        let r = Reply {
            status: 500,
            body: "{\"__type\":\"com.amazon#InternalServerException\"}".into(),
            error_type: None,
            at: "a".into(),
        };
        assert_eq!(r.error_code().as_deref(), Some("InternalServerException"));
    }
}
