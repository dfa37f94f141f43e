//! `autoLoginCmd` from the hooks: in the foreground for `cc-aws-refresh`, or detached from
//! `cc-aws-check` and `cc-aws-export` (at most every five minutes across sessions). The login
//! itself runs in [`crate::login_runner`], under the lock the daemon and `refresh` share.

use time::Duration;

use super::{BACKGROUND_LOGIN_ARG, Setup};
use crate::ctx::Ctx;
use crate::login_runner::{self, IfBusy, KeysLogin, LoginOutcome, Output};
use crate::{lock, paths};

pub use crate::login_runner::{LOGIN_TIMEOUT, LOGIN_WAIT};

/// Background logins start at most this often across all sessions.
pub const BACKGROUND_EVERY_SECS: i64 = 5 * 60;

/// Runs `autoLoginCmd` with its output going to ours (the user sees it). A second caller waits
/// for the first and re-checks.
pub fn run_foreground(ctx: &Ctx, setup: &Setup, profile: &str, say: &mut dyn FnMut(&str)) -> LoginOutcome {
    let k = KeysLogin {
        profile,
        window: Duration::ZERO,
        force: false,
        output: Output::Shown,
        if_busy: IfBusy::Wait,
        log_as: "refresh",
    };
    login_runner::renew_keys(ctx, setup.config(), &k, say)
        .unwrap_or_else(|| LoginOutcome::Failed("autoLoginCmd is not configured".into()))
}

/// Starts a detached background login when `autoLoginCmd` is set, no login is
/// running and none was started in the last five minutes by any session.
/// Returns whether one was started.
pub fn maybe_start_background(ctx: &Ctx, setup: &Setup, profile: &str) -> bool {
    if setup.config().auto_login_cmd.is_empty() {
        return false;
    }
    let (Ok(stamp), Ok(login_lock)) = (paths::autologin_stamp(&ctx.env), paths::login_lock(&ctx.env)) else {
        return false;
    };
    if lock::is_held(&login_lock) {
        return false;
    }
    super::background::spawn_engine_at_most_every(
        ctx,
        &stamp,
        BACKGROUND_EVERY_SECS,
        BACKGROUND_LOGIN_ARG,
        profile,
        "autoLoginCmd",
    )
}

/// The detached side: log in unless someone else is or the keys are fresh for the
/// `autoLoginMinutes` window. Output goes nowhere (the log records the outcome).
pub fn run_background(ctx: &Ctx) -> u8 {
    let setup = Setup::load(ctx);
    let Ok(profile) = setup.profile.as_ref() else { return 1 };
    let k = KeysLogin {
        profile,
        window: login_runner::auto_login_window(setup.config()),
        force: false,
        output: Output::Hidden,
        if_busy: IfBusy::Skip,
        log_as: "background",
    };
    match login_runner::renew_keys(ctx, setup.config(), &k, &mut |_| {}) {
        None | Some(LoginOutcome::Busy) | Some(LoginOutcome::Fresh { .. }) => 0,
        // The runner logged why.
        Some(LoginOutcome::Failed(_)) => 1,
    }
}
