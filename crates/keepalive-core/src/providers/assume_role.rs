//! `role_arn` links: `AssumeRole` through STS and the assume-role cache the AWS CLI keeps in
//! `~/.aws/cli/cache`, read and written in its exact format so that either tool reuses the
//! other's credentials.
//!
//! botocore on its own caches assumed roles in memory only; the AWS CLI (v1
//! `awscli/customizations/assumerole.py`, v2 alike) plugs a `JSONFileCache` on
//! `~/.aws/cli/cache` into botocore's assume-role and web-identity providers. That file cache is
//! what we share. The caller holds the cross-process lock (`providers::cached::renew_once`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::env::Env;
use crate::expiry;
use crate::fsutil::{self, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::log::{self, Level};
use crate::paths::{self, PathError};
use crate::providers::RoleStep;
use crate::providers::sso::cache::python_json;
use crate::providers::sso::role_cache;
use crate::providers::sts::{self, AssumeRoleParams, Assumed, CHAINED_MAX_DURATION, Mfa, StsError};

#[derive(Debug, thiserror::Error)]
pub enum AssumeRoleError {
    #[error(
        "profile \"{profile}\" assumes {role_arn} with MFA (mfa_serial = {serial}) and no code was given (only a terminal can give one): run `cc-aws-keepalive refresh --profile {profile}` in a terminal"
    )]
    MfaRequired { profile: String, role_arn: String, serial: String },
    #[error(transparent)]
    Sts(#[from] StsError),
}

impl AssumeRoleError {
    /// An MFA code is needed, which only a terminal can supply.
    pub fn needs_mfa(&self) -> bool {
        matches!(self, AssumeRoleError::MfaRequired { .. })
    }

    /// STS said the source credentials are expired or invalid: renewing them may help.
    pub fn source_rejected(&self) -> bool {
        matches!(self, AssumeRoleError::Sts(e) if e.source_rejected())
    }
}

/// botocore's cache key: sha1 hex of `json.dumps(args, sort_keys=True)` (default separators),
/// args = `RoleArn` plus the configured `RoleSessionName`, `ExternalId`, `SerialNumber` and
/// `DurationSeconds` (an integer). A generated session name is not part of it; neither is an
/// empty `role_session_name`, which botocore replaces with a generated one.
pub fn cache_key(step: &RoleStep) -> String {
    let mut args: Vec<(String, Value)> = vec![("RoleArn".into(), Value::String(step.role_arn.clone()))];
    if let Some(n) = step.session_name.as_deref().filter(|n| !n.is_empty()) {
        args.push(("RoleSessionName".into(), Value::String(n.to_string())));
    }
    if let Some(id) = &step.external_id {
        args.push(("ExternalId".into(), Value::String(id.clone())));
    }
    if let Some(serial) = &step.mfa_serial {
        args.push(("SerialNumber".into(), Value::String(serial.clone())));
    }
    if let Some(d) = step.duration_seconds {
        args.push(("DurationSeconds".into(), Value::from(d)));
    }
    key_of(args)
}

/// sha1 hex of Python's `json.dumps(dict(args), sort_keys=True)`.
pub(crate) fn key_of(mut args: Vec<(String, Value)>) -> String {
    args.sort_by(|a, b| a.0.cmp(&b.0));
    sha1_smol::Sha1::from(python_json(&args, false).as_bytes()).digest().to_string()
}

/// `~/.aws/cli/cache/<key>.json`.
pub fn cache_path(env: &Env, step: &RoleStep) -> Result<PathBuf, PathError> {
    Ok(paths::cli_cache_dir(env)?.join(format!("{}.json", cache_key(step))))
}

/// Whatever the cache holds for `step`, however little time it has left (the caller decides
/// what is fresh enough). Missing or unusable: `None`.
pub fn cached(ctx: &Ctx, step: &RoleStep) -> Option<Credentials> {
    let path = match cache_path(&ctx.env, step) {
        Ok(p) => p,
        Err(e) => {
            log::write(ctx, Level::Warn, "assume-role", &e.to_string());
            return None;
        }
    };
    read_cache(ctx, &path, "assume-role")
}

/// Reads a botocore assume-role/web-identity cache file; problems are logged (never the
/// content) and count as a miss, as they do for botocore.
pub(crate) fn read_cache(ctx: &Ctx, path: &Path, component: &str) -> Option<Credentials> {
    match role_cache::read(path) {
        Ok(found) => found,
        Err(e) => {
            log::write(ctx, Level::Warn, component, &e.to_string());
            None
        }
    }
}

/// Assumes `step`'s role with `source`, caches the answer where the AWS CLI does and returns
/// the new credentials.
///
/// `chained`: `source` are themselves role credentials, for which STS allows at most an hour,
/// so a longer `duration_seconds` is lowered to 3600 (botocore would send it and fail).
/// `token_code`: the current MFA code, needed when the profile has `mfa_serial`.
pub fn assume(
    ctx: &Ctx,
    step: &RoleStep,
    source: &Credentials,
    chained: bool,
    token_code: Option<&str>,
) -> Result<Credentials, AssumeRoleError> {
    let mfa = match (step.mfa_serial.as_deref(), token_code.map(str::trim).filter(|c| !c.is_empty())) {
        (Some(serial), Some(code)) => Some(Mfa { serial, code }),
        (Some(serial), None) => {
            return Err(AssumeRoleError::MfaRequired {
                profile: step.profile.clone(),
                role_arn: step.role_arn.clone(),
                serial: serial.to_string(),
            });
        }
        (None, _) => None,
    };
    let mut duration = step.duration_seconds;
    if chained && let Some(d) = duration.filter(|d| *d > CHAINED_MAX_DURATION) {
        log::write(
            ctx,
            Level::Info,
            "assume-role",
            &format!(
                "profile {}: duration_seconds = {d} lowered to {CHAINED_MAX_DURATION}, the most STS allows when the source credentials are role credentials (role chaining)",
                step.profile
            ),
        );
        duration = Some(CHAINED_MAX_DURATION);
    }
    let session_name = match step.session_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => generated_session_name(ctx),
    };
    let params = AssumeRoleParams {
        profile: &step.profile,
        role_arn: &step.role_arn,
        session_name: &session_name,
        external_id: step.external_id.as_deref(),
        duration_seconds: duration,
        mfa,
        region: step.region.as_deref(),
    };
    let assumed = sts::assume_role(ctx, &params, source)?;
    match cache_path(&ctx.env, step) {
        Ok(path) => write_cache(ctx, &path, &assumed, "assume-role"),
        Err(e) => log::write(ctx, Level::Warn, "assume-role", &format!("cannot cache the role credentials: {e}")),
    }
    log::write(
        ctx,
        Level::Info,
        "assume-role",
        &format!(
            "assumed {} for profile {} ({}), valid until {}",
            step.role_arn,
            step.profile,
            assumed.credentials.access_key_id,
            assumed.credentials.expiration.map(expiry::to_iso8601).unwrap_or_default()
        ),
    );
    Ok(assumed.credentials)
}

/// botocore's name when none is configured: `botocore-session-<epoch seconds>`.
pub(crate) fn generated_session_name(ctx: &Ctx) -> String {
    format!("botocore-session-{}", ctx.now.unix_timestamp())
}

/// Writes `assumed` in botocore's format, atomically, 0600 (the directory 0700 if we create
/// it). A failure costs an STS call next time, not these credentials: it is logged.
pub(crate) fn write_cache(ctx: &Ctx, path: &Path, assumed: &Assumed, component: &str) {
    let result = path
        .parent()
        .map_or(Ok(()), |dir| fsutil::ensure_dir(dir, SECRET_DIR_MODE))
        .and_then(|()| fsutil::write_atomic(path, cache_json(assumed).as_bytes(), Some(SECRET_FILE_MODE)));
    if let Err(e) = result {
        log::write(ctx, Level::Warn, component, &format!("cannot cache the role credentials: {e}"));
    }
}

/// The file botocore's `JSONFileCache` writes: the parsed STS answer as `json.dumps` renders it
/// (default separators, members in the API model's order), `Expiration` as
/// `strftime('%Y-%m-%dT%H:%M:%S%Z')` gives it (`…UTC`), the `AccountId` botocore adds from the
/// role ARN, and `ResponseMetadata`. botocore also records the HTTP headers there; we have none
/// to record (nothing reads them back).
pub fn cache_json(a: &Assumed) -> String {
    let c = &a.credentials;
    let s = |v: &str| Value::String(v.to_string());
    let mut creds = vec![
        ("AccessKeyId".to_string(), s(&c.access_key_id)),
        ("SecretAccessKey".to_string(), s(c.secret_access_key.expose())),
        ("SessionToken".to_string(), s(c.session_token.as_ref().map(|t| t.expose()).unwrap_or_default())),
        ("Expiration".to_string(), s(&c.expiration.map(botocore_expiration).unwrap_or_default())),
    ];
    if let Some(account) = a.account_id() {
        creds.push(("AccountId".to_string(), s(account)));
    }
    let mut parts = vec![format!("\"Credentials\": {}", python_json(&creds, false))];
    let member = |name: &str, text: &str| {
        let v =
            if a.is_integer_member(name) { text.parse::<i64>().map_or_else(|_| s(text), Value::from) } else { s(text) };
        let one = python_json(&[(name.to_string(), v)], false);
        one.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or_default().to_string()
    };
    // The model puts SubjectFromWebIdentityToken between Credentials and AssumedRoleUser.
    let (before, after): (Vec<_>, Vec<_>) =
        a.members.iter().partition(|(name, _)| *name == "SubjectFromWebIdentityToken");
    parts.extend(before.iter().map(|(n, v)| member(n, v)));
    let mut user = Vec::new();
    if let Some(id) = &a.assumed_role_id {
        user.push(("AssumedRoleId".to_string(), s(id)));
    }
    if let Some(arn) = &a.assumed_role_arn {
        user.push(("Arn".to_string(), s(arn)));
    }
    if !user.is_empty() {
        parts.push(format!("\"AssumedRoleUser\": {}", python_json(&user, false)));
    }
    parts.extend(after.iter().map(|(n, v)| member(n, v)));
    let mut meta = Vec::new();
    if let Some(id) = &a.request_id {
        meta.push(("RequestId".to_string(), s(id)));
    }
    meta.push(("HTTPStatusCode".to_string(), Value::from(200)));
    meta.push(("HTTPHeaders".to_string(), Value::Object(serde_json::Map::new())));
    meta.push(("RetryAttempts".to_string(), Value::from(0)));
    parts.push(format!("\"ResponseMetadata\": {}", python_json(&meta, false)));
    format!("{{{}}}", parts.join(", "))
}

/// `2026-11-27T12:15:34UTC`: botocore's `%Z` of a UTC datetime.
fn botocore_expiration(t: time::OffsetDateTime) -> String {
    let iso = expiry::to_iso8601(t);
    format!("{}UTC", iso.strip_suffix('Z').unwrap_or(&iso))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sts::Op;
    use crate::secret::Secret;
    use time::macros::datetime;

    fn step(role_arn: &str) -> RoleStep {
        RoleStep::new("bedrock", role_arn, Some("eu-west-1".into()))
    }

    #[test]
    fn keys_match_botocore_examples() {
        // REFERENCE.md's example; botocore itself computes the rest in tests/it/assume_role.rs.
        assert_eq!(
            cache_key(&step("arn:aws:iam::111122223333:role/KalBedrock")),
            "f80c9ecace670741c5910425d552bb9dee3fd8fb"
        );
        // python3 -c 'import json,hashlib;print(hashlib.sha1(json.dumps({"RoleArn":"arn:aws:iam::1:role/R",
        //   "RoleSessionName":"me","DurationSeconds":7200},sort_keys=True).encode()).hexdigest())'
        let s =
            RoleStep { session_name: Some("me".into()), duration_seconds: Some(7200), ..step("arn:aws:iam::1:role/R") };
        assert_eq!(
            cache_key(&s),
            sha1_smol::Sha1::from(
                r#"{"DurationSeconds": 7200, "RoleArn": "arn:aws:iam::1:role/R", "RoleSessionName": "me"}"#
            )
            .digest()
            .to_string()
        );
        // An empty role_session_name is generated by botocore, hence not in the key.
        let empty = RoleStep { session_name: Some(String::new()), ..step("arn:aws:iam::1:role/R") };
        assert_eq!(cache_key(&empty), cache_key(&step("arn:aws:iam::1:role/R")));
        // The region is not part of it.
        assert_eq!(cache_key(&RoleStep { region: None, ..step("x") }), cache_key(&step("x")));
    }

    fn assumed(op: Op) -> Assumed {
        Assumed {
            op,
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("SK/é"),
                session_token: Some(Secret::new("ST")),
                expiration: Some(datetime!(2026-11-27 12:15:34 UTC)),
            },
            assumed_role_id: Some("AROAEXAMPLE:s".into()),
            assumed_role_arn: Some("arn:aws:sts::111122223333:assumed-role/KalBedrock/s".into()),
            members: vec![("SubjectFromWebIdentityToken", "sub".into()), ("PackedPolicySize", "6".into())],
            request_id: Some("rid".into()),
        }
    }

    #[test]
    fn cache_file_in_botocore_layout() {
        let mut a = assumed(Op::AssumeRole);
        a.members.remove(0);
        assert_eq!(
            cache_json(&a),
            r#"{"Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "SK/\u00e9", "SessionToken": "ST", "Expiration": "2026-11-27T12:15:34UTC", "AccountId": "111122223333"}, "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:s", "Arn": "arn:aws:sts::111122223333:assumed-role/KalBedrock/s"}, "PackedPolicySize": 6, "ResponseMetadata": {"RequestId": "rid", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}"#
        );
        let w = cache_json(&assumed(Op::AssumeRoleWithWebIdentity));
        assert!(
            w.contains(r#""AccountId": "111122223333"}, "SubjectFromWebIdentityToken": "sub", "AssumedRoleUser""#),
            "{w}"
        );
    }

    #[test]
    fn cache_round_trip_modes_and_corruption() {
        let dir = std::env::temp_dir().join(format!("kc-assume-role-{}", std::process::id()));
        let home = dir.to_str().unwrap();
        let state = dir.join("state");
        let env = Env::from_pairs([("HOME", home), ("XDG_STATE_HOME", state.to_str().unwrap())]);
        let ctx = Ctx::new(env, datetime!(2026-11-27 11:00:00 UTC));
        let s = step("arn:aws:iam::111122223333:role/KalBedrock");
        assert!(cached(&ctx, &s).is_none());
        let path = cache_path(&ctx.env, &s).unwrap();
        assert!(path.ends_with(".aws/cli/cache/f80c9ecace670741c5910425d552bb9dee3fd8fb.json"), "{path:?}");
        write_cache(&ctx, &path, &assumed(Op::AssumeRole), "assume-role");
        let back = cached(&ctx, &s).unwrap();
        assert_eq!(back.access_key_id, "ASIAEXAMPLE");
        assert_eq!(back.secret_access_key.expose(), "SK/é");
        assert_eq!(back.expiration, Some(datetime!(2026-11-27 12:15:34 UTC)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        std::fs::write(&path, r#"{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "LEAKME123"#).unwrap();
        assert!(cached(&ctx, &s).is_none());
        let logged = std::fs::read_to_string(state.join("cc-aws-keepalive/keepalive.log")).unwrap();
        assert!(logged.contains("WARN") && !logged.contains("LEAKME"), "{logged}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mfa_without_a_code_asks_for_a_terminal() {
        let ctx = Ctx::new(Env::default(), datetime!(2026-11-27 11:00:00 UTC));
        let s = RoleStep { mfa_serial: Some("arn:aws:iam::1:mfa/me".into()), ..step("arn:aws:iam::1:role/R") };
        let source = Credentials {
            access_key_id: "AKIA".into(),
            secret_access_key: Secret::new("x"),
            session_token: None,
            expiration: None,
        };
        for code in [None, Some(""), Some("  ")] {
            let e = assume(&ctx, &s, &source, false, code).unwrap_err();
            assert!(e.needs_mfa() && !e.source_rejected());
            let m = e.to_string();
            assert!(m.contains("cc-aws-keepalive refresh --profile bedrock") && m.contains("mfa/me"), "{m}");
        }
        assert_eq!(generated_session_name(&ctx), "botocore-session-1795777200");
    }
}
