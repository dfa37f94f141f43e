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

/// The width to fit human output to: `COLUMNS` when set, else the terminal's when stdout is
/// one (asked of `stty`, as std has no safe call for it), else none: piped output is not
/// wrapped, so scripts and `grep` see whole lines.
pub fn width(ctx: &keepalive_core::ctx::Ctx) -> Option<usize> {
    static WIDTH: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *WIDTH.get_or_init(|| find_width(ctx))
}

fn find_width(ctx: &keepalive_core::ctx::Ctx) -> Option<usize> {
    if let Some(n) = ctx.env.get(keepalive_core::env::vars::COLUMNS).and_then(|c| c.trim().parse::<usize>().ok()) {
        return Some(n).filter(|n| *n > 0);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_columns()
}

#[cfg(unix)]
fn terminal_columns() -> Option<usize> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out =
        std::process::Command::new("stty").arg("size").stdin(tty).stderr(std::process::Stdio::null()).output().ok()?;
    // "rows cols"
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(1)?.parse().ok().filter(|n| *n > 0)
}

#[cfg(not(unix))]
fn terminal_columns() -> Option<usize> {
    None
}

/// Prints one line, wrapped to [`width`].
pub fn wrapped(ctx: &keepalive_core::ctx::Ctx, text: &str) {
    match width(ctx) {
        Some(w) => {
            for l in keepalive_core::text::wrap(text, w.max(keepalive_core::status_report::MIN_WIDTH)) {
                line(&l);
            }
        }
        None => line(text),
    }
}
