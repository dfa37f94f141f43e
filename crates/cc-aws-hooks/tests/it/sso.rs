//! The hooks on an IAM Identity Center profile, against the mock AWS: silent
//! token refresh, role credentials, one refresh for many callers, browser
//! login only when the refresh token is dead. Real clock: the mock issues
//! credentials relative to now.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::{Fault, MockAws, Route, RunOutput, SsoConfig, TestHome, rfc3339, unix_now};

use crate::{bin, eventually};

const CLIENT_ID: &str = "hook-test-client";

pub struct Sso {
    pub home: TestHome,
    pub mock: MockAws,
    pub access_token: String,
    pub refresh_token: String,
    pub client_secret: String,
}

impl Sso {
    pub fn new() -> Sso {
        let home = TestHome::new();
        home.write(".aws/config", SsoConfig::CORP.config_text());
        home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"dev"}"#);
        let pid = std::process::id();
        let n = unix_now() % 100_000;
        let s = Sso {
            home,
            mock: MockAws::start(),
            access_token: format!("HOOKAT{pid}x{n}-access-token-value"),
            refresh_token: format!("HOOKRT{pid}x{n}-refresh-token-value"),
            client_secret: format!("HOOKCS{pid}x{n}-client-secret-value"),
        };
        s.mock.set_oidc_client(CLIENT_ID, &s.client_secret);
        s.mock.set_refresh_token(&s.refresh_token);
        s.mock.add_access_token(&s.access_token, true);
        s
    }

    pub fn token_rel(&self) -> String {
        SsoConfig::CORP.token_rel()
    }

    /// Writes the token cache as `aws sso login` leaves it.
    pub fn write_token(&self, access_secs: i64, registration_secs: i64) {
        let now = unix_now() as i64;
        let mut t = SsoConfig::CORP.token_json(
            (CLIENT_ID, &self.client_secret),
            &self.access_token,
            Some(&self.refresh_token),
            &rfc3339((now + access_secs).max(0) as u64),
            &rfc3339((now + registration_secs).max(0) as u64),
        );
        t["unknownField"] = "kept".into();
        self.home.write(self.token_rel(), serde_json::to_string_pretty(&t).unwrap());
    }

    pub fn token(&self) -> Value {
        serde_json::from_str(&self.home.read(self.token_rel())).unwrap()
    }

    pub fn run(&self, name: &str, stdin: &[u8], env: &[(&str, &str)]) -> RunOutput {
        let mut cmd = self.home.command(bin(name));
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", self.mock.url()).env("AWS_ENDPOINT_URL_SSO", self.mock.url());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = test_support::run(&mut cmd, stdin, Duration::from_secs(60));
        assert!(!out.timed_out && !out.stderr.contains("panicked"), "{name}: {}", out.describe());
        self.assert_no_secret(&out.stderr);
        if name != "export" {
            self.assert_no_secret(&out.stdout);
        }
        out
    }

    pub fn assert_no_secret(&self, text: &str) {
        let mut all = vec![self.access_token.clone(), self.refresh_token.clone(), self.client_secret.clone()];
        all.extend(self.mock.issued_access_tokens());
        all.extend(self.mock.issued_refresh_tokens());
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        test_support::assert_no_secret(text, &refs);
    }

    pub fn exported_key(out: &RunOutput) -> String {
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
        v["Credentials"]["AccessKeyId"].as_str().unwrap().to_string()
    }
}

#[test]
fn export_fetches_role_credentials_then_serves_them_warm() {
    let s = Sso::new();
    s.write_token(2 * 3600, 80 * 86400);
    let first = s.run("export", b"", &[]);
    assert!(first.success(), "{}", first.describe());
    let key = Sso::exported_key(&first);
    assert!(s.mock.issued_role_keys().contains(&key));
    let v: Value = serde_json::from_str(&first.stdout).unwrap();
    assert!(v["Credentials"]["Expiration"].as_str().unwrap().ends_with('Z'));
    assert_eq!((s.mock.count(Route::Token), s.mock.count(Route::RoleCredentials)), (0, 1));
    // Warm path: the AWS CLI cache answers, no network.
    let second = s.run("export", b"", &[]);
    assert_eq!(Sso::exported_key(&second), key);
    assert_eq!(s.mock.count(Route::RoleCredentials), 1);
}

#[test]
fn export_refreshes_a_token_inside_the_window_and_stores_the_rotated_refresh_token() {
    let s = Sso::new();
    s.write_token(5 * 60, 80 * 86400);
    let out = s.run("export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(s.mock.count(Route::Token), 1);
    let t = s.token();
    assert_ne!(t["accessToken"], s.access_token.as_str());
    assert_eq!(t["refreshToken"].as_str(), s.mock.refresh_token().as_deref());
    assert_ne!(t["refreshToken"], s.refresh_token.as_str(), "rotated");
    assert_eq!(t["unknownField"], "kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.home.join(s.token_rel())).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn eight_concurrent_exports_cause_one_create_token() {
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    s.mock.push_fault(Route::Token, Fault::Slow(Duration::from_millis(400)));
    let outs: Vec<RunOutput> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8).map(|_| sc.spawn(|| s.run("export", b"", &[]))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert!(o.success(), "{}", o.describe());
    }
    assert_eq!(s.mock.count(Route::Token), 1, "{}", s.mock.dump());
}

#[test]
fn dead_refresh_token_asks_for_a_browser_login() {
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    s.mock.set_sticky_fault(Route::Token, Some(Fault::InvalidGrant));
    let out = s.run("export", b"", &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stderr.contains("aws sso login --sso-session corp"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}

#[test]
fn refresh_is_silent_when_the_refresh_token_works() {
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    let marker = s.home.join("login-ran");
    let cfg = json!({"profile": "dev", "loginCmd": format!("touch {}", marker.display())});
    s.home.write(".config/cc-aws-keepalive/config.json", cfg.to_string());
    let out = s.run("refresh", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("role credentials valid for"), "{}", out.stdout);
    assert!(!marker.exists(), "no browser login when a silent refresh works");
    assert_eq!(s.mock.count(Route::Token), 1);
}

#[test]
fn refresh_runs_the_login_command_only_when_the_refresh_token_is_dead() {
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    s.mock.set_sticky_fault(Route::Token, Some(Fault::InvalidGrant));
    // A stand-in for `aws sso login`: writes a fresh token the portal accepts.
    let fresh = "HOOKLOGIN-fresh-access-token-from-browser";
    s.mock.add_access_token(fresh, true);
    let mut t = s.token();
    t["accessToken"] = fresh.into();
    t["expiresAt"] = rfc3339(unix_now() + 8 * 3600).into();
    let script = s.home.write(
        "fake-sso-login.sh",
        format!(
            "echo 'Open https://device.sso/ and enter code ABCD-EFGH'\ncat > '{}' <<'EOT'\n{}\nEOT\n",
            s.home.join(s.token_rel()).display(),
            t
        ),
    );
    let cfg = json!({"profile": "dev", "loginCmd": format!("sh {}", script.display())});
    s.home.write(".config/cc-aws-keepalive/config.json", cfg.to_string());
    let out = s.run("refresh", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.stdout.contains("browser login is needed"), "{}", out.stdout);
    assert!(out.stdout.contains("ABCD-EFGH"), "the device code reaches the user: {}", out.stdout);
    assert!(out.stdout.contains("done"), "{}", out.stdout);
}

#[test]
fn check_refreshes_in_the_background_and_returns_at_once() {
    let s = Sso::new();
    s.write_token(5 * 60, 80 * 86400);
    // The network is slow: the prompt must not wait for it.
    s.mock.push_fault(Route::Token, Fault::Slow(Duration::from_secs(2)));
    let out = s.run("check", b"{}", &[]);
    assert!(out.success(), "{}", out.describe());
    assert!(out.elapsed < Duration::from_millis(1500), "check waited {:?}", out.elapsed);
    assert_eq!(out.stdout, "", "no warning while a silent refresh is possible");
    assert!(eventually(20, || s.mock.count(Route::Token) == 1 && s.token()["accessToken"] != s.access_token.as_str()));
    // Role credentials were prefetched for the next export.
    assert!(eventually(10, || s.mock.count(Route::RoleCredentials) == 1));
    let log = s.home.read(".local/state/cc-aws-keepalive/keepalive.log");
    assert!(log.contains("refreshed"), "{log}");
    s.assert_no_secret(&log);
}

#[test]
fn check_warns_only_when_a_browser_login_is_near() {
    let s = Sso::new();
    s.write_token(3600, 80 * 86400);
    assert_eq!(s.run("check", b"{}", &[]).stdout, "");
    // The registration (and with it silent refresh) ends in 10 minutes.
    s.write_token(5 * 60, 10 * 60 + 30);
    let out = s.run("check", b"{}", &[]);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.describe()));
    let msg = v["systemMessage"].as_str().unwrap();
    assert!(msg.contains("ends in 10m") && msg.contains("aws sso login --sso-session corp"), "{msg}");
}

#[test]
fn check_and_statusline_without_a_token() {
    let s = Sso::new();
    let out = s.run("check", b"{}", &[]);
    assert!(
        out.stdout.contains("not logged in") && out.stdout.contains("aws sso login --sso-session corp"),
        "{}",
        out.stdout
    );
    assert_eq!(s.run("statusline", b"{}", &[("NO_COLOR", "1")]).stdout, "AWS: no credentials\n");
}

#[test]
fn statusline_shows_the_session_not_the_access_token() {
    let s = Sso::new();
    s.write_token(20 * 60, 3 * 3600 + 30);
    assert_eq!(s.run("statusline", b"{}", &[("NO_COLOR", "1")]).stdout, "AWS: 3h0m\n");
    // Without a usable refresh token the access token is all there is.
    s.write_token(20 * 60 + 30, -60);
    assert_eq!(s.run("statusline", b"{}", &[]).stdout, "\x1b[33mAWS: 20m\x1b[0m\n");
}
