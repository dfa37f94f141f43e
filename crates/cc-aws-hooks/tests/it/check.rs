//! `cc-aws-check`: silent when all is well, a `systemMessage` when a login is
//! near, a background auto-login at most once per five minutes; always exit 0.

use serde_json::Value;

use crate::*;

const PROMPT: &[u8] = br#"{"session_id":"s1","transcript_path":"/tmp/t.jsonl","cwd":"/tmp","permission_mode":"default","hook_event_name":"UserPromptSubmit","prompt":"hello"}"#;

fn message(out: &test_support::RunOutput) -> String {
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
    v["systemMessage"].as_str().unwrap().to_string()
}

#[test]
fn silent_when_plenty_of_time_is_left() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    let out = run_hook(&home, "check", PROMPT, &[]);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(out.stdout, "");
}

#[test]
fn warns_within_warn_minutes_with_login_command() {
    let home = home_with_creds("2026-11-22T12:12:00Z");
    write_config(&home, r#"{"loginCmd":"saml2aws login"}"#);
    let out = run_hook(&home, "check", PROMPT, &[]);
    assert!(out.success());
    let m = message(&out);
    assert!(m.contains("expire in 12m") && m.contains("saml2aws login"), "{m}");
}

#[test]
fn warns_when_expired_and_honours_warn_minutes() {
    let home = home_with_creds("2026-11-22T11:30:00Z");
    let out = run_hook(&home, "check", PROMPT, &[]);
    assert!(message(&out).contains("expired 30m ago"));
    let home = home_with_creds("2026-11-22T12:50:00Z");
    write_config(&home, r#"{"warnMinutes":"60"}"#);
    assert!(message(&run_hook(&home, "check", PROMPT, &[])).contains("expire in 50m"));
}

#[test]
fn starts_auto_login_in_background_once_per_five_minutes() {
    let home = home_with_creds("2026-11-22T12:08:00Z");
    let cmd = login_cmd_writing(&home, "AKIANEW", "2026-11-22T20:00:00Z", 0);
    write_config(&home, &serde_json::json!({"autoLoginCmd": cmd, "autoLoginMinutes": 10}).to_string());
    let out = run_hook(&home, "check", PROMPT, &[]);
    assert!(out.success());
    assert!(message(&out).contains("started autoLoginCmd in the background"), "{}", out.stdout);
    assert!(eventually(20, || runs(&home) == 1), "background login never ran");
    // Put the old credentials back: a second prompt inside five minutes must not log in again.
    assert!(eventually(20, || home.read(".aws/credentials").contains("AKIANEW")));
    home.write(".aws/credentials", profile_ini("default", "AKIAOLD", "2026-11-22T12:08:00Z"));
    let again = run_hook(&home, "check", PROMPT, &[]);
    assert!(!again.stdout.contains("started"), "{}", again.stdout);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(runs(&home), 1);
    // Six minutes later it may start again.
    let later = run_hook(&home, "check", PROMPT, &[("CC_KEEPALIVE_NOW", "2026-11-22T12:06:00Z")]);
    assert!(message(&later).contains("started"), "{}", later.stdout);
    assert!(eventually(20, || runs(&home) == 2));
}

#[test]
fn any_stdin_is_fine() {
    let home = home_with_creds("2026-11-22T12:12:00Z");
    for input in [&b""[..], b"garbage", b"{\"hook_event_name\":", b"\xff\xfe\x00", b"[]", b"null"] {
        let out = run_hook(&home, "check", input, &[]);
        assert!(out.success(), "{}", out.describe());
        assert!(message(&out).contains("expire in 12m"));
    }
}

#[test]
fn missing_credentials_and_bad_config_are_reported_not_fatal() {
    let home = TestHome::new();
    write_config(&home, "[1,2,3]");
    let out = run_hook(&home, "check", PROMPT, &[]);
    assert!(out.success());
    let m = message(&out);
    assert!(m.contains("config.json") && m.contains("no credentials"), "{m}");
}
