//! `UserPromptSubmit` hook: warns before a login is needed; never blocks.

use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    let stdin = hook_io::read_stdin();
    let ctx = Ctx::from_process();
    let out = hooks::check::run(&ctx, &stdin);
    // Whatever happened, the prompt goes through.
    let _ = hook_io::emit(&out);
    ExitCode::SUCCESS
}
