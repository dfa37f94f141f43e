//! The fault matrix ("Prove it cannot break"): every hook against every fault,
//! in a temp HOME against the mock AWS. Rows: the SSO-OIDC and portal
//! endpoints failing (500, 429 with `Retry-After`, a hang past the 15 s client
//! budget, a cut-off or non-JSON body, a refused connection, an absurd
//! answer); caches unwritable, locked by a stuck process or cut short; the
//! clock far off; HOME unset; config files missing. Columns: `cc-aws-export`,
//! `cc-aws-refresh`, `cc-aws-check`, `cc-aws-statusline` here; the daemon
//! column (`cc-aws-keepalive daemon --once`) is in
//! `crates/cc-aws-keepalive/tests/it/faults.rs`, with the same row names.
//!
//! Every cell is checked for: the exit code; a one-line message naming the
//! fix (export: stderr; refresh: its last line; check: `systemMessage`;
//! statusline: its line); no panic; no secret; the token and role caches
//! byte-identical after a failure; a bounded run time (check and statusline
//! never wait on the network, the network work they start ends within its
//! budget and says why in the log).
//!
//! Real clock (the mock issues credentials relative to now) except in the
//! clock-skew rows. Every cell has its own home and mock and runs in its own
//! thread: a row takes as long as its slowest cell, and the three rows that
//! wait out a budget (the hangs, the stuck lock) run together in one test.
//! `aws` on PATH is a stand-in that fails: a real `aws sso login` never runs.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use test_support::{Fault, ReadOnly, Route, RunOutput, Stub, rfc3339, unix_now};

use crate::bin;
use crate::sso::Sso;

/// What is expected of one cell: the exit code and what its message says.
#[derive(Debug, Clone, Copy)]
struct Want {
    code: i32,
    /// Substrings of the message; none: no message at all (check: silent).
    says: &'static [&'static str],
}

const fn ok(says: &'static [&'static str]) -> Want {
    Want { code: 0, says }
}

const fn fails(says: &'static [&'static str]) -> Want {
    Want { code: 1, says }
}

const SILENT: Want = ok(&[]);

/// The background work `cc-aws-check` starts, judged by its line in the log.
#[derive(Debug, Clone, Copy)]
enum Bg {
    /// Nothing to judge: none is needed, or none can be started.
    None,
    /// It fails within its budget, leaving a log line that says these.
    Fails(&'static [&'static str]),
    /// It refreshes and caches role credentials.
    Works,
}

/// One row: a fault and what each hook does about it.
#[derive(Debug, Clone, Copy)]
struct Row {
    case: Case,
    export: Want,
    refresh: Want,
    check: Want,
    check_bg: Bg,
    statusline: Want,
}

/// The session a healthy home shows: the client registration lasts 80 days.
const SESSION: &[&str] = &["AWS: 79d23h"];
const LOGIN: &str = "aws sso login --sso-session corp";

// The rows, named as in the other column: `enum Case` and one test per row, calling `run_rows`.
test_support::fault_cases!();

/// The matrix. Setups are in [`setup`]; token states use the real clock:
/// "expired" = the access token expired a minute ago (a refresh is needed),
/// "valid" = 8 hours left, role cache stale unless said otherwise.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // OIDC answers 500 (sticky), token expired: refresh retried within the budget, then given up.
    Row { case: Case::Oidc500,
        export: fails(&["CreateToken", "HTTP 500", "retry in a minute"]),
        refresh: fails(&["CreateToken", "HTTP 500", "retry in a minute"]),
        check: SILENT, check_bg: Bg::Fails(&["HTTP 500", "retry in a minute"]),
        statusline: ok(SESSION) },
    // Same, but the access token still has 5 minutes: the hooks go on with it.
    Row { case: Case::Oidc500TokenStillValid,
        export: ok(&[]),
        refresh: ok(&["role credentials valid for"]),
        check: SILENT, check_bg: Bg::Fails(&["HTTP 500"]),
        statusline: ok(SESSION) },
    // Portal answers 500, token valid, role cache stale.
    Row { case: Case::Portal500,
        export: fails(&["GetRoleCredentials", "HTTP 500", "retry in a minute"]),
        refresh: fails(&["GetRoleCredentials", "HTTP 500", "retry in a minute"]),
        check: SILENT, check_bg: Bg::Fails(&["GetRoleCredentials", "HTTP 500"]),
        statusline: ok(SESSION) },
    // 429 with Retry-After: 30, longer than the budget: no sleeping past it.
    Row { case: Case::Oidc429,
        export: fails(&["CreateToken", "HTTP 429", "throttling"]),
        refresh: fails(&["CreateToken", "HTTP 429", "throttling"]),
        check: SILENT, check_bg: Bg::Fails(&["HTTP 429"]),
        statusline: ok(SESSION) },
    Row { case: Case::Portal429,
        export: fails(&["GetRoleCredentials", "HTTP 429", "throttling"]),
        refresh: fails(&["GetRoleCredentials", "HTTP 429", "throttling"]),
        check: SILENT, check_bg: Bg::Fails(&["HTTP 429"]),
        statusline: ok(SESSION) },
    // The endpoint accepts the connection and never answers (25 s > the 15 s budget).
    Row { case: Case::OidcHang,
        export: fails(&["CreateToken", "did not answer within 15 s", "check your network"]),
        refresh: fails(&["CreateToken", "did not answer within 15 s", "check your network"]),
        check: SILENT, check_bg: Bg::Fails(&["did not answer within 15 s"]),
        statusline: ok(SESSION) },
    Row { case: Case::PortalHang,
        export: fails(&["GetRoleCredentials", "did not answer within 15 s", "check your network"]),
        refresh: fails(&["GetRoleCredentials", "did not answer within 15 s", "check your network"]),
        check: SILENT, check_bg: Bg::Fails(&["did not answer within 15 s"]),
        statusline: ok(SESSION) },
    // Content-Length announced, half the body sent, connection closed.
    Row { case: Case::OidcTruncated,
        export: fails(&["CreateToken", "retry"]),
        refresh: fails(&["CreateToken", "retry"]),
        check: SILENT, check_bg: Bg::Fails(&["CreateToken"]),
        statusline: ok(SESSION) },
    Row { case: Case::PortalTruncated,
        export: fails(&["GetRoleCredentials", "retry"]),
        refresh: fails(&["GetRoleCredentials", "retry"]),
        check: SILENT, check_bg: Bg::Fails(&["GetRoleCredentials"]),
        statusline: ok(SESSION) },
    // 200 with a body that is not JSON.
    Row { case: Case::OidcNotJson,
        export: fails(&["CreateToken", "not a CreateToken result", "retry later"]),
        refresh: fails(&["CreateToken", "not a CreateToken result", "retry later"]),
        check: SILENT, check_bg: Bg::Fails(&["not a CreateToken result"]),
        statusline: ok(SESSION) },
    Row { case: Case::PortalNotJson,
        export: fails(&["GetRoleCredentials", "not role credentials", "retry later"]),
        refresh: fails(&["GetRoleCredentials", "not role credentials", "retry later"]),
        check: SILENT, check_bg: Bg::Fails(&["not role credentials"]),
        statusline: ok(SESSION) },
    // The endpoint is a closed loopback port.
    Row { case: Case::OidcRefused,
        export: fails(&["connection refused", "CreateToken", "check the endpoint URL"]),
        refresh: fails(&["connection refused", "CreateToken", "check the endpoint URL"]),
        check: SILENT, check_bg: Bg::Fails(&["connection refused"]),
        statusline: ok(SESSION) },
    Row { case: Case::PortalRefused,
        export: fails(&["connection refused", "GetRoleCredentials", "check the endpoint URL"]),
        refresh: fails(&["connection refused", "GetRoleCredentials", "check the endpoint URL"]),
        check: SILENT, check_bg: Bg::Fails(&["connection refused"]),
        statusline: ok(SESSION) },
    // CreateToken answers 200 with "expiresIn": i64::MAX.
    Row { case: Case::OidcAbsurdExpiry,
        export: fails(&["CreateToken", "expiresIn", "retry later"]),
        refresh: fails(&["CreateToken", "expiresIn", "retry later"]),
        check: SILENT, check_bg: Bg::Fails(&["expiresIn"]),
        statusline: ok(SESSION) },
    // ~/.aws/sso/cache cannot be written, token expired: nothing may be burnt
    // (the refresh token rotates on use), and the message names the directory.
    Row { case: Case::TokenCacheDirReadOnly,
        export: fails(&["cannot save the refreshed SSO token", ".aws/sso/cache", "permissions"]),
        refresh: fails(&["cannot save the refreshed SSO token", ".aws/sso/cache", "permissions"]),
        check: SILENT, check_bg: Bg::Fails(&["cannot save the refreshed SSO token"]),
        statusline: ok(SESSION) },
    // ~/.aws/cli/cache cannot be written: the credentials are handed out all the same.
    Row { case: Case::CliCacheDirReadOnly,
        export: ok(&[]),
        refresh: ok(&["role credentials valid for"]),
        check: SILENT, check_bg: Bg::Works,
        statusline: ok(SESSION) },
    // Another process holds the token's refresh lock and never lets go; token expired.
    Row { case: Case::LockHeld,
        export: fails(&["another process has been refreshing", "sso-", ".lock"]),
        refresh: fails(&["another process has been refreshing", "sso-", ".lock"]),
        check: SILENT, check_bg: Bg::Fails(&["another process has been refreshing"]),
        statusline: ok(SESSION) },
    // The token cache file is empty / cut in half: left untouched, a login named.
    Row { case: Case::TokenCacheEmpty,
        export: fails(&["unreadable", "empty", "left untouched", LOGIN]),
        refresh: fails(&[LOGIN]),
        check: ok(&["unreadable", LOGIN]), check_bg: Bg::None,
        statusline: ok(&["AWS: no credentials"]) },
    Row { case: Case::TokenCacheHalfWritten,
        export: fails(&["unreadable", "left untouched", LOGIN]),
        refresh: fails(&[LOGIN]),
        check: ok(&["unreadable", LOGIN]), check_bg: Bg::None,
        statusline: ok(&["AWS: no credentials"]) },
    // A cut-off role cache is a miss (as for botocore): fetched again and replaced.
    Row { case: Case::RoleCacheHalfWritten,
        export: ok(&[]),
        refresh: ok(&["role credentials valid for"]),
        check: SILENT, check_bg: Bg::Works,
        statusline: ok(SESSION) },
    // CC_KEEPALIVE_NOW = 1970: everything looks valid for decades; nothing is refreshed.
    Row { case: Case::ClockFarPast,
        export: ok(&[]),
        refresh: ok(&["role credentials valid for"]),
        check: SILENT, check_bg: Bg::None,
        statusline: ok(&["AWS: 20"]) },
    // CC_KEEPALIVE_NOW = 9999-12-31T23:59:59Z: everything expired, a login is named.
    Row { case: Case::ClockFarFuture,
        export: fails(&["login needed", LOGIN]),
        refresh: fails(&[LOGIN]),
        check: ok(&["has ended", LOGIN]), check_bg: Bg::None,
        statusline: ok(&["AWS: EXPIRED"]) },
    Row { case: Case::HomeUnset,
        export: fails(&["HOME is not set"]),
        refresh: fails(&["HOME is not set"]),
        check: ok(&["HOME is not set"]), check_bg: Bg::None,
        statusline: ok(&["AWS: no credentials"]) },
    // CC_KEEPALIVE_CONFIG names a missing file (AWS_PROFILE=dev): defaults, and a warning.
    Row { case: Case::ConfigMissing,
        export: ok(&["CC_KEEPALIVE_CONFIG", "does not exist"]),
        refresh: ok(&["role credentials valid for"]),
        check: ok(&["CC_KEEPALIVE_CONFIG", "does not exist"]), check_bg: Bg::None,
        statusline: ok(SESSION) },
    // AWS_CONFIG_FILE names a missing file: the profile is nowhere, and the message says why.
    Row { case: Case::AwsConfigMissing,
        export: fails(&["AWS_CONFIG_FILE", "does not exist"]),
        refresh: fails(&["AWS_CONFIG_FILE", "does not exist"]),
        check: ok(&["AWS_CONFIG_FILE", "does not exist"]), check_bg: Bg::None,
        statusline: ok(&["AWS: no credentials"]) },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Export,
    Refresh,
    Check,
    Statusline,
}

const COLS: [Col; 4] = [Col::Export, Col::Refresh, Col::Check, Col::Statusline];

impl Col {
    fn bin(self) -> &'static str {
        match self {
            Col::Export => bin("export"),
            Col::Refresh => bin("refresh"),
            Col::Check => bin("check"),
            Col::Statusline => bin("statusline"),
        }
    }

    fn want(self, row: &Row) -> Want {
        match self {
            Col::Export => row.export,
            Col::Refresh => row.refresh,
            Col::Check => row.check,
            Col::Statusline => row.statusline,
        }
    }

    fn stdin(self) -> &'static [u8] {
        match self {
            Col::Check => {
                br#"{"session_id":"s","transcript_path":"/dev/null","cwd":"/","permission_mode":"default","hook_event_name":"UserPromptSubmit","prompt":"hi"}"#
            }
            Col::Statusline => br#"{"session_id":"s","model":{"id":"m","display_name":"M"},"workspace":{"current_dir":"/"}}"#,
            Col::Export | Col::Refresh => b"",
        }
    }
}

/// The longest a cell may take. Hooks that talk to AWS are bounded by the
/// 15 s client budget, or the 20 s wait for another process's refresh. Check
/// and statusline never wait on the network: 5 s (generous, for a loaded
/// machine) is far below the 15 s a network wait would take; their real speed
/// is measured in [`check_and_statusline_answer_within_50_ms_while_the_network_hangs`].
fn time_limit(case: Case, col: Col) -> Duration {
    match (col, case) {
        (Col::Check | Col::Statusline, _) => Duration::from_secs(5),
        (_, Case::OidcHang | Case::PortalHang) => Duration::from_secs(20),
        (_, Case::LockHeld) => Duration::from_secs(25),
        _ => Duration::from_secs(8),
    }
}

const ROLE_SECRET: &str = "wJalrFAULTroleSECRETkeyVALUE0123456789";
const ROLE_TOKEN: &str = "IQoJbFAULTroleSESSIONtokenVALUE0123456789";
const STUB_ACCESS_TOKEN: &str = "STUBATfault-access-token-value-0123456789";

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One cell's world. Field order is drop order: the read-only guard, the
/// lock and the stub go before the home is removed.
struct Cell {
    _read_only: Option<ReadOnly>,
    _lock: Option<std::fs::File>,
    _stub: Option<Stub>,
    s: Sso,
    env: Vec<(&'static str, String)>,
    unset: &'static [&'static str],
    token_before: Option<Vec<u8>>,
    role_before: Option<Vec<u8>>,
}

impl Cell {
    fn new() -> Cell {
        let s = Sso::new();
        // A stand-in for the AWS CLI: a real `aws sso login` must never run here.
        let fake = s.home.write(
            "fakebin/aws",
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\necho 'fake aws: no browser in tests' >&2\nexit 1\n",
                s.home.join("aws-calls.log").display()
            ),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        Cell {
            _read_only: None,
            _lock: None,
            _stub: None,
            s,
            env: Vec::new(),
            unset: &[],
            token_before: None,
            role_before: None,
        }
    }

    fn role_rel(&self) -> String {
        let key = keepalive_core::providers::sso::role_cache::cache_key(
            "111122223333",
            "Admin",
            keepalive_core::providers::sso::role_cache::SessionRef::Session("corp"),
        );
        format!(".aws/cli/cache/{key}.json")
    }

    /// Role credentials in the AWS CLI cache, expiring `secs` from now.
    fn write_role(&self, secs: i64) {
        let v = json!({"ProviderType": "sso", "Credentials": {
            "AccessKeyId": "ASIAFAULTOLDROLEKEY01",
            "SecretAccessKey": ROLE_SECRET,
            "SessionToken": ROLE_TOKEN,
            "Expiration": rfc3339((unix_now() as i64 + secs).max(0) as u64),
            "AccountId": "111122223333",
        }});
        self.s.home.write(self.role_rel(), v.to_string());
    }

    fn token_path(&self) -> PathBuf {
        self.s.home.join(self.s.token_rel())
    }

    fn role_path(&self) -> PathBuf {
        self.s.home.join(self.role_rel())
    }

    fn set(&mut self, k: &'static str, v: impl Into<String>) {
        self.env.push((k, v.into()));
    }

    fn snapshot(&mut self) {
        self.token_before = std::fs::read(self.token_path()).ok();
        self.role_before = std::fs::read(self.role_path()).ok();
    }

    fn log(&self) -> String {
        self.s.home.try_read(".local/state/cc-aws-keepalive/keepalive.log").unwrap_or_default()
    }

    fn run(&self, col: Col) -> RunOutput {
        let mut cmd = self.s.home.command(col.bin());
        let path = format!("{}:{}", self.s.home.join("fakebin").display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", self.s.mock.url())
            .env("AWS_ENDPOINT_URL_SSO", self.s.mock.url())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("CC_KEEPALIVE_NOTIFY_CMD", "true");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in self.unset {
            cmd.env_remove(k);
        }
        test_support::run(&mut cmd, col.stdin(), Duration::from_secs(60))
    }
}

const EXPIRED: (i64, i64) = (-60, 80 * 86400);
const VALID: (i64, i64) = (8 * 3600, 80 * 86400);
const IN_WINDOW: (i64, i64) = (5 * 60, 80 * 86400);

/// Builds a cell's home, mock and environment for `case`.
fn setup(case: Case) -> Cell {
    let mut c = Cell::new();
    let token = |c: &Cell, (access, reg): (i64, i64)| c.s.write_token(access, reg);
    let sticky = |c: &Cell, route: Route, f: Fault| c.s.mock.set_sticky_fault(route, Some(f));
    match case {
        Case::Oidc500 => {
            token(&c, EXPIRED);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::Status(500));
        }
        Case::Oidc500TokenStillValid => {
            token(&c, IN_WINDOW);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::Status(500));
        }
        Case::Portal500 => {
            token(&c, VALID);
            c.write_role(-60);
            sticky(&c, Route::RoleCredentials, Fault::Status(500));
        }
        Case::Oidc429 => {
            token(&c, EXPIRED);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::Throttle { retry_after_secs: 30 });
        }
        Case::Portal429 => {
            token(&c, VALID);
            c.write_role(-60);
            sticky(&c, Route::RoleCredentials, Fault::Throttle { retry_after_secs: 30 });
        }
        Case::OidcHang => {
            token(&c, EXPIRED);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::Slow(Duration::from_secs(25)));
        }
        Case::PortalHang => {
            token(&c, VALID);
            c.write_role(-60);
            sticky(&c, Route::RoleCredentials, Fault::Slow(Duration::from_secs(25)));
        }
        Case::OidcTruncated => {
            token(&c, EXPIRED);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::Truncated);
        }
        Case::PortalTruncated => {
            token(&c, VALID);
            c.write_role(-60);
            sticky(&c, Route::RoleCredentials, Fault::Truncated);
        }
        Case::OidcNotJson => {
            token(&c, EXPIRED);
            c.write_role(-60);
            sticky(&c, Route::Token, Fault::MalformedJson);
        }
        Case::PortalNotJson => {
            token(&c, VALID);
            c.write_role(-60);
            sticky(&c, Route::RoleCredentials, Fault::MalformedJson);
        }
        Case::OidcRefused => {
            token(&c, EXPIRED);
            c.write_role(-60);
            c.set("AWS_ENDPOINT_URL_SSO_OIDC", format!("http://127.0.0.1:{}", closed_port()));
        }
        Case::PortalRefused => {
            token(&c, VALID);
            c.write_role(-60);
            c.set("AWS_ENDPOINT_URL_SSO", format!("http://127.0.0.1:{}", closed_port()));
        }
        Case::OidcAbsurdExpiry => {
            token(&c, EXPIRED);
            c.write_role(-60);
            let stub = Stub::start(
                r#"{"accessToken":"STUBATfault-access-token-value-0123456789","expiresIn":9223372036854775807,"tokenType":"Bearer"}"#,
            );
            c.set("AWS_ENDPOINT_URL_SSO_OIDC", stub.url());
            c._stub = Some(stub);
        }
        Case::TokenCacheDirReadOnly => {
            token(&c, EXPIRED);
            c.write_role(-60);
            c._read_only = Some(ReadOnly::new(&c.s.home.join(".aws/sso/cache")));
        }
        Case::CliCacheDirReadOnly => {
            token(&c, VALID);
            c.write_role(-60);
            c._read_only = Some(ReadOnly::new(&c.s.home.join(".aws/cli/cache")));
        }
        Case::LockHeld => {
            token(&c, EXPIRED);
            c.write_role(-60);
            let key = keepalive_core::providers::sso::cache::cache_key("corp");
            let path = c.s.home.state_dir().join(format!("cc-aws-keepalive/locks/sso-{key}.lock"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let f = std::fs::File::create(&path).unwrap();
            f.lock().unwrap();
            c._lock = Some(f);
        }
        Case::TokenCacheEmpty => {
            token(&c, VALID);
            c.write_role(-60);
            std::fs::write(c.token_path(), b"").unwrap();
        }
        Case::TokenCacheHalfWritten => {
            token(&c, VALID);
            c.write_role(-60);
            let whole = std::fs::read(c.token_path()).unwrap();
            std::fs::write(c.token_path(), &whole[..whole.len() / 2]).unwrap();
        }
        Case::RoleCacheHalfWritten => {
            token(&c, VALID);
            c.write_role(-60);
            let whole = std::fs::read(c.role_path()).unwrap();
            std::fs::write(c.role_path(), &whole[..whole.len() / 2]).unwrap();
        }
        Case::ClockFarPast => {
            token(&c, VALID);
            c.write_role(3600);
            c.set("CC_KEEPALIVE_NOW", "1970-01-01T00:00:00Z");
        }
        Case::ClockFarFuture => {
            token(&c, VALID);
            c.write_role(3600);
            c.set("CC_KEEPALIVE_NOW", "9999-12-31T23:59:59Z");
        }
        Case::HomeUnset => {
            token(&c, VALID);
            c.write_role(3600);
            c.unset = &["HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"];
        }
        Case::ConfigMissing => {
            token(&c, VALID);
            c.write_role(3600);
            c.set("CC_KEEPALIVE_CONFIG", "/nonexistent/cc-aws-keepalive/config.json");
            c.set("AWS_PROFILE", "dev");
        }
        Case::AwsConfigMissing => {
            token(&c, VALID);
            c.write_role(3600);
            c.set("AWS_CONFIG_FILE", "/nonexistent/aws-config");
        }
    }
    c.snapshot();
    c
}

/// Runs every column of the rows of `cases`, each cell in its own home,
/// mock and thread, all at once; fails with every mismatch together.
fn run_rows(cases: &[Case]) {
    let rows: Vec<&Row> = cases
        .iter()
        .map(|&case| MATRIX.iter().find(|r| r.case == case).unwrap_or_else(|| panic!("{case:?} has no row in MATRIX")))
        .collect();
    let problems: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = rows
            .iter()
            .flat_map(|&row| COLS.iter().map(move |&col| (row, col)))
            .map(|(row, col)| {
                sc.spawn(move || {
                    let cell = setup(row.case);
                    let out = cell.run(col);
                    judge(row, col, &cell, &out)
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec!["a cell panicked".into()])).collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every way a cell can be wrong, as lines; empty when it is right.
fn judge(row: &Row, col: Col, c: &Cell, out: &RunOutput) -> Vec<String> {
    let want = col.want(row);
    let mut bad = Vec::new();
    let mut fail = |what: String| bad.push(format!("{:?} × {col:?}: {what}", row.case));
    if out.timed_out || out.stderr.contains("panicked") || out.stdout.contains("panicked") {
        fail(format!("hung or panicked: {}", out.describe()));
        return bad;
    }
    if out.status != Some(want.code) {
        fail(format!("exit {:?}, want {}: {}", out.status, want.code, out.describe()));
    }
    let limit = time_limit(row.case, col);
    if out.elapsed > limit {
        fail(format!("took {:?}, limit {limit:?}", out.elapsed));
    }
    let message = match message(col, want, out) {
        Ok(m) => m,
        Err(e) => {
            fail(e);
            String::new()
        }
    };
    for s in want.says {
        if !message.contains(s) {
            fail(format!("message lacks {s:?}: {message:?}"));
        }
    }
    if want.says.is_empty() && !message.is_empty() {
        fail(format!("unexpected message {message:?}"));
    }
    // Secrets: only the export's stdout may carry credentials.
    let mut shown = out.stderr.clone();
    if col != Col::Export {
        shown.push_str(&out.stdout);
    }
    if let Some(which) = leaked(c, &shown) {
        fail(format!("{which} appears in the output"));
    }
    // Background work started by check must end within its budget and say why.
    let failed_bg = match (col, row.check_bg) {
        (Col::Check, Bg::Fails(says)) => {
            let line = wait_for_log(c, "background", Duration::from_secs(45));
            match line {
                Some(l) if says.iter().all(|s| l.contains(s)) && l.contains("failed") => {}
                other => fail(format!("background log line {other:?} lacks {says:?} or \"failed\"; log:\n{}", c.log())),
            }
            true
        }
        (Col::Check, Bg::Works) => {
            if wait_for_log(c, "role credentials cached", Duration::from_secs(30)).is_none() {
                fail(format!("background refresh did not succeed; log:\n{}", c.log()));
            }
            false
        }
        _ => false,
    };
    if let Some(which) = leaked(c, &c.log()) {
        fail(format!("{which} appears in the log"));
    }
    // After a failure, the previous caches are exactly as they were; the
    // status line never writes them at all.
    let failed = want.code != 0 || failed_bg || col == Col::Statusline;
    let token_now = std::fs::read(c.token_path()).ok();
    let role_now = std::fs::read(c.role_path()).ok();
    if failed {
        if token_now != c.token_before {
            fail("the token cache changed".into());
        }
        if role_now != c.role_before {
            fail("the role cache changed".into());
        }
    } else {
        // A success may rewrite them, but only with whole files.
        for (what, now, before) in [("token", &token_now, &c.token_before), ("role", &role_now, &c.role_before)] {
            if now != before && now.as_ref().is_some_and(|b| serde_json::from_slice::<Value>(b).is_err()) {
                fail(format!("the {what} cache was replaced by something that is not JSON"));
            }
        }
    }
    bad
}

/// The cell's one message: export's stderr (one line), refresh's last line,
/// check's `systemMessage` (one line, or nothing), statusline's line.
fn message(col: Col, want: Want, out: &RunOutput) -> Result<String, String> {
    let one_line = |text: &str, what: &str| -> Result<String, String> {
        let t = text.trim_end_matches('\n');
        if t.lines().count() > 1 { Err(format!("{what} is not one line: {t:?}")) } else { Ok(t.to_string()) }
    };
    match col {
        Col::Export => {
            if want.code == 0 {
                let v: Value = serde_json::from_str(&out.stdout).map_err(|e| format!("stdout not JSON ({e})"))?;
                if !v["Credentials"]["AccessKeyId"].is_string() {
                    return Err(format!("no credentials in {v}"));
                }
            } else if !out.stdout.is_empty() {
                return Err("a failed export printed to stdout".into());
            }
            one_line(&out.stderr, "stderr")
        }
        Col::Refresh => Ok(out.stdout.trim_end().lines().last().unwrap_or_default().to_string()),
        Col::Check => {
            let line = one_line(&out.stdout, "stdout")?;
            if line.is_empty() {
                return Ok(line);
            }
            let v: Value = serde_json::from_str(&line).map_err(|e| format!("stdout not JSON ({e}): {line:?}"))?;
            let msg = v["systemMessage"].as_str().ok_or_else(|| format!("no systemMessage in {line}"))?;
            one_line(msg, "systemMessage")
        }
        Col::Statusline => one_line(&out.stdout, "stdout"),
    }
}

/// Which secret (or its first 8 characters, as `assert_no_secret` checks)
/// appears in `text`, named without showing it.
fn leaked(c: &Cell, text: &str) -> Option<String> {
    let mut all = vec![c.s.access_token.clone(), c.s.refresh_token.clone(), c.s.client_secret.clone()];
    all.extend(c.s.mock.issued_access_tokens());
    all.extend(c.s.mock.issued_refresh_tokens());
    all.extend([ROLE_SECRET, ROLE_TOKEN, STUB_ACCESS_TOKEN].map(String::from));
    all.iter().enumerate().find_map(|(i, secret)| {
        let prefix: String = secret.chars().take(8).collect();
        (!secret.is_empty() && text.contains(&prefix)).then(|| format!("secret #{i} ({}…)", &prefix[..3]))
    })
}

/// The first log line containing `needle`, waiting up to `wait` for it.
fn wait_for_log(c: &Cell, needle: &str, wait: Duration) -> Option<String> {
    let mut found = None;
    crate::eventually(wait.as_secs(), || {
        found = c.log().lines().find(|l| l.contains(needle)).map(str::to_string);
        found.is_some()
    });
    found
}

/// The issue's "check: ≤ 50 ms", while both SSO endpoints hang and the token
/// needs a refresh; the status line too. The first check starts the
/// background refresh (the spawn counts in its time), which must then give up
/// within the client budget, once for all the prompts.
///
/// Robust on a loaded 2-core machine: this binary also runs a 50-process load
/// test, during which any process waits for a core. So the figure is the
/// median of 5 runs of the debug binary (`run` polls every 10 ms, so it errs
/// on the slow side), taken in rounds a second apart until one round is under
/// 50 ms, for at most 20 rounds. A hook that waited on the network would take
/// 15 s in every round; every run is also held to 5 s.
#[test]
fn check_and_statusline_answer_within_50_ms_while_the_network_hangs() {
    const LIMIT: Duration = Duration::from_millis(50);
    let c = setup(Case::OidcHang);
    c.s.mock.set_sticky_fault(Route::RoleCredentials, Some(Fault::Slow(Duration::from_secs(25))));
    for col in [Col::Check, Col::Statusline] {
        let mut medians = Vec::new();
        for _ in 0..20 {
            let mut times: Vec<Duration> = (0..5)
                .map(|_| {
                    let out = c.run(col);
                    assert_eq!(out.status, Some(0), "{col:?}: {}", out.describe());
                    assert!(out.elapsed < Duration::from_secs(5), "{col:?} waited: {}", out.describe());
                    out.elapsed
                })
                .collect();
            times.sort();
            medians.push(times[2]);
            if times[2] <= LIMIT {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        assert!(medians.last().is_some_and(|m| *m <= LIMIT), "{col:?}: medians of 5 runs, round by round: {medians:?}");
    }
    let line = wait_for_log(&c, "background", Duration::from_secs(45));
    assert!(line.as_deref().is_some_and(|l| l.contains("did not answer within 15 s")), "{line:?}\n{}", c.log());
    assert_eq!(c.s.mock.count(Route::Token), 1, "one background refresh for all the prompts");
}

/// A token cache that cannot be written is found out before CreateToken:
/// AWS rotates the refresh token on use, so a refresh we could not save would
/// leave only a dead refresh token behind and force a browser login. Once the
/// directory is writable again, the silent refresh just works.
#[test]
fn a_read_only_token_cache_burns_no_refresh_token() {
    let mut c = setup(Case::TokenCacheDirReadOnly);
    let out = c.run(Col::Export);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(c.s.mock.count(Route::Token), 0, "CreateToken was called: {}", c.s.mock.dump());
    assert_eq!(c.s.mock.refresh_token().as_deref(), Some(c.s.refresh_token.as_str()));
    c._read_only = None;
    let out = c.run(Col::Export);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(c.s.mock.count(Route::Token), 1);
}
