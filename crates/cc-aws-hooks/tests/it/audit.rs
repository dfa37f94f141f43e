//! Secret audit: every command path — the four hooks and the `cc-aws-keepalive`
//! commands — on an SSO, a credentials-file, a credential_process, a role-chain
//! (role over temporary keys) and an `aws login` profile, with CreateToken, the
//! SSO portal, STS AssumeRole or Sign-In's /v1/token failing each way
//! (invalid_grant, 500, malformed JSON, 401/403). Recognisable fake secrets sit
//! in every file that holds one (token cache, credentials file, credential_process
//! output, assume-role cache, `aws login` cache with its refresh token and DPoP
//! key, Claude Code's settings.json `env`); the mock issues its own. No output other than
//! `cc-aws-export`'s stdout, no file in the state directory (the
//! credential_process cache excepted: it is a secret store) and no notification
//! may contain any of them, or their first 8 characters. Files holding secrets
//! are 0600, directories we create for them 0700.

// Unix modes, `sh` scripts, signals and /proc.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::mock::signin::{DpopTestKey, LoginSession, SAME_DEVICE_CLIENT_ID};
use test_support::{Fault, MockAws, Route, RunOutput, SsoConfig, TestHome, rfc3339, unix_now};

use crate::bin;
use crate::load::{temp_files_below, wait_for_detached};

// Each secret starts with 8 characters no other text has, so the prefix check means something.
const SSO_ACCESS: &str = "aTkAUD1T-sso-access-token-0123456789abcdef";
const SSO_REFRESH: &str = "rTkAUD1T-sso-refresh-token-0123456789abcdef";
const SSO_CLIENT_SECRET: &str = "cSkAUD1T-sso-client-secret-0123456789abcdef";
const FILE_SECRET: &str = "fSkAUD1T-file-secret-access-key-0123456789";
const FILE_TOKEN: &str = "fStAUD1T-file-session-token-0123456789abcdef";
const PROC_SECRET: &str = "pSkAUD1T-process-secret-access-key-0123456789";
const PROC_TOKEN: &str = "pStAUD1T-process-session-token-0123456789";
const ENV_SECRET: &str = "eSkAUD1T-settings-env-secret-key-0123456789";
const ENV_TOKEN: &str = "eStAUD1T-settings-env-session-token-0123456789";
const ENV_BEARER: &str = "eBrAUD1T-settings-env-bedrock-bearer-0123456789";
// The role chain: temporary source keys in the credentials file, and what the assume-role
// cache held before (5 minutes left: the export assumes the role again).
const CHAIN_SECRET: &str = "cSsAUD1T-chain-source-secret-access-key-0123456789";
const CHAIN_TOKEN: &str = "cStAUD1T-chain-source-session-token-0123456789";
const ROLE_SECRET: &str = "rSkAUD1T-assumed-role-secret-access-key-0123456789";
const ROLE_TOKEN: &str = "rStAUD1T-assumed-role-session-token-0123456789";
// The `aws login` session: keys with 5 minutes left (the export refreshes them) and the
// refresh token; its DPoP key is made per scenario (see `dpop_secrets`).
const LOGIN_SECRET: &str = "lSkAUD1T-login-secret-access-key-0123456789";
const LOGIN_TOKEN: &str = "lStAUD1T-login-session-token-0123456789abcdef";
const LOGIN_REFRESH: &str = "lRtAUD1T-login-refresh-token-0123456789abcdef";
const FIXED: [&str; 17] = [
    SSO_ACCESS,
    SSO_REFRESH,
    SSO_CLIENT_SECRET,
    FILE_SECRET,
    FILE_TOKEN,
    PROC_SECRET,
    PROC_TOKEN,
    ENV_SECRET,
    ENV_TOKEN,
    ENV_BEARER,
    CHAIN_SECRET,
    CHAIN_TOKEN,
    ROLE_SECRET,
    ROLE_TOKEN,
    LOGIN_SECRET,
    LOGIN_TOKEN,
    LOGIN_REFRESH,
];

const CLIENT_ID: &str = "audit-client-id";
const CHAIN_KEY: &str = "AKIACHAINAUDIT000001";
const ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
/// botocore's cache file for `{"RoleArn": ROLE}`.
const ROLE_CACHE: &str = ".aws/cli/cache/f80c9ecace670741c5910425d552bb9dee3fd8fb.json";
const LOGIN_SESSION: &str = "arn:aws:iam::111122223333:user/audit";

const HOOKS: [&str; 4] = ["statusline", "check", "export", "refresh"];
const CLI: [&[&str]; 8] = [
    &["status"],
    &["status", "--json"],
    &["refresh"],
    &["refresh", "--force"],
    &["daemon", "--once"],
    &["logs"],
    &["doctor", "--offline"],
    &["setup", "--dry-run"],
];

/// The `cc-aws-keepalive` binary: another package's, so Cargo gives this test
/// no path for it. `cargo test --workspace` builds it next to the hook
/// binaries; when it is missing or older than its sources (only this
/// package's tests were built), `cargo build` makes it.
fn keepalive_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(bin("export")).parent().unwrap();
        let path = dir.join(format!("cc-aws-keepalive{}", std::env::consts::EXE_SUFFIX));
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let sources = [crates.join("cc-aws-keepalive/src"), crates.join("keepalive-core/src")];
        let newest = sources
            .iter()
            .flat_map(|d| test_support::files_below(d))
            .filter_map(|f| f.metadata().and_then(|m| m.modified()).ok())
            .max();
        if built.is_some() && newest <= built {
            return path;
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--offline", "--quiet", "-p", "cc-aws-keepalive", "--bin", "cc-aws-keepalive"])
            .arg("--target-dir")
            .arg(dir.parent().unwrap())
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match dir.file_name().unwrap().to_str().unwrap() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let out = test_support::run(&mut cmd, b"", Duration::from_secs(600));
        assert!(out.success() && path.exists(), "cannot build cc-aws-keepalive: {}", out.describe());
        path
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Sso,
    File,
    Process,
    /// `bedrock ← role ← chainsrc (keys in credentials)`.
    RoleChain,
    /// `ai (aws login)`.
    Login,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Sso => "dev",
            Profile::File => "filecreds",
            Profile::Process => "proc",
            Profile::RoleChain => "bedrock",
            Profile::Login => "ai",
        }
    }
}

/// A temp HOME holding every kind of secret, and the mock with one fault.
struct Scenario {
    label: String,
    home: TestHome,
    mock: MockAws,
    /// Everything printed or written that must be clean, labelled for messages.
    texts: Vec<(String, String)>,
    /// Secrets seen on export's stdout (the mock's role credentials).
    exported: Vec<String>,
    /// The `aws login` cache file.
    login_cache: PathBuf,
    /// The DPoP private key in the forms a leak would take.
    dpop: Vec<String>,
}

impl Scenario {
    fn new(profile: Profile, fault: Option<(Route, Fault)>) -> Scenario {
        let label = format!("{profile:?}/{}", fault.as_ref().map_or("ok".to_string(), |(r, f)| format!("{r:?}:{f:?}")));
        let home = TestHome::new();
        let mock = MockAws::start();
        mock.set_oidc_client(CLIENT_ID, SSO_CLIENT_SECRET);
        mock.set_refresh_token(SSO_REFRESH);
        mock.add_access_token(SSO_ACCESS, true);
        if let Some((route, f)) = fault {
            mock.set_sticky_fault(route, Some(f));
        }
        let now = unix_now();
        let cp = home.write(
            "cp.sh",
            format!(
                "printf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"ASIAPROCAUDIT\", \"SecretAccessKey\": \"{PROC_SECRET}\", \
                 \"SessionToken\": \"{PROC_TOKEN}\", \"Expiration\": \"{}\"}}'\n",
                rfc3339(now + 3600)
            ),
        );
        home.write(
            ".aws/config",
            format!(
                "{}\n[profile proc]\ncredential_process = sh {}\n\
                 [profile bedrock]\nrole_arn = {ROLE}\nsource_profile = chainsrc\nregion = us-east-1\n\
                 [profile ai]\nlogin_session = {LOGIN_SESSION}\nregion = us-east-1\n",
                SsoConfig::CORP.config_text(),
                cp.display()
            ),
        );
        // Inside the autoLoginMinutes window: check and export start the login.
        // chainsrc: temporary keys valid for hours, the role chain's source.
        home.write(
            ".aws/credentials",
            format!(
                "[filecreds]\naws_access_key_id = AKIAFILEAUDIT\naws_secret_access_key = {FILE_SECRET}\n\
                 aws_session_token = {FILE_TOKEN}\nx_security_token_expires = {}\n\
                 [chainsrc]\naws_access_key_id = {CHAIN_KEY}\naws_secret_access_key = {CHAIN_SECRET}\n\
                 aws_session_token = {CHAIN_TOKEN}\nx_security_token_expires = {}\n",
                rfc3339(now + 8 * 60),
                rfc3339(now + 6 * 3600)
            ),
        );
        mock.add_key(CHAIN_KEY, CHAIN_SECRET, Some(CHAIN_TOKEN), true);
        // The assume-role cache as the AWS CLI left it (0700/0600), 5 minutes left.
        for dir in [".aws/cli", ".aws/cli/cache"] {
            std::fs::create_dir_all(home.join(dir)).unwrap();
            set_mode(&home.join(dir), 0o700);
        }
        let role_cache = home.write(
            ROLE_CACHE,
            format!(
                "{{\"Credentials\": {{\"AccessKeyId\": \"ASIAROLEAUDIT0000001\", \"SecretAccessKey\": \"{ROLE_SECRET}\", \
                 \"SessionToken\": \"{ROLE_TOKEN}\", \"Expiration\": \"{}\", \"AccountId\": \"111122223333\"}}, \
                 \"AssumedRoleUser\": {{\"AssumedRoleId\": \"AROAAUDIT:botocore-session-1\", \
                 \"Arn\": \"arn:aws:sts::111122223333:assumed-role/KalBedrock/botocore-session-1\"}}, \
                 \"ResponseMetadata\": {{\"RequestId\": \"audit\", \"HTTPStatusCode\": 200, \"RetryAttempts\": 0}}}}",
                rfc3339(now + 5 * 60).replace('Z', "UTC")
            ),
        );
        set_mode(&role_cache, 0o600);
        // The `aws login` session, 0700/0600 as the AWS CLI leaves it; the mock accepts its
        // refresh token once, with proofs signed by its DPoP key.
        let dpop = DpopTestKey::generate().unwrap();
        let session = LoginSession {
            session: LOGIN_SESSION.to_string(),
            client_id: SAME_DEVICE_CLIENT_ID.to_string(),
            refresh_token: LOGIN_REFRESH.to_string(),
            access_key_id: "ASIALOGINAUDIT000001".to_string(),
            secret_access_key: LOGIN_SECRET.to_string(),
            session_token: LOGIN_TOKEN.to_string(),
            account_id: "111122223333".to_string(),
            cache_path: home
                .join(format!(".aws/login/cache/{}.json", test_support::sigv4::sha256_hex(LOGIN_SESSION.as_bytes()))),
            dpop_key_pem: dpop.sec1_pem(),
            public_key: dpop.public_key.clone(),
        };
        for dir in [".aws/login", ".aws/login/cache"] {
            std::fs::create_dir_all(home.join(dir)).unwrap();
            set_mode(&home.join(dir), 0o700);
        }
        std::fs::write(&session.cache_path, session.cache_json(&rfc3339(now + 5 * 60), now - 3600)).unwrap();
        set_mode(&session.cache_path, 0o600);
        mock.add_login_session(&session.client_id, LOGIN_REFRESH, &session.public_key);
        // Inside the 15-minute refresh window; written 0644 as a careless tool would.
        let token = SsoConfig::CORP.token_json(
            (CLIENT_ID, SSO_CLIENT_SECRET),
            SSO_ACCESS,
            Some(SSO_REFRESH),
            &rfc3339(now + 5 * 60),
            &rfc3339(now + 80 * 86400),
        );
        home.write(token_rel(), serde_json::to_string_pretty(&token).unwrap());
        // A login that fails, saying so; our messages wrap its output.
        let login = home.write("login.sh", "echo 'fake login: nothing to do'\nexit 1\n");
        home.write(
            ".config/cc-aws-keepalive/config.json",
            json!({
                "profile": profile.name(),
                "loginCmd": format!("sh {}", login.display()),
                "autoLoginCmd": format!("sh {}", login.display()),
                "autoLoginMinutes": 10,
            })
            .to_string(),
        );
        home.write(
            ".claude/settings.json",
            serde_json::to_string_pretty(&json!({
                "env": {
                    "CLAUDE_CODE_USE_BEDROCK": "1",
                    "AWS_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "AKIAENVAUDIT",
                    "AWS_SECRET_ACCESS_KEY": ENV_SECRET,
                    "AWS_SESSION_TOKEN": ENV_TOKEN,
                    "AWS_BEARER_TOKEN_BEDROCK": ENV_BEARER,
                },
                "model": "us.anthropic.claude-opus-5-5",
            }))
            .unwrap(),
        );
        let dpop = dpop_secrets(&dpop, &session.dpop_key_pem);
        Scenario { label, home, mock, texts: Vec::new(), exported: Vec::new(), login_cache: session.cache_path, dpop }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = self.home.command(program);
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", self.mock.url())
            .env("AWS_ENDPOINT_URL_SSO", self.mock.url())
            .env("AWS_ENDPOINT_URL_STS", self.mock.url())
            .env("AWS_ENDPOINT_URL_SIGNIN", self.mock.url())
            .env("AWS_REGION", "us-east-1")
            .env("CC_KEEPALIVE_NO_SERVICE_MANAGER", "1")
            .env(
                "CC_KEEPALIVE_NOTIFY_CMD",
                format!(
                    "printf '%s|%s|%s\\n' \"$CC_KEEPALIVE_NOTIFY_KIND\" \"$CC_KEEPALIVE_NOTIFY_TITLE\" \"$CC_KEEPALIVE_NOTIFY_BODY\" >> '{}'",
                    self.home.join("notifications.log").display()
                ),
            );
        cmd
    }

    fn record(&mut self, what: String, out: &RunOutput, stdout_clean: bool) {
        assert!(!out.timed_out, "{}: {what} timed out: {}", self.label, out.describe());
        assert!(!out.stderr.contains("panicked"), "{}: {what} panicked: {}", self.label, out.describe());
        assert!(matches!(out.status, Some(0 | 1)), "{}: {what}: {}", self.label, out.describe());
        self.texts.push((format!("{what} stderr"), out.stderr.clone()));
        if stdout_clean {
            self.texts.push((format!("{what} stdout"), out.stdout.clone()));
        }
    }

    fn run_all(&mut self, profile: Profile) {
        for hook in HOOKS {
            let stdin: &[u8] = if hook == "export" || hook == "refresh" { b"" } else { b"{\"prompt\":\"hi\"}" };
            let out = test_support::run(&mut self.command(Path::new(bin(hook))), stdin, Duration::from_secs(60));
            if hook == "export"
                && let Ok(v) = serde_json::from_str::<Value>(&out.stdout)
            {
                for k in ["SecretAccessKey", "SessionToken"] {
                    if let Some(s) = v["Credentials"][k].as_str() {
                        self.exported.push(s.to_string());
                    }
                }
            }
            self.record(format!("cc-aws-{hook}"), &out, hook != "export");
        }
        // Background refreshes and logins started by check and export log too.
        wait_for_detached(self.home.path(), Duration::from_secs(60));
        // The CLI on everything, then on this profile's chain alone.
        let name = profile.name();
        let by_profile: [&[&str]; 2] = [&["refresh", "--profile", name], &["refresh", "--force", "--profile", name]];
        for args in CLI.iter().chain(by_profile.iter()) {
            let mut cmd = self.command(keepalive_bin());
            cmd.args(*args);
            let out = test_support::run(&mut cmd, b"", Duration::from_secs(120));
            self.record(format!("cc-aws-keepalive {}", args.join(" ")), &out, true);
        }
        wait_for_detached(self.home.path(), Duration::from_secs(60));
    }

    /// Every secret: ours, and what the mock issued (role credentials are read
    /// back from export's stdout and the AWS CLI cache).
    fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
        all.extend(self.mock.issued_access_tokens());
        all.extend(self.mock.issued_refresh_tokens());
        all.extend(self.exported.iter().cloned());
        all.extend(self.dpop.iter().cloned());
        all.extend(self.mock.issued_login_refresh_tokens());
        for f in test_support::files_below(&self.home.join(".aws/cli/cache")) {
            if let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&f).unwrap_or_default()) {
                for k in ["SecretAccessKey", "SessionToken"] {
                    if let Some(s) = v["Credentials"][k].as_str() {
                        all.push(s.to_string());
                    }
                }
            }
        }
        // The `aws login` cache as it is now (a refresh rewrote it with the mock's secrets).
        if let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&self.login_cache).unwrap_or_default()) {
            for k in ["secretAccessKey", "sessionToken"] {
                if let Some(s) = v["accessToken"][k].as_str() {
                    all.push(s.to_string());
                }
            }
            if let Some(s) = v["refreshToken"].as_str() {
                all.push(s.to_string());
            }
        }
        all.sort();
        all.dedup();
        all
    }

    /// Every leak found, one line each.
    /// The scenario did what it is about: the faulty route was called; on the
    /// happy SSO path the mock issued tokens and role credentials (so its
    /// secrets were looked for); the log has lines to scan.
    fn assert_exercised(&self, profile: Profile, fault: Option<&(Route, Fault)>) {
        match fault {
            Some((route, _)) => assert!(self.mock.count(*route) > 0, "{}: {route:?} never called", self.label),
            None if profile == Profile::Sso => assert!(
                !self.exported.is_empty() && !self.mock.issued_access_tokens().is_empty(),
                "{}: no token or role credentials issued",
                self.label
            ),
            // The export handed out what STS or Sign-In issued, not the stale cached keys.
            None if profile == Profile::RoleChain => {
                assert!(self.mock.assume_role_count(ROLE) > 0, "{}: no AssumeRole", self.label);
                assert!(!self.exported.is_empty() && !self.exported.iter().any(|s| s == ROLE_SECRET), "{}", self.label);
                assert!(self.mock.requests().iter().any(|r| r.signed_ok_by(CHAIN_KEY)), "{}", self.label);
            }
            None if profile == Profile::Login => {
                assert!(self.mock.login_refresh_calls() > 0, "{}: no /v1/token call", self.label);
                assert!(
                    self.mock.rejected_dpop_proofs().is_empty(),
                    "{}: {:?}",
                    self.label,
                    self.mock.rejected_dpop_proofs()
                );
                assert!(
                    !self.exported.is_empty() && !self.exported.iter().any(|s| s == LOGIN_SECRET),
                    "{}",
                    self.label
                );
            }
            None => {}
        }
        let log = self.home.try_read(".local/state/cc-aws-keepalive/keepalive.log").unwrap_or_default();
        assert!(log.lines().count() >= 2, "{}: log: {log}", self.label);
    }

    fn scan(&mut self) -> Vec<String> {
        let state = self.home.state_dir();
        let secret_store = state.join("cc-aws-keepalive/credential-process");
        for f in test_support::files_below(&state) {
            if f.starts_with(&secret_store) {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap_or_default();
            self.texts.push((f.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
        if let Some(n) = self.home.try_read("notifications.log") {
            self.texts.push(("notifications".into(), n));
        }
        let secrets = self.secrets();
        self.texts
            .iter()
            .filter_map(|(what, text)| find_leak(text, &secrets).map(|leak| format!("{}: {what}: {leak}", self.label)))
            .collect()
    }

    fn check_modes(&self) {
        let state = self.home.state_dir().join("cc-aws-keepalive");
        assert_tree_private(&state, &self.label);
        for dir in [".aws/cli", ".aws/cli/cache"] {
            if self.home.join(dir).exists() {
                assert_mode(&self.home.join(dir), 0o700, &self.label);
            }
        }
        assert_tree_private(&self.home.join(".aws/cli/cache"), &self.label);
        assert_tree_private(&self.home.join(".aws/login"), &self.label);
        // We rewrote the token cache (a refresh): then it is 0600 whatever it was.
        let token = self.home.join(token_rel());
        let v: Value = serde_json::from_str(&self.home.read(token_rel())).unwrap();
        if v["accessToken"] != SSO_ACCESS {
            assert_mode(&token, 0o600, &self.label);
        }
        let temps = temp_files_below(self.home.path());
        assert!(temps.is_empty(), "{}: temp files left: {temps:?}", self.label);
    }
}

/// The first secret (or its first 8 characters) found in `text`, described
/// with the surrounding text and every secret masked.
fn find_leak(text: &str, secrets: &[String]) -> Option<String> {
    let (i, hit) = secrets.iter().enumerate().find_map(|(i, s)| {
        let prefix: String = s.chars().take(8).collect();
        text.find(&prefix).map(|at| (i, at))
    })?;
    let start = text[..hit].char_indices().rev().nth(120).map_or(0, |(p, _)| p);
    let mut context: String = text[start..].chars().take(300).collect();
    for (j, s) in secrets.iter().enumerate() {
        context = context.replace(s.as_str(), &format!("<SECRET#{j}>"));
        let prefix: String = s.chars().take(8).collect();
        context = context.replace(&prefix, &format!("<SECRET#{j} PREFIX>"));
    }
    Some(format!("secret #{i} leaked: …{context}…"))
}

fn token_rel() -> String {
    SsoConfig::CORP.token_rel()
}

/// The DPoP private key as a leak would show it: the scalar in hex and base64url (a JWK's
/// `d`), and the first PEM line past its fixed DER header (the scalar's base64).
fn dpop_secrets(key: &DpopTestKey, pem: &str) -> Vec<String> {
    let hex: String = key.private_scalar.iter().map(|b| format!("{b:02x}")).collect();
    let line = pem.lines().nth(1).unwrap();
    // 7 header bytes + 2 scalar bytes = 12 base64 characters; then 30 scalar bytes = 40.
    vec![hex, base64url(&key.private_scalar), line[12..52].to_string()]
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn assert_mode(p: &Path, want: u32, label: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, want, "{label}: mode of {} is {mode:o}, want {want:o}", p.display());
}

/// `dir` (if it exists) and every directory below it are 0700, every file 0600.
fn assert_tree_private(dir: &Path, label: &str) {
    if !dir.exists() {
        return;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        assert_mode(&d, 0o700, label);
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert_mode(&p, 0o600, label);
            }
        }
    }
}

/// No fault, then each way CreateToken and the portal can fail.
fn faults() -> Vec<Option<(Route, Fault)>> {
    vec![
        None,
        Some((Route::Token, Fault::InvalidGrant)),
        Some((Route::Token, Fault::Status(500))),
        Some((Route::Token, Fault::MalformedJson)),
        Some((Route::Token, Fault::Unauthorized)),
        Some((Route::RoleCredentials, Fault::Status(500))),
        Some((Route::RoleCredentials, Fault::MalformedJson)),
        Some((Route::RoleCredentials, Fault::Unauthorized)),
    ]
}

#[test]
fn no_command_path_leaks_a_secret_and_secret_files_are_private() {
    let started = Instant::now();
    let _ = keepalive_bin();
    let mut jobs: Vec<(Profile, Option<(Route, Fault)>)> = Vec::new();
    for f in faults() {
        jobs.push((Profile::Sso, f));
    }
    // The other profiles' hooks never touch the network; the CLI still
    // refreshes the SSO session's token (no role credentials), so a few
    // CreateToken faults cover them.
    for p in [Profile::File, Profile::Process] {
        for f in [None, Some((Route::Token, Fault::InvalidGrant)), Some((Route::Token, Fault::Status(500)))] {
            jobs.push((p, f));
        }
    }
    // The role chain and the `aws login` session, with their own service failing each way
    // (Unauthorized: STS's 403 ExpiredToken, Sign-In's 401 TOKEN_EXPIRED).
    for (p, route) in [(Profile::RoleChain, Route::Sts), (Profile::Login, Route::SigninToken)] {
        jobs.push((p, None));
        for f in [Fault::Status(500), Fault::MalformedJson, Fault::Unauthorized] {
            jobs.push((p, Some((route, f))));
        }
    }
    // Slowest first (a 500 costs the HTTP client's retries on every call).
    jobs.sort_by_key(|(_, f)| matches!(f, Some((_, Fault::Status(_)))));
    let total = jobs.len();
    let jobs = std::sync::Mutex::new(jobs);
    let runs = std::sync::atomic::AtomicUsize::new(0);
    let leaks = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..3 {
            sc.spawn(|| {
                loop {
                    let Some((p, f)) = jobs.lock().unwrap().pop() else { break };
                    let mut s = Scenario::new(p, f.clone());
                    s.run_all(p);
                    s.assert_exercised(p, f.as_ref());
                    let found = s.scan();
                    leaks.lock().unwrap().extend(found);
                    s.check_modes();
                    runs.fetch_add(
                        s.texts.iter().filter(|(w, _)| w.ends_with("stderr")).count(),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
            });
        }
    });

    // `setup` for real, in a home without config.json: the config it creates is
    // 0600 in a 0700 directory; settings.json's secrets stay out of its output.
    let mut s = Scenario::new(Profile::Sso, None);
    std::fs::remove_dir_all(s.home.join(".config/cc-aws-keepalive")).unwrap();
    let mut cmd = s.command(keepalive_bin());
    cmd.args(["setup", "--statusline"]);
    let out = test_support::run(&mut cmd, b"", Duration::from_secs(60));
    s.record("cc-aws-keepalive setup --statusline".into(), &out, true);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_mode(&s.home.join(".config/cc-aws-keepalive"), 0o700, "setup");
    assert_mode(&s.home.join(".config/cc-aws-keepalive/config.json"), 0o600, "setup");
    let mut leaks = leaks.into_inner().unwrap();
    leaks.extend(s.scan());
    s.check_modes();
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n\n"));
    eprintln!(
        "audit: {total} scenarios, {} command runs, all clean, in {:?}",
        runs.into_inner() + 1,
        started.elapsed()
    );
}

/// Whether `code` stands alone in `text` (not inside a longer run of letters and digits, as in
/// a key id or a hex name): a 6-digit code would otherwise turn up in random hex by chance.
fn code_appears(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[test]
fn an_mfa_code_typed_into_refresh_goes_to_sts_only_and_the_hooks_serve_the_cached_role() {
    const MFA_ROLE: &str = "arn:aws:iam::111122223333:role/KalAdmin";
    const SERIAL: &str = "arn:aws:iam::111122223333:mfa/audit";
    const CODE: &str = "604519";
    let mut s = Scenario::new(Profile::RoleChain, None);
    s.label = "mfa".into();
    s.mock.sts_require_mfa(MFA_ROLE, SERIAL, CODE);
    let config = s.home.read(".aws/config");
    s.home.write(
        ".aws/config",
        format!(
            "{config}[profile admin]\nrole_arn = {MFA_ROLE}\nsource_profile = chainsrc\nmfa_serial = {SERIAL}\nregion = us-east-1\n"
        ),
    );
    let mut settings: Value = serde_json::from_str(&s.home.read(".config/cc-aws-keepalive/config.json")).unwrap();
    settings["profile"] = "admin".into();
    s.home.write(".config/cc-aws-keepalive/config.json", settings.to_string());

    // The hooks cannot ask for the code: export fails, naming the command.
    let out = test_support::run(&mut s.command(Path::new(bin("export"))), b"", Duration::from_secs(60));
    assert!(!out.success() && out.stderr.contains("cc-aws-keepalive refresh --profile admin"), "{}", out.describe());
    s.record("cc-aws-export before".into(), &out, false);
    assert_eq!(s.mock.assume_role_count(MFA_ROLE), 0);

    // A person types it.
    let mut cmd = s.command(keepalive_bin());
    cmd.args(["refresh", "--profile", "admin"]);
    let out = test_support::run(&mut cmd, format!("{CODE}\n").as_bytes(), Duration::from_secs(60));
    assert_eq!(out.status, Some(0), "{}", out.describe());
    s.record("cc-aws-keepalive refresh --profile admin".into(), &out, true);
    let calls = s.mock.sts_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((calls[0].serial_number.as_deref(), calls[0].token_code.as_deref()), (Some(SERIAL), Some(CODE)));
    let issued = calls[0].issued_key.clone().unwrap();

    // Then every hook works from the cached role, without STS.
    for hook in HOOKS {
        let stdin: &[u8] = if hook == "export" || hook == "refresh" { b"" } else { b"{\"prompt\":\"hi\"}" };
        let out = test_support::run(&mut s.command(Path::new(bin(hook))), stdin, Duration::from_secs(60));
        assert_eq!(out.status, Some(0), "{hook}: {}", out.describe());
        if hook == "export" {
            let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.describe()));
            assert_eq!(v["Credentials"]["AccessKeyId"], issued.as_str(), "{}", out.stdout);
            for k in ["SecretAccessKey", "SessionToken"] {
                s.exported.push(v["Credentials"][k].as_str().unwrap().to_string());
            }
        }
        s.record(format!("cc-aws-{hook} after"), &out, hook != "export");
    }
    for args in [&["status"][..], &["doctor", "--offline"], &["daemon", "--once"]] {
        let mut cmd = s.command(keepalive_bin());
        cmd.args(args);
        let out = test_support::run(&mut cmd, b"", Duration::from_secs(60));
        s.record(format!("cc-aws-keepalive {}", args.join(" ")), &out, true);
    }
    wait_for_detached(s.home.path(), Duration::from_secs(60));
    assert_eq!(s.mock.assume_role_count(MFA_ROLE), 1, "the hooks and the daemon never assume an MFA role");

    let leaks = s.scan();
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n\n"));
    let with_code: Vec<&str> = s.texts.iter().filter(|(_, t)| code_appears(t, CODE)).map(|(w, _)| w.as_str()).collect();
    assert!(with_code.is_empty(), "the MFA code appears in {with_code:?}");
    s.check_modes();
}
