//! The silent renewal that `cc-aws-check` and `cc-aws-export` start detached (SSO and
//! `aws login` tokens, assumed roles), so a prompt never waits on the network.

use std::path::Path;
use std::time::Duration as StdDuration;

use super::{Setup, engine, step_hint};
use crate::ctx::Ctx;
use crate::env::vars;
use crate::log::{self, Level};
use crate::providers::exec::{self, HumanStep};
use crate::providers::{Base, resolve};
use crate::{expiry, fsutil, lock};

/// The hidden first argument of the detached engine process (see [`super::engine`]).
pub const BACKGROUND_RENEW_ARG: &str = "__background-renew";

/// Background renewals start at most this often per profile: a network
/// outage must not spawn one process per prompt.
pub const RENEW_EVERY_SECS: i64 = 60;

/// Starts a detached silent renewal of the profile's chain unless one started in
/// the last minute. Returns whether one was started.
pub fn maybe_start_renew(ctx: &Ctx, _setup: &Setup, profile: &str) -> bool {
    let Ok(stamp) = crate::paths::renew_stamp(&ctx.env, profile) else { return false };
    spawn_engine_at_most_every(ctx, &stamp, RENEW_EVERY_SECS, BACKGROUND_RENEW_ARG, profile, "the silent refresh")
}

/// Starts the engine detached with `arg` for `profile` (`what` names it in the log), unless
/// the `stamp` file says any session did so in the last `every_secs`.
/// The stamp is read and written under its own lock, so two prompts at the
/// same moment start one child.
pub fn spawn_engine_at_most_every(
    ctx: &Ctx,
    stamp: &Path,
    every_secs: i64,
    arg: &str,
    profile: &str,
    what: &str,
) -> bool {
    let Ok(Some(_guard)) = lock::lock_with_timeout(&stamp.with_extension("lock"), StdDuration::from_millis(200)) else {
        return false;
    };
    let last = fsutil::read_optional(stamp).ok().flatten().and_then(|s| expiry::parse(&s).ok());
    if let Some(last) = last
        && (ctx.now - last).whole_seconds().abs() < every_secs
    {
        return false;
    }
    if let Err(e) = engine::exe() {
        log::write(ctx, Level::Error, "hook", &format!("cannot start {what} for profile {profile}: {e}"));
        return false;
    }
    if fsutil::write_atomic(stamp, expiry::to_iso8601(ctx.now).as_bytes(), Some(0o600)).is_err() {
        return false;
    }
    match engine::spawn_detached(arg, &[(vars::CC_KEEPALIVE_PROFILE, profile)], what) {
        Ok(()) => {
            log::write(ctx, Level::Info, "hook", &format!("started {what} for profile {profile}, detached"));
            true
        }
        Err(e) => {
            log::write(ctx, Level::Error, "hook", &format!("cannot start {what} for profile {profile}: {e}"));
            false
        }
    }
}

/// The detached side: renew whatever in the chain is inside the refresh window (SSO or
/// `aws login` token, role credentials), so the next export finds it cached.
pub fn run_renew(ctx: &Ctx) -> u8 {
    let setup = Setup::load(ctx);
    let Ok(profile) = setup.profile.as_ref() else { return 1 };
    let Ok(chain) = &setup.chain else { return 0 };
    let window = time::Duration::minutes(setup.config().sso_refresh_minutes as i64);
    match exec::renew(ctx, setup.config(), chain, window, false, &mut |_| None) {
        Ok(c) => {
            let until = c.expiration.map(expiry::to_iso8601).unwrap_or_else(|| "no expiry".into());
            let what = if chain.roles.is_empty() && !matches!(chain.base, Base::Sso(_)) { "" } else { "role " };
            log::write(
                ctx,
                Level::Info,
                "background",
                &format!(
                    "profile {profile} ({}): {what}credentials cached, valid until {until}",
                    resolve::describe(chain)
                ),
            );
            0
        }
        Err(e) => {
            log::write(ctx, Level::Error, "background", &format!("profile {profile}: silent refresh failed: {e}"));
            if e.human_step() == HumanStep::Login
                && let Base::Sso(p) = &chain.base
            {
                notify_login_needed_once(ctx, &setup, p);
            }
            1
        }
    }
}

/// Tells the user (desktop notification) that a browser login is needed, once
/// per session end: the stamp records which token expiry we notified about.
fn notify_login_needed_once(ctx: &Ctx, setup: &Setup, p: &crate::providers::sso::SsoProfile) {
    let Ok(status) = crate::providers::sso::session_status(ctx, setup.config(), p) else { return };
    let Ok(stamp) = crate::paths::login_notified_marker(&ctx.env, &p.profile) else { return };
    let key = status.access_token_expires_at.map(expiry::to_iso8601).unwrap_or_else(|| "none".into());
    if fsutil::read_optional(&stamp).ok().flatten().as_deref() == Some(key.as_str()) {
        return;
    }
    let _ = fsutil::write_atomic(&stamp, key.as_bytes(), Some(0o600));
    let n = crate::notify::Notification {
        kind: crate::notify::Kind::LoginNeeded,
        title: "AWS login needed".into(),
        body: format!("{}: {}", status.session_label, step_hint(setup, HumanStep::Login)),
    };
    crate::notify::send(ctx, setup.config().notify, &n);
}
