//! `refresh`: within the threshold, `--force`, `--session`, `--profile`, and
//! the browser-login fallback under the hooks' login lock.

use test_support::{Fault, Route};

use crate::{ACCESS, NOW, assert_clean, fixed_now, iso, run_at_now, sso_home, sso_mock, token_rel, write_token};

fn cached_expiry(home: &test_support::TestHome, session: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&home.read(token_rel(session))).unwrap();
    v["expiresAt"].as_str().unwrap().to_string()
}

#[test]
fn refreshes_only_what_is_within_the_threshold() {
    // corp has 20 minutes left (threshold 30): refreshed; other has no token.
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 1, "{}", mock.dump());
    assert!(out.stdout.contains("corp: refreshed, valid until 2026-11-22T13:00:00Z"), "{}", out.stdout);
    assert_eq!(cached_expiry(&home, "corp"), "2026-11-22T13:00:00Z");
    assert_clean(&(out.stdout.clone() + &out.stderr), Some(&mock));

    // Now 60 minutes left: outside the threshold, nothing to do, no call.
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("corp: fine"), "{}", out.stdout);
    assert_eq!(mock.count(Route::Token), 1);

    // A higher threshold from config.json brings it into the window again.
    home.write(".config/cc-aws-keepalive/config.json", r#"{"refreshThresholdMinutes": 90}"#);
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 2);
    // ... and the old daemon's variable overrides config.json.
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[("AWS_SSO_REFRESH_THRESHOLD", "5")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 2);
}

#[test]
fn force_refreshes_a_fresh_session() {
    let home = sso_home("2026-11-22T15:00:00Z");
    let mock = sso_mock();
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 0);
    let out = run_at_now(&home, Some(&mock), &["refresh", "--force", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 1, "{}", mock.dump());
    assert_eq!(cached_expiry(&home, "corp"), "2026-11-22T13:00:00Z");
    // The rotated refresh token was saved: the next forced refresh works too.
    let out = run_at_now(&home, Some(&mock), &["refresh", "--force", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 2);
    assert_clean(&out.stdout, Some(&mock));
}

#[test]
fn all_sessions_and_a_missing_token_needs_login_without_browser() {
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    let out = run_at_now(&home, Some(&mock), &["refresh", "--no-browser"], &[]);
    // other has no token: a browser login is needed, and --no-browser never starts one.
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("corp: refreshed"), "{}", out.stdout);
    assert!(
        out.stdout.contains("other: browser login needed") && out.stdout.contains("aws sso login --sso-session other"),
        "{}",
        out.stdout
    );
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "nope"], &[]);
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("no [sso-session nope]"), "{}", out.stderr);
}

#[test]
fn profile_refresh_fetches_role_credentials() {
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    let out = run_at_now(&home, Some(&mock), &["refresh", "--profile", "dev"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 1);
    assert_eq!(mock.count(Route::RoleCredentials), 1, "{}", mock.dump());
    assert!(out.stdout.contains("profile dev: role credentials valid until"), "{}", out.stdout);
    assert_clean(&(out.stdout.clone() + &out.stderr), Some(&mock));
    let out = run_at_now(&home, Some(&mock), &["refresh", "--profile", "-rf"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
}

#[test]
fn dead_refresh_token_falls_back_to_the_login_command_under_the_lock() {
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    mock.set_sticky_fault(Route::Token, Some(Fault::InvalidGrant));
    // The "browser login": records that it ran and whether it held the login lock, writes a fresh token.
    let fresh = serde_json::json!({
        "startUrl": "https://corp.awsapps.com/start", "region": "eu-central-1",
        "accessToken": "freshACCESSfromLOGIN0123456789", "expiresAt": "2026-11-22T20:00:00Z",
        "clientId": crate::CLIENT_ID, "clientSecret": crate::CLIENT_SECRET,
        "registrationExpiresAt": "2027-02-20T12:00:00Z", "refreshToken": "newREFRESHfromLOGIN0123456789"
    });
    home.write("fresh.json", fresh.to_string());
    let lock = home.state_dir().join("cc-aws-keepalive/locks/login.lock");
    let script = home.write(
        "login.sh",
        format!(
            "#!/bin/sh\necho \"login $1\" >> \"$HOME/runs.log\"\n\
             if flock -n '{lock}' true 2>/dev/null; then echo unlocked >> \"$HOME/runs.log\"; else echo locked >> \"$HOME/runs.log\"; fi\n\
             cp \"$HOME/fresh.json\" \"$HOME/{}\"\necho 'login tool says hello'\n",
            token_rel("corp").display(),
            lock = lock.display()
        ),
    );
    home.write(
        ".config/cc-aws-keepalive/config.json",
        serde_json::json!({ "loginCmd": format!("sh {} corp", script.display()) }).to_string(),
    );
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp", "--no-browser"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("browser login needed"), "{}", out.stdout);
    assert!(home.try_read("runs.log").is_none(), "--no-browser ran the login");

    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("login tool says hello"), "the login's output is shown: {}", out.stdout);
    assert!(out.stdout.contains("corp: logged in, valid until 2026-11-22T20:00:00Z"), "{}", out.stdout);
    let runs = home.read("runs.log");
    assert!(runs.starts_with("login corp\n"), "{runs}");
    if test_support::on_path("flock") {
        assert!(runs.contains("locked"), "the login ran outside the login lock: {runs}");
    }
    assert_clean(&(out.stdout.clone() + &out.stderr), Some(&mock));
    test_support::assert_no_secret(&out.stdout, &["freshACCESSfromLOGIN0123456789", "newREFRESHfromLOGIN0123456789"]);
}

#[test]
fn network_failure_is_a_failure_not_a_login() {
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    mock.set_sticky_fault(Route::Token, Some(Fault::MalformedJson));
    let before = home.read(token_rel("corp"));
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("corp: refresh failed"), "{}", out.stdout);
    assert!(!out.stdout.contains("login needed"), "{}", out.stdout);
    assert_eq!(home.read(token_rel("corp")), before, "a failed refresh must not touch the cache");
    assert_clean(&(out.stdout.clone() + &out.stderr), Some(&mock));
}

#[test]
fn expired_registration_is_not_refreshed_silently() {
    let home = sso_home("2026-11-22T12:20:00Z");
    write_token(&home, "corp", &iso(fixed_now() + time::Duration::minutes(5)), Some("rt"), "2026-11-01T00:00:00Z");
    let mock = sso_mock();
    let out = run_at_now(&home, Some(&mock), &["refresh", "--session", "corp", "--no-browser"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(mock.count(Route::Token), 0);
    assert!(out.stdout.contains("registration expired"), "{}", out.stdout);
    assert!(!out.stdout.contains(ACCESS));
    let _ = NOW;
}

#[test]
fn refresh_renews_credentials_file_keys_once_across_concurrent_runs() {
    use crate::daemon::{login_script, runs, write_keys_setup};
    let home = test_support::TestHome::new();
    // The login takes a second: long enough for the second refresh to find it running.
    let login = login_script(&home, 1);
    write_keys_setup(&home, "2026-11-22T12:05:00Z", &login);
    let spawn = || {
        let mut cmd = crate::command(&home, None, &["refresh"]);
        cmd.env("CC_KEEPALIVE_NOW", NOW).stdin(std::process::Stdio::null());
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for o in &outs {
        let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{text}");
        assert!(text.contains("valid until 2026-11-22T20:00:00Z"), "{text}");
        assert!(!text.contains("nothing to refresh"), "{text}");
        test_support::assert_no_secret(&text, &["SECRETsamlKEYvalue0123456789", "SESSIONsamlTOKEN0123456789"]);
    }
    assert_eq!(runs(&home), 1, "two refreshes, one login: {}", home.read("runs.log"));
    assert!(home.read(".aws/credentials").contains("AKIANEWKEYS000000001"));
    // Fresh now: a third refresh leaves them alone; --force runs the login again.
    let out = run_at_now(&home, None, &["refresh"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(runs(&home), 1);
    let out = run_at_now(&home, None, &["refresh", "--force", "--profile", "saml"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(runs(&home), 2, "{}", out.describe());
}

#[test]
fn a_legacy_profile_is_told_to_convert() {
    let home = crate::legacy_sso::legacy_home(crate::ACCESS, "2026-11-22T11:00:00Z");
    let out = run_at_now(&home, None, &["refresh", "--no-browser"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("profile dev: browser login needed"), "{}", out.stdout);
    assert!(out.stdout.contains("convert it to an [sso-session]"), "{}", out.stdout);
    let out = run_at_now(&home, None, &["refresh", "--no-browser", "--profile", "dev"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("convert it to an [sso-session]"), "{}", out.stdout);
    assert_clean(&(out.stdout.clone() + &out.stderr), None);
}
