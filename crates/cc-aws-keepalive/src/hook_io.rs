//! The little the hook binaries (`src/bin/`) share: reading stdin, printing an output. Each
//! includes this file as a module (`#[path]`), so a binary that needs only one of the two
//! would warn about the other.
#![allow(dead_code, reason = "included by every hook binary, each using what it needs")]

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use keepalive_core::hook_io::MAX_STDIN;
use keepalive_core::hooks::Output;
use keepalive_core::hooks::engine::{self, Hook};

/// Reads stdin up to [`MAX_STDIN`] bytes; nothing when it is a terminal (run by
/// hand) so we never wait for typing.
pub fn read_stdin() -> Vec<u8> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = stdin.lock().take(MAX_STDIN as u64).read_to_end(&mut buf);
    buf
}

/// Prints an [`Output`] and turns its code into the exit code. A closed stdout
/// or stderr is ignored rather than a panic.
pub fn emit(out: &Output) -> ExitCode {
    {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.stdout.as_bytes());
        let _ = stdout.flush();
    }
    let mut stderr = std::io::stderr().lock();
    for line in &out.stderr {
        let _ = writeln!(stderr, "{line}");
    }
    ExitCode::from(out.code)
}

/// Leaves this hook's run to the engine (see `keepalive_core::hooks::engine`); returns only
/// when it cannot be started, saying why on stderr (`name`: this binary).
pub fn hand_off(hook: Hook, name: &str) -> ExitCode {
    match engine::hand_off(hook) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
