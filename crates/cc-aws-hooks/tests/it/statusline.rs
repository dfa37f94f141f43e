//! `cc-aws-statusline`: the timer, its colours, and composing with another
//! status line command without ever hiding the timer.

use std::time::Duration;

use crate::*;

const STATUS_JSON: &[u8] = br#"{"session_id":"s1","cwd":"/tmp","model":{"id":"claude","display_name":"Opus"},"workspace":{"current_dir":"/tmp","project_dir":"/tmp"},"version":"2.1.330"}"#;

#[test]
fn plain_timer() {
    let home = home_with_creds("2026-11-22T16:23:30Z");
    let out = run_hook(&home, "statusline", STATUS_JSON, &[]);
    assert!(out.success());
    assert_eq!(out.stdout, "AWS: 4h23m\n");
}

#[test]
fn yellow_within_warn_red_when_expired_plain_with_no_color() {
    let home = home_with_creds("2026-11-22T12:45:00Z");
    assert_eq!(run_hook(&home, "statusline", STATUS_JSON, &[]).stdout, "\x1b[33mAWS: 45m\x1b[0m\n");
    assert_eq!(run_hook(&home, "statusline", STATUS_JSON, &[("NO_COLOR", "1")]).stdout, "AWS: 45m\n");
    let home = home_with_creds("2026-11-22T11:00:00Z");
    assert_eq!(run_hook(&home, "statusline", STATUS_JSON, &[]).stdout, "\x1b[31mAWS: EXPIRED\x1b[0m\n");
    let home = home_with_creds("2026-11-22T12:00:30Z");
    assert_eq!(run_hook(&home, "statusline", b"", &[("NO_COLOR", "1")]).stdout, "AWS: <1m\n");
}

#[test]
fn composes_with_another_command_passing_stdin_through() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    // The composed command proves it got our stdin by echoing a field of it.
    write_config(
        &home,
        r#"{"statusLineCmd":"grep -o 'display_name\":\"[A-Za-z]*' | cut -d'\"' -f3; echo second line"}"#,
    );
    let out = run_hook(&home, "statusline", STATUS_JSON, &[]);
    assert_eq!(out.stdout, "Opus | AWS: 4h0m\n", "{}", out.describe());
}

#[test]
fn failing_or_slow_composed_commands_never_hide_the_timer() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    write_config(&home, r#"{"statusLineCmd":"echo broken; exit 1"}"#);
    assert_eq!(run_hook(&home, "statusline", STATUS_JSON, &[]).stdout, "AWS: 4h0m\n");
    write_config(&home, r#"{"statusLineCmd":"no-such-command-xyz"}"#);
    assert_eq!(run_hook(&home, "statusline", STATUS_JSON, &[]).stdout, "AWS: 4h0m\n");
    write_config(&home, r#"{"statusLineCmd":"sleep 20; echo late"}"#);
    let out = run_hook(&home, "statusline", STATUS_JSON, &[]);
    assert_eq!(out.stdout, "AWS: 4h0m\n");
    assert!(out.elapsed < Duration::from_secs(5), "took {:?}", out.elapsed);
}

#[test]
fn no_credentials_and_no_expiry() {
    let home = TestHome::new();
    assert_eq!(run_hook(&home, "statusline", b"", &[("NO_COLOR", "1")]).stdout, "AWS: no credentials\n");
    home.write(".aws/credentials", format!("[default]\naws_access_key_id=AKIA\naws_secret_access_key={SECRET}\n"));
    assert_eq!(run_hook(&home, "statusline", b"", &[]).stdout, "AWS: no expiry\n");
}
