//! `cc-aws-keepalive logs [-f] [-n N]`: the last lines of our event log,
//! across its rotated files, and following it through rotation.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive_core::ctx::Ctx;
use keepalive_core::log;

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Show the event log (metadata only: never a token or key).

Usage: cc-aws-keepalive logs [-f] [-n N]

Options:
  -n, --lines N   show the last N lines (default 50; 0: none, with -f only new ones)
  -f, --follow    keep printing new lines as they are written (Ctrl-C to stop)
  -h, --help      show this help

The log is $XDG_STATE_HOME/cc-aws-keepalive/keepalive.log (default
~/.local/state/cc-aws-keepalive/keepalive.log), rotated at 512 KiB into .1, .2, .3.
";

/// How often `-f` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let follow = args.flag(&["-f", "--follow"]);
    let n = match args.value(&["-n", "--lines"])? {
        None => 50,
        Some(v) => v.parse::<usize>().map_err(|_| args.usage(format!("-n needs a whole number, not {v:?}")))?,
    };
    args.finish()?;
    let Some(path) = log::log_path(ctx) else {
        out::err("cc-aws-keepalive: cannot locate the log: HOME is not set (set HOME or XDG_STATE_HOME)");
        return Ok(cli::FAILURE);
    };
    let lines = last_lines(&path, n);
    if lines.is_empty() && !follow && !path.exists() {
        out::err(&format!("no log yet at {}", path.display()));
        return Ok(cli::OK);
    }
    for l in &lines {
        if !out::try_line(l) {
            return Ok(cli::OK);
        }
    }
    if follow {
        follow_file(&path);
    }
    Ok(cli::OK)
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The last `n` lines of the log, reaching into rotated files when the
/// current one has fewer.
pub fn last_lines(path: &Path, n: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = (1..=log::KEEP).rev().map(|i| rotated(path, i)).collect();
    files.push(path.to_path_buf());
    let mut lines: Vec<String> = Vec::new();
    // Newest file first, prepending older ones until we have enough.
    for f in files.iter().rev() {
        if lines.len() >= n {
            break;
        }
        if let Ok(Some(text)) = keepalive_core::fsutil::read_optional(f) {
            let mut chunk: Vec<String> = text.lines().map(str::to_string).collect();
            chunk.append(&mut lines);
            lines = chunk;
        }
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// Identity of the file at `path`, to notice rotation (a new file under the same name).
fn identity(path: &Path) -> Option<u64> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(m.ino())
    }
    #[cfg(not(unix))]
    {
        m.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos() as u64)
    }
}

/// Prints what is appended to the log from now on, until stdout closes.
fn follow_file(path: &Path) {
    let mut id = identity(path);
    let mut offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut partial = String::new();
    loop {
        std::thread::sleep(FOLLOW_POLL);
        let now_id = identity(path);
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if now_id != id || len < offset {
            // Rotated or truncated: the new file is read from its start.
            id = now_id;
            offset = 0;
            partial.clear();
        }
        if len <= offset {
            continue;
        }
        let Ok(mut f) = File::open(path) else { continue };
        if f.seek(SeekFrom::Start(offset)).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        // Bounded read per poll; the rest comes on the next one.
        if f.take(1024 * 1024).read_to_end(&mut buf).is_err() {
            continue;
        }
        offset += buf.len() as u64;
        partial.push_str(&String::from_utf8_lossy(&buf));
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            if !out::try_line(line.trim_end_matches(['\n', '\r'])) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_spans_rotated_files() {
        let dir = std::env::temp_dir().join(format!("cka-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k.log");
        std::fs::write(rotated(&p, 2), "a\nb\n").unwrap();
        std::fs::write(rotated(&p, 1), "c\nd\n").unwrap();
        std::fs::write(&p, "e\n").unwrap();
        assert_eq!(last_lines(&p, 2), ["d", "e"]);
        assert_eq!(last_lines(&p, 4), ["b", "c", "d", "e"]);
        assert_eq!(last_lines(&p, 100), ["a", "b", "c", "d", "e"]);
        assert!(last_lines(&p, 0).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
