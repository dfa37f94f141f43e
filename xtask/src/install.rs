//! `cargo xtask install`: puts the plugin at a stable place, registers it with Claude Code,
//! creates our config file and wires our commands into Claude Code's settings.json.
//!
//! Everything it touches is derived from a [`Ctx`] (HOME, XDG_*, CLAUDE_CONFIG_DIR) and a PATH
//! value, never from the process directly, so `ci` runs the same code against a temp HOME.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use keepalive_core::claude_settings::{self as cs, ChangeKind, Options, StatusLinePolicy, Wiring};
use keepalive_core::ctx::Ctx;
use keepalive_core::env::{Env, vars};
use keepalive_core::{config, fsutil, paths};
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

/// What an install did, line by line; `changed` is false when it found everything in place.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub changed: bool,
}

impl Report {
    fn say(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

/// Paths an install uses, all derived from the environment.
pub struct Layout {
    pub data_dir: PathBuf,
    /// `<data>/plugin`: a symlink to the current `plugin-<stamp>` copy (Unix).
    pub plugin_dir: PathBuf,
    pub config_file: PathBuf,
    pub settings_file: PathBuf,
}

impl Layout {
    pub fn new(env: &Env) -> Result<Layout> {
        let data_dir = paths::data_dir(env).map_err(|e| e.to_string())?;
        Ok(Layout {
            plugin_dir: data_dir.join("plugin"),
            data_dir,
            config_file: paths::config_file(env).map_err(|e| e.to_string())?,
            settings_file: paths::claude_settings_file(env).map_err(|e| e.to_string())?,
        })
    }

    pub fn wiring(&self) -> Wiring {
        let bin = self.plugin_dir.join("bin");
        Wiring {
            export: bin.join(crate::dist::exe(cs::EXPORT_BIN)),
            refresh: bin.join(crate::dist::exe(cs::REFRESH_BIN)),
            statusline: bin.join(crate::dist::exe(cs::STATUS_LINE_BIN)),
        }
    }
}

/// Installs the plugin laid out in `dist_dir`. `path_var` is searched for `claude`.
pub fn install(ctx: &Ctx, path_var: Option<&OsStr>, dist_dir: &Path, opts: InstallOpts) -> Result<Report> {
    let layout = Layout::new(&ctx.env)?;
    let version = plugin_version(dist_dir)?;
    // An unreadable settings.json stops us before anything is touched (`claude plugin` would
    // refuse it too, with a less helpful message).
    let settings_before = cs::read_settings(&layout.settings_file).map_err(|e| e.to_string())?;
    cs::plan(settings_before.as_deref(), &layout.settings_file, &layout.wiring(), &Options::default())
        .map_err(|e| e.to_string())?;
    let mut report = Report::default();
    let dry = if opts.dry_run { "would be " } else { "" };

    // 1. The plugin directory, at a path that survives `cargo clean` and upgrades.
    let same = layout.plugin_dir.exists() && util::tree_contents(&layout.plugin_dir)? == util::tree_contents(dist_dir)?;
    if same {
        report.say(format!("plugin:   {} unchanged ({PLUGIN_NAME} {version})", layout.plugin_dir.display()));
    } else {
        if !opts.dry_run {
            place_plugin(dist_dir, &layout, ctx)?;
        }
        report.say(format!("plugin:   {} {dry}installed ({PLUGIN_NAME} {version})", layout.plugin_dir.display()));
        report.changed = true;
    }

    // 2. Claude Code's plugin registry. Before settings.json: `claude plugin …` rewrites that
    // file in its own format, and our edit should be the last, minimal one.
    match util::which("claude", path_var) {
        None => report.say(format!(
            "claude:   not on PATH; register later with `claude plugin marketplace add {}` and \
             `claude plugin install {PLUGIN_NAME}@{MARKETPLACE_NAME}`",
            layout.plugin_dir.display()
        )),
        Some(claude) => register(&claude, &ctx.env, &layout, &version, !same, opts.dry_run, &mut report)?,
    }

    // 3. Our config file, private: it may name profiles and login commands.
    let config_text = fsutil::read_optional(&layout.config_file).map_err(|e| e.to_string())?;
    let config_text = match config_text {
        Some(text) => {
            report.say(format!("config:   {} exists", layout.config_file.display()));
            Some(text)
        }
        None => {
            if !opts.dry_run {
                write_private(&layout.config_file, &config::example_json(), true)?;
            }
            report.say(format!("config:   {} {dry}created from the example (mode 0600)", layout.config_file.display()));
            report.changed = true;
            opts.dry_run.then(config::example_json)
        }
    };

    // 4. settings.json.
    let settings_text = cs::read_settings(&layout.settings_file).map_err(|e| e.to_string())?;
    let plan = cs::plan(
        settings_text.as_deref(),
        &layout.settings_file,
        &layout.wiring(),
        &Options { status_line: opts.status_line },
    )
    .map_err(|e| e.to_string())?;

    if let Some(cmd) = &plan.moved_status_line_cmd {
        // Before settings.json: once ours is wired in, their command must already be in config.
        let current = match &config_text {
            Some(t) => Some(t.clone()),
            None => fsutil::read_optional(&layout.config_file).map_err(|e| e.to_string())?,
        };
        let updated = cs::set_string_member(current.as_deref(), &layout.config_file, cs::STATUS_LINE_CMD_KEY, cmd)
            .map_err(|e| e.to_string())?;
        if let Some(text) = updated {
            if !opts.dry_run {
                write_private(&layout.config_file, &text, false)?;
            }
            report.changed = true;
            report.say(format!(
                "config:   {} \"{}\" {dry}set to {}",
                layout.config_file.display(),
                cs::STATUS_LINE_CMD_KEY,
                Value::String(cmd.clone())
            ));
        }
    }

    match &plan.new_text {
        None => report.say(format!("settings: {} unchanged", layout.settings_file.display())),
        Some(new_text) => {
            report.changed = true;
            report.say(format!("settings: {} {dry}changed:", layout.settings_file.display()));
            for c in &plan.changes {
                let what = match c.kind {
                    ChangeKind::Added => "added",
                    ChangeKind::PathUpdated => "path updated",
                    ChangeKind::Replaced => "replaced",
                    ChangeKind::Removed => "removed",
                    ChangeKind::Restored => "restored",
                };
                let old = c.old.as_deref().unwrap_or("(unset)");
                let new = c.new.as_deref().unwrap_or("(unset)");
                report.say(format!("  {}: {old} → {new} ({what})", c.key));
            }
            if opts.dry_run {
                print!("{}", cs::diff(settings_text.as_deref().unwrap_or(""), new_text));
            } else {
                match cs::apply(&layout.settings_file, &plan, ctx.now).map_err(|e| e.to_string())? {
                    Some(b) => report.say(format!("  backup: {}", b.display())),
                    None => report.say("  (new file, no backup)".to_string()),
                }
            }
        }
    }
    for hint in &plan.hints {
        report.say(format!("note:     {hint}"));
    }

    // 5. The human CLI on PATH: a link in ~/.local/bin, the XDG place for user executables.
    link_cli(&layout, &ctx.env, path_var, opts.dry_run, &mut report)?;

    let summary = if !report.changed {
        "install: no changes".to_string()
    } else if opts.dry_run {
        "install: dry run, nothing written".to_string()
    } else {
        "install: done; restart Claude Code sessions to pick up the changes".to_string()
    };
    report.say(summary);
    Ok(report)
}

/// Links `~/.local/bin/cc-aws-keepalive` to the installed plugin's copy (which upgrades
/// replace in place), unless something that is not our link is already there.
fn link_cli(layout: &Layout, env: &Env, path_var: Option<&OsStr>, dry_run: bool, report: &mut Report) -> Result {
    let name = crate::dist::exe("cc-aws-keepalive");
    let target = layout.plugin_dir.join("bin").join(&name);
    if !dry_run && !target.exists() {
        return Ok(());
    }
    let Some(home) = env.home() else { return Ok(()) };
    let bin_dir = home.join(".local/bin");
    let link = bin_dir.join(&name);
    let dry = if dry_run { "would be " } else { "" };
    let current = fs::read_link(&link).ok();
    if current.as_deref() == Some(target.as_path()) {
        report.say(format!("cli:      {} unchanged", link.display()));
    } else if current.is_none() && link.symlink_metadata().is_ok() {
        report.say(format!("cli:      {} exists and is not a link; left alone", link.display()));
    } else {
        if !dry_run {
            fs::create_dir_all(&bin_dir).map_err(|e| format!("cannot create {}: {e}", bin_dir.display()))?;
            let tmp = bin_dir.join(format!(".{name}.tmp"));
            let _ = fs::remove_file(&tmp);
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &tmp)
                .map_err(|e| format!("cannot create symlink {}: {e}", tmp.display()))?;
            #[cfg(not(unix))]
            fs::copy(&target, &tmp).map_err(|e| format!("cannot copy to {}: {e}", tmp.display()))?;
            // Rename over the old link: there is never a moment without one.
            fs::rename(&tmp, &link).map_err(|e| format!("cannot create {}: {e}", link.display()))?;
        }
        report.changed = true;
        report.say(format!("cli:      {} {dry}linked to {}", link.display(), target.display()));
    }
    let on_path = path_var.is_some_and(|p| std::env::split_paths(p).any(|d| d == bin_dir));
    if !on_path {
        report.say(format!("note:     add {} to PATH to run `cc-aws-keepalive`", bin_dir.display()));
    }
    Ok(())
}

fn plugin_version(dist_dir: &Path) -> Result<String> {
    let manifest = dist_dir.join(".claude-plugin/plugin.json");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    v["version"].as_str().map(str::to_string).ok_or_else(|| format!("{} has no version", manifest.display()))
}

fn write_private(path: &Path, text: &str, create: bool) -> Result {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE).map_err(|e| e.to_string())?;
    }
    let mode = create.then_some(fsutil::SECRET_FILE_MODE);
    fsutil::write_atomic(path, text.as_bytes(), mode).map_err(|e| e.to_string())
}

/// Copies the plugin to a fresh `plugin-<stamp>` directory and then switches the `plugin`
/// symlink to it with one rename, so a hook starting mid-upgrade finds either the old
/// binaries or the new ones, never a missing file. (Renaming a directory over a non-empty
/// one fails on Unix, so "copy, then rename over" needs the symlink.) Older copies are
/// removed afterwards; running processes keep their unlinked executables.
fn place_plugin(dist_dir: &Path, layout: &Layout, ctx: &Ctx) -> Result {
    let data = &layout.data_dir;
    fs::create_dir_all(data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    let stamp = keepalive_core::expiry::compact_stamp(ctx.now);
    let mut name = format!("plugin-{stamp}");
    let mut n = 1;
    while data.join(&name).exists() {
        name = format!("plugin-{stamp}-{n}");
        n += 1;
    }
    let fresh = data.join(&name);
    let tmp = data.join(format!(".{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    util::copy_dir(dist_dir, &tmp)?;
    fs::rename(&tmp, &fresh).map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), fresh.display()))?;
    switch_to(&fresh, &name, &layout.plugin_dir)?;
    // Remove earlier copies (and leftovers of interrupted runs).
    if let Ok(entries) = fs::read_dir(data) {
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let stale = (file_name.starts_with("plugin-") || file_name.starts_with(".plugin-")) && file_name != name;
            if stale && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn switch_to(fresh: &Path, name: &str, link: &Path) -> Result {
    let dir = link.parent().unwrap_or(Path::new("."));
    let tmp_link = dir.join(format!(".plugin-link.{}", std::process::id()));
    let _ = fs::remove_file(&tmp_link);
    // Relative, so the data directory can move as a whole.
    std::os::unix::fs::symlink(name, &tmp_link)
        .map_err(|e| format!("cannot create symlink {}: {e}", tmp_link.display()))?;
    // An earlier layout may have a real directory here: move it aside first.
    let is_real_dir = fs::symlink_metadata(link).is_ok_and(|m| m.is_dir());
    let aside = dir.join(format!(".plugin-old.{}", std::process::id()));
    if is_real_dir {
        fs::rename(link, &aside).map_err(|e| format!("cannot move {} aside: {e}", link.display()))?;
    }
    fs::rename(&tmp_link, link).map_err(|e| format!("cannot point {} at {}: {e}", link.display(), fresh.display()))?;
    if is_real_dir {
        let _ = fs::remove_dir_all(&aside);
    }
    Ok(())
}

#[cfg(not(unix))]
fn switch_to(fresh: &Path, _name: &str, link: &Path) -> Result {
    if link.exists() {
        fs::remove_dir_all(link).map_err(|e| format!("cannot remove {}: {e}", link.display()))?;
    }
    util::copy_dir(fresh, link)
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
            report.say(format!("note:     {id} is disabled in Claude Code; `claude plugin enable {id}` turns it on"))
        }
        Some(_) => {}
    }
    if steps.is_empty() {
        report.say(format!("claude:   {id} registered, unchanged"));
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
    report.say(format!("claude:   {}", done.join("; ")));
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
}
