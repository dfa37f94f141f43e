//! `cargo xtask ci`: formatting, lints, tests, then the end-to-end phase against the pinned
//! Claude Code: plugin validation, the ignored e2e tests, and an install into a temp HOME.
//! Phases run in order and stop at the first failure. Nothing here touches the real HOME
//! except the download cache of Claude Code itself.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use keepalive_core::claude_settings as cs;
use keepalive_core::ctx::Ctx;
use keepalive_core::env::Env;
use serde_json::Value;

use crate::install::{self, InstallOpts, Layout};
use crate::plugin::{MARKETPLACE_NAME, PLUGIN_NAME};
use crate::util::{self, Result, TempDir, Workspace};

/// The Claude Code release the e2e phase runs against (REFERENCE.md was checked with it).
pub const CLAUDE_CODE_VERSION: &str = "2.1.332";
const CLAUDE_CODE_PACKAGE: &str = "@anthropic-ai/claude-code";
/// The e2e test target `ci` runs with `--ignored`.
const E2E_TEST: &str = "crates/cc-aws-hooks/tests/e2e.rs";

type Phase = (&'static str, fn(&mut State) -> Result);

/// What later phases need from earlier ones.
#[derive(Default)]
struct State {
    ws: Option<Workspace>,
    claude: Option<PathBuf>,
    dist: Option<PathBuf>,
}

/// Runs every phase, or only those named in `only` (for working on one; a phase gets what it
/// needs from earlier ones itself when they were not run).
pub fn ci(only: &[String]) -> Result {
    let phases: &[Phase] = &[
        ("fmt", |_| util::run(cargo(&["fmt", "--all", "--", "--check"]))),
        ("clippy", |_| util::run(cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))),
        // Before the tests: the botocore compatibility tests need botocore.
        ("e2e-deps", e2e_deps),
        ("test", |_| util::run(cargo(&["test", "--workspace"]))),
        ("dist+validate", dist_and_validate),
        ("e2e", e2e_tests),
        ("install-smoke", install_smoke),
        ("fuzz-smoke", fuzz_smoke),
    ];
    if let Some(unknown) = only.iter().find(|o| !phases.iter().any(|(n, _)| n == o)) {
        let names: Vec<&str> = phases.iter().map(|(n, _)| *n).collect();
        return Err(format!("ci: no phase {unknown:?}; phases: {}", names.join(", ")));
    }
    let mut state = State::default();
    let mut summary = Vec::new();
    let mut failure = None;
    for (name, phase) in phases {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        if failure.is_some() {
            summary.push(format!("ci: {name:<14} skipped"));
            continue;
        }
        eprintln!("\n=== ci: {name}");
        let start = Instant::now();
        let result = phase(&mut state);
        let secs = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => summary.push(format!("ci: {name:<14} ok ({secs:.1} s)")),
            Err(e) => {
                summary.push(format!("ci: {name:<14} FAILED ({secs:.1} s): {e}"));
                failure = Some(format!("ci failed in phase {name}: {e}"));
            }
        }
    }
    println!();
    for line in &summary {
        println!("{line}");
    }
    match failure {
        Some(f) => Err(f),
        None => {
            println!("ci: all phases passed");
            Ok(())
        }
    }
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = util::cargo();
    cmd.args(args);
    cmd
}

/// `$XDG_CACHE_HOME/cc-aws-keepalive/claude-code-<version>`, else under `~/.cache`.
pub fn claude_cache_dir() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => Env::from_process().home().ok_or("HOME is not set; cannot locate the cache directory")?.join(".cache"),
    };
    Ok(base.join("cc-aws-keepalive").join(format!("claude-code-{CLAUDE_CODE_VERSION}")))
}

/// npm's platform package holding the native binary, as listed in the package's
/// `optionalDependencies`.
fn platform_package() -> Result<String> {
    let os = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        other => return Err(format!("Claude Code has no native package for {other}")),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => return Err(format!("Claude Code has no native package for {other}")),
    };
    let musl = if cfg!(target_env = "musl") { "-musl" } else { "" };
    Ok(format!("claude-code-{os}-{arch}{musl}"))
}

/// The pinned Claude Code's native binary, installed with npm into the cache when missing.
pub fn ensure_claude() -> Result<PathBuf> {
    let dir = claude_cache_dir()?;
    let bin = dir.join("node_modules/@anthropic-ai").join(platform_package()?).join(if cfg!(windows) {
        "claude.exe"
    } else {
        "claude"
    });
    if util::is_executable(&bin) {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut npm = Command::new("npm");
    npm.current_dir(&dir).args([
        "install",
        "--no-audit",
        "--no-fund",
        "--save-exact",
        &format!("{CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION}"),
    ]);
    util::run(npm).map_err(|e| format!("{e}; is npm installed and the registry reachable?"))?;
    if util::is_executable(&bin) { Ok(bin) } else { Err(format!("npm finished but {} does not exist", bin.display())) }
}

fn e2e_deps(state: &mut State) -> Result {
    let claude = ensure_claude()?;
    println!("claude: {}", claude.display());
    // awscrt: botocore loads and refreshes `aws login` sessions only with it.
    let probe =
        || util::capture(python(&["-c", "import botocore, awscrt"]), Duration::from_secs(60)).is_ok_and(|o| o.ok());
    if !probe() {
        util::run(python(&["-m", "pip", "install", "botocore[crt]"]))?;
        if !probe() {
            return Err("python3 -c 'import botocore, awscrt' still fails after pip install".into());
        }
    }
    println!("botocore: importable (with awscrt)");
    state.claude = Some(claude);
    Ok(())
}

fn python(args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(args);
    cmd
}

fn claude(state: &mut State) -> Result<PathBuf> {
    if state.claude.is_none() {
        state.claude = Some(ensure_claude()?);
    }
    state.claude.clone().ok_or_else(|| "no Claude Code".to_string())
}

/// The workspace and the laid-out plugin, building it when the dist phase did not run.
fn dist(state: &mut State) -> Result<(Workspace, PathBuf)> {
    if let (Some(ws), Some(dist)) = (&state.ws, &state.dist) {
        return Ok((ws.clone(), dist.clone()));
    }
    let ws = Workspace::load()?;
    let dist = crate::dist::dist(&ws)?;
    state.ws = Some(ws.clone());
    state.dist = Some(dist.clone());
    Ok((ws, dist))
}

fn dist_and_validate(state: &mut State) -> Result {
    // Always rebuilt here: this phase is what proves the layout.
    state.dist = None;
    let (_, dist) = dist(state)?;
    validate(&claude(state)?, &dist)
}

/// `claude plugin validate --strict` in a temp HOME, on the directory (with both manifests
/// present it checks the marketplace and, through it, the hooks) and on plugin.json itself.
/// The JSON report must say success and list our hook.
pub fn validate(claude: &Path, dir: &Path) -> Result {
    let home = TempDir::new("validate-home")?;
    let env = temp_home_env(home.path());
    let targets = [dir.to_path_buf(), dir.join(".claude-plugin/plugin.json")];
    for target in targets {
        let t = target.to_string_lossy().into_owned();
        let human = util::capture(
            install::claude_command(claude, &env, &["plugin", "validate", "--strict", &t]),
            Duration::from_secs(120),
        )?;
        if !human.ok() {
            println!("{}", human.stdout.trim_end());
            return Err(format!("claude plugin validate --strict {t} failed: {}", human.stderr.trim()));
        }
        let json = util::capture(
            install::claude_command(claude, &env, &["plugin", "validate", "--strict", "--json", &t]),
            Duration::from_secs(120),
        )?;
        let report: Value =
            serde_json::from_str(&json.stdout).map_err(|e| format!("validate --json printed invalid JSON: {e}"))?;
        if report["success"] != true {
            return Err(format!("validate --json {t} reports failure: {}", json.stdout.trim()));
        }
        let hooks = report["provides"]["hooks"].as_array().map_or(0, Vec::len);
        if hooks == 0 {
            return Err(format!("validate {t} found no hooks in the plugin"));
        }
        println!(
            "claude plugin validate --strict {t}: passed ({} manifest, {hooks} hook(s), bin {})",
            report["manifest"]["type"].as_str().unwrap_or("?"),
            report["provides"]["bin"]
        );
    }
    Ok(())
}

/// HOME, XDG_* and CLAUDE_CONFIG_DIR all inside `home`.
fn temp_home_env(home: &Path) -> Env {
    let s = |rel: &str| home.join(rel).to_string_lossy().into_owned();
    Env::from_pairs([
        ("HOME", s("").trim_end_matches('/')),
        ("XDG_CONFIG_HOME", &s(".config")),
        ("XDG_DATA_HOME", &s(".local/share")),
        ("XDG_STATE_HOME", &s(".local/state")),
        ("CLAUDE_CONFIG_DIR", &s(".claude")),
    ])
}

fn e2e_tests(state: &mut State) -> Result {
    if !util::project_root().join(E2E_TEST).is_file() {
        return Err(format!("{E2E_TEST} does not exist; the e2e phase cannot pass without it"));
    }
    let (_, dist) = dist(state)?;
    let claude = claude(state)?;
    let mut cmd = cargo(&["test", "-p", "cc-aws-hooks", "--test", "e2e", "--", "--ignored", "--test-threads=1"]);
    cmd.env("CC_E2E_CLAUDE", &claude).env("CC_E2E_PLUGIN_DIR", dist);
    util::run(cmd)?;
    // The mock's own check against the real client: every request signed, the stream read.
    let mut cmd = cargo(&["test", "-p", "test-support", "--test", "it", "--", "--ignored", "--test-threads=1"]);
    cmd.env("CC_E2E_CLAUDE", &claude);
    util::run(cmd)
}

/// Installs into a fresh temp HOME twice and checks every effect the first time and "no
/// changes" the second.
fn install_smoke(state: &mut State) -> Result {
    let claude = claude(state)?;
    let (_, dist) = dist(state)?;
    let home = TempDir::new("install-home")?;
    let env = temp_home_env(home.path());
    let ctx = Ctx::new(env.clone(), Ctx::from_process().now);
    let mut dirs: Vec<PathBuf> = claude.parent().map(Path::to_path_buf).into_iter().collect();
    dirs.extend(std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default());
    let path_var: OsString = std::env::join_paths(dirs).map_err(|e| format!("cannot build PATH: {e}"))?;

    let first = install::install(&ctx, Some(&path_var), &dist, InstallOpts::default())?;
    if !first.changed {
        return Err("the first install into an empty HOME reported no changes".into());
    }
    let layout = Layout::new(&env)?;
    let text = cs::read_settings(&layout.settings_file)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{} was not created", layout.settings_file.display()))?;
    let settings: Value = serde_json::from_str(&text).map_err(|e| format!("settings.json: {e}"))?;
    let wiring = layout.wiring();
    let expect = [
        (cs::EXPORT_KEY, &settings[cs::EXPORT_KEY], &wiring.export),
        (cs::REFRESH_KEY, &settings[cs::REFRESH_KEY], &wiring.refresh),
        (cs::STATUS_LINE_KEY, &settings[cs::STATUS_LINE_KEY]["command"], &wiring.statusline),
    ];
    for (key, value, bin) in expect {
        if value.as_str() != Some(cs::shell_word(&bin.to_string_lossy()).as_str()) {
            return Err(format!("settings.json {key} is {value}, expected {}", bin.display()));
        }
        if !util::is_executable(bin) {
            return Err(format!("{} is not an executable", bin.display()));
        }
    }
    check_private_file(&layout.config_file)?;
    let list =
        util::capture(install::claude_command(&claude, &env, &["plugin", "list", "--json"]), Duration::from_secs(120))?;
    let plugins: Value = serde_json::from_str(&list.stdout).map_err(|e| format!("claude plugin list --json: {e}"))?;
    let id = format!("{PLUGIN_NAME}@{MARKETPLACE_NAME}");
    let entry = plugins.as_array().into_iter().flatten().find(|p| p["id"] == id.as_str());
    match entry {
        Some(p) if p["enabled"] == true => println!("claude plugin list: {id} enabled, version {}", p["version"]),
        Some(_) => return Err(format!("claude plugin list shows {id} disabled")),
        None => return Err(format!("claude plugin list does not show {id}: {}", list.stdout.trim())),
    }

    // The CLI is linked into ~/.local/bin and runs from there against this HOME.
    let cli = home.path().join(".local/bin").join(crate::dist::exe("cc-aws-keepalive"));
    let mut status = Command::new(&cli);
    status.arg("status").env_clear().envs(env.iter());
    let out = util::capture(status, Duration::from_secs(60))?;
    if !out.ok() {
        return Err(format!("{} status failed: {}", cli.display(), out.both()));
    }
    println!("cc-aws-keepalive status (linked CLI): ok");
    // `setup` from the installed CLI must agree with what install wrote: same stable paths
    // (through the plugin symlink, not the versioned directory), nothing to change.
    let mut setup = Command::new(&cli);
    setup.args(["setup", "--dry-run"]).env_clear().envs(env.iter());
    let out = util::capture(setup, Duration::from_secs(60))?;
    if !out.ok() || out.both().contains("would be changed") {
        return Err(format!("`cc-aws-keepalive setup --dry-run` after install wants changes:\n{}", out.both()));
    }
    println!("cc-aws-keepalive setup --dry-run (linked CLI): nothing to change");

    let second = install::install(&ctx, Some(&path_var), &dist, InstallOpts::default())?;
    if second.changed {
        return Err(format!("a second install changed something:\n{}", second.lines.join("\n")));
    }
    Ok(())
}

/// A few seconds of every fuzz target, when a nightly toolchain is installed (cargo-fuzz needs
/// it; the stable-only machines CI may run on cannot fetch one, so there it is skipped loudly).
fn fuzz_smoke(_: &mut State) -> Result {
    if let Err(e) = crate::fuzz::check_nightly() {
        println!("fuzz-smoke: skipped ({e})");
        return Ok(());
    }
    crate::fuzz::fuzz(&["--smoke".to_string()])
}

fn check_private_file(path: &Path) -> Result {
    if !path.is_file() {
        return Err(format!("{} was not created", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode() & 0o777;
        if mode != 0o600 {
            return Err(format!("{} has mode {mode:o}, expected 600", path.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_package_matches_the_npm_names() {
        let p = platform_package().unwrap();
        assert!(p.starts_with("claude-code-") && (p.contains("-x64") || p.contains("-arm64")), "{p}");
    }
}
