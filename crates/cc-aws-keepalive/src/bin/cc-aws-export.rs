//! `awsCredentialExport`: prints the profile's credentials as Claude Code's JSON.

use std::io::IsTerminal;
use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    if let Some(code) = hooks::background_entry(std::env::args_os().nth(1).as_deref()) {
        return ExitCode::from(code);
    }
    let ctx = Ctx::from_process();
    let out = hooks::export::run(&ctx, std::io::stdout().is_terminal());
    hook_io::emit(&out)
}
