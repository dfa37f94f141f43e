//! The mechanics every caching provider shares: credentials in a cache file that several
//! processes (and the AWS CLI) read, renewed by one of them under a cross-process lock, with
//! the cache read again once the lock is held, so N concurrent callers cause one renewal.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::lock::{self, LockError};
use crate::paths::{self, PathError};

/// Credentials with less than this left are not handed out as fresh: Claude Code refreshes
/// 5 minutes before `Expiration` and, with 6 minutes or less left, caches them for an hour.
pub const FRESH_MINUTES: i64 = 10;

pub fn fresh_margin() -> Duration {
    Duration::minutes(FRESH_MINUTES)
}

/// Whether `creds` can be handed out at `now`: no expiry, or [`fresh_margin`] left at least.
pub fn is_fresh(creds: &Credentials, now: OffsetDateTime) -> bool {
    creds.remaining(now).is_none_or(|left| left >= fresh_margin())
}

/// How long we wait for another process's renewal (its HTTP call is bounded by
/// [`crate::http::CALL_BUDGET`], 15 s; a `credential_process` by its own timeout).
pub const LOCK_WAIT: StdDuration = StdDuration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum CacheLockError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("another process has been renewing {what} for over {secs} s (lock {path}); retry in a moment")]
    Timeout { what: String, path: PathBuf, secs: u64 },
}

/// The cached value when `reread` finds a usable one, else the result of `renew`, which runs
/// under the lock `name` (at most one process at a time). `reread` runs before the lock is
/// taken and again once it is held: whoever waited finds the winner's result.
/// `what` names the thing for the time-out message ("the role credentials of profile x").
pub fn renew_once<T, E>(
    ctx: &Ctx,
    name: &str,
    what: &dyn Fn() -> String,
    reread: &dyn Fn() -> Option<T>,
    renew: impl FnOnce() -> Result<T, E>,
) -> Result<T, E>
where
    E: From<CacheLockError>,
{
    if let Some(v) = reread() {
        return Ok(v);
    }
    let path = paths::lock_file(&ctx.env, name).map_err(CacheLockError::from)?;
    let Some(_guard) = lock::lock_with_timeout(&path, LOCK_WAIT).map_err(CacheLockError::from)? else {
        return Err(CacheLockError::Timeout { what: what(), path, secs: LOCK_WAIT.as_secs() }.into());
    };
    if let Some(v) = reread() {
        return Ok(v);
    }
    renew()
}
