//! Profiles with `credential_process`: running the command (bounded in time),
//! reading its JSON (the AWS "credential_process" protocol, Version 1), and
//! caching the result until 10 minutes before it expires, so hooks do not run
//! a possibly slow command on every call.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use time::OffsetDateTime;

use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::fsutil::{self, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::paths::{self, PathError};
use crate::process::{self, ProcessError};
use crate::secret::Secret;
use crate::{expiry, log};

/// The command may prompt a hardware key or call a web service; it gets this long.
pub const TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// Its output is a small JSON object.
const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CredentialProcessError {
    #[error(
        "credential_process for profile \"{profile}\" could not run: {source}; check the command in your AWS config"
    )]
    Spawn { profile: String, source: ProcessError },
    #[error(
        "credential_process for profile \"{profile}\" did not finish within {secs} s and was stopped; make sure it needs no interaction"
    )]
    Timeout { profile: String, secs: u64 },
    #[error("credential_process for profile \"{profile}\" failed ({status}); run the command by hand to see why")]
    Failed { profile: String, status: String },
    #[error(
        "credential_process for profile \"{profile}\" printed {detail}; it must print the JSON of the credential_process protocol (Version 1)"
    )]
    BadOutput { profile: String, detail: String },
    #[error(
        "credential_process for profile \"{profile}\" returned credentials that expired {when}; fix the command or log in again with its tool"
    )]
    Expired { profile: String, when: String },
    #[error(transparent)]
    Path(#[from] PathError),
}

/// Credentials from `command` for `profile`: the cached result while it has
/// at least 10 minutes left, else a fresh run (cached when it has an expiry).
pub fn credentials(ctx: &Ctx, profile: &str, command: &str) -> Result<Credentials, CredentialProcessError> {
    let cache = cache_path(ctx, profile, command)?;
    if let Some(c) = read_cache(&cache)
        && c.remaining(ctx.now).is_some_and(|left| left >= crate::providers::sso::role_fresh_margin())
    {
        return Ok(c);
    }
    let out = process::run_captured(process::shell(command), "credential_process", b"", TIMEOUT, MAX_OUTPUT)
        .map_err(|source| CredentialProcessError::Spawn { profile: profile.to_string(), source })?;
    let status = match out.status {
        None => return Err(CredentialProcessError::Timeout { profile: profile.to_string(), secs: TIMEOUT.as_secs() }),
        Some(s) => s,
    };
    if !status.success() {
        return Err(CredentialProcessError::Failed { profile: profile.to_string(), status: status.to_string() });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let creds =
        parse(&text).map_err(|detail| CredentialProcessError::BadOutput { profile: profile.to_string(), detail })?;
    if let Some(exp) = creds.expiration {
        if exp <= ctx.now {
            return Err(CredentialProcessError::Expired {
                profile: profile.to_string(),
                when: expiry::relative(ctx.now, exp),
            });
        }
        write_cache(ctx, &cache, &creds);
    }
    Ok(creds)
}

/// Parses the protocol's JSON. Errors describe the problem without quoting
/// the output (it holds secrets).
pub fn parse(text: &str) -> Result<Credentials, String> {
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| format!("output that is {}", crate::providers::sso::cache::json_problem(&e)))?;
    if v.get("Version").and_then(serde_json::Value::as_i64) != Some(1) {
        return Err("JSON without \"Version\": 1".into());
    }
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|s| !s.is_empty());
    let (Some(id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
        return Err("JSON without AccessKeyId and SecretAccessKey".into());
    };
    let expiration = match field("Expiration") {
        Some(e) => Some(expiry::parse(e).map_err(|_| "an Expiration that is not an RFC 3339 timestamp".to_string())?),
        None => None,
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret),
        session_token: field("SessionToken").map(Secret::new),
        expiration,
    })
}

/// `$XDG_STATE_HOME/cc-aws-keepalive/credential-process/<sha1 of profile and command>.json`:
/// a changed command never reuses the old command's credentials.
fn cache_path(ctx: &Ctx, profile: &str, command: &str) -> Result<PathBuf, PathError> {
    let key = sha1_smol::Sha1::from(format!("{profile}\0{command}")).digest().to_string();
    Ok(paths::state_dir(&ctx.env)?.join("credential-process").join(format!("{key}.json")))
}

fn read_cache(path: &std::path::Path) -> Option<Credentials> {
    let text = fsutil::read_optional(path).ok().flatten()?;
    parse(&text).ok()
}

fn write_cache(ctx: &Ctx, path: &std::path::Path, creds: &Credentials) {
    let mut v = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose(),
    });
    if let Some(t) = &creds.session_token {
        v["SessionToken"] = t.expose().into();
    }
    if let Some(e) = creds.expiration {
        v["Expiration"] = expiry::to_iso8601(e).into();
    }
    let result = path
        .parent()
        .map_or(Ok(()), |d| fsutil::ensure_dir(d, SECRET_DIR_MODE))
        .and_then(|()| fsutil::write_atomic(path, v.to_string().as_bytes(), Some(SECRET_FILE_MODE)));
    // A cache we cannot write costs a run next time, nothing more.
    if let Err(e) = result {
        log::write(ctx, log::Level::Warn, "credential_process", &e.to_string());
    }
}

/// When cached credentials for this command expire, without running it.
pub fn cached_expiry(ctx: &Ctx, profile: &str, command: &str) -> Option<OffsetDateTime> {
    read_cache(&cache_path(ctx, profile, command).ok()?).and_then(|c| c.expiration)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::env::Env;

    #[test]
    fn runs_parses_and_caches() {
        let dir = std::env::temp_dir().join(format!("kc-credproc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let counter = dir.join("runs");
        let exp = expiry::to_iso8601(OffsetDateTime::now_utc() + time::Duration::hours(1));
        let cmd = format!(
            "echo x >> '{}'; printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"SECRETKEY1\", \"SessionToken\": \"TOKEN1\", \"Expiration\": \"{exp}\"}}'",
            counter.display()
        );
        let ctx = Ctx::new(Env::from_pairs([("HOME", dir.to_str().unwrap())]), OffsetDateTime::now_utc());
        let c = credentials(&ctx, "p", &cmd).unwrap();
        assert_eq!(c.access_key_id, "AKID");
        let c2 = credentials(&ctx, "p", &cmd).unwrap();
        assert_eq!(c2.secret_access_key.expose(), "SECRETKEY1");
        assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 1, "second call must use the cache");
        assert!(cached_expiry(&ctx, "p", &cmd).is_some());
        let e =
            credentials(&ctx, "p", "echo '{\"Version\":1,\"AccessKeyId\":\"SECRETKEY1\"}'").unwrap_err().to_string();
        assert!(!e.contains("SECRETKEY1") && e.contains("\"p\""), "{e}");
        let e = credentials(&ctx, "p", "exit 3").unwrap_err().to_string();
        assert!(e.contains("failed"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
