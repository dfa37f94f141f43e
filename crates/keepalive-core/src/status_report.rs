//! `cc-aws-keepalive status`: every SSO session and hook profile with the time
//! each credential has left, and the daemon's state. Read from the caches
//! only (no network), rendered as an aligned table or JSON. Never a secret:
//! only names, times and booleans are collected.
//!
//! Scale: the AWS files and config.json are read once per report, whatever the number of
//! sessions; the table fits the width it is given (long lists are shortened, cells cut,
//! notes wrapped), JSON has everything.

use std::time::Duration as StdDuration;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::ctx::Ctx;
use crate::daemon::{self, DaemonState, Discovery, Settings};
use crate::hook_io::{Colour, paint};
use crate::providers::exec::{self, HumanStep};
use crate::providers::resolve::ResolveError;
use crate::providers::sso;
use crate::providers::{Base, Chain};
use crate::{expiry, next_step, text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub name: String,
    pub profiles: Vec<String>,
    pub legacy: bool,
    pub sso_region: String,
    pub token_found: bool,
    pub access_token_expires_at: Option<OffsetDateTime>,
    pub refresh_token_present: bool,
    pub registration_expires_at: Option<OffsetDateTime>,
    pub silent_refresh_possible: bool,
    pub silent_refresh_until: Option<OffsetDateTime>,
    /// When a browser login becomes unavoidable, and why.
    pub login_needed_at: Option<OffsetDateTime>,
    pub end_reason: Option<String>,
    pub login_command: String,
    /// What to do when the login is due: run the command, or (legacy profile) convert it.
    pub next_step: String,
    /// The token cache could not be read.
    pub error: Option<String>,
}

/// Where a hook profile's chain starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    Sso { session: String },
    CredentialsFile { field: Option<String> },
    ConfigKeys,
    Environment,
    Login,
    CredentialProcess,
    WebIdentity,
    Unknown,
}

impl ProfileSource {
    fn name(&self) -> &'static str {
        match self {
            ProfileSource::Sso { .. } => "sso",
            ProfileSource::CredentialsFile { .. } => "credentials-file",
            ProfileSource::ConfigKeys => "config-file",
            ProfileSource::Environment => "environment",
            ProfileSource::Login => "aws-login",
            ProfileSource::CredentialProcess => "credential_process",
            ProfileSource::WebIdentity => "web-identity",
            ProfileSource::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub name: String,
    pub source: ProfileSource,
    /// `bedrock ← role ← dev (sso-session corp)`; `None` when the profile does not resolve.
    pub chain: Option<String>,
    /// How many roles are assumed on top of the source.
    pub roles: usize,
    /// When the credentials the export hands out expire (cached).
    pub expires_at: Option<OffsetDateTime>,
    /// When a browser login or an MFA code will be needed: the end of the source session.
    pub step_at: Option<OffsetDateTime>,
    /// "login" or "mfa" for `step_at`.
    pub step: Option<&'static str>,
    /// What to run for that step, when a command is known ("run `aws login --profile x`").
    pub next_step: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonInfo {
    pub running: bool,
    pub state: Option<DaemonState>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub now: OffsetDateTime,
    pub interval: StdDuration,
    pub threshold: Duration,
    pub sessions: Vec<SessionRow>,
    pub profiles: Vec<ProfileRow>,
    pub daemon: DaemonInfo,
    pub problems: Vec<String>,
}

/// Collects the report (no network), reading each file once.
pub fn collect(ctx: &Ctx) -> Report {
    let loaded = crate::config::load(&ctx.env);
    let config: &Config = &loaded.config;
    let (settings, warnings): (Settings, Vec<String>) = daemon::settings(&ctx.env, config);
    let mut problems: Vec<String> = loaded.problems().into_iter().chain(warnings).collect();
    if let Err(e) = crate::config::resolve_profile(&ctx.env, config) {
        problems.push(e.to_string());
    }
    let found = Discovery::read(ctx, config);
    problems.extend(found.problems.iter().cloned());
    let state = daemon::read_state(&ctx.env);
    let sessions = found
        .targets
        .iter()
        .map(|t| session_row(ctx, config, &settings, t, state.as_ref().and_then(|s| s.sessions.get(&t.name))))
        .collect();
    let profiles = found.chains.into_iter().map(|(p, chain)| profile_row(ctx, config, &p, chain)).collect();
    Report {
        now: ctx.now,
        interval: settings.interval,
        threshold: settings.threshold,
        sessions,
        profiles,
        daemon: DaemonInfo { running: daemon::running(&ctx.env), state },
        problems,
    }
}

fn session_row(
    ctx: &Ctx,
    config: &Config,
    settings: &Settings,
    t: &daemon::Target,
    memo: Option<&daemon::SessionMemo>,
) -> SessionRow {
    let login_command = next_step::sso_login_command(config, &t.profile);
    let mut row = SessionRow {
        name: t.name.clone(),
        profiles: t.profiles.clone(),
        legacy: t.is_legacy(),
        sso_region: t.profile.sso_region.clone(),
        token_found: false,
        access_token_expires_at: None,
        refresh_token_present: false,
        registration_expires_at: None,
        silent_refresh_possible: false,
        silent_refresh_until: None,
        login_needed_at: None,
        end_reason: None,
        next_step: if t.is_legacy() {
            next_step::legacy_advice(config, &t.profile)
        } else {
            format!("run `{login_command}`")
        },
        login_command,
        error: None,
    };
    match sso::session_status(ctx, config, &t.profile) {
        Ok(st) => {
            let (mut end, mut reason) = daemon::session_end(&st, None, settings.threshold, ctx.now);
            // The daemon may know better (failing refreshes, short tokens).
            if let Some(known) = memo.and_then(|m| m.login_needed_at)
                && known < end
                && known > ctx.now
            {
                end = known;
                reason = memo.and_then(|m| m.end_reason.clone()).unwrap_or(reason);
            }
            row.token_found = st.token_found;
            row.access_token_expires_at = st.access_token_expires_at;
            row.refresh_token_present = st.refresh_token_present;
            row.registration_expires_at = st.registration_expires_at;
            row.silent_refresh_possible = st.silent_refresh_possible;
            row.silent_refresh_until = st.silent_refresh_until();
            row.login_needed_at = Some(end);
            row.end_reason = Some(reason);
        }
        Err(e) => row.error = Some(e.to_string()),
    }
    row
}

fn profile_row(ctx: &Ctx, config: &Config, name: &str, chain: Result<Chain, ResolveError>) -> ProfileRow {
    let mut row = ProfileRow {
        name: name.to_string(),
        source: ProfileSource::Unknown,
        chain: None,
        roles: 0,
        expires_at: None,
        step_at: None,
        step: None,
        next_step: None,
        error: None,
    };
    let chain = match chain {
        Ok(c) => c,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    row.source = match &chain.base {
        Base::Sso(p) => {
            ProfileSource::Sso { session: p.session.clone().unwrap_or_else(|| format!("profile {}", p.profile)) }
        }
        Base::Keys(k) if k.path.file_name().is_some_and(|n| n == "config") && k.keys.expiry_field.is_none() => {
            ProfileSource::ConfigKeys
        }
        Base::Keys(k) => ProfileSource::CredentialsFile { field: k.keys.expiry_field.clone() },
        Base::Env(_) => ProfileSource::Environment,
        Base::Login(_) => ProfileSource::Login,
        Base::Process { .. } => ProfileSource::CredentialProcess,
        Base::WebIdentity(_) => ProfileSource::WebIdentity,
    };
    let st = exec::status(ctx, config, &chain);
    row.chain = Some(st.description);
    row.roles = chain.roles.len();
    row.expires_at = st.creds_expire_at;
    row.step_at = st.step_at;
    row.step = match st.step {
        HumanStep::Login => Some("login"),
        HumanStep::Mfa => Some("mfa"),
        HumanStep::None => None,
    };
    if row.step.is_some() {
        row.next_step = next_step::known(config, &chain, st.step);
    }
    row.error = st.problem;
    row
}

fn iso(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(expiry::to_iso8601(t)))
}

fn secs_left(now: OffsetDateTime, t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| json!((t - now).whole_seconds()))
}

/// The report as JSON (stable keys, camelCase, times in RFC 3339 UTC).
pub fn to_json(r: &Report) -> Value {
    let now = r.now;
    let sessions: Vec<Value> = r
        .sessions
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "profiles": s.profiles,
                "legacy": s.legacy,
                "ssoRegion": s.sso_region,
                "tokenFound": s.token_found,
                "accessTokenExpiresAt": iso(s.access_token_expires_at),
                "accessTokenSecondsLeft": secs_left(now, s.access_token_expires_at),
                "refreshTokenPresent": s.refresh_token_present,
                "registrationExpiresAt": iso(s.registration_expires_at),
                "silentRefreshPossible": s.silent_refresh_possible,
                "silentRefreshUntil": iso(s.silent_refresh_until),
                "loginNeededAt": iso(s.login_needed_at),
                "loginNeededReason": s.end_reason,
                "loginCommand": s.login_command,
                "nextStep": s.next_step,
                "error": s.error,
            })
        })
        .collect();
    let profiles: Vec<Value> = r
        .profiles
        .iter()
        .map(|p| {
            let (session, field) = match &p.source {
                ProfileSource::Sso { session } => (Some(session.clone()), None),
                ProfileSource::CredentialsFile { field } => (None, field.clone()),
                _ => (None, None),
            };
            json!({
                "name": p.name,
                "source": p.source.name(),
                "chain": p.chain,
                "roles": p.roles,
                "session": session,
                "expiryField": field,
                "expiresAt": iso(p.expires_at),
                "secondsLeft": secs_left(now, p.expires_at),
                "stepNeededAt": iso(p.step_at),
                "stepNeeded": p.step,
                "nextStep": p.next_step,
                "error": p.error,
            })
        })
        .collect();
    let st = r.daemon.state.clone().unwrap_or_default();
    let has_state = r.daemon.state.is_some();
    json!({
        "now": expiry::to_iso8601(now),
        "thresholdMinutes": r.threshold.whole_minutes(),
        "intervalSeconds": r.interval.as_secs(),
        "sessions": sessions,
        "profiles": profiles,
        "daemon": {
            "running": r.daemon.running,
            "pid": if has_state && st.pid != 0 { json!(st.pid) } else { Value::Null },
            "startedAt": iso(st.started_at),
            "intervalSeconds": if has_state { json!(st.interval_seconds) } else { Value::Null },
            "thresholdMinutes": if has_state { json!(st.threshold_minutes) } else { Value::Null },
            "lastRun": iso(st.last_run),
            "lastResult": st.last_result,
            "lastOk": st.last_ok,
            "consecutiveFailures": st.consecutive_failures,
            "nextCheck": iso(st.next_check),
        },
        "problems": r.problems,
    })
}

/// `2026-11-22 12:00Z`: short enough for a table, exact enough to plan by.
fn short_time(t: OffsetDateTime) -> String {
    let s = expiry::to_iso8601(t);
    format!("{} {}Z", s.get(..10).unwrap_or(""), s.get(11..16).unwrap_or(""))
}

/// A cell and its colour.
type Cell = (String, Colour);

fn left(now: OffsetDateTime, t: Option<OffsetDateTime>, warn: Duration) -> Cell {
    match t {
        None => ("-".into(), Colour::Plain),
        Some(t) if t <= now => ("EXPIRED".into(), Colour::Red),
        Some(t) if t - now <= warn => (expiry::human(t - now), Colour::Yellow),
        Some(t) => (expiry::human(t - now), Colour::Plain),
    }
}

/// The widest a cell gets, whatever the width: longer ones are cut (`--json` has them whole).
const MAX_CELL: usize = 60;
/// The narrowest a column is squeezed to when the table must fit a width.
const MIN_CELL: usize = 8;
/// Profiles listed in a session's row before "+N more".
const LIST_CELL: usize = 3;
/// The daemon's last result is cut to this in the table (it has a part per session).
const MAX_RESULT: usize = 200;

/// Lays out rows with columns padded to the widest cell (widths by characters,
/// colour codes added after padding so they do not count). With a `width`, the widest
/// columns give way first and their cells are cut with `…`.
fn table(header: &[&str], rows: &[Vec<Cell>], colour: bool, width: Option<usize>) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, (c, _)) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count().min(MAX_CELL));
        }
    }
    if let Some(w) = width {
        // Two spaces of indent, two between columns; in a narrow terminal columns get narrower.
        let gaps = 2 + 2 * n.saturating_sub(1);
        let floor = MIN_CELL.min(w.saturating_sub(gaps) / n.max(1)).max(1);
        while gaps + widths.iter().sum::<usize>() > w {
            let Some((i, widest)) = widths.iter().copied().enumerate().max_by_key(|(_, x)| *x) else { break };
            if widest <= floor {
                break;
            }
            widths[i] = widest - 1;
        }
    }
    let mut out = String::new();
    let head: Vec<Cell> = header.iter().map(|h| (h.to_string(), Colour::Plain)).collect();
    for r in std::iter::once(&head).chain(rows.iter()) {
        let mut line = String::from("  ");
        for (i, (c, col)) in r.iter().enumerate().take(n) {
            let c = fit_cell(c, widths[i]);
            let pad = widths[i] - c.chars().count();
            line.push_str(&paint(&c, *col, colour));
            if i + 1 < n {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A cell cut to `width`; a shortened list keeps its "+N more".
fn fit_cell(c: &str, width: usize) -> String {
    if c.chars().count() <= width {
        return c.to_string();
    }
    match c.rsplit_once(" +") {
        Some((head, tail))
            if tail.strip_suffix(" more").is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                && tail.len() + 4 <= width =>
        {
            let tail = format!(" +{tail}");
            format!("{}{tail}", text::truncate(head, width - tail.chars().count()))
        }
        _ => text::truncate(c, width),
    }
}

/// Appends `line` wrapped to `width` (as is without one).
fn push_wrapped(out: &mut String, line: &str, width: Option<usize>) {
    match width {
        Some(w) => {
            for l in text::wrap(line, w) {
                out.push_str(&l);
                out.push('\n');
            }
        }
        None => {
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// The narrowest width we lay out for; below it lines may be as wide as this.
pub const MIN_WIDTH: usize = 40;

/// The report as people read it, fitted to `width` characters when given (a terminal).
pub fn render(r: &Report, colour: bool, width: Option<usize>) -> String {
    let width = width.map(|w| w.max(MIN_WIDTH));
    let now = r.now;
    let mut out = String::new();
    let threshold = r.threshold;
    if r.sessions.is_empty() {
        push_wrapped(&mut out, "SSO sessions: none in the AWS config", width);
    } else {
        push_wrapped(
            &mut out,
            &format!("SSO sessions (refreshed when less than {} is left)", expiry::human(threshold)),
            width,
        );
        let rows: Vec<Vec<Cell>> = r
            .sessions
            .iter()
            .map(|s| {
                let profiles =
                    if s.profiles.is_empty() { "-".to_string() } else { text::short_list(&s.profiles, LIST_CELL) };
                let token = if s.error.is_some() {
                    ("UNREADABLE".into(), Colour::Red)
                } else if !s.token_found {
                    ("NO TOKEN".into(), Colour::Red)
                } else {
                    left(now, s.access_token_expires_at, threshold)
                };
                let silent = match (s.silent_refresh_possible, s.silent_refresh_until) {
                    (true, Some(u)) => (format!("yes, until {}", short_time(u)), Colour::Plain),
                    (true, None) => ("yes".into(), Colour::Plain),
                    (false, _) => ("no".into(), Colour::Yellow),
                };
                let login = match s.login_needed_at {
                    Some(t) if t <= now => ("NOW".into(), Colour::Red),
                    Some(t) if t - now <= threshold => (format!("in {}", expiry::human(t - now)), Colour::Red),
                    Some(t) => (format!("in {}", expiry::human(t - now)), Colour::Plain),
                    None => ("-".into(), Colour::Plain),
                };
                vec![(s.name.clone(), Colour::Plain), (profiles, Colour::Plain), token, silent, login]
            })
            .collect();
        out.push_str(&table(
            &["SESSION", "PROFILES", "ACCESS TOKEN", "SILENT REFRESH", "LOGIN NEEDED"],
            &rows,
            colour,
            width,
        ));
    }
    if !r.profiles.is_empty() {
        out.push('\n');
        push_wrapped(&mut out, "Profiles used by the Claude Code hooks", width);
        let rows: Vec<Vec<Cell>> = r
            .profiles
            .iter()
            .map(|p| {
                let (source, detail) = match &p.source {
                    ProfileSource::Sso { session } => ("sso".to_string(), session.clone()),
                    ProfileSource::CredentialsFile { field } => {
                        ("credentials file".to_string(), field.clone().unwrap_or_else(|| "no expiry field".into()))
                    }
                    other => (other.name().to_string(), "-".into()),
                };
                // A chain shows what it is made of; the source's own detail is inside it.
                let (source, detail) = match (&p.chain, p.roles) {
                    (Some(chain), n) if n > 0 => ("role chain".to_string(), chain.clone()),
                    _ => (source, detail),
                };
                let creds = if p.error.is_some() && p.expires_at.is_none() {
                    ("ERROR".into(), Colour::Red)
                } else {
                    left(now, p.expires_at, threshold)
                };
                let step = match (p.step_at, p.step) {
                    (Some(t), Some(what)) if t <= now => (format!("{what} NOW"), Colour::Red),
                    (Some(t), Some(what)) => {
                        let c = if t - now <= threshold { Colour::Red } else { Colour::Plain };
                        (format!("{what} in {}", expiry::human(t - now)), c)
                    }
                    _ => ("-".into(), Colour::Plain),
                };
                vec![(p.name.clone(), Colour::Plain), (source, Colour::Plain), (detail, Colour::Plain), creds, step]
            })
            .collect();
        out.push_str(&table(
            &["PROFILE", "SOURCE", "SESSION / FIELD", "CREDENTIALS", "NEXT LOGIN"],
            &rows,
            colour,
            width,
        ));
    }
    let mut notes: Vec<String> = Vec::new();
    for s in &r.sessions {
        if let Some(e) = &s.error {
            notes.push(format!("{}: {e}", s.name));
            continue;
        }
        let Some(end) = s.login_needed_at else { continue };
        let reason = s.end_reason.clone().unwrap_or_default();
        if end <= now {
            notes.push(format!("{}: browser login needed now ({reason}); {}", s.name, s.next_step));
        } else if end - now <= Duration::hours(24) {
            // Within a day: worth planning for.
            notes.push(format!(
                "{}: browser login needed {} at {} ({reason}); {} before then",
                s.name,
                expiry::relative(now, end),
                short_time(end),
                s.next_step
            ));
        }
    }
    for p in &r.profiles {
        if let Some(e) = &p.error {
            notes.push(format!("profile {}: {e}", p.name));
            continue;
        }
        // SSO sessions have their own notes above; MFA roles and other sources need one here.
        let sso_login = matches!(p.source, ProfileSource::Sso { .. }) && p.step == Some("login");
        if let (Some(t), Some(step), false) = (p.step_at, p.step, sso_login)
            && t - now <= Duration::hours(24)
        {
            let what = if step == "mfa" { "an MFA code" } else { "a login" };
            let when = if t <= now { "now".to_string() } else { expiry::relative(now, t) };
            let then = p.next_step.as_deref().map(|n| format!("; {n}")).unwrap_or_default();
            notes.push(format!(
                "profile {} ({}): needs {what} {when}{then}",
                p.name,
                p.chain.as_deref().unwrap_or("-")
            ));
        }
    }
    out.push('\n');
    for l in daemon_lines(r) {
        push_wrapped(&mut out, &l, width);
    }
    if !notes.is_empty() || !r.problems.is_empty() {
        out.push('\n');
        for n in notes.iter().chain(r.problems.iter()) {
            push_wrapped(&mut out, &format!("! {n}"), width);
        }
    }
    out
}

fn daemon_lines(r: &Report) -> Vec<String> {
    let now = r.now;
    let mut out = Vec::new();
    let st = r.daemon.state.as_ref();
    if r.daemon.running {
        let pid = st.map(|s| format!(" (pid {})", s.pid)).unwrap_or_default();
        let every = st
            .map(|s| daemon::human_interval(StdDuration::from_secs(s.interval_seconds)))
            .unwrap_or_else(|| daemon::human_interval(r.interval));
        out.push(format!("Daemon: running{pid}, checks every {every}"));
    } else {
        out.push("Daemon: not running (`cc-aws-keepalive service install` starts it in the background)".into());
        out.push(format!(
            "  would check every {}, refreshing sessions with less than {} left",
            daemon::human_interval(r.interval),
            expiry::human(r.threshold)
        ));
    }
    if let Some(s) = st {
        if let Some(last) = s.last_run {
            let result = s.last_result.clone().unwrap_or_default();
            // One part per session: cut, and say where the rest is.
            let result = if result.chars().count() > MAX_RESULT {
                format!("{} (`cc-aws-keepalive status --json` has it all)", text::truncate(&result, MAX_RESULT))
            } else {
                result
            };
            let okword = match s.last_ok {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "?",
            };
            out.push(format!(
                "  last run: {} ({}): {okword}: {result}",
                expiry::to_iso8601(last),
                expiry::relative(now, last)
            ));
        }
        if s.consecutive_failures > 0 {
            out.push(format!("  consecutive failures: {}", s.consecutive_failures));
        }
        if r.daemon.running
            && let Some(next) = s.next_check
        {
            out.push(format!("  next check: {}", expiry::to_iso8601(next)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn table_aligns_by_characters_not_colour_codes() {
        let rows = vec![
            vec![("a".to_string(), Colour::Red), ("x".to_string(), Colour::Plain)],
            vec![("long-name".to_string(), Colour::Plain), ("y".to_string(), Colour::Plain)],
        ];
        let plain = table(&["H1", "H2"], &rows, false, None);
        assert_eq!(plain, "  H1         H2\n  a          x\n  long-name  y\n");
        let coloured = table(&["H1", "H2"], &rows, true, None);
        assert!(coloured.contains("\x1b[31ma\x1b[0m          x"), "{coloured:?}");
    }

    #[test]
    fn tables_fit_a_width_and_lists_keep_their_count() {
        let rows = vec![vec![
            ("a-rather-long-session-name".to_string(), Colour::Plain),
            ("p1, p2, p3 +997 more".to_string(), Colour::Plain),
        ]];
        let t = table(&["SESSION", "PROFILES"], &rows, false, Some(30));
        for l in t.lines() {
            assert!(l.chars().count() <= 30, "{l:?}");
        }
        assert!(t.contains("+997 more"), "{t}");
        assert_eq!(fit_cell("p1, p2, p3 +997 more", 14), "p1,… +997 more");
        assert_eq!(fit_cell("abcdefgh", 4), "abc…");
    }

    #[test]
    fn short_times() {
        assert_eq!(short_time(datetime!(2026-11-22 12:34:56 UTC)), "2026-11-22 12:34Z");
    }
}
