//! End-to-end tests: the real Claude Code, our hook binaries and the mock AWS server together.
//!
//! Ignored by default because they need the real Claude Code binary (≈380 MB); `cargo xtask ci`
//! installs it and runs them with `CC_E2E_CLAUDE` naming it. Every run gets a temp HOME, talks
//! only to the loopback mock, and is killed after two minutes.

// Test code: failing loudly at the first surprise is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use test_support::{
    MockAws, Route, RunOutput, SsoConfig, TestHome, assert_no_secret, claude_bedrock_env, e2e_claude, rfc3339, run,
    unix_now,
};

/// A Claude Code run against the mock takes about a second; failures retry for minutes.
const CLAUDE_TIMEOUT: Duration = Duration::from_secs(120);

/// The expired key in `~/.aws/credentials` before the login.
const OLD_AKID: &str = "ASIAE2EOLDKEY0000001";
const OLD_SECRET: &str = "e2eOldSecret/000000000000000000000000001";
const OLD_TOKEN: &str = "e2e-old-session-token-0001";
/// The key the auto-login writes.
const NEW_AKID: &str = "ASIAE2ENEWKEY0000002";
const NEW_SECRET: &str = "e2eNewSecret/000000000000000000000000002";
const NEW_TOKEN: &str = "e2e-new-session-token-0002";

/// Quotes a string for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A `[default]` profile in the credentials-file-provider style (saml2aws and friends).
fn credentials_file(akid: &str, secret: &str, token: &str, expires_unix: u64) -> String {
    format!(
        "[default]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n\
         aws_session_token = {token}\nx_security_token_expires = {}\n",
        rfc3339(expires_unix)
    )
}

/// Writes our `config.json` where the hooks look for it (`$XDG_CONFIG_HOME/cc-aws-keepalive`).
fn write_config(home: &TestHome, config: &Value) {
    home.write(".config/cc-aws-keepalive/config.json", config.to_string());
}

/// `claude -p PROMPT` with the Bedrock-on-mock environment and no static AWS keys.
fn claude(home: &TestHome, mock: &MockAws, args: &[&str]) -> Command {
    let mut cmd = home.command(e2e_claude());
    claude_bedrock_env(&mut cmd, &mock.url()).args(["-p", "say hi"]).args(args);
    cmd
}

fn context(out: &RunOutput, mock: &MockAws, home: &TestHome) -> String {
    format!(
        "{}\n--- mock log ---\n{}\n--- ~/.aws/credentials ---\n{}",
        out.describe(),
        mock.dump(),
        home.try_read(".aws/credentials").unwrap_or_default()
    )
}

/// Runs `claude -p` with `awsCredentialExport`/`awsAuthRefresh` set to our binaries and
/// asserts it answered with `answer`; returns the run and the context for later messages.
fn claude_with_our_settings(home: &TestHome, mock: &MockAws, answer: &str) -> (RunOutput, String) {
    let settings = home.write(
        "claude-settings.json",
        json!({
            "awsCredentialExport": sh_quote(&bin("cc-aws-export").to_string_lossy()),
            "awsAuthRefresh": sh_quote(&bin("cc-aws-refresh").to_string_lossy()),
        })
        .to_string(),
    );
    let settings_arg = settings.to_string_lossy().into_owned();
    let out = run(&mut claude(home, mock, &["--settings", &settings_arg]), b"", CLAUDE_TIMEOUT);
    let ctx = context(&out, mock, home);
    assert!(out.success(), "claude failed:\n{ctx}");
    assert!(out.stdout.contains(answer), "no answer:\n{ctx}");
    (out, ctx)
}

fn bin(name: &str) -> PathBuf {
    let p = PathBuf::from(match name {
        "cc-aws-export" => env!("CARGO_BIN_EXE_cc-aws-export"),
        "cc-aws-refresh" => env!("CARGO_BIN_EXE_cc-aws-refresh"),
        "cc-aws-check" => env!("CARGO_BIN_EXE_cc-aws-check"),
        _ => panic!("unknown binary {name}"),
    });
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// Credential-file provider: `~/.aws/credentials` holds an expired key; `autoLoginCmd` writes
/// a fresh one. Claude Code's STS probe fails, it runs `awsAuthRefresh` (cc-aws-refresh runs
/// the auto-login), then `awsCredentialExport` (cc-aws-export reads the fresh key), and
/// Bedrock is called with the new key.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn credential_file_provider_recovers_through_auto_login() {
    let now = unix_now();
    let mock = MockAws::start();
    mock.set_answer("E2E_ANSWER_CREDENTIAL_FILE");
    mock.add_key(OLD_AKID, OLD_SECRET, Some(OLD_TOKEN), false);
    mock.add_key(NEW_AKID, NEW_SECRET, Some(NEW_TOKEN), true);

    let home = TestHome::new();
    home.write(".aws/credentials", credentials_file(OLD_AKID, OLD_SECRET, OLD_TOKEN, now - 3600));
    // The "login": what saml2aws & co. do, plus a marker proving it ran.
    let login = home.write(
        "bin/fake-login.sh",
        format!(
            "#!/bin/sh\necho ran >> \"$HOME/autologin.ran\"\ncat > \"$HOME/.aws/credentials\" <<'EOF'\n{}EOF\n",
            credentials_file(NEW_AKID, NEW_SECRET, NEW_TOKEN, now + 2 * 3600)
        ),
    );
    write_config(&home, &json!({ "autoLoginCmd": format!("sh {}", sh_quote(&login.to_string_lossy())) }));
    let (out, ctx) = claude_with_our_settings(&home, &mock, "E2E_ANSWER_CREDENTIAL_FILE");

    // The path we expect: the probe saw the old, expired key...
    let reqs = mock.requests();
    let probe = reqs.iter().find(|r| r.route == Route::Sts);
    assert!(
        probe.is_some_and(|r| r.access_key_id.as_deref() == Some(OLD_AKID)),
        "no STS probe with the old key:\n{ctx}"
    );
    // ...the auto-login ran and wrote the new key...
    assert!(home.try_read("autologin.ran").is_some(), "autoLoginCmd never ran:\n{ctx}");
    assert!(home.read(".aws/credentials").contains(NEW_AKID));
    // ...and Bedrock was called with the new key, never successfully with the old one.
    assert!(
        reqs.iter().any(|r| r.route == Route::BedrockStream && r.signed_ok_by(NEW_AKID)),
        "no Bedrock stream call signed by the new key:\n{ctx}"
    );
    assert!(
        !reqs.iter().any(|r| r.access_key_id.as_deref() == Some(OLD_AKID) && r.status == Some(200)),
        "the expired key was accepted:\n{ctx}"
    );
    assert_eq!(mock.count(Route::Other), 0, "unexpected requests:\n{ctx}");
    assert_no_secret(&format!("{}\n{}", out.stdout, out.stderr), &[OLD_SECRET, NEW_SECRET, OLD_TOKEN, NEW_TOKEN]);
}

/// Builds a plugin directory like the shipped one, with `cc-aws-check` as its
/// `UserPromptSubmit` hook.
fn plugin_dir(home: &TestHome) -> PathBuf {
    let dir = home.join("plugin");
    home.write(
        "plugin/.claude-plugin/plugin.json",
        json!({
            "name": "cc-aws-keepalive",
            "version": "0.0.0",
            "description": "cc-aws-keepalive end-to-end test build",
            "author": { "name": "cc-aws-keepalive" },
        })
        .to_string(),
    );
    home.write(
        "plugin/hooks/hooks.json",
        json!({
            "hooks": {
                "UserPromptSubmit": [{
                    "hooks": [{
                        "type": "command",
                        // Quoted, as `claude plugin validate --strict` demands.
                        "command": "\"${CLAUDE_PLUGIN_ROOT}/bin/cc-aws-check\"",
                    }],
                }],
            },
        })
        .to_string(),
    );
    let target = dir.join("bin/cc-aws-check");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    // fs::copy keeps the executable bit.
    std::fs::copy(bin("cc-aws-check"), &target).unwrap();
    dir
}

/// The plugin `cargo xtask dist` built (`CC_E2E_PLUGIN_DIR`, set by `cargo xtask ci`), copied
/// into the temp HOME; without it, a plugin laid out like the shipped one.
fn dist_plugin_dir(home: &TestHome) -> PathBuf {
    let Some(dist) = std::env::var_os("CC_E2E_PLUGIN_DIR") else {
        if std::env::var_os("CI").is_some() {
            panic!("CC_E2E_PLUGIN_DIR is not set: run the e2e suite through `cargo xtask ci`");
        }
        return plugin_dir(home);
    };
    let dist = PathBuf::from(dist);
    assert!(dist.join(".claude-plugin/plugin.json").is_file(), "{} is not a plugin directory", dist.display());
    assert!(dist.join("hooks/hooks.json").is_file(), "{} has no hooks/hooks.json", dist.display());
    assert!(dist.join("bin/cc-aws-check").is_file(), "{} has no bin/cc-aws-check", dist.display());
    dist
}

/// The stream-json `system` events that carry hook messages.
fn hook_messages(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "system")
        .filter_map(|v| v["content"].as_str().map(str::to_string))
        .filter(|c| c.contains("UserPromptSubmit says:"))
        .collect()
}

/// The plugin's `UserPromptSubmit` hook runs in `-p` mode and its warning reaches the user.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn plugin_check_hook_warns_before_expiry() {
    let now = unix_now();
    let mock = MockAws::start();
    mock.set_answer("E2E_ANSWER_PLUGIN");
    mock.add_key(NEW_AKID, NEW_SECRET, Some(NEW_TOKEN), true);

    let home = TestHome::new();
    // Valid for two more hours, well inside the warning window below.
    home.write(".aws/credentials", credentials_file(NEW_AKID, NEW_SECRET, NEW_TOKEN, now + 2 * 3600));
    write_config(&home, &json!({ "warnMinutes": 600 }));
    let plugin = dist_plugin_dir(&home);

    let plugin_arg = plugin.to_string_lossy().into_owned();
    let out = run(
        &mut claude(&home, &mock, &["--plugin-dir", &plugin_arg, "--output-format", "stream-json", "--verbose"]),
        b"",
        CLAUDE_TIMEOUT,
    );
    let ctx = context(&out, &mock, &home);
    assert!(out.success(), "claude failed:\n{ctx}");
    assert!(out.stdout.contains("E2E_ANSWER_PLUGIN"), "no answer:\n{ctx}");
    let messages = hook_messages(&out.stdout);
    assert!(
        messages.iter().any(|m| m.contains("AWS")),
        "cc-aws-check's systemMessage did not show up: {messages:?}\n{ctx}"
    );
    assert!(mock.requests().iter().any(|r| r.route == Route::BedrockStream && r.signed_ok_by(NEW_AKID)), "{ctx}");
    assert_no_secret(&out.stdout, &[NEW_SECRET, NEW_TOKEN]);
}

/// The corp session in us-east-1, role `BedrockUser`.
const SSO: SsoConfig = SsoConfig { sso_region: "us-east-1", role_name: "BedrockUser", ..SsoConfig::CORP };

/// IAM Identity Center: the access token has expired, the refresh token is good. Claude Code
/// must get an answer with no browser login, after exactly one CreateToken, signing Bedrock
/// requests with the role credentials the portal issued.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn sso_session_refreshes_silently() {
    let now = unix_now();
    let mock = MockAws::start();
    mock.set_answer("E2E_ANSWER_SSO");
    let (access, refresh, client_secret) = ("E2EAT-expired-access-token", "E2ERT-refresh-token", "E2ECS-client-secret");
    mock.set_oidc_client("e2e-client", client_secret);
    mock.set_refresh_token(refresh);
    mock.add_access_token(access, false);

    let home = TestHome::new();
    home.write(".aws/config", SSO.config_text());
    let token = SSO.token_json(
        ("e2e-client", client_secret),
        access,
        Some(refresh),
        &rfc3339(now - 600),
        &rfc3339(now + 30 * 86400),
    );
    let cache = SSO.token_rel();
    home.write(&cache, token.to_string());
    let marker = home.join("browser-login.ran");
    write_config(
        &home,
        &json!({ "profile": "dev", "loginCmd": format!("touch {}", sh_quote(&marker.to_string_lossy())) }),
    );
    let (out, ctx) = claude_with_our_settings(&home, &mock, "E2E_ANSWER_SSO");
    assert!(!marker.exists(), "a browser login ran:\n{ctx}");
    assert_eq!(mock.count(Route::Token), 1, "exactly one CreateToken:\n{ctx}");
    let role_keys = mock.issued_role_keys();
    let reqs = mock.requests();
    assert!(
        reqs.iter().any(|r| r.route == Route::BedrockStream && role_keys.iter().any(|k| r.signed_ok_by(k))),
        "no Bedrock stream call signed with the issued role credentials:\n{ctx}"
    );
    let stored: Value = serde_json::from_str(&home.read(&cache)).unwrap();
    assert_eq!(stored["refreshToken"].as_str(), mock.refresh_token().as_deref(), "rotated refresh token stored");
    let mut secrets = vec![access.to_string(), refresh.to_string(), client_secret.to_string()];
    secrets.extend(mock.issued_access_tokens());
    secrets.extend(mock.issued_refresh_tokens());
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret(&format!("{}\n{}", out.stdout, out.stderr), &refs);
}

#[test]
fn sh_quote_survives_quotes() {
    assert_eq!(sh_quote("/a b/c"), "'/a b/c'");
    assert_eq!(sh_quote("it's"), r"'it'\''s'");
}
