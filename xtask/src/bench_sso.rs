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
                      sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n";
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

    /// The warm export: valid token, role credentials cached by a first call.
    pub fn warm_scenario(&self, ws: &Workspace) -> Result<Scenario> {
        let export = ws.release_dir().join(crate::dist::exe("cc-aws-export"));
        let out = self.command(&export).output().map_err(|e| format!("{}: {e}", export.display()))?;
        if !out.status.success() {
            return Err(format!("SSO warm-up export failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Scenario {
            name: "cc-aws-export (SSO warm)".into(),
            program: export,
            args: Vec::new(),
            stdin: Vec::new(),
            env: self.env.clone(),
        })
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

pub fn print_cold(results: &[(String, Samples)]) {
    let median = |s: &Samples| {
        let mut w = s.wall.clone();
        w.sort();
        w.get(w.len() / 2).copied().unwrap_or(Duration::ZERO)
    };
    let ours = results.first().map(|(_, s)| median(s)).unwrap_or(Duration::ZERO);
    println!();
    println!("silent SSO refresh + role credentials (expired access token, empty role cache, loopback mock):");
    println!("{:<26} {:>6} {:>10} {:>14} {:>9}", "tool", "runs", "median ms", "vs ours", "failures");
    for (name, s) in results {
        let m = median(s);
        let ratio =
            if ours.is_zero() { "n/a".to_string() } else { format!("{:.1}x", m.as_secs_f64() / ours.as_secs_f64()) };
        println!("{name:<26} {:>6} {:>10.1} {ratio:>14} {:>9}", s.wall.len(), m.as_secs_f64() * 1000.0, s.failures);
    }
}
