//! `cc-aws-keepalive __hook export|refresh`: a hook binary's run, handed over when it needs
//! the network or a login (see `keepalive_core::hooks::engine`). Prints exactly what the hook
//! binary would have printed, on the streams and with the exit code Claude Code expects.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use keepalive_core::ctx::Ctx;
use keepalive_core::hooks::{self, engine::Hook};

use crate::{cli, hook_io, out};

pub fn run(word: Option<&OsStr>) -> ExitCode {
    let Some(hook) = word.and_then(Hook::parse) else {
        out::err("cc-aws-keepalive: __hook is run by the hook binaries: __hook export|refresh");
        return ExitCode::from(cli::USAGE);
    };
    let ctx = Ctx::from_process();
    match hook {
        Hook::Export => hook_io::emit(&hooks::export::run(&ctx, std::io::stdout().is_terminal())),
        Hook::Refresh => {
            // Claude Code shows this output to the user, line by line as it comes.
            let mut stdout = std::io::stdout();
            let code = hooks::refresh::run(&ctx, &mut |line| {
                let _ = writeln!(stdout, "{line}");
                let _ = stdout.flush();
            });
            ExitCode::from(code)
        }
    }
}
