//! Crash safety: an SSO refresh (an export inside the refresh window) has its
//! refresh worker — the process that calls CreateToken and writes the token
//! cache, see `keepalive_core::providers::worker` — killed with SIGKILL at
//! random moments around the token cache write, 200 times. Afterwards the
//! token cache must always be whole JSON with the old token pair or the new one
//! (access token, its expiry and the refresh token from the same CreateToken),
//! never a mix, never nothing. (Kills of the export itself, which no longer
//! touch the write, are `token_safety.rs`: they never lose the new token.)
//!
//! Aiming the kills: CreateToken is answered late by a fixed delay (`Fault::Slow`),
//! the test sees the request arrive, and kills the worker at arrival + delay + a
//! random offset spread over the time from the answer to the worker's exit
//! (measured in runs without a kill, first and every 20 runs, as the machine's
//! load changes). Most kills so land between the answer and the rename; the
//! output reports where they landed.

// SIGKILL semantics, /proc and the timing they rely on are Linux ones.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{Fault, Route};

use crate::bin;
use crate::sso::Sso;

const RUNS: usize = 200;
/// How late the mock answers CreateToken: the anchor the kill offsets count from.
const ANSWER_DELAY: Duration = Duration::from_millis(25);
/// No single run may take longer than this (a hung export fails the test).
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// xorshift64*: enough randomness for kill offsets without a dependency.
struct Rng(u64);

impl Rng {
    fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng((nanos ^ u64::from(std::process::id()).rotate_left(32)) | 1)
    }

    fn seed(&self) -> u64 {
        self.0
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo).max(1) as u64) as i64
    }
}

/// Temp files our atomic writes leave behind when killed (`.NAME.tmp.PID.N.NANOS`).
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".tmp.")).collect()
        })
        .unwrap_or_default()
}

/// The refresh worker the export started for this home: found through `/proc` by its hidden
/// argument and the home's path in its job.
pub(crate) fn find_worker(s: &Sso) -> Option<u32> {
    let home = s.home.path().to_string_lossy().into_owned();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        (cmdline.contains(keepalive_core::providers::worker::WORKER_ARG) && cmdline.contains(&home)).then_some(pid)
    })
}

/// Whether `pid` still runs (a zombie waiting for the export to reap it does not).
pub(crate) fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| st.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')))
        .unwrap_or(false)
}

fn spawn_export(s: &Sso) -> Child {
    let mut cmd = s.home.command(bin("export"));
    cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", s.mock.url())
        .env("AWS_ENDPOINT_URL_SSO", s.mock.url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.home.join("export.stderr")).unwrap());
    cmd.spawn().unwrap()
}

/// Polls `f` every 100 µs until it is true; the moment it became true, or
/// `None` when `child` ended first or the limit passed.
fn wait_until(child: &mut Child, start: Instant, mut f: impl FnMut() -> bool) -> Option<Instant> {
    while start.elapsed() < RUN_LIMIT {
        if f() {
            return Some(Instant::now());
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return if f() { Some(Instant::now()) } else { None };
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    None
}

/// Waits for the child to end (bounded); kills it if it overstays.
fn reap(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What one run left in the token cache.
#[derive(Debug, PartialEq, Eq)]
enum Left {
    Old,
    New,
}

/// Waits until the mock has answered every request that reached it. A killed
/// export's CreateToken may still be there (answered late on purpose); when it
/// completes it rotates the refresh token, as AWS would.
fn settle(s: &Sso) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let arrived = || Route::ALL.iter().map(|r| s.mock.count(*r)).sum::<usize>();
    while s.mock.requests().len() < arrived() {
        assert!(Instant::now() < deadline, "the mock did not finish its requests");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sets up the "old" state: the token 5 minutes from expiry (inside the
/// 15-minute window), the mock accepting its refresh token, no role credentials
/// cached (so the export has to go through the token). Temp files killed
/// writes left in the token cache directory stay, for the end of the test.
fn reset(s: &Sso) {
    settle(s);
    s.write_token(5 * 60, 80 * 86400);
    s.mock.set_refresh_token(&s.refresh_token);
    s.mock.clear_faults();
    let _ = std::fs::remove_dir_all(s.home.join(".aws/cli/cache"));
}

/// Checks the token cache after a run: whole JSON, every untouched field as
/// before, and either the old triple or one CreateToken's triple.
fn judge(s: &Sso, old: &Value, issued_before: usize, run: usize) -> Left {
    let path = s.home.join(s.token_rel());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("run {run}: token cache gone: {e}"));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("run {run}: token cache is not JSON ({e}); {} bytes", text.len()));
    for key in ["startUrl", "region", "clientId", "clientSecret", "registrationExpiresAt", "unknownField"] {
        assert_eq!(v[key], old[key], "run {run}: {key} changed");
    }
    let triple = |v: &Value| {
        (
            v["accessToken"].as_str().unwrap_or("<missing>").to_string(),
            v["refreshToken"].as_str().unwrap_or("<missing>").to_string(),
            v["expiresAt"].as_str().unwrap_or("<missing>").to_string(),
        )
    };
    let (at, rt, exp) = triple(&v);
    if (at.as_str(), rt.as_str(), exp.as_str())
        == (s.access_token.as_str(), s.refresh_token.as_str(), old["expiresAt"].as_str().unwrap())
    {
        return Left::Old;
    }
    // The new pair must come from one CreateToken of this run: the mock
    // numbers the access and refresh token of one answer alike.
    let ats = s.mock.issued_access_tokens();
    let rts = s.mock.issued_refresh_tokens();
    let i = ats.iter().position(|t| *t == at).unwrap_or_else(|| {
        panic!("run {run}: the cache holds neither the old access token nor an issued one ({} issued)", ats.len())
    });
    assert!(i >= issued_before, "run {run}: an access token from an earlier run");
    assert_eq!(rts.get(i), Some(&rt), "run {run}: access and refresh token from different CreateTokens (or old + new)");
    assert_ne!(exp, old["expiresAt"].as_str().unwrap(), "run {run}: new access token with the old expiry");
    Left::New
}

/// One run without a kill: the time from CreateToken's answer to the worker's exit.
fn measure_gap(s: &Sso) -> Duration {
    reset(s);
    s.mock.push_fault(Route::Token, Fault::Slow(ANSWER_DELAY));
    let tokens = s.mock.count(Route::Token);
    let start = Instant::now();
    let mut child = spawn_export(s);
    let asked = wait_until(&mut child, start, || s.mock.count(Route::Token) > tokens);
    let worker = find_worker(s);
    let ended = worker.and_then(|pid| wait_until(&mut child, start, || !running(pid)));
    let status = reap(&mut child, RUN_LIMIT);
    assert!(
        status.is_some_and(|st| st.success()),
        "calibration export failed: {status:?}: {}\n{}",
        s.home.read("export.stderr"),
        s.mock.dump()
    );
    let (Some(a), Some(e)) = (asked, ended) else { panic!("calibration: no CreateToken or no refresh worker") };
    e.saturating_duration_since(a + ANSWER_DELAY)
}

#[test]
fn sigkill_during_the_sso_refresh_leaves_the_old_token_or_the_new_one() {
    let _heavy = crate::load::HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let s = Sso::new();
    let mut rng = Rng::from_time();
    let seed = rng.seed();
    let cache_dir = s.home.join(".aws/sso/cache");

    // Calibration, repeated every 20 runs as the machine's load changes: how
    // long from CreateToken's answer to the portal call that follows the token
    // write (the window the kills should land in).
    let mut gaps: Vec<Duration> = (0..3).map(|_| measure_gap(&s)).collect();
    let median_gap_us = |gaps: &[Duration]| {
        let mut recent: Vec<Duration> = gaps.iter().rev().take(5).copied().collect();
        recent.sort();
        recent[recent.len() / 2].as_micros().max(200) as i64
    };

    let (mut old, mut new, mut exited_first, mut temp_left, mut rotation_lost) = (0, 0, 0, 0, 0);
    let mut offsets_us = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        if run % 20 == 19 {
            gaps.push(measure_gap(&s));
        }
        let gap_us = median_gap_us(&gaps);
        reset(&s);
        let before: Value = s.token();
        s.mock.push_fault(Route::Token, Fault::Slow(ANSWER_DELAY));
        let tokens = s.mock.count(Route::Token);
        let issued_before = s.mock.issued_access_tokens().len();
        // From a little before the answer to a little after the portal call.
        let offset_us = rng.range(-gap_us / 4, gap_us);
        offsets_us.push(offset_us);
        let start = Instant::now();
        let mut child = spawn_export(&s);
        let asked = wait_until(&mut child, start, || s.mock.count(Route::Token) > tokens)
            .unwrap_or_else(|| panic!("run {run} (seed {seed}): the export never called CreateToken"));
        let worker = find_worker(&s).unwrap_or_else(|| panic!("run {run} (seed {seed}): no refresh worker"));
        let at = if offset_us >= 0 {
            asked + ANSWER_DELAY + Duration::from_micros(offset_us as u64)
        } else {
            asked + ANSWER_DELAY - Duration::from_micros(offset_us.unsigned_abs())
        };
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        if !running(worker) {
            exited_first += 1;
        } else if let Some(pid) = rustix::process::Pid::from_raw(worker as i32) {
            // It may end between the check and the kill; either is fine.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        // The export carries on without its worker's answer (it re-reads the cache).
        assert!(reap(&mut child, RUN_LIMIT).is_some(), "run {run}: the export did not end");
        settle(&s);
        temp_left = temp_files(&cache_dir).len();
        let left = judge(&s, &before, issued_before, run);
        // Role credentials, if any were cached, are whole too.
        if let Ok(rd) = std::fs::read_dir(s.home.join(".aws/cli/cache")) {
            for e in rd.flatten().filter(|e| !e.file_name().to_string_lossy().contains(".tmp.")) {
                let r = keepalive_core::providers::sso::role_cache::read(&e.path());
                assert!(matches!(r, Ok(Some(_))), "run {run} (seed {seed}): role cache unreadable: {r:?}");
            }
        }
        match left {
            Left::Old => {
                old += 1;
                if s.mock.issued_access_tokens().len() > issued_before {
                    rotation_lost += 1;
                }
            }
            Left::New => new += 1,
        }
    }
    assert_eq!(old + new, RUNS);
    // The kills must have been aimed well: both outcomes, mostly real kills.
    assert!(old >= RUNS / 10 && new >= RUNS / 10, "kills missed the write (old {old}, new {new}, seed {seed})");
    assert!(exited_first <= RUNS / 2, "{exited_first} workers ended before their kill (seed {seed})");
    // Temp files killed writes left may hold the new refresh token: the next
    // write of the token cache removes those old enough to be orphans.
    let leftovers = temp_files(&cache_dir);
    assert_eq!(leftovers.len(), temp_left);
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for name in &leftovers {
        let f = std::fs::File::options().write(true).open(cache_dir.join(name)).unwrap();
        f.set_modified(an_hour_ago).unwrap();
    }
    reset(&s);
    let out = s.run("export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(temp_files(&cache_dir), Vec::<String>::new(), "orphaned temp files stay after a successful write");

    offsets_us.sort();
    eprintln!(
        "crash: {RUNS} SIGKILLs of the refresh worker in {:?} (seed {seed}): old token {old}, new token {new}; \
         {exited_first} workers had already exited; {temp_left} temp files left by kills between temp file \
         and rename (removed by the next write); {rotation_lost} kills after CreateToken reached the server but \
         before the rename (old pair kept while the server rotated the refresh token: a SIGKILL aimed at the worker \
         itself, which nothing in our process tree sends); answer→worker-exit gaps {:?} µs, kill offsets {}..{} µs after the answer",
        started.elapsed(),
        gaps.iter().map(Duration::as_micros).collect::<Vec<_>>(),
        offsets_us[0],
        offsets_us[RUNS - 1],
    );
}
