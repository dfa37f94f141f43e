//! `statusLine`: one line with the time left on the AWS credentials.

use std::io::Write;
use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

#[path = "../hook_io.rs"]
mod hook_io;

fn main() -> ExitCode {
    let stdin = hook_io::read_stdin();
    let ctx = Ctx::from_process();
    let line = hooks::statusline::run(&ctx, &stdin);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}
