//! `status` and `status --json`: golden output at a fixed clock, no secrets.

use test_support::TestHome;

use crate::legacy_sso::legacy_home;
use crate::{ACCESS, REFRESH, assert_clean, run_at_now, sso_home, write_token};

/// corp: 20 minutes left, silently refreshable; other: no token; a legacy
/// profile; dev's role credentials cached for 45 minutes; a daemon state file.
fn golden_home() -> TestHome {
    let home = sso_home("2026-11-22T12:20:00Z");
    let key = keepalive_core::providers::sso::role_cache::cache_key(
        "111122223333",
        "Admin",
        keepalive_core::providers::sso::role_cache::SessionRef::Session("corp"),
    );
    home.write(
        format!(".aws/cli/cache/{key}.json"),
        format!(
            r#"{{"ProviderType":"sso","Credentials":{{"AccessKeyId":"ASIAROLE","SecretAccessKey":"{}","SessionToken":"{}","Expiration":"2026-11-22T12:45:00Z","AccountId":"111122223333"}}}}"#,
            crate::ROLE_SECRET,
            crate::ROLE_TOKEN
        ),
    );
    home.write(
        ".local/state/cc-aws-keepalive/daemon.json",
        r#"{"pid":4242,"startedAt":"2026-11-22T08:00:00Z","intervalSeconds":600,"thresholdMinutes":30,
            "lastRun":"2026-11-22T11:55:00Z","lastResult":"corp: fine","lastOk":true,"consecutiveFailures":0,
            "passes":24,"nextCheck":"2026-11-22T12:05:00Z","sessions":{}}"#,
    );
    home
}

const TABLE: &str = "\
SSO sessions (refreshed when less than 30m is left)
  SESSION  PROFILES  ACCESS TOKEN  SILENT REFRESH                LOGIN NEEDED
  corp     dev       20m           yes, until 2027-02-20 12:00Z  in 90d0h
  other    -         NO TOKEN      no                            NOW

Profiles used by the Claude Code hooks
  PROFILE  SOURCE  SESSION / FIELD  CREDENTIALS  NEXT LOGIN
  dev      sso     corp             45m          login in 90d0h

Daemon: not running (`cc-aws-keepalive service install` starts it in the background)
  would check every 10m, refreshing sessions with less than 30m left
  last run: 2026-11-22T11:55:00Z (5m ago): ok: corp: fine

! other: browser login needed now (there is no cached SSO token); run `aws sso login --sso-session other`
";

#[test]
fn table_golden() {
    let home = golden_home();
    let out = run_at_now(&home, None, &["status"], &[("AWS_PROFILE", "dev")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    // Not a terminal: no colour codes.
    assert!(!out.stdout.contains('\x1b'));
    assert_eq!(out.stdout, TABLE, "\n{}", out.stdout);
    assert_clean(&(out.stdout.clone() + &out.stderr), None);
}

#[test]
fn json_golden() {
    let home = golden_home();
    let out = run_at_now(&home, None, &["status", "--json"], &[("AWS_PROFILE", "dev")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_clean(&out.stdout, None);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let want = serde_json::json!({
        "now": "2026-11-22T12:00:00Z",
        "thresholdMinutes": 30,
        "intervalSeconds": 600,
        "sessions": [
            {
                "name": "corp", "profiles": ["dev"], "legacy": false, "ssoRegion": "eu-central-1",
                "tokenFound": true,
                "accessTokenExpiresAt": "2026-11-22T12:20:00Z", "accessTokenSecondsLeft": 1200,
                "refreshTokenPresent": true,
                "registrationExpiresAt": "2027-02-20T12:00:00Z",
                "silentRefreshPossible": true, "silentRefreshUntil": "2027-02-20T12:00:00Z",
                "loginNeededAt": "2027-02-20T12:00:00Z",
                "loginNeededReason": "its client registration expires then",
                "loginCommand": "aws sso login --sso-session corp",
                "nextStep": "run `aws sso login --sso-session corp`",
                "error": null
            },
            {
                "name": "other", "profiles": [], "legacy": false, "ssoRegion": "us-east-1",
                "tokenFound": false,
                "accessTokenExpiresAt": null, "accessTokenSecondsLeft": null,
                "refreshTokenPresent": false, "registrationExpiresAt": null,
                "silentRefreshPossible": false, "silentRefreshUntil": null,
                "loginNeededAt": "2026-11-22T12:00:00Z",
                "loginNeededReason": "there is no cached SSO token",
                "loginCommand": "aws sso login --sso-session other",
                "nextStep": "run `aws sso login --sso-session other`",
                "error": null
            }
        ],
        "profiles": [
            {"name": "dev", "source": "sso", "chain": "dev (sso-session corp)", "roles": 0,
             "session": "corp", "expiryField": null,
             "expiresAt": "2026-11-22T12:45:00Z", "secondsLeft": 2700,
             "stepNeededAt": "2027-02-20T12:00:00Z", "stepNeeded": "login",
             "nextStep": "run `aws sso login --sso-session corp`", "error": null}
        ],
        "daemon": {
            "running": false, "pid": 4242, "startedAt": "2026-11-22T08:00:00Z",
            "intervalSeconds": 600, "thresholdMinutes": 30,
            "lastRun": "2026-11-22T11:55:00Z", "lastResult": "corp: fine", "lastOk": true,
            "consecutiveFailures": 0, "nextCheck": "2026-11-22T12:05:00Z"
        },
        "problems": []
    });
    assert_eq!(v, want, "\n{}", out.stdout);
}

#[test]
fn settings_and_credentials_file_profiles_and_overrides() {
    let home = TestHome::new();
    home.write(".aws/config", "[profile saml]\nregion = us-east-1\n");
    home.write(
        ".aws/credentials",
        "[saml]\naws_access_key_id = AKIAFILE\naws_secret_access_key = SECRETFILEKEYvalue0123456789\nx_security_token_expires = 2026-11-22T12:10:00Z\n",
    );
    // Claude Code's settings select the profile for the hooks.
    home.write(".claude/settings.json", r#"{"env":{"AWS_PROFILE":"saml"}}"#);
    home.write(".config/cc-aws-keepalive/config.json", r#"{"refreshThresholdMinutes": 45, "checkIntervalMinutes": 5}"#);
    let out = run_at_now(&home, None, &["status", "--json"], &[("AWS_SSO_REFRESH_INTERVAL", "7")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    test_support::assert_no_secret(&out.stdout, &["SECRETFILEKEYvalue0123456789"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["thresholdMinutes"], 45);
    assert_eq!(v["intervalSeconds"], 420, "the old daemon's variable overrides config.json");
    let names: Vec<&str> = v["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "saml"]);
    let saml = &v["profiles"][1];
    assert_eq!(saml["source"], "credentials-file");
    assert_eq!(saml["expiryField"], "x_security_token_expires");
    assert_eq!(saml["secondsLeft"], 600);
    let table = run_at_now(&home, None, &["status"], &[]);
    assert!(table.stdout.contains("SSO sessions: none in the AWS config"), "{}", table.stdout);
    assert!(table.stdout.contains("saml     credentials file  x_security_token_expires  10m"), "{}", table.stdout);
}

#[test]
fn unreadable_cache_is_reported_not_fatal() {
    let home = sso_home("2026-11-22T12:20:00Z");
    write_token(&home, "other", "2026-11-22T13:00:00Z", None, "2027-01-01T00:00:00Z");
    home.write(crate::token_rel("corp"), "{ not json");
    let out = run_at_now(&home, None, &["status"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("UNREADABLE"), "{}", out.stdout);
    // other: valid for an hour but without a refresh token: login needed when it runs out.
    assert!(out.stdout.contains("browser login needed in 1h0m"), "{}", out.stdout);
    assert!(!out.stdout.contains(ACCESS) && !out.stdout.contains(REFRESH));
}

#[test]
fn a_legacy_profile_is_told_to_convert_in_the_table_and_the_json() {
    let home = legacy_home(ACCESS, "2026-11-22T14:00:00Z");
    let out = run_at_now(&home, None, &["status"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let note = out
        .stdout
        .lines()
        .find(|l| l.starts_with("! profile dev: browser login needed in 2h0m"))
        .unwrap_or_else(|| panic!("no note for the legacy profile:\n{}", out.stdout));
    assert!(note.contains("convert it to an [sso-session]") && note.contains("aws sso login --profile dev"), "{note}");
    let out = run_at_now(&home, None, &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let s = &v["sessions"][0];
    assert_eq!(s["legacy"], true, "{s}");
    assert_eq!(s["loginCommand"], "aws sso login --profile dev");
    assert!(s["nextStep"].as_str().unwrap().contains("convert it to an [sso-session]"), "{s}");
    assert_clean(&(out.stdout + &out.stderr), None);
}

/// 1000 sessions, one of them used by 1000 profiles, long names: every line of `status` fits
/// the width it is given (and the JSON still has everything).
#[test]
fn no_status_line_is_wider_than_the_terminal() {
    let home = TestHome::new();
    let mut config = String::new();
    for i in 0..1000 {
        config.push_str(&format!(
            "[sso-session session-with-a-rather-long-name-{i:04}]\nsso_start_url = https://s{i}.awsapps.com/start\n\
             sso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\
             [profile team-profile-with-a-long-name-{i:04}]\nsso_session = session-with-a-rather-long-name-0000\n\
             sso_account_id = 111122223333\nsso_role_name = Admin\n"
        ));
    }
    home.write(".aws/config", config);
    // A daemon state whose last result has a part per session.
    let result: Vec<String> =
        (0..1000).map(|i| format!("session-with-a-rather-long-name-{i:04}: browser login needed")).collect();
    home.write(
        ".local/state/cc-aws-keepalive/daemon.json",
        serde_json::json!({"pid": 1, "lastRun": "2026-11-22T11:55:00Z", "lastResult": result.join("; "), "lastOk": false})
            .to_string(),
    );
    // A missing profile makes a long problem line; not-logged-in sessions make notes.
    for width in [40, 80, 123] {
        let out = run_at_now(
            &home,
            None,
            &["status"],
            &[("COLUMNS", &width.to_string()), ("AWS_PROFILE", "team-profile-with-a-long-name-0007")],
        );
        assert_eq!(out.status, Some(0), "{}", out.describe());
        assert!(out.stdout.lines().count() > 1000, "{}", out.stdout.lines().count());
        for l in out.stdout.lines() {
            assert!(l.chars().count() <= width, "{} > {width}: {l:?}", l.chars().count());
        }
        if width > 80 {
            assert!(out.stdout.contains("+997 more"), "the profile list is shortened:\n{}", out.stdout);
        }
    }
    // Piped without COLUMNS: lines are not wrapped, but lists and cells are still bounded.
    let out = run_at_now(&home, None, &["status"], &[]);
    let widest = out.stdout.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest < 400, "a {widest}-character line");
    let out = run_at_now(&home, None, &["status", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1000);
    assert_eq!(v["sessions"][0]["profiles"].as_array().unwrap().len(), 1000);
}
