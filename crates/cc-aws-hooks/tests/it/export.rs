//! `cc-aws-export`: the JSON Claude Code reads, and every way it can fail.

use serde_json::Value;
use test_support::{TestHome, assert_no_secret};

use crate::*;

#[test]
fn prints_credentials_with_expiration() {
    let home = home_with_creds("2026-11-22T16:23:00+00:00");
    let out = run_hook(&home, "export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["Credentials"]["AccessKeyId"], "AKIAOLD");
    assert_eq!(v["Credentials"]["SecretAccessKey"], SECRET);
    assert_eq!(v["Credentials"]["SessionToken"], TOKEN);
    assert_eq!(v["Credentials"]["Expiration"], "2026-11-22T16:23:00Z");
    assert_no_secret(&out.stderr, &[SECRET, TOKEN]);
}

#[test]
fn reads_the_file_fresh_on_every_call() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    let first = run_hook(&home, "export", b"", &[]);
    home.write(".aws/credentials", profile_ini("default", "AKIANEW", "1795363200"));
    let second = run_hook(&home, "export", b"", &[]);
    assert!(first.stdout.contains("AKIAOLD"));
    let v: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(v["Credentials"]["AccessKeyId"], "AKIANEW");
    assert_eq!(v["Credentials"]["Expiration"], "2026-11-22T16:00:00Z");
}

#[test]
fn profile_selection_and_file_override() {
    let home = TestHome::new();
    let creds = format!(
        "{}{}{}",
        profile_ini("work", "AKIAWORK", "2026-11-22T18:00:00Z"),
        profile_ini("override", "AKIAOVER", "2026-11-22T18:00:00Z"),
        profile_ini("fromcfg", "AKIACFG", "2026-11-22T18:00:00Z")
    );
    let path = home.write("elsewhere/creds.ini", creds);
    let file = path.to_str().unwrap();
    let key = |out: &test_support::RunOutput| {
        serde_json::from_str::<Value>(&out.stdout).unwrap()["Credentials"]["AccessKeyId"].as_str().unwrap().to_string()
    };
    let env = [("AWS_SHARED_CREDENTIALS_FILE", file), ("AWS_PROFILE", "work")];
    assert_eq!(key(&run_hook(&home, "export", b"", &env)), "AKIAWORK");
    write_config(&home, r#"{"profile":"fromcfg"}"#);
    assert_eq!(key(&run_hook(&home, "export", b"", &env)), "AKIACFG");
    let env = [("AWS_SHARED_CREDENTIALS_FILE", file), ("CC_KEEPALIVE_PROFILE", "override")];
    assert_eq!(key(&run_hook(&home, "export", b"", &env)), "AKIAOVER");
}

#[test]
fn missing_credentials_name_profile_and_login_command() {
    let home = TestHome::new();
    write_config(&home, r#"{"loginCmd":"saml2aws login"}"#);
    let out = run_hook(&home, "export", b"", &[("AWS_PROFILE", "prod")]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.is_empty());
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("\"prod\"") && line.contains("saml2aws login"), "{line}");
}

#[test]
fn expired_credentials_are_not_handed_out() {
    let home = home_with_creds("2026-11-22T11:55:00Z");
    write_config(&home, r#"{"loginCmd":"gimme-aws-creds"}"#);
    let out = run_hook(&home, "export", b"", &[]);
    assert_eq!(out.status, Some(1));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("expired 5m ago") && out.stderr.contains("gimme-aws-creds"), "{}", out.stderr);
    assert_no_secret(&out.stderr, &[SECRET, TOKEN]);
}

#[test]
fn long_term_keys_without_expiry_are_exported_as_is() {
    let home = TestHome::new();
    home.write(".aws/credentials", format!("[default]\naws_access_key_id=AKIALONG\naws_secret_access_key={SECRET}\n"));
    let out = run_hook(&home, "export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["Credentials"].as_object().unwrap().len(), 2);
}

#[test]
fn broken_config_warns_but_still_exports() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    write_config(&home, "{ not json");
    let out = run_hook(&home, "export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stderr.contains("config.json") && out.stderr.contains("invalid JSON"), "{}", out.stderr);
}

#[test]
fn invalid_profile_names_are_refused() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    let out = run_hook(&home, "export", b"", &[("AWS_PROFILE", "-rf /")]);
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("invalid AWS profile name"), "{}", out.stderr);
}

#[test]
fn configured_expiration_field_and_epoch_millis() {
    let home = TestHome::new();
    home.write(
        ".aws/credentials",
        format!("[default]\naws_access_key_id=AKIA1\naws_secret_access_key={SECRET}\nmy_until = 1795352400000\nexpiration=2020-01-01T00:00:00Z\n"),
    );
    write_config(&home, r#"{"expirationField":"my_until"}"#);
    let out = run_hook(&home, "export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("\"Expiration\":\"2026-11-22T13:00:00Z\""), "{}", out.stdout);
}
