//! `cc-aws-keepalive setup [--dry-run] [--statusline|--no-statusline] [--uninstall]`: the
//! installer in keepalive-core (`install`), fed with the binaries next to this one; prints its
//! report. `cargo xtask install` and the plugin's start hook use the same installer.

use std::path::PathBuf;

use keepalive_core::claude_settings::StatusLinePolicy;
use keepalive_core::ctx::Ctx;
use keepalive_core::install::{self, Request, Source};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Install for Claude Code: copy the five binaries next to this one to a stable
place, create config.json from the example when missing, wire
awsCredentialExport, awsAuthRefresh and statusLine (refreshed every 30 s) into
Claude Code's settings.json, and link cc-aws-keepalive into ~/.local/bin.
Edits are minimal (the rest of settings.json is kept byte for byte) and a
timestamped backup is made first. Running it again changes nothing.

Usage: cc-aws-keepalive setup [--dry-run] [--statusline | --no-statusline]
       cc-aws-keepalive setup --uninstall [--dry-run]

Options:
  --dry-run        show what would change (with a diff); change nothing
  --statusline     you have a status line: show it before the AWS timer (your
                   command moves into config.json as statusLineCmd)
  --no-statusline  leave statusLine alone
  --uninstall      undo what setups and `cargo xtask install` changed (exactly,
                   from their record); the binaries stay for the plugin's hooks
  -h, --help       show this help

Files: the binaries go to $XDG_DATA_HOME/cc-aws-keepalive/current/bin
(~/.local/share/…), which settings.json names (it survives upgrades);
settings.json is $CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json;
the record of changes is $XDG_STATE_HOME/cc-aws-keepalive/setup.json.
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let dry = args.flag(&["--dry-run", "-n"]);
    let compose = args.flag(&["--statusline"]);
    let skip = args.flag(&["--no-statusline"]);
    let uninstall = args.flag(&["--uninstall"]);
    if compose && skip {
        return Err(args.usage("--statusline and --no-statusline contradict each other"));
    }
    if uninstall && (compose || skip) {
        return Err(args.usage("--statusline and --no-statusline have no meaning with --uninstall"));
    }
    args.finish()?;
    let say = &mut |line: &str| out::line(line);
    let result = if uninstall {
        install::uninstall(ctx, dry, say).map_err(|e| e.to_string())
    } else {
        let status_line = match (compose, skip) {
            (true, _) => StatusLinePolicy::Compose,
            (_, true) => StatusLinePolicy::Skip,
            _ => StatusLinePolicy::IfAbsent,
        };
        own_bin_dir().and_then(|bin_dir| {
            let source = Source { bin_dir, version: env!("CARGO_PKG_VERSION").to_string(), plugin_dir: None };
            let path_var = std::env::var_os("PATH");
            let req = Request { command: "setup", source, status_line, dry_run: dry, path_var: path_var.as_deref() };
            install::install(ctx, &req, say).map_err(|e| e.to_string())
        })
    };
    match result {
        Ok(_) => Ok(cli::OK),
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: {e}"));
            Ok(cli::FAILURE)
        }
    }
}

/// The directory of this program, symlinks resolved: run through `~/.local/bin`, that is the
/// installed version's `bin/`, which holds the other four binaries.
pub fn own_bin_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's own path ({e})"))?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    exe.parent().map(PathBuf::from).ok_or_else(|| "this program's path has no directory".to_string())
}
