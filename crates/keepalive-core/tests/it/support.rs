//! Shared fixture: a temp HOME with an SSO config, a mock AWS, token caches
//! written the way the AWS CLI writes them, and a `Ctx` pointing at all of it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use keepalive_core::config::Config;
use keepalive_core::ctx::Ctx;
use keepalive_core::env::Env;
use keepalive_core::expiry::to_iso8601;
use keepalive_core::providers::sso::SsoProfile;
use keepalive_core::providers::sso::role_cache;
use serde_json::{Value, json};
use test_support::{MockAws, SsoConfig, TestHome, run};
use time::{Duration, OffsetDateTime};

/// The corp session with a profile `dev` in eu-west-1.
pub const CORP: SsoConfig = SsoConfig { region: "eu-west-1", ..SsoConfig::CORP };

/// `~/.aws/config`: [`CORP`] and a legacy (start URL) profile.
pub fn aws_config() -> String {
    format!(
        "{}\n[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n\
         sso_account_id = 444455556666\nsso_role_name = ReadOnly\n",
        CORP.config_text()
    )
}

pub const CLIENT_ID: &str = "client-id-for-tests";

static N: AtomicU32 = AtomicU32::new(0);

/// Secrets are unique per fixture and start with distinctive prefixes, so
/// `assert_no_secret` (which also checks the first 8 characters) means something.
pub struct Secrets {
    pub access_token: String,
    pub refresh_token: String,
    pub client_secret: String,
}

pub struct Fixture {
    pub home: TestHome,
    pub mock: MockAws,
    pub secrets: Secrets,
}

impl Fixture {
    /// A home with [`aws_config`] and a mock that accepts our client and the
    /// initial refresh token.
    pub fn new() -> Fixture {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let secrets = Secrets {
            access_token: format!("ATOKEN{n}x{pid}-initial-access-token"),
            refresh_token: format!("RTOKEN{n}x{pid}-initial-refresh-token"),
            client_secret: format!("CSECRET{n}x{pid}-client-secret"),
        };
        let home = TestHome::new();
        home.write(".aws/config", aws_config());
        let mock = MockAws::start();
        mock.set_oidc_client(CLIENT_ID, &secrets.client_secret);
        mock.set_refresh_token(&secrets.refresh_token);
        mock.add_access_token(&secrets.access_token, true);
        Fixture { home, mock, secrets }
    }

    pub fn env(&self) -> Env {
        env_for(self.home.path(), &self.mock.url())
    }

    pub fn ctx(&self) -> Ctx {
        Ctx::new(self.env(), OffsetDateTime::now_utc())
    }

    pub fn profile(&self, name: &str) -> SsoProfile {
        SsoProfile::load(&self.ctx(), name).unwrap()
    }

    /// Path of the token cache for an sso-session name or legacy start URL.
    pub fn token_path(&self, key_source: &str) -> PathBuf {
        self.home.join(test_support::sso::token_rel(key_source))
    }

    /// A token as `aws sso login` leaves it, expiring in `expires_in`, with a
    /// field we do not know about that must survive our rewrite.
    pub fn token_json(&self, start_url: &str, expires_in: Duration) -> Value {
        let now = OffsetDateTime::now_utc();
        let mut t = SsoConfig { start_url, ..CORP }.token_json(
            (CLIENT_ID, &self.secrets.client_secret),
            &self.secrets.access_token,
            Some(&self.secrets.refresh_token),
            &to_iso8601(now + expires_in),
            &to_iso8601(now + Duration::days(80)),
        );
        t["someFutureField"] = json!({"kept": [1, 2, 3]});
        t
    }

    pub fn write_token(&self, key_source: &str, token: &Value) -> PathBuf {
        let p = self.token_path(key_source);
        self.home.write(p.strip_prefix(self.home.path()).unwrap(), serde_json::to_string_pretty(token).unwrap());
        p
    }

    /// The `corp` session's token, expiring in `expires_in`.
    pub fn write_corp_token(&self, expires_in: Duration) -> PathBuf {
        let t = self.token_json(CORP.start_url, expires_in);
        self.write_token(CORP.session, &t)
    }

    pub fn read_json(&self, path: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    pub fn role_cache_path(&self, profile: &SsoProfile) -> PathBuf {
        let session = match &profile.session {
            Some(s) => role_cache::SessionRef::Session(s),
            None => role_cache::SessionRef::StartUrl(&profile.start_url),
        };
        role_cache::path(&self.env(), &role_cache::cache_key(&profile.account_id, &profile.role_name, session)).unwrap()
    }

    /// Every secret this fixture and its mock know of.
    pub fn all_secrets(&self) -> Vec<String> {
        let mut v = vec![
            self.secrets.access_token.clone(),
            self.secrets.refresh_token.clone(),
            self.secrets.client_secret.clone(),
        ];
        v.extend(self.mock.issued_access_tokens());
        v.extend(self.mock.issued_refresh_tokens());
        v
    }

    pub fn assert_no_secret(&self, text: &str, extra: &[&str]) {
        let all = self.all_secrets();
        let mut refs: Vec<&str> = all.iter().map(String::as_str).collect();
        refs.extend_from_slice(extra);
        test_support::assert_no_secret(text, &refs);
    }
}

/// The environment a hook would see: HOME and XDG dirs in the temp home,
/// both SSO endpoints at the mock.
pub fn env_for(home: &Path, mock_url: &str) -> Env {
    let cfg = home.join(".aws/config");
    let state = home.join(".local/state");
    Env::from_pairs([
        ("HOME", home.to_str().unwrap()),
        ("AWS_CONFIG_FILE", cfg.to_str().unwrap()),
        ("XDG_STATE_HOME", state.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_SSO_OIDC", mock_url),
        ("AWS_ENDPOINT_URL_SSO", mock_url),
    ])
}

pub fn config() -> Config {
    Config::default()
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the only form botocore writes.
pub fn is_botocore_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Runs `python3 -c` with `args` (the script first) in `home`, botocore reading its AWS files,
/// calling `mock` for each `AWS_ENDPOINT_URL_*` variable in `endpoints` and never instance
/// metadata; returns stdout. Fails the test unless botocore imports and the script succeeds.
pub fn botocore(home: &TestHome, mock: &MockAws, endpoints: &[&str], args: &[&str]) -> String {
    let mut check = home.command("python3");
    check.args(["-c", "import botocore"]);
    let out = run(&mut check, b"", StdDuration::from_secs(60));
    assert!(
        out.success(),
        "python3 with botocore is required for these tests: pip install botocore\n{}",
        out.describe()
    );
    let mut cmd = home.command("python3");
    cmd.arg("-c")
        .args(args)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join(".aws/credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for var in endpoints {
        cmd.env(var, mock.url());
    }
    let out = run(&mut cmd, b"", StdDuration::from_secs(60));
    assert!(
        out.success(),
        "botocore script failed (`aws login` profiles need botocore[crt]):\n{}\n{}",
        out.describe(),
        mock.dump()
    );
    out.stdout
}

/// Lowercase hex SHA-1, as the Python scripts print digests of secrets.
pub fn sha1(s: &str) -> String {
    sha1_smol::Sha1::from(s).digest().to_string()
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
