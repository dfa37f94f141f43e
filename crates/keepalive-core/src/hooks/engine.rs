//! The seam between the four hook binaries and the CLI binary, `cc-aws-keepalive`, which does
//! all work that needs the network or a person for them (the engine).
//!
//! Why: every install carries five binaries per platform; if each linked the TLS stack, STS
//! signing, the token refreshes, the login runner and `credential_process` helpers, an install
//! would be 11 MiB instead of the ~5 MiB it is. The hooks read files; the engine links the rest
//! once.
//!
//! How:
//! - A hook answers from the caches alone (`providers::exec::cached`, the status of the caches).
//!   When that is not enough it hands its whole run to the engine ([`hand_off`]):
//!   `cc-aws-keepalive __hook export` replaces the hook process (`exec` on Unix: same pid, same
//!   stdout, the same kill by Claude Code). The engine runs the full hook, caches first again.
//! - Detached work the hooks start (silent renewal, `autoLoginCmd`) runs as engine processes
//!   ([`spawn_detached`]); so do the refresh worker and the launcher of credential helpers,
//!   which only the engine's code paths start.
//! - The engine serves all of it through [`entry`], called first by its `main`.
//!
//! Invariant: a hook binary's `main` reaches provider renewals only through this module's
//! process boundary, so the linker leaves them out; `cargo xtask dist` fails when a hook
//! binary links the TLS stack again.
//!
//! The engine is the binary beside the running one (`versions/<v>/bin/`, the plugin's
//! `bin/<target>/`, `cargo install`'s directory): hooks and engine always come from one build.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use super::{autologin, background};
use crate::ctx::Ctx;
use crate::install::bins::{self, CLI_BIN};
use crate::process::{self, Interaction, ProcessError};
use crate::providers::worker;

/// The hidden first argument with which a hook binary hands its run to the engine:
/// `cc-aws-keepalive __hook export|refresh`.
pub const HOOK_ARG: &str = "__hook";

/// A hook whose run the engine can take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `cc-aws-export`: the caches do not hold fresh credentials.
    Export,
    /// `cc-aws-refresh`: always (it verifies and renews).
    Refresh,
}

impl Hook {
    pub fn word(self) -> &'static str {
        match self {
            Hook::Export => "export",
            Hook::Refresh => "refresh",
        }
    }

    pub fn parse(word: &OsStr) -> Option<Hook> {
        [Hook::Export, Hook::Refresh].into_iter().find(|h| OsStr::new(h.word()) == word)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot find the path of this program ({0}), so not its cc-aws-keepalive binary either")]
    OwnPath(std::io::Error),
    #[error(
        "{} is missing (the hooks leave network work and logins to it); reinstall cc-aws-keepalive: a new Claude Code session with the plugin puts it back, as does `cargo xtask install` in a checkout",
        .0.display()
    )]
    Missing(PathBuf),
    #[error("cannot start {}: {source}", .path.display())]
    Start { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Detached(#[from] ProcessError),
}

/// The engine binary: `cc-aws-keepalive` beside the running binary, or beside the file it
/// links to (macOS reports a binary by the path it was started with, which may be a link).
pub fn exe() -> Result<PathBuf, EngineError> {
    let me = std::env::current_exe().map_err(EngineError::OwnPath)?;
    let path = me.with_file_name(bins::exe(CLI_BIN));
    if path.is_file() {
        return Ok(path);
    }
    match me.canonicalize().map(|real| real.with_file_name(bins::exe(CLI_BIN))) {
        Ok(beside_target) if beside_target.is_file() => Ok(beside_target),
        _ => Err(EngineError::Missing(path)),
    }
}

/// Hands this hook's run to the engine, with this process's stdin, stdout, stderr and
/// environment. On Unix it returns only when the engine could not be started; elsewhere it
/// waits and returns the engine's exit code.
pub fn hand_off(hook: Hook) -> Result<u8, EngineError> {
    let path = exe()?;
    let mut cmd = Command::new(&path);
    cmd.arg(HOOK_ARG).arg(hook.word());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let source = cmd.exec();
        Err(EngineError::Start { path, source })
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(|source| EngineError::Start { path, source })?;
        Ok(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
    }
}

/// Starts the engine detached with the hidden argument `arg` (`what` names it in errors).
pub fn spawn_detached(arg: &str, envs: &[(&str, &str)], what: &str) -> Result<(), EngineError> {
    let mut cmd = Command::new(exe()?);
    cmd.arg(arg);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Ok(process::spawn_detached(cmd, what)?)
}

/// Called first by the engine's `main`: runs the refresh worker, a helper's launcher or the
/// detached work a hook started, and returns its exit code; otherwise records how this run
/// meets the user (a hook's run is captured by Claude Code, the CLI's has a terminal) and
/// returns `None`. The caller then runs [`HOOK_ARG`] or a CLI command.
pub fn entry(first_arg: Option<&OsStr>) -> Option<u8> {
    if let Some(code) = worker::entry(first_arg) {
        return Some(code);
    }
    let for_hooks = first_arg.is_some_and(|a| {
        [HOOK_ARG, super::BACKGROUND_LOGIN_ARG, background::BACKGROUND_RENEW_ARG].iter().any(|h| a == OsStr::new(h))
    });
    let interaction = if for_hooks { Interaction::Captured } else { Interaction::Terminal };
    if let Some(code) = process::launcher_entry(first_arg, interaction) {
        return Some(code);
    }
    let arg = first_arg?;
    if arg == super::BACKGROUND_LOGIN_ARG {
        return Some(autologin::run_background(&Ctx::from_process()));
    }
    if arg == background::BACKGROUND_RENEW_ARG {
        return Some(background::run_renew(&Ctx::from_process()));
    }
    None
}
