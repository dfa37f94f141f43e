//! Secret audit: every command path — the four hooks and the `cc-aws-keepalive`
//! commands — on an SSO, a credentials-file and a credential_process profile,
//! with CreateToken or the SSO portal failing each way (invalid_grant, 500,
//! malformed JSON, 401). Recognisable fake secrets sit in every file that holds
//! one (token cache, credentials file, credential_process output, Claude Code's
//! settings.json `env`); the mock issues its own. No output other than
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
const FIXED: [&str; 10] = [
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
];

const CLIENT_ID: &str = "audit-client-id";

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
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Sso => "dev",
            Profile::File => "filecreds",
            Profile::Process => "proc",
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
            format!("{}\n[profile proc]\ncredential_process = sh {}\n", SsoConfig::CORP.config_text(), cp.display()),
        );
        // Inside the autoLoginMinutes window: check and export start the login.
        home.write(
            ".aws/credentials",
            format!(
                "[filecreds]\naws_access_key_id = AKIAFILEAUDIT\naws_secret_access_key = {FILE_SECRET}\n\
                 aws_session_token = {FILE_TOKEN}\nx_security_token_expires = {}\n",
                rfc3339(now + 8 * 60)
            ),
        );
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
        Scenario { label, home, mock, texts: Vec::new(), exported: Vec::new() }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = self.home.command(program);
        cmd.env("AWS_ENDPOINT_URL_SSO_OIDC", self.mock.url())
            .env("AWS_ENDPOINT_URL_SSO", self.mock.url())
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

    fn run_all(&mut self) {
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
        for args in CLI {
            let mut cmd = self.command(keepalive_bin());
            cmd.args(args);
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
        for f in test_support::files_below(&self.home.join(".aws/cli/cache")) {
            if let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&f).unwrap_or_default()) {
                for k in ["SecretAccessKey", "SessionToken"] {
                    if let Some(s) = v["Credentials"][k].as_str() {
                        all.push(s.to_string());
                    }
                }
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
                    s.run_all();
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
