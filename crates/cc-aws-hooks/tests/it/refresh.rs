//! `cc-aws-refresh`: succeed when someone already logged in, run
//! `autoLoginCmd` once across sessions, or say what to run.

use std::time::Duration;

use test_support::assert_no_secret;

use crate::*;

#[test]
fn already_fresh_credentials_need_nothing() {
    let home = home_with_creds("2026-11-22T16:23:00Z");
    let out = run_hook(&home, "refresh", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("already valid") && out.stdout.contains("4h23m"), "{}", out.stdout);
}

#[test]
fn expired_without_auto_login_prints_login_command() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    write_config(&home, r#"{"loginCmd":"saml2aws login --profile corp"}"#);
    let out = run_hook(&home, "refresh", b"", &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("expired 1h0m ago"), "{}", out.stdout);
    assert!(out.stdout.contains("saml2aws login --profile corp"), "{}", out.stdout);
}

#[test]
fn credentials_about_to_expire_count_as_stale() {
    // Five minutes left is less than Claude Code's refresh margin.
    let home = home_with_creds("2026-11-22T12:05:00Z");
    let out = run_hook(&home, "refresh", b"", &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("expire in 5m"), "{}", out.stdout);
}

#[test]
fn auto_login_runs_and_reports_remaining_time() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    let cmd = login_cmd_writing(&home, "AKIANEW", "2026-11-22T20:00:00Z", 0);
    write_config(&home, &serde_json::json!({"autoLoginCmd": cmd, "loginCmd": "manual-login"}).to_string());
    let out = run_hook(&home, "refresh", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("login tool says hello"), "the login tool's output reaches the user: {}", out.stdout);
    assert!(out.stdout.contains("refreshed: valid for 8h0m"), "{}", out.stdout);
    assert_eq!(runs(&home), 1);
    assert_no_secret(&out.stdout, &[SECRET, TOKEN]);
    let export = run_hook(&home, "export", b"", &[]);
    assert!(export.stdout.contains("AKIANEW"));
}

#[test]
fn failing_auto_login_prints_manual_command() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    write_config(&home, r#"{"autoLoginCmd":"echo nope >&2; exit 3","loginCmd":"manual-login"}"#);
    let out = run_hook(&home, "refresh", b"", &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("failed") && out.stdout.contains("manual-login"), "{}", out.stdout);
}

#[test]
fn auto_login_that_writes_nothing_fails() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    write_config(&home, r#"{"autoLoginCmd":"true"}"#);
    let out = run_hook(&home, "refresh", b"", &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("no fresh credentials"), "{}", out.stdout);
}

#[test]
fn concurrent_sessions_cause_one_login() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    let cmd = login_cmd_writing(&home, "AKIANEW", "2026-11-22T20:00:00Z", 1);
    write_config(&home, &serde_json::json!({ "autoLoginCmd": cmd }).to_string());
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..5).map(|_| s.spawn(|| run_hook(&home, "refresh", b"", &[]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.success(), "{}", out.describe());
    }
    assert_eq!(runs(&home), 1, "exactly one login ran");
    assert!(outs.iter().any(|o| o.stdout.contains("already logging in") || o.stdout.contains("already valid")));
    std::thread::sleep(Duration::from_millis(10));
}
