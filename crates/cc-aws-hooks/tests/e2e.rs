//! End-to-end tests: the real Claude Code, our hook binaries and the mock AWS server together.
//!
//! Ignored by default because they need the real Claude Code binary (≈380 MB); `cargo xtask ci`
//! installs it and runs them with `CC_E2E_CLAUDE` naming it. Every run gets a temp HOME, talks
//! only to the loopback mock, and is killed after two minutes.

// Test code: failing loudly at the first surprise is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{
    Fault, MockAws, Route, RunOutput, SsoConfig, TestHome, assert_no_secret, claude_bedrock_env, e2e_claude, rfc3339,
    run, unix_now,
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

/// Our config with `profile` and a `loginCmd` that only leaves a marker file; returns the
/// marker, there only if a browser login ran.
fn config_with_browser_login_marker(home: &TestHome, profile: &str) -> PathBuf {
    let marker = home.join("browser-login.ran");
    write_config(
        home,
        &json!({ "profile": profile, "loginCmd": format!("touch {}", sh_quote(&marker.to_string_lossy())) }),
    );
    marker
}

/// A mock AWS whose Bedrock answers `answer`.
fn mock_answering(answer: &str) -> MockAws {
    let mock = MockAws::start();
    mock.set_answer(answer);
    mock
}

/// Asserts that neither `secrets` nor a token the mock's SSO-OIDC issued shows in the run's
/// output.
fn assert_no_secret_shown(out: &RunOutput, mock: &MockAws, secrets: &[String]) {
    let mut all = secrets.to_vec();
    all.extend(mock.issued_access_tokens());
    all.extend(mock.issued_refresh_tokens());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_no_secret(&format!("{}\n{}", out.stdout, out.stderr), &refs);
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
    let mock = mock_answering("E2E_ANSWER_CREDENTIAL_FILE");
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
    assert_no_secret_shown(&out, &mock, &[OLD_SECRET, NEW_SECRET, OLD_TOKEN, NEW_TOKEN].map(String::from));
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
    let mock = mock_answering("E2E_ANSWER_PLUGIN");
    mock.add_key(NEW_AKID, NEW_SECRET, Some(NEW_TOKEN), true);

    let home = TestHome::new();
    // Valid for two more hours, well inside the warning window below.
    home.write(".aws/credentials", credentials_file(NEW_AKID, NEW_SECRET, NEW_TOKEN, unix_now() + 2 * 3600));
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
/// A HOME with `aws_config` and an IAM Identity Center session ([`SSO`]) whose access token
/// has expired and whose refresh token works at `mock`; our config uses `profile`, its
/// `loginCmd` only leaves a marker. Returns the HOME, the marker and the secrets in play.
fn expired_sso_session(mock: &MockAws, aws_config: &str, profile: &str) -> (TestHome, PathBuf, Vec<String>) {
    let now = unix_now();
    let (access, refresh, client_secret) = ("E2EAT-expired-access-token", "E2ERT-refresh-token", "E2ECS-client-secret");
    mock.set_oidc_client("e2e-client", client_secret);
    mock.set_refresh_token(refresh);
    mock.add_access_token(access, false);

    let home = TestHome::new();
    home.write(".aws/config", aws_config);
    let token = SSO.token_json(
        ("e2e-client", client_secret),
        access,
        Some(refresh),
        &rfc3339(now - 600),
        &rfc3339(now + 30 * 86400),
    );
    home.write(SSO.token_rel(), token.to_string());
    let marker = config_with_browser_login_marker(&home, profile);
    (home, marker, vec![access.into(), refresh.into(), client_secret.into()])
}

#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn sso_session_refreshes_silently() {
    let mock = mock_answering("E2E_ANSWER_SSO");
    let (home, marker, secrets) = expired_sso_session(&mock, &SSO.config_text(), "dev");
    let (out, ctx) = claude_with_our_settings(&home, &mock, "E2E_ANSWER_SSO");
    assert!(!marker.exists(), "a browser login ran:\n{ctx}");
    assert_eq!(mock.count(Route::Token), 1, "exactly one CreateToken:\n{ctx}");
    let role_keys = mock.issued_role_keys();
    let reqs = mock.requests();
    assert!(
        reqs.iter().any(|r| r.route == Route::BedrockStream && role_keys.iter().any(|k| r.signed_ok_by(k))),
        "no Bedrock stream call signed with the issued role credentials:\n{ctx}"
    );
    let stored: Value = serde_json::from_str(&home.read(SSO.token_rel())).unwrap();
    assert_eq!(stored["refreshToken"].as_str(), mock.refresh_token().as_deref(), "rotated refresh token stored");
    assert_no_secret_shown(&out, &mock, &secrets);
}

/// How long the mock holds Claude Code's first Bedrock request while the test kills the
/// credentials that signed it.
const HOLD: Duration = Duration::from_secs(3);

/// Settings whose `awsCredentialExport`/`awsAuthRefresh` append their process id and the time
/// to `export.calls`/`refresh.calls` in HOME and then `exec` our binaries (same pid, so the
/// lines match the pids in `keepalive.log`): a test can count and tell apart Claude Code's calls.
fn counting_settings(home: &TestHome) -> PathBuf {
    let wrap = |name: &str| {
        let log = home.join(format!("{}.calls", name.trim_start_matches("cc-aws-")));
        format!(
            "echo $$ $(date +%T.%N) >> {}; exec {}",
            sh_quote(&log.to_string_lossy()),
            sh_quote(&bin(name).to_string_lossy())
        )
    };
    home.write(
        "claude-settings.json",
        json!({ "awsCredentialExport": wrap("cc-aws-export"), "awsAuthRefresh": wrap("cc-aws-refresh") }).to_string(),
    )
}

/// How often Claude Code ran our `export` or `refresh` (see [`counting_settings`]).
fn calls(home: &TestHome, which: &str) -> usize {
    home.try_read(format!("{which}.calls")).map_or(0, |s| s.lines().count())
}

/// The `api_retry` events of a stream-json run as `(attempt, HTTP status, error)`.
fn api_retries(stdout: &str) -> Vec<(u64, u64, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "system" && v["subtype"] == "api_retry")
        .map(|v| {
            let n = |k: &str| v[k].as_u64().unwrap_or_default();
            (n("attempt"), n("error_status"), v["error"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// A run through a mid-session expiry, and what the test needs to judge it.
struct MidSession {
    out: RunOutput,
    /// The key Claude Code started with, which died while it was in use.
    dead_key: String,
    /// Everything for assertion messages: the run, the mock log, our hooks' calls and log.
    ctx: String,
}

/// One `claude -p` run (stream-json) through our export and refresh in which the credentials
/// Claude Code holds die mid-session. Claude Code awaits `ListInferenceProfiles` before any
/// model call (measured on 2.1.332), so the mock holds that request for [`HOLD`]: it has been
/// let in (SigV4 verified with the exported key) when the test runs `expire`, which must make
/// that key invalid at the mock (and may age our cache of it) and return it. Every model call after it
/// meets 403 `ExpiredTokenException` until Claude Code gets fresh credentials from our export.
///
/// What 2.1.332 does here: `awsAuthRefresh` once at start (its STS probe finds no default
/// credentials), then `awsCredentialExport`; the held request succeeds; the three `invoke`
/// probes get 403 and are not retried; the stream call gets 403, one `api_retry` event, the
/// export runs again ~0.5 s later (not the refresh: at most every 30 s) and the retry succeeds.
fn claude_through_mid_session_expiry(home: &TestHome, mock: &MockAws, expire: impl FnOnce() -> String) -> MidSession {
    let settings = counting_settings(home).to_string_lossy().into_owned();
    let mut cmd = claude(home, mock, &["--settings", &settings, "--output-format", "stream-json", "--verbose"]);
    mock.push_fault(Route::InferenceProfiles, Fault::Slow(HOLD));
    let (out, dead_key) = std::thread::scope(|s| {
        let claude_run = s.spawn(|| run(&mut cmd, b"", CLAUDE_TIMEOUT));
        let deadline = Instant::now() + CLAUDE_TIMEOUT;
        while mock.count(Route::InferenceProfiles) == 0 && !claude_run.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(mock.count(Route::InferenceProfiles), 1, "Claude Code never called Bedrock:\n{}", mock.dump());
        // The mock checks the signature as the request arrives, then holds it: give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        let dead_key = expire();
        assert!(
            !mock.requests().iter().any(|r| r.route == Route::InferenceProfiles),
            "the held request finished before the credentials died: nothing expired mid-session"
        );
        (claude_run.join().unwrap(), dead_key)
    });
    let ctx = format!(
        "{}\n--- export ran (pid, time) ---\n{}--- refresh ran (pid, time) ---\n{}--- api_retry events ---\n{:?}\n\
         --- keepalive.log ---\n{}",
        context(&out, mock, home),
        home.try_read("export.calls").unwrap_or_default(),
        home.try_read("refresh.calls").unwrap_or_default(),
        api_retries(&out.stdout),
        std::fs::read_to_string(home.state_dir().join("cc-aws-keepalive/keepalive.log")).unwrap_or_default(),
    );
    MidSession { out, dead_key, ctx }
}

impl MidSession {
    /// Claude Code answered `answer` with no browser login (`marker` absent), met the expiry
    /// on its stream call, ran the export again, and its final stream call was signed with
    /// `new_key`; the dead key was never accepted after it died.
    fn assert_survived(&self, mock: &MockAws, home: &TestHome, answer: &str, marker: &Path, new_key: &str) {
        let (ctx, dead) = (&self.ctx, self.dead_key.as_str());
        assert!(self.out.success(), "claude failed:\n{ctx}");
        assert!(self.out.stdout.contains(answer), "no answer:\n{ctx}");
        assert!(!marker.exists(), "a browser login ran:\n{ctx}");
        assert_ne!(new_key, dead, "no new credentials:\n{ctx}");
        let reqs = mock.requests();
        let held = reqs.iter().find(|r| r.route == Route::InferenceProfiles).expect("no ListInferenceProfiles");
        assert!(held.signed_ok_by(dead), "Claude Code did not start with the key that died:\n{ctx}");
        assert!(
            reqs.iter().any(|r| r.route == Route::BedrockStream
                && r.access_key_id.as_deref() == Some(dead)
                && r.error.as_deref() == Some("ExpiredTokenException")),
            "no stream call met the expiry:\n{ctx}"
        );
        assert!(!reqs.iter().any(|r| r.seq > held.seq && r.signed_ok_by(dead)), "the dead key was accepted:\n{ctx}");
        assert!(calls(home, "export") >= 2, "Claude Code did not run awsCredentialExport again:\n{ctx}");
        let last = reqs.iter().rev().find(|r| r.route == Route::BedrockStream).expect("no stream call");
        assert!(last.signed_ok_by(new_key), "the final stream call is not signed with the new key:\n{ctx}");
    }
}

/// A timestamp `secs` ago in the format of `like` (botocore's role cache writes `…UTC`, the
/// SDKs and `aws login` `…Z`).
fn past_like(like: &str, secs: u64) -> String {
    let t = rfc3339(unix_now() - secs);
    if like.ends_with("UTC") { format!("{}UTC", t.trim_end_matches('Z')) } else { t }
}

/// The role `bedrock` assumes; botocore's cache key for it is in REFERENCE.md.
const CHAIN_ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
/// `~/.aws/cli/cache/` file of [`CHAIN_ROLE`]: sha1 of `{"RoleArn": "<arn>"}`, as botocore.
const CHAIN_ROLE_CACHE: &str = ".aws/cli/cache/f80c9ecace670741c5910425d552bb9dee3fd8fb.json";

/// A role chain over IAM Identity Center: profile `bedrock` assumes [`CHAIN_ROLE`] with the
/// SSO profile `dev` as its source; the SSO access token has expired, the refresh token works.
/// Returns the HOME, the marker a browser login would create, and the secrets in play.
fn chain_over_sso(mock: &MockAws) -> (TestHome, PathBuf, Vec<String>) {
    let config = format!(
        "{}\n[profile bedrock]\nrole_arn = {CHAIN_ROLE}\nsource_profile = dev\nregion = us-east-1\n",
        SSO.config_text()
    );
    expired_sso_session(mock, &config, "bedrock")
}

/// Where an AWS CLI cache file keeps its key: the object and its fields.
struct CachedKey {
    object: &'static str,
    id: &'static str,
    /// The secret access key and the session token.
    secrets: [&'static str; 2],
    expiry: &'static str,
}

/// botocore's assume-role and SSO role-credential caches (`~/.aws/cli/cache/`).
const ROLE_CACHE_KEY: CachedKey = CachedKey {
    object: "Credentials",
    id: "AccessKeyId",
    secrets: ["SecretAccessKey", "SessionToken"],
    expiry: "Expiration",
};
/// The `aws login` cache (`~/.aws/login/cache/`).
const LOGIN_CACHE_KEY: CachedKey = CachedKey {
    object: "accessToken",
    id: "accessKeyId",
    secrets: ["secretAccessKey", "sessionToken"],
    expiry: "expiresAt",
};

impl CachedKey {
    fn read(&self, path: &Path) -> Value {
        let cached: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("the cache is JSON");
        cached[self.object].clone()
    }

    /// The secret and the token of the key cached in `path`.
    fn secrets(&self, path: &Path) -> [String; 2] {
        let keys = self.read(path);
        self.secrets.map(|k| keys[k].as_str().unwrap().to_string())
    }

    /// Asserts that `path` caches `key` (`why` is the message); returns its secret and token.
    fn assert_holds(&self, path: &Path, key: &str, why: &str) -> [String; 2] {
        assert_eq!(self.read(path)[self.id], key, "{why}");
        self.secrets(path)
    }

    /// Dates the expiry of the key cached in `path` a minute back, in the file's own format,
    /// leaving the rest of the file as it is.
    fn age(&self, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap();
        let expiry = self.read(path)[self.expiry].as_str().unwrap().to_string();
        std::fs::write(path, text.replacen(&expiry, &past_like(&expiry, 60), 1)).unwrap();
    }
}

/// Makes `issued`, the one key `what` issued so far, invalid at the mock; returns it.
fn invalidate_the_only_key(mock: &MockAws, issued: &[String], what: &str) -> String {
    assert_eq!(issued.len(), 1, "one {what} before the first Bedrock call:\n{}", mock.dump());
    mock.set_key_valid(&issued[0], false);
    issued[0].clone()
}

/// What both role-chain runs end with: Claude Code survived (see [`MidSession::assert_survived`])
/// onto the latest assumed key after exactly one CreateToken, and the role cache holds that key.
/// Adds the key's secret and token to `secrets`.
fn assert_role_chain_survived(
    run: &MidSession,
    mock: &MockAws,
    home: &TestHome,
    answer: &str,
    marker: &Path,
    secrets: &mut Vec<String>,
) {
    let ctx = &run.ctx;
    let new_key = mock.sts_issued_keys().last().cloned().unwrap();
    run.assert_survived(mock, home, answer, marker, &new_key);
    assert_eq!(mock.count(Route::Token), 1, "exactly one CreateToken:\n{ctx}");
    let why = format!("the new key is cached:\n{ctx}");
    secrets.extend(ROLE_CACHE_KEY.assert_holds(&home.join(CHAIN_ROLE_CACHE), &new_key, &why));
}

/// The role chain of [`chain_over_sso`]: Claude Code's startup `awsAuthRefresh` makes one
/// silent CreateToken, GetRoleCredentials and AssumeRole, and Claude Code starts with the
/// assumed role's credentials. Mid-session the role credentials die at AWS and in our cache:
/// Claude Code gets 403, runs the export again, the export assumes the role again through the
/// still-valid SSO credentials, and the answer arrives, with no browser login.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn role_chain_over_sso_survives_expiry() {
    let mock = mock_answering("E2E_ANSWER_ROLE_CHAIN");
    let (home, marker, mut secrets) = chain_over_sso(&mock);
    let role_cache = home.join(CHAIN_ROLE_CACHE);
    let run = claude_through_mid_session_expiry(&home, &mock, || {
        let dead = invalidate_the_only_key(&mock, &mock.sts_issued_keys(), "AssumeRole");
        secrets.extend(ROLE_CACHE_KEY.assert_holds(&role_cache, &dead, "the role cache holds the exported key"));
        ROLE_CACHE_KEY.age(&role_cache);
        dead
    });
    let ctx = &run.ctx;
    assert_role_chain_survived(&run, &mock, &home, "E2E_ANSWER_ROLE_CHAIN", &marker, &mut secrets);
    assert!(mock.assume_role_count(CHAIN_ROLE) >= 2, "the role was not assumed again:\n{ctx}");
    let sso_keys = mock.issued_role_keys();
    assert!(
        mock.sts_calls().iter().all(|c| c.source_key.as_ref().is_some_and(|k| sso_keys.contains(k))),
        "every AssumeRole is signed with the SSO role credentials:\n{ctx}"
    );
    secrets.extend(ROLE_CACHE_KEY.secrets(&home.join(".aws/cli/cache").join(sso_role_cache_name(&home))));
    assert_no_secret_shown(&run.out, &mock, &secrets);
}

/// The role chain of [`chain_over_sso`], its credentials refused by AWS mid-session while our
/// cache still holds them as fresh (a revoked session, a deleted key, an expiry the cache has
/// wrong): Claude Code's retries get the same key from the export until its next
/// `awsAuthRefresh` (at most every 30 s), which issues new credentials silently; the answer
/// arrives with no browser login.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn role_chain_over_sso_survives_revocation() {
    let mock = mock_answering("E2E_ANSWER_REVOKED");
    let (home, marker, mut secrets) = chain_over_sso(&mock);
    let run = claude_through_mid_session_expiry(&home, &mock, || {
        invalidate_the_only_key(&mock, &mock.sts_issued_keys(), "AssumeRole")
    });
    let ctx = &run.ctx;
    assert_role_chain_survived(&run, &mock, &home, "E2E_ANSWER_REVOKED", &marker, &mut secrets);
    assert!(calls(&home, "refresh") >= 2, "no awsAuthRefresh after the refusal:\n{ctx}");
    assert_eq!(mock.assume_role_count(CHAIN_ROLE), 2, "the role was not assumed exactly once more:\n{ctx}");
    assert_no_secret_shown(&run.out, &mock, &secrets);
}

/// The name of the SSO role-credential cache file in `~/.aws/cli/cache/` (the one that is not
/// [`CHAIN_ROLE_CACHE`]).
fn sso_role_cache_name(home: &TestHome) -> String {
    let role = Path::new(CHAIN_ROLE_CACHE).file_name().unwrap();
    let names: Vec<String> = std::fs::read_dir(home.join(".aws/cli/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != role)
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one SSO role cache besides the role's: {names:?}");
    names[0].clone()
}

/// An `aws login` session (`login_session` profile `ai`) whose cached keys have expired:
/// Claude Code's startup `awsAuthRefresh` refreshes them at Sign-In (DPoP-bound, single-use
/// refresh token) and the export hands them out. Mid-session
/// the refreshed keys die at AWS and in the cache: Claude Code gets 403, runs the export again,
/// the export refreshes a second time with the rotated refresh token, and the answer arrives,
/// with no browser login.
#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn aws_login_session_survives_expiry() {
    let mock = mock_answering("E2E_ANSWER_AWS_LOGIN");
    let home = TestHome::new();
    let login =
        mock.write_login_session(&home.join(".aws/login/cache"), "arn:aws:iam::111122223333:user/me", unix_now() - 60);
    home.write(".aws/config", login.config_text("ai", "us-east-1"));
    let cache = &login.cache_path;
    let marker = config_with_browser_login_marker(&home, "ai");

    let mut secrets: Vec<String> = vec![
        login.secret_access_key.clone(),
        login.session_token.clone(),
        login.refresh_token.clone(),
        login.dpop_key_pem.lines().nth(2).unwrap().to_string(),
    ];
    let run = claude_through_mid_session_expiry(&home, &mock, || {
        let dead = invalidate_the_only_key(&mock, &mock.issued_login_keys(), "refresh");
        secrets.extend(LOGIN_CACHE_KEY.assert_holds(cache, &dead, "the login cache holds the exported key"));
        LOGIN_CACHE_KEY.age(cache);
        dead
    });
    let ctx = &run.ctx;
    let new_key = mock.issued_login_keys().last().cloned().unwrap();
    run.assert_survived(&mock, &home, "E2E_ANSWER_AWS_LOGIN", &marker, &new_key);
    assert!(mock.login_refresh_calls() >= 2, "no second refresh:\n{ctx}");
    assert_eq!(mock.rejected_dpop_proofs(), Vec::<String>::new(), "a DPoP proof was refused:\n{ctx}");
    secrets.extend(LOGIN_CACHE_KEY.assert_holds(cache, &new_key, &format!("the new key is cached:\n{ctx}")));
    let cached: Value = serde_json::from_str(&std::fs::read_to_string(cache).unwrap()).expect("the cache is JSON");
    let rotated = mock.issued_login_refresh_tokens();
    assert_eq!(rotated.len(), mock.login_refresh_calls(), "every refresh rotated the token:\n{ctx}");
    assert_eq!(cached["refreshToken"].as_str(), rotated.last().map(String::as_str), "rotated refresh token stored");
    secrets.extend(rotated);
    assert_no_secret_shown(&run.out, &mock, &secrets);
}

#[test]
fn sh_quote_survives_quotes() {
    assert_eq!(sh_quote("/a b/c"), "'/a b/c'");
    assert_eq!(sh_quote("it's"), r"'it'\''s'");
}
