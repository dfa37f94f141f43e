//! Our event log: `$XDG_STATE_HOME/cc-aws-keepalive/keepalive.log`, one line
//! per event, size-rotated. Metadata only: callers never pass secrets.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ctx::Ctx;
use crate::fsutil::{self, SECRET_DIR_MODE};

/// Rotate when the log passes this size; keep this many old files.
pub const MAX_BYTES: u64 = 512 * 1024;
pub const KEEP: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

pub fn log_path(ctx: &Ctx) -> Option<PathBuf> {
    crate::paths::log_file(&ctx.env).ok()
}

/// Appends one line; logging never fails the caller.
pub fn write(ctx: &Ctx, level: Level, component: &str, msg: &str) {
    if let Some(path) = log_path(ctx) {
        let line = format!(
            "{} {} {}[{}]: {}\n",
            crate::expiry::to_iso8601(ctx.now),
            level.as_str(),
            component,
            std::process::id(),
            msg.replace(['\n', '\r'], " ")
        );
        let _ = append(&path, &line, MAX_BYTES);
    }
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Appends `line`, first rotating `path` → `path.1` → … → `path.KEEP` when it
/// has reached `max_bytes`.
pub fn append(path: &Path, line: &str, max_bytes: u64) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, SECRET_DIR_MODE).map_err(std::io::Error::other)?;
    }
    if std::fs::metadata(path).map(|m| m.len() >= max_bytes).unwrap_or(false) {
        for n in (1..KEEP).rev() {
            let _ = std::fs::rename(rotated(path, n), rotated(path, n + 1));
        }
        let _ = std::fs::rename(path, rotated(path, 1));
    }
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    // One write call per line: O_APPEND keeps concurrent writers' lines whole.
    opts.open(path)?.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_a_bounded_number() {
        let dir = std::env::temp_dir().join(format!("kc-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("k.log");
        for i in 0..50 {
            append(&path, &format!("line {i:04} ........................\n"), 100).unwrap();
        }
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 1 + KEEP);
        assert!(std::fs::metadata(&path).unwrap().len() <= 100 + 40);
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 0049"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
