//! `cargo xtask dist`: release build, then a self-contained plugin directory
//! `<target>/dist/cc-aws-keepalive/` that Claude Code can load or install as a marketplace.

use std::fs;
use std::path::{Path, PathBuf};

use crate::plugin;
use crate::util::{self, Result, Workspace};

/// `cargo build --release` of every package that builds a shipped binary.
pub fn build_release(ws: &Workspace) -> Result {
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--bins"]);
    let mut packages: Vec<&str> = ws.bins.iter().map(|b| b.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    for p in packages {
        cmd.args(["--package", p]);
    }
    util::run(cmd)
}

/// Builds and lays out the plugin; returns its directory.
pub fn dist(ws: &Workspace) -> Result<PathBuf> {
    build_release(ws)?;
    let out = ws.dist_dir();
    layout(ws, &out)?;
    println!("dist: {}", out.display());
    Ok(out)
}

/// Lays the plugin out in `out` from scratch: stale files of an earlier layout must not ship.
pub fn layout(ws: &Workspace, out: &Path) -> Result {
    if out.exists() {
        fs::remove_dir_all(out).map_err(|e| format!("cannot remove {}: {e}", out.display()))?;
    }
    for (rel, _, text) in plugin::generated(&ws.root)? {
        util::write(&out.join(rel), text)?;
    }
    for name in plugin::STATIC_FILES {
        let src = ws.root.join("plugin").join(name);
        let text = fs::read(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        util::write(&out.join(name), text)?;
    }
    util::write(&out.join("config.example.json"), keepalive_core::config::example_json())?;
    let bin_dir = out.join("bin");
    fs::create_dir_all(&bin_dir).map_err(|e| format!("cannot create {}: {e}", bin_dir.display()))?;
    for bin in &ws.bins {
        let src = ws.release_dir().join(exe(&bin.name));
        let dst = bin_dir.join(exe(&bin.name));
        fs::copy(&src, &dst).map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dst.display()))?;
    }
    Ok(())
}

pub fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}
