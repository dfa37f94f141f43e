//! The daemon: a few short intervals (test-only tick override), one instance
//! per user, notifications once per event, and SIGTERM leaving intact files.

use std::os::unix::process::ExitStatusExt;

use test_support::{Route, TestHome};

use crate::{
    NOTIFICATIONS, Spawned, all_logs, assert_clean, command, eventually, iso, run, signal, sso_mock, token_rel,
};

/// A home whose corp token (real clock) is inside the 30-minute threshold.
fn live_home() -> TestHome {
    let home = TestHome::new();
    home.write(".aws/config", crate::aws_config());
    let now = time::OffsetDateTime::now_utc();
    crate::write_token(
        &home,
        "corp",
        &iso(now + time::Duration::minutes(20)),
        Some(crate::REFRESH),
        &iso(now + time::Duration::days(90)),
    );
    home
}

fn state(home: &TestHome) -> Option<serde_json::Value> {
    let text = home.try_read(".local/state/cc-aws-keepalive/daemon.json")?;
    serde_json::from_str(&text).ok()
}

fn passes(home: &TestHome) -> u64 {
    state(home).and_then(|s| s["passes"].as_u64()).unwrap_or(0)
}

fn daemon(home: &TestHome, mock: &test_support::MockAws) -> Spawned {
    let mut cmd = command(home, Some(mock), &["daemon"]);
    cmd.env("CC_KEEPALIVE_DAEMON_TICK_MS", "150");
    Spawned::start(cmd)
}

#[test]
fn runs_intervals_refreshes_once_and_stops_on_sigterm() {
    let home = live_home();
    let mock = sso_mock();
    let mut d = daemon(&home, &mock);
    assert!(eventually(20, || passes(&home) >= 4), "no 4 passes: {:?}\n{}", state(&home), all_logs(&home));
    // The first pass refreshed corp (20 minutes left); later ones found it fine.
    assert_eq!(mock.count(Route::Token), 1, "{}", mock.dump());
    let st = state(&home).unwrap();
    assert_eq!(st["pid"], d.pid());
    assert!(st["lastResult"].as_str().unwrap().contains("corp: fine"), "{st}");
    assert!(st["nextCheck"].is_string());

    // `status` sees it running.
    let out = run(&home, Some(&mock), &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["daemon"]["running"], true, "{}", out.stdout);
    assert_eq!(v["daemon"]["pid"], d.pid());

    // other has no token: one notification, not one per interval.
    let seen = home.try_read(NOTIFICATIONS).unwrap_or_default();
    let logins: Vec<&str> = seen.lines().filter(|l| l.starts_with("login-needed|")).collect();
    assert_eq!(logins.len(), 1, "{seen}");
    assert!(logins[0].contains("other") && logins[0].contains("aws sso login --sso-session other"), "{seen}");

    signal(d.pid(), "TERM");
    let status = d.wait_exit(5).expect("the daemon did not stop within 5 s of SIGTERM");
    assert_eq!(status.signal(), Some(15), "{status:?}");
    // Files are whole: the state file and the token cache parse, no temp files are left.
    assert!(state(&home).is_some(), "state file corrupt");
    let tok: serde_json::Value = serde_json::from_str(&home.read(token_rel("corp"))).unwrap();
    assert!(tok["expiresAt"].is_string());
    for dir in [".local/state/cc-aws-keepalive", ".aws/sso/cache"] {
        for e in std::fs::read_dir(home.join(dir)).unwrap().flatten() {
            assert!(!e.file_name().to_string_lossy().contains(".tmp."), "left behind: {:?}", e.path());
        }
    }
    // And the lock went with the process: status says not running, a new daemon can start.
    let out = run(&home, Some(&mock), &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["daemon"]["running"], false);
    let out = run(&home, Some(&mock), &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("corp: fine"), "{}", out.stdout);
    let logs = all_logs(&home);
    assert!(logs.contains("daemon") && logs.contains("started"), "{logs}");
    assert_clean(&(logs + &seen), Some(&mock));
}

#[test]
fn second_daemon_refuses() {
    let home = live_home();
    let mock = sso_mock();
    let mut first = daemon(&home, &mock);
    assert!(eventually(20, || passes(&home) >= 1), "first daemon did not run: {}", all_logs(&home));
    let out = run(&home, Some(&mock), &["daemon"], &[("CC_KEEPALIVE_DAEMON_TICK_MS", "150")]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stderr.contains("already running"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("pid {}", first.pid())), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    // The refused one did not disturb the first.
    assert_eq!(state(&home).unwrap()["pid"], first.pid());
    assert!(first.child.try_wait().unwrap().is_none(), "first daemon died");
    signal(first.pid(), "INT");
    assert!(first.wait_exit(5).is_some(), "SIGINT did not stop it");
}

#[test]
fn failures_are_counted_and_notified_once_per_streak() {
    let home = live_home();
    let mock = sso_mock();
    // A bad answer fails at once (5xx would be retried for 15 s per call).
    mock.set_sticky_fault(Route::Token, Some(test_support::Fault::MalformedJson));
    // Only corp: drop the other session so its login notification does not interfere.
    home.write(".aws/config", crate::aws_config().split("[sso-session other]").next().unwrap());
    let mut d = daemon(&home, &mock);
    assert!(eventually(40, || passes(&home) >= 3), "{:?}\n{}", state(&home), all_logs(&home));
    let st = state(&home).unwrap();
    assert!(st["consecutiveFailures"].as_u64().unwrap() >= 3, "{st}");
    assert_eq!(st["lastOk"], false);
    assert!(st["sessions"]["corp"]["consecutiveFailures"].as_u64().unwrap() >= 3, "{st}");
    let seen = home.try_read(NOTIFICATIONS).unwrap_or_default();
    assert_eq!(seen.lines().filter(|l| l.starts_with("refresh-failed|")).count(), 1, "{seen}");
    // Recovery resets the count.
    mock.clear_faults();
    let before = passes(&home);
    assert!(eventually(20, || passes(&home) >= before + 2), "{}", all_logs(&home));
    let st = state(&home).unwrap();
    assert_eq!(st["consecutiveFailures"], 0, "{st}");
    signal(d.pid(), "TERM");
    assert!(d.wait_exit(5).is_some());
    assert_clean(&(all_logs(&home) + &seen), Some(&mock));
}

#[test]
fn session_end_is_announced_once_ahead_of_time() {
    // The registration runs out in 20 minutes: no refresh can go past the
    // token's expiry in an hour, and the warning window is 90 minutes.
    let home = TestHome::new();
    home.write(".aws/config", crate::aws_config().split("[sso-session other]").next().unwrap());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"warnMinutes": 90}"#);
    let now = time::OffsetDateTime::now_utc();
    crate::write_token(
        &home,
        "corp",
        &iso(now + time::Duration::hours(1)),
        Some(crate::REFRESH),
        &iso(now + time::Duration::minutes(20)),
    );
    let mock = sso_mock();
    let mut d = daemon(&home, &mock);
    assert!(eventually(20, || passes(&home) >= 3), "{}", all_logs(&home));
    let seen = home.try_read(NOTIFICATIONS).unwrap_or_default();
    let ending: Vec<&str> = seen.lines().filter(|l| l.starts_with("session-ending|")).collect();
    assert_eq!(ending.len(), 1, "{seen}");
    assert!(ending[0].contains("client registration expires"), "{seen}");
    let out = run(&home, Some(&mock), &["status"], &[]);
    assert!(out.stdout.contains("corp: browser login needed in"), "{}", out.stdout);
    signal(d.pid(), "TERM");
    assert!(d.wait_exit(5).is_some());
    assert_eq!(mock.count(Route::Token), 0, "nothing to refresh yet: {}", mock.dump());
}
