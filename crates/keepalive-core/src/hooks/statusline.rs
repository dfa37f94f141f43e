//! `cc-aws-statusline` (`statusLine`): `AWS: 4h23m`, coloured by urgency,
//! optionally after another status line command's first line.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use super::Setup;
use crate::ctx::Ctx;
use crate::hook_io::{Colour, paint};
use crate::providers::{Base, exec};
use crate::{expiry, process};

/// A composed command slower than this is dropped; the timer always shows.
pub const COMPOSED_TIMEOUT: StdDuration = StdDuration::from_secs(2);

pub fn run(ctx: &Ctx, stdin: &[u8]) -> String {
    let setup = Setup::load(ctx);
    let timer = timer(ctx, &setup);
    let cmd = &setup.config().status_line_cmd;
    let mut line = if cmd.is_empty() {
        timer
    } else {
        match composed_first_line(cmd, stdin) {
            Some(first) => format!("{first} | {timer}"),
            None => timer,
        }
    };
    line.push('\n');
    line
}

/// What the timer counts down to.
enum Until {
    At(OffsetDateTime),
    Unknown,
    Missing,
    /// The `credential_process` helper failed on its last run and nothing fresh is cached.
    HelperFailed,
}

/// The moment a human step is needed (the source session's end, an MFA role's expiry); the
/// credentials' own expiry when nothing else is known to end the session.
fn until(ctx: &Ctx, setup: &Setup) -> Until {
    let Ok(chain) = &setup.chain else { return Until::Missing };
    let status = exec::status(ctx, setup.config(), chain);
    if status.missing {
        return Until::Missing;
    }
    // A helper's failure is only recorded there; without this the line would count down to
    // (or say "no expiry" for) credentials the next export cannot renew.
    if matches!(chain.base, Base::Process { .. }) && status.problem.is_some() {
        return Until::HelperFailed;
    }
    match status.step_at.or(status.creds_expire_at) {
        Some(t) => Until::At(t),
        None => Until::Unknown,
    }
}

fn timer(ctx: &Ctx, setup: &Setup) -> String {
    let colour = ctx.colour();
    if setup.profile.is_err() {
        return paint("AWS: bad profile", Colour::Red, colour);
    }
    let exp = match until(ctx, setup) {
        Until::At(t) => t,
        Until::Unknown => return "AWS: no expiry".to_string(),
        Until::Missing => return paint("AWS: no credentials", Colour::Red, colour),
        Until::HelperFailed => return paint("AWS: helper failed", Colour::Red, colour),
    };
    let left = exp - ctx.now;
    if left <= Duration::ZERO {
        paint("AWS: EXPIRED", Colour::Red, colour)
    } else if left <= Duration::minutes(setup.config().timer_warn_minutes as i64) {
        paint(&format!("AWS: {}", expiry::human(left)), Colour::Yellow, colour)
    } else {
        format!("AWS: {}", expiry::human(left))
    }
}

/// First non-empty line of the user's own status line command, given the same
/// stdin JSON; `None` when it fails, is slow or prints nothing.
fn composed_first_line(cmd: &str, stdin: &[u8]) -> Option<String> {
    let out = process::run_captured(process::shell(cmd), "statusLineCmd", stdin, COMPOSED_TIMEOUT, 64 * 1024).ok()?;
    if !out.status?.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().map(str::trim_end).find(|l| !l.trim().is_empty())?;
    Some(first.to_string())
}
