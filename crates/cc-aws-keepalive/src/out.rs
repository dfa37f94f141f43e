//! Printing: the only place this binary writes to stdout/stderr. A closed pipe
//! (`… | head`) ends the output quietly instead of panicking.

use std::io::{IsTerminal, Write};

/// Prints text as is (callers add newlines).
pub fn print(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Prints one line.
pub fn line(text: &str) {
    let _ = try_line(text);
}

/// Prints one line; `false` when stdout is gone (the reader quit).
pub fn try_line(text: &str) -> bool {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{text}").and_then(|()| o.flush()).is_ok()
}

/// Writes a prompt to stderr without a newline.
pub fn err_inline(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

pub fn err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
}

/// Colours only on a terminal, and never with `NO_COLOR`.
pub fn colour(ctx: &keepalive_core::ctx::Ctx) -> bool {
    ctx.colour() && std::io::stdout().is_terminal()
}
