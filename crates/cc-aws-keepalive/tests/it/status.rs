//! `status` and `status --json`: golden output at a fixed clock, no secrets.

use test_support::TestHome;

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
                "error": null
            }
        ],
        "profiles": [
            {"name": "dev", "source": "sso", "chain": "dev (sso-session corp)", "roles": 0,
             "session": "corp", "expiryField": null,
             "expiresAt": "2026-11-22T12:45:00Z", "secondsLeft": 2700,
             "stepNeededAt": "2027-02-20T12:00:00Z", "stepNeeded": "login", "error": null}
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
