//! `awsAuthRefresh`: makes fresh credentials exist, or says what to run.

use std::io::Write;
use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

fn main() -> ExitCode {
    // Token refreshes re-execute this binary as a worker (and background work as a child).
    if let Some(code) = hooks::background_entry(std::env::args_os().nth(1).as_deref()) {
        return ExitCode::from(code);
    }
    let ctx = Ctx::from_process();
    let mut stdout = std::io::stdout();
    let code = hooks::refresh::run(&ctx, &mut |line| {
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    });
    ExitCode::from(code)
}
