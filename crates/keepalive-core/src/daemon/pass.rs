//! One daemon pass: keep every session and hook profile alive, remember when each session
//! truly ends, and notify once per event. A stop request is honoured between items: the one in
//! flight finishes (its network calls are bounded), the rest wait for the next start.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::discovery::Discovery;
use super::notify::{note, notify_about};
use super::policy::{KeepOptions, LoginPolicy, Outcome, SessionMemo, Settings, keep_chain, keep_one};
use crate::config::Config;
use crate::ctx::Ctx;
use crate::log::{self, Level};
use crate::notify::Kind;

/// One pass's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassSummary {
    pub ok: bool,
    /// One line per session, profile or problem, for people and the log.
    pub lines: Vec<String>,
    /// The earliest time a session enters its refresh window, if known.
    pub due_hint: Option<OffsetDateTime>,
    /// A stop was requested: items after the one in flight were left for next time.
    pub interrupted: bool,
}

impl PassSummary {
    /// All lines in one, for the state file.
    pub fn result(&self) -> String {
        self.lines.join("; ")
    }
}

/// One daemon pass over what `found` lists; `memos` (per session) are updated in place.
/// `stop` is asked between items.
pub fn daemon_pass(
    ctx: &Ctx,
    config: &Config,
    settings: &Settings,
    found: &Discovery,
    memos: &mut BTreeMap<String, SessionMemo>,
    stop: &dyn Fn() -> bool,
) -> PassSummary {
    let opts = KeepOptions { force: false, threshold: settings.threshold, login: LoginPolicy::Unattended };
    let now = ctx.now;
    let mut sum = PassSummary { ok: found.problems.is_empty(), ..PassSummary::default() };
    let hint = |sum: &mut PassSummary, t: OffsetDateTime| {
        if t > now {
            sum.due_hint = Some(sum.due_hint.map_or(t, |d| d.min(t)));
        }
    };
    memos.retain(|name, _| found.targets.iter().any(|t| &t.name == name));
    for t in &found.targets {
        if stop() {
            sum.interrupted = true;
            return sum;
        }
        let outcome = keep_one(ctx, config, t, &opts, &mut |_| {});
        let memo = memos.entry(t.name.clone()).or_default();
        let line = outcome.describe(now);
        let level = match &outcome {
            Outcome::Failed { .. } | Outcome::LoginNeeded { .. } => Level::Warn,
            _ => Level::Info,
        };
        log::write(ctx, level, "daemon", &format!("{}: {line}", t.name));
        match &outcome {
            Outcome::Failed { error } => {
                sum.ok = false;
                memo.consecutive_failures = memo.consecutive_failures.saturating_add(1);
                memo.last_error = Some(error.clone());
            }
            _ => {
                memo.consecutive_failures = 0;
                memo.failure_notified = false;
                memo.last_error = None;
            }
        }
        if let Outcome::Refreshed { .. } | Outcome::LoggedIn { .. } = &outcome {
            memo.last_refresh = Some(now);
            note(ctx, settings, Kind::Refreshed, format!("AWS session {} refreshed", t.name), line.clone());
        }
        for h in notify_about(ctx, config, settings, t, &outcome, memo) {
            hint(&mut sum, h);
        }
        sum.lines.push(format!("{}: {line}", t.name));
    }
    let mut chains = 0;
    for (p, chain) in &found.chains {
        let Ok(chain) = chain else { continue };
        if stop() {
            sum.interrupted = true;
            return sum;
        }
        let Some(r) = keep_chain(ctx, config, p, chain, &opts, &mut |_| {}) else { continue };
        chains += 1;
        if r.failed {
            sum.ok = false;
        }
        if let Some(d) = r.due {
            hint(&mut sum, d);
        }
        log::write(ctx, if r.failed { Level::Warn } else { Level::Info }, "daemon", &r.line);
        sum.lines.push(r.line);
    }
    for p in &found.problems {
        log::write(ctx, Level::Warn, "daemon", p);
        sum.lines.push(p.clone());
    }
    if found.targets.is_empty() && found.problems.is_empty() && chains == 0 {
        sum.lines.push("no [sso-session] in the AWS config and no hook profile to renew; nothing to refresh".into());
    }
    sum
}
