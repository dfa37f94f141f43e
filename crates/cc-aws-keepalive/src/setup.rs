//! `cc-aws-keepalive setup [--dry-run] [--statusline] [--uninstall]`: what
//! `cargo xtask install` does to settings.json and config.json, from an
//! installed binary, wiring the hook binaries that sit next to it.
//!
//! Every change is recorded in `$XDG_STATE_HOME/cc-aws-keepalive/setup.json`
//! so `--uninstall` undoes exactly that: byte for byte when nobody touched the
//! files since, key by key otherwise.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use keepalive_core::claude_settings::{self as cs, ChangeKind, Options, Record, StatusLinePolicy, Wiring};
use keepalive_core::ctx::Ctx;
use keepalive_core::{config, fsutil, paths};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Wire the Claude Code hooks into Claude Code's settings.json: awsCredentialExport,
awsAuthRefresh and (with --statusline) statusLine run the cc-aws-export,
cc-aws-refresh and cc-aws-statusline binaries next to this one. Creates
config.json from the example when missing. Edits are minimal (the rest of
settings.json is kept byte for byte) and a timestamped backup is made first.

Usage: cc-aws-keepalive setup [--dry-run] [--statusline] [--uninstall]

Options:
  --dry-run      show what would change (with a diff); change nothing
  --statusline   also set statusLine; an existing status line command is kept
                 and composed with ours (moved into config.json statusLineCmd)
  --uninstall    undo what earlier setups changed (exactly, from their record)
  -h, --help     show this help

Files: settings.json is $CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json;
the record of changes is $XDG_STATE_HOME/cc-aws-keepalive/setup.json.
";

/// What setups changed, for `--uninstall`. Settings records stack: each setup
/// that changed something adds one, and uninstall undoes them newest first.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SetupRecord {
    settings_path: Option<PathBuf>,
    settings: Vec<Record>,
    config: Option<ConfigRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigRecord {
    path: PathBuf,
    /// The text before our first change; `None`: we created the file.
    original: Option<String>,
    /// The text we last wrote.
    written: String,
}

fn record_path(ctx: &Ctx) -> Option<PathBuf> {
    paths::state_dir(&ctx.env).ok().map(|d| d.join("setup.json"))
}

fn read_record(path: &Path) -> Result<SetupRecord, String> {
    match fsutil::read_optional(path) {
        Ok(None) => Ok(SetupRecord::default()),
        Ok(Some(t)) => serde_json::from_str(&t)
            .map_err(|_| format!("{} is not a setup record; move it away and run setup again", path.display())),
        Err(e) => Err(e.to_string()),
    }
}

fn write_record(path: &Path, r: &SetupRecord) -> Result<(), String> {
    if let Some(d) = path.parent() {
        fsutil::ensure_dir(d, fsutil::SECRET_DIR_MODE).map_err(|e| e.to_string())?;
    }
    let mut text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    text.push('\n');
    fsutil::write_atomic(path, text.as_bytes(), Some(fsutil::SECRET_FILE_MODE)).map_err(|e| e.to_string())
}

fn write_private(path: &Path, text: &str, create: bool) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE).map_err(|e| e.to_string())?;
    }
    fsutil::write_atomic(path, text.as_bytes(), create.then_some(fsutil::SECRET_FILE_MODE)).map_err(|e| e.to_string())
}

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let dry = args.flag(&["--dry-run", "-n"]);
    let status_line = args.flag(&["--statusline"]);
    let uninstall = args.flag(&["--uninstall"]);
    if uninstall && status_line {
        return Err(args.usage("--statusline has no meaning with --uninstall"));
    }
    args.finish()?;
    let result = if uninstall { undo(ctx, dry) } else { install(ctx, dry, status_line) };
    match result {
        Ok(()) => Ok(cli::OK),
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: {e}"));
            Ok(cli::FAILURE)
        }
    }
}

fn wiring(ctx: &Ctx) -> Result<Wiring, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's own path ({e})"))?;
    // Through the install's stable symlink, so an upgrade does not break settings.json.
    let exe = keepalive_core::paths::stable_exe(&ctx.env, &exe);
    let dir = exe.parent().ok_or("this program's path has no directory")?.to_path_buf();
    let bin = |name: &str| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    Ok(Wiring { export: bin(cs::EXPORT_BIN), refresh: bin(cs::REFRESH_BIN), statusline: bin(cs::STATUS_LINE_BIN) })
}

fn kind_word(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Added => "added",
        ChangeKind::PathUpdated => "path updated",
        ChangeKind::Replaced => "replaced",
        ChangeKind::Removed => "removed",
        ChangeKind::Restored => "restored",
    }
}

fn print_changes(plan: &cs::Plan) {
    for c in &plan.changes {
        let old = c.old.as_deref().unwrap_or("(unset)");
        let new = c.new.as_deref().unwrap_or("(unset)");
        out::line(&format!("  {}: {old} → {new} ({})", c.key, kind_word(c.kind)));
    }
}

fn install(ctx: &Ctx, dry: bool, status_line: bool) -> Result<(), String> {
    let would = if dry { "would be " } else { "" };
    let settings_path = paths::claude_settings_file(&ctx.env).map_err(|e| e.to_string())?;
    let config_path = paths::config_file(&ctx.env).map_err(|e| e.to_string())?;
    let rec_path = record_path(ctx).ok_or("cannot locate the state directory: set HOME or XDG_STATE_HOME")?;
    let mut record = read_record(&rec_path)?;
    let wiring = wiring(ctx)?;
    for p in [&wiring.export, &wiring.refresh, &wiring.statusline] {
        if !p.exists() {
            out::err(&format!("warning: {} does not exist; install the hook binaries next to this one", p.display()));
        }
    }

    // Our config.json first: once the status line is ours, the user's command must be there.
    let config_before = fsutil::read_optional(&config_path).map_err(|e| e.to_string())?;
    let mut config_text = config_before.clone();
    let mut config_created = false;
    if config_text.is_none() {
        config_text = Some(config::example_json());
        config_created = true;
        out::line(&format!("config:   {} {would}created from the example (mode 0600)", config_path.display()));
    } else {
        out::line(&format!("config:   {} exists", config_path.display()));
    }

    let settings_text = cs::read_settings(&settings_path).map_err(|e| e.to_string())?;
    let policy = if status_line { StatusLinePolicy::Compose } else { StatusLinePolicy::IfAbsent };
    let plan = cs::plan(settings_text.as_deref(), &settings_path, &wiring, &Options { status_line: policy })
        .map_err(|e| e.to_string())?;
    if let Some(cmd) = &plan.moved_status_line_cmd {
        let updated = cs::set_string_member(config_text.as_deref(), &config_path, cs::STATUS_LINE_CMD_KEY, cmd)
            .map_err(|e| e.to_string())?;
        if let Some(t) = updated {
            config_text = Some(t);
            out::line(&format!(
                "config:   \"{}\" {would}set to {} (your status line, shown before ours)",
                cs::STATUS_LINE_CMD_KEY,
                serde_json::Value::String(cmd.clone())
            ));
        }
    }
    let config_changed = config_text != config_before;
    if dry {
        if config_changed && !config_created {
            out::print(&cs::diff(config_before.as_deref().unwrap_or(""), config_text.as_deref().unwrap_or("")));
        }
    } else if config_changed && let Some(t) = &config_text {
        write_private(&config_path, t, config_created)?;
        match &mut record.config {
            Some(c) if c.path == config_path => c.written = t.clone(),
            _ => {
                record.config =
                    Some(ConfigRecord { path: config_path.clone(), original: config_before, written: t.clone() })
            }
        }
    }

    match &plan.new_text {
        None => out::line(&format!("settings: {} unchanged", settings_path.display())),
        Some(new_text) => {
            out::line(&format!("settings: {} {would}changed:", settings_path.display()));
            print_changes(&plan);
            if dry {
                out::print(&cs::diff(settings_text.as_deref().unwrap_or(""), new_text));
            } else {
                // The record first: a crash after the edit must still allow an exact uninstall.
                if let Some(r) = &plan.record {
                    record.settings_path = Some(settings_path.clone());
                    record.settings.push(r.clone());
                    write_record(&rec_path, &record)?;
                }
                match cs::apply(&settings_path, &plan, ctx.now) {
                    Ok(Some(b)) => out::line(&format!("  backup: {}", b.display())),
                    Ok(None) => out::line("  (new file, no backup)"),
                    Err(e) => {
                        record.settings.pop();
                        let _ = write_record(&rec_path, &record);
                        return Err(e.to_string());
                    }
                }
            }
        }
    }
    if !dry && config_changed && plan.new_text.is_none() {
        write_record(&rec_path, &record)?;
    }
    for h in &plan.hints {
        out::line(&format!("note:     {h}"));
    }
    let changed = config_changed || plan.new_text.is_some();
    out::line(match (changed, dry) {
        (false, _) => "setup: no changes",
        (true, true) => "setup: dry run, nothing written",
        (true, false) => "setup: done; restart Claude Code sessions to pick up the changes",
    });
    Ok(())
}

fn undo(ctx: &Ctx, dry: bool) -> Result<(), String> {
    let would = if dry { "would be " } else { "" };
    let rec_path = record_path(ctx).ok_or("cannot locate the state directory: set HOME or XDG_STATE_HOME")?;
    let mut record = read_record(&rec_path)?;
    if record.settings.is_empty() && record.config.is_none() {
        out::line(&format!("setup: nothing recorded to undo ({} not found)", rec_path.display()));
        return Ok(());
    }
    if let Some(settings_path) = record.settings_path.clone() {
        // Newest first: each undo brings the file back to what the setup before it saw.
        let mut simulated = cs::read_settings(&settings_path).map_err(|e| e.to_string())?;
        let original = simulated.clone();
        while let Some(r) = record.settings.last().cloned() {
            let plan = cs::unplan(simulated.as_deref(), &settings_path, &r).map_err(|e| e.to_string())?;
            print_changes(&plan);
            for h in &plan.hints {
                out::line(&format!("note:     {h}"));
            }
            if !dry {
                cs::apply(&settings_path, &plan, ctx.now).map_err(|e| e.to_string())?;
                record.settings.pop();
                write_record(&rec_path, &record)?;
                simulated = cs::read_settings(&settings_path).map_err(|e| e.to_string())?;
            } else {
                record.settings.pop();
                if plan.remove_file {
                    simulated = None;
                } else if let Some(t) = plan.new_text {
                    simulated = Some(t);
                }
            }
        }
        if simulated == original {
            out::line(&format!("settings: {} unchanged", settings_path.display()));
        } else if simulated.is_none() {
            out::line(&format!("settings: {} {would}removed (setup created it)", settings_path.display()));
        } else {
            out::line(&format!("settings: {} {would}restored", settings_path.display()));
            if dry {
                out::print(&cs::diff(original.as_deref().unwrap_or(""), simulated.as_deref().unwrap_or("")));
            }
        }
    }
    if let Some(c) = record.config.take() {
        let current = fsutil::read_optional(&c.path).map_err(|e| e.to_string())?;
        if current.as_deref() == Some(c.written.as_str()) {
            match &c.original {
                None => {
                    if !dry {
                        std::fs::remove_file(&c.path)
                            .map_err(|e| format!("cannot remove {}: {e}", c.path.display()))?;
                    }
                    out::line(&format!("config:   {} {would}removed (setup created it)", c.path.display()));
                }
                Some(orig) => {
                    if !dry {
                        write_private(&c.path, orig, false)?;
                    }
                    out::line(&format!("config:   {} {would}restored", c.path.display()));
                }
            }
        } else {
            out::line(&format!(
                "config:   {} changed since setup; left as is (remove \"{}\" yourself if you no longer want it)",
                c.path.display(),
                cs::STATUS_LINE_CMD_KEY
            ));
        }
    }
    if !dry {
        let _ = std::fs::remove_file(&rec_path);
    }
    out::line(if dry { "setup --uninstall: dry run, nothing written" } else { "setup --uninstall: done" });
    Ok(())
}
