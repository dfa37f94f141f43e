//! `cc-aws-keepalive session-start` (the plugin's `SessionStart` hook). Fast, never fails the
//! session: always exit 0, at most one `{"systemMessage": …}` on stdout.
//!
//! 1. Keeps the stable binaries current: when `<data>/current/bin` is missing a binary or holds
//!    an older version than the plugin's, the plugin's binaries are copied there (the
//!    installer's binary step only; settings.json is edited only by `setup`, which the user
//!    runs). The plugin's prompt hook runs `current/bin/cc-aws-check`, so this comes first.
//! 2. When Claude Code's settings do not run our export and refresh commands (or run copies
//!    that no longer exist), names the exact setup command to run.
//! 3. When the AWS session ends within the working day (the moment a browser login or MFA code
//!    is needed), says when, and what to run then.
//!
//! Every message is one line; all of them go into the one `systemMessage`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime, UtcOffset};

use super::{Output, Setup, step_hint};
use crate::claude_settings::{self as cs, EXPORT_BIN, EXPORT_KEY, REFRESH_BIN, REFRESH_KEY};
use crate::ctx::Ctx;
use crate::install::{self, Check, Placed, Source};
use crate::log::{self, Level};
use crate::providers::Base;
use crate::providers::exec::{self, HumanStep};
use crate::{expiry, hook_io, paths};

/// A session end further away than this is not news at the start of a session: the check hook
/// warns before it anyway.
pub const WORKING_DAY: Duration = Duration::hours(10);
/// How long a start waits for another session copying the same binaries; the copy of a few
/// megabytes takes milliseconds.
const LOCK_WAIT: StdDuration = StdDuration::from_secs(10);

/// `source`: the plugin's own binaries (the directory of the running `cc-aws-keepalive` and its
/// version), `None` when that directory is unknown. `path_var`: the hook's PATH, to say
/// `cc-aws-keepalive setup` when that finds the stable copy.
pub fn run(ctx: &Ctx, stdin: &[u8], source: Option<&Source>, path_var: Option<&OsStr>) -> Output {
    let input = hook_io::parse_input(stdin);
    let mut lines = Vec::new();
    if let Some(src) = source {
        lines.extend(ensure_binaries(ctx, src));
    }
    let cwd = input.cwd.as_deref().map(Path::new);
    if let Some(problem) = wiring_problem(ctx, cwd) {
        let cmd = setup_command(ctx, source, path_var);
        lines.push(format!("cc-aws-keepalive: {problem}; run `{cmd}` once in a terminal, then restart Claude Code."));
    }
    lines.extend(session_end(ctx, local_offset));
    let mut out = Output::default();
    if !lines.is_empty() {
        out.stdout = hook_io::system_message(&lines.join("\n"));
        out.stdout.push('\n');
    }
    out
}

/// Step 1; a message only when the copy failed (the prompt hook cannot run then).
fn ensure_binaries(ctx: &Ctx, src: &Source) -> Option<String> {
    match install::bins::place(ctx, src, Check::Version, false, LOCK_WAIT) {
        Ok(Placed::Installed { name, previous }) => {
            let was = previous.map(|p| format!(" (was {p})")).unwrap_or_default();
            log::write(
                ctx,
                Level::Info,
                "start",
                &format!("installed binaries {name}{was} from {}", src.bin_dir.display()),
            );
            None
        }
        Ok(_) => None,
        Err(e) => {
            log::write(ctx, Level::Error, "start", &format!("cannot install the binaries: {e}"));
            Some(format!("cc-aws-keepalive: cannot install its binaries: {e}"))
        }
    }
}

/// Why Claude Code would not run our commands, `None` when it would.
///
/// The value that counts is the one Claude Code uses: the project's `settings.local.json`,
/// then its `settings.json`, then the user's settings.json. A path into Claude Code's plugin
/// cache counts as a problem too: `claude plugin update` leaves that version directory to be
/// deleted 14 days later.
pub fn wiring_problem(ctx: &Ctx, cwd: Option<&Path>) -> Option<String> {
    let user = paths::claude_settings_file(&ctx.env).ok();
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(dir) = cwd {
        files.push(dir.join(".claude/settings.local.json"));
        files.push(dir.join(".claude/settings.json"));
    }
    files.extend(user.clone());
    let docs: Vec<(PathBuf, serde_json::Value)> = files
        .into_iter()
        .filter_map(|f| {
            let text = cs::read_settings(&f).ok().flatten()?;
            let doc = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
            Some((f, doc))
        })
        .collect();
    let plugin_cache = user.as_deref().and_then(Path::parent).map(|d| d.join("plugins/cache"));
    let user_shown = user.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "settings.json".into());
    for (key, bin) in [(EXPORT_KEY, EXPORT_BIN), (REFRESH_KEY, REFRESH_BIN)] {
        let found = docs.iter().find_map(|(f, d)| d.get(key).map(|v| (f, v)));
        let shown = found.map(|(f, _)| f.display().to_string()).unwrap_or_else(|| user_shown.clone());
        let value = found.map(|(_, v)| v);
        let Some(cmd) = value.and_then(|v| v.as_str()).filter(|c| cs::references(c, bin)) else {
            let why = if value.is_some() { "runs another command" } else { "is not set" };
            return Some(format!(
                "Claude Code does not get its AWS credentials from cc-aws-keepalive yet ({key} in {shown} {why})"
            ));
        };
        let Some(path) = cs::bin_path_in(cmd, bin).map(|p| paths::expand(&ctx.env, &p)).filter(|p| p.is_absolute())
        else {
            continue;
        };
        if !path.is_file() {
            return Some(format!("{key} in {shown} runs {}, which no longer exists", path.display()));
        }
        if plugin_cache.as_ref().is_some_and(|c| path.starts_with(c)) {
            return Some(format!(
                "{key} in {shown} runs {}, inside Claude Code's plugin cache, which a plugin update deletes",
                path.display()
            ));
        }
    }
    None
}

/// The command that wires settings.json: `cc-aws-keepalive setup` when that name finds the
/// stable copy on PATH, else the stable copy by its full path (the plugin's own binary when
/// the stable copy could not be made).
fn setup_command(ctx: &Ctx, source: Option<&Source>, path_var: Option<&OsStr>) -> String {
    let name = install::exe(install::CLI_BIN);
    let stable = paths::stable_bin_dir(&ctx.env).ok().map(|d| d.join(&name)).filter(|p| p.is_file());
    let on_path = path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok());
    if let (Some(found), Some(s)) = (&on_path, &stable)
        && s.canonicalize().ok().as_ref() == Some(found)
    {
        return format!("{} setup", install::CLI_BIN);
    }
    match stable.or_else(|| source.map(|s| s.bin_dir.join(&name))) {
        Some(p) => format!("{} setup", cs::shell_word(&p.to_string_lossy())),
        None => format!("{} setup", install::CLI_BIN),
    }
}

/// The local offset at `t`, `None` when the system cannot tell.
fn local_offset(t: OffsetDateTime) -> Option<UtcOffset> {
    UtcOffset::local_offset_at(t).ok()
}

/// Step 3: when the session ends within [`WORKING_DAY`], and what to run then. `offset`
/// gives the local time zone's offset at an instant (a parameter for tests).
fn session_end(ctx: &Ctx, offset: impl Fn(OffsetDateTime) -> Option<UtcOffset>) -> Option<String> {
    let setup = Setup::load(ctx);
    // A broken config or profile is the prompt hook's to report, with the details.
    let profile = setup.profile.as_deref().ok()?;
    let chain = setup.chain.as_ref().ok()?;
    let status = exec::status(ctx, setup.config(), chain);
    if status.step == HumanStep::None {
        return None;
    }
    let hint = step_hint(&setup, status.step);
    if status.missing {
        return Some(format!("AWS: {}.", status.problem.as_deref().unwrap_or("not logged in")));
    }
    let at = status.step_at?;
    if at - ctx.now > WORKING_DAY {
        return None;
    }
    // (what ends, its verb now, its verb once past)
    let (what, ends, ended) = match (&chain.base, status.step) {
        (_, HumanStep::Mfa) => (format!("the MFA session of profile \"{profile}\""), "ends", "has ended"),
        (Base::Sso(_), _) => (format!("your SSO session for profile \"{profile}\""), "ends", "has ended"),
        (Base::Login(_), _) => (format!("your aws login session for profile \"{profile}\""), "ends", "has ended"),
        _ => (format!("the AWS credentials of profile \"{profile}\""), "expire", "have expired"),
    };
    if at <= ctx.now {
        return Some(format!("AWS: {what} {ended}; {hint}."));
    }
    let when = clock(ctx.now, at, &offset);
    Some(format!("AWS: {what} {ends} {when} ({}); then {hint}.", expiry::relative(ctx.now, at)))
}

/// `at 17:40` in local time, `tomorrow at 02:10` past midnight; in UTC, said so, when the local
/// offset is unknown.
fn clock(now: OffsetDateTime, at: OffsetDateTime, offset: &impl Fn(OffsetDateTime) -> Option<UtcOffset>) -> String {
    let (local_at, zone) = match offset(at) {
        Some(o) => (at.to_offset(o), ""),
        None => (at.to_offset(UtcOffset::UTC), " UTC"),
    };
    let local_now = now.to_offset(local_at.offset());
    let day = match (local_at.date() - local_now.date()).whole_days() {
        0 => "",
        1 => "tomorrow ",
        _ => "on a later day ",
    };
    format!("{day}at {:02}:{:02}{zone}", local_at.hour(), local_at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn clock_is_local_and_says_tomorrow() {
        let now = datetime!(2026-11-22 12:00:00 UTC);
        let cet = |_| Some(offset!(+1));
        assert_eq!(clock(now, datetime!(2026-11-22 16:40:00 UTC), &cet), "at 17:40");
        assert_eq!(clock(now, datetime!(2026-11-22 23:10:00 UTC), &cet), "tomorrow at 00:10");
        assert_eq!(clock(now, datetime!(2026-11-22 16:40:00 UTC), &|_| None), "at 16:40 UTC");
        let pst = |_| Some(offset!(-8));
        assert_eq!(clock(now, datetime!(2026-11-22 20:05:00 UTC), &pst), "at 12:05");
    }
}
