//! `cc-aws-refresh` (`awsAuthRefresh`): Claude Code shows its output to the user. Succeeds at
//! once when fresh credentials can be made silently (refreshed SSO or `aws login` tokens,
//! assumed roles; cached ones that look fresh are issued anew, since Claude Code asks after AWS
//! refused a call); a browser login (or `autoLoginCmd` for keys a login tool writes) runs only
//! when the chain's source session is over, and an MFA role is left to `cc-aws-keepalive
//! refresh` in a terminal.

use time::OffsetDateTime;

use super::autologin;
use super::{Setup, login_hint};
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::login_runner::{self, IfBusy, Login, LoginOutcome, Output, When};
use crate::providers::exec::{self, ExecError, HumanStep};
use crate::providers::{Base, Chain};
use crate::{expiry, fsutil, next_step, paths};

/// How often per profile fresh-looking credentials are replaced (see [`replace_refused`]): just
/// under Claude Code's own spacing of `awsAuthRefresh` runs (30 s), so each of its runs after a
/// refusal may bring new credentials, while sessions refused at the same moment share one.
pub const REPLACE_EVERY_SECS: i64 = 25;

/// Runs the refresh, sending progress lines to `say`. Returns the exit code.
pub fn run(ctx: &Ctx, say: &mut dyn FnMut(&str)) -> u8 {
    let setup = Setup::load(ctx);
    for p in setup.loaded.problems() {
        say(&format!("warning: {p}"));
    }
    if let Err(e) = &setup.profile {
        say(&format!("cc-aws-refresh: {e}"));
        return 1;
    }
    let profile = setup.name().to_string();
    let chain = match &setup.chain {
        Ok(c) => c.clone(),
        // Nothing there yet: a login tool may be what writes the keys.
        Err(e) if e.is_missing() && !setup.config().auto_login_cmd.is_empty() => {
            return run_auto_login(ctx, &setup, &profile, say);
        }
        Err(e) if e.is_missing() => {
            say(&format!(
                "cc-aws-refresh: no AWS credentials for profile \"{profile}\": {e}. To continue, {}.",
                login_hint(&setup)
            ));
            return 1;
        }
        Err(e) => {
            say(&format!("cc-aws-refresh: {e}"));
            return 1;
        }
    };
    if let Base::Keys(k) = &chain.base
        && keys_need_login(ctx, k)
    {
        return refresh_keys(ctx, &setup, &profile, say);
    }
    // What the caches held before: only those can be what Claude Code had refused.
    let held = exec::cached(ctx, &chain);
    let err = match exec::credentials(ctx, setup.config(), &chain) {
        Ok(c) if held.as_ref().is_some_and(|h| h.access_key_id == c.access_key_id) => {
            return replace_refused(ctx, &setup, &profile, &chain, c, say);
        }
        Ok(c) => {
            say(&ok_line(ctx, &profile, &chain, c.expiration));
            return 0;
        }
        Err(e) => e,
    };
    match err.human_step() {
        HumanStep::Login => browser_login(ctx, &setup, &chain, &err, say),
        // The message says to run `cc-aws-keepalive refresh` in a terminal.
        HumanStep::Mfa | HumanStep::None => {
            say(&format!("cc-aws-refresh: {err}"));
            1
        }
    }
}

/// Claude Code runs this hook after AWS refused a call (and before its first call when its own
/// default credential chain failed), so cached credentials that look fresh are suspect: a
/// revoked session, a deleted key, an expiry the cache has wrong. They are replaced silently
/// (never by a browser login or MFA code), at most once per profile in [`REPLACE_EVERY_SECS`].
fn replace_refused(
    ctx: &Ctx,
    setup: &Setup,
    profile: &str,
    chain: &Chain,
    cached: Credentials,
    say: &mut dyn FnMut(&str),
) -> u8 {
    let stamp = paths::replaced_stamp(&ctx.env, profile).ok();
    let last =
        stamp.as_deref().and_then(|s| fsutil::read_optional(s).ok().flatten()).and_then(|t| expiry::parse(&t).ok());
    let recent = last.is_some_and(|t| (ctx.now - t).whole_seconds().abs() < REPLACE_EVERY_SECS);
    let attempt = if recent { None } else { exec::replace(ctx, setup.config(), chain, &cached) };
    let Some(result) = attempt else {
        say(&ok_line(ctx, profile, chain, cached.expiration));
        return 0;
    };
    if let Some(s) = &stamp {
        let _ = fsutil::write_atomic(s, expiry::to_iso8601(ctx.now).as_bytes(), Some(fsutil::SECRET_FILE_MODE));
    }
    match result {
        Ok(c) => {
            say(&format!(
                "Issued new AWS credentials for profile \"{profile}\" in place of cached ones that looked valid (Claude Code asks for a refresh when AWS refuses a call)."
            ));
            say(&ok_line(ctx, profile, chain, c.expiration));
            0
        }
        Err(e) if e.human_step() == HumanStep::Login => browser_login(ctx, setup, chain, &e, say),
        // The cached ones may be fine (the check before Claude Code's first call): keep them.
        Err(e) => {
            say(&ok_line(ctx, profile, chain, cached.expiration));
            say(&format!("warning: could not issue new ones in case AWS refused these: {e}"));
            0
        }
    }
}

/// Keys from a login tool that expire within the fresh margin need that tool again.
fn keys_need_login(ctx: &Ctx, k: &crate::providers::KeysAt) -> bool {
    k.keys.creds.as_ref().and_then(|c| c.expiration).is_some_and(|t| t - ctx.now < super::fresh_margin())
}

/// Keys written by a login tool: `autoLoginCmd` when configured, else say what to run.
fn refresh_keys(ctx: &Ctx, setup: &Setup, profile: &str, say: &mut dyn FnMut(&str)) -> u8 {
    if setup.config().auto_login_cmd.is_empty() {
        say(&format!(
            "AWS credentials for profile \"{profile}\" {}. To continue, {}.",
            state_words(ctx, setup),
            login_hint(setup)
        ));
        return 1;
    }
    run_auto_login(ctx, setup, profile, say)
}

fn run_auto_login(ctx: &Ctx, setup: &Setup, profile: &str, say: &mut dyn FnMut(&str)) -> u8 {
    match autologin::run_foreground(ctx, setup, profile, say) {
        LoginOutcome::Fresh { until, .. } => {
            say(&fresh_line(ctx, profile, until, "refreshed"));
            0
        }
        LoginOutcome::Failed(why) => {
            say(&format!(
                "Automatic login for profile \"{profile}\" failed: {why}. To continue, {}.",
                login_hint(setup)
            ));
            1
        }
        LoginOutcome::Busy => 1,
    }
}

/// The source session is over: its browser login (`loginCmd`, else `aws sso login` or
/// `aws login`), then the chain again.
fn browser_login(ctx: &Ctx, setup: &Setup, chain: &Chain, err: &ExecError, say: &mut dyn FnMut(&str)) -> u8 {
    let cfg = setup.config();
    let (base_profile, what) = match &chain.base {
        Base::Sso(p) => {
            say(&format!(
                "The AWS SSO session ({}) cannot be refreshed silently: a browser login is needed.",
                p.label()
            ));
            if next_step::is_legacy(p) {
                say(&format!("Note: {}.", next_step::legacy_advice(cfg, p)));
            }
            (p.profile.clone(), "SSO login")
        }
        Base::Login(p) => {
            say(&format!("The aws login session of profile \"{}\" has ended: a browser login is needed.", p.profile));
            (p.profile.clone(), "aws login")
        }
        Base::Keys(k) if !cfg.auto_login_cmd.is_empty() => {
            return run_auto_login(ctx, setup, &k.profile.clone(), say);
        }
        _ => {
            say(&format!("cc-aws-refresh: {err}; {}.", super::step_hint(setup, HumanStep::Login)));
            return 1;
        }
    };
    let Some(command) = next_step::login_command(cfg, &chain.base) else {
        say(&format!("cc-aws-refresh: {err}; {}.", super::step_hint(setup, HumanStep::Login)));
        return 1;
    };
    let profile = setup.name().to_string();
    // The login changes the caches (and maybe the files): resolve again to judge it.
    let fresh = |_: When| {
        let again = Setup::load(ctx);
        let chain = again.chain.as_ref().ok()?;
        exec::credentials(ctx, again.config(), chain).ok().map(|c| c.expiration.unwrap_or_else(login_runner::no_expiry))
    };
    let subject = format!("profile \"{base_profile}\"");
    let login = Login {
        what,
        command: &command,
        subject: &subject,
        profile: Some(&base_profile),
        output: Output::Shown,
        timeout: login_runner::LOGIN_TIMEOUT,
        if_busy: IfBusy::Wait,
        force: false,
        log_as: "refresh",
    };
    match login_runner::run(ctx, &login, &fresh, say) {
        LoginOutcome::Fresh { until, .. } => {
            say(&format!("{what} for profile \"{profile}\" done: credentials {}.", valid_for(ctx, Some(until))));
            0
        }
        LoginOutcome::Failed(why) => {
            say(&format!(
                "{what} for profile \"{profile}\" failed: {why}. To continue, {} in another terminal.",
                super::step_hint(setup, HumanStep::Login)
            ));
            1
        }
        LoginOutcome::Busy => 1,
    }
}

fn ok_line(ctx: &Ctx, profile: &str, chain: &Chain, until: Option<OffsetDateTime>) -> String {
    match &chain.base {
        // Keys a login tool wrote: someone (another session, the user) logged in already.
        Base::Keys(_) if chain.roles.is_empty() => fresh_line(
            ctx,
            profile,
            until.unwrap_or(OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT)),
            "already valid (refreshed elsewhere)",
        ),
        Base::Sso(p) if chain.roles.is_empty() => {
            format!(
                "AWS SSO ({}) for profile \"{}\": role credentials {}.",
                p.label(),
                p.profile,
                valid_for(ctx, until)
            )
        }
        _ => format!(
            "AWS credentials for profile \"{profile}\" ({}): {}.",
            crate::providers::resolve::describe(chain),
            valid_for(ctx, until)
        ),
    }
}

fn valid_for(ctx: &Ctx, until: Option<OffsetDateTime>) -> String {
    match until {
        Some(t) if t.year() >= 9999 => "valid (no expiry recorded)".into(),
        Some(t) => format!("valid for {}", expiry::human(t - ctx.now)),
        None => "valid (no expiry)".into(),
    }
}

fn fresh_line(ctx: &Ctx, profile: &str, until: OffsetDateTime, how: &str) -> String {
    if until.year() >= 9999 {
        format!("AWS credentials for profile \"{profile}\" {how} (no expiry recorded).")
    } else {
        format!("AWS credentials for profile \"{profile}\" {how}: valid for {}.", expiry::human(until - ctx.now))
    }
}

/// "expired 5m ago", "expire in 3m", "are missing (…)".
fn state_words(ctx: &Ctx, setup: &Setup) -> String {
    match &setup.chain {
        Ok(Chain { base: Base::Keys(k), .. }) => match k.keys.creds.as_ref().and_then(|c| c.expiration) {
            Some(t) if t <= ctx.now => format!("expired {}", expiry::relative(ctx.now, t)),
            Some(t) => format!("expire {}", expiry::relative(ctx.now, t)),
            None => "are not usable".into(),
        },
        Ok(_) => "are not usable".into(),
        Err(e) => format!("are missing ({e})"),
    }
}
