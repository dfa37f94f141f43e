//! `cc-aws-statusline` (`statusLine`): `AWS: 4h23m`, coloured by urgency,
//! optionally after another status line command's first line.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use super::Setup;
use crate::ctx::Ctx;
use crate::hook_io::{Colour, paint};
use crate::source::{self, Resolved};
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
}

fn until(ctx: &Ctx, setup: &Setup, profile: &str) -> Until {
    match source::resolve(ctx, setup.config(), profile) {
        Ok(Resolved::File(state)) => state.expires_at().map_or(Until::Unknown, Until::At),
        // The SSO session lasts as long as the access token, extended by a
        // refresh token that can still be used; role credentials are renewed
        // from it silently.
        Ok(Resolved::Sso(p)) => match crate::providers::sso::session_status(ctx, setup.config(), &p) {
            Ok(s) if s.token_found => Until::At(s.login_needed_at()),
            _ => Until::Missing,
        },
        Ok(Resolved::Process { command }) => {
            crate::providers::process::cached_expiry(ctx, profile, &command).map_or(Until::Unknown, Until::At)
        }
        Err(_) => Until::Missing,
    }
}

fn timer(ctx: &Ctx, setup: &Setup) -> String {
    let colour = ctx.colour();
    let Ok(profile) = &setup.profile else {
        return paint("AWS: bad profile", Colour::Red, colour);
    };
    let exp = match until(ctx, setup, profile) {
        Until::At(t) => t,
        Until::Unknown => return "AWS: no expiry".to_string(),
        Until::Missing => return paint("AWS: no credentials", Colour::Red, colour),
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
