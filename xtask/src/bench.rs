//! `cargo xtask bench`: start-up cost of each hook binary against `node -e 0`, the floor of
//! any Node.js-based hook.
//!
//! Wall time is measured around spawn → exit of the binary itself, stdin fed and stdout
//! discarded. Max RSS comes from separate runs under `/usr/bin/time -f %M` (GNU time, which
//! reads the child's rusage from wait4): timing those runs would add `time`'s own fork/exec,
//! and `/proc/<pid>/status` sampling misses processes that live a millisecond. Both kinds of
//! run are interleaved across binaries so drift (thermal, other load) hits all alike.
//!
//! Structure for more scenarios: a [`Scenario`] is a program, arguments, stdin and env; a
//! fixture builds a temp HOME and returns scenarios; [`measure`] runs any list. An SSO bench
//! (mock server from `test-support`) adds its own fixture and scenarios; [`ScaleFixture`] is
//! `cc-aws-keepalive status --json` over 1000 sessions and profiles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keepalive_core::ctx::Ctx;

use crate::util::{self, Result, TempDir, Workspace};

pub const DEFAULT_RUNS: usize = 50;
const WARMUP: usize = 3;
const TIME_BIN: &str = "/usr/bin/time";

#[derive(Debug, Clone)]
pub struct Scenario {
    /// Row label.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
    /// The whole environment (the child's is cleared first), so runs are hermetic.
    pub env: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Samples {
    pub wall: Vec<Duration>,
    pub rss_kib: Vec<u64>,
    pub failures: usize,
}

pub fn bench(args: &[String]) -> Result {
    let runs = parse_runs(args)?;
    let ws = Workspace::load()?;
    crate::dist::build_release(&ws)?;
    let fixture = FileProfileFixture::new()?;
    let mut scenarios = fixture.scenarios(&ws);
    let sso = crate::bench_sso::SsoFixture::new()?;
    scenarios.extend(sso.warm_scenarios(&ws)?);
    let scale = ScaleFixture::new(SCALE_SESSIONS)?;
    scenarios.push(scale.scenario(&ws));
    let node = util::which("node", std::env::var_os("PATH").as_deref())
        .ok_or("node is not on PATH; the benchmark compares against `node -e 0`")?;
    scenarios.push(Scenario {
        name: "node -e 0".into(),
        program: node,
        args: vec!["-e".into(), "0".into()],
        stdin: Vec::new(),
        env: fixture.env.clone(),
    });
    let time_bin = Path::new(TIME_BIN);
    let rss = util::is_executable(time_bin).then_some(time_bin);
    if rss.is_none() {
        eprintln!("note: {TIME_BIN} not found, max RSS not measured (Debian/Ubuntu: apt-get install time)");
    }
    eprintln!("bench: {runs} runs per binary (+{WARMUP} warm-up), interleaved");
    let results = measure(&scenarios, runs, rss)?;
    print_table(&results);
    let cold_runs = (runs / 3).max(5);
    eprintln!("bench: SSO cold paths, {cold_runs} runs each");
    crate::bench_sso::print_cold(
        "silent SSO refresh + role credentials (expired access token, empty role cache, loopback mock)",
        &crate::bench_sso::cold(&sso, &ws, cold_runs)?,
    );
    crate::bench_sso::print_cold(
        "role chain bedrock ← role ← dev (sso-session): CreateToken + GetRoleCredentials + AssumeRole, loopback mock",
        &crate::bench_sso::cold_chain(&sso, &ws, cold_runs)?,
    );
    println!();
    println!("release binaries ({}):", ws.release_dir().display());
    let mut total = 0;
    for bin in &ws.bins {
        let p = ws.release_dir().join(crate::dist::exe(&bin.name));
        let size = std::fs::metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?.len();
        total += size;
        println!("  {:<20} {:>7.0} KiB", bin.name, size as f64 / 1024.0);
    }
    println!(
        "  {:<20} {:>7.2} MiB (budget {} MiB)",
        "all five",
        total as f64 / (1024.0 * 1024.0),
        crate::dist::SIZE_BUDGET / (1024 * 1024)
    );
    println!(
        "\nwall: spawn to exit, stdout discarded; RSS: {}",
        if rss.is_some() { "max resident set from `/usr/bin/time -f %M` (wait4 rusage)" } else { "not measured" }
    );
    Ok(())
}

fn parse_runs(args: &[String]) -> Result<usize> {
    match args {
        [] => Ok(DEFAULT_RUNS),
        [flag, n] if flag == "--runs" => {
            n.parse().ok().filter(|&n| n >= 5).ok_or(format!("--runs {n}: need a number ≥ 5"))
        }
        _ => Err(format!("bench: unexpected arguments {args:?} (usage: cargo xtask bench [--runs N])")),
    }
}

/// PATH in the benchmarks' cleared environment: the system directories only.
const BENCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A temp HOME with a credentials-file profile valid for four more hours, as saml2aws and
/// similar tools write it.
pub struct FileProfileFixture {
    home: TempDir,
    pub env: Vec<(String, String)>,
}

impl FileProfileFixture {
    pub fn new() -> Result<FileProfileFixture> {
        let home = TempDir::new("bench-home")?;
        let h = home.path();
        let expires = keepalive_core::expiry::to_iso8601(Ctx::from_process().now + Duration::from_secs(4 * 3600));
        util::write(
            &h.join(".aws/credentials"),
            format!(
                "[default]\naws_access_key_id = ASIABENCHEXAMPLE0001\n\
                 aws_secret_access_key = benchSecretKeyExample00000000000000000000\n\
                 aws_session_token = {}\nx_security_token_expires = {expires}\n",
                "IQoJb3JpZ2luX2VjEBenchToken".repeat(20)
            ),
        )?;
        util::write(&h.join(".aws/config"), "[default]\nregion = us-east-1\n")?;
        let mut env = util::temp_home_vars(h);
        env.push(("PATH".to_string(), BENCH_PATH.to_string()));
        Ok(FileProfileFixture { home, env })
    }

    pub fn scenarios(&self, ws: &Workspace) -> Vec<Scenario> {
        let cwd = self.home.path().join("project").to_string_lossy().into_owned();
        let prompt = serde_json::json!({
            "session_id": "0b6c4a4e-5d0e-4a51-9a0f-6b1f3c1e2d7a",
            "transcript_path": format!("{}/.claude/projects/p/0b6c4a4e.jsonl", self.home.path().display()),
            "cwd": cwd,
            "prompt_id": "c1d2e3f4",
            "permission_mode": "default",
            "hook_event_name": "UserPromptSubmit",
            "prompt": "Refactor the config loader to report unknown keys once."
        });
        let status = serde_json::json!({
            "session_id": "0b6c4a4e-5d0e-4a51-9a0f-6b1f3c1e2d7a",
            "transcript_path": format!("{}/.claude/projects/p/0b6c4a4e.jsonl", self.home.path().display()),
            "cwd": cwd,
            "model": {"id": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "display_name": "Sonnet 4.5"},
            "workspace": {"current_dir": cwd, "project_dir": cwd},
            "version": "2.1.330",
            "output_style": {"name": "default"},
            "cost": {"total_cost_usd": 0.42, "total_duration_ms": 912345, "total_api_duration_ms": 234567,
                     "total_lines_added": 120, "total_lines_removed": 31},
            "context_window": {"total_input_tokens": 48210, "total_output_tokens": 5120, "context_window_size": 200000}
        });
        let bin = |name: &str| ws.release_dir().join(crate::dist::exe(name));
        let hook = |name: &str, stdin: Vec<u8>| Scenario {
            name: name.to_string(),
            program: bin(name),
            args: Vec::new(),
            stdin,
            env: self.env.clone(),
        };
        vec![
            hook("cc-aws-export", Vec::new()),
            hook("cc-aws-refresh", Vec::new()),
            hook("cc-aws-check", prompt.to_string().into_bytes()),
            hook("cc-aws-statusline", status.to_string().into_bytes()),
        ]
    }
}

/// Sessions (and profiles) in the scale scenario.
pub const SCALE_SESSIONS: usize = 1000;

/// A temp HOME with `n` `[sso-session]`s, a profile on each, and a cached token for each
/// (refreshable, valid for an hour): what `status` reads for a large organisation.
pub struct ScaleFixture {
    _home: TempDir,
    env: Vec<(String, String)>,
    n: usize,
}

impl ScaleFixture {
    pub fn new(n: usize) -> Result<ScaleFixture> {
        let home = TempDir::new("bench-scale")?;
        let h = home.path();
        let now = Ctx::from_process().now;
        let iso = |secs: u64| keepalive_core::expiry::to_iso8601(now + Duration::from_secs(secs));
        let (expires, registration) = (iso(3600), iso(90 * 24 * 3600));
        let mut config = String::new();
        for i in 0..n {
            let url = format!("https://bench{i}.awsapps.com/start");
            config.push_str(&format!(
                "[sso-session bench{i}]\nsso_start_url = {url}\nsso_region = eu-west-1\n\
                 sso_registration_scopes = sso:account:access\n\n[profile bench{i}]\nsso_session = bench{i}\n\
                 sso_account_id = 111122223333\nsso_role_name = Admin\nregion = eu-west-1\n\n"
            ));
            let token = serde_json::json!({
                "startUrl": url, "region": "eu-west-1", "accessToken": "aoaBENCHaccessTOKEN",
                "expiresAt": expires, "clientId": "bench-client", "clientSecret": "benchClientSecret",
                "registrationExpiresAt": registration, "refreshToken": "benchRefreshToken"
            });
            util::write(&h.join(test_support::sso::token_rel(&format!("bench{i}"))), token.to_string())?;
        }
        util::write(&h.join(".aws/config"), config)?;
        let mut env = util::temp_home_vars(h);
        env.extend([
            ("AWS_PROFILE".to_string(), "bench0".to_string()),
            // Nothing may leave the machine (status reads caches only anyway).
            ("AWS_ENDPOINT_URL".to_string(), "http://127.0.0.1:9".to_string()),
            ("PATH".to_string(), BENCH_PATH.to_string()),
        ]);
        Ok(ScaleFixture { _home: home, env, n })
    }

    /// `cc-aws-keepalive status --json` over all of it.
    pub fn scenario(&self, ws: &Workspace) -> Scenario {
        Scenario {
            name: format!("status --json, {} sess.", self.n),
            program: ws.release_dir().join(crate::dist::exe("cc-aws-keepalive")),
            args: vec!["status".into(), "--json".into()],
            stdin: Vec::new(),
            env: self.env.clone(),
        }
    }
}

fn command(s: &Scenario) -> Command {
    let mut cmd = Command::new(&s.program);
    cmd.args(&s.args).env_clear().envs(s.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs `cmd`, feeding `stdin`; returns the wall time and whether it exited 0.
fn run_once(mut cmd: Command, stdin: &[u8]) -> Result<(Duration, bool)> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if let Some(mut pipe) = child.stdin.take() {
        // A binary that exits without reading stdin closes the pipe: not an error here.
        let _ = pipe.write_all(stdin);
    }
    let status = child.wait().map_err(|e| format!("waiting for {:?}: {e}", cmd.get_program()))?;
    Ok((start.elapsed(), status.success()))
}

fn rss_once(s: &Scenario, time_bin: &Path, out_file: &Path) -> Result<u64> {
    let mut cmd = Command::new(time_bin);
    cmd.arg("-f").arg("%M").arg("-o").arg(out_file).arg(&s.program).args(&s.args);
    cmd.env_clear().envs(s.env.iter().map(|(k, v)| (k, v)));
    run_once(cmd, &s.stdin)?;
    let text = std::fs::read_to_string(out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    // GNU time prepends "Command exited with non-zero status N" lines; the number is last.
    text.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("cannot read max RSS from {TIME_BIN} output {text:?}"))
}

/// Runs every scenario `runs` times (after a warm-up), round-robin.
pub fn measure(scenarios: &[Scenario], runs: usize, rss: Option<&Path>) -> Result<Vec<(String, Samples)>> {
    let tmp = TempDir::new("bench-rss")?;
    let out_file = tmp.path().join("rss");
    let mut results: Vec<(String, Samples)> = scenarios.iter().map(|s| (s.name.clone(), Samples::default())).collect();
    for i in 0..WARMUP + runs {
        for (s, (_, samples)) in scenarios.iter().zip(results.iter_mut()) {
            let (wall, ok) = run_once(command(s), &s.stdin)?;
            if i < WARMUP {
                continue;
            }
            samples.wall.push(wall);
            samples.failures += usize::from(!ok);
            if let Some(t) = rss {
                samples.rss_kib.push(rss_once(s, t, &out_file)?);
            }
        }
    }
    Ok(results)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_table(results: &[(String, Samples)]) {
    let median_of = |s: &Samples| {
        let mut w = s.wall.clone();
        w.sort();
        (percentile(&w, 0.5), percentile(&w, 0.9))
    };
    let node_median = results.iter().find(|(n, _)| n.starts_with("node")).map(|(_, s)| median_of(s).0);
    println!();
    println!(
        "{:<26} {:>6} {:>10} {:>10} {:>12} {:>9} {:>9}",
        "binary", "runs", "median ms", "p90 ms", "max RSS MiB", "vs node", "failures"
    );
    for (name, s) in results {
        let (median, p90) = median_of(s);
        let rss = s.rss_kib.iter().max().map_or("n/a".to_string(), |k| format!("{:.1}", *k as f64 / 1024.0));
        let ratio = node_median
            .filter(|n| !n.is_zero())
            .map_or("n/a".to_string(), |n| format!("{:.3}x", median.as_secs_f64() / n.as_secs_f64()));
        println!(
            "{name:<26} {:>6} {:>10.2} {:>10.2} {rss:>12} {ratio:>9} {:>9}",
            s.wall.len(),
            ms(median),
            ms(p90),
            s.failures
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(5));
        assert_eq!(percentile(&v, 0.9), Duration::from_millis(9));
        assert_eq!(percentile(&v[..1], 0.9), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn runs_argument() {
        assert_eq!(parse_runs(&[]).unwrap(), DEFAULT_RUNS);
        assert_eq!(parse_runs(&["--runs".into(), "80".into()]).unwrap(), 80);
        assert!(parse_runs(&["--runs".into(), "2".into()]).is_err());
        assert!(parse_runs(&["80".into()]).is_err());
    }
}
