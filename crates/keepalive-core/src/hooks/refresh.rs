//! `cc-aws-refresh` (`awsAuthRefresh`): Claude Code shows its output to the
//! user. Succeeds at once when fresh credentials exist already; SSO: refreshes
//! silently, and opens a browser login only when the refresh token is dead;
//! credentials file: runs `autoLoginCmd`, else tells the user what to run.

use super::autologin::{self, LoginOutcome};
use super::{Setup, login_hint};
use crate::ctx::Ctx;
use crate::expiry;
use crate::providers::sso::SsoProfile;
use crate::source::{self, Resolved};

/// Runs the refresh, sending progress lines to `say`. Returns the exit code.
pub fn run(ctx: &Ctx, say: &mut dyn FnMut(&str)) -> u8 {
    let setup = Setup::load(ctx);
    for p in setup.loaded.problems() {
        say(&format!("warning: {p}"));
    }
    let profile = match &setup.profile {
        Ok(p) => p.clone(),
        Err(e) => {
            say(&format!("cc-aws-refresh: {e}"));
            return 1;
        }
    };
    match source::resolve(ctx, setup.config(), &profile) {
        Ok(Resolved::Sso(p)) => return refresh_sso(ctx, &setup, &p, say),
        Ok(Resolved::Process { command }) => {
            return match crate::providers::process::credentials(ctx, &profile, &command) {
                Ok(c) => {
                    say(&format!(
                        "AWS credentials for profile \"{profile}\" from credential_process: {}.",
                        valid_for(ctx, c.expiration)
                    ));
                    0
                }
                Err(e) => {
                    say(&format!("cc-aws-refresh: {e}"));
                    1
                }
            };
        }
        // A typo in AWS_CONFIG_FILE is what to fix, not a missing login.
        Err(e @ source::SourceError::ConfigFileMissing { .. }) if setup.config().auto_login_cmd.is_empty() => {
            say(&format!("cc-aws-refresh: {e}"));
            return 1;
        }
        Ok(Resolved::File(_)) | Err(_) => {}
    }
    if let Some(t) = autologin::fresh_until(ctx, &setup, &profile) {
        say(&fresh_line(ctx, &profile, t, "already valid (refreshed elsewhere)"));
        return 0;
    }
    if setup.config().auto_login_cmd.is_empty() {
        say(&format!(
            "AWS credentials for profile \"{profile}\" {}. To continue, {}.",
            state_words(ctx, &setup, &profile),
            login_hint(&setup)
        ));
        return 1;
    }
    match autologin::run_foreground(ctx, &setup, &profile, say) {
        LoginOutcome::Fresh(t) => {
            say(&fresh_line(ctx, &profile, t, "refreshed"));
            0
        }
        LoginOutcome::Failed(why) => {
            say(&format!(
                "Automatic login for profile \"{profile}\" failed: {why}. To continue, {}.",
                login_hint(&setup)
            ));
            1
        }
    }
}

/// Silent path first (token refresh + role credentials); a browser login
/// (`loginCmd`, else `aws sso login`) only when the refresh token is dead.
fn refresh_sso(ctx: &Ctx, setup: &Setup, p: &SsoProfile, say: &mut dyn FnMut(&str)) -> u8 {
    let cfg = setup.config();
    let err = match crate::providers::sso::role_credentials(ctx, cfg, p) {
        Ok(c) => {
            say(&format!(
                "AWS SSO ({}) for profile \"{}\": role credentials {}.",
                p.label(),
                p.profile,
                valid_for(ctx, c.expiration)
            ));
            return 0;
        }
        Err(e) => e,
    };
    if !err.needs_login() {
        say(&format!("cc-aws-refresh: {err}"));
        return 1;
    }
    let command =
        if cfg.login_cmd.is_empty() { crate::providers::sso::login_command(p) } else { cfg.login_cmd.clone() };
    say(&format!("The AWS SSO session ({}) cannot be refreshed silently: a browser login is needed.", p.label()));
    let fresh = || crate::providers::sso::role_credentials(ctx, cfg, p).ok().map(|c| c.expiration.unwrap_or(ctx.now));
    match autologin::run_login(ctx, &p.profile, &command, "SSO login", &fresh, say) {
        LoginOutcome::Fresh(t) => {
            say(&format!(
                "AWS SSO login for profile \"{}\" done: role credentials {}.",
                p.profile,
                valid_for(ctx, Some(t))
            ));
            0
        }
        LoginOutcome::Failed(why) => {
            say(&format!(
                "AWS SSO login for profile \"{}\" failed: {why}. Run `{command}` in another terminal.",
                p.profile
            ));
            1
        }
    }
}

fn valid_for(ctx: &Ctx, until: Option<time::OffsetDateTime>) -> String {
    match until {
        Some(t) => format!("valid for {}", expiry::human(t - ctx.now)),
        None => "valid (no expiry)".into(),
    }
}

fn fresh_line(ctx: &Ctx, profile: &str, until: time::OffsetDateTime, how: &str) -> String {
    if until.year() >= 9999 {
        format!("AWS credentials for profile \"{profile}\" {how} (no expiry recorded).")
    } else {
        format!("AWS credentials for profile \"{profile}\" {how}: valid for {}.", expiry::human(until - ctx.now))
    }
}

/// "expired 5m ago", "expire in 3m", "are missing (…)".
fn state_words(ctx: &Ctx, setup: &Setup, profile: &str) -> String {
    match crate::source::read_file(ctx, setup.config(), profile) {
        Ok(s) => match s.expires_at() {
            Some(t) if t <= ctx.now => format!("expired {}", expiry::relative(ctx.now, t)),
            Some(t) => format!("expire {}", expiry::relative(ctx.now, t)),
            None => "are not usable".into(),
        },
        Err(e) => format!("are missing ({e})"),
    }
}
