//! Load: 50 processes at a time, `cc-aws-export`, `cc-aws-check` and
//! `cc-aws-statusline` in turn, for 10 s on one SSO profile, while its access
//! token crosses the refresh window twice (real clock). Exactly one CreateToken
//! per crossing, no failed call, no corrupt or temp file afterwards.
//!
//! The schedule, with the default 15-minute window (`ssoRefreshMinutes`):
//! - the cached token enters the window about 2 s in;
//! - the mock issues the first refreshed token with 15 min + 2 s, so it enters
//!   the window again about 2 s after that refresh; the test then switches the
//!   mock to one-hour tokens, so the second refresh is the last;
//! - role credentials are issued with 10 min + 1 s, so they are handed out as
//!   fresh (10 minutes left at least) for about a second: exports keep going to
//!   the token every second, as they do when Claude Code's credentials run out.
//!
//! In the hooks, token refreshes happen under the role-credential lock (export,
//! refresh) or the session lock alone (the background refresh, started at most
//! once a minute): a broken role lock shows up here as extra portal calls; the
//! session lock's re-read is covered by the threads-and-processes tests in
//! keepalive-core.

// Unix processes and /proc.
#![cfg(unix)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{Route, rfc3339, unix_now};

use crate::bin;
use crate::sso::Sso;

const WORKERS: usize = 50;
const DURATION: Duration = Duration::from_secs(10);
/// One call may take this long before it counts as hung.
const CALL_LIMIT: Duration = Duration::from_secs(30);
const WINDOW_SECS: u64 = 15 * 60;

/// Held by the tests that load the machine on purpose (crash, load), so they
/// do not skew each other's timing.
pub static HEAVY: Mutex<()> = Mutex::new(());

/// One finished call.
struct Call {
    bin: &'static str,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `cmd` with `stdin`, bounded by `limit`. Polls with a growing pause
/// (0.2 → 5 ms) so short calls are timed closely without 50 threads spinning.
/// Output is read after exit: our hooks print far less than a pipe buffer.
fn run_timed(mut cmd: Command, stdin: &[u8], limit: Duration) -> (Option<i32>, String, String, Duration) {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    let mut pause = Duration::from_micros(200);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut p) = child.stdout.take() {
        let _ = p.read_to_string(&mut out);
    }
    if let Some(mut p) = child.stderr.take() {
        let _ = p.read_to_string(&mut err);
    }
    (code, out, err, elapsed)
}

/// Detached background processes (`__background-…`) of the hooks whose
/// `HOME` is `home`, found through /proc. Elsewhere: none known.
pub fn detached_running(home: &Path) -> usize {
    #[cfg(target_os = "linux")]
    {
        let want = format!("HOME={}", home.display());
        let Ok(rd) = std::fs::read_dir("/proc") else { return 0 };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
            .filter(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if !String::from_utf8_lossy(&cmdline).contains("__background") {
                    return false;
                }
                let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
                environ.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
            })
            .count()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = home;
        0
    }
}

/// Waits (at most `limit`) until no detached hook process of `home` runs.
pub fn wait_for_detached(home: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    #[cfg(not(target_os = "linux"))]
    std::thread::sleep(Duration::from_secs(2));
    while detached_running(home) > 0 {
        assert!(Instant::now() < deadline, "detached hook processes still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file below `dir` (recursively) whose name marks an unfinished atomic write.
pub fn temp_files_below(dir: &Path) -> Vec<String> {
    test_support::files_below(dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".tmp.")))
        .map(|p| p.display().to_string())
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn fifty_processes_for_ten_seconds_across_two_window_crossings() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let s = Sso::new();
    // Enters the 15-minute window 2 s from now (the file has whole seconds).
    let now = unix_now();
    let first_expiry = now + WINDOW_SECS + 3;
    s.write_token(0, 80 * 86400);
    let mut t = s.token();
    t["expiresAt"] = rfc3339(first_expiry).into();
    s.home.write(s.token_rel(), t.to_string());
    s.mock.set_token_expires_in(WINDOW_SECS as i64 + 2);
    s.mock.set_role_creds_lifetime(10 * 60 + 1);

    let calls: Mutex<Vec<Call>> = Mutex::new(Vec::new());
    let start = Instant::now();
    let started_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let check_in =
        br#"{"session_id":"s","transcript_path":"/t","cwd":"/","hook_event_name":"UserPromptSubmit","prompt":"hi"}"#;
    let status_in = br#"{"session_id":"s","model":{"id":"m","display_name":"M"},"workspace":{"current_dir":"/"}}"#;
    std::thread::scope(|sc| {
        // After the first refresh, further tokens last an hour: two crossings in all.
        sc.spawn(|| {
            // (Issued, not merely asked for: the mock reads the lifetime while answering.)
            while start.elapsed() < DURATION + CALL_LIMIT && s.mock.issued_access_tokens().is_empty() {
                std::thread::sleep(Duration::from_millis(5));
            }
            s.mock.set_token_expires_in(3600);
        });
        for w in 0..WORKERS {
            let calls = &calls;
            let s = &s;
            sc.spawn(move || {
                let mut i = w;
                while start.elapsed() < DURATION {
                    let (name, stdin): (&'static str, &[u8]) = match i % 3 {
                        0 => ("export", b""),
                        1 => ("check", check_in),
                        _ => ("statusline", status_in),
                    };
                    i += 1;
                    let mut cmd = s.home.command(bin(name));
                    cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", s.mock.url()).env("AWS_ENDPOINT_URL_SSO", s.mock.url());
                    let (code, stdout, stderr, elapsed) = run_timed(cmd, stdin, CALL_LIMIT);
                    calls.lock().unwrap().push(Call { bin: name, code, stdout, stderr, elapsed });
                }
            });
        }
    });
    let load_time = start.elapsed();
    wait_for_detached(s.home.path(), Duration::from_secs(30));
    let calls = calls.into_inner().unwrap();

    // Zero failures.
    for c in &calls {
        let what =
            format!("{} after {:?}: code {:?}\nstdout: {}\nstderr: {}", c.bin, c.elapsed, c.code, c.stdout, c.stderr);
        assert_eq!(c.code, Some(0), "{what}");
        assert!(!c.stderr.contains("panicked"), "{what}");
        match c.bin {
            "export" => {
                let v: Value = serde_json::from_str(&c.stdout).unwrap_or_else(|e| panic!("{e}: {what}"));
                for k in ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"] {
                    assert!(v["Credentials"][k].as_str().is_some_and(|x| !x.is_empty()), "{k}: {what}");
                }
                assert_eq!(c.stderr, "", "{what}");
            }
            "check" => assert_eq!(c.stdout, "", "a silent refresh is possible: no warning; {what}"),
            _ => assert!(
                c.stdout.starts_with("AWS: ") && !c.stdout.contains("no credentials") && !c.stdout.contains("EXPIRED"),
                "{what}"
            ),
        }
        s.assert_no_secret(&c.stderr);
        if c.bin != "export" {
            s.assert_no_secret(&c.stdout);
        }
    }

    // One CreateToken per crossing, each with the then-current refresh token.
    let token_calls: Vec<_> = s.mock.requests().into_iter().filter(|r| r.route == Route::Token).collect();
    assert_eq!(token_calls.len(), 2, "CreateToken calls: {}", s.mock.dump());
    assert!(token_calls.iter().all(|r| r.status == Some(200)), "{}", s.mock.dump());
    let crossing = std::time::UNIX_EPOCH + Duration::from_secs(first_expiry - WINDOW_SECS);
    assert!(token_calls[0].at >= crossing, "a CreateToken before the token entered the window");
    let refused_portal =
        s.mock.requests().iter().filter(|r| r.route == Route::RoleCredentials && r.status != Some(200)).count();
    assert_eq!(refused_portal, 0, "{}", s.mock.dump());
    // Role credentials are cached with whole seconds: fresh until the next
    // second starts. One fetch per second at most, across all processes (plus
    // the background refresh's): the role lock works.
    let role_calls = s.mock.count(Route::RoleCredentials);
    let most = load_time.as_secs() as usize + 3;
    assert!(role_calls <= most, "{role_calls} GetRoleCredentials in {load_time:?}, more than {most}");

    // Nothing corrupt, nothing half-written, the newest token saved.
    let token_path = s.home.join(s.token_rel());
    let token = keepalive_core::providers::sso::cache::read(&token_path).unwrap().unwrap();
    let issued = s.mock.issued_access_tokens();
    assert_eq!(token.access_token.as_ref().map(|t| t.expose().to_string()), issued.last().cloned());
    assert_eq!(token.refresh_token.as_ref().map(|t| t.expose().to_string()), s.mock.refresh_token());
    let role_dir = s.home.join(".aws/cli/cache");
    let role_files: Vec<_> = std::fs::read_dir(&role_dir).unwrap().flatten().collect();
    assert_eq!(role_files.len(), 1, "{role_files:?}");
    assert!(keepalive_core::providers::sso::role_cache::read(&role_files[0].path()).unwrap().is_some());
    for dir in [s.home.join(".aws"), s.home.state_dir()] {
        let temps = temp_files_below(&dir);
        assert!(temps.is_empty(), "temp files left: {temps:?}");
    }
    let log = s.home.read(".local/state/cc-aws-keepalive/keepalive.log");
    assert!(!log.contains(" ERROR "), "{log}");
    s.assert_no_secret(&log);

    let since = |r: &test_support::RecordedRequest| {
        let at = r.at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        format!("{:.1} s", at - started_unix)
    };
    let mut report = format!(
        "load: {} calls by {WORKERS} workers in {load_time:?}; CreateToken {} (at {}), GetRoleCredentials {}",
        calls.len(),
        token_calls.len(),
        token_calls.iter().map(since).collect::<Vec<_>>().join(", "),
        s.mock.count(Route::RoleCredentials)
    );
    for name in ["export", "check", "statusline"] {
        let mut times: Vec<Duration> = calls.iter().filter(|c| c.bin == name).map(|c| c.elapsed).collect();
        times.sort();
        report.push_str(&format!(
            "\n  {name:<10} {:>5} calls  p50 {:>4} ms  p99 {:>5} ms  max {:>5} ms",
            times.len(),
            percentile(&times, 0.50).as_millis(),
            percentile(&times, 0.99).as_millis(),
            times.last().copied().unwrap_or_default().as_millis()
        ));
    }
    eprintln!("{report}");
}
