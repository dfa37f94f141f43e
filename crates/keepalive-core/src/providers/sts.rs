//! The STS Query API client: `AssumeRole` (SigV4-signed with the source credentials) and
//! `AssumeRoleWithWebIdentity` (unsigned), form-encoded requests, the small XML answers parsed
//! by hand, and one-line errors naming the endpoint, the profile, the role and the fix.
//!
//! Region: like botocore, the profile's `region` or `AWS_DEFAULT_REGION` picks the regional
//! endpoint `https://sts.{region}.amazonaws.com` (`AWS_REGION` is not read: botocore does not).
//! Without one, botocore 1.43 calls the global endpoint `https://sts.amazonaws.com` with the
//! region `aws-global`, signed for `us-east-1` (measured: `create_client("sts")` with no region
//! gives that endpoint), and so do we, logging how to pick a regional endpoint instead. With an
//! endpoint override (`AWS_ENDPOINT_URL[_STS]`) and no region, botocore fails ("You must specify
//! a region", measured against the mock): so do we, with [`StsError::NoRegion`].

use std::fmt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::expiry;
use crate::http::{self, Body, Client, HttpError, Method, Reply, Request, Service};
use crate::log::{self, Level};
use crate::secret::Secret;
use crate::sigv4::{self, SignableRequest, SigningParams};

/// The STS API version every Query API call names.
pub const API_VERSION: &str = "2011-06-15";
/// The content type `http::Client` sends with `Body::Form`: signed exactly as sent.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// botocore's endpoint when no region is configured (`aws-global`).
pub const GLOBAL_ENDPOINT: &str = "https://sts.amazonaws.com";
/// The region `aws-global` signs for.
pub const GLOBAL_SIGNING_REGION: &str = "us-east-1";
/// STS refuses longer sessions when the caller is itself a role session ("role chaining").
pub const CHAINED_MAX_DURATION: u32 = 3600;

/// The two operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    AssumeRole,
    AssumeRoleWithWebIdentity,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::AssumeRole => "AssumeRole",
            Op::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
        }
    }

    /// Scalar members of the result besides `Credentials` and `AssumedRoleUser`, in the API
    /// model's order (botocore keeps that order in what it caches). `true`: an integer.
    fn scalar_members(self) -> &'static [(&'static str, bool)] {
        match self {
            Op::AssumeRole => &[("PackedPolicySize", true), ("SourceIdentity", false)],
            Op::AssumeRoleWithWebIdentity => &[
                ("SubjectFromWebIdentityToken", false),
                ("PackedPolicySize", true),
                ("Provider", false),
                ("Audience", false),
                ("SourceIdentity", false),
            ],
        }
    }
}

/// An MFA device and its current code. The code is shown nowhere.
#[derive(Clone, Copy)]
pub struct Mfa<'a> {
    pub serial: &'a str,
    pub code: &'a str,
}

impl fmt::Debug for Mfa<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa").field("serial", &self.serial).field("code", &"***").finish()
    }
}

/// An `AssumeRole` call. `profile` is the profile holding `role_arn`, for messages.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleParams<'a> {
    pub profile: &'a str,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub external_id: Option<&'a str>,
    pub duration_seconds: Option<u32>,
    pub mfa: Option<Mfa<'a>>,
    pub region: Option<&'a str>,
}

/// An `AssumeRoleWithWebIdentity` call. `token_file` is where the token came from, for messages.
#[derive(Debug, Clone, Copy)]
pub struct WebIdentityParams<'a> {
    pub profile: &'a str,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration_seconds: Option<u32>,
    pub region: Option<&'a str>,
    pub token_file: &'a Path,
}

/// A successful answer: the credentials and everything else botocore keeps when it caches it.
#[derive(Debug, Clone)]
pub struct Assumed {
    pub op: Op,
    pub credentials: Credentials,
    /// `AssumedRoleUser/AssumedRoleId`, e.g. `AROA…:session`.
    pub assumed_role_id: Option<String>,
    /// `AssumedRoleUser/Arn`, e.g. `arn:aws:sts::123456789012:assumed-role/Role/session`.
    pub assumed_role_arn: Option<String>,
    /// The other result members present, in the API model's order; values as text.
    pub members: Vec<(&'static str, String)>,
    pub request_id: Option<String>,
}

impl Assumed {
    /// The account of the assumed role, from its ARN, as botocore's `ArnParser` reads it.
    pub fn account_id(&self) -> Option<&str> {
        let arn = self.assumed_role_arn.as_deref()?;
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        (parts.len() == 6 && parts.first() == Some(&"arn")).then(|| parts.get(4).copied()).flatten()
    }

    /// Whether member `name` is an integer in the API model.
    pub fn is_integer_member(&self, name: &str) -> bool {
        self.op.scalar_members().iter().any(|(n, int)| *n == name && *int)
    }
}

/// Which call an error is about (boxed in [`StsError`] to keep the error small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// "STS AssumeRole at https://…/" (empty for transport errors, which say it themselves).
    pub at: String,
    pub op: &'static str,
    /// The profile holding `role_arn`.
    pub profile: String,
    pub role_arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error(
        "{} refused the source credentials (access key {access_key_id}) that profile \"{}\" uses to assume {}: {code}{}; they are expired or invalid: renew the credentials of [profile {}]'s source_profile (or credential_source), then retry",
        about.at, about.profile, about.role_arn, msg_part(message), about.profile
    )]
    SourceRejected { about: Box<About>, access_key_id: String, code: String, message: Option<String> },
    #[error(
        "{} denied {} of {} for profile \"{}\"{}; check role_arn in [profile {}] and the role's trust policy{hint}",
        about.at, about.op, about.role_arn, about.profile, msg_part(message), about.profile
    )]
    AccessDenied { about: Box<About>, message: Option<String>, hint: &'static str },
    #[error(
        "{} refused DurationSeconds={requested} for {} (profile \"{}\"){}; lower duration_seconds in [profile {}] to the role's maximum session duration or less (at most 3600 when the source credentials are themselves role credentials)",
        about.at, about.role_arn, about.profile, msg_part(message), about.profile
    )]
    Duration { about: Box<About>, requested: u32, message: Option<String> },
    #[error(
        "{} refused the web identity token in {} for {} (profile \"{}\"): {code}{}; renew the token file (whatever writes web_identity_token_file) and check that the role trusts its identity provider",
        about.at, token_file.display(), about.role_arn, about.profile, msg_part(message)
    )]
    TokenRejected { about: Box<About>, token_file: PathBuf, code: String, message: Option<String> },
    #[error(
        "{} refused {} of {} for profile \"{}\" (HTTP {status} {code}{}); {hint}",
        about.at, about.op, about.role_arn, about.profile, msg_part(message)
    )]
    Rejected { about: Box<About>, status: u16, code: String, message: Option<String>, hint: String },
    #[error(
        "no region for STS with {var} set (profile \"{profile}\"): add region = <region> to [profile {profile}] or set AWS_DEFAULT_REGION (AWS_REGION is not read, as in botocore)"
    )]
    NoRegion { profile: String, var: &'static str },
    #[error("{at} sent an answer that is not {op} credentials ({detail}); retry later, and check any proxy in between")]
    Malformed { at: String, op: &'static str, detail: &'static str },
    #[error("{} of {} for profile \"{}\": {source}", about.op, about.role_arn, about.profile)]
    Http { about: Box<About>, source: HttpError },
}

fn about(op: Op, at: &str, profile: &str, role_arn: &str) -> Box<About> {
    Box::new(About { at: at.to_string(), op: op.name(), profile: profile.to_string(), role_arn: role_arn.to_string() })
}

fn msg_part(message: &Option<String>) -> String {
    message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
}

impl StsError {
    /// STS said the source credentials are expired or invalid.
    pub fn source_rejected(&self) -> bool {
        matches!(self, StsError::SourceRejected { .. })
    }
}

/// `AssumeRole`, signed with `source`.
pub fn assume_role(ctx: &Ctx, p: &AssumeRoleParams<'_>, source: &Credentials) -> Result<Assumed, StsError> {
    let op = Op::AssumeRole;
    let mut after: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = p.external_id {
        after.push(("ExternalId", id));
    }
    if let Some(m) = &p.mfa {
        after.push(("SerialNumber", m.serial));
        after.push(("TokenCode", m.code));
    }
    let body = assume_form(op, p.role_arn, p.session_name, &[], p.duration_seconds, &after);
    let http_err = |source| StsError::Http { about: about(op, "", p.profile, p.role_arn), source };
    let (client, signing_region) = client(ctx, p.region, p.profile, true, &http_err)?;
    let (host, path) = host_and_path(&client.endpoint().base);
    let token = source.session_token.as_ref().filter(|t| !t.is_empty());
    let signed = sigv4::sign(
        &SigningParams {
            access_key_id: &source.access_key_id,
            secret_access_key: &source.secret_access_key,
            session_token: token,
            region: &signing_region,
            service: "sts",
            time: ctx.now,
        },
        &SignableRequest {
            method: "POST",
            host: &host,
            path: &path,
            query: &[],
            content_type: FORM_CONTENT_TYPE,
            body: body.as_bytes(),
        },
    );
    // `host` is sent as signed rather than left to the HTTP library, so the two cannot differ.
    let mut headers = vec![("host", host.as_str())];
    headers.extend(signed.headers());
    let req = Request {
        op: op.name(),
        method: Method::Post,
        path: "/",
        query: &[],
        headers: &headers,
        body: Body::Form(body),
    };
    let reply = client.send(&req).map_err(http_err)?;
    let secrets = [p.mfa.map(|m| m.code).unwrap_or_default()];
    let call = Call { op, profile: p.profile, role_arn: p.role_arn, secrets: &secrets };
    if reply.status != 200 {
        return Err(call.error(
            reply,
            |code| match code {
                "ExpiredToken"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "IncompleteSignature"
                | "MissingAuthenticationToken" => Some(Kind::SourceRejected(&source.access_key_id)),
                "AccessDenied" => Some(Kind::AccessDenied(if p.mfa.is_some() {
                    " and that the MFA code is current (mfa_serial in the profile must match the role's MFA condition)"
                } else if p.external_id.is_some() {
                    " and that external_id matches the one it requires"
                } else {
                    " (and whether it requires external_id or MFA)"
                })),
                _ => None,
            },
            p.duration_seconds,
        ));
    }
    call.parse(reply)
}

/// `AssumeRoleWithWebIdentity`, unsigned: the token is the credential.
pub fn assume_role_with_web_identity(
    ctx: &Ctx,
    p: &WebIdentityParams<'_>,
    token: &Secret,
) -> Result<Assumed, StsError> {
    let op = Op::AssumeRoleWithWebIdentity;
    let body =
        assume_form(op, p.role_arn, p.session_name, &[("WebIdentityToken", token.expose())], p.duration_seconds, &[]);
    let http_err = |source| StsError::Http { about: about(op, "", p.profile, p.role_arn), source };
    // Unsigned: botocore calls an endpoint override even without a region here.
    let (client, _) = client(ctx, p.region, p.profile, false, &http_err)?;
    let req =
        Request { op: op.name(), method: Method::Post, path: "/", query: &[], headers: &[], body: Body::Form(body) };
    let reply = client.send(&req).map_err(http_err)?;
    let secrets = [token.expose()];
    let call = Call { op, profile: p.profile, role_arn: p.role_arn, secrets: &secrets };
    if reply.status != 200 {
        return Err(call.error(
            reply,
            |code| match code {
                "InvalidIdentityToken" | "ExpiredTokenException" | "ExpiredToken" | "IDPRejectedClaim" => {
                    Some(Kind::TokenRejected(p.token_file))
                }
                "AccessDenied" => Some(Kind::AccessDenied(
                    " (it must allow sts:AssumeRoleWithWebIdentity for the token's identity provider and audience)",
                )),
                _ => None,
            },
            p.duration_seconds,
        ));
    }
    call.parse(reply)
}

/// The client for STS and the region to sign for.
/// Without a region and with an endpoint override, botocore fails ("You must specify a
/// region"): the region to sign for is unknown (a VPC endpoint, say, wants its own), so we fail
/// too, saying how to set one.
fn client(
    ctx: &Ctx,
    region: Option<&str>,
    profile: &str,
    signed: bool,
    http_err: &dyn Fn(HttpError) -> StsError,
) -> Result<(Client, String), StsError> {
    let overridden = [vars::AWS_ENDPOINT_URL_STS, vars::AWS_ENDPOINT_URL].into_iter().find(|v| ctx.env.is_set(v));
    let (env, region) = match (region.map(str::trim).filter(|r| !r.is_empty()), overridden) {
        (Some(r), _) => (ctx.env.clone(), r.to_string()),
        // A signature needs a region; an unsigned call to an override does not (botocore).
        (None, Some(_)) if !signed => (ctx.env.clone(), GLOBAL_SIGNING_REGION.to_string()),
        (None, Some(var)) => return Err(StsError::NoRegion { profile: profile.to_string(), var }),
        (None, None) => {
            log::write(
                ctx,
                Level::Info,
                "sts",
                &format!(
                    "no region for profile {profile}: calling the global STS endpoint {GLOBAL_ENDPOINT}, as botocore \
                     does; add region = … to [profile {profile}] or set AWS_DEFAULT_REGION for a regional endpoint"
                ),
            );
            // `http::resolve` builds regional URLs only; the global one goes in as an override.
            let mut env: Env = ctx.env.clone();
            env.set(vars::AWS_ENDPOINT_URL_STS, GLOBAL_ENDPOINT);
            (env, GLOBAL_SIGNING_REGION.to_string())
        }
    };
    let endpoint = http::resolve(&env, Service::Sts, &region).map_err(http_err)?;
    Ok((Client::new(&env, endpoint).map_err(http_err)?, region))
}

/// The `Host` header (lower case; the port only when not the scheme's default) and the path to
/// sign (the endpoint's own path, if any, then `/`) for an endpoint base URL.
fn host_and_path(base: &str) -> (String, String) {
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{}/", p.trim_end_matches('/'))),
        None => (rest, "/".to_string()),
    };
    let mut host = authority.to_ascii_lowercase();
    let default_port = if scheme.eq_ignore_ascii_case("http") { ":80" } else { ":443" };
    if let Some(h) = host.strip_suffix(default_port) {
        host = h.to_string();
    }
    (host, path.replace("//", "/"))
}

/// The form of either assume call: the members both send, with the operation's own members
/// `before` and `after` `DurationSeconds`, so the order is the API model's (botocore's).
fn assume_form(
    op: Op,
    role_arn: &str,
    session_name: &str,
    before: &[(&str, &str)],
    duration_seconds: Option<u32>,
    after: &[(&str, &str)],
) -> String {
    let duration = duration_seconds.map(|d| d.to_string());
    let mut form: Vec<(&str, &str)> =
        vec![("Action", op.name()), ("Version", API_VERSION), ("RoleArn", role_arn), ("RoleSessionName", session_name)];
    form.extend_from_slice(before);
    form.extend(duration.as_deref().map(|d| ("DurationSeconds", d)));
    form.extend_from_slice(after);
    form_encode(&form)
}

/// `application/x-www-form-urlencoded`, every reserved byte percent-encoded.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k.as_bytes(), false), sigv4::uri_encode(v.as_bytes(), false)))
        .collect::<Vec<_>>()
        .join("&")
}

/// How an error code is reported, beyond the generic [`StsError::Rejected`].
enum Kind<'a> {
    SourceRejected(&'a str),
    AccessDenied(&'static str),
    TokenRejected(&'a Path),
}

/// One call's context, for interpreting its answer.
struct Call<'a> {
    op: Op,
    profile: &'a str,
    role_arn: &'a str,
    /// Values sent that must not come back in a message (STS validation errors can quote input).
    secrets: &'a [&'a str],
}

impl Call<'_> {
    fn error<'k>(&self, reply: Reply, classify: impl Fn(&str) -> Option<Kind<'k>>, duration: Option<u32>) -> StsError {
        let (code, message) = error_of(&reply.body);
        let message = message.and_then(|m| scrub(&m, self.secrets));
        let code = code.unwrap_or_else(|| "(no error code)".to_string());
        let about = about(self.op, &reply.at, self.profile, self.role_arn);
        match classify(&code) {
            Some(Kind::SourceRejected(akid)) => {
                return StsError::SourceRejected { about, access_key_id: akid.to_string(), code, message };
            }
            Some(Kind::AccessDenied(hint)) => return StsError::AccessDenied { about, message, hint },
            Some(Kind::TokenRejected(file)) => {
                return StsError::TokenRejected { about, token_file: file.to_path_buf(), code, message };
            }
            None => {}
        }
        // "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." and
        // "… exceeds the 1 hour session limit for roles assumed by role chaining."
        let about_duration = message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("duration") || m.contains("session limit")
        });
        if code == "ValidationError"
            && about_duration
            && let Some(requested) = duration
        {
            return StsError::Duration { about, requested, message };
        }
        let profile = self.profile;
        let hint = match code.as_str() {
            "RegionDisabledException" => format!(
                "STS is not activated in this region for the account: activate it in the IAM console, or change region in [profile {profile}]"
            ),
            "IDPCommunicationError" => "STS could not reach the identity provider: retry in a minute".to_string(),
            "ValidationError" | "InvalidParameterValue" | "MalformedInput" => format!(
                "check role_arn, role_session_name (2-64 letters, digits or +=,.@-) and external_id in [profile {profile}]"
            ),
            _ if reply.status == 429 || reply.status >= 500 => "retry in a minute".to_string(),
            _ => format!("check the role settings in [profile {profile}] and the STS endpoint"),
        };
        StsError::Rejected { about, status: reply.status, code, message, hint }
    }

    fn parse(&self, reply: Reply) -> Result<Assumed, StsError> {
        let malformed = |detail| StsError::Malformed { at: reply.at.clone(), op: self.op.name(), detail };
        let body = reply.body.as_str();
        let result =
            element(body, &format!("{}Result", self.op.name())).ok_or_else(|| malformed("no result element"))?;
        let creds = element(result, "Credentials").ok_or_else(|| malformed("no Credentials"))?;
        let field = |name: &str| element(creds, name).map(unescape).filter(|s| !s.trim().is_empty());
        let (Some(id), Some(secret), Some(token), Some(exp)) =
            (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), field("Expiration"))
        else {
            return Err(malformed("AccessKeyId, SecretAccessKey, SessionToken or Expiration missing"));
        };
        let expiration: OffsetDateTime = expiry::parse(&exp).map_err(|_| malformed("Expiration is not a timestamp"))?;
        let user = element(result, "AssumedRoleUser");
        let user_field = |name: &str| user.and_then(|u| element(u, name)).map(unescape).filter(|s| !s.is_empty());
        let members = self
            .op
            .scalar_members()
            .iter()
            .filter_map(|(name, int)| {
                let v = element(result, name).map(unescape)?;
                // An integer member that is not one would make botocore fail; leave it out.
                (!*int || v.trim().parse::<i64>().is_ok()).then(|| (*name, v.trim().to_string()))
            })
            .collect();
        Ok(Assumed {
            op: self.op,
            credentials: Credentials {
                access_key_id: id.trim().to_string(),
                secret_access_key: Secret::new(secret.trim()),
                session_token: Some(Secret::new(token.trim())),
                expiration: Some(expiration),
            },
            assumed_role_id: user_field("AssumedRoleId"),
            assumed_role_arn: user_field("Arn"),
            members,
            request_id: element(body, "RequestId").map(unescape).filter(|s| !s.is_empty()),
        })
    }
}

/// `ErrorResponse/Error/{Code,Message}`, cleaned for a one-line message.
fn error_of(body: &str) -> (Option<String>, Option<String>) {
    let Some(err) = element(body, "Error") else {
        return (None, None);
    };
    let get = |name: &str, max: usize| element(err, name).map(|s| clean(&unescape(s), max)).filter(|s| !s.is_empty());
    (get("Code", 64), get("Message", 200))
}

/// `message` without any of `secrets`; `None` when even a prefix of one is in it.
fn scrub(message: &str, secrets: &[&str]) -> Option<String> {
    let leaks = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .any(|s| message.contains(s) || message.contains(s.get(..8.min(s.len())).unwrap_or(s)));
    (!leaks).then(|| message.to_string())
}

/// Printable, single-line, bounded: server text goes into one-line messages.
fn clean(s: &str, max: usize) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The text inside the first `<name>…</name>` in `xml` (attributes on the opening tag allowed;
/// `<name/>` is empty). Enough for STS's answers: no CDATA, no namespace prefixes, no nesting of
/// an element inside one of the same name.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let open = from + xml.get(from..)?.find('<')?;
        let after_name = open + 1 + name.len();
        if xml.get(open + 1..after_name) == Some(name) {
            let tail = xml.get(after_name..)?;
            let start = match tail.chars().next() {
                Some('>') => Some(after_name + 1),
                Some('/') if tail.starts_with("/>") => return Some(""),
                Some(c) if c.is_ascii_whitespace() => {
                    let close = after_name + tail.find('>')?;
                    if xml.get(close - 1..close) == Some("/") {
                        return Some("");
                    }
                    Some(close + 1)
                }
                _ => None,
            };
            if let Some(start) = start {
                let end_tag = format!("</{name}>");
                let end = start + xml.get(start..)?.find(&end_tag)?;
                return xml.get(start..end);
            }
        }
        from = open + 1;
    }
}

/// XML character references and the five predefined entities; anything else is kept as is.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let decoded = tail.get(1..).and_then(|t| t.find(';').filter(|&n| n <= 10)).and_then(|n| {
            let entity = tail.get(1..n + 1)?;
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, n + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = tail.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>DevUser123</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764&amp;x</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;

    fn reply(status: u16, body: &str) -> Reply {
        Reply { status, body: body.to_string(), error_type: None, at: "STS AssumeRole at http://127.0.0.1:1/".into() }
    }

    fn call<'a>(op: Op, secrets: &'a [&'a str]) -> Call<'a> {
        Call { op, profile: "bedrock", role_arn: "arn:aws:iam::1:role/R", secrets }
    }

    #[test]
    fn parses_the_documented_answer() {
        let a = call(Op::AssumeRole, &[]).parse(reply(200, ANSWER)).unwrap();
        assert_eq!(a.credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(a.credentials.session_token.as_ref().unwrap().expose(), "AQoDYXdzEPT//////////wEXAMPLEtc764&x");
        assert_eq!(a.credentials.expiration.map(expiry::to_iso8601).unwrap(), "2019-11-09T13:34:41Z");
        assert_eq!(a.assumed_role_id.as_deref(), Some("ARO123EXAMPLE123:John"));
        assert_eq!(a.account_id(), Some("123456789012"));
        // Model order, not document order.
        assert_eq!(a.members, [("PackedPolicySize", "6".to_string()), ("SourceIdentity", "DevUser123".to_string())]);
        assert_eq!(a.request_id.as_deref(), Some("c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
        let shown = format!("{a:?}");
        assert!(!shown.contains("EXAMPLEKEY") && !shown.contains("EXAMPLEtc764"), "{shown}");
    }

    #[test]
    fn malformed_answers_are_errors_without_secrets() {
        for body in [
            "",
            "<AssumeRoleResponse><broken",
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>\
             <SecretAccessKey>SECRETVALUE1</SecretAccessKey></Credentials></AssumeRoleResult></AssumeRoleResponse>",
            &ANSWER.replace("2019-11-09T13:34:41Z", "SECRETVALUE1"),
            &ANSWER.replace("AssumeRoleResult", "AssumeRoleWithWebIdentityResult"),
        ] {
            let e = call(Op::AssumeRole, &[]).parse(reply(200, body)).unwrap_err().to_string();
            assert!(e.contains("not AssumeRole credentials") && !e.contains("SECRETVALUE"), "{e}");
        }
    }

    fn error_body(code: &str, message: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        )
    }

    fn assume_error(code: &str, message: &str, duration: Option<u32>) -> StsError {
        call(Op::AssumeRole, &["123456"]).error(
            reply(403, &error_body(code, message)),
            |c| match c {
                "ExpiredToken" | "InvalidClientTokenId" => Some(Kind::SourceRejected("AKIASOURCE")),
                "AccessDenied" => Some(Kind::AccessDenied(" and external_id")),
                _ => None,
            },
            duration,
        )
    }

    #[test]
    fn errors_name_endpoint_profile_role_and_fix() {
        let e = assume_error("ExpiredToken", "The security token included in the request is expired", None);
        assert!(e.source_rejected());
        let s = e.to_string();
        for part in
            ["http://127.0.0.1:1/", "\"bedrock\"", "arn:aws:iam::1:role/R", "AKIASOURCE", "source_profile", "expired"]
        {
            assert!(s.contains(part), "{part}: {s}");
        }
        let s = assume_error("AccessDenied", "User: x is not authorized to perform: sts:AssumeRole", None).to_string();
        assert!(s.contains("trust policy") && s.contains("external_id") && s.contains("not authorized"), "{s}");
        let e = assume_error(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            Some(7200),
        );
        let s = e.to_string();
        assert!(matches!(e, StsError::Duration { requested: 7200, .. }) && s.contains("lower duration_seconds"), "{s}");
        let s = assume_error("RegionDisabledException", "STS is not activated", None).to_string();
        assert!(s.contains("activate it") && s.contains("HTTP 403 RegionDisabledException"), "{s}");
        // STS quoting a value we sent that is secret: the message is dropped.
        let s = assume_error("ValidationError", "Value '123456' at 'tokenCode' failed", None).to_string();
        assert!(!s.contains("123456") && s.contains("ValidationError"), "{s}");
        // No XML at all (a proxy's page).
        let s = call(Op::AssumeRole, &[]).error(reply(407, "<html>proxy</html>"), |_| None, None).to_string();
        assert!(s.contains("HTTP 407 (no error code)"), "{s}");
        let s = call(Op::AssumeRoleWithWebIdentity, &["eyJTOKEN"])
            .error(
                reply(400, &error_body("InvalidIdentityToken", "token eyJTOKEN is bad")),
                |_| Some(Kind::TokenRejected(Path::new("/var/run/token"))),
                None,
            )
            .to_string();
        assert!(s.contains("/var/run/token") && !s.contains("eyJTOKEN"), "{s}");
    }

    #[test]
    fn xml_helpers() {
        assert_eq!(element("<a x=\"1\">t</a>", "a"), Some("t"));
        assert_eq!(element("<ab>n</ab><a>y</a>", "a"), Some("y"));
        assert_eq!(element("<a/>", "a"), Some(""));
        assert_eq!(element("<a x='1'/>", "a"), Some(""));
        assert_eq!(element("<a>unterminated", "a"), None);
        assert_eq!(element("<", "a"), None);
        assert_eq!(element("<a", "a"), None);
        assert_eq!(element("é<a>ü</a>", "a"), Some("ü"));
        assert_eq!(unescape("a&amp;b&lt;&#65;&#x42;&bogus;&"), "a&b<AB&bogus;&");
        assert_eq!(unescape("&#xFFFFFFFF;&#;&"), "&#xFFFFFFFF;&#;&");
        assert_eq!(clean("a\n  b\u{7}", 10), "a b");
    }

    #[test]
    fn parsers_survive_any_input() {
        // A cheap fuzz: every prefix and a few mutations of a real answer.
        let bodies = [ANSWER.to_string(), error_body("AccessDenied", "&#1114112;&amp")];
        for b in &bodies {
            for cut in 0..=b.len() {
                let Some(part) = b.get(..cut) else { continue };
                let _ = call(Op::AssumeRole, &[]).parse(reply(200, part));
                let _ = error_of(part);
                let _ = unescape(part);
            }
        }
    }

    #[test]
    fn hosts_paths_and_forms() {
        assert_eq!(host_and_path("http://127.0.0.1:4566"), ("127.0.0.1:4566".into(), "/".into()));
        assert_eq!(
            host_and_path("https://STS.eu-west-1.amazonaws.com"),
            ("sts.eu-west-1.amazonaws.com".into(), "/".into())
        );
        assert_eq!(host_and_path("https://x.example:443/prefix"), ("x.example".into(), "/prefix/".into()));
        assert_eq!(host_and_path("http://[::1]:80"), ("[::1]".into(), "/".into()));
        assert_eq!(
            form_encode(&[("Action", "AssumeRole"), ("RoleArn", "arn:aws:iam::1:role/a b+c")]),
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b%2Bc"
        );
        let m = Mfa { serial: "arn:aws:iam::1:mfa/me", code: "987654" };
        assert!(!format!("{m:?}").contains("987654"));
    }

    fn client_of(ctx: &Ctx, region: Option<&str>) -> Result<(Client, String), StsError> {
        let http_err = |source| StsError::Http { about: about(Op::AssumeRole, "", "p", "r"), source };
        client(ctx, region, "p", true, &http_err)
    }

    #[test]
    fn no_region_means_the_global_endpoint() {
        let ctx = Ctx::new(Env::default(), OffsetDateTime::UNIX_EPOCH);
        let (c, region) = client_of(&ctx, None).unwrap();
        assert_eq!((c.endpoint().base.as_str(), region.as_str()), (GLOBAL_ENDPOINT, "us-east-1"));
        let (c, region) = client_of(&ctx, Some("eu-west-1")).unwrap();
        assert_eq!((c.endpoint().base.as_str(), region.as_str()), ("https://sts.eu-west-1.amazonaws.com", "eu-west-1"));
        assert!(client_of(&ctx, Some("eu west")).unwrap_err().to_string().contains("region"));
        // An override and no region: botocore fails ("You must specify a region"), so do we.
        let ctx = Ctx::new(Env::from_pairs([("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]), OffsetDateTime::UNIX_EPOCH);
        let http_err = |source| StsError::Http { about: about(Op::AssumeRole, "", "p", "r"), source };
        let (unsigned, _) = client(&ctx, None, "p", false, &http_err).unwrap();
        assert_eq!(unsigned.endpoint().base, "http://127.0.0.1:9", "web identity goes to the override");
        let e = client_of(&ctx, None).unwrap_err().to_string();
        assert!(
            e.contains("add region = <region> to [profile p] or set AWS_DEFAULT_REGION")
                && e.contains("AWS_ENDPOINT_URL"),
            "{e}"
        );
        let (c, region) = client_of(&ctx, Some("eu-central-1")).unwrap();
        assert_eq!((c.endpoint().base.as_str(), region.as_str()), ("http://127.0.0.1:9", "eu-central-1"));
    }
}
