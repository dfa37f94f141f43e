//! Legacy SSO profiles (the start URL in the profile, no `sso_session`) never get a refresh
//! token: every hook that says a login is needed also says the real fix, converting the
//! profile to an `[sso-session]`, not only "run aws sso login".

use test_support::TestHome;

use crate::{run_hook, write_config};

const CONVERT: &str = "convert it to an [sso-session]";

/// Profile `dev`, legacy SSO, whose cached token expires at `expires`.
fn legacy_home(expires: &str) -> TestHome {
    crate::legacy_sso::legacy_home("aoaLEGACYaccessTOKEN0123456789", expires)
}

#[test]
fn check_says_to_convert_when_the_session_ends_and_when_it_has_ended() {
    for (expires, when) in [("2026-11-22T12:20:00Z", "ends in 20m"), ("2026-11-22T11:00:00Z", "has ended")] {
        let home = legacy_home(expires);
        let out = run_hook(&home, "check", b"{}", &[]);
        assert_eq!(out.status, Some(0), "{}", out.describe());
        assert!(out.stdout.contains(when), "{}", out.stdout);
        assert!(out.stdout.contains(CONVERT), "{}", out.stdout);
        assert!(out.stdout.contains("aws sso login --profile dev"), "{}", out.stdout);
    }
}

#[test]
fn export_says_to_convert_when_the_token_has_run_out() {
    let home = legacy_home("2026-11-22T11:00:00Z");
    let out = run_hook(&home, "export", b"", &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stderr.contains(CONVERT), "{}", out.stderr);
    assert!(out.stderr.contains("legacy SSO profile"), "{}", out.stderr);
    assert!(!out.stdout.contains("AccessKeyId"), "{}", out.stdout);
}

#[test]
fn refresh_says_to_convert_before_and_after_a_failed_login() {
    let home = legacy_home("2026-11-22T11:00:00Z");
    write_config(&home, r#"{"profile":"dev","loginCmd":"echo no browser here; exit 1"}"#);
    let out = run_hook(&home, "refresh", b"", &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    let all = out.stdout.clone() + &out.stderr;
    assert!(all.contains("no browser here"), "the login ran: {all}");
    assert!(all.matches(CONVERT).count() >= 2, "{all}");
}
