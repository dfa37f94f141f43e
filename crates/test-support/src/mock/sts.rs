//! STS in the mock: `AssumeRole` (SigV4-verified by the router like every signed route),
//! `AssumeRoleWithWebIdentity` (unsigned, a configured token), and `GetCallerIdentity`, which
//! answers the assumed-role ARN for keys issued here. Per-role rules (external id, MFA, denial,
//! maximum session duration) and a log of the calls for tests.
//!
//! Modelled on AWS's answers: a missing or wrong external id or MFA code is `AccessDenied`; a
//! `DurationSeconds` over an hour with role credentials as the caller (role chaining) is a
//! `ValidationError`; issued keys are registered in the mock's key table, expire with their
//! session, and sign Bedrock and STS calls like any other key.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::http::{Request, Response};
use super::routes::{form_value, sts_error};
use super::{Key, MockAws, Shared};
use crate::sigv4;

/// What a role in the mock allows unless told otherwise (AWS's ceiling; AWS's default is 3600).
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 43_200;
/// STS's limit for role chaining.
pub const CHAINED_MAX_DURATION: u32 = 3600;

/// STS state inside the mock's one mutex.
#[derive(Debug, Default)]
pub(super) struct StsState {
    roles: HashMap<String, RoleRules>,
    web_identity_tokens: HashSet<String>,
    issued: HashMap<String, IssuedKey>,
    calls: Vec<StsCall>,
}

/// What a role demands of `AssumeRole`.
#[derive(Debug, Default, Clone)]
struct RoleRules {
    external_id: Option<String>,
    mfa: Option<(String, String)>,
    denied: bool,
    max_session: Option<u32>,
}

/// A key this mock issued, and the session it belongs to.
#[derive(Debug, Clone)]
struct IssuedKey {
    arn: String,
    user_id: String,
    account: String,
}

/// One `AssumeRole` or `AssumeRoleWithWebIdentity` call as the mock saw it (parameters exactly as
/// sent, decoded) and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsCall {
    pub action: String,
    pub role_arn: String,
    pub session_name: Option<String>,
    pub duration_seconds: Option<String>,
    pub external_id: Option<String>,
    pub serial_number: Option<String>,
    pub token_code: Option<String>,
    pub web_identity_token: Option<String>,
    /// The key that signed an `AssumeRole`.
    pub source_key: Option<String>,
    /// The access key issued; `None` when refused.
    pub issued_key: Option<String>,
    /// The error code answered, if any.
    pub error: Option<String>,
}

impl MockAws {
    fn with_role(&self, role_arn: &str, f: impl FnOnce(&mut RoleRules)) {
        f(self.shared.state().sts.roles.entry(role_arn.to_string()).or_default());
    }

    /// `AssumeRole` of `role_arn` must send this `ExternalId` (else `AccessDenied`).
    pub fn sts_require_external_id(&self, role_arn: &str, external_id: &str) {
        self.with_role(role_arn, |r| r.external_id = Some(external_id.to_string()));
    }

    /// `AssumeRole` of `role_arn` must send `SerialNumber` = `serial` and `TokenCode` = `code`.
    pub fn sts_require_mfa(&self, role_arn: &str, serial: &str, code: &str) {
        self.with_role(role_arn, |r| r.mfa = Some((serial.to_string(), code.to_string())));
    }

    /// Every assume of `role_arn` is `AccessDenied` (the trust policy does not allow the caller).
    pub fn sts_deny_role(&self, role_arn: &str) {
        self.with_role(role_arn, |r| r.denied = true);
    }

    /// The role's `MaxSessionDuration` (default [`DEFAULT_MAX_SESSION_DURATION`]).
    pub fn sts_set_max_session_duration(&self, role_arn: &str, secs: u32) {
        self.with_role(role_arn, |r| r.max_session = Some(secs));
    }

    /// A token `AssumeRoleWithWebIdentity` accepts (for any role not denied).
    pub fn sts_add_web_identity_token(&self, token: &str) {
        self.shared.state().sts.web_identity_tokens.insert(token.to_string());
    }

    /// Every `AssumeRole`/`AssumeRoleWithWebIdentity` call, oldest first.
    pub fn sts_calls(&self) -> Vec<StsCall> {
        self.shared.state().sts.calls.clone()
    }

    /// `AssumeRole` calls for `role_arn`, whatever their outcome.
    pub fn assume_role_count(&self, role_arn: &str) -> usize {
        self.shared.state().sts.calls.iter().filter(|c| c.action == "AssumeRole" && c.role_arn == role_arn).count()
    }

    /// `AssumeRoleWithWebIdentity` calls for `role_arn`, whatever their outcome.
    pub fn web_identity_count(&self, role_arn: &str) -> usize {
        self.shared
            .state()
            .sts
            .calls
            .iter()
            .filter(|c| c.action == "AssumeRoleWithWebIdentity" && c.role_arn == role_arn)
            .count()
    }

    /// Access keys STS handed out, oldest first.
    pub fn sts_issued_keys(&self) -> Vec<String> {
        self.shared.state().sts.calls.iter().filter_map(|c| c.issued_key.clone()).collect()
    }
}

/// Whether the router should skip SigV4 for this STS request: web identity is unsigned.
pub(super) fn is_unsigned(req: &Request) -> bool {
    action(req).as_deref() == Some("AssumeRoleWithWebIdentity")
}

fn action(req: &Request) -> Option<String> {
    let body = String::from_utf8_lossy(&req.body);
    form_value(&body, "Action").or_else(|| form_value(&req.query, "Action"))
}

/// Answers an STS request whose signature (when one is needed) has been verified.
pub(super) fn answer(shared: &Shared, req: &Request, signing_key: Option<&str>) -> Response {
    match action(req).as_deref() {
        Some("AssumeRole") => assume(shared, req, signing_key, false),
        Some("AssumeRoleWithWebIdentity") => assume(shared, req, None, true),
        Some("GetCallerIdentity") => {
            let issued = signing_key.and_then(|k| shared.state().sts.issued.get(k).cloned());
            match issued {
                Some(i) => caller_identity(&i),
                None => super::routes::sts(req, signing_key),
            }
        }
        _ => super::routes::sts(req, signing_key),
    }
}

fn caller_identity(i: &IssuedKey) -> Response {
    Response::new(
        200,
        "text/xml",
        format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
             <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    \
             <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
             <RequestId>00000000-0000-0000-0000-000000000002</RequestId>\n  </ResponseMetadata>\n\
             </GetCallerIdentityResponse>\n",
            xml_escape(&i.arn),
            xml_escape(&i.user_id),
            i.account
        ),
    )
}

fn assume(shared: &Shared, req: &Request, signing_key: Option<&str>, web: bool) -> Response {
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let get = |name: &str| form_value(&body, name);
    let mut call = StsCall {
        action: if web { "AssumeRoleWithWebIdentity" } else { "AssumeRole" }.to_string(),
        role_arn: get("RoleArn").unwrap_or_default(),
        session_name: get("RoleSessionName"),
        duration_seconds: get("DurationSeconds"),
        external_id: get("ExternalId"),
        serial_number: get("SerialNumber"),
        token_code: get("TokenCode"),
        web_identity_token: get("WebIdentityToken"),
        source_key: signing_key.map(str::to_string),
        issued_key: None,
        error: None,
    };
    // Fresh secrets before taking the lock (unique_hex takes none, but keep the lock short).
    let akid = format!("ASIA{}", shared.unique_hex(16).to_ascii_uppercase());
    let secret = format!("{}/{}+mock", shared.unique_hex(20), shared.unique_hex(14));
    // Unique from the first character on: secret audits also look for 8-character prefixes.
    let token = format!("IQo{}//{}+{}=", shared.unique_hex(12), shared.unique_hex(60), shared.unique_hex(40));
    let request_id = format!("{}-mock-sts", shared.unique_hex(8));

    let mut st = shared.state();
    let chained =
        signing_key.is_some_and(|k| st.sts.issued.contains_key(k) || st.issued_role_keys.iter().any(|i| i == k));
    let rules = st.sts.roles.get(&call.role_arn).cloned().unwrap_or_default();
    let token_ok = call.web_identity_token.as_ref().is_some_and(|t| st.sts.web_identity_tokens.contains(t));
    let verdict = check(&call, &rules, chained, web, token_ok);
    let resp = match verdict {
        Err((status, code, message)) => {
            call.error = Some(code.to_string());
            sts_error(status, code, &xml_escape(&message))
        }
        Ok(lifetime) => {
            let (account, role_name) = role_parts(&call.role_arn);
            let session = call.session_name.clone().unwrap_or_default();
            let expires_at = SystemTime::now() + Duration::from_secs(u64::from(lifetime));
            let role_id = format!(
                "AROA{}",
                sigv4::sha256_hex(call.role_arn.as_bytes()).get(..16).unwrap_or("").to_ascii_uppercase()
            );
            let issued = IssuedKey {
                arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
                user_id: format!("{role_id}:{session}"),
                account: account.clone(),
            };
            st.keys.insert(
                akid.clone(),
                Key {
                    secret: secret.clone(),
                    session_token: Some(token.clone()),
                    valid: true,
                    expires_at: Some(expires_at),
                },
            );
            st.sts.issued.insert(akid.clone(), issued.clone());
            call.issued_key = Some(akid.clone());
            let secs = expires_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
            let web_members = if web {
                format!(
                    "    <SubjectFromWebIdentityToken>system:serviceaccount:default:mock</SubjectFromWebIdentityToken>\n    \
                     <Audience>sts.amazonaws.com</Audience>\n    \
                     <Provider>arn:aws:iam::{account}:oidc-provider/oidc.mock.example</Provider>\n"
                )
            } else {
                String::new()
            };
            let op = &call.action;
            Response::new(
                200,
                "text/xml",
                format!(
                    "<{op}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <{op}Result>\n{web_members}    \
                     <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    \
                     </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{akid}</AccessKeyId>\n      \
                     <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      \
                     <Expiration>{}</Expiration>\n    </Credentials>\n  </{op}Result>\n  <ResponseMetadata>\n    \
                     <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{op}Response>\n",
                    xml_escape(&issued.user_id),
                    xml_escape(&issued.arn),
                    xml_escape(&secret),
                    xml_escape(&token),
                    sigv4::rfc3339(secs),
                ),
            )
        }
    };
    st.sts.calls.push(call);
    resp
}

/// The session lifetime to grant, or the error STS would answer.
fn check(
    call: &StsCall,
    rules: &RoleRules,
    chained: bool,
    web: bool,
    token_ok: bool,
) -> Result<u32, (u16, &'static str, String)> {
    let denied = || {
        let action = if web { "sts:AssumeRoleWithWebIdentity" } else { "sts:AssumeRole" };
        (403, "AccessDenied", format!("Not authorized to perform {action} on resource: {}", call.role_arn))
    };
    let (account, _) = role_parts(&call.role_arn);
    if !call.role_arn.starts_with("arn:aws:iam::") || !call.role_arn.contains(":role/") || account.is_empty() {
        return Err((400, "ValidationError", format!("{} is not a valid role ARN", call.role_arn)));
    }
    let session = call.session_name.as_deref().unwrap_or_default();
    if !(2..=64).contains(&session.len())
        || !session.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err((
            400,
            "ValidationError",
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
                .to_string(),
        ));
    }
    if web && !token_ok {
        return Err((400, "InvalidIdentityToken", "The ID Token provided is not a valid JWT. (mock)".to_string()));
    }
    if rules.denied {
        return Err(denied());
    }
    if !web && rules.external_id.is_some() && call.external_id != rules.external_id {
        return Err(denied());
    }
    if !web && let Some((serial, code)) = &rules.mfa {
        if call.serial_number.as_deref() != Some(serial) {
            return Err(denied());
        }
        if call.token_code.as_deref() != Some(code) {
            return Err((
                403,
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code. ".to_string(),
            ));
        }
    }
    let lifetime = match &call.duration_seconds {
        None => 3600,
        Some(d) => d.parse::<u32>().map_err(|_| {
            (
                400,
                "ValidationError",
                "1 validation error detected: Value at 'durationSeconds' is not a number".to_string(),
            )
        })?,
    };
    if lifetime < 900 {
        return Err((
            400,
            "ValidationError",
            "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value \
             greater than or equal to 900"
                .to_string(),
        ));
    }
    if chained && lifetime > CHAINED_MAX_DURATION {
        return Err((
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                .to_string(),
        ));
    }
    if lifetime > rules.max_session.unwrap_or(DEFAULT_MAX_SESSION_DURATION) {
        return Err((
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".to_string(),
        ));
    }
    Ok(lifetime)
}

/// (account, role name) of `arn:aws:iam::ACCOUNT:role/path/NAME`.
fn role_parts(arn: &str) -> (String, String) {
    let account = arn.split(':').nth(4).unwrap_or_default().to_string();
    let name = arn.rsplit('/').next().unwrap_or_default().to_string();
    (account, name)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(duration: Option<&str>) -> StsCall {
        StsCall {
            action: "AssumeRole".into(),
            role_arn: "arn:aws:iam::111122223333:role/path/R".into(),
            session_name: Some("s1".into()),
            duration_seconds: duration.map(str::to_string),
            external_id: None,
            serial_number: None,
            token_code: None,
            web_identity_token: None,
            source_key: None,
            issued_key: None,
            error: None,
        }
    }

    #[test]
    fn rules_like_aws() {
        let none = RoleRules::default();
        assert_eq!(check(&call(None), &none, false, false, false), Ok(3600));
        assert_eq!(check(&call(Some("7200")), &none, false, false, false), Ok(7200));
        assert_eq!(check(&call(Some("7200")), &none, true, false, false).unwrap_err().1, "ValidationError");
        assert_eq!(check(&call(Some("600")), &none, false, false, false).unwrap_err().1, "ValidationError");
        let strict = RoleRules { external_id: Some("x".into()), ..RoleRules::default() };
        assert_eq!(check(&call(None), &strict, false, false, false).unwrap_err().1, "AccessDenied");
        let mut c = call(None);
        c.external_id = Some("x".into());
        assert_eq!(check(&c, &strict, false, false, false), Ok(3600));
        c.session_name = Some("a b".into());
        assert_eq!(check(&c, &strict, false, false, false).unwrap_err().1, "ValidationError");
        assert_eq!(role_parts("arn:aws:iam::111122223333:role/path/R"), ("111122223333".into(), "R".into()));
        assert_eq!(xml_escape("a&<'"), "a&amp;&lt;&apos;");
    }
}
