//! Running user commands: through the platform shell, with a time limit, or
//! detached so a hook can return at once; and helpers that may prompt
//! (`credential_process`), which must die with the process that started them.
//!
//! A helper is started through a tiny launcher: our own binary re-executed with
//! [`LAUNCH_ARG`] (std cannot run code between `fork` and `exec` without `unsafe`, which
//! this workspace denies, hence a process of its own). In hooks and background work the
//! launcher leads its own process group and watches its parent: when the parent dies, by any
//! signal, SIGKILL included, it kills the whole group, helper and helper's children. This
//! works the same on Linux and macOS (which has no parent-death signal). In the CLI at a
//! terminal the helper must stay in the foreground process group to prompt; there, on Linux,
//! the launcher sets `PR_SET_PDEATHSIG` and becomes the helper; on macOS the helper is run
//! directly (Ctrl-C reaches it with the CLI; a SIGKILL of the CLI alone cannot be followed).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot start `{what}`: {source}")]
    Spawn { what: String, source: std::io::Error },
    #[error("`{what}` did not finish within {secs} s and was stopped")]
    Timeout { what: String, secs: u64 },
}

/// `sh -c CMD` on Unix, `cmd /C CMD` on Windows.
pub fn shell(cmd: &str) -> Command {
    #[cfg(windows)]
    {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(cmd);
        c
    }
    #[cfg(not(windows))]
    {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd);
        c
    }
}

/// Puts the child in its own process group so a timeout can stop everything
/// the shell started, and so a detached child outlives the hook.
fn own_group(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(not(unix))]
    let _ = cmd;
}

/// Stops the child and everything in its process group (it must lead one: see
/// [`own_group`]), then reaps it.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        let _ = rustix::process::kill_process_group(rustix::process::Pid::from_child(child), KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
const KILL: rustix::process::Signal = rustix::process::Signal::KILL;

fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Runs `cmd` with inherited stdout/stderr (the user sees the login tool's
/// output) and no stdin, stopping it after `timeout`.
pub fn run_inherited(mut cmd: Command, what: &str, timeout: Duration) -> Result<ExitStatus, ProcessError> {
    cmd.stdin(Stdio::null());
    own_group(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn { what: what.to_string(), source })?;
    match wait_until(&mut child, Instant::now() + timeout) {
        Ok(Some(status)) => Ok(status),
        _ => {
            kill_tree(&mut child);
            Err(ProcessError::Timeout { what: what.to_string(), secs: timeout.as_secs() })
        }
    }
}

/// Output of a captured run; `None` status means it timed out and was stopped.
#[derive(Debug)]
pub struct Captured {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
}

/// Runs `cmd` feeding `input` on stdin and capturing at most `max_out` bytes of
/// stdout (stderr discarded), stopping it after `timeout`.
pub fn run_captured(
    mut cmd: Command,
    what: &str,
    input: &[u8],
    timeout: Duration,
    max_out: usize,
) -> Result<Captured, ProcessError> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    own_group(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn { what: what.to_string(), source })?;
    let deadline = Instant::now() + timeout;
    // Writing and reading on threads: a child that ignores stdin or floods
    // stdout must not stall us past the deadline.
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
        }
    });
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(max_out as u64).read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    let status = wait_until(&mut child, deadline).ok().flatten();
    if status.is_none() {
        kill_tree(&mut child);
    }
    let _ = writer.join();
    let remaining = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(50);
    let stdout = rx.recv_timeout(remaining).unwrap_or_default();
    Ok(Captured { status, stdout })
}

/// Starts `cmd` fully detached: own process group, no inherited stdio (Claude
/// Code waits for a hook's stdout to close), not waited for.
pub fn spawn_detached(mut cmd: Command, what: &str) -> Result<(), ProcessError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    own_group(&mut cmd);
    cmd.spawn().map(drop).map_err(|source| ProcessError::Spawn { what: what.to_string(), source })
}

// ---------------------------------------------------------------------------------------------
// Helpers that may prompt, tied to our lifetime.

/// The hidden first argument with which a binary re-executes itself as the launcher of a
/// helper: `<exe> __launch-helper <parent pid> <supervise|exec> <program> [args…]`.
pub const LAUNCH_ARG: &str = "__launch-helper";

/// Where a binary runs, which decides how a helper may reach the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// Hooks, background work: Claude Code captures our stderr and nobody can answer a
    /// prompt. The helper gets no stdin, its stderr is captured, and it runs in its own
    /// process group, so a prompt on the terminal stops it (SIGTTIN) instead of stealing
    /// Claude Code's keystrokes, and a time-out or our death stops everything it started.
    Captured,
    /// The CLI: the helper's stderr is passed through live (its prompts must be seen) and
    /// kept, stdin is inherited, and while we have a terminal it stays in our process group:
    /// only the foreground group may read the terminal, and Ctrl-C must reach it too.
    Terminal,
}

/// Set once by the binary through [`launcher_entry`]: it dispatches [`LAUNCH_ARG`], so
/// helpers may be started through it. Binaries that never call it (tests of this crate,
/// other tools) run helpers directly.
static LAUNCHER: AtomicBool = AtomicBool::new(false);
static TERMINAL: AtomicBool = AtomicBool::new(false);

/// Called first by every binary that runs helpers: runs the launcher when `first_arg` is
/// [`LAUNCH_ARG`] and returns its exit code, else records that this binary can launch helpers
/// and how it meets the user, and returns `None`.
pub fn launcher_entry(first_arg: Option<&OsStr>, interaction: Interaction) -> Option<u8> {
    if first_arg == Some(OsStr::new(LAUNCH_ARG)) {
        return Some(launch(std::env::args_os().skip(2)));
    }
    LAUNCHER.store(true, Ordering::Relaxed);
    TERMINAL.store(interaction == Interaction::Terminal, Ordering::Relaxed);
    None
}

/// Whether a person may answer a helper's prompt: [`Interaction::Terminal`] and a controlling
/// terminal (not the daemon under a service manager, not a script without one).
pub fn interactive() -> bool {
    TERMINAL.load(Ordering::Relaxed) && has_terminal()
}

/// How the launcher ties the helper to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tie {
    /// The launcher leads its own process group and stays, polling its parent; when the
    /// parent is gone it SIGKILLs the whole group: the helper and whatever it started (a
    /// wrapper script's `okta … | jq`, say). Needs no death signal: Linux and macOS alike.
    Supervise,
    /// Linux, helper in the caller's (foreground) process group: the launcher asks the kernel
    /// to SIGKILL it when its parent dies (`PR_SET_PDEATHSIG`, which survives `execve`), then
    /// becomes the helper. The group is the user's job and must not be killed; a time-out
    /// kills the helper itself.
    Exec,
}

impl Tie {
    fn word(self) -> &'static str {
        match self {
            Tie::Supervise => "supervise",
            Tie::Exec => "exec",
        }
    }
}

/// Exit codes of the launcher itself, as shells use them.
const LAUNCH_PARENT_GONE: u8 = 125;
const LAUNCH_CANNOT_EXEC: u8 = 126;
const LAUNCH_NOT_FOUND: u8 = 127;

fn exec_failure(e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::NotFound { LAUNCH_NOT_FOUND } else { LAUNCH_CANNOT_EXEC }
}

/// The launcher: `args` are the parent's pid, the [`Tie`], the program and its arguments.
fn launch(mut args: impl Iterator<Item = OsString>) -> u8 {
    let parent = args.next().and_then(|p| p.to_str().and_then(|s| s.parse::<i32>().ok()));
    let tie = args.next();
    let (Some(parent), Some(tie), Some(program)) = (parent, tie, args.next()) else { return LAUNCH_CANNOT_EXEC };
    let rest: Vec<OsString> = args.collect();
    #[cfg(target_os = "linux")]
    if tie == Tie::Exec.word() {
        use std::os::unix::process::CommandExt;
        // Become the helper only with the death signal in place (it survives execve for a
        // program that is not set-uid); if the kernel refuses it, supervise below instead.
        // The signal comes when the thread that spawned us ends: `run_helper` blocks on that
        // thread until the run is over, so in effect when our parent process dies.
        if rustix::process::set_parent_process_death_signal(Some(KILL)).is_ok() {
            // The parent may have died before the call above took effect: no signal comes then.
            if !parent_alive(parent) {
                return LAUNCH_PARENT_GONE;
            }
            let e = Command::new(&program).args(&rest).exec();
            return exec_failure(&e);
        }
    }
    let _ = tie;
    #[cfg(unix)]
    {
        supervise(parent, &program, &rest)
    }
    #[cfg(not(unix))]
    {
        let _ = parent;
        match Command::new(&program).args(&rest).status() {
            Ok(s) => u8::try_from(s.code().unwrap_or(1)).unwrap_or(1),
            Err(e) => exec_failure(&e),
        }
    }
}

/// Whether our parent is still the process `parent` (an orphan is re-parented to init or
/// a subreaper, so its parent pid changes).
#[cfg(unix)]
fn parent_alive(parent: i32) -> bool {
    rustix::process::Pid::as_raw(rustix::process::getppid()) == parent
}

/// How often the supervising launcher looks at its parent and its child.
#[cfg(unix)]
const SUPERVISE_POLL: Duration = Duration::from_millis(25);

/// [`Tie::Supervise`]: start the helper as our child and poll. When the parent is gone, kill
/// the helper and, when we lead our process group (we were started in a group of our own),
/// the whole group, ourselves last.
#[cfg(unix)]
fn supervise(parent: i32, program: &OsStr, args: &[OsString]) -> u8 {
    use std::os::unix::process::ExitStatusExt;

    use rustix::process::{getpgrp, getpid, kill_process_group};
    if !parent_alive(parent) {
        return LAUNCH_PARENT_GONE;
    }
    let mut child = match Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => return exec_failure(&e),
    };
    loop {
        match child.try_wait() {
            Ok(Some(s)) => {
                let code = s.code().or_else(|| s.signal().map(|sig| 128 + sig)).unwrap_or(1);
                return u8::try_from(code).unwrap_or(1);
            }
            Ok(None) if parent_alive(parent) => std::thread::sleep(SUPERVISE_POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                if getpgrp() == getpid() {
                    let _ = kill_process_group(getpgrp(), KILL);
                }
                return LAUNCH_PARENT_GONE;
            }
        }
    }
}

/// `cmd` run by the launcher with `tie` (same program, arguments, environment changes and
/// directory), when this binary has one; `None` runs `cmd` itself.
fn through_launcher(cmd: &Command, tie: Tie) -> Option<Command> {
    if !cfg!(unix) || !LAUNCHER.load(Ordering::Relaxed) {
        return None;
    }
    // On Linux /proc/self/exe runs this very binary even after an upgrade replaced the file.
    let exe = if cfg!(target_os = "linux") && std::path::Path::new("/proc/self/exe").exists() {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().ok()?
    };
    let mut l = Command::new(exe);
    l.arg(LAUNCH_ARG).arg(std::process::id().to_string()).arg(tie.word());
    l.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => l.env(k, v),
            None => l.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        l.current_dir(d);
    }
    Some(l)
}

/// Whether this process has a controlling terminal a helper could prompt on (asked once).
fn has_terminal() -> bool {
    static TTY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TTY.get_or_init(|| cfg!(unix) && std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok())
}

/// What a helper printed: stdout (bounded) for its result, the last line of stderr
/// ([`last_line`]) for our error messages.
#[derive(Debug)]
pub struct HelperRun {
    /// `None`: it timed out and was stopped.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    /// The last non-empty stderr line, cleaned by [`last_line`].
    pub stderr_line: Option<String>,
}

/// How much of a helper's stderr we keep: its last line is what we want.
const STDERR_KEEP: usize = 4096;
/// After the helper exits, how long its pipes may stay open (a grandchild holding them).
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// Runs a helper that may prompt (see [`Interaction`]), through the launcher so it dies with
/// us, stopping it after `timeout`. Stdout: at most `max_out` bytes kept (never logged: it
/// holds secrets). Stderr: captured, or passed through live in [`Interaction::Terminal`];
/// its last line is kept either way.
pub fn run_helper(mut cmd: Command, what: &str, timeout: Duration, max_out: usize) -> Result<HelperRun, ProcessError> {
    // The CLI passes the helper's stderr through even without a terminal (the daemon's log).
    let terminal = TERMINAL.load(Ordering::Relaxed);
    let shared_group = interactive();
    // In the user's foreground group only a death signal can tie the helper to us (Linux);
    // elsewhere there it runs directly: Ctrl-C reaches it as part of the same job.
    let mut launcher = match shared_group {
        false => through_launcher(&cmd, Tie::Supervise),
        true if cfg!(target_os = "linux") => through_launcher(&cmd, Tie::Exec),
        true => None,
    };
    for c in std::iter::once(&mut cmd).chain(launcher.as_mut()) {
        c.stdin(if terminal { Stdio::inherit() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        if !shared_group {
            own_group(c);
        }
    }
    // A launcher that cannot start (no /proc, a binary gone) must not cost the credentials.
    let spawned = match launcher.as_mut().map(Command::spawn) {
        Some(Ok(child)) => Ok(child),
        _ => cmd.spawn(),
    };
    let mut child = spawned.map_err(|source| ProcessError::Spawn { what: what.to_string(), source })?;
    let deadline = Instant::now() + timeout;
    let stdout = Collector::start(child.stdout.take(), Keep::First(max_out), false);
    let stderr = Collector::start(child.stderr.take(), Keep::Last(STDERR_KEEP), terminal);
    let status = wait_until(&mut child, deadline).ok().flatten();
    if status.is_none() {
        if shared_group {
            // Our group is the user's job: only the helper itself (the launcher became it) is
            // stopped.
            let _ = child.kill();
            let _ = child.wait();
        } else {
            kill_tree(&mut child);
        }
    }
    let until = Instant::now() + PIPE_GRACE;
    let stdout = stdout.finish(until);
    let stderr_line = last_line(&stderr.finish(until));
    Ok(HelperRun { status, stdout, stderr_line })
}

/// Which bytes of a stream a [`Collector`] keeps.
#[derive(Clone, Copy)]
enum Keep {
    First(usize),
    Last(usize),
}

/// A pipe read on a thread into a shared buffer, readable even while the thread is still
/// blocked (a grandchild may hold the pipe open). The whole stream is read, so a chatty
/// child never blocks on a full pipe.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    fn start(pipe: Option<impl Read + Send + 'static>, keep: Keep, echo: bool) -> Collector {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let thread = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    let Some(bytes) = chunk.get(..n).filter(|b| !b.is_empty()) else { break };
                    if echo {
                        // The helper's own stderr, passed through as an inherited stderr
                        // would be (its prompts must be seen); never its stdout.
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(bytes);
                        let _ = err.flush();
                    }
                    let Ok(mut b) = buf.lock() else { break };
                    match keep {
                        Keep::First(max) => {
                            let room = max.saturating_sub(b.len());
                            b.extend_from_slice(bytes.get(..room.min(n)).unwrap_or_default());
                        }
                        Keep::Last(max) => {
                            b.extend_from_slice(bytes);
                            if b.len() > 2 * max {
                                let cut = b.len() - max;
                                b.drain(..cut);
                            }
                        }
                    }
                }
            })
        });
        Collector { buf, thread }
    }

    /// What was read, once the stream ended or `until` passed.
    fn finish(self, until: Instant) -> Vec<u8> {
        if let Some(t) = self.thread {
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.buf.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

/// How long a line of a helper's output we quote.
pub const LINE_MAX_CHARS: usize = 200;

/// The last non-empty line of `bytes` (a `\r` also ends a line: progress output), fit for
/// one line of our own: terminal escape sequences and control characters removed, spaces
/// squeezed, at most [`LINE_MAX_CHARS`] characters.
pub fn last_line(bytes: &[u8]) -> Option<String> {
    let text = strip_escapes(&String::from_utf8_lossy(bytes));
    text.split(['\n', '\r']).rev().map(clean_line).find(|l| !l.is_empty())
}

fn clean_line(line: &str) -> String {
    let words: Vec<&str> =
        line.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let joined = words.join(" ");
    if joined.chars().count() <= LINE_MAX_CHARS {
        return joined;
    }
    let mut cut: String = joined.chars().take(LINE_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Removes ANSI escape sequences (colours, cursor moves, window titles), keeping newlines.
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next_if_eq(&'\\');
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn captured_run_passes_stdin_and_times_out() {
        let out = run_captured(shell("head -c 5"), "t", b"hello world", Duration::from_secs(5), 1024).unwrap();
        assert!(out.status.unwrap().success());
        assert_eq!(out.stdout, b"hello");
        let start = Instant::now();
        let out = run_captured(shell("sleep 10; echo late"), "t", b"", Duration::from_millis(200), 1024).unwrap();
        assert!(out.status.is_none());
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn inherited_run_times_out_with_a_message() {
        let start = Instant::now();
        let e = run_inherited(shell("sleep 10"), "my-login", Duration::from_millis(200)).unwrap_err();
        assert!(e.to_string().contains("my-login"));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn helper_keeps_bounded_stdout_and_the_last_stderr_line() {
        let cmd = shell(
            "echo first >&2; printf 'SECRETOUT%.0s' $(seq 1 100); echo; printf 'MFA device not present\\n\\n' >&2",
        );
        let out = run_helper(cmd, "t", Duration::from_secs(5), 18).unwrap();
        assert!(out.status.unwrap().success());
        assert_eq!(out.stdout, b"SECRETOUTSECRETOUT");
        assert_eq!(out.stderr_line.as_deref(), Some("MFA device not present"));
        // A flood of stderr is drained (no stall on a full pipe) and only its end kept.
        let out = run_helper(
            shell("head -c 300000 /dev/zero | tr '\\0' x >&2; echo >&2; echo done >&2"),
            "t",
            Duration::from_secs(5),
            10,
        )
        .unwrap();
        assert_eq!(out.stderr_line.as_deref(), Some("done"));
        let start = Instant::now();
        let out =
            run_helper(shell("echo 'Touch your YubiKey' >&2; sleep 10"), "t", Duration::from_millis(300), 10).unwrap();
        assert!(out.status.is_none());
        assert_eq!(out.stderr_line.as_deref(), Some("Touch your YubiKey"));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn last_line_is_clean_and_bounded() {
        assert_eq!(last_line(b"one\ntwo\n\n  \n").as_deref(), Some("two"));
        assert_eq!(last_line(b"\x1b[31merror:\x1b[0m\tno\x07 device\r\n").as_deref(), Some("error: no device"));
        assert_eq!(last_line(b"progress 10%\rprogress 100%").as_deref(), Some("progress 100%"));
        assert_eq!(last_line(b"\x1b]0;title\x07visible").as_deref(), Some("visible"));
        assert_eq!(last_line(b"\n\n"), None);
        let long = last_line(&[b'y'; 1000]).unwrap();
        assert_eq!(long.chars().count(), LINE_MAX_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn supervisor_runs_the_helper_and_stops_it_when_the_parent_is_gone() {
        let me = rustix::process::Pid::as_raw(rustix::process::getppid());
        let ok = supervise(me, OsStr::new("sh"), &["-c".into(), "exit 3".into()]);
        assert_eq!(ok, 3);
        // A parent pid that is not ours: the helper is never started.
        assert_eq!(supervise(me + 1_000_000, OsStr::new("sh"), &["-c".into(), "exit 0".into()]), LAUNCH_PARENT_GONE);
    }
}
