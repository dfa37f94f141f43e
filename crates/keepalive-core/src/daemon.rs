//! The keep-alive daemon: settings, its one-instance lock, its state file, and
//! the loop that runs a refresh pass every interval.
//!
//! Timing is by the wall clock and absolute expiry times, not by summing
//! sleeps: a laptop that slept through a check finds it overdue on wake and
//! runs it at once. The loop sleeps in short ticks so that happens promptly.
//!
//! Stopping: SIGTERM/SIGINT keep their default action and end the process at
//! once. That is a clean exit here because nothing can be half done: every
//! file is replaced atomically (temp file + rename), the lock is released by
//! the OS with the process, and `status` judges "running" by that lock, not by
//! a pid that could be stale. No signal handler means no `unsafe` and no
//! dependency for one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::aws_files::IniDoc;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::expiry;
use crate::fsutil::{self, FsError};
use crate::hooks::autologin;
use crate::lock::{self, FileLock, LockError};
use crate::log::{self, Level};
use crate::notify::{self, Kind as NotifyKind, Notification, NotifyMode};
use crate::paths::{self, PathError};
use crate::process;
use crate::providers::exec::{self, HumanStep};
use crate::providers::resolve::{self, AwsFiles, Choice};
use crate::providers::sso::{self, RefreshOutcome, SessionStatus, SsoProfile};
use crate::providers::{Base, Chain, RoleStep};

/// Longest sleep between looks at the clock: bounds how late a check runs
/// after the machine wakes up.
pub const MAX_TICK: StdDuration = StdDuration::from_secs(15);

/// What the daemon works with, re-read before every pass so config.json
/// changes apply without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub interval: StdDuration,
    pub threshold: Duration,
    pub notify: NotifyMode,
    /// Minutes before a forced login at which to warn about it once.
    pub warn: Duration,
}

/// Settings from config.json with the old daemons' variables
/// (`AWS_SSO_REFRESH_THRESHOLD`, `AWS_SSO_REFRESH_INTERVAL`, minutes) as
/// overrides, and the test-only `CC_KEEPALIVE_DAEMON_TICK_MS` over all.
/// Returns warnings about unusable variables.
pub fn settings(env: &Env, config: &Config) -> (Settings, Vec<String>) {
    let mut warnings = Vec::new();
    let mut minutes = |name: &str, default: u64| -> u64 {
        match env.get(name) {
            None => default,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(m) => m,
                Err(_) => {
                    warnings.push(format!("{name}={v:?} is not a whole number of minutes; using {default}"));
                    default
                }
            },
        }
    };
    let threshold = minutes(vars::AWS_SSO_REFRESH_THRESHOLD, config.refresh_threshold_minutes).min(7 * 24 * 60);
    let interval_min = minutes(vars::AWS_SSO_REFRESH_INTERVAL, config.check_interval_minutes).clamp(1, 60);
    let mut interval = StdDuration::from_secs(interval_min * 60);
    if let Some(ms) = env.get(vars::CC_KEEPALIVE_DAEMON_TICK_MS).and_then(|v| v.trim().parse::<u64>().ok()) {
        interval = StdDuration::from_millis(ms.max(10));
    }
    let s = Settings {
        interval,
        threshold: Duration::minutes(threshold as i64),
        notify: config.notify,
        warn: Duration::minutes(config.warn_minutes as i64),
    };
    (s, warnings)
}

pub fn lock_path(env: &Env) -> Result<PathBuf, PathError> {
    Ok(paths::state_dir(env)?.join("locks/daemon.lock"))
}

pub fn state_path(env: &Env) -> Result<PathBuf, PathError> {
    Ok(paths::state_dir(env)?.join("daemon.json"))
}

/// Whether a daemon holds the lock right now.
pub fn running(env: &Env) -> bool {
    lock_path(env).map(|p| lock::is_held(&p)).unwrap_or(false)
}

/// What we remember about one SSO session between passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionMemo {
    /// When a browser login becomes unavoidable, as last computed.
    pub login_needed_at: Option<String>,
    /// Why it ends then, for `status`.
    pub end_reason: Option<String>,
    /// The `login_needed_at` we already warned about (one warning per end).
    pub warned_end: Option<String>,
    /// The `login_needed_at` we already said "log in now" about.
    pub login_notified: Option<String>,
    pub consecutive_failures: u32,
    /// A refresh-failed notification went out for the current failure streak.
    pub failure_notified: bool,
    pub last_error: Option<String>,
    pub last_refresh: Option<String>,
}

/// The daemon's state file, read by `status`. Times are RFC 3339 UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonState {
    pub pid: u32,
    pub started_at: Option<String>,
    pub interval_seconds: u64,
    pub threshold_minutes: i64,
    pub last_run: Option<String>,
    pub last_result: Option<String>,
    pub last_ok: Option<bool>,
    pub consecutive_failures: u32,
    pub passes: u64,
    pub next_check: Option<String>,
    pub sessions: BTreeMap<String, SessionMemo>,
}

/// The state file, `None` when absent or unreadable (it is only informative).
pub fn read_state(env: &Env) -> Option<DaemonState> {
    let path = state_path(env).ok()?;
    let text = fsutil::read_optional(&path).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn write_state(env: &Env, state: &DaemonState) -> Result<(), FsError> {
    let Ok(path) = state_path(env) else { return Ok(()) };
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE)?;
    }
    let mut text = serde_json::to_string_pretty(state).unwrap_or_default();
    text.push('\n');
    fsutil::write_atomic(&path, text.as_bytes(), Some(fsutil::SECRET_FILE_MODE))
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "another cc-aws-keepalive daemon is already running{} (lock {lock}); stop it first, or use `cc-aws-keepalive status`",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    AlreadyRunning { pid: Option<u32>, lock: PathBuf },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Path(#[from] PathError),
}

/// Takes the one-per-user daemon lock, held for the process's lifetime.
pub fn acquire(env: &Env) -> Result<FileLock, DaemonError> {
    let path = lock_path(env)?;
    match lock::try_lock(&path)? {
        Some(l) => Ok(l),
        None => {
            Err(DaemonError::AlreadyRunning { pid: read_state(env).map(|s| s.pid).filter(|p| *p != 0), lock: path })
        }
    }
}

/// Removes temp files a kill in the middle of a write may have left next to
/// the state file (the state file itself is always whole).
pub fn clean_temp_files(env: &Env) {
    let Ok(path) = state_path(env) else { return };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let prefix = format!(".{}.tmp.", name.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Why a pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Start,
    Interval,
    /// The wall clock jumped by more than an interval: the machine slept.
    Wake,
    /// A session enters the refresh window before the next interval.
    Expiry,
}

/// When to run the next pass, by wall-clock time.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    next: Option<OffsetDateTime>,
    next_is_expiry: bool,
    last_seen: Option<OffsetDateTime>,
}

impl Scheduler {
    /// Whether a pass is due at `now`, and why. Call once per tick.
    pub fn due(&mut self, now: OffsetDateTime, interval: StdDuration) -> Option<Why> {
        let interval = Duration::try_from(interval).unwrap_or(Duration::MINUTE);
        let jumped = self.last_seen.is_some_and(|l| now - l > interval || l - now > interval);
        self.last_seen = Some(now);
        match self.next {
            None => Some(Why::Start),
            Some(_) if jumped => Some(Why::Wake),
            Some(n) if now >= n => Some(if self.next_is_expiry { Why::Expiry } else { Why::Interval }),
            Some(_) => None,
        }
    }

    /// Plans the next pass after one finished at `now`: one interval later, or
    /// earlier when `due_hint` (a session entering its refresh window) falls
    /// before that. Hints in the past are ignored (retrying them every tick
    /// would hammer the endpoints).
    pub fn planned(&mut self, now: OffsetDateTime, interval: StdDuration, due_hint: Option<OffsetDateTime>) {
        let interval = Duration::try_from(interval).unwrap_or(Duration::MINUTE);
        // Saturating: a clock at the end of time (CC_KEEPALIVE_NOW) must not panic.
        let regular = now.checked_add(interval).unwrap_or(OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX));
        self.last_seen = Some(now);
        match due_hint {
            Some(h) if h > now && h < regular => {
                self.next = Some(h);
                self.next_is_expiry = true;
            }
            _ => {
                self.next = Some(regular);
                self.next_is_expiry = false;
            }
        }
    }

    pub fn next(&self) -> Option<OffsetDateTime> {
        self.next
    }

    /// How long to sleep before looking again.
    pub fn sleep_for(&self, now: OffsetDateTime, tick: StdDuration) -> StdDuration {
        let until = self.next.map(|n| n - now).unwrap_or(Duration::ZERO);
        let until = StdDuration::try_from(until).unwrap_or(StdDuration::ZERO);
        until.min(tick).max(StdDuration::from_millis(5))
    }
}

/// One pass's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassSummary {
    pub ok: bool,
    /// One line for the state file and the log.
    pub result: String,
    /// The earliest time a session enters its refresh window, if known.
    pub due_hint: Option<OffsetDateTime>,
}

/// What the loop needs from the world, so tests drive it with a fake clock.
pub trait World {
    fn now(&mut self) -> OffsetDateTime;
    fn sleep(&mut self, d: StdDuration);
    fn settings(&mut self) -> Settings;
    fn pass(&mut self, now: OffsetDateTime, why: Why, settings: &Settings, state: &mut DaemonState) -> PassSummary;
    /// Called after every pass with the state just written; `false` stops the loop.
    fn keep_going(&mut self, state: &DaemonState) -> bool;
    fn save(&mut self, state: &DaemonState);
}

/// The daemon's loop. Runs until `world.keep_going` says stop (in
/// production: never; the process ends by signal).
pub fn run_loop(world: &mut dyn World, mut state: DaemonState) -> DaemonState {
    let mut sched = Scheduler::default();
    loop {
        let now = world.now();
        let settings = world.settings();
        let Some(why) = sched.due(now, settings.interval) else {
            let tick = settings.interval.min(MAX_TICK);
            world.sleep(sched.sleep_for(now, tick));
            continue;
        };
        let summary = world.pass(now, why, &settings, &mut state);
        let done = world.now();
        sched.planned(done, settings.interval, summary.due_hint);
        state.interval_seconds = settings.interval.as_secs();
        state.threshold_minutes = settings.threshold.whole_minutes();
        state.last_run = Some(crate::expiry::to_iso8601(now));
        state.last_result = Some(summary.result.clone());
        state.last_ok = Some(summary.ok);
        state.consecutive_failures = if summary.ok { 0 } else { state.consecutive_failures.saturating_add(1) };
        state.passes = state.passes.saturating_add(1);
        state.next_check = sched.next().map(crate::expiry::to_iso8601);
        world.save(&state);
        if !world.keep_going(&state) {
            return state;
        }
    }
}

/// The state file's path, for messages.
pub fn describe_state_path(env: &Env) -> String {
    state_path(env).map(|p| p.display().to_string()).unwrap_or_else(|_| "daemon.json".into())
}

// ---------------------------------------------------------------------------
// The keep-alive engine: what to refresh, and one pass over it. Shared by the
// daemon and `cc-aws-keepalive refresh`.

/// One SSO session to keep alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `[sso-session]` name, or `profile NAME` for a legacy SSO profile.
    pub name: String,
    /// A profile using it (the first one in the config file), or one made up
    /// from the session alone when no profile uses it: refreshing the token
    /// needs only the session's start URL and region.
    pub profile: SsoProfile,
    /// Every profile using it.
    pub profiles: Vec<String>,
}

impl Target {
    pub fn is_legacy(&self) -> bool {
        self.profile.session.is_none()
    }
}

/// The profiles the hooks act on: the one resolved from our environment and
/// config.json, and the one Claude Code's settings.json `env` selects (the
/// hooks run with that environment).
pub fn hook_profiles(ctx: &Ctx, config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(p) = crate::config::resolve_profile(&ctx.env, config) {
        out.push(p);
    }
    if let Some(p) = settings_env(ctx, vars::CC_KEEPALIVE_PROFILE).or_else(|| settings_env(ctx, vars::AWS_PROFILE))
        && crate::config::valid_profile_name(&p)
        && !out.contains(&p)
    {
        out.push(p);
    }
    out
}

/// A variable from the `env` object of Claude Code's user settings.json.
pub fn settings_env(ctx: &Ctx, name: &str) -> Option<String> {
    let path = paths::claude_settings_file(&ctx.env).ok()?;
    let text = fsutil::read_optional(&path).ok()??;
    let v: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    v.get("env")?.get(name)?.as_str().map(str::to_string).filter(|s| !s.is_empty())
}

/// Every `[sso-session]` of the AWS config file, and the legacy SSO profiles
/// among `extra_profiles`. Problems (unreadable file, broken profiles) come
/// back as lines; the rest still works.
pub fn targets(ctx: &Ctx, extra_profiles: &[String]) -> (Vec<Target>, Vec<String>) {
    let mut problems = Vec::new();
    let path = match paths::aws_config_file(&ctx.env) {
        Ok(p) => p,
        Err(e) => return (vec![], vec![e.to_string()]),
    };
    let doc = match IniDoc::read(&path) {
        // Named by hand and absent: a typo, not an empty configuration.
        Ok(None) if ctx.env.is_set(vars::AWS_CONFIG_FILE) => {
            let msg =
                format!("AWS_CONFIG_FILE names {}, which does not exist; fix or unset AWS_CONFIG_FILE", path.display());
            return (vec![], vec![msg]);
        }
        Ok(d) => d.unwrap_or_default(),
        Err(e) => return (vec![], vec![e.to_string()]),
    };
    let mut targets: Vec<Target> = Vec::new();
    for name in doc.sso_session_names() {
        let users: Vec<String> = doc
            .config_profile_names()
            .into_iter()
            .filter(|p| {
                doc.config_profile(p).and_then(|s| s.get("sso_session")).map(|v| v.trim()) == Some(name.as_str())
            })
            .collect();
        let loaded = users.iter().find_map(|p| SsoProfile::load(ctx, p).ok());
        let profile = match loaded {
            Some(p) => p,
            None => match session_only(&doc, &name, &path) {
                Some(p) => p,
                None => {
                    problems.push(format!(
                        "[sso-session {name}] in {} lacks sso_start_url or sso_region; add them or run `aws configure sso-session`",
                        path.display()
                    ));
                    continue;
                }
            },
        };
        targets.push(Target { name, profile, profiles: users });
    }
    for (p, chain) in hook_chains(ctx, extra_profiles) {
        match chain {
            Ok(Chain { base: Base::Sso(sp), .. }) if sp.session.is_none() => {
                let name = format!("profile {}", sp.profile);
                if !targets.iter().any(|t| t.name == name) {
                    targets.push(Target { name, profiles: vec![p.clone()], profile: sp });
                }
            }
            Ok(_) => {}
            // A broken SSO profile is this list's business; the profile rows show the rest.
            Err(e @ resolve::ResolveError::Sso(_)) => problems.push(e.to_string()),
            Err(_) => {}
        }
    }
    (targets, problems)
}

/// Each hook profile with its chain, resolved as the hooks resolve it (the first one exactly;
/// the others as named in Claude Code's settings).
pub fn hook_chains(ctx: &Ctx, profiles: &[String]) -> Vec<(String, Result<Chain, resolve::ResolveError>)> {
    let files = AwsFiles::read(&ctx.env);
    let config = crate::config::load(&ctx.env).config;
    profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let chain = match (&files, i) {
                (Err(_), _) => resolve::resolve(ctx, &config),
                (Ok(_), 0) => resolve::resolve(ctx, &config),
                (Ok(f), _) => resolve::resolve_in(&ctx.env, &config, f, p, Choice::Explicit("settings.json env")),
            };
            (p.clone(), chain)
        })
        .collect()
}

/// An SSO profile standing for a session that no complete profile uses.
fn session_only(doc: &IniDoc, name: &str, path: &std::path::Path) -> Option<SsoProfile> {
    let s = doc.sso_session(name)?;
    let get = |k: &str| s.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    Some(SsoProfile {
        profile: format!("(sso-session {name})"),
        session: Some(name.to_string()),
        start_url: get("sso_start_url")?,
        sso_region: get("sso_region")?,
        account_id: String::new(),
        role_name: String::new(),
        region: None,
        registration_scopes: get("sso_registration_scopes"),
        config_path: path.to_path_buf(),
    })
}

/// What may be done when only a browser login helps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginPolicy {
    /// Never run a login; report it.
    Never,
    /// Run `autoLoginCmd` if configured (needs no one at the keyboard); else report.
    Unattended,
    /// Run `loginCmd`, else `aws sso login --sso-session NAME`, with its output
    /// shown, stopped after `timeout`.
    Interactive { timeout: StdDuration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepOptions {
    /// Refresh even when outside the threshold.
    pub force: bool,
    pub threshold: Duration,
    pub login: LoginPolicy,
}

/// What happened to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Valid beyond the threshold; nothing done.
    Fine {
        expires_at: OffsetDateTime,
    },
    Refreshed {
        expires_at: OffsetDateTime,
    },
    /// Another process or tool had just refreshed it.
    RefreshedElsewhere {
        expires_at: OffsetDateTime,
    },
    /// A login command ran and the session is valid again.
    LoggedIn {
        expires_at: OffsetDateTime,
    },
    /// Only a browser login helps; `command` does it.
    LoginNeeded {
        reason: String,
        command: String,
    },
    /// Anything else (network, file permissions, …): retried next time.
    Failed {
        error: String,
    },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Outcome::Fine { expires_at }
            | Outcome::Refreshed { expires_at }
            | Outcome::RefreshedElsewhere { expires_at }
            | Outcome::LoggedIn { expires_at } => Some(*expires_at),
            _ => None,
        }
    }

    /// One line for people and the log (no secrets: names and times only).
    pub fn describe(&self, now: OffsetDateTime) -> String {
        let until =
            |t: &OffsetDateTime| format!("valid until {} ({})", expiry::to_iso8601(*t), expiry::relative(now, *t));
        match self {
            Outcome::Fine { expires_at } => format!("fine, {}", until(expires_at)),
            Outcome::Refreshed { expires_at } => format!("refreshed, {}", until(expires_at)),
            Outcome::RefreshedElsewhere { expires_at } => {
                format!("refreshed by another process, {}", until(expires_at))
            }
            Outcome::LoggedIn { expires_at } => format!("logged in, {}", until(expires_at)),
            Outcome::LoginNeeded { reason, command } => format!("browser login needed ({reason}); run `{command}`"),
            Outcome::Failed { error } => format!("refresh failed: {error}"),
        }
    }
}

/// Refreshes one session if it is within the threshold (or `force`):
/// silently first; a login only as `opts.login` allows. `say` gets progress
/// lines for people.
pub fn keep_one(ctx: &Ctx, config: &Config, t: &Target, opts: &KeepOptions, say: &mut dyn FnMut(&str)) -> Outcome {
    // refresh_session's window is ssoRefreshMinutes; ours is the threshold.
    let mut cfg = config.clone();
    cfg.sso_refresh_minutes = u64::try_from(opts.threshold.whole_minutes()).unwrap_or(0);
    let first = match sso::refresh_session(ctx, &cfg, &t.profile, opts.force) {
        Ok(RefreshOutcome::NotNeeded { expires_at }) => return Outcome::Fine { expires_at },
        Ok(RefreshOutcome::Refreshed { expires_at }) => return Outcome::Refreshed { expires_at },
        Ok(RefreshOutcome::RefreshedElsewhere { expires_at }) => return Outcome::RefreshedElsewhere { expires_at },
        Err(e) if e.needs_login() => e,
        Err(e) => return Outcome::Failed { error: e.to_string() },
    };
    let reason = login_reason(&first);
    let command = if config.login_cmd.is_empty() { sso::login_command(&t.profile) } else { config.login_cmd.clone() };
    let (cmd, interactive, timeout) = match &opts.login {
        LoginPolicy::Never => return Outcome::LoginNeeded { reason, command },
        LoginPolicy::Unattended if config.auto_login_cmd.is_empty() => {
            return Outcome::LoginNeeded { reason, command };
        }
        LoginPolicy::Unattended => (config.auto_login_cmd.clone(), false, autologin::LOGIN_TIMEOUT),
        LoginPolicy::Interactive { timeout } => (command.clone(), true, *timeout),
    };
    match run_login(ctx, t, &cmd, interactive, timeout, say) {
        Ok(()) => {}
        Err(why) => return Outcome::LoginNeeded { reason: format!("{reason}; {why}"), command },
    }
    match sso::session_status(ctx, config, &t.profile) {
        Ok(st) if st.access_token_valid(ctx.now) => {
            Outcome::LoggedIn { expires_at: st.access_token_expires_at.unwrap_or(ctx.now) }
        }
        _ => Outcome::LoginNeeded { reason: format!("{reason}; the login left no valid token"), command },
    }
}

/// The reason part of a needs-login error, without the command (shown apart).
fn login_reason(e: &sso::SsoError) -> String {
    match e {
        sso::SsoError::NeedsLogin { reason, .. } => reason.clone(),
        // Its own text ends in "run `…` to replace it"; the command is shown apart.
        sso::SsoError::TokenCache { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Runs a login command under the login lock the hooks use. A login already
/// running elsewhere is waited for instead of started twice.
fn run_login(
    ctx: &Ctx,
    t: &Target,
    cmd: &str,
    interactive: bool,
    timeout: StdDuration,
    say: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let lock_path = autologin::login_lock_path(ctx).ok_or("cannot locate the state directory (HOME is not set)")?;
    let guard = match lock::try_lock(&lock_path) {
        Ok(Some(g)) => g,
        Ok(None) => {
            say("Another login is already running; waiting for it…");
            return match lock::lock_with_timeout(&lock_path, autologin::LOGIN_WAIT) {
                Ok(Some(_)) => Ok(()),
                _ => Err("another login is still running".into()),
            };
        }
        Err(e) => return Err(e.to_string()),
    };
    if interactive {
        say(&format!("Logging in to {} with `{cmd}`…", t.name));
    }
    log::write(ctx, Level::Info, "login", &format!("running login command for {}", t.name));
    let mut c = process::shell(cmd);
    if let Some(p) = t.profiles.first() {
        c.env(vars::CC_KEEPALIVE_PROFILE, p);
    }
    if !interactive {
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    }
    let result = process::run_inherited(c, "the login command", timeout);
    drop(guard);
    let r = match result {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("the login command failed ({s})")),
        Err(e) => Err(e.to_string()),
    };
    let level = if r.is_ok() { Level::Info } else { Level::Error };
    log::write(ctx, level, "login", &format!("login command for {}: {}", t.name, r.as_ref().err().map_or("ok", |e| e)));
    r
}

/// When a session truly ends and why: a browser login is unavoidable then.
/// Starts from what the caches say and shortens it by what the last pass
/// learnt: failing refreshes end it at the access token's expiry, and a
/// refreshed token shorter than the threshold means Identity Center is
/// ending the session then.
pub fn session_end(
    st: &SessionStatus,
    outcome: Option<&Outcome>,
    threshold: Duration,
    now: OffsetDateTime,
) -> (OffsetDateTime, String) {
    let mut end = st.login_needed_at();
    let mut reason = if st.silent_refresh_possible {
        "its client registration expires then".to_string()
    } else if !st.token_found || st.access_token_expires_at.is_none() {
        "there is no cached SSO token".to_string()
    } else if !st.refresh_token_present {
        "the token has no refresh token, so it cannot be renewed silently".to_string()
    } else {
        "its client registration has expired, so it cannot be renewed silently".to_string()
    };
    let token_end = st.access_token_expires_at.unwrap_or(now);
    match outcome {
        Some(Outcome::Failed { .. }) if token_end < end => {
            end = token_end;
            reason = "refreshes are failing; the access token runs out then".into();
        }
        Some(Outcome::Refreshed { expires_at }) if *expires_at - now < threshold && *expires_at < end => {
            end = *expires_at;
            reason =
                "AWS issued a token shorter than the refresh threshold: the Identity Center session ends then".into();
        }
        _ => {}
    }
    (end, reason)
}

/// Options for one daemon pass.
fn daemon_options(settings: &Settings) -> KeepOptions {
    KeepOptions { force: false, threshold: settings.threshold, login: LoginPolicy::Unattended }
}

fn note(ctx: &Ctx, settings: &Settings, kind: NotifyKind, title: String, body: String) {
    notify::send(ctx, settings.notify, &Notification { kind, title, body });
}

/// After one session's outcome in a daemon pass: remembers when it truly
/// ends and sends the notifications due, each once per event. Returns the
/// times at which the next pass should look again (entering the refresh
/// window, reaching the warning time of the end).
fn notify_about(
    ctx: &Ctx,
    config: &Config,
    settings: &Settings,
    t: &Target,
    outcome: &Outcome,
    memo: &mut SessionMemo,
) -> Vec<OffsetDateTime> {
    let now = ctx.now;
    let mut hints = Vec::new();
    let status = sso::session_status(ctx, config, &t.profile).ok();
    let token_expires = status.as_ref().and_then(|st| st.access_token_expires_at);
    let (end, reason) = match &status {
        Some(st) => session_end(st, Some(outcome), settings.threshold, now),
        None => (token_expires.unwrap_or(now), "the token cache cannot be read".to_string()),
    };
    let end_key = expiry::to_iso8601(end);
    memo.login_needed_at = Some(end_key.clone());
    memo.end_reason = Some(reason.clone());
    if let (Some(exp), Some(true)) = (token_expires, status.as_ref().map(|st| st.silent_refresh_possible)) {
        hints.push(exp - settings.threshold);
    }
    hints.push(end - settings.warn.max(settings.threshold));
    match outcome {
        Outcome::LoginNeeded { reason, command } => {
            // Keyed by the token it is about: a new login makes a new key.
            let key = token_expires.map_or_else(|| "no token".to_string(), expiry::to_iso8601);
            if memo.login_notified.as_deref() != Some(key.as_str()) {
                memo.login_notified = Some(key);
                note(
                    ctx,
                    settings,
                    NotifyKind::LoginNeeded,
                    format!("AWS session {} needs a browser login", t.name),
                    format!("{reason}. Run: {command}"),
                );
            }
        }
        Outcome::Failed { error } => {
            // One blip (a wake before the network is up) is not worth a
            // notification; a second in a row, or a token running out before
            // the next check, is. Once per failure streak.
            let token_left = token_expires.map_or(Duration::ZERO, |e| e - now);
            let urgent = token_left < Duration::try_from(settings.interval).unwrap_or(Duration::MINUTE);
            if (memo.consecutive_failures >= 2 || urgent) && !memo.failure_notified {
                memo.failure_notified = true;
                note(
                    ctx,
                    settings,
                    NotifyKind::RefreshFailed,
                    format!("AWS session {}: refresh failing", t.name),
                    if end > now {
                        format!("{error}. The session ends {} unless it recovers.", expiry::relative(now, end))
                    } else {
                        format!("{error}. The access token has run out; the session is back once a refresh succeeds.")
                    },
                );
            }
        }
        _ => {
            // Warn once, ahead of time, about an end we cannot refresh past.
            // Ends a few minutes apart are the same end.
            let warned = memo
                .warned_end
                .as_deref()
                .and_then(|w| expiry::parse(w).ok())
                .is_some_and(|w| (w - end).abs() < Duration::minutes(5));
            if status.is_some() && end > now && end - now <= settings.warn.max(settings.threshold) && !warned {
                memo.warned_end = Some(end_key.clone());
                let command =
                    if config.login_cmd.is_empty() { sso::login_command(&t.profile) } else { config.login_cmd.clone() };
                note(
                    ctx,
                    settings,
                    NotifyKind::SessionEnding,
                    format!("AWS session {} ends {}", t.name, expiry::relative(now, end)),
                    format!("It cannot be renewed past {end_key}: {reason}. Log in before then: {command}"),
                );
            }
        }
    }
    hints
}

/// One daemon pass: keep every session alive, remember when each truly
/// ends, and notify once per event (not once per interval).
pub fn daemon_pass(ctx: &Ctx, config: &Config, settings: &Settings, state: &mut DaemonState) -> PassSummary {
    let extra = hook_profiles(ctx, config);
    let (targets, problems) = targets(ctx, &extra);
    let opts = daemon_options(settings);
    let now = ctx.now;
    let mut parts: Vec<String> = Vec::new();
    let mut ok = problems.is_empty();
    let mut due_hint: Option<OffsetDateTime> = None;
    let mut hint = |t: OffsetDateTime| {
        if t > now {
            due_hint = Some(due_hint.map_or(t, |d: OffsetDateTime| d.min(t)));
        }
    };
    state.sessions.retain(|name, _| targets.iter().any(|t| &t.name == name));
    for t in &targets {
        let outcome = keep_one(ctx, config, t, &opts, &mut |_| {});
        let memo = state.sessions.entry(t.name.clone()).or_default();
        let line = outcome.describe(now);
        parts.push(format!("{}: {line}", t.name));
        let level = match &outcome {
            Outcome::Failed { .. } => Level::Warn,
            Outcome::LoginNeeded { .. } => Level::Warn,
            _ => Level::Info,
        };
        log::write(ctx, level, "daemon", &format!("{}: {line}", t.name));
        match &outcome {
            Outcome::Failed { error } => {
                ok = false;
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
            memo.last_refresh = Some(expiry::to_iso8601(now));
            note(ctx, settings, NotifyKind::Refreshed, format!("AWS session {} refreshed", t.name), line.clone());
        }
        for h in notify_about(ctx, config, settings, t, &outcome, memo) {
            hint(h);
        }
    }
    let mut chains = 0;
    for (p, chain) in hook_chains(ctx, &extra) {
        let Ok(chain) = chain else { continue };
        if !needs_keeping(&chain) {
            continue;
        }
        chains += 1;
        let desc = resolve::describe(&chain);
        let line = match exec::renew(ctx, config, &chain, settings.threshold, false, &mut |_| None) {
            Ok(c) => {
                if let Some(t) = c.expiration {
                    hint(t - settings.threshold);
                }
                let until = c.expiration.map(expiry::to_iso8601).unwrap_or_else(|| "no expiry".into());
                format!("profile {p} ({desc}): credentials valid until {until}")
            }
            Err(e) => {
                // A login or MFA code is the user's to give; the SSO rows above notify about logins.
                if e.human_step() == HumanStep::None {
                    ok = false;
                }
                format!("profile {p} ({desc}): {e}")
            }
        };
        log::write(ctx, Level::Info, "daemon", &line);
        parts.push(line);
    }
    for p in &problems {
        log::write(ctx, Level::Warn, "daemon", p);
        parts.push(p.clone());
    }
    if targets.is_empty() && problems.is_empty() && chains == 0 {
        parts.push("no [sso-session] in the AWS config; nothing to refresh".into());
    }
    PassSummary { ok, result: parts.join("; "), due_hint }
}

/// Chains the SSO session rows do not cover: `aws login` sessions, assumed roles, web
/// identity. Keeping them renews their cached credentials ahead of the hooks.
fn needs_keeping(chain: &Chain) -> bool {
    !chain.roles.is_empty() || matches!(chain.base, Base::Login(_) | Base::WebIdentity(_))
}

/// A person waits for a browser login; give them more than the hooks' 3 minutes.
pub const INTERACTIVE_LOGIN_TIMEOUT: StdDuration = StdDuration::from_secs(300);

/// What `cc-aws-keepalive refresh` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every `[sso-session]` (and the hooks' legacy SSO profiles).
    All,
    Session(String),
    /// One profile: its SSO session and role credentials, or its
    /// credentials-file entry (through `autoLoginCmd`, as `awsAuthRefresh` does).
    Profile(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no [sso-session {name}] in {path}; `cc-aws-keepalive status` lists the sessions")]
    NoSession { name: String, path: String },
    #[error("profile \"{0}\" uses credential_process, which refreshes itself; nothing to do")]
    CredentialProcess(String),
    #[error(transparent)]
    Sso(#[from] sso::SsoError),
    #[error(transparent)]
    Chain(Box<resolve::ResolveError>),
    #[error(transparent)]
    Profile(#[from] crate::config::ProfileError),
}

/// What a refresh did, per session, plus role credentials for `--profile`.
#[derive(Debug, Default)]
pub struct RefreshReport {
    pub results: Vec<(String, Outcome)>,
    /// `--profile`: the profile's credentials valid until, or why not.
    pub role: Option<Result<Option<OffsetDateTime>, String>>,
    /// `--profile`: the profile's chain, when it is made of more than keys in a file.
    pub chain: Option<Chain>,
    /// `--profile` of a credentials-file profile: the `awsAuthRefresh` exit code.
    pub file_refresh_code: Option<u8>,
    pub problems: Vec<String>,
}

impl RefreshReport {
    pub fn ok(&self) -> bool {
        self.results.iter().all(|(_, o)| !matches!(o, Outcome::Failed { .. } | Outcome::LoginNeeded { .. }))
            && !matches!(self.role, Some(Err(_)))
            && self.file_refresh_code.is_none_or(|c| c == 0)
    }
}

/// `cc-aws-keepalive refresh`: refreshes the selected sessions within the
/// threshold (all with `force`), silently first, then as `opts.login` allows.
/// `say` receives each session's result as it is known.
pub fn refresh(
    ctx: &Ctx,
    config: &Config,
    selection: &Selection,
    opts: &KeepOptions,
    mfa: &mut dyn FnMut(&RoleStep) -> Option<String>,
    say: &mut dyn FnMut(&str),
) -> Result<RefreshReport, SelectError> {
    let mut report = RefreshReport::default();
    let chosen: Vec<Target> = match selection {
        Selection::All | Selection::Session(_) => {
            let (all, problems) = targets(ctx, &hook_profiles(ctx, config));
            report.problems = problems;
            match selection {
                Selection::Session(name) => {
                    let t: Vec<Target> = all.into_iter().filter(|t| &t.name == name).collect();
                    if t.is_empty() {
                        let path =
                            paths::aws_config_file(&ctx.env).map(|p| p.display().to_string()).unwrap_or_default();
                        return Err(SelectError::NoSession { name: name.clone(), path });
                    }
                    t
                }
                _ => all,
            }
        }
        Selection::Profile(p) => {
            if !crate::config::valid_profile_name(p) {
                return Err(crate::config::ProfileError::Invalid { name: p.clone(), source_name: "--profile" }.into());
            }
            let files = AwsFiles::read(&ctx.env).map_err(|e| SelectError::Chain(Box::new(e)))?;
            let chain = resolve::resolve_in(&ctx.env, config, &files, p, Choice::Explicit("--profile"))
                .map_err(|e| SelectError::Chain(Box::new(e)))?;
            match &chain.base {
                Base::Sso(sp) => {
                    let name = sp.session.clone().unwrap_or_else(|| format!("profile {}", sp.profile));
                    report.chain = Some(chain.clone());
                    vec![Target { name, profile: sp.clone(), profiles: vec![p.clone()] }]
                }
                Base::Keys(_) if chain.roles.is_empty() => {
                    // A credentials-file profile: exactly what awsAuthRefresh does.
                    let mut env = ctx.env.clone();
                    env.set(vars::CC_KEEPALIVE_PROFILE, p);
                    let code = crate::hooks::refresh::run(&Ctx::new(env, ctx.now), say);
                    report.file_refresh_code = Some(code);
                    return Ok(report);
                }
                Base::Process { .. } if chain.roles.is_empty() => {
                    return Err(SelectError::CredentialProcess(p.clone()));
                }
                _ => {
                    report.chain = Some(chain);
                    Vec::new()
                }
            }
        }
    };
    for t in &chosen {
        let outcome = keep_one(ctx, config, t, opts, say);
        let line = outcome.describe(ctx.now);
        say(&format!("{}: {line}", t.name));
        log::write(
            ctx,
            if outcome.is_failure() { Level::Warn } else { Level::Info },
            "refresh",
            &format!("{}: {line}", t.name),
        );
        report.results.push((t.name.clone(), outcome));
    }
    if let (Selection::Profile(p), Some(chain)) = (selection, report.chain.clone())
        && report.results.iter().all(|(_, o)| !o.is_failure())
    {
        let r = if opts.force {
            exec::renew(ctx, config, &chain, opts.threshold, true, mfa)
        } else {
            exec::credentials_with_mfa(ctx, config, &chain, mfa)
        };
        let r = r.map(|c| c.expiration).map_err(|e| e.to_string());
        // `profile dev: role credentials …` for SSO, `profile bedrock (bedrock ← role ← …): …` for chains.
        let what = match (&chain.base, chain.roles.is_empty()) {
            (Base::Sso(_), true) => format!("profile {p}: role credentials"),
            _ => format!("profile {p} ({}): credentials", resolve::describe(&chain)),
        };
        match &r {
            Ok(Some(exp)) => {
                say(&format!("{what} valid until {} ({})", expiry::to_iso8601(*exp), expiry::relative(ctx.now, *exp)))
            }
            Ok(None) => say(&format!("{what} ready")),
            Err(e) => say(&format!("profile {p}: {e}")),
        }
        report.role = Some(r);
    }
    Ok(report)
}

/// The real world: the system clock (or `CC_KEEPALIVE_NOW`), real sleeps,
/// config.json re-read before every pass.
struct Real {
    env: Env,
    once: bool,
    warned: Vec<String>,
}

impl World for Real {
    fn now(&mut self) -> OffsetDateTime {
        self.env.get(vars::CC_KEEPALIVE_NOW).and_then(|s| expiry::parse(s).ok()).unwrap_or_else(OffsetDateTime::now_utc)
    }

    fn sleep(&mut self, d: StdDuration) {
        std::thread::sleep(d);
    }

    fn settings(&mut self) -> Settings {
        let loaded = crate::config::load(&self.env);
        let (s, warnings) = settings(&self.env, &loaded.config);
        // Each problem is logged once, not every tick.
        let ctx = Ctx::new(self.env.clone(), self.now());
        for w in loaded.problems().into_iter().chain(warnings) {
            if !self.warned.contains(&w) {
                log::write(&ctx, Level::Warn, "daemon", &w);
                self.warned.push(w);
            }
        }
        s
    }

    fn pass(&mut self, now: OffsetDateTime, why: Why, settings: &Settings, state: &mut DaemonState) -> PassSummary {
        let ctx = Ctx::new(self.env.clone(), now);
        if why == Why::Wake {
            log::write(&ctx, Level::Info, "daemon", "the wall clock jumped (sleep/wake?); checking now");
        }
        let config = crate::config::load(&self.env).config;
        daemon_pass(&ctx, &config, settings, state)
    }

    fn keep_going(&mut self, _state: &DaemonState) -> bool {
        !self.once
    }

    fn save(&mut self, state: &DaemonState) {
        if let Err(e) = write_state(&self.env, state) {
            let ctx = Ctx::new(self.env.clone(), self.now());
            log::write(&ctx, Level::Error, "daemon", &format!("cannot save the daemon state: {e}"));
        }
    }
}

/// Runs the daemon in this process: takes the lock (one per user), then
/// loops until killed, or for one pass with `once`. Returns the last state.
pub fn run(env: Env, once: bool) -> Result<DaemonState, DaemonError> {
    let _lock = acquire(&env)?;
    clean_temp_files(&env);
    let mut real = Real { env: env.clone(), once, warned: Vec::new() };
    let now = real.now();
    let s = real.settings();
    // Memos survive restarts so notifications are not repeated.
    let previous = read_state(&env).unwrap_or_default();
    let state = DaemonState {
        pid: std::process::id(),
        started_at: Some(expiry::to_iso8601(now)),
        interval_seconds: s.interval.as_secs(),
        threshold_minutes: s.threshold.whole_minutes(),
        sessions: previous.sessions,
        ..DaemonState::default()
    };
    write_state(&env, &state).ok();
    let ctx = Ctx::new(env, now);
    log::write(
        &ctx,
        Level::Info,
        "daemon",
        &format!(
            "started (pid {}, every {}, refresh when < {}m left{})",
            state.pid,
            human_interval(s.interval),
            s.threshold.whole_minutes(),
            if once { ", one pass" } else { "" }
        ),
    );
    Ok(run_loop(&mut real, state))
}

/// `10m`, `90s`, `250ms`.
pub fn human_interval(d: StdDuration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        format!("{}ms", d.as_millis())
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

    #[test]
    fn settings_from_config_env_and_tick() {
        let c = Config::default();
        let (s, w) = settings(&Env::default(), &c);
        assert!(w.is_empty());
        assert_eq!(s.interval, StdDuration::from_secs(600));
        assert_eq!(s.threshold, Duration::minutes(30));
        let env = Env::from_pairs([("AWS_SSO_REFRESH_THRESHOLD", "60"), ("AWS_SSO_REFRESH_INTERVAL", "500")]);
        let (s, _) = settings(&env, &c);
        assert_eq!((s.interval, s.threshold), (StdDuration::from_secs(3600), Duration::minutes(60)));
        let env = Env::from_pairs([("AWS_SSO_REFRESH_INTERVAL", "soon"), ("CC_KEEPALIVE_DAEMON_TICK_MS", "200")]);
        let (s, w) = settings(&env, &c);
        assert_eq!(s.interval, StdDuration::from_millis(200));
        assert!(w[0].contains("AWS_SSO_REFRESH_INTERVAL"), "{w:?}");
    }

    #[test]
    fn scheduler_runs_at_start_interval_expiry_and_wake() {
        let iv = StdDuration::from_secs(600);
        let mut s = Scheduler::default();
        assert_eq!(s.due(T0, iv), Some(Why::Start));
        s.planned(T0, iv, None);
        assert_eq!(s.due(T0 + Duration::seconds(15), iv), None);
        assert_eq!(s.sleep_for(T0 + Duration::seconds(15), MAX_TICK), MAX_TICK);
        assert_eq!(s.due(T0 + Duration::seconds(600), iv), Some(Why::Interval));
        // A session entering its window in 2 minutes pulls the next pass in.
        s.planned(T0, iv, Some(T0 + Duration::minutes(2)));
        assert_eq!(s.due(T0 + Duration::seconds(119), iv), None);
        assert_eq!(s.sleep_for(T0 + Duration::seconds(119), MAX_TICK), StdDuration::from_secs(1));
        assert_eq!(s.due(T0 + Duration::seconds(120), iv), Some(Why::Expiry));
        // A hint in the past does not cause a busy loop.
        s.planned(T0, iv, Some(T0 - Duration::minutes(1)));
        assert_eq!(s.next(), Some(T0 + Duration::minutes(10)));
        // Suspended for an hour: the wall clock jumps; check at once.
        s.planned(T0, iv, None);
        assert_eq!(s.due(T0 + Duration::seconds(10), iv), None);
        assert_eq!(s.due(T0 + Duration::hours(1), iv), Some(Why::Wake));
    }

    struct Fake {
        now: OffsetDateTime,
        passes: Vec<(OffsetDateTime, Why)>,
        saved: usize,
        fail: bool,
        suspend: bool,
    }

    impl World for Fake {
        fn now(&mut self) -> OffsetDateTime {
            self.now
        }
        fn sleep(&mut self, d: StdDuration) {
            self.now += d;
            // The machine sleeps for two hours once, after the second pass.
            if std::mem::take(&mut self.suspend) {
                self.now += Duration::hours(2);
            }
        }
        fn settings(&mut self) -> Settings {
            settings(&Env::default(), &Config::default()).0
        }
        fn pass(&mut self, now: OffsetDateTime, why: Why, _: &Settings, _: &mut DaemonState) -> PassSummary {
            self.passes.push((now, why));
            self.suspend = self.passes.len() == 2;
            PassSummary { ok: !self.fail, result: "r".into(), due_hint: None }
        }
        fn keep_going(&mut self, state: &DaemonState) -> bool {
            state.passes < 4
        }
        fn save(&mut self, _: &DaemonState) {
            self.saved += 1;
        }
    }

    #[test]
    fn loop_counts_failures_and_handles_wake() {
        let mut w = Fake { now: T0, passes: vec![], saved: 0, fail: true, suspend: false };
        let st = run_loop(&mut w, DaemonState::default());
        assert_eq!(st.passes, 4);
        assert_eq!(st.consecutive_failures, 4);
        assert_eq!(w.saved, 4);
        let whys: Vec<Why> = w.passes.iter().map(|p| p.1).collect();
        assert_eq!(whys, [Why::Start, Why::Interval, Why::Wake, Why::Interval]);
        assert_eq!(w.passes[1].0, T0 + Duration::minutes(10));
        assert_eq!(st.interval_seconds, 600);
        assert_eq!(st.next_check.as_deref().map(|s| s.len()), Some(20));
    }

    fn status(token: Option<OffsetDateTime>, silent: bool, reg: Option<OffsetDateTime>) -> SessionStatus {
        SessionStatus {
            profile: "p".into(),
            session_label: "sso-session s".into(),
            login_command: "aws sso login --sso-session s".into(),
            token_path: PathBuf::from("/t"),
            token_found: token.is_some(),
            access_token_expires_at: token,
            refresh_token_present: silent,
            registration_expires_at: reg,
            silent_refresh_possible: silent,
            role_cache_path: PathBuf::from("/r"),
            role_credentials_expire_at: None,
            checked_at: T0,
        }
    }

    #[test]
    fn session_end_learns_from_failures_and_short_tokens() {
        let th = Duration::minutes(30);
        let reg = T0 + Duration::days(30);
        let st = status(Some(T0 + Duration::minutes(20)), true, Some(reg));
        let (end, why) = session_end(&st, None, th, T0);
        assert_eq!(end, reg);
        assert!(why.contains("registration expires"), "{why}");
        let failed = Outcome::Failed { error: "x".into() };
        assert_eq!(session_end(&st, Some(&failed), th, T0).0, T0 + Duration::minutes(20));
        let short = Outcome::Refreshed { expires_at: T0 + Duration::minutes(12) };
        let (end, why) = session_end(&st, Some(&short), th, T0);
        assert_eq!(end, T0 + Duration::minutes(12));
        assert!(why.contains("shorter than the refresh threshold"), "{why}");
        let normal = Outcome::Refreshed { expires_at: T0 + Duration::hours(8) };
        assert_eq!(session_end(&st, Some(&normal), th, T0).0, reg);
        let (end, why) = session_end(&status(Some(T0 + Duration::hours(1)), false, None), None, th, T0);
        assert_eq!(end, T0 + Duration::hours(1));
        assert!(why.contains("no refresh token"), "{why}");
        let (end, why) = session_end(&status(None, false, None), None, th, T0);
        assert_eq!(end, T0);
        assert!(why.contains("no cached SSO token"), "{why}");
    }

    #[test]
    fn outcomes_describe_without_secrets_and_intervals_read_well() {
        let o = Outcome::Refreshed { expires_at: T0 + Duration::hours(1) };
        assert_eq!(o.describe(T0), "refreshed, valid until 2026-11-22T13:00:00Z (in 1h0m)");
        assert_eq!(human_interval(StdDuration::from_secs(600)), "10m");
        assert_eq!(human_interval(StdDuration::from_secs(90)), "90s");
        assert_eq!(human_interval(StdDuration::from_millis(150)), "150ms");
    }
}
