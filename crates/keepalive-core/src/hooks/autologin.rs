//! Running `autoLoginCmd`: under a cross-process lock so concurrent sessions
//! cause one login, either in the foreground (`cc-aws-refresh`) or detached
//! in the background (`cc-aws-check`, `cc-aws-export`).

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use time::OffsetDateTime;

use super::{BACKGROUND_LOGIN_ARG, Setup, fresh_margin};
use crate::ctx::Ctx;
use crate::env::vars;
use crate::log::{self, Level};
use crate::providers::{Base, Chain};
use crate::{lock, process};

/// Claude Code gives `awsAuthRefresh` three minutes; a login must end within that.
pub const LOGIN_TIMEOUT: StdDuration = StdDuration::from_secs(180);
/// A session that finds a login running waits this long for it.
pub const LOGIN_WAIT: StdDuration = StdDuration::from_secs(190);
/// Background logins start at most this often across all sessions.
pub const BACKGROUND_EVERY_SECS: i64 = 5 * 60;

pub fn login_lock_path(ctx: &Ctx) -> Option<PathBuf> {
    crate::paths::state_dir(&ctx.env).ok().map(|d| d.join("locks/login.lock"))
}

fn stamp_path(ctx: &Ctx) -> Option<PathBuf> {
    crate::paths::state_dir(&ctx.env).ok().map(|d| d.join("autologin.stamp"))
}

/// When the keys a login tool wrote (the base of the profile's chain, read again now) are
/// good for at least the fresh margin.
pub fn fresh_until(ctx: &Ctx, _setup: &Setup, _profile: &str) -> Option<OffsetDateTime> {
    let again = Setup::load(ctx);
    let Ok(Chain { base: Base::Keys(k), .. }) = &again.chain else { return None };
    let creds = k.keys.creds.as_ref()?;
    match creds.expiration {
        Some(t) if t - ctx.now >= fresh_margin() => Some(t),
        // Keys without a recorded expiry are taken as valid.
        None => Some(OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)),
        Some(_) => None,
    }
}

/// Outcome of a foreground login.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Fresh credentials exist now, valid until then.
    Fresh(OffsetDateTime),
    /// Nothing fresh afterwards; the reason for the user.
    Failed(String),
}

/// Runs `autoLoginCmd` with its output going to ours (the user sees it), under
/// the login lock. A second caller waits for the first and re-checks.
pub fn run_foreground(ctx: &Ctx, setup: &Setup, profile: &str, say: &mut dyn FnMut(&str)) -> LoginOutcome {
    let cmd = setup.config().auto_login_cmd.clone();
    run_login(ctx, profile, &cmd, "autoLoginCmd", &|| fresh_until(ctx, setup, profile), say)
}

/// Runs a login command under the login lock with inherited output and the
/// 180 s limit, then asks `fresh` whether it worked. A caller that finds a
/// login already running waits for it instead of starting a second one.
pub fn run_login(
    ctx: &Ctx,
    profile: &str,
    cmd: &str,
    what: &str,
    fresh: &dyn Fn() -> Option<OffsetDateTime>,
    say: &mut dyn FnMut(&str),
) -> LoginOutcome {
    let Some(lock_path) = login_lock_path(ctx) else {
        return LoginOutcome::Failed("cannot locate the state directory (HOME is not set)".into());
    };
    let guard = match lock::try_lock(&lock_path) {
        Ok(Some(g)) => g,
        Ok(None) => {
            say("Another Claude Code session is already logging in; waiting for it…");
            let waited = lock::lock_with_timeout(&lock_path, LOGIN_WAIT);
            return match (waited, fresh()) {
                (_, Some(t)) => LoginOutcome::Fresh(t),
                (Ok(None), None) => LoginOutcome::Failed("the other session's login is still running".into()),
                (_, None) => LoginOutcome::Failed("the other session's login did not produce fresh credentials".into()),
            };
        }
        Err(e) => return LoginOutcome::Failed(e.to_string()),
    };
    // Someone may have logged in between our check and taking the lock.
    if let Some(t) = fresh() {
        return LoginOutcome::Fresh(t);
    }
    say(&format!("Running {what} for profile \"{profile}\": {cmd}"));
    log::write(ctx, Level::Info, "refresh", &format!("running {what} for profile {profile}"));
    let mut command = process::shell(cmd);
    command.env(vars::CC_KEEPALIVE_PROFILE, profile);
    let result = process::run_inherited(command, what, LOGIN_TIMEOUT);
    let outcome = match (result, fresh()) {
        (_, Some(t)) => LoginOutcome::Fresh(t),
        (Ok(status), None) if status.success() => {
            LoginOutcome::Failed(format!("{what} succeeded but no fresh credentials are available afterwards"))
        }
        (Ok(status), None) => LoginOutcome::Failed(format!("{what} failed ({status})")),
        (Err(e), None) => LoginOutcome::Failed(e.to_string()),
    };
    drop(guard);
    let level = if matches!(outcome, LoginOutcome::Fresh(_)) { Level::Info } else { Level::Error };
    log::write(ctx, level, "refresh", &format!("{what} for profile {profile}: {outcome:?}"));
    outcome
}

/// Starts a detached background login when `autoLoginCmd` is set, no login is
/// running and none was started in the last five minutes by any session.
/// Returns whether one was started.
pub fn maybe_start_background(ctx: &Ctx, setup: &Setup, profile: &str) -> bool {
    if setup.config().auto_login_cmd.is_empty() {
        return false;
    }
    let (Some(stamp), Some(login_lock)) = (stamp_path(ctx), login_lock_path(ctx)) else {
        return false;
    };
    if lock::is_held(&login_lock) {
        return false;
    }
    super::background::spawn_self_at_most_every(
        ctx,
        &stamp,
        BACKGROUND_EVERY_SECS,
        BACKGROUND_LOGIN_ARG,
        profile,
        "autoLoginCmd",
    )
}

/// The detached side: log in unless someone else is or the credentials are
/// already fresh. Output goes nowhere (the log records the outcome).
pub fn run_background(ctx: &Ctx) -> u8 {
    let setup = Setup::load(ctx);
    let Ok(profile) = setup.profile.as_ref() else { return 1 };
    if setup.config().auto_login_cmd.is_empty() || fresh_until(ctx, &setup, profile).is_some() {
        return 0;
    }
    let Some(lock_path) = login_lock_path(ctx) else { return 1 };
    let Ok(Some(guard)) = lock::try_lock(&lock_path) else { return 0 };
    let mut command = process::shell(&setup.config().auto_login_cmd);
    command
        .env(vars::CC_KEEPALIVE_PROFILE, profile)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let result = process::run_inherited(command, "autoLoginCmd", LOGIN_TIMEOUT);
    drop(guard);
    let ok = fresh_until(ctx, &setup, profile).is_some();
    let msg = match (&result, ok) {
        (_, true) => format!("background autoLoginCmd for profile {profile}: fresh credentials"),
        (Ok(s), false) => format!("background autoLoginCmd for profile {profile}: no fresh credentials ({s})"),
        (Err(e), false) => format!("background autoLoginCmd for profile {profile}: {e}"),
    };
    log::write(ctx, if ok { Level::Info } else { Level::Error }, "background", &msg);
    u8::from(!ok)
}
