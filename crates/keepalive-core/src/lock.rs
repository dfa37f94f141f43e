//! Cross-process locks (`std::fs::File::lock`) so that many Claude Code
//! sessions running our hooks at once cause one refresh and one login.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fsutil::{self, FsError, SECRET_DIR_MODE};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Dir(#[from] FsError),
}

/// Held while alive; the OS releases it when dropped or when the process dies,
/// so a killed holder never leaves a stale lock.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|source| LockError::Open { path: path.to_path_buf(), source })
}

/// Takes the lock if it is free; `Ok(None)` if another process holds it.
pub fn try_lock(path: &Path) -> Result<Option<FileLock>, LockError> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FileLock { _file: file, path: path.to_path_buf() })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(LockError::Lock { path: path.to_path_buf(), source }),
    }
}

/// Waits at most `wait` for the lock; `Ok(None)` when it stayed busy. Polls
/// rather than blocking so the wait is bounded even if the holder is stuck.
pub fn lock_with_timeout(path: &Path, wait: Duration) -> Result<Option<FileLock>, LockError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(l) = try_lock(path)? {
            return Ok(Some(l));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Whether another process holds the lock right now (takes and drops it if free).
pub fn is_held(path: &Path) -> bool {
    matches!(try_lock(path), Ok(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_waits_then_gets_it() {
        let dir = std::env::temp_dir().join(format!("kc-lock-{}", std::process::id()));
        let path = dir.join("locks/a.lock");
        let held = try_lock(&path).unwrap().unwrap();
        // flock locks are per open file description, so a second open in this
        // process contends like another process would.
        assert!(try_lock(&path).unwrap().is_none());
        assert!(lock_with_timeout(&path, Duration::from_millis(30)).unwrap().is_none());
        let t = std::thread::spawn({
            let path = path.clone();
            move || lock_with_timeout(&path, Duration::from_secs(5)).unwrap().is_some()
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert!(t.join().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
