//! Safe file writes: temp file in the same directory + rename, explicit modes,
//! timestamped backups before we edit a user's file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source} (check the directory's permissions and free space)")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot create directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {limit} bytes; refusing to read it")]
    TooLarge { path: PathBuf, limit: u64 },
}

/// Mode for files holding secrets (tokens, keys).
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode for directories we create to hold secrets.
pub const SECRET_DIR_MODE: u32 = 0o700;

/// Files we parse are small; a bigger one is a mistake, not input.
pub const MAX_READ: u64 = 4 * 1024 * 1024;

/// Reads a whole file as UTF-8 (lossy), bounded by [`MAX_READ`].
/// `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, FsError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(FsError::Read { path: path.to_path_buf(), source }),
    };
    let mut buf = Vec::new();
    file.take(MAX_READ + 1)
        .read_to_end(&mut buf)
        .map_err(|source| FsError::Read { path: path.to_path_buf(), source })?;
    if buf.len() as u64 > MAX_READ {
        return Err(FsError::TooLarge { path: path.to_path_buf(), limit: MAX_READ });
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Creates `dir` and missing parents; directories we create get `mode`.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), FsError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder.create(dir).map_err(|source| FsError::CreateDir { path: dir.to_path_buf(), source })
}

static TMP_COUNTER: AtomicU32 = AtomicU32::new(0);

fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    path.with_file_name(format!(".{name}.tmp.{}.{n}.{nanos}", std::process::id()))
}

/// Replaces `path` with `contents` atomically: readers see the old file or the
/// new one, never a mix. `mode`: the new file's permissions; `None` keeps the
/// existing file's mode (0644 for a new file). The parent must exist.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let err = |source| FsError::Write { path: path.to_path_buf(), source };
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        mode.unwrap_or_else(|| fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644))
    };
    let tmp = tmp_path(path);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        // The umask may have narrowed the mode; set it exactly.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    // Make the rename durable; failure here loses nothing already visible.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    remove_stale_temps(path);
    Ok(())
}

/// A temp file older than this was left by a writer that was killed: a live
/// write takes milliseconds.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Removes the temp files of `path` that killed writers left between creating
/// and renaming them: they may hold secrets (a rotated refresh token), and
/// `aws sso logout` does not look at them.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!(".{}.tmp.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(&prefix)
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= STALE_TEMP_AGE));
        if stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether [`write_atomic`] could replace `path` now: creates and removes a
/// temp file next to it. For writes that must not fail after something
/// irreversible (a refresh that rotates the refresh token).
pub fn check_writable(path: &Path) -> Result<(), FsError> {
    let tmp = tmp_path(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    // Closed before the removal (Windows cannot remove an open file).
    let result = OpenOptions::new().write(true).create_new(true).open(&tmp).map(drop);
    if result.is_ok() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|source| FsError::Write { path: dir.to_path_buf(), source })
}

/// Copies `path` to `<path>.bak-<UTC timestamp>` (same mode) before we edit it.
/// Returns the backup's path, or `None` when there was nothing to back up.
pub fn backup(path: &Path, now: time::OffsetDateTime) -> Result<Option<PathBuf>, FsError> {
    let Some(contents) = read_optional_bytes(path)? else {
        return Ok(None);
    };
    let stamp = crate::expiry::compact_stamp(now);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut target = path.with_file_name(format!("{name}.bak-{stamp}"));
    let mut n = 1;
    while target.exists() && n < 100 {
        target = path.with_file_name(format!("{name}.bak-{stamp}-{n}"));
        n += 1;
    }
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).ok()
    };
    #[cfg(not(unix))]
    let mode = None;
    write_atomic(&target, &contents, mode)?;
    Ok(Some(target))
}

fn read_optional_bytes(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FsError::Read { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kc-fsutil-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_sets_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("modes");
        let p = d.join("secret.json");
        write_atomic(&p, b"one", Some(0o600)).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        write_atomic(&p, b"two", None).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        // No temp files left behind.
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_write_removes_temp_files_killed_writers_left() {
        let d = tmpdir("stale");
        let p = d.join("token.json");
        let stale = d.join(".token.json.tmp.1.2.3");
        let fresh = d.join(".token.json.tmp.4.5.6");
        let other = d.join(".other.json.tmp.1.2.3");
        for f in [&stale, &fresh, &other] {
            fs::write(f, "{}").unwrap();
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for f in [&stale, &other] {
            File::options().write(true).open(f).unwrap().set_modified(old).unwrap();
        }
        write_atomic(&p, b"x", Some(0o600)).unwrap();
        assert!(!stale.exists(), "stale temp file of this target removed");
        assert!(fresh.exists(), "a temp file that may belong to a live writer is kept");
        assert!(other.exists(), "other targets' temp files are theirs");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn backup_copies_and_names_by_time() {
        let d = tmpdir("backup");
        let p = d.join("settings.json");
        assert!(backup(&p, time::OffsetDateTime::UNIX_EPOCH).unwrap().is_none());
        fs::write(&p, "{}").unwrap();
        let b = backup(&p, time::OffsetDateTime::UNIX_EPOCH).unwrap().unwrap();
        assert!(b.to_string_lossy().ends_with("settings.json.bak-19700101T000000Z"), "{b:?}");
        let b2 = backup(&p, time::OffsetDateTime::UNIX_EPOCH).unwrap().unwrap();
        assert_ne!(b, b2);
        assert_eq!(fs::read_to_string(b).unwrap(), "{}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn write_into_missing_dir_names_the_path() {
        let p = std::env::temp_dir().join("kc-no-such-dir-xyz/file");
        let e = write_atomic(&p, b"x", None).unwrap_err().to_string();
        assert!(e.contains("kc-no-such-dir-xyz"), "{e}");
    }
}
