//! `UserPromptSubmit` hook: warns before a login is needed; never blocks.

use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    if let Some(code) = hooks::background_entry(std::env::args_os().nth(1).as_deref()) {
        return ExitCode::from(code);
    }
    let stdin = hook_io::read_stdin();
    let ctx = Ctx::from_process();
    let out = hooks::check::run(&ctx, &stdin);
    // Whatever happened, the prompt goes through.
    let _ = hook_io::emit(&out);
    ExitCode::SUCCESS
}
