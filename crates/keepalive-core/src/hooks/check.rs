//! `cc-aws-check` (`UserPromptSubmit` hook): never blocks the prompt, always exits 0; warns
//! through `systemMessage` when a login or MFA code is needed soon, and starts slow work
//! (silent refreshes, assumed roles, auto-login) detached.

use time::Duration;

use super::{Output, Setup, autologin, background, login_hint, step_hint};
use crate::ctx::Ctx;
use crate::providers::exec::{self, HumanStep};
use crate::providers::{Base, Chain, KeysAt, sso};
use crate::{expiry, hook_io};

pub fn run(ctx: &Ctx, stdin: &[u8]) -> Output {
    // The input carries nothing we need today; parsing it only proves that
    // garbage is harmless.
    let _input = hook_io::parse_input(stdin);
    let setup = Setup::load(ctx);
    let mut lines: Vec<String> =
        setup.loaded.problems().into_iter().map(|p| format!("cc-aws-keepalive: {p}")).collect();
    match &setup.profile {
        Ok(_) => {
            if let Some(msg) = assess(ctx, &setup) {
                lines.push(msg);
            }
        }
        Err(e) => lines.push(format!("cc-aws-keepalive: {e}")),
    }
    let mut out = Output::default();
    if !lines.is_empty() {
        out.stdout = hook_io::system_message(&lines.join("\n"));
        out.stdout.push('\n');
    }
    out
}

/// The warning for this prompt, if any.
fn assess(ctx: &Ctx, setup: &Setup) -> Option<String> {
    let profile = setup.name();
    let chain = match &setup.chain {
        Ok(c) => c,
        Err(e) if e.is_missing() => {
            return Some(format!("AWS: no credentials for profile \"{profile}\" ({e}); {}.", login_hint(setup)));
        }
        // A broken configuration: a login cannot help; the message names the fix.
        Err(e) => return Some(format!("AWS: profile \"{profile}\": {e}")),
    };
    let window = Duration::minutes(setup.config().sso_refresh_minutes as i64);
    let status = exec::status(ctx, setup.config(), chain);
    if status.step == HumanStep::Mfa
        && let Some(end) = status.step_at
        && end - ctx.now <= Duration::minutes(setup.config().warn_minutes as i64)
    {
        let when = if end <= ctx.now { "now".to_string() } else { expiry::relative(ctx.now, end) };
        return Some(format!(
            "AWS: profile \"{profile}\" ({}) needs an MFA code {when}; {}.",
            status.description,
            step_hint(setup, HumanStep::Mfa)
        ));
    }
    // Anything cached inside the refresh window is renewed detached, before the export needs it.
    let stale = status.creds_expire_at.is_none_or(|t| t - ctx.now < window);
    let renewable = !matches!(chain.base, Base::Keys(_) | Base::Env(_)) || !chain.roles.is_empty();
    match &chain.base {
        Base::Keys(k) => {
            if renewable && stale {
                background::maybe_start_renew(ctx, setup, profile);
            }
            assess_keys(ctx, setup, k)
        }
        Base::Sso(p) => assess_sso(ctx, setup, chain, p, stale),
        _ => {
            if stale {
                background::maybe_start_renew(ctx, setup, profile);
            }
            if let Some(problem) = &status.problem {
                return Some(format!("AWS: profile \"{profile}\" ({}): {problem}.", status.description));
            }
            let end = status.step_at?;
            let left = end - ctx.now;
            if left > Duration::minutes(setup.config().warn_minutes as i64) {
                return None;
            }
            let what = if status.step == HumanStep::Mfa { "an MFA code" } else { "a login" };
            let when = if left <= Duration::ZERO {
                format!("needs {what} now")
            } else {
                format!("needs {what} {}", expiry::relative(ctx.now, end))
            };
            Some(format!(
                "AWS: profile \"{profile}\" ({}) {when}; {}.",
                status.description,
                step_hint(setup, status.step)
            ))
        }
    }
}

/// Keys a login tool wrote: `autoLoginCmd` ahead of expiry, a warning when it is near.
fn assess_keys(ctx: &Ctx, setup: &Setup, k: &KeysAt) -> Option<String> {
    let cfg = setup.config();
    let exp = k.keys.creds.as_ref().and_then(|c| c.expiration)?;
    let profile = k.profile.as_str();
    let left = exp - ctx.now;
    let warn = Duration::minutes(cfg.warn_minutes as i64);
    let auto = Duration::minutes(cfg.auto_login_minutes as i64);
    let started =
        (left <= auto || left <= Duration::ZERO) && autologin::maybe_start_background(ctx, setup, setup.name());
    if left > warn && !started {
        return None;
    }
    let when = if left <= Duration::ZERO {
        format!("AWS credentials for profile \"{profile}\" expired {}", expiry::relative(ctx.now, exp))
    } else {
        format!("AWS credentials for profile \"{profile}\" expire {}", expiry::relative(ctx.now, exp))
    };
    if started {
        Some(format!("{when}; started autoLoginCmd in the background."))
    } else {
        Some(format!("{when}; {}.", login_hint(setup)))
    }
}

/// SSO (directly or as the source of roles): refresh silently in the background when the
/// access token or the credentials made from it are inside the refresh window; warn only when
/// a browser login will really be needed.
fn assess_sso(ctx: &Ctx, setup: &Setup, chain: &Chain, p: &sso::SsoProfile, stale: bool) -> Option<String> {
    let cfg = setup.config();
    let status = match sso::session_status(ctx, cfg, p) {
        Ok(s) => s,
        Err(e) => return Some(format!("AWS SSO: {e}")),
    };
    // A legacy profile's real fix is converting it; a login only buys another unrefreshable token.
    let todo = step_hint(setup, HumanStep::Login);
    if !status.token_found {
        return Some(format!(
            "AWS SSO: not logged in for profile \"{}\" ({}); {todo}.",
            p.profile, status.session_label
        ));
    }
    let window = Duration::minutes(cfg.sso_refresh_minutes as i64);
    let role_stale = status.role_credentials_expire_at.is_none_or(|t| t - ctx.now < window);
    let chain_stale = !chain.roles.is_empty() && stale;
    if status.silent_refresh_possible && (status.needs_refresh(ctx.now, window) || role_stale || chain_stale) {
        background::maybe_start_renew(ctx, setup, setup.name());
    }
    let end = status.login_needed_at();
    let left = end - ctx.now;
    if left > Duration::minutes(cfg.warn_minutes as i64) {
        return None;
    }
    let when = if left <= Duration::ZERO {
        "has ended".to_string()
    } else {
        format!("ends {} and cannot be extended silently", expiry::relative(ctx.now, end))
    };
    Some(format!("AWS SSO session for profile \"{}\" ({}) {when}; {todo}.", p.profile, status.session_label))
}
