//! Integration tests: the `cc-aws-keepalive` binary run as a process in a temp
//! HOME, against the mock AWS server where the network is involved.

// They use sh, kill, chmod and Unix signals.
#![cfg(unix)]
// Helpers here are test code too: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chains;
mod cli;
mod credential_process;
mod daemon;
mod doctor;
mod faults;
mod legacy_sso;
mod logs;
mod refresh;
mod region;
mod service;
mod setup;
mod small_truths;
mod start;
mod status;
mod symlinks;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use test_support::{MockAws, RunOutput, SsoConfig, TestHome};

/// The fixed clock of the golden tests (`CC_KEEPALIVE_NOW`).
pub const NOW: &str = "2026-11-22T12:00:00Z";
pub const ACCESS: &str = "aoaSECRETaccessTOKENvalue0123456789";
pub const REFRESH: &str = "rtkSECRETrefreshTOKENvalue0123456789";
pub const CLIENT_ID: &str = "client-id-corp";
pub const CLIENT_SECRET: &str = "cskSECRETclientSECRETvalue0123456789";
pub const ROLE_SECRET: &str = "wJalrSECRETroleKEYvalue0123456789";
pub const ROLE_TOKEN: &str = "IQoJbSECRETroleSESSIONtoken0123456789";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cc-aws-keepalive")
}

/// The corp session with a profile `dev` in eu-west-1.
pub const CORP: SsoConfig = SsoConfig { region: "eu-west-1", ..SsoConfig::CORP };

/// `~/.aws/config` with two sessions (corp, other) and a profile `dev` on corp.
pub fn aws_config() -> String {
    format!(
        "{}\n[sso-session other]\nsso_start_url = https://other.awsapps.com/start\nsso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n",
        CORP.config_text()
    )
}

pub fn iso(t: time::OffsetDateTime) -> String {
    keepalive_core::expiry::to_iso8601(t)
}

pub fn fixed_now() -> time::OffsetDateTime {
    keepalive_core::expiry::parse(NOW).unwrap()
}

/// The token cache file of `session` (botocore's name: sha1 of the session name).
pub fn token_rel(session: &str) -> PathBuf {
    PathBuf::from(test_support::sso::token_rel(session))
}

/// Writes a token cache file like botocore's, mode 0600.
pub fn write_token(home: &TestHome, session: &str, access_expires: &str, refresh: Option<&str>, reg_expires: &str) {
    let start_url = format!("https://{session}.awsapps.com/start");
    let sso = SsoConfig { session, start_url: &start_url, ..CORP };
    let v = sso.token_json((CLIENT_ID, CLIENT_SECRET), ACCESS, refresh, access_expires, reg_expires);
    let p = home.write(token_rel(session), serde_json::to_string_pretty(&v).unwrap());
    chmod(&p, 0o600);
}

pub fn chmod(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Everything `doctor` wants wired around the AWS config, for the hooks' profile `profile`:
/// `~/.claude/settings.json` with Bedrock on, `AWS_REGION` and `AWS_PROFILE` set and both hooks
/// pointing at (stub) binaries that exist, and our config naming `profile`.
pub fn wire_claude_code(home: &TestHome, profile: &str) {
    for b in ["cc-aws-export", "cc-aws-refresh"] {
        let p = home.write(format!("bin/{b}"), "#!/bin/sh\n");
        chmod(&p, 0o755);
    }
    home.write(
        ".claude/settings.json",
        serde_json::json!({
            "env": {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1", "AWS_PROFILE": profile},
            "awsCredentialExport": home.join("bin/cc-aws-export").display().to_string(),
            "awsAuthRefresh": home.join("bin/cc-aws-refresh").display().to_string(),
        })
        .to_string(),
    );
    home.write(".config/cc-aws-keepalive/config.json", serde_json::json!({ "profile": profile }).to_string());
}

/// A home with [`aws_config`] and a corp token expiring at `corp_expires`.
pub fn sso_home(corp_expires: &str) -> TestHome {
    let home = TestHome::new();
    home.write(".aws/config", aws_config());
    write_token(&home, "corp", corp_expires, Some(REFRESH), "2027-02-20T12:00:00Z");
    home
}

/// A mock that accepts corp's client and refresh token.
pub fn sso_mock() -> MockAws {
    let mock = MockAws::start();
    mock.set_oidc_client(CLIENT_ID, CLIENT_SECRET);
    mock.set_refresh_token(REFRESH);
    mock.add_access_token(ACCESS, true);
    mock
}

/// Where the notifier override appends `kind|title|body` lines.
pub const NOTIFICATIONS: &str = "notifications.log";

/// The binary with a hermetic environment: temp HOME, the mock's endpoints,
/// an observable notifier, and never a real service manager.
pub fn command(home: &TestHome, mock: Option<&MockAws>, args: &[&str]) -> Command {
    let mut cmd = home.command(bin());
    cmd.args(args)
        .env("CC_KEEPALIVE_NO_SERVICE_MANAGER", "1")
        .env(
            "CC_KEEPALIVE_NOTIFY_CMD",
            format!(
                "printf '%s|%s|%s\\n' \"$CC_KEEPALIVE_NOTIFY_KIND\" \"$CC_KEEPALIVE_NOTIFY_TITLE\" \"$CC_KEEPALIVE_NOTIFY_BODY\" >> '{}'",
                home.join(NOTIFICATIONS).display()
            ),
        );
    if let Some(m) = mock {
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", m.url()).env("AWS_ENDPOINT_URL_SSO", m.url());
    } else {
        // Nothing may leave the machine: a stray call fails fast on a closed port.
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    }
    cmd
}

pub fn run(home: &TestHome, mock: Option<&MockAws>, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let mut cmd = command(home, mock, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = test_support::run(&mut cmd, b"", Duration::from_secs(60));
    assert!(!out.timed_out, "{args:?} timed out: {}", out.describe());
    assert!(!out.stderr.contains("panicked"), "{args:?} panicked: {}", out.describe());
    out
}

/// Same, at the fixed clock.
pub fn run_at_now(home: &TestHome, mock: Option<&MockAws>, args: &[&str], env: &[(&str, &str)]) -> RunOutput {
    let mut all = vec![("CC_KEEPALIVE_NOW", NOW)];
    all.extend_from_slice(env);
    run(home, mock, args, &all)
}

/// Polls `f` every 20 ms for up to `secs` seconds.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A background process killed and reaped on drop, whatever the test did.
pub struct Spawned {
    pub child: Child,
}

impl Spawned {
    pub fn start(mut cmd: Command) -> Spawned {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        Spawned { child: cmd.spawn().expect("spawn") }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `secs` for the process to end.
    pub fn wait_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.wait_exit(5);
    }
}

/// Sends a signal with the `kill` command (no unsafe code in tests either).
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid} failed");
}

/// Every secret the tests put into files or the mock hands out.
pub fn secrets(mock: Option<&MockAws>) -> Vec<String> {
    let mut s: Vec<String> =
        [ACCESS, REFRESH, CLIENT_SECRET, ROLE_SECRET, ROLE_TOKEN].iter().map(|s| s.to_string()).collect();
    if let Some(m) = mock {
        s.extend(m.issued_access_tokens());
        s.extend(m.issued_refresh_tokens());
    }
    s
}

pub fn assert_clean(text: &str, mock: Option<&MockAws>) {
    let s = secrets(mock);
    let refs: Vec<&str> = s.iter().map(String::as_str).collect();
    test_support::assert_no_secret(text, &refs);
}

/// The state directory's log, all rotations included.
pub fn all_logs(home: &TestHome) -> String {
    let dir = home.state_dir().join("cc-aws-keepalive");
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("keepalive.log") {
                text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
    }
    text
}
