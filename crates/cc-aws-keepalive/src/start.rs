//! `cc-aws-keepalive session-start`: the plugin's `SessionStart` hook (keepalive-core's
//! `hooks::start`). Reads the hook's JSON on stdin, prints at most one systemMessage, and
//! always exits 0: a start hook must never fail a session.

use std::process::ExitCode;

use keepalive_core::ctx::Ctx;
use keepalive_core::hooks;
use keepalive_core::install::Source;

use crate::hook_io;

pub const HELP: &str = "\
The plugin's SessionStart hook (Claude Code runs it; you need not): copies the
plugin's binaries to the stable place settings.json names when they are missing
or older, says which setup command to run when settings.json is not wired yet,
and when the AWS session ends if that is within the next 10 hours. Reads the
hook's JSON on stdin; prints at most one {\"systemMessage\": …}; always exits 0.

Usage: cc-aws-keepalive session-start
";

pub fn run(ctx: &Ctx) -> ExitCode {
    let stdin = hook_io::read_stdin();
    // The binaries next to this one are the plugin's (its launcher picked this platform's).
    let source = crate::setup::own_bin_dir().ok().map(|bin_dir| Source {
        bin_dir,
        version: env!("CARGO_PKG_VERSION").to_string(),
        plugin_dir: None,
    });
    let path_var = std::env::var_os("PATH");
    let out = hooks::start::run(ctx, &stdin, source.as_ref(), path_var.as_deref());
    let _ = hook_io::emit(&out);
    ExitCode::SUCCESS
}
