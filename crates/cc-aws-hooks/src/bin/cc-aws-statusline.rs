//! `statusLine`: one line with the time left on the AWS credentials.

use std::io::Write;
use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

fn main() -> ExitCode {
    let stdin = cc_aws_hooks::read_stdin();
    let ctx = Ctx::from_process();
    let line = hooks::statusline::run(&ctx, &stdin);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}
