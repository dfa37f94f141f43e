//! `cargo xtask dist [--target TRIPLE]… [--prebuilt DIR]`: release builds, then every
//! distributable under `<target>/dist/`:
//!
//! - `cc-aws-keepalive/`: the plugin directory `cargo xtask install` installs (the host's
//!   binaries in `bin/`, its own marketplace);
//! - `npm/package/` and `npm/cc-aws-keepalive-<version>.tgz`: the npm package, a complete
//!   Claude Code plugin carrying the binaries of every target built (`bin/<target>/`) and a
//!   launcher (`bin/cc-aws-keepalive`) that picks the platform's;
//! - `marketplace/.claude-plugin/marketplace.json`: a marketplace whose one plugin is the npm
//!   package;
//! - `cc-aws-keepalive-<version>-<target>.tar.gz` and `.sha256`: the binaries of one target, for
//!   a release page.
//!
//! `--prebuilt DIR` builds nothing: it takes the per-target archives (with their `.sha256`) that
//! earlier runs wrote, e.g. one per release runner, and assembles the npm package from all of
//! them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::plugin::{self, Dest};
use crate::util::{self, Result, Workspace};

/// Every file in our tarballs gets this mtime (npm's own fixed date, 1985-10-26T08:15:00Z), so
/// the same binaries give the same bytes.
const TAR_MTIME: u64 = 499_162_500;

/// Options of `cargo xtask dist`.
#[derive(Debug, Default, Clone)]
pub struct DistOpts {
    /// Rust target triples to build; empty: the host.
    pub targets: Vec<String>,
    /// Assemble from the per-target archives in this directory instead of building.
    pub prebuilt: Option<PathBuf>,
}

impl DistOpts {
    pub fn parse(args: &[String]) -> Result<DistOpts> {
        let mut opts = DistOpts::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |flag: &str| {
                it.next().filter(|v| !v.starts_with('-')).cloned().ok_or_else(|| format!("dist: {flag} needs a value"))
            };
            match arg.as_str() {
                "--target" => {
                    let t = value("--target")?;
                    if !opts.targets.contains(&t) {
                        opts.targets.push(t);
                    }
                }
                "--prebuilt" => opts.prebuilt = Some(PathBuf::from(value("--prebuilt")?)),
                other => return Err(format!("dist: unknown argument {other:?} (see `cargo xtask help`)")),
            }
        }
        if opts.prebuilt.is_some() && !opts.targets.is_empty() {
            return Err("dist: --prebuilt takes the targets from the archives; drop --target".into());
        }
        Ok(opts)
    }
}

/// The binaries of one target.
#[derive(Debug, Clone)]
pub struct TargetBins {
    pub target: String,
    pub dir: PathBuf,
}

/// What `dist` wrote.
#[derive(Debug, Clone)]
pub struct Dist {
    /// The plugin directory for `cargo xtask install`; only when the host's binaries were built.
    pub plugin_dir: Option<PathBuf>,
    /// The staged npm package (the tarball's `package/`).
    pub npm_dir: PathBuf,
    pub npm_tgz: PathBuf,
    /// Holds `.claude-plugin/marketplace.json` (npm source).
    pub marketplace_dir: PathBuf,
    /// Per-target archives, each with `<archive>.sha256` beside it.
    pub archives: Vec<PathBuf>,
    pub targets: Vec<TargetBins>,
}

/// `cargo build --release` of every package that builds a shipped binary, for `target` (`None`:
/// the host, into `<target>/release`).
pub fn build_release_for(ws: &Workspace, target: Option<&str>) -> Result {
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--bins"]);
    let mut packages: Vec<&str> = ws.bins.iter().map(|b| b.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    for p in packages {
        cmd.args(["--package", p]);
    }
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    util::run(cmd)
}

/// `cargo build --release` of the shipped binaries for the host.
pub fn build_release(ws: &Workspace) -> Result {
    build_release_for(ws, None)
}

/// Builds everything for the host; returns the plugin directory (for `install` and `ci`).
pub fn dist(ws: &Workspace) -> Result<PathBuf> {
    dist_with(ws, &DistOpts::default())?.plugin_dir.ok_or_else(|| "dist laid out no plugin directory".to_string())
}

pub fn dist_with(ws: &Workspace, opts: &DistOpts) -> Result<Dist> {
    let version = plugin::workspace_version(&ws.root)?;
    let host = host_triple()?;
    let out = ws.target_dir.join("dist");
    let targets = match &opts.prebuilt {
        Some(dir) => unpack_prebuilt(ws, dir, &version, &out.join("prebuilt"))?,
        None => build_targets(ws, &opts.targets, &host)?,
    };
    for t in &targets {
        for name in bin_names(ws, &t.target) {
            let p = t.dir.join(&name);
            if !p.is_file() {
                return Err(format!("{} is missing after the build for {}", p.display(), t.target));
            }
        }
    }
    clean(&out)?;

    let plugin_dir = match targets.iter().find(|t| t.target == host) {
        Some(t) => {
            let dir = ws.dist_dir();
            layout(ws, t, &dir)?;
            Some(dir)
        }
        None => None,
    };
    let npm_dir = out.join("npm/package");
    stage_npm(ws, &targets, &npm_dir)?;
    let npm_tgz = out.join(format!("npm/{}-{version}.tgz", plugin::NPM_PACKAGE));
    write_tgz(&npm_tgz, &npm_entries(&npm_dir)?)?;
    let marketplace_dir = out.join("marketplace");
    for file in plugin::generated(&ws.root)?.into_iter().filter(|f| f.dest == Dest::NpmMarketplace) {
        util::write(&marketplace_dir.join(file.rel), file.text)?;
    }
    let mut archives = Vec::new();
    for t in &targets {
        archives.push(write_archive(ws, t, &version, &out)?);
    }

    let dist = Dist { plugin_dir, npm_dir, npm_tgz, marketplace_dir, archives, targets };
    report(ws, &dist)?;
    for t in &dist.targets {
        check_budget(ws, t)?;
    }
    Ok(dist)
}

/// The host's target triple, from `rustc -vV`.
pub fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.arg("-vV");
    let out = util::capture(cmd, Duration::from_secs(60))?;
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| format!("`rustc -vV` names no host: {}", out.both()))
}

fn build_targets(ws: &Workspace, wanted: &[String], host: &str) -> Result<Vec<TargetBins>> {
    let wanted: Vec<String> = if wanted.is_empty() { vec![host.to_string()] } else { wanted.to_vec() };
    if let Some(installed) = installed_targets()
        && let Some(missing) = wanted.iter().find(|t| !installed.contains(t))
    {
        return Err(format!(
            "dist: the standard library for {missing} is not installed (installed: {}); \
             `rustup target add {missing}` where that can be downloaded, or build it on a runner of that platform",
            installed.join(", ")
        ));
    }
    let mut targets = Vec::new();
    for t in wanted {
        // The host builds into <target>/release, shared with `bench`, `install` and `cargo build`.
        let flag = (t != host).then_some(t.as_str());
        build_release_for(ws, flag)?;
        let dir = match flag {
            Some(t) => ws.target_dir.join(t).join("release"),
            None => ws.release_dir(),
        };
        targets.push(TargetBins { target: t, dir });
    }
    Ok(targets)
}

/// `rustup target list --installed`; `None` without rustup (cargo then says what is missing).
fn installed_targets() -> Option<Vec<String>> {
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "list", "--installed"]);
    let out = util::capture(cmd, Duration::from_secs(60)).ok().filter(util::Output::ok)?;
    Some(out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

/// `.exe` on Windows targets.
pub fn exe_for(target: &str, name: &str) -> String {
    if target.contains("-windows") { format!("{name}.exe") } else { name.to_string() }
}

/// File names of the shipped binaries for `target`.
fn bin_names(ws: &Workspace, target: &str) -> Vec<String> {
    ws.bins.iter().map(|b| exe_for(target, &b.name)).collect()
}

/// Removes what an earlier `dist` wrote: stale files must not ship.
fn clean(out: &Path) -> Result {
    for sub in [plugin::PLUGIN_NAME, "npm", "marketplace"] {
        let p = out.join(sub);
        if p.exists() {
            fs::remove_dir_all(&p).map_err(|e| format!("cannot remove {}: {e}", p.display()))?;
        }
    }
    let archive_prefix = format!("{}-", plugin::PLUGIN_NAME);
    for entry in fs::read_dir(out).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&archive_prefix) && (name.ends_with(".tar.gz") || name.ends_with(".tar.gz.sha256")) {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("cannot remove {}: {e}", entry.path().display()));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Lays the plugin directory out in `out` from scratch: the host's binaries in `bin/`.
fn layout(ws: &Workspace, bins: &TargetBins, out: &Path) -> Result {
    for file in plugin::generated(&ws.root)? {
        if matches!(file.dest, Dest::Plugin | Dest::PluginDirOnly) {
            util::write(&out.join(file.rel), file.text)?;
        }
    }
    copy_static(ws, out)?;
    let bin_dir = out.join("bin");
    for name in bin_names(ws, &bins.target) {
        copy_exec(&bins.dir.join(&name), &bin_dir.join(&name))?;
    }
    Ok(())
}

/// README.md and config.example.json.
fn copy_static(ws: &Workspace, out: &Path) -> Result {
    for name in plugin::STATIC_FILES {
        let src = ws.root.join("plugin").join(name);
        let text = fs::read(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        util::write(&out.join(name), text)?;
    }
    util::write(&out.join("config.example.json"), keepalive_core::config::example_json())
}

/// Copies an executable and makes it 0755 (Claude Code keeps a packaged file's mode only if it
/// has an execute bit).
fn copy_exec(src: &Path, dst: &Path) -> Result {
    if let Some(d) = dst.parent() {
        fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    fs::copy(src, dst).map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dst.display()))?;
    set_exec(dst)
}

fn set_exec(p: &Path) -> Result {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot chmod {}: {e}", p.display()))?;
    }
    #[cfg(not(unix))]
    let _ = p;
    Ok(())
}

/// The npm package: the plugin (manifest, hooks, README, config example), `package.json`, the
/// launcher as `bin/cc-aws-keepalive`, and every target's binaries in `bin/<target>/`.
fn stage_npm(ws: &Workspace, targets: &[TargetBins], dir: &Path) -> Result {
    for file in plugin::generated(&ws.root)? {
        if matches!(file.dest, Dest::Plugin | Dest::NpmOnly) {
            util::write(&dir.join(file.rel), file.text)?;
        }
    }
    copy_static(ws, dir)?;
    let launcher = dir.join("bin").join(plugin::PLUGIN_NAME);
    copy_exec(&ws.root.join("plugin").join(plugin::LAUNCHER), &launcher)?;
    for t in targets {
        for name in bin_names(ws, &t.target) {
            copy_exec(&t.dir.join(&name), &dir.join("bin").join(&t.target).join(&name))?;
        }
    }
    Ok(())
}

/// One file of a tarball: its path inside, where it is now, its mode.
#[derive(Debug, Clone)]
pub struct TarEntry {
    pub name: String,
    pub src: PathBuf,
    pub mode: u32,
}

/// Every file of the staged package under `package/`, sorted; everything in `bin/` 0755, the
/// rest 0644 (decided by place, not by the file system, so a Windows build packs the same).
fn npm_entries(dir: &Path) -> Result<Vec<TarEntry>> {
    let mut entries = Vec::new();
    for (rel, _, _) in util::tree_contents(dir)? {
        let rel = rel.to_string_lossy().replace('\\', "/");
        let mode = if rel.starts_with("bin/") { 0o755 } else { 0o644 };
        entries.push(TarEntry { name: format!("package/{rel}"), src: dir.join(&rel), mode });
    }
    Ok(entries)
}

/// Writes a gzip'd ustar archive of `entries`: regular files only (no directory entries, no
/// links: Claude Code refuses links in a plugin package), owner 0, a fixed mtime.
pub fn write_tgz(out: &Path, entries: &[TarEntry]) -> Result {
    if let Some(d) = out.parent() {
        fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let file = fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    let err = |e: std::io::Error| format!("cannot write {}: {e}", out.display());
    for entry in entries {
        // A longer name would need a GNU or pax extension entry.
        if entry.name.len() >= 100 {
            return Err(format!("{}: the path is too long for a plain ustar entry", entry.name));
        }
        let data = fs::read(&entry.src).map_err(|e| format!("cannot read {}: {e}", entry.src.display()))?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(entry.mode);
        header.set_mtime(TAR_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, &entry.name, data.as_slice()).map_err(err)?;
    }
    let gz = tar.into_inner().map_err(err)?;
    gz.finish().map_err(err)?;
    Ok(())
}

/// `cc-aws-keepalive-<version>-<target>.tar.gz` (the five binaries and the README under a
/// directory of the same name) and its `.sha256` in `sha256sum` format.
fn write_archive(ws: &Workspace, t: &TargetBins, version: &str, out: &Path) -> Result<PathBuf> {
    let stem = archive_stem(version, &t.target);
    let mut entries: Vec<TarEntry> = bin_names(ws, &t.target)
        .into_iter()
        .map(|name| TarEntry { name: format!("{stem}/{name}"), src: t.dir.join(&name), mode: 0o755 })
        .collect();
    entries.push(TarEntry { name: format!("{stem}/README.md"), src: ws.root.join("plugin/README.md"), mode: 0o644 });
    let archive = out.join(format!("{stem}.tar.gz"));
    write_tgz(&archive, &entries)?;
    let sum = sha256_hex(&fs::read(&archive).map_err(|e| format!("cannot read {}: {e}", archive.display()))?);
    util::write(&sha256_path(&archive), format!("{sum}  {stem}.tar.gz\n"))?;
    Ok(archive)
}

fn archive_stem(version: &str, target: &str) -> String {
    format!("{}-{version}-{target}", plugin::PLUGIN_NAME)
}

fn sha256_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpacks the binaries of every `cc-aws-keepalive-<version>-<target>.tar.gz` in `dir` (each
/// checked against its `.sha256`) into `into/<target>/`.
fn unpack_prebuilt(ws: &Workspace, dir: &Path, version: &str, into: &Path) -> Result<Vec<TargetBins>> {
    if into.exists() {
        fs::remove_dir_all(into).map_err(|e| format!("cannot remove {}: {e}", into.display()))?;
    }
    let prefix = format!("{}-{version}-", plugin::PLUGIN_NAME);
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".tar.gz"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("dist --prebuilt: no {prefix}<target>.tar.gz in {}", dir.display()));
    }
    let mut targets = Vec::new();
    for name in names {
        let target = name.trim_start_matches(&prefix).trim_end_matches(".tar.gz").to_string();
        let archive = dir.join(&name);
        let bytes = fs::read(&archive).map_err(|e| format!("cannot read {}: {e}", archive.display()))?;
        let sum_file = sha256_path(&archive);
        let expected = fs::read_to_string(&sum_file).map_err(|e| format!("cannot read {}: {e}", sum_file.display()))?;
        if expected.split_whitespace().next() != Some(sha256_hex(&bytes).as_str()) {
            return Err(format!("{} does not match {}", archive.display(), sum_file.display()));
        }
        let stem = archive_stem(version, &target);
        let wanted = bin_names(ws, &target);
        let out = into.join(&target);
        let mut found = Vec::new();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let err = |e: std::io::Error| format!("{}: {e}", archive.display());
        for entry in tar.entries().map_err(err)? {
            let mut entry = entry.map_err(err)?;
            let path = entry.path().map_err(err)?.to_string_lossy().replace('\\', "/");
            let Some(file) = path.strip_prefix(&format!("{stem}/")).filter(|f| wanted.iter().any(|w| w == f)) else {
                continue;
            };
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(format!("{}: {path} is not a regular file", archive.display()));
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(err)?;
            let dst = out.join(file);
            util::write(&dst, data)?;
            set_exec(&dst)?;
            found.push(file.to_string());
        }
        if let Some(missing) = wanted.iter().find(|w| !found.contains(w)) {
            return Err(format!("{} has no {stem}/{missing}", archive.display()));
        }
        targets.push(TargetBins { target, dir: out });
    }
    Ok(targets)
}

const MIB: f64 = 1024.0 * 1024.0;

/// The installed size of one platform's five binaries may not pass this (issue 10): every
/// install downloads and unpacks them.
pub const SIZE_BUDGET: u64 = 6 * 1024 * 1024;

/// The engine: the one binary that links the TLS stack (see keepalive-core's `hooks::engine`).
const ENGINE: &str = "cc-aws-keepalive";

/// Fails when a target's binaries pass [`SIZE_BUDGET`], or when a hook binary links the TLS
/// stack again (rustls's source paths are in every binary that links it, stripped or not):
/// that is what keeps the hooks small, and it is easy to undo by calling a renewal from a
/// hook's own code path.
fn check_budget(ws: &Workspace, t: &TargetBins) -> Result {
    let mut total = 0;
    for bin in &ws.bins {
        let path = t.dir.join(exe_for(&t.target, &bin.name));
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        total += bytes.len() as u64;
        if bin.name != ENGINE && bytes.windows(b"rustls".len()).any(|w| w == b"rustls") {
            return Err(format!(
                "dist: {} links the TLS stack; a hook must leave network work to {ENGINE} (keepalive-core hooks::engine)",
                path.display()
            ));
        }
    }
    if total > SIZE_BUDGET {
        return Err(format!(
            "dist: {}: the binaries are {:.2} MiB, over the {:.0} MiB budget",
            t.target,
            total as f64 / MIB,
            SIZE_BUDGET as f64 / MIB
        ));
    }
    Ok(())
}

fn size(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or_default()
}

/// What was written, with the installed size per platform (its five binaries) and the archives'.
fn report(ws: &Workspace, d: &Dist) -> Result {
    if let Some(p) = &d.plugin_dir {
        println!("dist: plugin directory  {}", p.display());
    }
    println!("dist: npm package       {} ({:.1} MiB)", d.npm_tgz.display(), size(&d.npm_tgz) as f64 / MIB);
    println!("dist: marketplace       {}", d.marketplace_dir.display());
    for (t, archive) in d.targets.iter().zip(&d.archives) {
        let installed: u64 = bin_names(ws, &t.target).iter().map(|n| size(&t.dir.join(n))).sum();
        println!(
            "dist: {}: binaries {:.2} MiB, archive {} ({:.2} MiB)",
            t.target,
            installed as f64 / MIB,
            archive.display(),
            size(archive) as f64 / MIB
        );
    }
    Ok(())
}

/// A binary's file name on the host (`.exe` on Windows).
pub fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = DistOpts::parse(&args(&["--target", "a", "--target", "b", "--target", "a"])).unwrap();
        assert_eq!(o.targets, ["a", "b"]);
        assert!(DistOpts::parse(&args(&["--target"])).is_err());
        assert!(DistOpts::parse(&args(&["--target", "--prebuilt"])).is_err());
        assert!(DistOpts::parse(&args(&["--prebuilt", "d", "--target", "a"])).is_err());
        assert!(DistOpts::parse(&args(&["--bogus"])).is_err());
        assert_eq!(DistOpts::parse(&args(&["--prebuilt", "d"])).unwrap().prebuilt, Some(PathBuf::from("d")));
    }

    #[test]
    fn windows_targets_get_exe() {
        assert_eq!(exe_for("x86_64-pc-windows-msvc", "cc-aws-check"), "cc-aws-check.exe");
        assert_eq!(exe_for("aarch64-apple-darwin", "cc-aws-check"), "cc-aws-check");
    }

    /// The tarball is what npm and Claude Code read: `package/` paths, regular files only,
    /// modes kept, a fixed mtime; the same input gives the same bytes.
    #[test]
    fn tarballs_are_plain_and_reproducible() {
        let tmp = util::TempDir::new("tgz-test").unwrap();
        let src = tmp.path().join("src");
        util::write(&src.join("a.json"), "{}").unwrap();
        util::write(&src.join("bin/x"), "#!/bin/sh\n").unwrap();
        let entries = vec![
            TarEntry { name: "package/a.json".into(), src: src.join("a.json"), mode: 0o644 },
            TarEntry { name: "package/bin/x".into(), src: src.join("bin/x"), mode: 0o755 },
        ];
        let (one, two) = (tmp.path().join("1.tgz"), tmp.path().join("2.tgz"));
        write_tgz(&one, &entries).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        write_tgz(&two, &entries).unwrap();
        let bytes = fs::read(&one).unwrap();
        assert_eq!(bytes, fs::read(&two).unwrap(), "not reproducible");
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let seen: Vec<(String, u32, u64, bool)> = tar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.entry_type() == tar::EntryType::Regular,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("package/a.json".into(), 0o644, TAR_MTIME, true), ("package/bin/x".into(), 0o755, TAR_MTIME, true)]
        );
        let long = vec![TarEntry { name: "p/".repeat(50), src: src.join("a.json"), mode: 0o644 }];
        assert!(write_tgz(&tmp.path().join("3.tgz"), &long).is_err());
    }

    /// The launcher picks the platform's binary, passes the arguments on, falls back to what
    /// the system can emulate, and otherwise fails with one line naming what the package has.
    #[cfg(unix)]
    #[test]
    fn launcher_picks_the_platform_binary() {
        let tmp = util::TempDir::new("launcher-test").unwrap();
        let root = tmp.path();
        let bin = root.join("pkg/bin");
        copy_exec(&util::project_root().join("plugin").join(plugin::LAUNCHER), &bin.join("cc-aws-keepalive")).unwrap();
        for t in ["x86_64-unknown-linux-gnu", "x86_64-apple-darwin"] {
            let p = bin.join(t).join("cc-aws-keepalive");
            util::write(&p, format!("#!/bin/sh\nprintf '%s|' {t} \"$@\"\n")).unwrap();
            set_exec(&p).unwrap();
        }
        let run = |os: &str, arch: &str, args: &[&str]| {
            let fake = root.join(format!("uname-{os}-{arch}"));
            let uname = fake.join("uname");
            util::write(&uname, format!("#!/bin/sh\ncase $1 in -s) echo {os} ;; -m) echo {arch} ;; esac\n")).unwrap();
            set_exec(&uname).unwrap();
            let path = format!("{}:/usr/bin:/bin", fake.display());
            let mut cmd = Command::new("sh");
            cmd.arg(bin.join("cc-aws-keepalive")).args(args).env("PATH", path);
            util::capture(cmd, Duration::from_secs(20)).unwrap()
        };
        let out = run("Linux", "x86_64", &["setup", "--dry-run", "a b"]);
        assert!(out.ok(), "{}", out.both());
        assert_eq!(out.stdout, "x86_64-unknown-linux-gnu|setup|--dry-run|a b|");
        // Apple silicon without its own build: the x86_64 one under Rosetta.
        let out = run("Darwin", "arm64", &["session-start"]);
        assert_eq!(out.stdout, "x86_64-apple-darwin|session-start|", "{}", out.both());
        for (os, arch) in [("Linux", "riscv64"), ("Linux", "aarch64"), ("FreeBSD", "amd64")] {
            let out = run(os, arch, &[]);
            assert_eq!(out.status.code(), Some(1), "{os} {arch}: {}", out.both());
            assert_eq!(out.stdout, "");
            let line = out.stderr.trim_end();
            assert!(!line.contains('\n'), "{line}");
            assert!(
                line.contains(&format!("no binaries for {os} {arch}"))
                    && line.contains("x86_64-apple-darwin x86_64-unknown-linux-gnu"),
                "{line}"
            );
        }
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
