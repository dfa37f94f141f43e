//! The host's five binaries at a stable place: `<data>/versions/<name>/bin/`, with
//! `<data>/current` a relative symlink to the version in use.
//!
//! settings.json, the plugin's prompt hook and service files name `<data>/current/bin/…`, a
//! path no upgrade moves: `claude plugin update` leaves the old plugin directory to be pruned
//! 14 days later, and `cargo clean` empties `target/`; settings pointing there would break.
//!
//! An upgrade copies into a fresh version directory (a temp name first, renamed when complete)
//! and then switches `current` with one rename, so a hook starting mid-upgrade runs either the
//! old binaries or the new ones, never a half-copied file. A version directory is never
//! written into once it is named; a rebuild of the same version gets `<version>~2`. Afterwards
//! every version but the current and the previous one is removed (running processes keep their
//! unlinked executables; the previous one is what sessions started a moment ago may still
//! `exec`).

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::InstallError;
use crate::claude_settings::{EXPORT_BIN, REFRESH_BIN, STATUS_LINE_BIN};
use crate::ctx::Ctx;
use crate::{fsutil, lock, paths};

pub const CHECK_BIN: &str = "cc-aws-check";
pub const CLI_BIN: &str = "cc-aws-keepalive";
/// The binaries an install places, without the platform's executable suffix.
pub const BINARIES: [&str; 5] = [EXPORT_BIN, REFRESH_BIN, CHECK_BIN, STATUS_LINE_BIN, CLI_BIN];

/// In each version directory: its own name, so the version in use can be read through
/// `current` (a symlink on Unix, a copy where symlinks are not available).
const NAME_FILE: &str = "version";
/// Separates a version from the counter of a same-version rebuild (`0.2.0~2`); not a character
/// semver uses.
const REBUILD_SEP: char = '~';

/// `name` with the platform's executable suffix (`.exe` on Windows).
pub fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// Where an install takes the binaries from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The directory holding the five binaries: the plugin's `bin/<target>/` (its start hook
    /// passes its own directory), `target/dist/…/bin/<target>/` (`cargo xtask install`), the
    /// directory `cargo install` put them in (`setup` run from there).
    pub bin_dir: PathBuf,
    /// Their version.
    pub version: String,
    /// A plugin directory kept at `<version>/plugin`: the local marketplace `cargo xtask
    /// install` registers with Claude Code.
    pub plugin_dir: Option<PathBuf>,
}

/// How an existing installation of the same version is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Same version and every binary present: nothing to do (the start hook, on every session
    /// start: a few `stat`s).
    Version,
    /// Also byte for byte (setup, `cargo xtask install`: a rebuild keeps its version number).
    Contents,
}

/// The version in use, as `current` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// Its directory's name under `versions/`.
    pub name: String,
    pub version: String,
    /// Binaries missing from it (a damaged install).
    pub missing: Vec<String>,
}

/// What [`place`] did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// The version in use already is the source's.
    Unchanged { version: String },
    /// Copied to `versions/<name>`; `current` switched from `previous`.
    Installed { name: String, previous: Option<String> },
    /// The version in use is newer than the source's and complete: kept (a downgrade is
    /// something to do on purpose, not as a side effect).
    KeptNewer { installed: String, source: String },
    /// The source lacks some binaries; the complete version in use was kept.
    KeptIncompleteSource { installed: String, missing: Vec<String> },
}

/// The version `current` points at, `None` when nothing is installed.
pub fn current(ctx: &Ctx) -> Result<Option<Current>, InstallError> {
    let dir = paths::current_dir(&ctx.env)?;
    let name = match fs::read_to_string(dir.join(NAME_FILE)) {
        Ok(t) => t.trim().to_string(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A `current` without the name file (a damaged or foreign directory) counts as
            // nothing installed: the next install replaces it.
            return Ok(None);
        }
        Err(source) => return Err(InstallError::Io { what: "read", path: dir.join(NAME_FILE), source }),
    };
    let bin = dir.join("bin");
    let missing = BINARIES.iter().filter(|b| !bin.join(exe(b)).is_file()).map(|b| b.to_string()).collect();
    let version = version_of(&name).to_string();
    Ok(Some(Current { name, version, missing }))
}

/// The binaries of [`BINARIES`] missing from `dir`.
pub fn missing_in(dir: &Path) -> Vec<String> {
    BINARIES.iter().filter(|b| !dir.join(exe(b)).is_file()).map(|b| b.to_string()).collect()
}

/// The version part of a version directory's name.
fn version_of(name: &str) -> &str {
    name.split(REBUILD_SEP).next().unwrap_or(name)
}

/// Makes `current` hold the source's binaries, unless it already does or holds a newer
/// complete version. Serialised by the install lock (waiting at most `wait`), so sessions
/// starting together copy once.
pub fn place(ctx: &Ctx, source: &Source, check: Check, dry_run: bool, wait: Duration) -> Result<Placed, InstallError> {
    let missing_src = missing_in(&source.bin_dir);
    if let Some(done) = decide(ctx, source, check, &missing_src)? {
        return Ok(done);
    }
    let previous = current(ctx)?.map(|c| c.name);
    if dry_run {
        let name = fresh_name(&paths::versions_dir(&ctx.env)?, &source.version);
        return Ok(Placed::Installed { name, previous });
    }
    let lock_path = paths::install_lock(&ctx.env)?;
    let Some(_lock) = lock::lock_with_timeout(&lock_path, wait)? else {
        return Err(InstallError::Busy { path: lock_path });
    };
    // Another process may have installed while we waited.
    if let Some(done) = decide(ctx, source, check, &missing_src)? {
        return Ok(done);
    }
    let previous = current(ctx)?.map(|c| c.name);
    let name = install_version(ctx, source)?;
    prune(ctx, &[Some(name.as_str()), previous.as_deref()]);
    Ok(Placed::Installed { name, previous })
}

/// `Some` when nothing needs copying.
fn decide(ctx: &Ctx, source: &Source, check: Check, missing_src: &[String]) -> Result<Option<Placed>, InstallError> {
    let cur = current(ctx)?.filter(|c| c.missing.is_empty());
    let Some(cur) = cur else {
        if !missing_src.is_empty() {
            return Err(InstallError::MissingBinaries { dir: source.bin_dir.clone(), missing: missing_src.join(", ") });
        }
        return Ok(None);
    };
    if !missing_src.is_empty() {
        return Ok(Some(Placed::KeptIncompleteSource { installed: cur.name, missing: missing_src.to_vec() }));
    }
    let bin = paths::stable_bin_dir(&ctx.env)?;
    // `setup` run from the installed copy itself (through ~/.local/bin).
    if same_dir(&source.bin_dir, &bin) && source.plugin_dir.is_none() {
        return Ok(Some(Placed::Unchanged { version: cur.version }));
    }
    match compare_versions(&cur.version, &source.version) {
        Ordering::Greater => Ok(Some(Placed::KeptNewer { installed: cur.version, source: source.version.clone() })),
        Ordering::Less => Ok(None),
        Ordering::Equal => {
            let same = match check {
                Check::Version => true,
                Check::Contents => {
                    let plugin_same = match &source.plugin_dir {
                        None => true,
                        Some(p) => trees_equal(p, &paths::current_dir(&ctx.env)?.join("plugin")),
                    };
                    plugin_same && BINARIES.iter().all(|b| files_equal(&source.bin_dir.join(exe(b)), &bin.join(exe(b))))
                }
            };
            Ok(same.then_some(Placed::Unchanged { version: cur.version }))
        }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// A directory name from a version string that came from a file (plugin.json): only the
/// characters versions use, never a path.
fn dir_safe(version: &str) -> String {
    let s: String = version
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with('.') { format!("v{s}") } else { s }
}

/// `<version>`, or `<version>~N` with the first N not taken.
fn fresh_name(versions: &Path, version: &str) -> String {
    let base = dir_safe(version);
    let mut name = base.clone();
    let mut n = 2;
    while versions.join(&name).symlink_metadata().is_ok() {
        name = format!("{base}{REBUILD_SEP}{n}");
        n += 1;
    }
    name
}

/// Copies the source into a fresh version directory and switches `current` to it; returns its
/// name. The caller holds the install lock.
fn install_version(ctx: &Ctx, source: &Source) -> Result<String, InstallError> {
    let versions = paths::versions_dir(&ctx.env)?;
    // Binaries and a plugin are not secrets: the default modes, like any installed program.
    fsutil::ensure_dir(&versions, 0o755)?;
    let name = fresh_name(&versions, &source.version);
    let tmp = versions.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let result = fill(&tmp, &name, source).and_then(|()| {
        let dest = versions.join(&name);
        fs::rename(&tmp, &dest).map_err(|source| InstallError::Io { what: "rename", path: tmp.clone(), source })
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result?;
    switch_current(ctx, &name)?;
    Ok(name)
}

fn fill(tmp: &Path, name: &str, source: &Source) -> Result<(), InstallError> {
    let bin = tmp.join("bin");
    fs::create_dir_all(&bin).map_err(|source| InstallError::Io { what: "create", path: bin.clone(), source })?;
    for b in BINARIES {
        let from = source.bin_dir.join(exe(b));
        let to = bin.join(exe(b));
        fs::copy(&from, &to).map_err(|source| InstallError::Io { what: "copy", path: from.clone(), source })?;
        // Executable whatever the source's mode was (an unpacked archive may have lost it).
        set_mode(&to, 0o755)?;
    }
    if let Some(plugin) = &source.plugin_dir {
        copy_tree(plugin, &tmp.join("plugin"))?;
    }
    let name_file = tmp.join(NAME_FILE);
    fs::write(&name_file, format!("{name}\n")).map_err(|source| InstallError::Io {
        what: "write",
        path: name_file,
        source,
    })?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), InstallError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| InstallError::Io {
        what: "chmod",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), InstallError> {
    Ok(())
}

/// Points `current` at `versions/<name>` with one rename of a fresh symlink over it. Relative,
/// so the data directory can move as a whole.
#[cfg(unix)]
fn switch_current(ctx: &Ctx, name: &str) -> Result<(), InstallError> {
    let link = paths::current_dir(&ctx.env)?;
    let data = paths::data_dir(&ctx.env)?;
    let tmp = data.join(format!(".current.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new("versions").join(name), &tmp).map_err(|source| InstallError::Io {
        what: "create the symlink",
        path: tmp.clone(),
        source,
    })?;
    // A real directory there (damaged, or copied by hand) cannot be renamed over: move it
    // aside first.
    let real_dir = fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir());
    let aside = data.join(format!(".current.old.{}", std::process::id()));
    if real_dir {
        fs::rename(&link, &aside).map_err(|source| InstallError::Io {
            what: "move aside",
            path: link.clone(),
            source,
        })?;
    }
    let renamed = fs::rename(&tmp, &link);
    if real_dir {
        let _ = fs::remove_dir_all(&aside);
    }
    renamed.map_err(|source| InstallError::Io { what: "switch", path: link, source })
}

/// Without symlinks (Windows needs a privilege for them), `current` is a copy of the version
/// directory, replaced as a whole.
#[cfg(not(unix))]
fn switch_current(ctx: &Ctx, name: &str) -> Result<(), InstallError> {
    let link = paths::current_dir(&ctx.env)?;
    let from = paths::versions_dir(&ctx.env)?.join(name);
    if link.exists() {
        fs::remove_dir_all(&link).map_err(|source| InstallError::Io { what: "remove", path: link.clone(), source })?;
    }
    copy_tree(&from, &link)
}

/// Removes every version directory but `keep`, and leftovers of interrupted installs. Best
/// effort: a directory that cannot be removed now is removed by a later install.
fn prune(ctx: &Ctx, keep: &[Option<&str>]) {
    let Ok(versions) = paths::versions_dir(&ctx.env) else { return };
    let Ok(entries) = fs::read_dir(&versions) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if keep.contains(&Some(name.as_str())) {
            continue;
        }
        let path = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Copies a directory tree (files keep their modes; symlinks are followed).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), InstallError> {
    fs::create_dir_all(to).map_err(|source| InstallError::Io { what: "create", path: to.to_path_buf(), source })?;
    let entries =
        fs::read_dir(from).map_err(|source| InstallError::Io { what: "read", path: from.to_path_buf(), source })?;
    for e in entries {
        let e = e.map_err(|source| InstallError::Io { what: "read", path: from.to_path_buf(), source })?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|source| InstallError::Io { what: "copy", path: src.clone(), source })?;
        }
    }
    Ok(())
}

fn files_equal(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) if x.len() == y.len() => matches!((fs::read(a), fs::read(b)), (Ok(p), Ok(q)) if p == q),
        _ => false,
    }
}

/// Same relative paths, same bytes.
fn trees_equal(a: &Path, b: &Path) -> bool {
    fn list(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        for e in fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                list(root, &p, out)?;
            } else {
                out.push(p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p));
            }
        }
        Ok(())
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    if list(a, a, &mut x).is_err() || list(b, b, &mut y).is_err() {
        return false;
    }
    x.sort();
    y.sort();
    x == y && x.iter().all(|rel| files_equal(&a.join(rel), &b.join(rel)))
}

/// Semantic-version order: numeric `MAJOR.MINOR.PATCH`, a pre-release (`-beta.2`) before its
/// release, build metadata (`+…`) ignored. Anything unparsable sorts before every version, so
/// a proper one replaces it.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(Vec<u64>, Option<&str>)> {
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        let nums: Option<Vec<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
        nums.filter(|n| !n.is_empty()).map(|n| (n, pre))
    }
    fn pre_cmp(a: Option<&str>, b: Option<&str>) -> Ordering {
        match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let mut xs = x.split('.');
                let mut ys = y.split('.');
                loop {
                    match (xs.next(), ys.next()) {
                        (None, None) => return Ordering::Equal,
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some(p), Some(q)) => {
                            let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                                (Ok(m), Ok(n)) => m.cmp(&n),
                                (Ok(_), Err(_)) => Ordering::Less,
                                (Err(_), Ok(_)) => Ordering::Greater,
                                (Err(_), Err(_)) => p.cmp(q),
                            };
                            if o != Ordering::Equal {
                                return o;
                            }
                        }
                    }
                }
            }
        }
    }
    match (parse(a), parse(b)) {
        (None, None) => a.cmp(b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some((x, xp)), Some((y, yp))) => {
            let len = x.len().max(y.len());
            let pad = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
            (0..len).map(|i| pad(&x, i).cmp(&pad(&y, i))).find(|o| *o != Ordering::Equal).unwrap_or(pre_cmp(xp, yp))
        }
    }
}
