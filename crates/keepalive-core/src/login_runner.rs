//! The one login runner. Every login command we start — `autoLoginCmd` for keys a login tool
//! writes, `loginCmd` or `aws sso login …` when an SSO session is over — runs here: under the
//! cross-process login lock (N sessions, the daemon and `refresh` cause one login), with a
//! time limit, its output shown or discarded, and judged afterwards by whether fresh
//! credentials exist, not by its exit code alone.
//!
//! Callers differ only in the [`Login`] they describe: the foreground hook waits for a login
//! another session started, the detached one skips; `refresh --force` runs even when the
//! credentials look fresh.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::ctx::Ctx;
use crate::env::vars;
use crate::log::{self, Level};
use crate::providers::cached::fresh_margin;
use crate::providers::resolve::{self, AwsFiles, Choice};
use crate::providers::{Base, Chain};
use crate::{lock, paths, process};

/// Claude Code gives `awsAuthRefresh` three minutes; a login must end within that.
pub const LOGIN_TIMEOUT: StdDuration = StdDuration::from_secs(180);
/// A caller that finds a login running waits this long for it.
pub const LOGIN_WAIT: StdDuration = StdDuration::from_secs(190);
/// A person waits for a browser login (`refresh` in a terminal): more than the hooks' 3 minutes.
pub const INTERACTIVE_LOGIN_TIMEOUT: StdDuration = StdDuration::from_secs(300);

/// Where the login command's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// To ours: the user sees the login tool (`awsAuthRefresh`, `refresh`).
    Shown,
    /// Nowhere: detached or unattended (the log records the outcome).
    Hidden,
}

/// What to do when another process is logging in already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfBusy {
    /// Wait for it (up to [`LOGIN_WAIT`]), then judge the result.
    Wait,
    /// Leave it to that process.
    Skip,
}

/// One login to run.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// Names the command in messages and the log: "autoLoginCmd", "SSO login", …
    pub what: &'a str,
    pub command: &'a str,
    /// Who it is for, in messages and the log: `profile "dev"`, `sso-session corp`.
    pub subject: &'a str,
    /// The profile it is for, when there is one; the command sees it as `CC_KEEPALIVE_PROFILE`.
    pub profile: Option<&'a str>,
    pub output: Output,
    pub timeout: StdDuration,
    pub if_busy: IfBusy,
    /// Run even when fresh credentials already exist (`refresh --force`).
    pub force: bool,
    /// The log component ("refresh", "daemon", "background").
    pub log_as: &'a str,
}

/// When [`run`] asks whether credentials are fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// After taking the lock: is a login still needed? (Someone may have logged in meanwhile.)
    Before,
    /// After the command (or another process's login): did it work?
    After,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Fresh credentials exist, valid until then (`Date::MAX`: no expiry recorded); `ran`: by
    /// our command, not another process's.
    Fresh { until: OffsetDateTime, ran: bool },
    /// Another process is logging in and [`IfBusy::Skip`] was asked for.
    Busy,
    /// Nothing fresh afterwards; the reason, for the user.
    Failed(String),
}

/// Runs `login` under the login lock unless `fresh` says it is not needed. `say` gets lines
/// for a person (only when the output is shown).
pub fn run(
    ctx: &Ctx,
    login: &Login,
    fresh: &dyn Fn(When) -> Option<OffsetDateTime>,
    say: &mut dyn FnMut(&str),
) -> LoginOutcome {
    let Ok(lock_path) = paths::login_lock(&ctx.env) else {
        return LoginOutcome::Failed("cannot locate the state directory (HOME is not set)".into());
    };
    let shown = login.output == Output::Shown;
    let guard = match lock::try_lock(&lock_path) {
        Ok(Some(g)) => g,
        Ok(None) if login.if_busy == IfBusy::Skip => return LoginOutcome::Busy,
        Ok(None) => {
            if shown {
                say("Another session is already logging in; waiting for it…");
            }
            let waited = lock::lock_with_timeout(&lock_path, LOGIN_WAIT);
            return match (waited, fresh(When::After)) {
                (_, Some(until)) => LoginOutcome::Fresh { until, ran: false },
                (Ok(None), None) => LoginOutcome::Failed("the other session's login is still running".into()),
                (_, None) => LoginOutcome::Failed("the other session's login did not produce fresh credentials".into()),
            };
        }
        Err(e) => return LoginOutcome::Failed(e.to_string()),
    };
    if !login.force
        && let Some(until) = fresh(When::Before)
    {
        return LoginOutcome::Fresh { until, ran: false };
    }
    let (what, subject, cmd) = (login.what, login.subject, login.command);
    if shown {
        say(&format!("Running {what} for {subject}: {cmd}"));
    }
    log::write(ctx, Level::Info, login.log_as, &format!("running {what} for {subject}"));
    let mut command = process::shell(cmd);
    if let Some(p) = login.profile {
        command.env(vars::CC_KEEPALIVE_PROFILE, p);
    }
    if !shown {
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    }
    let result = process::run_inherited(command, what, login.timeout);
    let outcome = match (result, fresh(When::After)) {
        (_, Some(until)) => LoginOutcome::Fresh { until, ran: true },
        (Ok(status), None) if status.success() => {
            LoginOutcome::Failed(format!("{what} succeeded but no fresh credentials are available afterwards"))
        }
        (Ok(status), None) => LoginOutcome::Failed(format!("{what} failed ({status})")),
        (Err(e), None) => LoginOutcome::Failed(e.to_string()),
    };
    drop(guard);
    let (level, said) = match &outcome {
        LoginOutcome::Fresh { until, .. } => (Level::Info, format!("fresh credentials, {}", valid_until(*until))),
        LoginOutcome::Failed(why) => (Level::Error, why.clone()),
        LoginOutcome::Busy => (Level::Info, "another login is running".into()),
    };
    log::write(ctx, level, login.log_as, &format!("{what} for {subject}: {said}"));
    outcome
}

/// "valid until 2026-11-22T20:00:00Z", or "no expiry recorded".
pub fn valid_until(t: OffsetDateTime) -> String {
    if t.year() >= 9999 { "no expiry recorded".into() } else { format!("valid until {}", crate::expiry::to_iso8601(t)) }
}

/// Far future: keys without a recorded expiry count as valid.
pub fn no_expiry() -> OffsetDateTime {
    OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)
}

/// The keys a login tool wrote for `profile` (the base of its chain), read again from the AWS
/// files now: their expiry (`no_expiry()` when none is recorded). `None` when the profile has
/// no such keys (yet).
pub fn keys_until(ctx: &Ctx, config: &Config, profile: &str) -> Option<OffsetDateTime> {
    let files = AwsFiles::read(&ctx.env).ok()?;
    let chain = resolve::resolve_in(&ctx.env, config, &files, profile, Choice::Explicit("profile")).ok()?;
    let Chain { base: Base::Keys(k), .. } = chain else { return None };
    Some(k.keys.creds.as_ref()?.expiration.unwrap_or_else(no_expiry))
}

/// How the keys of a login-tool profile are renewed by `autoLoginCmd`.
#[derive(Debug, Clone, Copy)]
pub struct KeysLogin<'a> {
    pub profile: &'a str,
    /// Renew when less than this is left (at least the fresh margin the export needs).
    pub window: Duration,
    pub force: bool,
    pub output: Output,
    pub if_busy: IfBusy,
    pub log_as: &'a str,
}

/// Keys a login tool writes: runs `autoLoginCmd` when they have less than `window` left (or
/// are missing), once across every caller. `None` when no `autoLoginCmd` is configured.
pub fn renew_keys(ctx: &Ctx, config: &Config, k: &KeysLogin, say: &mut dyn FnMut(&str)) -> Option<LoginOutcome> {
    if config.auto_login_cmd.is_empty() {
        return None;
    }
    let window = k.window.max(fresh_margin());
    let fresh = |when: When| {
        let need = if when == When::Before { window } else { fresh_margin() };
        keys_until(ctx, config, k.profile).filter(|t| *t - ctx.now >= need)
    };
    let subject = format!("profile \"{}\"", k.profile);
    let login = Login {
        what: "autoLoginCmd",
        command: &config.auto_login_cmd,
        subject: &subject,
        profile: Some(k.profile),
        output: k.output,
        timeout: LOGIN_TIMEOUT,
        if_busy: k.if_busy,
        force: k.force,
        log_as: k.log_as,
    };
    Some(run(ctx, &login, &fresh, say))
}

/// The window in which keys are renewed ahead of expiry: `autoLoginMinutes`, at least the
/// fresh margin (with less left the export would not hand them out).
pub fn auto_login_window(config: &Config) -> Duration {
    Duration::minutes(i64::try_from(config.auto_login_minutes).unwrap_or(i64::MAX / 120)).max(fresh_margin())
}
