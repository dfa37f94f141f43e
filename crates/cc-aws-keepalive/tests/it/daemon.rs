//! The daemon: a few short intervals (test-only tick override), one instance
//! per user, notifications once per event, SIGTERM and SIGINT stopping it cleanly even when
//! it inherited them ignored, and keys a login tool writes renewed by autoLoginCmd.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use test_support::{Route, TestHome};

use crate::{
    NOTIFICATIONS, Spawned, all_logs, assert_clean, bin, command, eventually, iso, run, run_at_now, signal, sso_mock,
    token_rel,
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
    // It stops by its own handling: a clean exit, logged.
    assert_eq!((status.code(), status.signal()), (Some(0), None), "{status:?}");
    assert!(all_logs(&home).contains("stopped by SIGTERM"), "{}", all_logs(&home));
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

/// The daemon started the way `nohup` or `cmd &` in a script start it: SIGINT and SIGTERM
/// ignored. The shell sets both to ignored, then becomes the daemon (exec keeps them so).
fn daemon_ignoring_signals(home: &TestHome, mock: &test_support::MockAws) -> Spawned {
    let inner = command(home, Some(mock), &["daemon"]);
    let mut cmd = home.command("sh");
    cmd.arg("-c").arg("trap '' INT TERM; exec \"$0\" daemon").arg(bin());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("CC_KEEPALIVE_DAEMON_TICK_MS", "150");
    Spawned::start(cmd)
}

#[test]
fn inherited_ignored_sigint_and_sigterm_still_stop_it_cleanly() {
    for sig in ["INT", "TERM"] {
        let home = live_home();
        let mock = sso_mock();
        let mut d = daemon_ignoring_signals(&home, &mock);
        assert!(eventually(20, || passes(&home) >= 2), "SIG{sig}: no passes: {}", all_logs(&home));
        let started = Instant::now();
        signal(d.pid(), sig);
        let status =
            d.wait_exit(25).unwrap_or_else(|| panic!("SIG{sig} did not stop a daemon that inherited it ignored"));
        assert_eq!((status.code(), status.signal()), (Some(0), None), "SIG{sig}: {status:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "SIG{sig}: took {:?}", started.elapsed());
        let logs = all_logs(&home);
        assert!(logs.contains(&format!("stopped by SIG{sig}")), "SIG{sig}: {logs}");
        // No stale lock: status says not running, and a new daemon starts.
        let out = run(&home, Some(&mock), &["status", "--json"], &[]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["daemon"]["running"], false, "SIG{sig}: {}", out.stdout);
        let out = run(&home, Some(&mock), &["daemon", "--once"], &[]);
        assert_eq!(out.status, Some(0), "SIG{sig}: {}", out.describe());
    }
}

#[test]
fn a_stop_during_a_refresh_finishes_it_first() {
    let home = live_home();
    let mock = sso_mock();
    // CreateToken takes 3 s; SIGTERM arrives while it is in flight.
    mock.push_fault(Route::Token, test_support::Fault::Slow(Duration::from_secs(3)));
    let before = home.read(token_rel("corp"));
    let mut d = daemon_ignoring_signals(&home, &mock);
    assert!(eventually(20, || mock.count(Route::Token) >= 1), "no refresh started: {}", all_logs(&home));
    let started = Instant::now();
    signal(d.pid(), "TERM");
    let status = d.wait_exit(25).expect("did not stop");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    // The refresh completed and was saved; nothing more was started.
    assert_ne!(home.read(token_rel("corp")), before, "the in-flight refresh was not saved");
    assert_eq!(mock.count(Route::Token), 1, "{}", mock.dump());
    let logs = all_logs(&home);
    assert!(logs.contains("stopped by SIGTERM after finishing the work in flight"), "{logs}");
}

#[test]
fn a_stop_does_not_wait_for_a_long_login_beyond_the_grace_period() {
    // Keys about to expire, and an autoLoginCmd that hangs for longer than the grace period.
    let home = keys_home("2026-11-22T12:05:00Z", "sleep 30");
    let mut cmd = command(&home, None, &["daemon"]);
    cmd.env("CC_KEEPALIVE_NOW", crate::NOW).env("CC_KEEPALIVE_DAEMON_TICK_MS", "150");
    let mut d = Spawned::start(cmd);
    assert!(eventually(20, || all_logs(&home).contains("running autoLoginCmd")), "{}", all_logs(&home));
    let started = Instant::now();
    signal(d.pid(), "TERM");
    let status = d.wait_exit(30).expect("did not stop");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(19) && took < Duration::from_secs(25), "took {took:?}");
    assert!(all_logs(&home).contains("stopped by SIGTERM without waiting longer than 20 s"), "{}", all_logs(&home));
}

// ---------------------------------------------------------------------------------------------
// Keys a login tool writes (saml2aws and friends), renewed by autoLoginCmd

/// A login tool's profile `saml` whose keys expire at `expires`, and `autoLoginCmd` = `login`
/// (within 15 minutes of expiry).
fn keys_home(expires: &str, login: &str) -> TestHome {
    let home = TestHome::new();
    write_keys_setup(&home, expires, login);
    home
}

/// Writes [`keys_home`]'s files into `home`.
pub fn write_keys_setup(home: &TestHome, expires: &str, login: &str) {
    home.write(".aws/config", "[profile saml]\nregion = us-east-1\n");
    home.write(".aws/credentials", keys_ini("AKIAOLDKEYS000000001", expires));
    home.write(
        ".config/cc-aws-keepalive/config.json",
        serde_json::json!({"profile": "saml", "autoLoginCmd": login, "autoLoginMinutes": 15}).to_string(),
    );
}

pub fn keys_ini(key_id: &str, expires: &str) -> String {
    format!(
        "[saml]\naws_access_key_id = {key_id}\naws_secret_access_key = SECRETsamlKEYvalue0123456789\n\
         aws_session_token = SESSIONsamlTOKEN0123456789\nx_security_token_expires = {expires}\n"
    )
}

/// A login tool stand-in: records each run in `runs.log`, waits `secs`, writes new keys
/// valid until 20:00.
pub fn login_script(home: &TestHome, secs: u32) -> String {
    home.write("new-credentials", keys_ini("AKIANEWKEYS000000001", "2026-11-22T20:00:00Z"));
    let script = home.write(
        "login.sh",
        format!(
            "#!/bin/sh\necho \"run $CC_KEEPALIVE_PROFILE\" >> \"$HOME/runs.log\"\nsleep {secs}\n\
             cp \"$HOME/new-credentials\" \"$HOME/.aws/credentials.tmp\" && mv \"$HOME/.aws/credentials.tmp\" \"$HOME/.aws/credentials\"\n"
        ),
    );
    format!("sh {}", script.display())
}

pub fn runs(home: &TestHome) -> usize {
    home.try_read("runs.log").map_or(0, |r| r.lines().count())
}

#[test]
fn daemon_once_renews_credentials_file_keys_with_auto_login_once() {
    let home = TestHome::new();
    let login = login_script(&home, 0);
    write_keys_setup(&home, "2026-11-22T12:05:00Z", &login);
    let out = run_at_now(&home, None, &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(runs(&home), 1, "{}", out.describe());
    assert_eq!(home.read("runs.log"), "run saml\n");
    assert!(home.read(".aws/credentials").contains("AKIANEWKEYS000000001"));
    assert!(
        out.stdout.contains("profile saml (saml (keys in credentials)): credentials renewed by autoLoginCmd, valid until 2026-11-22T20:00:00Z"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("nothing to refresh"), "{}", out.stdout);
    // The next pass finds them fresh: no second login.
    let out = run_at_now(&home, None, &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(runs(&home), 1, "{}", out.describe());
    assert!(out.stdout.contains("credentials fine, valid until 2026-11-22T20:00:00Z"), "{}", out.stdout);
    test_support::assert_no_secret(
        &(out.stdout + &out.stderr + &all_logs(&home)),
        &["SECRETsamlKEYvalue0123456789", "SESSIONsamlTOKEN0123456789"],
    );
}

#[test]
fn keys_outside_auto_login_minutes_are_left_alone_and_a_failing_login_fails_the_pass() {
    // 40 minutes left, window 15: nothing to do.
    let home = keys_home("2026-11-22T12:40:00Z", "echo ran >> \"$HOME/runs.log\"");
    let out = run_at_now(&home, None, &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(runs(&home), 0);
    // 5 minutes left and a login that fails: the pass fails and says why.
    let home = keys_home("2026-11-22T12:05:00Z", "echo ran >> \"$HOME/runs.log\"; exit 3");
    let out = run_at_now(&home, None, &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(runs(&home), 1);
    assert!(out.stdout.contains("autoLoginCmd did not renew the credentials"), "{}", out.stdout);
}
