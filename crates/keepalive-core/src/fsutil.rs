//! Safe file writes: temp file in the same directory + rename, explicit modes,
//! timestamped backups before we edit a user's file.
//!
//! Three situations real machines add to the textbook temp-and-rename:
//!
//! - **Symlinks** (GNU stow, yadm, home-manager): a write to a link replaces the file the link
//!   finally points to, atomically in *that* file's directory; the link stays a link.
//! - **A file that cannot be renamed over** (a single file bind-mounted into a devcontainer:
//!   `rename` answers EBUSY; also EXDEV, EPERM): the content is written into the file itself.
//!   Not atomic, but the only write such a file allows.
//! - **Writes that must not fail after something irreversible** (a refresh that rotates a
//!   single-use refresh token): [`prepare_write`] creates the temp file and fills it to a
//!   generous size *before* the irreversible step, so a full disk shows up while nothing is
//!   lost yet; [`PreparedWrite::commit`] then only overwrites blocks already allocated.

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
    #[error(
        "cannot write {path}: it is a symbolic link that leads to another link more than {limit} times; fix the link"
    )]
    LinkLoop { path: PathBuf, limit: usize },
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
///
/// A symlink stays a symlink: the file it points to is replaced, in its own
/// directory. A file that refuses to be renamed over (a bind-mounted single
/// file) is rewritten in place instead.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let prepared = prepare_write(path, 0, mode)?;
    match prepared.commit(contents) {
        Ok(()) => Ok(()),
        Err(CommitError::RenameRefused { target, mode, .. }) => write_in_place(&target, contents, Some(mode)),
        Err(CommitError::Failed(e)) => Err(e),
    }
}

/// Most symlinks followed from one path (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// The file a write to `path` replaces: `path` itself, or the file its chain of symlinks
/// ends at (which need not exist yet). Directories on the way are not resolved: only the
/// last component decides where the temp file goes.
pub fn write_target(path: &Path) -> Result<PathBuf, FsError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link =
                    fs::read_link(&current).map_err(|source| FsError::Write { path: current.clone(), source })?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(FsError::LinkLoop { path: path.to_path_buf(), limit: MAX_LINKS })
}

/// A temp file next to the file it will replace, already holding the space the
/// new content needs. Dropped without [`PreparedWrite::commit`], it removes the temp file.
#[derive(Debug)]
pub struct PreparedWrite {
    /// The file to replace (symlinks resolved).
    target: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    mode: u32,
}

/// Why [`PreparedWrite::commit`] did not replace the file.
#[derive(Debug)]
pub enum CommitError {
    /// The temp file is complete but the target refused the rename (EBUSY: a bind-mounted
    /// single file; EXDEV; EPERM/EACCES): only an in-place write ([`write_in_place`]) can
    /// update it. The temp file has been removed.
    RenameRefused { target: PathBuf, mode: u32, source: io::Error },
    /// Writing the temp file or renaming it failed otherwise; nothing changed.
    Failed(FsError),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitError::RenameRefused { target, source, .. } => {
                write!(f, "cannot replace {}: {source} (renaming over it is refused)", target.display())
            }
            CommitError::Failed(e) => e.fmt(f),
        }
    }
}

/// Creates the temp file for replacing `path` (symlinks resolved) and fills it with
/// `reserve` zero bytes, synced, so that a full disk or a read-only directory is an error
/// now rather than after an irreversible step. `mode` as in [`write_atomic`]. Zeros, not
/// the current content: a temp file left behind by a kill holds no secret.
pub fn prepare_write(path: &Path, reserve: usize, mode: Option<u32>) -> Result<PreparedWrite, FsError> {
    let target = write_target(path)?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        mode.unwrap_or_else(|| fs::metadata(&target).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644))
    };
    #[cfg(not(unix))]
    let mode = mode.unwrap_or(0o644);
    let tmp = tmp_path(&target);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let file = opts.open(&tmp).map_err(|source| FsError::Write { path: target.clone(), source })?;
    // From here on, Drop removes the temp file whatever fails.
    let mut prepared = PreparedWrite { target, tmp, file: Some(file), mode };
    let result = (|| {
        let Some(f) = prepared.file.as_mut() else { return Ok(()) };
        // The umask may have narrowed the mode; set it exactly.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        if reserve > 0 {
            // Real bytes, not `set_len`: a sparse file reserves nothing, so ENOSPC
            // would only show when the content is written.
            let zeros = [0u8; 8192];
            let mut left = reserve;
            while left > 0 {
                let n = left.min(zeros.len());
                f.write_all(&zeros[..n])?;
                left -= n;
            }
            f.sync_data()?;
        }
        Ok(())
    })();
    result.map_err(|source| FsError::Write { path: prepared.target.clone(), source })?;
    Ok(prepared)
}

impl PreparedWrite {
    /// The file this write replaces (symlinks resolved).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `contents` over the reserved space, syncs, and renames the temp file over the
    /// target. On [`CommitError::RenameRefused`] the caller decides whether to write in place.
    pub fn commit(mut self, contents: &[u8]) -> Result<(), CommitError> {
        let failed = |target: &Path, source| CommitError::Failed(FsError::Write { path: target.to_path_buf(), source });
        let Some(mut f) = self.file.take() else {
            return Err(failed(&self.target, io::Error::other("the prepared write was already used")));
        };
        let filled = (|| {
            use std::io::Seek;
            f.seek(io::SeekFrom::Start(0))?;
            f.write_all(contents)?;
            // Drops the rest of the reservation (never needs space).
            f.set_len(contents.len() as u64)?;
            f.sync_all()
        })();
        drop(f);
        if let Err(e) = filled {
            return Err(failed(&self.target, e));
        }
        if let Err(e) = fs::rename(&self.tmp, &self.target) {
            let refused = matches!(
                e.kind(),
                io::ErrorKind::ResourceBusy | io::ErrorKind::CrossesDevices | io::ErrorKind::PermissionDenied
            );
            return Err(if refused {
                CommitError::RenameRefused { target: self.target.clone(), mode: self.mode, source: e }
            } else {
                failed(&self.target, e)
            });
        }
        // Renamed: nothing left for Drop to remove.
        self.tmp = PathBuf::new();
        // Make the rename durable; failure here loses nothing already visible.
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        remove_stale_temps(&self.target);
        Ok(())
    }
}

impl Drop for PreparedWrite {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Rewrites the existing file `path` (symlinks followed) with `contents` in place: for files
/// that cannot be replaced by a rename. The new bytes go over the old ones first and the
/// file is cut to length after, so a reader never finds it empty; it may briefly find a mix,
/// which no parser accepts as valid JSON. `mode`: set when given (best effort: a
/// bind-mounted file may not allow it).
pub fn write_in_place(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let err = |source| FsError::Write { path: path.to_path_buf(), source };
    let mut f = OpenOptions::new().write(true).open(path).map_err(err)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    f.write_all(contents).map_err(err)?;
    f.set_len(contents.len() as u64).map_err(err)?;
    f.sync_all().map_err(err)
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

    #[cfg(unix)]
    #[test]
    fn writes_go_through_symlinks_and_keep_them() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let d = tmpdir("links");
        let dotfiles = d.join("dotfiles/claude");
        fs::create_dir_all(&dotfiles).unwrap();
        fs::create_dir_all(d.join("home/.claude")).unwrap();
        let real = dotfiles.join("settings.json");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        // A relative link to a relative link (stow makes relative links).
        let link = d.join("home/.claude/settings.json");
        symlink("../../dotfiles/claude/middle.json", &link).unwrap();
        symlink("settings.json", dotfiles.join("middle.json")).unwrap();
        assert_eq!(write_target(&link).unwrap(), d.join("home/.claude/../../dotfiles/claude/settings.json"));

        write_atomic(&link, b"new", None).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert!(fs::symlink_metadata(dotfiles.join("middle.json")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640, "the target's mode kept");
        // The temp file lived next to the target, not next to the link, and is gone.
        assert_eq!(fs::read_dir(d.join("home/.claude")).unwrap().count(), 1);
        assert_eq!(fs::read_dir(&dotfiles).unwrap().count(), 2);

        // A dangling link: its target is created.
        let dangling = d.join("home/.claude/new.json");
        symlink("../../dotfiles/claude/new.json", &dangling).unwrap();
        write_atomic(&dangling, b"x", Some(0o600)).unwrap();
        assert_eq!(fs::read_to_string(dotfiles.join("new.json")).unwrap(), "x");
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());

        // A loop is an error naming the path, not a hang.
        let a = d.join("a");
        symlink("b", &a).unwrap();
        symlink("a", d.join("b")).unwrap();
        let e = write_atomic(&a, b"x", None).unwrap_err().to_string();
        assert!(e.contains(&a.display().to_string()) && e.contains("link"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_prepared_write_reserves_space_first_and_cleans_up() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("prepared");
        let p = d.join("token.json");
        fs::write(&p, "old").unwrap();
        let prepared = prepare_write(&p, 20_000, Some(0o600)).unwrap();
        let temps: Vec<_> = fs::read_dir(&d).unwrap().flatten().filter(|e| e.file_name() != "token.json").collect();
        assert_eq!(temps.len(), 1);
        let meta = temps[0].metadata().unwrap();
        assert_eq!(meta.len(), 20_000, "the space is taken before the irreversible step");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(temps[0].path()).unwrap().iter().filter(|b| **b != 0).count(), 0, "zeros only");
        prepared.commit(b"new").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);

        // Abandoned (the refresh failed): the temp file goes away.
        drop(prepare_write(&p, 100, Some(0o600)).unwrap());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");

        // A directory we cannot write into fails at preparation, naming the file.
        let ro = d.join("ro");
        fs::create_dir(&ro).unwrap();
        fs::write(ro.join("t.json"), "x").unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o500)).unwrap();
        // root ignores directory permissions: only check where they apply.
        if File::create(ro.join("probe")).is_err() {
            let e = prepare_write(&ro.join("t.json"), 10, None).unwrap_err().to_string();
            assert!(e.contains("t.json"), "{e}");
        }
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o700)).unwrap();

        // In place: same bytes, same inode.
        use std::os::unix::fs::MetadataExt;
        let before = fs::metadata(&p).unwrap().ino();
        write_in_place(&p, b"a longer content", Some(0o600)).unwrap();
        write_in_place(&p, b"short", None).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "short");
        assert_eq!(fs::metadata(&p).unwrap().ino(), before);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn write_into_missing_dir_names_the_path() {
        let p = std::env::temp_dir().join("kc-no-such-dir-xyz/file");
        let e = write_atomic(&p, b"x", None).unwrap_err().to_string();
        assert!(e.contains("kc-no-such-dir-xyz"), "{e}");
    }
}
