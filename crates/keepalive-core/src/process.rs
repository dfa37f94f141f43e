//! Running user commands: through the platform shell, with a time limit, or
//! detached so a hook can return at once.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// Stops the child and everything in its process group, then reaps it.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", child.id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

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
}
