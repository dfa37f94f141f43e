//! The daemon column of the fault matrix: `cc-aws-keepalive daemon --once`
//! against each fault. The hooks' columns, and what each row means, are in
//! `crates/cc-aws-hooks/tests/it/faults.rs`; the rows here are the same, set
//! up the same way (this crate's fixtures).
//!
//! The daemon refreshes SSO tokens only (role credentials are the hooks'
//! business), so portal faults do not reach it. Its exit code is the CLI's
//! (0 ok, 1 failure or problem found): 1 when a refresh failed and will be
//! retried next pass, 0 when every session is fine or only a browser login
//! can help (that is notified, once, not a failure of the pass).
//!
//! Checked per row: the exit code, one stdout line naming the fix, nothing
//! on stderr unless said, no panic, no secret, the token cache byte-identical
//! after a failure, and the run bounded by the 15 s client budget (20 s when
//! another process holds the refresh lock).

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use test_support::{Fault, MockAws, ReadOnly, Route, RunOutput, Stub, TestHome};

use crate::{CLIENT_SECRET, NOTIFICATIONS, REFRESH, command, iso, sso_mock, token_rel, write_token};

/// What `daemon --once` must do: exit code, what its stdout line says, and
/// what its stderr says (nothing when empty).
#[derive(Debug, Clone, Copy)]
struct Want {
    code: i32,
    says: &'static [&'static str],
    stderr: &'static [&'static str],
    /// What the log must say (the daemon logs config problems rather than print them).
    log: &'static [&'static str],
}

const fn ok(says: &'static [&'static str]) -> Want {
    Want { code: 0, says, stderr: &[], log: &[] }
}

const fn fails(says: &'static [&'static str]) -> Want {
    Want { code: 1, says, stderr: &[], log: &[] }
}

const FINE: Want = ok(&["corp: fine"]);
const LOGIN: &str = "aws sso login --sso-session corp";

// The rows, named as in the other column: `enum Case` and one test per row, calling `run_rows`.
test_support::fault_cases!();

/// The daemon column. "Expired": the access token expired a minute ago;
/// "valid": 8 hours left (outside the 30-minute threshold).
#[rustfmt::skip]
const MATRIX: &[(Case, Want)] = &[
    (Case::Oidc500, fails(&["corp: refresh failed", "CreateToken", "HTTP 500", "retry in a minute"])),
    // 5 minutes left is inside the threshold: the daemon's refresh fails (the hooks still work).
    (Case::Oidc500TokenStillValid, fails(&["corp: refresh failed", "HTTP 500"])),
    (Case::Portal500, FINE),
    (Case::Oidc429, fails(&["corp: refresh failed", "HTTP 429", "throttling"])),
    (Case::Portal429, FINE),
    (Case::OidcHang, fails(&["corp: refresh failed", "did not answer within 15 s", "check your network"])),
    (Case::PortalHang, FINE),
    (Case::OidcTruncated, fails(&["corp: refresh failed", "CreateToken", "retry"])),
    (Case::PortalTruncated, FINE),
    (Case::OidcNotJson, fails(&["corp: refresh failed", "not a CreateToken result", "retry later"])),
    (Case::PortalNotJson, FINE),
    (Case::OidcRefused, fails(&["corp: refresh failed", "connection refused", "check the endpoint URL"])),
    (Case::PortalRefused, FINE),
    (Case::OidcAbsurdExpiry, fails(&["corp: refresh failed", "expiresIn", "retry later"])),
    (Case::TokenCacheDirReadOnly, fails(&["cannot save the refreshed SSO token", ".aws/sso/cache", "permissions"])),
    (Case::CliCacheDirReadOnly, FINE),
    (Case::LockHeld, fails(&["another process has been refreshing", "sso-", ".lock"])),
    // Only a browser login helps: notified once; the pass itself did its job.
    (Case::TokenCacheEmpty, ok(&["corp: browser login needed", "unreadable", LOGIN])),
    (Case::TokenCacheHalfWritten, ok(&["corp: browser login needed", "unreadable", LOGIN])),
    (Case::RoleCacheHalfWritten, FINE),
    (Case::ClockFarPast, FINE),
    (Case::ClockFarFuture, ok(&["corp: browser login needed", LOGIN])),
    (Case::HomeUnset, Want { code: 1, says: &[], stderr: &["cannot start the daemon", "HOME is not set"], log: &[] }),
    (Case::ConfigMissing, Want { log: &["CC_KEEPALIVE_CONFIG", "does not exist"], ..FINE }),
    (Case::AwsConfigMissing, fails(&["AWS_CONFIG_FILE", "does not exist"])),
];

fn time_limit(case: Case) -> Duration {
    match case {
        Case::OidcHang => Duration::from_secs(20),
        Case::LockHeld => Duration::from_secs(25),
        _ => Duration::from_secs(8),
    }
}

/// Fields drop in order: guards before the home.
struct Cell {
    _read_only: Option<ReadOnly>,
    _lock: Option<std::fs::File>,
    _stub: Option<Stub>,
    home: TestHome,
    mock: MockAws,
    env: Vec<(&'static str, String)>,
    unset: &'static [&'static str],
    token_before: Option<Vec<u8>>,
}

impl Cell {
    fn token_path(&self) -> PathBuf {
        self.home.join(token_rel("corp"))
    }

    fn run(&self) -> RunOutput {
        let mut cmd = command(&self.home, Some(&self.mock), &["daemon", "--once"]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in self.unset {
            cmd.env_remove(k);
        }
        test_support::run(&mut cmd, b"", Duration::from_secs(60))
    }
}

fn setup(case: Case) -> Cell {
    let home = TestHome::new();
    // Only corp, used by profile dev: every line of the output is about the fault.
    home.write(".aws/config", crate::aws_config().split("[sso-session other]").next().unwrap());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"dev"}"#);
    let mut c = Cell {
        _read_only: None,
        _lock: None,
        _stub: None,
        home,
        mock: sso_mock(),
        env: Vec::new(),
        unset: &[],
        token_before: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let token = |c: &Cell, access_secs: i64| {
        write_token(
            &c.home,
            "corp",
            &iso(now + time::Duration::seconds(access_secs)),
            Some(REFRESH),
            &iso(now + time::Duration::days(80)),
        );
    };
    let sticky = |c: &Cell, route: Route, f: Fault| c.mock.set_sticky_fault(route, Some(f));
    let (expired, valid) = (-60, 8 * 3600);
    match case {
        Case::Oidc500 => {
            token(&c, expired);
            sticky(&c, Route::Token, Fault::Status(500));
        }
        Case::Oidc500TokenStillValid => {
            token(&c, 5 * 60);
            sticky(&c, Route::Token, Fault::Status(500));
        }
        Case::Portal500 => {
            token(&c, valid);
            sticky(&c, Route::RoleCredentials, Fault::Status(500));
        }
        Case::Oidc429 => {
            token(&c, expired);
            sticky(&c, Route::Token, Fault::Throttle { retry_after_secs: 30 });
        }
        Case::Portal429 => {
            token(&c, valid);
            sticky(&c, Route::RoleCredentials, Fault::Throttle { retry_after_secs: 30 });
        }
        Case::OidcHang => {
            token(&c, expired);
            sticky(&c, Route::Token, Fault::Slow(Duration::from_secs(25)));
        }
        Case::PortalHang => {
            token(&c, valid);
            sticky(&c, Route::RoleCredentials, Fault::Slow(Duration::from_secs(25)));
        }
        Case::OidcTruncated => {
            token(&c, expired);
            sticky(&c, Route::Token, Fault::Truncated);
        }
        Case::PortalTruncated => {
            token(&c, valid);
            sticky(&c, Route::RoleCredentials, Fault::Truncated);
        }
        Case::OidcNotJson => {
            token(&c, expired);
            sticky(&c, Route::Token, Fault::MalformedJson);
        }
        Case::PortalNotJson => {
            token(&c, valid);
            sticky(&c, Route::RoleCredentials, Fault::MalformedJson);
        }
        Case::OidcRefused => {
            token(&c, expired);
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            c.env.push(("AWS_ENDPOINT_URL_SSO_OIDC", format!("http://127.0.0.1:{port}")));
        }
        Case::PortalRefused => {
            token(&c, valid);
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            c.env.push(("AWS_ENDPOINT_URL_SSO", format!("http://127.0.0.1:{port}")));
        }
        Case::OidcAbsurdExpiry => {
            token(&c, expired);
            let stub = Stub::start(
                r#"{"accessToken":"STUBATfault-access-token-value-0123456789","expiresIn":9223372036854775807,"tokenType":"Bearer"}"#,
            );
            c.env.push(("AWS_ENDPOINT_URL_SSO_OIDC", format!("http://127.0.0.1:{}", stub.port)));
            c._stub = Some(stub);
        }
        Case::TokenCacheDirReadOnly => {
            token(&c, expired);
            c._read_only = Some(ReadOnly::new(&c.home.join(".aws/sso/cache")));
        }
        Case::CliCacheDirReadOnly => {
            token(&c, valid);
            c._read_only = Some(ReadOnly::new(&c.home.join(".aws/cli/cache")));
        }
        Case::LockHeld => {
            token(&c, expired);
            let key = keepalive_core::providers::sso::cache::cache_key("corp");
            let path = c.home.state_dir().join(format!("cc-aws-keepalive/locks/sso-{key}.lock"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let f = std::fs::File::create(&path).unwrap();
            f.lock().unwrap();
            c._lock = Some(f);
        }
        Case::TokenCacheEmpty => {
            token(&c, valid);
            std::fs::write(c.token_path(), b"").unwrap();
        }
        Case::TokenCacheHalfWritten => {
            token(&c, valid);
            let whole = std::fs::read(c.token_path()).unwrap();
            std::fs::write(c.token_path(), &whole[..whole.len() / 2]).unwrap();
        }
        Case::RoleCacheHalfWritten => {
            token(&c, valid);
            c.home.write(
                ".aws/cli/cache/0123456789abcdef0123456789abcdef01234567.json",
                "{\"ProviderType\": \"sso\", \"Cre",
            );
        }
        Case::ClockFarPast => {
            token(&c, valid);
            c.env.push(("CC_KEEPALIVE_NOW", "1970-01-01T00:00:00Z".into()));
        }
        Case::ClockFarFuture => {
            token(&c, valid);
            c.env.push(("CC_KEEPALIVE_NOW", "9999-12-31T23:59:59Z".into()));
        }
        Case::HomeUnset => {
            token(&c, valid);
            c.unset = &["HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"];
        }
        Case::ConfigMissing => {
            token(&c, valid);
            c.env.push(("CC_KEEPALIVE_CONFIG", "/nonexistent/cc-aws-keepalive/config.json".into()));
            c.env.push(("AWS_PROFILE", "dev".into()));
        }
        Case::AwsConfigMissing => {
            token(&c, valid);
            c.env.push(("AWS_CONFIG_FILE", "/nonexistent/aws-config".into()));
        }
    }
    c.token_before = std::fs::read(c.token_path()).ok();
    c
}

/// Runs `daemon --once` for each of `cases` at once, each in its own home,
/// mock and thread; fails with every mismatch together.
fn run_rows(cases: &[Case]) {
    let problems: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&case| {
                sc.spawn(move || {
                    let want = MATRIX.iter().find(|(c, _)| *c == case).map(|(_, w)| *w);
                    let want = want.unwrap_or_else(|| panic!("{case:?} has no row in MATRIX"));
                    let c = setup(case);
                    let out = c.run();
                    let bad = judge(case, want, &c, &out);
                    if bad.is_empty() {
                        vec![]
                    } else {
                        vec![format!("{case:?}: {}\n{}", bad.join("; "), out.describe())]
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec!["a row panicked".into()])).collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn judge(case: Case, want: Want, c: &Cell, out: &RunOutput) -> Vec<String> {
    let mut bad = Vec::new();
    if out.timed_out || out.stderr.contains("panicked") {
        bad.push("hung or panicked".to_string());
        return bad;
    }
    if out.status != Some(want.code) {
        bad.push(format!("exit {:?}, want {}", out.status, want.code));
    }
    if out.elapsed > time_limit(case) {
        bad.push(format!("took {:?}, limit {:?}", out.elapsed, time_limit(case)));
    }
    let stdout = out.stdout.trim_end();
    if stdout.lines().count() > 1 {
        bad.push("stdout is not one line".into());
    }
    for s in want.says {
        if !stdout.contains(s) {
            bad.push(format!("stdout lacks {s:?}"));
        }
    }
    let stderr = out.stderr.trim_end();
    if want.stderr.is_empty() && !stderr.is_empty() {
        bad.push("unexpected stderr".into());
    }
    if stderr.lines().count() > 1 {
        bad.push("stderr is not one line".into());
    }
    for s in want.stderr {
        if !stderr.contains(s) {
            bad.push(format!("stderr lacks {s:?}"));
        }
    }
    // A failed refresh or a needed login is notified (the token is at or near its end
    // in every such row), in words that read right.
    let notes = c.home.try_read(NOTIFICATIONS).unwrap_or_default();
    for (said, kind) in [("refresh failed", "refresh-failed|"), ("browser login needed", "login-needed|")] {
        if stdout.contains(said) && !notes.lines().any(|l| l.starts_with(kind)) {
            bad.push(format!("no {kind} notification: {notes:?}"));
        }
    }
    if notes.contains(" ago unless") || stdout.matches(LOGIN).count() > 1 {
        bad.push(format!("garbled wording: {stdout:?} / {notes:?}"));
    }
    let logs = crate::all_logs(&c.home);
    for s in want.log {
        if !logs.contains(s) {
            bad.push(format!("the log lacks {s:?}"));
        }
    }
    let mut secrets = crate::secrets(Some(&c.mock));
    secrets.extend([CLIENT_SECRET.to_string(), "STUBATfault-access-token-value".to_string()]);
    for (what, text) in [("output", format!("{}{}", out.stdout, out.stderr)), ("log", logs), ("notification", notes)] {
        if secrets.iter().any(|s| text.contains(&s.chars().take(8).collect::<String>())) {
            bad.push(format!("a secret appears in the {what}"));
        }
    }
    // Nothing but a refresh writes the token cache.
    if !stdout.contains("refreshed") && std::fs::read(c.token_path()).ok() != c.token_before {
        bad.push("the token cache changed without a refresh".into());
    }
    bad
}
