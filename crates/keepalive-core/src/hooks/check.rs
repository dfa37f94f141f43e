//! `cc-aws-check` (`UserPromptSubmit` hook): never blocks the prompt, always
//! exits 0; warns through `systemMessage` when a login is needed soon.

use time::Duration;

use super::{Output, Setup, autologin, login_hint};
use crate::ctx::Ctx;
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
    let cfg = setup.config();
    let state = match crate::source::read_file(ctx, cfg, profile) {
        Ok(s) => s,
        Err(e) => return Some(format!("AWS: no credentials for profile \"{profile}\" ({e}); {}.", login_hint(setup))),
    };
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
