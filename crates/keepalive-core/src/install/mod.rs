//! Installation, once for every way in: `cargo xtask install`, `cc-aws-keepalive setup` and
//! the plugin's start hook all call here and only print the report.
//!
//! An install (1) places the host's binaries at the stable `<data>/current/bin` ([`bins`]),
//! (2) creates our config.json when missing (0600: it may name profiles and login commands),
//! (3) merges `awsCredentialExport`, `awsAuthRefresh` and `statusLine` (with
//! `refreshInterval`) into Claude Code's settings.json with minimal textual edits and a
//! backup, and (4) links `cc-aws-keepalive` into `~/.local/bin`. Steps 2–4 are recorded first
//! ([`record`]) so that [`uninstall`] undoes any install exactly. The start hook runs step 1
//! only: settings.json is edited only when the user runs setup.

pub mod bins;
pub mod record;

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::claude_settings::{self as cs, ChangeKind, Options, StatusLinePolicy, Wiring};
use crate::config;
use crate::ctx::Ctx;
use crate::fsutil::{self, FsError};
use crate::lock::LockError;
use crate::paths::{self, PathError};

pub use bins::{BINARIES, CHECK_BIN, CLI_BIN, Check, Placed, Source, exe};
use record::{ConfigRecord, LinkRecord, SetupRecord};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Settings(#[from] cs::SettingsError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error("{path} is not a setup record; move it away and run setup again")]
    Record { path: PathBuf },
    #[error("{dir} lacks {missing}; install all five binaries together (they come in one package)")]
    MissingBinaries { dir: PathBuf, missing: String },
    #[error("another install is running (it holds {path}); run this again in a minute")]
    Busy { path: PathBuf },
    #[error(
        "{path} is not UTF-8 text, so your status line command cannot be moved into it; fix it by hand (or run without --statusline)"
    )]
    ConfigNotUtf8 { path: PathBuf },
}

/// How long a setup waits for another install (a session start copying the same binaries).
const SETUP_LOCK_WAIT: Duration = Duration::from_secs(30);

/// What to install and how.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The command, for the summary line (`setup: done`, `install: no changes`).
    pub command: &'static str,
    pub source: Source,
    pub status_line: StatusLinePolicy,
    pub dry_run: bool,
    /// The PATH the user's shell has, to say whether `~/.local/bin` is on it.
    pub path_var: Option<&'a OsStr>,
}

/// The outcome; the lines were handed to the caller's `say` as they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Something was (or, in a dry run, would be) changed.
    pub changed: bool,
}

/// The paths settings.json is wired to: the stable binaries.
pub fn wiring(ctx: &Ctx) -> Result<Wiring, PathError> {
    let bin = paths::stable_bin_dir(&ctx.env)?;
    Ok(Wiring {
        export: bin.join(exe(cs::EXPORT_BIN)),
        refresh: bin.join(exe(cs::REFRESH_BIN)),
        statusline: bin.join(exe(cs::STATUS_LINE_BIN)),
    })
}

/// The settings options every install uses.
pub fn settings_options(status_line: StatusLinePolicy) -> Options {
    Options { status_line, refresh_interval: Some(cs::STATUS_LINE_REFRESH_SECS) }
}

/// `path`, and where it points when it is a symlink, for messages.
fn shown(path: &Path) -> String {
    match fsutil::write_target(path) {
        Ok(target) if target != path => format!("{} (→ {})", path.display(), target.display()),
        _ => path.display().to_string(),
    }
}

fn kind_word(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Added => "added",
        ChangeKind::PathUpdated => "path updated",
        ChangeKind::Updated => "updated",
        ChangeKind::Replaced => "replaced",
        ChangeKind::Removed => "removed",
        ChangeKind::Restored => "restored",
    }
}

fn say_changes(plan: &cs::Plan, say: &mut dyn FnMut(&str)) {
    for c in &plan.changes {
        let old = c.old.as_deref().unwrap_or("(unset)");
        let new = c.new.as_deref().unwrap_or("(unset)");
        say(&format!("  {}: {old} → {new} ({})", c.key, kind_word(c.kind)));
    }
}

/// A multi-line block (a diff) line by line.
fn say_block(text: &str, say: &mut dyn FnMut(&str)) {
    for line in text.lines() {
        say(line);
    }
}

/// config.json as it is on disk, byte for byte (an uninstall puts exactly these bytes back).
enum ConfigFile {
    Missing,
    Text(String),
    /// Not UTF-8: left alone; we refuse to edit it (a lossy round trip would damage it).
    NotUtf8,
}

fn read_config(path: &Path) -> Result<ConfigFile, InstallError> {
    match cs::read_settings(path) {
        Ok(None) => Ok(ConfigFile::Missing),
        Ok(Some(t)) => Ok(ConfigFile::Text(t)),
        Err(cs::SettingsError::NotUtf8 { .. }) => Ok(ConfigFile::NotUtf8),
        Err(e) => Err(e.into()),
    }
}

fn write_private(path: &Path, text: &str, create: bool) -> Result<(), InstallError> {
    // Where the bytes land: through a symlinked config.json, its target's directory.
    let target = fsutil::write_target(path)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE)?;
    }
    // `write_atomic` writes through symlinks (dotfiles managers keep config.json in a
    // repository), so the link stays a link.
    fsutil::write_atomic(path, text.as_bytes(), create.then_some(fsutil::SECRET_FILE_MODE))?;
    Ok(())
}

/// Installs: binaries, config.json, settings.json, the command in `~/.local/bin`. Each line
/// of the report goes to `say` as it happens, so a failure half-way leaves a true account.
/// Nothing is touched when settings.json or the record cannot be read.
///
/// The steps are public for `cargo xtask install`, which registers the plugin with Claude Code
/// between [`place`] and [`configure`]: `claude plugin …` rewrites settings.json in its own
/// format, and our edit must come last to stay minimal and exactly undoable.
pub fn install(ctx: &Ctx, req: &Request, say: &mut dyn FnMut(&str)) -> Result<Outcome, InstallError> {
    preflight(ctx, req)?;
    let mut changed = place(ctx, req, say)?;
    changed |= configure(ctx, req, say)?;
    summary(req, changed, say);
    Ok(Outcome { changed })
}

/// Fails, before anything is touched, when settings.json could not be edited or the record
/// of earlier installs could not be read.
pub fn preflight(ctx: &Ctx, req: &Request) -> Result<(), InstallError> {
    record::read(&paths::setup_record(&ctx.env)?)?;
    let settings_path = paths::claude_settings_file(&ctx.env)?;
    let text = cs::read_settings(&settings_path)?;
    cs::plan(text.as_deref(), &settings_path, &wiring(ctx)?, &settings_options(req.status_line))?;
    Ok(())
}

/// The last line: what happened, in the command's name.
pub fn summary(req: &Request, changed: bool, say: &mut dyn FnMut(&str)) {
    let cmd = req.command;
    say(&match (changed, req.dry_run) {
        (false, _) => format!("{cmd}: no changes"),
        (true, true) => format!("{cmd}: dry run, nothing written"),
        (true, false) => format!("{cmd}: done; restart Claude Code sessions to pick up the changes"),
    });
}

/// Steps 2–4: config.json, settings.json and the `~/.local/bin` link, each recorded before it
/// is changed. True when something changed.
pub fn configure(ctx: &Ctx, req: &Request, say: &mut dyn FnMut(&str)) -> Result<bool, InstallError> {
    let dry = req.dry_run;
    let would = if dry { "would be " } else { "" };
    let settings_path = paths::claude_settings_file(&ctx.env)?;
    let config_path = paths::config_file(&ctx.env)?;
    let rec_path = paths::setup_record(&ctx.env)?;
    let mut record = record::read(&rec_path)?;
    let wiring = wiring(ctx)?;
    let options = settings_options(req.status_line);
    let mut changed = false;

    // Our config.json first: once the status line is ours, the user's command must be there.
    // Nothing is said about it until it is written: a failure below (an invalid settings.json)
    // must not leave "created" on the screen for a file that never was.
    let config_file = read_config(&config_path)?;
    let config_before = match &config_file {
        ConfigFile::Text(t) => Some(t.clone()),
        ConfigFile::Missing | ConfigFile::NotUtf8 => None,
    };
    let config_created = matches!(config_file, ConfigFile::Missing);
    let mut config_text = config_before.clone().or_else(|| config_created.then(config::example_json));
    let mut config_notes = Vec::new();

    let settings_text = cs::read_settings(&settings_path)?;
    let plan = cs::plan(settings_text.as_deref(), &settings_path, &wiring, &options)?;
    if let Some(cmd) = &plan.moved_status_line_cmd {
        if matches!(config_file, ConfigFile::NotUtf8) {
            return Err(InstallError::ConfigNotUtf8 { path: config_path });
        }
        let updated = cs::set_string_member(config_text.as_deref(), &config_path, cs::STATUS_LINE_CMD_KEY, cmd)?;
        if let Some(t) = updated {
            config_text = Some(t);
            config_notes.push(format!(
                "config:   \"{}\" {would}set to {} (your status line, shown before ours)",
                cs::STATUS_LINE_CMD_KEY,
                serde_json::Value::String(cmd.clone())
            ));
        }
    }
    let config_changed = config_text != config_before;
    if !dry
        && config_changed
        && let Some(t) = &config_text
    {
        // The record first, as for settings.json: what an uninstall needs exists before the
        // change does.
        match &mut record.config {
            Some(c) if c.path == config_path => c.written = t.clone(),
            _ => {
                record.config = Some(ConfigRecord {
                    path: config_path.clone(),
                    original: config_before.clone(),
                    written: t.clone(),
                })
            }
        }
        record::write(&rec_path, &record)?;
        // An existing config.json is the user's file: backed up before we edit it.
        if !config_created && let Some(b) = fsutil::backup(&config_path, ctx.now)? {
            config_notes.push(format!("  backup: {}", b.display()));
        }
        write_private(&config_path, t, config_created)?;
    }
    if config_created {
        say(&format!("config:   {} {would}created from the example (mode 0600)", shown(&config_path)));
    } else {
        say(&format!("config:   {} exists", shown(&config_path)));
    }
    for n in &config_notes {
        say(n);
    }
    if dry && config_changed && !config_created {
        say_block(&cs::diff(config_before.as_deref().unwrap_or(""), config_text.as_deref().unwrap_or("")), say);
    }
    changed |= config_changed;

    // settings.json.
    match &plan.new_text {
        None => say(&format!("settings: {} unchanged", shown(&settings_path))),
        Some(new_text) => {
            changed = true;
            say(&format!("settings: {} {would}changed:", shown(&settings_path)));
            say_changes(&plan, say);
            if dry {
                say_block(&cs::diff(settings_text.as_deref().unwrap_or(""), new_text), say);
            } else {
                // The record first: a crash after the edit must still allow an exact uninstall.
                if let Some(r) = &plan.record {
                    record.settings_path = Some(settings_path.clone());
                    record.settings.push(r.clone());
                    record::write(&rec_path, &record)?;
                }
                match cs::apply(&settings_path, &plan, ctx.now) {
                    Ok(Some(b)) => say(&format!("  backup: {}", b.display())),
                    Ok(None) => say("  (new file, no backup)"),
                    Err(e) => {
                        record.settings.pop();
                        let _ = record::write(&rec_path, &record);
                        return Err(e.into());
                    }
                }
            }
        }
    }
    for h in &plan.hints {
        say(&format!("note:     {h}"));
    }

    // The human command on PATH.
    changed |= link_cli(ctx, req.path_var, dry, &rec_path, &mut record, say)?;
    Ok(changed)
}

/// Step 1: the binaries (and a plugin directory, for `cargo xtask install`) at the stable
/// place settings.json names. True when something changed.
pub fn place(ctx: &Ctx, req: &Request, say: &mut dyn FnMut(&str)) -> Result<bool, InstallError> {
    let (source, dry) = (&req.source, req.dry_run);
    let would = if dry { "would be " } else { "" };
    let current = paths::current_dir(&ctx.env)?;
    let placed = bins::place(ctx, source, Check::Contents, dry, SETUP_LOCK_WAIT)?;
    let from = source.bin_dir.display();
    let version = &source.version;
    let (line, changed) = match &placed {
        Placed::Unchanged { version } => (format!("binaries: {} unchanged ({version})", current.display()), false),
        Placed::Installed { name, previous } => {
            let was = previous.as_deref().map(|p| format!(", was {p}")).unwrap_or_default();
            (
                format!("binaries: {} {would}switched to versions/{name} (copied from {from}{was})", current.display()),
                true,
            )
        }
        Placed::KeptNewer { installed, .. } => {
            (format!("binaries: {} is {installed}, newer than {version} in {from}; kept", current.display()), false)
        }
        Placed::KeptIncompleteSource { installed, missing } => {
            (format!("binaries: {} ({installed}) kept; {from} lacks {}", current.display(), missing.join(", ")), false)
        }
    };
    say(&line);
    // The plugin goes with the binaries: kept binaries keep their plugin.
    if source.plugin_dir.is_some() && matches!(placed, Placed::Installed { .. } | Placed::Unchanged { .. }) {
        let plugin = current.join("plugin");
        say(&format!("plugin:   {} ({version})", plugin.display()));
    }
    Ok(changed)
}

/// Links `~/.local/bin/cc-aws-keepalive` to the stable binary (which upgrades switch in
/// place), unless something that is not a link is already there. Recorded for the uninstall.
fn link_cli(
    ctx: &Ctx,
    path_var: Option<&OsStr>,
    dry: bool,
    rec_path: &Path,
    record: &mut SetupRecord,
    say: &mut dyn FnMut(&str),
) -> Result<bool, InstallError> {
    let would = if dry { "would be " } else { "" };
    let target = paths::stable_bin_dir(&ctx.env)?.join(exe(CLI_BIN));
    let bin_dir = paths::user_bin_dir(&ctx.env)?;
    let link = bin_dir.join(exe(CLI_BIN));
    let previous = fs::read_link(&link).ok();
    let mut changed = false;
    if previous.as_deref() == Some(target.as_path()) {
        say(&format!("cli:      {} unchanged", link.display()));
    } else if previous.is_none() && link.symlink_metadata().is_ok() {
        say(&format!("cli:      {} exists and is not a link; left alone", link.display()));
    } else {
        if !dry {
            // Recorded first, as for settings.json; an earlier record keeps what was there
            // before any install.
            let before = match &record.cli_link {
                Some(r) if r.path == link => r.previous.clone(),
                _ => previous.clone(),
            };
            record.cli_link = Some(LinkRecord { path: link.clone(), target: target.clone(), previous: before });
            record::write(rec_path, record)?;
            make_link(&bin_dir, &link, &target)?;
        }
        changed = true;
        say(&format!("cli:      {} {would}linked to {}", link.display(), target.display()));
    }
    let on_path = path_var.is_some_and(|p| std::env::split_paths(p).any(|d| d == bin_dir));
    if !on_path {
        say(&format!("note:     add {} to PATH to run `cc-aws-keepalive`", bin_dir.display()));
    }
    Ok(changed)
}

/// A symlink at `link` to `target`, replacing what is there with one rename: there is never a
/// moment without one. Where symlinks are not available, a copy.
fn make_link(dir: &Path, link: &Path, target: &Path) -> Result<(), InstallError> {
    fsutil::ensure_dir(dir, 0o755)?;
    let name = link.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp).map_err(|source| InstallError::Io {
        what: "create the symlink",
        path: tmp.clone(),
        source,
    })?;
    #[cfg(not(unix))]
    fs::copy(target, &tmp).map_err(|source| InstallError::Io { what: "copy", path: target.to_path_buf(), source })?;
    fs::rename(&tmp, link).map_err(|source| InstallError::Io { what: "create", path: link.to_path_buf(), source })
}

/// Undoes what installs recorded, newest first: settings.json byte for byte when nobody
/// touched it since (key by key otherwise), config.json when it is still as we wrote it, the
/// `~/.local/bin` link when it still points at us. The binaries stay: the plugin's hooks run
/// them until the plugin is uninstalled.
pub fn uninstall(ctx: &Ctx, dry: bool, say: &mut dyn FnMut(&str)) -> Result<Outcome, InstallError> {
    let would = if dry { "would be " } else { "" };
    let rec_path = paths::setup_record(&ctx.env)?;
    let mut record = record::read(&rec_path)?;
    if record.is_empty() {
        say(&format!("setup: nothing recorded to undo ({} not found)", rec_path.display()));
        return Ok(Outcome { changed: false });
    }
    let mut changed = false;
    if let Some(settings_path) = record.settings_path.clone() {
        // Newest first: each undo brings the file back to what the install before it saw.
        let mut simulated = cs::read_settings(&settings_path)?;
        let original = simulated.clone();
        while let Some(r) = record.settings.last().cloned() {
            let plan = cs::unplan(simulated.as_deref(), &settings_path, &r)?;
            say_changes(&plan, say);
            for h in &plan.hints {
                say(&format!("note:     {h}"));
            }
            record.settings.pop();
            if !dry {
                cs::apply(&settings_path, &plan, ctx.now)?;
                record::write(&rec_path, &record)?;
                simulated = cs::read_settings(&settings_path)?;
            } else if plan.remove_file {
                simulated = None;
            } else if let Some(t) = plan.new_text {
                simulated = Some(t);
            }
        }
        if simulated == original {
            say(&format!("settings: {} unchanged", shown(&settings_path)));
        } else {
            changed = true;
            if simulated.is_none() {
                say(&format!("settings: {} {would}removed (setup created it)", shown(&settings_path)));
            } else {
                say(&format!("settings: {} {would}restored", shown(&settings_path)));
                if dry {
                    say_block(&cs::diff(original.as_deref().unwrap_or(""), simulated.as_deref().unwrap_or("")), say);
                }
            }
        }
    }
    if let Some(c) = record.config.take() {
        let current = match read_config(&c.path)? {
            ConfigFile::Text(t) => Some(t),
            ConfigFile::Missing | ConfigFile::NotUtf8 => None,
        };
        if current.as_deref() == Some(c.written.as_str()) {
            changed = true;
            match &c.original {
                None => {
                    if !dry {
                        // Through a symlink, the file it names goes; the link stays, as it was.
                        cs::remove_through_links(&c.path)?;
                    }
                    say(&format!("config:   {} {would}removed (setup created it)", shown(&c.path)));
                }
                Some(orig) => {
                    if !dry {
                        write_private(&c.path, orig, false)?;
                    }
                    say(&format!("config:   {} {would}restored", shown(&c.path)));
                }
            }
        } else {
            say(&format!(
                "config:   {} changed since setup; left as is (remove \"{}\" yourself if you no longer want it)",
                shown(&c.path),
                cs::STATUS_LINE_CMD_KEY
            ));
        }
    }
    if let Some(l) = record.cli_link.take() {
        changed |= unlink_cli(&l, dry, say)?;
    }
    if !dry {
        let _ = fs::remove_file(&rec_path);
    }
    let data = paths::data_dir(&ctx.env)?;
    if data.exists() {
        say(&format!(
            "note:     the binaries in {} stay for the plugin's hooks; once the plugin is uninstalled \
             (`claude plugin uninstall cc-aws-keepalive`), remove them with `rm -r {}`",
            data.display(),
            cs::shell_word(&data.to_string_lossy())
        ));
    }
    say(if dry { "setup --uninstall: dry run, nothing written" } else { "setup --uninstall: done" });
    Ok(Outcome { changed })
}

/// Puts back what `~/.local/bin/cc-aws-keepalive` was, if it is still our link.
fn unlink_cli(l: &LinkRecord, dry: bool, say: &mut dyn FnMut(&str)) -> Result<bool, InstallError> {
    let would = if dry { "would be " } else { "" };
    if fs::read_link(&l.path).ok().as_deref() != Some(l.target.as_path()) {
        say(&format!("cli:      {} changed since setup; left as is", l.path.display()));
        return Ok(false);
    }
    match &l.previous {
        Some(prev) => {
            if !dry {
                let dir = l.path.parent().unwrap_or(Path::new("."));
                make_link(dir, &l.path, prev)?;
            }
            say(&format!("cli:      {} {would}linked back to {}", l.path.display(), prev.display()));
        }
        None => {
            if !dry {
                fs::remove_file(&l.path).map_err(|source| InstallError::Io {
                    what: "remove",
                    path: l.path.clone(),
                    source,
                })?;
            }
            say(&format!("cli:      {} {would}removed", l.path.display()));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
