//! What every task needs: the workspace layout (from `cargo metadata`), running commands with
//! their output shown or captured, and copying directories.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use keepalive_core::env::Env;
use serde_json::Value;

/// xtask reports errors as one human sentence; it is a developer tool, not a library.
pub type Result<T = ()> = std::result::Result<T, String>;

/// Binaries whose name starts with this, in packages under `crates/`, ship in the plugin. The
/// test crate's `mock-aws` does not; a future `cc-aws-keepalive` CLI will without a change here.
pub const SHIP_PREFIX: &str = "cc-aws-";
/// Binaries the plugin cannot work without; `dist` fails if one is missing.
pub const REQUIRED_BINS: &[&str] = &["cc-aws-export", "cc-aws-refresh", "cc-aws-check", "cc-aws-statusline"];

pub fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `cargo` as cargo ran us (the same toolchain), else the one on PATH.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// A shipped binary: its name and the package that builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedBin {
    pub name: String,
    pub package: String,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    /// Honours `CARGO_TARGET_DIR` and `build.target-dir`, since cargo resolves it for us.
    pub target_dir: PathBuf,
    pub bins: Vec<ShippedBin>,
}

impl Workspace {
    pub fn load() -> Result<Workspace> {
        let out = cargo()
            .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
        if !out.status.success() {
            return Err("cargo metadata failed (see above)".into());
        }
        let meta: Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
        let root = project_root();
        let target_dir =
            meta["target_directory"].as_str().map(PathBuf::from).ok_or("cargo metadata has no target_directory")?;
        let crates_dir = root.join("crates");
        let mut bins = Vec::new();
        for pkg in meta["packages"].as_array().into_iter().flatten() {
            let in_crates = pkg["manifest_path"].as_str().is_some_and(|p| Path::new(p).starts_with(&crates_dir));
            let Some(package) = pkg["name"].as_str().filter(|_| in_crates) else { continue };
            for target in pkg["targets"].as_array().into_iter().flatten() {
                let is_bin = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"));
                if let Some(name) = target["name"].as_str().filter(|n| is_bin && n.starts_with(SHIP_PREFIX)) {
                    bins.push(ShippedBin { name: name.to_string(), package: package.to_string() });
                }
            }
        }
        bins.sort_by(|a, b| a.name.cmp(&b.name));
        for required in REQUIRED_BINS {
            if !bins.iter().any(|b| b.name == *required) {
                return Err(format!("no binary named {required} in crates/ (cargo metadata lists: {bins:?})"));
            }
        }
        Ok(Workspace { root, target_dir, bins })
    }

    pub fn release_dir(&self) -> PathBuf {
        self.target_dir.join("release")
    }

    pub fn dist_dir(&self) -> PathBuf {
        self.target_dir.join("dist").join(crate::plugin::PLUGIN_NAME)
    }
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with its output shown, failing with the command line on a non-zero exit.
pub fn run(mut cmd: Command) -> Result {
    let line = show(&cmd);
    eprintln!("$ {line}");
    let status = cmd.status().map_err(|e| format!("cannot run `{line}`: {e}"))?;
    check(status, &line)
}

fn check(status: ExitStatus, line: &str) -> Result {
    if status.success() { Ok(()) } else { Err(format!("`{line}` failed ({status})")) }
}

/// Output of [`capture`].
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status.success()
    }

    /// stdout and stderr, for an error message.
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr).trim().to_string()
    }
}

/// Runs `cmd` with no stdin, capturing stdout and stderr, stopping it after `timeout`.
pub fn capture(mut cmd: Command, timeout: Duration) -> Result<Output> {
    let line = show(&cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{line}`: {e}"))?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{line}` did not finish within {} s", timeout.as_secs()));
            }
            Err(e) => return Err(format!("waiting for `{line}`: {e}")),
        }
    };
    Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
}

/// Looks `name` up in a PATH-style list.
pub fn which(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?).map(|d| d.join(name)).find(|p| is_executable(p))
}

pub fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    p.is_file()
}

/// Relative paths and contents of every file under `dir`, sorted: to compare two trees.
pub fn tree_contents(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>, bool)>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>, bool)>) -> Result {
        let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let p = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else {
                let bytes = fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
                out.push((rel, bytes, is_executable(&p)));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// HOME and the XDG base directories (config, data, state), all inside `home`: a run in a
/// temp HOME (ci's checks, the benchmarks, tests) then reads and writes nothing outside it.
pub fn temp_home_vars(home: &Path) -> Vec<(String, String)> {
    let s = |rel: &str| home.join(rel).to_string_lossy().into_owned();
    vec![
        ("HOME".to_string(), home.to_string_lossy().into_owned()),
        ("XDG_CONFIG_HOME".to_string(), s(".config")),
        ("XDG_DATA_HOME".to_string(), s(".local/share")),
        ("XDG_STATE_HOME".to_string(), s(".local/state")),
    ]
}

/// [`temp_home_vars`] as the environment keepalive-core reads.
pub fn temp_home_env(home: &Path) -> Env {
    Env::from_pairs(temp_home_vars(home).iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A fresh private directory under the system temp dir, removed by [`TempDir`]'s drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("xtask-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
