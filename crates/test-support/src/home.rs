//! Hermetic process runs: a throw-away HOME with its XDG directories, a command builder that
//! passes only what we choose, and a runner with a hard timeout.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long `run` waits for output pipes after the child is gone (a grandchild may hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// How long `run` waits for a killed child to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(5);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary directory used as `$HOME`; removed on drop.
#[derive(Debug)]
pub struct TestHome {
    path: PathBuf,
}

impl Default for TestHome {
    fn default() -> Self {
        TestHome::new()
    }
}

impl TestHome {
    /// Creates `$TMPDIR/cc-aws-test-<pid>-<counter>-<nanos>` with the XDG directories inside.
    ///
    /// # Panics
    /// If the temp directory cannot be created: no test can run without it.
    #[allow(clippy::panic, reason = "test helper: no temp HOME, no test")]
    pub fn new() -> TestHome {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("cc-aws-test-{}-{n}-{nanos}", std::process::id()));
        let home = TestHome { path };
        for dir in ["", ".config", ".local/state", ".cache", ".local/share"] {
            let p = home.path.join(dir);
            if let Err(e) = std::fs::create_dir_all(&p) {
                panic!("cannot create {}: {e}", p.display());
            }
        }
        home
    }

    /// The directory (also `$HOME` of commands from [`TestHome::command`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `$XDG_CONFIG_HOME` of commands from [`TestHome::command`].
    pub fn config_dir(&self) -> PathBuf {
        self.path.join(".config")
    }

    /// `$XDG_STATE_HOME`.
    pub fn state_dir(&self) -> PathBuf {
        self.path.join(".local/state")
    }

    /// `$XDG_CACHE_HOME`.
    pub fn cache_dir(&self) -> PathBuf {
        self.path.join(".cache")
    }

    /// `$XDG_DATA_HOME`.
    pub fn data_dir(&self) -> PathBuf {
        self.path.join(".local/share")
    }

    /// Absolute path of `rel` inside the home.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes a file below the home, creating parent directories; returns its absolute path.
    ///
    /// # Panics
    /// On I/O errors (tests want to stop right there).
    #[allow(clippy::panic, reason = "test helper: fail the test at the cause")]
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        let result = p.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&p, contents));
        if let Err(e) = result {
            panic!("cannot write {}: {e}", p.display());
        }
        p
    }

    /// Reads a file below the home as text.
    ///
    /// # Panics
    /// If the file is missing or not UTF-8.
    #[allow(clippy::panic, reason = "test helper: fail the test at the cause")]
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let p = self.path.join(rel);
        match std::fs::read_to_string(&p) {
            Ok(s) => s,
            Err(e) => panic!("cannot read {}: {e}", p.display()),
        }
    }

    /// Reads a file below the home, `None` if it does not exist or is unreadable.
    pub fn try_read(&self, rel: impl AsRef<Path>) -> Option<String> {
        std::fs::read_to_string(self.path.join(rel)).ok()
    }

    /// A command with a cleared environment: only `PATH` (ours), `HOME`, the four `XDG_*`
    /// directories inside this home, and `LANG=C`. Add what the test needs with `.env(..)`.
    /// It runs in the home directory, so nothing reads the caller's working tree.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("HOME", &self.path)
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("XDG_STATE_HOME", self.state_dir())
            .env("XDG_CACHE_HOME", self.cache_dir())
            .env("XDG_DATA_HOME", self.data_dir())
            .env("LANG", "C")
            .current_dir(&self.path);
        cmd
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless, a panic in Drop is not.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Env var naming the real Claude Code binary for end-to-end tests (`cargo xtask ci` sets it).
pub const CC_E2E_CLAUDE: &str = "CC_E2E_CLAUDE";

/// The Claude Code binary named by `CC_E2E_CLAUDE`.
///
/// # Panics
/// When the variable is unset: an end-to-end test must not pass without running anything.
#[allow(clippy::panic, reason = "test helper: a silent skip would hide a missing setup")]
pub fn e2e_claude() -> PathBuf {
    match std::env::var_os(CC_E2E_CLAUDE) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "{CC_E2E_CLAUDE} is not set: it must name the real Claude Code binary \
             (`cargo xtask ci` installs it and sets it)"
        ),
    }
}

/// Adds the environment for a Claude Code run on Bedrock against the mock at `mock_url`:
/// Bedrock mode, region, both endpoint overrides (so the STS probe also stays on loopback),
/// no telemetry or other traffic, and no EC2 metadata look-up (the AWS SDK in Claude Code
/// otherwise tries 169.254.169.254 when its default chain finds no credentials).
pub fn claude_bedrock_env<'a>(cmd: &'a mut Command, mock_url: &str) -> &'a mut Command {
    cmd.env("CLAUDE_CODE_USE_BEDROCK", "1")
        .env("AWS_REGION", "us-east-1")
        .env("ANTHROPIC_BEDROCK_BASE_URL", mock_url)
        .env("AWS_ENDPOINT_URL", mock_url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DISABLE_TELEMETRY", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
}

/// What [`run`] observed.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Exit code; `None` when killed by a signal (including our timeout kill).
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl RunOutput {
    /// `status == Some(0)` and no timeout.
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    /// Everything, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status {:?}{} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            if self.timed_out { " (timed out)" } else { "" },
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `cmd` with `stdin` as its input, capturing stdout and stderr, killing it (and, on
/// Unix, its process group) after `timeout`. Never waits unboundedly.
///
/// # Panics
/// If the program cannot be started (missing binary): the test cannot say anything else.
#[allow(clippy::panic, reason = "test helper: a missing binary fails the test")]
pub fn run(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> RunOutput {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(unix)]
    {
        // Own process group, so a timeout kill also reaches grandchildren (hooks of Claude Code).
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot start {:?}: {e}", cmd.get_program()),
    };

    let input = stdin.to_vec();
    let feeder = child.stdin.take().map(|mut pipe| {
        std::thread::spawn(move || {
            // A child that exits without reading its input gives EPIPE: not our failure.
            let _ = pipe.write_all(&input);
        })
    });
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                break kill_and_reap(&mut child);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break kill_and_reap(&mut child),
        }
    };
    let elapsed = start.elapsed();
    if let Some(f) = feeder {
        // The feeder ends when the pipe closes, which the child's exit guarantees.
        let deadline = Instant::now() + PIPE_GRACE;
        while !f.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    RunOutput { status, stdout: stdout.finish(), stderr: stderr.finish(), timed_out, elapsed }
}

/// Kills the child (and its process group) and reaps it within `REAP_WAIT`.
fn kill_and_reap(child: &mut Child) -> Option<i32> {
    #[cfg(unix)]
    {
        // std has no killpg; `kill -KILL -- -PGID` reaches the whole group created above.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let deadline = Instant::now() + REAP_WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Output captured by a reader thread, available even if the thread is still blocked.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    fn finish(self) -> String {
        if let Some(t) = self.thread {
            let deadline = Instant::now() + PIPE_GRACE;
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let bytes = self.buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Collector {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let thread = pipe.map(|mut pipe| {
        let buf = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            // Ends at EOF or on a read error; each read appends so partial output survives.
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut b) = buf.lock() {
                    b.extend_from_slice(&chunk[..n]);
                }
            }
        })
    });
    Collector { buf, thread }
}

/// Fails the test if any secret, or its first 8 characters, appears in `haystack`. The panic
/// message names the secret by index and shows only its first 3 characters.
///
/// # Panics
/// When a secret leaks (that is its purpose).
#[allow(clippy::panic, reason = "an assertion helper")]
pub fn assert_no_secret(haystack: &str, secrets: &[&str]) {
    for (i, secret) in secrets.iter().enumerate() {
        if secret.is_empty() {
            continue;
        }
        let prefix: String = secret.chars().take(8).collect();
        let hint: String = secret.chars().take(3).collect();
        if haystack.contains(secret) {
            panic!("secret #{i} ({hint}…) appears in the output");
        } else if haystack.contains(&prefix) {
            panic!("the first 8 characters of secret #{i} ({hint}…) appear in the output");
        }
    }
}

/// Every file below `dir`, recursively, sorted (symlinks to directories are not followed).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) { stack.push(p) } else { found.push(p) }
        }
    }
    found.sort();
    found
}

/// Whether `prog` is on PATH (for tests that use an optional tool).
pub fn on_path(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
