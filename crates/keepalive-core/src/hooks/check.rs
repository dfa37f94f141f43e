//! `cc-aws-check` (`UserPromptSubmit` hook): never blocks the prompt, always
//! exits 0; warns through `systemMessage` when a login is needed soon, and
//! starts slow work (silent SSO refresh, auto-login) detached.

use time::Duration;

use super::{Output, Setup, autologin, background, login_hint};
use crate::ctx::Ctx;
use crate::providers::sso::SsoProfile;
use crate::source::{self, FileState, Resolved};
use crate::{expiry, hook_io};

pub fn run(ctx: &Ctx, stdin: &[u8]) -> Output {
    // The input carries nothing we need today; parsing it only proves that
    // garbage is harmless.
    let _input = hook_io::parse_input(stdin);
    let setup = Setup::load(ctx);
    let mut lines: Vec<String> =
        setup.loaded.problems().into_iter().map(|p| format!("cc-aws-keepalive: {p}")).collect();
    match &setup.profile {
        Ok(profile) => {
            if let Some(msg) = assess(ctx, &setup, profile) {
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
fn assess(ctx: &Ctx, setup: &Setup, profile: &str) -> Option<String> {
    match source::resolve(ctx, setup.config(), profile) {
        Ok(Resolved::File(state)) => assess_file(ctx, setup, profile, &state),
        Ok(Resolved::Sso(p)) => assess_sso(ctx, setup, &p),
        // A credential_process is run by the export; nothing to watch here.
        Ok(Resolved::Process { .. }) => None,
        Err(e) => Some(format!("AWS: no credentials for profile \"{profile}\" ({e}); {}.", login_hint(setup))),
    }
}

fn assess_file(ctx: &Ctx, setup: &Setup, profile: &str, state: &FileState) -> Option<String> {
    let cfg = setup.config();
    let exp = state.expires_at()?;
    let left = exp - ctx.now;
    let warn = Duration::minutes(cfg.warn_minutes as i64);
    let auto = Duration::minutes(cfg.auto_login_minutes as i64);
    let started = (left <= auto || left <= Duration::ZERO) && autologin::maybe_start_background(ctx, setup, profile);
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

/// SSO: refresh silently in the background when the access token is inside
/// the refresh window; warn only when a browser login will really be needed.
fn assess_sso(ctx: &Ctx, setup: &Setup, p: &SsoProfile) -> Option<String> {
    let cfg = setup.config();
    let status = match crate::providers::sso::session_status(ctx, cfg, p) {
        Ok(s) => s,
        Err(e) => return Some(format!("AWS SSO: {e}")),
    };
    if !status.token_found {
        return Some(format!(
            "AWS SSO: not logged in for profile \"{}\" ({}); run `{}`.",
            p.profile, status.session_label, status.login_command
        ));
    }
    let window = Duration::minutes(cfg.sso_refresh_minutes as i64);
    let role_stale = status.role_credentials_expire_at.is_none_or(|t| t - ctx.now < window);
    if status.silent_refresh_possible && (status.needs_refresh(ctx.now, window) || role_stale) {
        background::maybe_start_sso(ctx, setup, &p.profile);
    }
    let end = status.login_needed_at();
    let left = end - ctx.now;
    if left > Duration::minutes(cfg.warn_minutes as i64) {
        return None;
    }
    let command = if cfg.login_cmd.is_empty() { status.login_command.clone() } else { cfg.login_cmd.clone() };
    let when = if left <= Duration::ZERO {
        "has ended".to_string()
    } else {
        format!("ends {} and cannot be extended silently", expiry::relative(ctx.now, end))
    };
    Some(format!("AWS SSO session for profile \"{}\" ({}) {when}; run `{command}`.", p.profile, status.session_label))
}
