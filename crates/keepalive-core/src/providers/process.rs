//! Profiles with `credential_process` (aws-vault, granted, Okta and YubiKey helpers): running
//! the command (bounded in time, tied to our lifetime, see [`crate::process::run_helper`]),
//! reading its JSON (the AWS "credential_process" protocol, Version 1), and caching the result
//! until 10 minutes before it expires, so hooks do not run a possibly slow, possibly prompting
//! command on every call.
//!
//! One run per profile across concurrent callers: the run happens under a cross-process lock
//! and the cache is read again once the lock is held ([`cached::renew_once`]); six parallel
//! exports mean one MFA prompt, not six. The last failure (when, and one line saying why: the
//! helper's last stderr line, never its stdout) is kept next to the cache so the surfaces
//! that never run the helper (status line, check, `status`, `doctor`) can show it; a
//! successful run removes it.

use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, Instant};

use time::OffsetDateTime;

use super::cached::{self, CacheLockError};
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::fsutil::{self, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::paths::{self, PathError};
use crate::process::{self, ProcessError};
use crate::secret::Secret;
use crate::{expiry, log};

/// The command may wait for a hardware key touch or call a web service; it gets this long.
pub const TIMEOUT: StdDuration = StdDuration::from_secs(30);
/// In a terminal (`cc-aws-keepalive refresh`) a person may be typing an MFA code.
pub const TERMINAL_TIMEOUT: StdDuration = StdDuration::from_secs(120);
/// Its output is a small JSON object.
const MAX_OUTPUT: usize = 64 * 1024;

/// What went wrong with one run of the helper; recorded as the last failure.
#[derive(Debug, thiserror::Error)]
pub enum RunProblem {
    #[error("could not run: {0}; check the command in your AWS config")]
    Spawn(ProcessError),
    #[error("did not finish within {secs} s and was stopped{}", said(.stderr))]
    Timeout { secs: u64, stderr: Option<String> },
    #[error("failed ({status}){}", said_or_hint(.stderr))]
    Failed { status: String, stderr: Option<String> },
    #[error("printed {0}; it must print the JSON of the credential_process protocol (Version 1)")]
    BadOutput(String),
    #[error("returned credentials that expired {0}; fix the command or log in again with its tool")]
    Expired(String),
}

/// `: <the helper's last stderr line>`, when it said anything.
fn said(line: &Option<String>) -> String {
    line.as_ref().map(|l| format!(": {l}")).unwrap_or_default()
}

fn said_or_hint(line: &Option<String>) -> String {
    match line {
        Some(l) => format!(": {l}"),
        None => " without a word on stderr; run the command by hand to see why".into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialProcessError {
    #[error("credential_process for profile \"{profile}\" {problem}")]
    Run { profile: String, problem: RunProblem },
    /// Another process ran the helper while we waited for the lock, and it failed: running it
    /// again at once would only ask for the same touch or code again.
    #[error("credential_process for profile \"{profile}\" {reason} (run by another process just now)")]
    FailedElsewhere { profile: String, reason: String },
    #[error(transparent)]
    Lock(#[from] CacheLockError),
    #[error(transparent)]
    Path(#[from] PathError),
}

/// The last failed run, as recorded for the surfaces that never run the helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: OffsetDateTime,
    /// One line, no secrets: "failed (exit status: 1): MFA device not present".
    pub reason: String,
}

/// What our files say about a helper, without running it.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// When the cached credentials expire.
    pub expires_at: Option<OffsetDateTime>,
    /// The last run failed and no fresh credentials are cached: the next export runs the
    /// helper again and, most likely, fails the same way.
    pub failure: Option<Failure>,
}

/// The cache and the failure record of one profile's command.
struct Files {
    cache: PathBuf,
    failure: PathBuf,
    /// The lock name for [`cached::renew_once`].
    lock: String,
}

impl Files {
    /// `credential-process/<sha1 of profile and command>.json` in our state directory (and
    /// `.failed.json` beside it): a changed command never reuses the old command's result.
    fn new(ctx: &Ctx, profile: &str, command: &str) -> Result<Files, PathError> {
        let key = sha1_smol::Sha1::from(format!("{profile}\0{command}")).digest().to_string();
        let dir = paths::credential_process_dir(&ctx.env)?;
        Ok(Files {
            cache: dir.join(format!("{key}.json")),
            failure: dir.join(format!("{key}.failed.json")),
            lock: format!("credential-process-{key}"),
        })
    }
}

/// The result [`credentials`] would return without running the helper: cached with the
/// margin left. `None` when the helper must run (or an error be reported).
pub fn cached(ctx: &Ctx, profile: &str, command: &str) -> Option<Credentials> {
    let files = Files::new(ctx, profile, command).ok()?;
    read_text(&files.cache).and_then(|t| parse(&t).ok()).filter(|c| cached::is_fresh(c, ctx.now))
}

/// Credentials from `command` for `profile`: the cached result while it has at least
/// 10 minutes left (unless `force`), else one run of the command shared by every concurrent
/// caller (cached when it has an expiry).
pub fn credentials(
    ctx: &Ctx,
    profile: &str,
    command: &str,
    force: bool,
) -> Result<Credentials, CredentialProcessError> {
    let files = Files::new(ctx, profile, command)?;
    let fresh = |c: &Credentials| cached::is_fresh(c, ctx.now);
    let cache_before = read_text(&files.cache);
    let failure_before = read_text(&files.failure);
    if !force && let Some(c) = cache_before.as_deref().and_then(|t| parse(t).ok()).filter(fresh) {
        return Ok(c);
    }
    // A failure recorded while we waited is taken as ours, except in a terminal (there the
    // helper can prompt, where the hooks' run could not) and when forced.
    let take_their_failure = !force && !process::interactive();
    let reread = || -> Option<Result<Credentials, CredentialProcessError>> {
        let text = read_text(&files.cache);
        // Forced: only what another run wrote while we waited counts.
        if (!force || text != cache_before)
            && let Some(c) = text.as_deref().and_then(|t| parse(t).ok()).filter(fresh)
        {
            return Some(Ok(c));
        }
        let failed = read_text(&files.failure);
        if take_their_failure && failed.is_some() && failed != failure_before {
            let reason = failed.as_deref().and_then(parse_failure)?.reason;
            return Some(Err(CredentialProcessError::FailedElsewhere { profile: profile.to_string(), reason }));
        }
        None
    };
    let what = || format!("the credential_process of profile {profile}");
    let timeout = if process::interactive() { TERMINAL_TIMEOUT } else { TIMEOUT };
    // The lock's own wait is shorter than a helper may take (a key touch, a typed code): keep
    // waiting for the run in progress up to the time it is allowed, then say so.
    let give_up = Instant::now() + timeout + StdDuration::from_secs(5);
    loop {
        let renew = || Ok::<_, CredentialProcessError>(run_and_record(ctx, &files, profile, command, timeout));
        match cached::renew_once(ctx, &files.lock, &what, &reread, renew) {
            Err(CredentialProcessError::Lock(CacheLockError::Timeout { .. })) if Instant::now() < give_up => {}
            r => break r.and_then(|r| r),
        }
    }
}

/// One run under the lock: the result is cached (when it has an expiry) and the failure
/// record removed, or the failure recorded.
fn run_and_record(
    ctx: &Ctx,
    files: &Files,
    profile: &str,
    command: &str,
    timeout: StdDuration,
) -> Result<Credentials, CredentialProcessError> {
    match run(ctx, command, timeout) {
        Ok(creds) => {
            if creds.expiration.is_some() {
                write_cache(ctx, &files.cache, &creds);
            }
            if let Err(e) = std::fs::remove_file(&files.failure)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                log::write(
                    ctx,
                    log::Level::Warn,
                    "credential_process",
                    &format!("cannot remove {}: {e}", files.failure.display()),
                );
            }
            Ok(creds)
        }
        Err(problem) => {
            let reason = problem.to_string();
            record_failure(ctx, &files.failure, &reason);
            log::write(ctx, log::Level::Warn, "credential_process", &format!("profile {profile}: {reason}"));
            Err(CredentialProcessError::Run { profile: profile.to_string(), problem })
        }
    }
}

fn run(ctx: &Ctx, command: &str, timeout: StdDuration) -> Result<Credentials, RunProblem> {
    let out = process::run_helper(process::shell(command), "credential_process", timeout, MAX_OUTPUT)
        .map_err(RunProblem::Spawn)?;
    let Some(status) = out.status else {
        return Err(RunProblem::Timeout { secs: timeout.as_secs(), stderr: out.stderr_line });
    };
    if !status.success() {
        return Err(RunProblem::Failed { status: status.to_string(), stderr: out.stderr_line });
    }
    let creds = parse(&String::from_utf8_lossy(&out.stdout)).map_err(RunProblem::BadOutput)?;
    match creds.expiration {
        Some(exp) if exp <= ctx.now => Err(RunProblem::Expired(expiry::relative(ctx.now, exp))),
        _ => Ok(creds),
    }
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

fn read_text(path: &Path) -> Option<String> {
    fsutil::read_optional(path).ok().flatten()
}

fn write_cache(ctx: &Ctx, path: &Path, creds: &Credentials) {
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
    write_private(ctx, path, &v.to_string());
}

/// Writes one of our files in the 0700 directory, 0600 (a helper's stderr line could, in
/// theory, hold something private).
fn write_private(ctx: &Ctx, path: &Path, text: &str) {
    let result = path
        .parent()
        .map_or(Ok(()), |d| fsutil::ensure_dir(d, SECRET_DIR_MODE))
        .and_then(|()| fsutil::write_atomic(path, text.as_bytes(), Some(SECRET_FILE_MODE)));
    // A file we cannot write costs a run next time, or a warning not shown, nothing more.
    if let Err(e) = result {
        log::write(ctx, log::Level::Warn, "credential_process", &e.to_string());
    }
}

/// `{"at": …, "reason": …, "run": …}`; `run` tells two failures apart when the clock is fixed
/// (tests) or two runs fail within the same second.
fn record_failure(ctx: &Ctx, path: &Path, reason: &str) {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let v = serde_json::json!({
        "at": expiry::to_iso8601(ctx.now),
        "reason": reason,
        "run": format!("{}-{nanos}", std::process::id()),
    });
    write_private(ctx, path, &v.to_string());
}

fn parse_failure(text: &str) -> Option<Failure> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let at = expiry::parse(v.get("at")?.as_str()?).ok()?;
    let reason = v.get("reason")?.as_str()?;
    // Written by us as one line; bounded again in case the file was edited.
    let reason = process::last_line(reason.as_bytes())?;
    Some(Failure { at, reason })
}

/// What the cache and the failure record say, without running the command.
pub fn status(ctx: &Ctx, profile: &str, command: &str) -> Status {
    let Ok(files) = Files::new(ctx, profile, command) else { return Status::default() };
    let cached = read_text(&files.cache).and_then(|t| parse(&t).ok());
    let fresh = cached.as_ref().is_some_and(|c| cached::is_fresh(c, ctx.now));
    Status {
        expires_at: cached.and_then(|c| c.expiration),
        failure: if fresh { None } else { read_text(&files.failure).as_deref().and_then(parse_failure) },
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::env::Env;

    fn ctx_in(dir: &Path) -> Ctx {
        Ctx::new(Env::from_pairs([("HOME", dir.to_string_lossy().as_ref())]), OffsetDateTime::now_utc())
    }

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
        let ctx = ctx_in(&dir);
        let c = credentials(&ctx, "p", &cmd, false).unwrap();
        assert_eq!(c.access_key_id, "AKID");
        let c2 = credentials(&ctx, "p", &cmd, false).unwrap();
        assert_eq!(c2.secret_access_key.expose(), "SECRETKEY1");
        assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 1, "second call must use the cache");
        assert!(status(&ctx, "p", &cmd).expires_at.is_some());
        credentials(&ctx, "p", &cmd, true).unwrap();
        assert_eq!(std::fs::read_to_string(&counter).unwrap().lines().count(), 2, "forced: a new run");
        let e = credentials(&ctx, "p", "echo '{\"Version\":1,\"AccessKeyId\":\"SECRETKEY1\"}'", false)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("SECRETKEY1") && e.contains("\"p\""), "{e}");
        let e = credentials(&ctx, "p", "exit 3", false).unwrap_err().to_string();
        assert!(e.contains("failed") && e.contains("by hand"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failure_is_recorded_with_the_last_stderr_line_and_cleared_by_a_success() {
        let dir = std::env::temp_dir().join(format!("kc-credproc-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = ctx_in(&dir);
        let flag = dir.join("ok");
        let exp = expiry::to_iso8601(OffsetDateTime::now_utc() + time::Duration::hours(1));
        let cmd = format!(
            "if [ -e '{}' ]; then printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"SECRETKEY1\", \"Expiration\": \"{exp}\"}}'; \
             else echo 'SECRETKEY1 stays on stdout'; printf 'looking for key\\n\\033[31mMFA device not present; touch your YubiKey\\033[0m\\n' >&2; exit 1; fi",
            flag.display()
        );
        assert!(status(&ctx, "p", &cmd).failure.is_none());
        let e = credentials(&ctx, "p", &cmd, false).unwrap_err().to_string();
        assert!(e.ends_with("failed (exit status: 1): MFA device not present; touch your YubiKey"), "{e}");
        assert!(!e.contains("SECRETKEY1"), "{e}");
        let f = status(&ctx, "p", &cmd).failure.unwrap();
        assert_eq!(f.reason, "failed (exit status: 1): MFA device not present; touch your YubiKey");
        std::fs::write(&flag, "").unwrap();
        credentials(&ctx, "p", &cmd, false).unwrap();
        let st = status(&ctx, "p", &cmd);
        assert!(st.failure.is_none() && st.expires_at.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
