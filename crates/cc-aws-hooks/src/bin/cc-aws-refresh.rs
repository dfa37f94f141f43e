//! `awsAuthRefresh`: makes fresh credentials exist, or says what to run.

use std::io::Write;
use std::process::ExitCode;

use keepalive_core::{ctx::Ctx, hooks};

fn main() -> ExitCode {
    let ctx = Ctx::from_process();
    let mut stdout = std::io::stdout();
    let code = hooks::refresh::run(&ctx, &mut |line| {
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    });
    ExitCode::from(code)
}
