//! The daemon as a process: its one-per-user lock, its state file, the loop that runs a pass
//! every interval, and stopping.
//!
//! Timing is by the wall clock and absolute expiry times, not by summing sleeps: a laptop that
//! slept through a check finds it overdue on wake and runs it at once. The loop sleeps in short
//! ticks so that happens promptly.
//!
//! Stopping: the binary turns SIGTERM and SIGINT into a [`StopFlag`] (its handler replaces an
//! inherited "ignore", as `nohup` or `&` in a script leave SIGINT). The loop then starts
//! nothing new; a pass in flight finishes the item it is on, and the process waits at most
//! [`STOP_GRACE`] for it before it exits anyway, logging that it stopped. Nothing can be half
//! written either way: every file is replaced atomically, and the lock (by which `status`
//! judges "running") goes with the process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::discovery::Discovery;
use super::pass::{PassSummary, daemon_pass};
use super::policy::{SessionMemo, Settings, settings};
use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::expiry;
use crate::fsutil::{self, FsError};
use crate::lock::{self, FileLock, LockError};
use crate::log::{self, Level};
use crate::paths::{self, PathError};

/// Longest sleep between looks at the clock: bounds how late a check runs
/// after the machine wakes up.
pub const MAX_TICK: StdDuration = StdDuration::from_secs(15);
/// How long a stop request waits for the pass in flight (its HTTP calls end within 15 s).
pub const STOP_GRACE: StdDuration = StdDuration::from_secs(20);
/// How often a sleeping loop looks at the stop flag.
const STOP_POLL: StdDuration = StdDuration::from_millis(50);

/// Whether the daemon holds the lock right now.
pub fn running(env: &Env) -> bool {
    paths::daemon_lock(env).map(|p| lock::is_held(&p)).unwrap_or(false)
}

/// The daemon's state file, read by `status`. Times are RFC 3339 UTC in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonState {
    pub pid: u32,
    #[serde(with = "expiry::serde_opt")]
    pub started_at: Option<OffsetDateTime>,
    pub interval_seconds: u64,
    pub threshold_minutes: i64,
    #[serde(with = "expiry::serde_opt")]
    pub last_run: Option<OffsetDateTime>,
    pub last_result: Option<String>,
    pub last_ok: Option<bool>,
    pub consecutive_failures: u32,
    pub passes: u64,
    #[serde(with = "expiry::serde_opt")]
    pub next_check: Option<OffsetDateTime>,
    pub sessions: BTreeMap<String, SessionMemo>,
}

/// The state file, `None` when absent or unreadable (it is only informative).
pub fn read_state(env: &Env) -> Option<DaemonState> {
    let path = paths::daemon_state_file(env).ok()?;
    let text = fsutil::read_optional(&path).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn write_state(env: &Env, state: &DaemonState) -> Result<(), FsError> {
    let Ok(path) = paths::daemon_state_file(env) else { return Ok(()) };
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE)?;
    }
    let mut text = serde_json::to_string_pretty(state).unwrap_or_default();
    text.push('\n');
    fsutil::write_atomic(&path, text.as_bytes(), Some(fsutil::SECRET_FILE_MODE))
}

/// The state file's path, for messages.
pub fn describe_state_path(env: &Env) -> String {
    paths::daemon_state_file(env).map(|p| p.display().to_string()).unwrap_or_else(|_| "daemon.json".into())
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
    let path = paths::daemon_lock(env)?;
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
    let Ok(path) = paths::daemon_state_file(env) else { return };
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

/// A stop request, set by the binary's signal handler: the signal's number, 0 while none.
/// Shared between the handler, the loop and the thread waiting for it.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(pub Arc<AtomicUsize>);

impl StopFlag {
    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<usize> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// Asks to stop as if signal `n` arrived (tests, and callers without signals).
    pub fn request(&self, n: usize) {
        self.0.store(n.max(1), Ordering::SeqCst);
    }
}

/// `SIGTERM`, `SIGINT`, or the number.
pub fn signal_name(n: usize) -> String {
    match n {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
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

/// What the loop needs from the world, so tests drive it with a fake clock.
pub trait World {
    fn now(&mut self) -> OffsetDateTime;
    fn sleep(&mut self, d: StdDuration);
    fn settings(&mut self) -> Settings;
    fn pass(&mut self, now: OffsetDateTime, why: Why, settings: &Settings, state: &mut DaemonState) -> PassSummary;
    /// Called after every pass with the state just written; `false` stops the loop.
    fn keep_going(&mut self, state: &DaemonState) -> bool;
    /// Whether a stop was requested; checked before every pass.
    fn stopping(&mut self) -> bool;
    fn save(&mut self, state: &DaemonState);
}

/// The daemon's loop. Runs until `world.keep_going` says stop or a stop is requested.
pub fn run_loop(world: &mut dyn World, mut state: DaemonState) -> DaemonState {
    let mut sched = Scheduler::default();
    loop {
        if world.stopping() {
            return state;
        }
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
        state.last_run = Some(now);
        let mut result = summary.result();
        if summary.interrupted {
            result.push_str(if result.is_empty() { "stopped before the pass" } else { "; stopped before the rest" });
        }
        state.last_result = Some(result);
        state.last_ok = Some(summary.ok);
        state.consecutive_failures = if summary.ok { 0 } else { state.consecutive_failures.saturating_add(1) };
        state.passes = state.passes.saturating_add(1);
        state.next_check = sched.next();
        world.save(&state);
        if !world.keep_going(&state) {
            return state;
        }
    }
}

/// The real world: the system clock (or `CC_KEEPALIVE_NOW`), real sleeps that a stop
/// request cuts short, config.json re-read before every pass.
struct Real {
    env: Env,
    once: bool,
    warned: Vec<String>,
    stop: StopFlag,
    /// The last pass's lines (`--once` prints them).
    last_lines: Vec<String>,
}

impl World for Real {
    fn now(&mut self) -> OffsetDateTime {
        self.env.get(vars::CC_KEEPALIVE_NOW).and_then(|s| expiry::parse(s).ok()).unwrap_or_else(OffsetDateTime::now_utc)
    }

    fn sleep(&mut self, d: StdDuration) {
        let end = Instant::now() + d;
        while self.stop.requested().is_none() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
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
        let found = Discovery::read(&ctx, &config);
        let stop = self.stop.clone();
        let summary = daemon_pass(&ctx, &config, settings, &found, &mut state.sessions, &|| stop.requested().is_some());
        self.last_lines = summary.lines.clone();
        summary
    }

    fn keep_going(&mut self, _state: &DaemonState) -> bool {
        !self.once && self.stop.requested().is_none()
    }

    fn stopping(&mut self) -> bool {
        self.stop.requested().is_some()
    }

    fn save(&mut self, state: &DaemonState) {
        if let Err(e) = write_state(&self.env, state) {
            let ctx = Ctx::new(self.env.clone(), self.now());
            log::write(&ctx, Level::Error, "daemon", &format!("cannot save the daemon state: {e}"));
        }
    }
}

/// How a daemon run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The last state (read back from the file when the loop did not finish in time).
    pub state: DaemonState,
    /// The last pass's lines.
    pub lines: Vec<String>,
    /// The signal that stopped it, if one did.
    pub stopped_by: Option<usize>,
}

/// Runs the daemon in this process: takes the lock (one per user), then loops until `stop` is
/// requested, or for one pass with `once`.
pub fn run(env: Env, once: bool, stop: StopFlag) -> Result<RunEnd, DaemonError> {
    let _lock = acquire(&env)?;
    clean_temp_files(&env);
    let mut real = Real { env: env.clone(), once, warned: Vec::new(), stop: stop.clone(), last_lines: Vec::new() };
    let now = real.now();
    let s = real.settings();
    // Memos survive restarts so notifications are not repeated.
    let previous = read_state(&env).unwrap_or_default();
    let state = DaemonState {
        pid: std::process::id(),
        started_at: Some(now),
        interval_seconds: s.interval.as_secs(),
        threshold_minutes: s.threshold.whole_minutes(),
        sessions: previous.sessions,
        ..DaemonState::default()
    };
    write_state(&env, &state).ok();
    log::write(
        &Ctx::new(env.clone(), now),
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
    // The loop runs on its own thread, so a stop is answered within STOP_GRACE even when a
    // pass is stuck in a slow call (a login command may run for minutes).
    let worker = std::thread::spawn(move || {
        let state = run_loop(&mut real, state);
        (state, real.last_lines)
    });
    let mut grace_until: Option<Instant> = None;
    while !worker.is_finished() {
        if grace_until.is_none() && stop.requested().is_some() {
            grace_until = Some(Instant::now() + STOP_GRACE);
        }
        if grace_until.is_some_and(|g| Instant::now() >= g) {
            break;
        }
        std::thread::sleep(STOP_POLL);
    }
    let finished = worker.is_finished();
    let (state, lines) = match finished.then(|| worker.join()) {
        Some(Ok(done)) => done,
        _ => (read_state(&env).unwrap_or_default(), Vec::new()),
    };
    let stopped_by = stop.requested();
    if let Some(sig) = stopped_by {
        let ctx = Ctx::new(env.clone(), OffsetDateTime::now_utc());
        let how = if finished {
            "after finishing the work in flight".to_string()
        } else {
            format!("without waiting longer than {} s for the work in flight", STOP_GRACE.as_secs())
        };
        log::write(
            &ctx,
            Level::Info,
            "daemon",
            &format!("stopped by {} {how} (pid {})", signal_name(sig), std::process::id()),
        );
    }
    Ok(RunEnd { state, lines, stopped_by })
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
    use crate::config::Config;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

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
        stop_after: Option<usize>,
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
            PassSummary { ok: !self.fail, lines: vec!["r".into()], ..PassSummary::default() }
        }
        fn keep_going(&mut self, state: &DaemonState) -> bool {
            state.passes < 4
        }
        fn stopping(&mut self) -> bool {
            self.stop_after.is_some_and(|n| self.passes.len() >= n)
        }
        fn save(&mut self, _: &DaemonState) {
            self.saved += 1;
        }
    }

    #[test]
    fn loop_counts_failures_and_handles_wake() {
        let mut w = Fake { now: T0, passes: vec![], saved: 0, fail: true, suspend: false, stop_after: None };
        let st = run_loop(&mut w, DaemonState::default());
        assert_eq!(st.passes, 4);
        assert_eq!(st.consecutive_failures, 4);
        assert_eq!(w.saved, 4);
        let whys: Vec<Why> = w.passes.iter().map(|p| p.1).collect();
        assert_eq!(whys, [Why::Start, Why::Interval, Why::Wake, Why::Interval]);
        assert_eq!(w.passes[1].0, T0 + Duration::minutes(10));
        assert_eq!(st.interval_seconds, 600);
        assert!(st.next_check.is_some_and(|t| t > T0));
        // The state file keeps its text form.
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["nextCheck"].as_str().map(str::len), Some(20));
    }

    #[test]
    fn a_stop_request_ends_the_loop_before_the_next_pass() {
        let mut w = Fake { now: T0, passes: vec![], saved: 0, fail: false, suspend: false, stop_after: Some(2) };
        let st = run_loop(&mut w, DaemonState::default());
        assert_eq!(st.passes, 2);
        let flag = StopFlag::default();
        assert_eq!(flag.requested(), None);
        flag.request(15);
        assert_eq!(flag.requested().map(signal_name).as_deref(), Some("SIGTERM"));
    }

    #[test]
    fn intervals_read_well() {
        assert_eq!(human_interval(StdDuration::from_secs(600)), "10m");
        assert_eq!(human_interval(StdDuration::from_secs(90)), "90s");
        assert_eq!(human_interval(StdDuration::from_millis(150)), "150ms");
    }
}
