//! `cargo xtask install`: the plugin laid out by `dist`, installed for the current user by
//! keepalive-core's installer (the one `cc-aws-keepalive setup` and the plugin's start hook
//! use: binaries and the plugin at `$XDG_DATA_HOME/cc-aws-keepalive/current`, config.json,
//! settings.json, the command in `~/.local/bin`, all recorded for `setup --uninstall`), then
//! registered with Claude Code as a local marketplace when `claude` is on PATH.
//!
//! Everything it touches is derived from a [`Ctx`] (HOME, XDG_*, CLAUDE_CONFIG_DIR) and a PATH
//! value, never from the process directly, so `ci` runs the same code against a temp HOME.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keepalive_core::claude_settings::{StatusLinePolicy, Wiring};
use keepalive_core::ctx::Ctx;
use keepalive_core::env::{Env, vars};
use keepalive_core::install::{self, BINARIES, Request, Source};
use keepalive_core::paths;
use serde_json::Value;

use crate::plugin::{MARKETPLACE_NAME, PLUGIN_NAME};
use crate::util::{self, Result};

/// `claude plugin …` commands read and write a few JSON files; a minute means something hangs.
const CLAUDE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, Default)]
pub struct InstallOpts {
    pub status_line: StatusLinePolicy,
    pub dry_run: bool,
}

impl InstallOpts {
    pub fn parse(args: &[String]) -> Result<InstallOpts> {
        let mut opts = InstallOpts::default();
        let mut status_flag: Option<&str> = None;
        for arg in args {
            let policy = match arg.as_str() {
                "--dry-run" => {
                    opts.dry_run = true;
                    continue;
                }
                "--statusline" => StatusLinePolicy::Compose,
                "--no-statusline" => StatusLinePolicy::Skip,
                other => return Err(format!("install: unknown argument {other:?} (see `cargo xtask help`)")),
            };
            if let Some(prev) = status_flag.filter(|p| *p != arg) {
                return Err(format!("install: {prev} and {arg} contradict each other"));
            }
            status_flag = Some(arg);
            opts.status_line = policy;
        }
        Ok(opts)
    }
}

/// What an install did, line by line (printed as it happened); `changed` is false when it
/// found everything in place.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub changed: bool,
}

impl Report {
    fn say(&mut self, line: &str) {
        println!("{line}");
        self.lines.push(line.to_string());
    }
}

/// Paths an install uses, all derived from the environment.
pub struct Layout {
    /// `<data>/current/plugin`: the plugin directory registered as a local marketplace.
    pub plugin_dir: PathBuf,
    pub config_file: PathBuf,
    pub settings_file: PathBuf,
    wiring: Wiring,
}

impl Layout {
    pub fn new(env: &Env) -> Result<Layout> {
        let ctx = Ctx::new(env.clone(), time::OffsetDateTime::UNIX_EPOCH);
        Ok(Layout {
            plugin_dir: paths::current_dir(env).map_err(|e| e.to_string())?.join("plugin"),
            config_file: paths::config_file(env).map_err(|e| e.to_string())?,
            settings_file: paths::claude_settings_file(env).map_err(|e| e.to_string())?,
            wiring: install::wiring(&ctx).map_err(|e| e.to_string())?,
        })
    }

    /// The stable binaries settings.json names.
    pub fn wiring(&self) -> Wiring {
        self.wiring.clone()
    }
}

/// Installs the plugin laid out in `dist_dir`. `path_var` is searched for `claude`.
pub fn install(ctx: &Ctx, path_var: Option<&OsStr>, dist_dir: &Path, opts: InstallOpts) -> Result<Report> {
    let layout = Layout::new(&ctx.env)?;
    let version = plugin_version(dist_dir)?;
    let source =
        Source { bin_dir: host_bin_dir(dist_dir)?, version: version.clone(), plugin_dir: Some(dist_dir.into()) };
    let mut report = Report::default();
    let req = Request { command: "install", source, status_line: opts.status_line, dry_run: opts.dry_run, path_var };
    let core = |e: install::InstallError| e.to_string();
    install::preflight(ctx, &req).map_err(core)?;
    // 1. The binaries and the plugin at the stable place.
    let files_changed = install::place(ctx, &req, &mut |l| report.say(l)).map_err(core)?;
    report.changed |= files_changed;

    // 2. Claude Code's plugin registry: the local marketplace at the stable plugin path. Before
    // settings.json: `claude plugin …` rewrites that file in its own format, and our edit
    // should be the last, minimal one (which `setup --uninstall` undoes byte for byte).
    match util::which("claude", path_var) {
        None => report.say(&format!(
            "claude:   not on PATH; register later with `claude plugin marketplace add {}` and \
             `claude plugin install {PLUGIN_NAME}@{MARKETPLACE_NAME}`",
            layout.plugin_dir.display()
        )),
        Some(claude) => {
            register(&claude, &ctx.env, &layout, &version, files_changed, opts.dry_run, &mut report)?;
        }
    }

    // 3. config.json, settings.json, the command in ~/.local/bin.
    report.changed |= install::configure(ctx, &req, &mut |l| report.say(l)).map_err(core)?;
    legacy_note(&ctx.env, &mut report);
    install::summary(&req, report.changed, &mut |l| report.say(l));
    Ok(report)
}

/// The directory of the host's binaries in a dist layout: `bin/<target>/` (the one holding all
/// five; the host's when several targets were built), else `bin/` itself (an older layout).
fn host_bin_dir(dist_dir: &Path) -> Result<PathBuf> {
    let bin = dist_dir.join("bin");
    let complete = |d: &Path| install::bins::missing_in(d).is_empty();
    let mut per_target: Vec<PathBuf> = fs::read_dir(&bin)
        .map_err(|e| format!("cannot read {}: {e}", bin.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && complete(p))
        .collect();
    per_target.sort();
    match per_target.len() {
        0 if complete(&bin) => Ok(bin),
        0 => Err(format!("{} holds no complete set of {}", bin.display(), BINARIES.join(", "))),
        1 => Ok(per_target.remove(0)),
        _ => {
            let host = crate::dist::host_triple()?;
            per_target
                .into_iter()
                .find(|p| p.file_name().is_some_and(|n| n == host.as_str()))
                .ok_or_else(|| format!("{} has no binaries for this host ({host})", bin.display()))
        }
    }
}

/// Installs before this layout kept the plugin at `<data>/plugin` (a symlink to a
/// `plugin-<stamp>` copy). Nothing uses it once settings.json is rewired, but a service file
/// written then may still name it; so it is left for the user to remove.
fn legacy_note(env: &Env, report: &mut Report) {
    let Ok(data) = paths::data_dir(env) else { return };
    let old = data.join("plugin");
    if old.symlink_metadata().is_ok() {
        report.say(&format!(
            "note:     {} is the layout before versions/ and current/; once `cc-aws-keepalive service install` \
             has been run again (if you use the service), remove it and {}/plugin-*",
            old.display(),
            data.display()
        ));
    }
}

fn plugin_version(dist_dir: &Path) -> Result<String> {
    let manifest = dist_dir.join(".claude-plugin/plugin.json");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    v["version"].as_str().map(str::to_string).ok_or_else(|| format!("{} has no version", manifest.display()))
}

/// `claude` with the environment of `env` (so a temp HOME in `ci` is the HOME it edits), no
/// telemetry, and a neutral working directory (no project settings get involved).
pub fn claude_command(claude: &Path, env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::new(claude);
    cmd.args(args);
    for name in vars::ALL {
        cmd.env_remove(name);
        if let Some(v) = env.get(name) {
            cmd.env(name, v);
        }
    }
    cmd.env("DISABLE_TELEMETRY", "1").env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
    cmd.current_dir(env.home().filter(|h| h.is_dir()).unwrap_or_else(std::env::temp_dir));
    cmd
}

fn claude_json(claude: &Path, env: &Env, args: &[&str]) -> Result<Value> {
    let out = util::capture(claude_command(claude, env, args), CLAUDE_TIMEOUT)?;
    if !out.ok() {
        return Err(format!("`claude {}` failed: {}", args.join(" "), out.both()));
    }
    serde_json::from_str(&out.stdout).map_err(|e| format!("`claude {}` printed invalid JSON: {e}", args.join(" ")))
}

fn claude_do(claude: &Path, env: &Env, args: &[&str]) -> Result {
    let out = util::capture(claude_command(claude, env, args), CLAUDE_TIMEOUT)?;
    if out.ok() { Ok(()) } else { Err(format!("`claude {}` failed: {}", args.join(" "), out.both())) }
}

/// Adds the marketplace and installs the plugin, or brings them up to date; re-running with
/// nothing new does nothing. The decisions come from read-only `list` queries, so a dry run
/// can say exactly what it would run.
fn register(
    claude: &Path,
    env: &Env,
    layout: &Layout,
    version: &str,
    files_changed: bool,
    dry_run: bool,
    report: &mut Report,
) -> Result {
    let dir = layout.plugin_dir.to_string_lossy().into_owned();
    let id = format!("{PLUGIN_NAME}@{MARKETPLACE_NAME}");
    // (what it achieves, claude arguments)
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let markets = claude_json(claude, env, &["plugin", "marketplace", "list", "--json"])?;
    let ours = markets.as_array().into_iter().flatten().find(|m| m["name"] == MARKETPLACE_NAME);
    match ours.map(|m| m["path"].as_str() == Some(dir.as_str())) {
        None => {
            steps.push((format!("marketplace {MARKETPLACE_NAME} added"), args(&["plugin", "marketplace", "add", &dir])))
        }
        Some(false) => {
            steps.push((String::new(), args(&["plugin", "marketplace", "remove", MARKETPLACE_NAME])));
            steps.push((
                format!("marketplace {MARKETPLACE_NAME} moved to {dir}"),
                args(&["plugin", "marketplace", "add", &dir]),
            ));
        }
        Some(true) if files_changed => steps.push((
            format!("marketplace {MARKETPLACE_NAME} refreshed"),
            args(&["plugin", "marketplace", "update", MARKETPLACE_NAME]),
        )),
        Some(true) => {}
    }
    let plugins = claude_json(claude, env, &["plugin", "list", "--json"])?;
    let installed = plugins.as_array().into_iter().flatten().find(|p| p["id"] == id.as_str());
    match installed {
        None => steps.push((format!("plugin {id} installed"), args(&["plugin", "install", &id]))),
        Some(p) if p["version"].as_str() != Some(version) => steps.push((
            format!("plugin {id} updated from {} to {version}", p["version"].as_str().unwrap_or("?")),
            args(&["plugin", "update", &id]),
        )),
        Some(p) if p["enabled"] == false => {
            report.say(&format!("note:     {id} is disabled in Claude Code; `claude plugin enable {id}` turns it on"))
        }
        Some(_) => {}
    }
    if steps.is_empty() {
        report.say(&format!("claude:   {id} registered, unchanged"));
        return Ok(());
    }
    report.changed = true;
    let mut done = Vec::new();
    for (what, step) in &steps {
        if dry_run {
            done.push(format!("would run `claude {}`", step.join(" ")));
            continue;
        }
        let step: Vec<&str> = step.iter().map(String::as_str).collect();
        claude_do(claude, env, &step)?;
        if !what.is_empty() {
            done.push(what.clone());
        }
    }
    report.say(&format!("claude:   {}", done.join("; ")));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let p = |a: &[&str]| InstallOpts::parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(&[]).unwrap().status_line, StatusLinePolicy::IfAbsent);
        assert_eq!(p(&["--statusline"]).unwrap().status_line, StatusLinePolicy::Compose);
        let o = p(&["--no-statusline", "--dry-run"]).unwrap();
        assert!(o.dry_run && o.status_line == StatusLinePolicy::Skip);
        assert!(p(&["--statusline", "--no-statusline"]).is_err());
        assert!(p(&["--bogus"]).is_err());
    }

    /// A dist directory like `dist` lays out: plugin.json and the host's five binaries in
    /// `bin/<target>/` (`flat`: in `bin/`, the layout before per-target directories).
    fn fake_dist(root: &Path, flat: bool) -> PathBuf {
        let dist = root.join("dist");
        util::write(
            &dist.join(".claude-plugin/plugin.json"),
            "{\"name\": \"cc-aws-keepalive\", \"version\": \"0.3.0\"}\n",
        )
        .unwrap();
        util::write(&dist.join("hooks/hooks.json"), "{\"hooks\": {}}\n").unwrap();
        let bin = if flat { dist.join("bin") } else { dist.join("bin/x86_64-unknown-linux-gnu") };
        for b in BINARIES {
            util::write(&bin.join(install::exe(b)), format!("#!/bin/sh\necho {b}\n")).unwrap();
        }
        if !flat {
            // The launcher the npm package carries next to the target directories.
            util::write(&dist.join("bin/cc-aws-keepalive"), "#!/bin/sh\nexec launcher\n").unwrap();
        }
        dist
    }

    #[test]
    fn finds_the_host_binaries_in_either_layout() {
        for flat in [false, true] {
            let tmp = util::TempDir::new("install-layout").unwrap();
            let dist = fake_dist(tmp.path(), flat);
            let want = if flat { dist.join("bin") } else { dist.join("bin/x86_64-unknown-linux-gnu") };
            assert_eq!(host_bin_dir(&dist).unwrap(), want);
        }
        let tmp = util::TempDir::new("install-layout").unwrap();
        util::write(&tmp.path().join("bin/cc-aws-export"), "x").unwrap();
        assert!(host_bin_dir(tmp.path()).unwrap_err().contains("no complete set"));
    }

    /// The README's first install command, undone by `cc-aws-keepalive setup --uninstall` (the
    /// core uninstall it prints): settings.json comes back byte for byte, and the files the
    /// install created go. Without `claude` on PATH, so only our edits are in the file.
    #[test]
    fn install_then_setup_uninstall_restores_settings_exactly() {
        let tmp = util::TempDir::new("install-uninstall").unwrap();
        let dist = fake_dist(tmp.path(), false);
        let home = tmp.path().join("home");
        let original = "{\n\t\"model\": \"opus\",\n\t\"permissions\": {\"allow\": []}\n}\n";
        util::write(&home.join(".claude/settings.json"), original).unwrap();
        let ctx = Ctx::new(util::temp_home_env(&home), time::OffsetDateTime::UNIX_EPOCH);
        let empty_path = std::ffi::OsString::from(tmp.path().join("no-bin"));

        let report = install(&ctx, Some(&empty_path), &dist, InstallOpts::default()).unwrap();
        assert!(report.changed, "{:?}", report.lines);
        let layout = Layout::new(&ctx.env).unwrap();
        let text = fs::read_to_string(&layout.settings_file).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["awsCredentialExport"], layout.wiring().export.to_string_lossy().as_ref());
        assert_eq!(v["statusLine"]["refreshInterval"], 30);
        assert!(layout.wiring().export.is_file() && layout.plugin_dir.join(".claude-plugin/plugin.json").is_file());
        assert!(report.lines.iter().any(|l| l.starts_with("claude:   not on PATH")), "{:?}", report.lines);
        let again = install(&ctx, Some(&empty_path), &dist, InstallOpts::default()).unwrap();
        assert!(!again.changed, "a second install changed something: {:?}", again.lines);
        assert_eq!(again.lines.last().map(String::as_str), Some("install: no changes"));

        let mut lines = Vec::new();
        install::uninstall(&ctx, false, &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(fs::read_to_string(&layout.settings_file).unwrap(), original, "{lines:?}");
        assert!(!layout.config_file.exists(), "{lines:?}");
        assert!(home.join(".local/bin/cc-aws-keepalive").symlink_metadata().is_err(), "{lines:?}");
    }
}
