//! The SSO part of `cargo xtask bench`: our warm export path, and a full silent refresh
//! (CreateToken + GetRoleCredentials) compared in the same run with the two ways people do it
//! today — the AWS CLI (`aws sso-oidc create-token` + `aws sso get-role-credentials`, what the
//! bash daemon runs) and botocore's own SSO provider — all against the loopback mock.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use test_support::{MockAws, Route};

use crate::bench::{Samples, Scenario};
use crate::util::{self, Result, TempDir, Workspace};

const CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = BedrockUser\n\
                      region = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
                      sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n\
                      [profile bedrock]\nrole_arn = arn:aws:iam::444455556666:role/Bedrock\nsource_profile = dev\n\
                      region = us-east-1\n";
/// The `aws login` session the login scenario uses.
const LOGIN_SESSION: &str = "arn:aws:iam::111122223333:user/bench";
const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-client-secret-value";
const REFRESH: &str = "bench-refresh-token-value";
const ACCESS: &str = "bench-access-token-value";

/// A temp HOME with an SSO profile and a mock that accepts its client and refresh token.
pub struct SsoFixture {
    home: TempDir,
    pub mock: MockAws,
    pub env: Vec<(String, String)>,
}

impl SsoFixture {
    pub fn new() -> Result<SsoFixture> {
        let home = TempDir::new("bench-sso")?;
        let h = home.path();
        util::write(&h.join(".aws/config"), CONFIG)?;
        util::write(&h.join(".config/cc-aws-keepalive/config.json"), r#"{"profile":"dev"}"#)?;
        let mock = MockAws::try_start().map_err(|e| format!("cannot start the mock AWS server: {e}"))?;
        mock.set_oidc_client(CLIENT_ID, CLIENT_SECRET);
        mock.set_refresh_token(REFRESH);
        // Every tool below reuses the same refresh token.
        mock.set_rotate_refresh_token(false);
        mock.add_access_token(ACCESS, true);
        let s = |rel: &str| h.join(rel).to_string_lossy().into_owned();
        let env = vec![
            ("HOME".to_string(), h.to_string_lossy().into_owned()),
            ("XDG_CONFIG_HOME".to_string(), s(".config")),
            ("XDG_STATE_HOME".to_string(), s(".local/state")),
            ("AWS_CONFIG_FILE".to_string(), s(".aws/config")),
            ("AWS_ENDPOINT_URL_SSO_OIDC".to_string(), mock.url()),
            ("AWS_ENDPOINT_URL_SSO".to_string(), mock.url()),
            ("AWS_ENDPOINT_URL_STS".to_string(), mock.url()),
            ("AWS_ENDPOINT_URL_SIGNIN".to_string(), mock.url()),
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
        ];
        let f = SsoFixture { home, mock, env };
        f.write_token(8 * 3600)?;
        Ok(f)
    }

    fn token_path(&self) -> PathBuf {
        self.home
            .path()
            .join(format!(".aws/sso/cache/{}.json", keepalive_core::providers::sso::cache::cache_key("corp")))
    }

    /// The token cache as `aws sso login` leaves it, the access token expiring in `secs`.
    fn write_token(&self, secs: i64) -> Result {
        let now = keepalive_core::ctx::Ctx::from_process().now;
        let at = |s: i64| keepalive_core::expiry::to_iso8601(now + time::Duration::seconds(s));
        let token = json!({
            "startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": ACCESS,
            "expiresAt": at(secs), "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "registrationExpiresAt": at(80 * 86400), "refreshToken": REFRESH,
        });
        util::write(&self.token_path(), token.to_string())
    }

    /// Makes the next call pay for everything: expired access token, no cached role credentials.
    fn make_cold(&self) -> Result {
        self.write_token(-60)?;
        let cache = self.home.path().join(".aws/cli/cache");
        if cache.exists() {
            std::fs::remove_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        }
        Ok(())
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).current_dir(self.home.path());
        cmd
    }

    /// The warm exports: valid token, role credentials cached by a first call; the same for the
    /// role chain `bedrock ← role ← dev` and for an `aws login` session with a valid key.
    pub fn warm_scenarios(&self, ws: &Workspace) -> Result<Vec<Scenario>> {
        let export = ws.release_dir().join(crate::dist::exe("cc-aws-export"));
        let login_dir = self.home.path().join(".aws/login/cache");
        let expires = test_support::unix_now() + 12 * 3600;
        let login = self.mock.write_login_session(&login_dir, LOGIN_SESSION, expires);
        let config = format!("{CONFIG}\n{}", login.config_text("ai", "us-east-1"));
        util::write(&self.home.path().join(".aws/config"), config)?;
        let mut out = Vec::new();
        for (name, profile) in [
            ("cc-aws-export (SSO warm)", "dev"),
            ("cc-aws-export (role chain warm)", "bedrock"),
            ("cc-aws-export (aws login warm)", "ai"),
        ] {
            let mut env = self.env.clone();
            env.push(("CC_KEEPALIVE_PROFILE".to_string(), profile.to_string()));
            let run = self.command(&export).env("CC_KEEPALIVE_PROFILE", profile).output();
            let run = run.map_err(|e| format!("{}: {e}", export.display()))?;
            if !run.status.success() {
                return Err(format!("{name}: warm-up export failed: {}", String::from_utf8_lossy(&run.stderr)));
            }
            out.push(Scenario { name: name.into(), program: export.clone(), args: Vec::new(), stdin: Vec::new(), env });
        }
        Ok(out)
    }
}

/// The three ways to go from an expired access token to role credentials.
fn cold_commands(f: &SsoFixture, ws: &Workspace) -> Result<Vec<(String, Command)>> {
    let path = std::env::var_os("PATH");
    let mut out = vec![(
        "cc-aws-export (SSO cold)".to_string(),
        f.command(ws.release_dir().join(crate::dist::exe("cc-aws-export"))),
    )];
    if util::which("aws", path.as_deref()).is_some() {
        let script = format!(
            "T=$(aws sso-oidc create-token --region us-east-1 --client-id {CLIENT_ID} --client-secret {CLIENT_SECRET} \
             --grant-type refresh_token --refresh-token {REFRESH} --query accessToken --output text) && \
             aws sso get-role-credentials --region us-east-1 --role-name BedrockUser --account-id 111122223333 \
             --access-token \"$T\" >/dev/null"
        );
        let mut cmd = f.command("sh");
        cmd.arg("-c").arg(script);
        out.push(("AWS CLI (2 commands)".to_string(), cmd));
    } else {
        eprintln!("note: `aws` not on PATH; the AWS CLI comparison is skipped (pip install awscli)");
    }
    if util::which("python3", path.as_deref()).is_some() {
        let mut cmd = f.command("python3");
        cmd.arg("-c").arg(
            "import botocore.session as s\nc = s.Session(profile='dev').get_credentials().get_frozen_credentials()\nassert c.access_key",
        );
        out.push(("botocore SSO provider".to_string(), cmd));
    }
    Ok(out)
}

/// The cold role chain, ours and botocore's: expired SSO token, no cached credentials, so
/// CreateToken, GetRoleCredentials and AssumeRole each run once.
fn cold_chain_commands(f: &SsoFixture, ws: &Workspace) -> Vec<(String, Command)> {
    let mut ours = f.command(ws.release_dir().join(crate::dist::exe("cc-aws-export")));
    ours.env("CC_KEEPALIVE_PROFILE", "bedrock");
    let mut out = vec![("cc-aws-export (chain cold)".to_string(), ours)];
    if util::which("python3", std::env::var_os("PATH").as_deref()).is_some() {
        let mut cmd = f.command("python3");
        cmd.arg("-c").arg(
            "import botocore.session as s\nc = s.Session(profile='bedrock').get_credentials().get_frozen_credentials()\nassert c.access_key",
        );
        out.push(("botocore (chain cold)".to_string(), cmd));
    }
    out
}

/// Runs each cold role chain `runs` times, round-robin, checking that each made one
/// CreateToken and one AssumeRole.
pub fn cold_chain(f: &SsoFixture, ws: &Workspace, runs: usize) -> Result<Vec<(String, Samples)>> {
    let mut commands = cold_chain_commands(f, ws);
    let mut results: Vec<(String, Samples)> = commands.iter().map(|(n, _)| (n.clone(), Samples::default())).collect();
    for _ in 0..runs {
        for ((name, cmd), (_, samples)) in commands.iter_mut().zip(results.iter_mut()) {
            f.make_cold()?;
            let (tokens, sts) = (f.mock.count(Route::Token), f.mock.count(Route::Sts));
            let start = Instant::now();
            let out = cmd.output().map_err(|e| format!("{name}: {e}"))?;
            samples.wall.push(start.elapsed());
            let whole = f.mock.count(Route::Token) == tokens + 1 && f.mock.count(Route::Sts) == sts + 1;
            if !out.status.success() || !whole {
                samples.failures += 1;
                if samples.failures == 1 {
                    eprintln!(
                        "{name}: failed (one CreateToken and one AssumeRole: {whole}): {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
    }
    Ok(results)
}

/// Runs each cold path `runs` times, round-robin, from a cold cache each time, and checks
/// that every run really made one CreateToken call.
pub fn cold(f: &SsoFixture, ws: &Workspace, runs: usize) -> Result<Vec<(String, Samples)>> {
    let mut commands = cold_commands(f, ws)?;
    let mut results: Vec<(String, Samples)> = commands.iter().map(|(n, _)| (n.clone(), Samples::default())).collect();
    for _ in 0..runs {
        for ((name, cmd), (_, samples)) in commands.iter_mut().zip(results.iter_mut()) {
            f.make_cold()?;
            let before = f.mock.count(Route::Token);
            let start = Instant::now();
            let out = cmd.output().map_err(|e| format!("{name}: {e}"))?;
            samples.wall.push(start.elapsed());
            let refreshed = f.mock.count(Route::Token) == before + 1;
            if !out.status.success() || !refreshed {
                samples.failures += 1;
                if samples.failures == 1 {
                    eprintln!(
                        "{name}: failed (CreateToken made: {refreshed}): {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
    }
    Ok(results)
}

pub fn print_cold(title: &str, results: &[(String, Samples)]) {
    let median = |s: &Samples| {
        let mut w = s.wall.clone();
        w.sort();
        w.get(w.len() / 2).copied().unwrap_or(Duration::ZERO)
    };
    let ours = results.first().map(|(_, s)| median(s)).unwrap_or(Duration::ZERO);
    println!();
    println!("{title}:");
    println!("{:<26} {:>6} {:>10} {:>14} {:>9}", "tool", "runs", "median ms", "vs ours", "failures");
    for (name, s) in results {
        let m = median(s);
        let ratio =
            if ours.is_zero() { "n/a".to_string() } else { format!("{:.1}x", m.as_secs_f64() / ours.as_secs_f64()) };
        println!("{name:<26} {:>6} {:>10.1} {ratio:>14} {:>9}", s.wall.len(), m.as_secs_f64() * 1000.0, s.failures);
    }
}
