//! The critical section of a token refresh — the call that spends a single-use refresh token
//! and the save of its successor — run where a kill of the caller cannot cut it, plus the
//! fall-backs that keep the successor when the save fails. One mechanism for IAM Identity
//! Center (`CreateToken`) and `aws login` (`/v1/token`).
//!
//! Why: once AWS has answered a refresh, the old refresh token is dead. If the process that
//! made the call dies before the new one is on disk (Claude Code kills a hook or its process
//! group, the daemon gets SIGTERM, Ctrl-C), or the write fails (a full disk, a bind-mounted
//! token file), the next call gets `invalid_grant` and the user needs a browser.
//!
//! How:
//! - **Worker.** The caller takes the session lock and re-reads the cache (N callers, one
//!   refresh). Only when a call is really needed does it re-execute its own binary with
//!   [`WORKER_ARG`]: in its own process group (a kill of the caller, or of the caller's
//!   group, does not reach it), with SIGHUP/SIGINT/SIGQUIT/SIGTERM ignored where
//!   `env --ignore-signal` exists (a service manager stopping a whole cgroup), and with the
//!   lock file as its stdin: a `flock` belongs to the open file description, which the
//!   worker's copy shares, so the lock stays held until the worker ends even when the caller
//!   is killed. The worker re-reads, prepares the write, calls, saves, and reports one JSON
//!   line on its stdout (a pipe to the caller, never Claude Code's). The caller waits
//!   (bounded) and re-reads the cache.
//! - **Prepared write.** Before the call the temp file is created and filled to a generous
//!   size ([`fsutil::prepare_write`]): a full disk stops the refresh before the token is spent.
//! - **Save** ([`save`]): rename the prepared file over the cache; when the rename is refused
//!   (EBUSY: a bind-mounted single file) write in place, with the token stashed first so a
//!   kill in the middle of that non-atomic write loses nothing; when that fails too, the
//!   token stays in the stash (`paths::stash_file`, 0600 in a 0700 folder).
//! - **Adoption** ([`adopt`]): every read of a session's cache looks for a stash; one newer
//!   than the cache is used at once, written back under the session lock and then removed.
//!
//! Binaries that do not dispatch [`WORKER_ARG`] through [`entry`] (this crate's tests, tools
//! linking the crate) run the critical section in-process, under the same lock.
//!
//! Nothing here logs or reports a secret: the job on the command line holds names and ids
//! (a forced SSO refresh names the access token to replace by its SHA-256); replies carry
//! outcomes, expiry times and one-line error messages.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::fsutil::{self, CommitError, FsError, PreparedWrite, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::lock::{self, LockError};
use crate::log::{self, Level};
use crate::paths;

/// The hidden first argument with which a binary re-executes itself as a refresh worker:
/// `<exe> __refresh-worker <job JSON>`.
pub const WORKER_ARG: &str = "__refresh-worker";

/// How long a caller waits for its worker: the lock is already held, so this is the HTTP
/// call ([`crate::http::CALL_BUDGET`], 15 s) plus the file work, with room to spare.
pub const WORKER_WAIT: Duration = Duration::from_secs(30);

/// Largest reply read from a worker (a reply is one short JSON line).
const MAX_REPLY: u64 = 64 * 1024;

/// Set by [`entry`]: this binary answers [`WORKER_ARG`], so refreshes may run in a worker.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Signals a worker ignores when started through `env`: what service managers, terminals
/// and Ctrl-C send. SIGKILL cannot be ignored; nothing sends it to a stray process group.
const IGNORED_SIGNALS: &str = "--ignore-signal=HUP,INT,QUIT,TERM";

/// The worker could not read its job: a caller and a binary from different versions.
const EXIT_BAD_JOB: u8 = 2;

/// A refresh whose call and save run in a worker.
pub trait Job: Sized {
    /// Names the job on the command line.
    const KIND: &'static str;
    /// What the critical section returns (the provider's `Result`).
    type Out;
    fn to_json(&self) -> Value;
    fn from_json(v: &Value) -> Option<Self>;
    /// The critical section: re-read, prepare the write, call, save. The session lock is held.
    fn run(&self, ctx: &Ctx) -> Self::Out;
    /// The reply a worker sends for `out`: outcomes, times and one-line messages only.
    fn encode(out: &Self::Out) -> Value;
    /// `out` back from a reply; `None` when it does not parse.
    fn decode(&self, reply: &Value) -> Option<Self::Out>;
}

/// Why a worker gave no answer. The caller re-reads the cache: the worker may have saved a
/// token before it failed to report, and a timed-out worker keeps running and saves later.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "the refresh helper process (pid {pid}) has not finished after {secs} s; it keeps running and saves the token when it ends; retry in a moment"
    )]
    Timeout { pid: u32, secs: u64 },
    #[error(
        "the refresh helper process ended without an answer ({status}); retry, and see `cc-aws-keepalive logs` if it persists"
    )]
    NoReply { status: String },
}

/// Called first by the engine binary (through `hooks::engine::entry`): runs a worker when
/// `first_arg` is [`WORKER_ARG`] and returns its exit code; otherwise records that this
/// binary can serve as a worker and returns `None`.
pub fn entry(first_arg: Option<&OsStr>) -> Option<u8> {
    if first_arg != Some(OsStr::new(WORKER_ARG)) {
        ENABLED.store(true, Ordering::Relaxed);
        return None;
    }
    Some(serve(std::env::args_os().nth(2).map(|a| a.to_string_lossy().into_owned())))
}

/// Whether refreshes run in a worker process (this binary dispatches [`WORKER_ARG`]).
pub fn enabled() -> bool {
    cfg!(unix) && ENABLED.load(Ordering::Relaxed)
}

/// The worker side: runs the job named on the command line and writes its reply.
fn serve(job: Option<String>) -> u8 {
    let Some(v) = job.and_then(|j| serde_json::from_str::<Value>(&j).ok()) else { return EXIT_BAD_JOB };
    let now = v["now"]
        .as_array()
        .and_then(|a| Some((a.first()?.as_i64()?, a.get(1)?.as_i64()?)))
        .and_then(|(secs, nanos)| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos)).ok()
        })
        .unwrap_or_else(OffsetDateTime::now_utc);
    // The caller passed its environment snapshot down (see `worker_command`).
    let ctx = Ctx::new(Env::from_process(), now);
    let kind = v["kind"].as_str().unwrap_or_default();
    let reply = if kind == super::sso::RefreshJob::KIND {
        serve_job::<super::sso::RefreshJob>(&ctx, &v["job"])
    } else if kind == super::login::RefreshJob::KIND {
        serve_job::<super::login::RefreshJob>(&ctx, &v["job"])
    } else {
        None
    };
    let Some(reply) = reply else { return EXIT_BAD_JOB };
    // The one place core writes to stdout: in a worker it is a pipe to the process that
    // started it, read by `wait_reply`, never Claude Code's. A caller that died meanwhile
    // only makes this write fail (SIGPIPE is ignored in Rust binaries); the save is done.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{reply}");
    let _ = out.flush();
    0
}

fn serve_job<J: Job>(ctx: &Ctx, v: &Value) -> Option<Value> {
    let job = J::from_json(v)?;
    Some(J::encode(&job.run(ctx)))
}

/// A session lock that can be handed to a worker (see the module documentation). Taken
/// with [`lock`]; the same `flock` as [`crate::lock`] takes on the same path.
#[derive(Debug)]
pub struct SessionLock {
    file: File,
}

/// Waits at most `wait` for the session lock `path`; `Ok(None)` when it stayed busy.
pub fn lock(path: &Path, wait: Duration) -> Result<Option<SessionLock>, LockError> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
    }
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(SECRET_FILE_MODE);
    }
    let file = opts.open(path).map_err(|source| LockError::Open { path: path.to_path_buf(), source })?;
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(SessionLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError::Lock { path: path.to_path_buf(), source });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Runs `job`'s critical section in a worker process when this binary can serve as one,
/// else here; `lock` (the session lock, held) is shared with the worker until it ends.
/// `Err` only when a worker gave no answer: the caller then re-reads the cache.
pub fn run<J: Job>(ctx: &Ctx, lock: &SessionLock, job: &J) -> Result<J::Out, WorkerError> {
    if !enabled() {
        return Ok(job.run(ctx));
    }
    let Ok(exe) = std::env::current_exe() else {
        return Ok(job.run(ctx));
    };
    let secs = ctx.now.unix_timestamp();
    let nanos = i64::from(ctx.now.nanosecond());
    let payload = json!({"kind": J::KIND, "now": [secs, nanos], "job": job.to_json()}).to_string();
    let env_program = signal_wrapper();
    for wrapper in [env_program.as_deref(), None] {
        let mut cmd = worker_command(ctx, wrapper, &exe, &payload);
        match lock.file.try_clone() {
            Ok(f) => cmd.stdin(Stdio::from(f)),
            Err(_) => break,
        };
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(_) if wrapper.is_some() => continue,
            Err(_) => break,
        };
        drop(cmd);
        match wait_reply(child, WORKER_WAIT) {
            Waited::Reply(text) => {
                let reply = text.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok());
                return reply
                    .and_then(|r| job.decode(&r))
                    .ok_or(WorkerError::NoReply { status: "unreadable answer".into() });
            }
            Waited::Ended(status) => {
                // Silent and not the worker's own exit code: `env` could not start it (no
                // --ignore-signal there, e.g. busybox): start it directly. Under our lock, a
                // second run re-reads the cache first, so it never refreshes twice.
                if wrapper.is_some() && status.code().is_some_and(|c| c != 0 && c != i32::from(EXIT_BAD_JOB)) {
                    continue;
                }
                return Err(WorkerError::NoReply { status: status.to_string() });
            }
            Waited::Timeout { pid } => return Err(WorkerError::Timeout { pid, secs: WORKER_WAIT.as_secs() }),
        }
    }
    log::write(ctx, Level::Warn, "worker", "cannot start a refresh worker process; refreshing in this process");
    Ok(job.run(ctx))
}

/// `/usr/bin/env` when it can start the worker with signals ignored (GNU coreutils ≥ 8.31;
/// elsewhere `env` refuses the option and the worker is started directly).
fn signal_wrapper() -> Option<PathBuf> {
    let env = PathBuf::from("/usr/bin/env");
    (cfg!(target_os = "linux") && env.is_file()).then_some(env)
}

/// The worker's command line: our own executable, the caller's environment snapshot (the
/// rest of the environment is inherited: proxies, certificates), no stderr, stdout a pipe,
/// its own process group.
fn worker_command(ctx: &Ctx, wrapper: Option<&Path>, exe: &Path, payload: &str) -> Command {
    let mut cmd = match wrapper {
        Some(env) => {
            let mut c = Command::new(env);
            c.arg(IGNORED_SIGNALS).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.arg(WORKER_ARG).arg(payload);
    for name in vars::ALL {
        match ctx.env.get(name) {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

enum Waited {
    Reply(String),
    /// Ended without writing anything.
    Ended(ExitStatus),
    Timeout {
        pid: u32,
    },
}

/// Waits at most `limit` for the worker's reply and exit. A worker still running at the
/// limit is left running (it holds a spent refresh token's successor until it saves it);
/// a thread reaps it should this process live on (the daemon).
fn wait_reply(mut child: Child, limit: Duration) -> Waited {
    let deadline = Instant::now() + limit;
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_REPLY).read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    // The pipe reaches end of file when the worker exits (it starts no children).
    let Ok(out) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
        let pid = child.id();
        std::thread::spawn(move || child.wait());
        return Waited::Timeout { pid };
    };
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => break None,
        }
    };
    let text = String::from_utf8_lossy(&out).into_owned();
    match status {
        _ if !text.trim().is_empty() => Waited::Reply(text),
        Some(s) => Waited::Ended(s),
        None => {
            let pid = child.id();
            std::thread::spawn(move || child.wait());
            Waited::Timeout { pid }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Saving, stashing, adopting.

/// Where a refreshed token went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// The cache file was replaced atomically.
    Replaced,
    /// The cache file refused a rename (bind-mounted) and was rewritten in place.
    InPlace,
    /// The cache could not be written; the token waits in this stash file for the next read.
    Stashed(PathBuf),
}

impl Saved {
    /// For log lines: "", ", written in place", ", kept in <stash> until the cache can be written".
    pub fn note(&self) -> String {
        match self {
            Saved::Replaced => String::new(),
            Saved::InPlace => ", written in place (the file refuses renames)".into(),
            Saved::Stashed(p) => format!(", kept in {} until the cache file can be written", p.display()),
        }
    }
}

/// Neither the cache nor the stash could take a refreshed token (one line: both reasons).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SaveError(String);

impl SaveError {
    fn new(cache: &str, stash: &FsError) -> SaveError {
        SaveError(format!("{cache}; keeping the new token in the state directory failed too ({stash})"))
    }
}

/// Saves `contents` (a refreshed token) for the session `name`: through `prepared` (made
/// before the call), in place when the rename is refused, else into the stash.
pub fn save(ctx: &Ctx, name: &str, prepared: PreparedWrite, contents: &[u8]) -> Result<Saved, SaveError> {
    let cache_error = match prepared.commit(contents) {
        Ok(()) => {
            // An older stash of this session is obsolete now (and holds a dead secret).
            unstash(ctx, name);
            return Ok(Saved::Replaced);
        }
        Err(CommitError::RenameRefused { target, mode, source }) => {
            // Stashed first: the in-place write is not atomic, and a kill in its middle
            // must not lose the token.
            let stashed = stash(ctx, name, contents);
            match fsutil::write_in_place(&target, contents, Some(mode)) {
                Ok(()) => {
                    unstash(ctx, name);
                    log::write(
                        ctx,
                        Level::Info,
                        "worker",
                        &format!(
                            "{} refuses to be replaced by a rename ({source}); wrote it in place",
                            target.display()
                        ),
                    );
                    return Ok(Saved::InPlace);
                }
                Err(e) => match stashed {
                    Ok(path) => return Ok(stashed_note(ctx, &e.to_string(), path)),
                    Err(stash_error) => return Err(SaveError::new(&e.to_string(), &stash_error)),
                },
            }
        }
        Err(CommitError::Failed(e)) => e.to_string(),
    };
    match stash(ctx, name, contents) {
        Ok(path) => Ok(stashed_note(ctx, &cache_error, path)),
        Err(e) => Err(SaveError::new(&cache_error, &e)),
    }
}

fn stashed_note(ctx: &Ctx, cache_error: &str, path: PathBuf) -> Saved {
    log::write(
        ctx,
        Level::Warn,
        "worker",
        &format!("{cache_error}; the refreshed token is kept in {} and adopted at the next use", path.display()),
    );
    Saved::Stashed(path)
}

/// Writes the stash of session `name` (0600, folder 0700).
pub fn stash(ctx: &Ctx, name: &str, contents: &[u8]) -> Result<PathBuf, FsError> {
    let path = paths::stash_file(&ctx.env, name)
        .map_err(|e| FsError::Write { path: PathBuf::from("stash"), source: std::io::Error::other(e.to_string()) })?;
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
    }
    fsutil::write_atomic(&path, contents, Some(SECRET_FILE_MODE))?;
    Ok(path)
}

/// Removes the stash of session `name`, if any.
pub fn unstash(ctx: &Ctx, name: &str) {
    if let Ok(path) = paths::stash_file(&ctx.env, name) {
        let _ = std::fs::remove_file(path);
    }
}

/// A token cache entry that can wait in a stash.
pub trait Stashable: Sized {
    /// When its access token (or keys) expire: the newer entry expires later.
    fn expires_at(&self) -> Option<OffsetDateTime>;
    /// Writes it to its cache file; a one-line error otherwise.
    fn write_back(&self) -> Result<(), String>;
}

/// Who holds the session lock while a cache is read.
#[derive(Debug, Clone, Copy)]
pub enum Locking<'a> {
    /// The caller does (a refresh in progress).
    Held,
    /// Nobody yet: a stash is written back only if this lock can be taken without waiting.
    Try(&'a Path),
}

/// Reads a session's cache with `read` and adopts its stash (`name`) when that is newer:
/// a corrupt or missing cache, or a later expiry, makes the stash the answer. Under the
/// session lock (held, or taken without waiting) a newer stash is written back and removed
/// once written, an older one removed; without the lock it is only used, so that a refresh
/// in progress elsewhere is never overwritten.
pub fn adopt<T: Stashable, E>(
    ctx: &Ctx,
    name: &str,
    locking: Locking<'_>,
    read: impl Fn() -> Result<Option<T>, E>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, E> {
    let first = read();
    let Ok(path) = paths::stash_file(&ctx.env, name) else { return first };
    // The common case: no stash, one failed open.
    let Ok(Some(text)) = fsutil::read_optional(&path) else { return first };
    let guard = match locking {
        Locking::Held => None,
        Locking::Try(lock_path) => match lock::try_lock(lock_path) {
            Ok(Some(g)) => Some(g),
            _ => return merge(first, parse(&text)).0,
        },
    };
    // Locked: read both again, a worker may have finished between our reads and the lock.
    let (current, text) = match guard {
        Some(_) => (read(), fsutil::read_optional(&path).ok().flatten()),
        None => (first, Some(text)),
    };
    let Some(stashed) = text.as_deref().and_then(&parse) else { return current };
    let (merged, adopted) = merge(current, Some(stashed));
    if !adopted {
        let _ = std::fs::remove_file(&path);
        log::write(ctx, Level::Info, "worker", &format!("removed {}: the cache holds a newer token", path.display()));
        return merged;
    }
    if let Ok(Some(token)) = &merged {
        match token.write_back() {
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
                log::write(ctx, Level::Info, "worker", &format!("adopted the token kept in {}", path.display()));
            }
            // Every read tries again (a few system calls); the log hears of it once a minute
            // at most, the stash's time stamp marking the last report.
            Err(e) if stash_age(&path) >= REPORT_EVERY => {
                log::write(
                    ctx,
                    Level::Warn,
                    "worker",
                    &format!("using the token kept in {}; still cannot write it back: {e}", path.display()),
                );
                if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
            }
            Err(_) => {}
        }
    }
    merged
}

/// How often a stash that cannot be written back is reported in the log.
const REPORT_EVERY: Duration = Duration::from_secs(60);

fn stash_age(path: &Path) -> Duration {
    std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).unwrap_or(Duration::ZERO)
}

/// The cache or the stash, whichever is newer, and whether it is the stash.
fn merge<T: Stashable, E>(current: Result<Option<T>, E>, stashed: Option<T>) -> (Result<Option<T>, E>, bool) {
    let Some(stashed) = stashed else { return (current, false) };
    let newer = match &current {
        Ok(Some(c)) => stashed.expires_at() > c.expires_at(),
        Ok(None) | Err(_) => true,
    };
    if newer { (Ok(Some(stashed)), true) } else { (current, false) }
}

/// SHA-256 hex of `text`: names a secret (the access token a forced refresh replaces)
/// on a command line without revealing it.
pub fn fingerprint(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Tok {
        exp: i64,
        path: PathBuf,
    }

    impl Stashable for Tok {
        fn expires_at(&self) -> Option<OffsetDateTime> {
            OffsetDateTime::from_unix_timestamp(self.exp).ok()
        }
        fn write_back(&self) -> Result<(), String> {
            std::fs::write(&self.path, self.exp.to_string()).map_err(|e| e.to_string())
        }
    }

    fn setup(tag: &str) -> (Ctx, PathBuf) {
        let dir = std::env::temp_dir().join(format!("kc-worker-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env =
            Env::from_pairs([("HOME", dir.to_str().unwrap()), ("XDG_STATE_HOME", dir.join("state").to_str().unwrap())]);
        (Ctx::new(env, OffsetDateTime::now_utc()), dir)
    }

    fn reader(cache: &Path) -> impl Fn() -> Result<Option<Tok>, String> + '_ {
        move || match std::fs::read_to_string(cache) {
            Ok(t) => {
                t.trim().parse().map(|exp| Some(Tok { exp, path: cache.to_path_buf() })).map_err(|_| "corrupt".into())
            }
            Err(_) => Ok(None),
        }
    }

    #[test]
    fn a_newer_stash_is_adopted_written_back_and_removed() {
        let (ctx, dir) = setup("newer");
        let cache = dir.join("cache.json");
        std::fs::write(&cache, "100").unwrap();
        let stash_path = stash(&ctx, "sso-x", b"200").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&stash_path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(stash_path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let parse = |t: &str| t.trim().parse().ok().map(|exp| Tok { exp, path: cache.clone() });
        let lock_path = dir.join("locks/sso-x.lock");

        // While someone else holds the session lock, the stash is used but left alone.
        let held = lock::try_lock(&lock_path).unwrap().unwrap();
        let got = adopt(&ctx, "sso-x", Locking::Try(&lock_path), reader(&cache), parse).unwrap().unwrap();
        assert_eq!(got.exp, 200);
        assert!(stash_path.exists());
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), "100");
        drop(held);

        let got = adopt(&ctx, "sso-x", Locking::Try(&lock_path), reader(&cache), parse).unwrap().unwrap();
        assert_eq!(got.exp, 200);
        assert!(!stash_path.exists(), "written back, so removed");
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), "200");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_older_stash_is_dropped_and_a_corrupt_cache_yields_to_the_stash() {
        let (ctx, dir) = setup("older");
        let cache = dir.join("cache.json");
        let parse = |t: &str| t.trim().parse().ok().map(|exp| Tok { exp, path: cache.clone() });
        std::fs::write(&cache, "300").unwrap();
        let stash_path = stash(&ctx, "login-y", b"200").unwrap();
        let got = adopt(&ctx, "login-y", Locking::Held, reader(&cache), parse).unwrap().unwrap();
        assert_eq!(got.exp, 300);
        assert!(!stash_path.exists());

        std::fs::write(&cache, "{cut").unwrap();
        stash(&ctx, "login-y", b"250").unwrap();
        let got = adopt(&ctx, "login-y", Locking::Held, reader(&cache), parse).unwrap().unwrap();
        assert_eq!(got.exp, 250);
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), "250");

        // No stash: the cache's own answer, errors included.
        std::fs::write(&cache, "{cut").unwrap();
        assert!(adopt(&ctx, "login-y", Locking::Held, reader(&cache), parse).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_save_that_cannot_reach_the_cache_goes_to_the_stash() {
        let (ctx, dir) = setup("save");
        let cache = dir.join("c/token.json");
        std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
        std::fs::write(&cache, "old").unwrap();
        let prepared = fsutil::prepare_write(&cache, 64, Some(0o600)).unwrap();
        assert_eq!(save(&ctx, "sso-z", prepared, b"new").unwrap(), Saved::Replaced);
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), "new");

        // The cache's folder disappears between preparation and save: the stash keeps it.
        let prepared = fsutil::prepare_write(&cache, 64, Some(0o600)).unwrap();
        std::fs::remove_dir_all(cache.parent().unwrap()).unwrap();
        let saved = save(&ctx, "sso-z", prepared, b"newer").unwrap();
        let Saved::Stashed(p) = saved else { panic!("{saved:?}") };
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "newer");
        assert!(Saved::Stashed(p).note().contains("stash"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_lock_is_the_same_flock_as_the_lock_module() {
        let (_ctx, dir) = setup("lock");
        let path = dir.join("locks/l.lock");
        let held = lock(&path, Duration::from_millis(10)).unwrap().unwrap();
        assert!(lock::try_lock(&path).unwrap().is_none());
        assert!(lock(&path, Duration::from_millis(20)).unwrap().is_none());
        drop(held);
        assert!(lock::try_lock(&path).unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fingerprints_do_not_reveal() {
        let f = fingerprint("SECRETTOKEN");
        assert_eq!(f.len(), 64);
        assert!(!f.contains("SECRET"));
        assert_eq!(f, fingerprint("SECRETTOKEN"));
    }
}
