//! `cc-aws-refresh` (`awsAuthRefresh`): Claude Code shows its output to the
//! user. Succeeds at once when fresh credentials exist already, else runs
//! `autoLoginCmd`, else tells the user what to run.

use super::autologin::{self, LoginOutcome};
use super::{Setup, login_hint};
use crate::ctx::Ctx;
use crate::expiry;

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
