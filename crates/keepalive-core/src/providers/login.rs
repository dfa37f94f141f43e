//! `aws login` sessions (AWS CLI ≥ 2.32, botocore ≥ 1.41): the token cache, the silent
//! refresh at AWS Sign-In with a DPoP proof, and the write-back botocore and the CLI read.
//!
//! What botocore 1.43 does, read from its source (`credentials.py` `LoginCredentialFetcher`,
//! `utils.py` `LoginTokenLoader`/`JSONFileCache`, `data/signin`) and checked against it in
//! `tests/it/login.rs`:
//!
//! - Cache: `<AWS_LOGIN_CACHE_DIRECTORY or ~/.aws/login/cache>/<sha256 hex of login_session>.json`
//!   holding `{"accessToken": {accessKeyId, secretAccessKey, sessionToken, accountId, expiresAt},
//!   "tokenType", "clientId", "refreshToken", "idToken", "dpopKey"}`, `dpopKey` a SEC1 P-256 PEM.
//!   Written with `json.dumps` (one line, `", "`/`": "`, ASCII) into a 0600 temp file renamed
//!   over the old one.
//! - Refresh: with less than 5 minutes left, `POST {endpoint}/v1/token` unsigned with a `DPoP`
//!   header and `{clientId, refreshToken, grantType: "refresh_token"}`; the answer's keys
//!   replace `accessToken` (`accountId` carried over, `expiresAt` = now + `expiresIn`), its
//!   `refreshToken` the old one (single use); every other top-level field is kept.
//! - `AccessDeniedException` with `error` `TOKEN_EXPIRED`/`USER_CREDENTIALS_CHANGED`: only
//!   `aws login` helps. `INSUFFICIENT_PERMISSIONS`: `signin:CreateOAuth2Token` is denied.
//!
//! botocore takes no lock; we do (N callers, one refresh) and, after a refused refresh, read
//! the file again in case botocore rotated the refresh token meanwhile. The refresh's call and
//! save run in a worker process that a kill of the caller cannot stop, with the write prepared
//! before the call and a stash when the file cannot take the result (`providers::worker`). We refresh earlier
//! (10 minutes left, [`cached::fresh_margin`]), so botocore finds our keys fresh.
//!
//! The file holds the keys, the refresh token and the DPoP private key: nothing from it but
//! the access key id and timestamps ever reaches a message, a log line or `Debug`.

use std::fmt;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::LoginProfile;
use super::cached;
use super::sso::cache::{Ordered, json_problem, python_json};
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::env::Env;
use crate::expiry;
use crate::fsutil::{self, FsError, PreparedWrite, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::http::{self, Body, Client, HttpError, Method, Request, Service};
use crate::lock::LockError;
use crate::log::{self, Level};
use crate::paths::{self, PathError};
use crate::providers::worker::{self, Locking, SaveError, Stashable, WorkerError};
use crate::secret::Secret;

/// The longest an `aws login` session lives: AWS documents that the CLI and SDKs "refresh
/// them as needed up to 12 hours" (the console session can be shorter).
pub const SESSION_MAX: Duration = Duration::hours(12);

/// CreateOAuth2Token's path below the Sign-In endpoint.
const TOKEN_PATH: &str = "/v1/token";

/// Field names as `aws login` and botocore write them.
pub mod keys {
    pub const ACCESS_TOKEN: &str = "accessToken";
    pub const ACCESS_KEY_ID: &str = "accessKeyId";
    pub const SECRET_ACCESS_KEY: &str = "secretAccessKey";
    pub const SESSION_TOKEN: &str = "sessionToken";
    pub const ACCOUNT_ID: &str = "accountId";
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const TOKEN_TYPE: &str = "tokenType";
    pub const CLIENT_ID: &str = "clientId";
    pub const REFRESH_TOKEN: &str = "refreshToken";
    pub const ID_TOKEN: &str = "idToken";
    pub const DPOP_KEY: &str = "dpopKey";
}

/// The `accessToken` members in the order botocore writes them.
const ACCESS_TOKEN_ORDER: [&str; 5] =
    [keys::ACCESS_KEY_ID, keys::SECRET_ACCESS_KEY, keys::SESSION_TOKEN, keys::ACCOUNT_ID, keys::EXPIRES_AT];

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("no aws login session is cached for profile \"{profile}\" ({path}); run `{command}`")]
    NoCache { profile: String, path: PathBuf, command: String },
    #[error("aws login cache {path} of profile \"{profile}\" is unreadable ({detail}); run `{command}` to replace it")]
    Corrupt { profile: String, path: PathBuf, detail: String, command: String },
    #[error("cannot read the aws login cache of profile \"{profile}\": {source}; check the file's permissions")]
    Read { profile: String, source: FsError },
    #[error(
        "aws login cache {path} of profile \"{profile}\" has no {what}, so it cannot be refreshed; run `{command}`"
    )]
    Incomplete { profile: String, path: PathBuf, what: &'static str, command: String },
    #[error("the DPoP key in {path} (profile \"{profile}\") is unusable: {reason}; run `{command}` to get a new one")]
    DpopKey { profile: String, path: PathBuf, reason: &'static str, command: String },
    #[error(
        "profile \"{profile}\" has no region for the AWS Sign-In endpoint; add `region = …` to the profile in ~/.aws/config (or set AWS_ENDPOINT_URL_SIGNIN)"
    )]
    NoRegion { profile: String },
    #[error(
        "the aws login session of profile \"{profile}\" has ended: {at} refused the refresh ({code}); run `{command}`"
    )]
    NeedsLogin { profile: String, at: String, code: String, command: String },
    #[error(
        "{at} refused to refresh profile \"{profile}\" (INSUFFICIENT_PERMISSIONS): the identity lacks signin:CreateOAuth2Token; ask an administrator to allow it, then run `{command}`"
    )]
    Permission { profile: String, at: String, command: String },
    #[error(
        "{at} refused to refresh profile \"{profile}\" (HTTP {status}{}{}); retry in a minute, and run `{command}` if it persists",
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Refused { profile: String, at: String, status: u16, code: Option<String>, message: Option<String>, command: String },
    #[error("cannot refresh the aws login session of profile \"{profile}\": {source}")]
    Http { profile: String, source: HttpError },
    #[error(
        "{at} sent an unusable answer for profile \"{profile}\" ({detail}); retry later, and run `{command}` if it persists"
    )]
    BadAnswer { profile: String, at: String, detail: &'static str, command: String },
    #[error(
        "not refreshing profile \"{profile}\": {source} (a refresh uses up the refresh token, so the new one must be saved); fix the permissions of the folder"
    )]
    NotWritable { profile: String, source: FsError },
    #[error(
        "cannot save the refreshed aws login session of profile \"{profile}\": {source}; the old refresh token is used up: fix that, then run `{command}`"
    )]
    Write { profile: String, source: SaveError, command: String },
    /// An error the refresh worker reported, as it rendered it.
    #[error("{message}")]
    Worker { message: String, needs_login: bool },
    #[error("cannot refresh the aws login session of profile \"{profile}\": {source}")]
    WorkerFailed { profile: String, source: WorkerError },
    #[error(
        "another process has been refreshing the aws login session of profile \"{profile}\" for over {secs} s (lock {path}); retry in a moment"
    )]
    LockTimeout { profile: String, path: PathBuf, secs: u64 },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot sign the DPoP proof for profile \"{profile}\" (the system random number generator failed); retry")]
    Crypto { profile: String },
}

impl LoginError {
    /// Whether only `aws login` can fix this: no session, a session AWS ended, a cache that
    /// cannot be refreshed. False for network trouble, configuration and file-system problems.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            LoginError::NoCache { .. }
                | LoginError::Corrupt { .. }
                | LoginError::Incomplete { .. }
                | LoginError::DpopKey { .. }
                | LoginError::NeedsLogin { .. }
                | LoginError::Worker { needs_login: true, .. }
        )
    }
}

/// `aws login --profile NAME`, quoted for a POSIX shell when needed.
pub fn login_command(p: &LoginProfile) -> String {
    format!("aws login --profile {}", shell_word(&p.profile))
}

/// Quotes a word for a POSIX shell when it needs it, so the command can be pasted.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// botocore's cache key: sha256 hex of the `login_session` value.
pub fn cache_key(session: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, session.as_bytes()).as_ref())
}

/// `<login cache dir>/<sha256 hex of the login_session>.json`.
pub fn cache_path(env: &Env, p: &LoginProfile) -> Result<PathBuf, PathError> {
    Ok(paths::login_cache_dir(env)?.join(format!("{}.json", cache_key(&p.session))))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One login cache file as read. Every field is kept, known or not, in its order, so a
/// write-back changes only what a refresh changes.
#[derive(Clone)]
pub struct LoginToken {
    pub path: PathBuf,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub account_id: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub client_id: Option<String>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub dpop_key: Option<Secret>,
    fields: Vec<(String, Value)>,
}

impl fmt::Debug for LoginToken {
    /// Unknown fields may be secrets too: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginToken")
            .field("path", &self.path)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .field("client_id", &self.client_id)
            .field("refresh_token", &self.refresh_token)
            .field("id_token", &self.id_token)
            .field("dpop_key", &self.dpop_key)
            .field("fields", &self.fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// A successful CreateOAuth2Token answer.
struct Grant {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Secret,
    expires_in: i64,
    refresh_token: Secret,
}

impl LoginToken {
    /// The cached keys, when complete.
    pub fn credentials(&self) -> Option<Credentials> {
        Some(Credentials {
            access_key_id: self.access_key_id.clone().filter(|k| !k.is_empty())?,
            secret_access_key: self.secret_access_key.clone().filter(|s| !s.is_empty())?,
            session_token: self.session_token.clone().filter(|s| !s.is_empty()),
            expiration: Some(self.expires_at?),
        })
    }

    /// The cached keys when they have at least [`cached::fresh_margin`] left at `now`.
    pub fn fresh_credentials(&self, now: OffsetDateTime) -> Option<Credentials> {
        self.credentials().filter(|c| cached::is_fresh(c, now))
    }

    /// What a refresh needs and is missing, if anything (whether the DPoP key parses is
    /// checked when it is used).
    fn missing_for_refresh(&self) -> Option<&'static str> {
        if self.client_id.as_ref().is_none_or(String::is_empty) {
            Some("clientId")
        } else if self.refresh_token.as_ref().is_none_or(Secret::is_empty) {
            Some("refreshToken")
        } else if self.dpop_key.as_ref().is_none_or(Secret::is_empty) {
            Some("dpopKey")
        } else {
            None
        }
    }

    /// When the user logged in: the idToken's `auth_time`, else its `iat`. The idToken comes
    /// from `aws login` only (refreshes return none), so it dates the session's start.
    pub fn logged_in_at(&self) -> Option<OffsetDateTime> {
        let payload = self.id_token.as_ref()?.expose().split('.').nth(1)?;
        let claims: Value = serde_json::from_slice(&base64_decode(payload)?).ok()?;
        let t =
            claims.get("auth_time").and_then(Value::as_i64).or_else(|| claims.get("iat").and_then(Value::as_i64))?;
        OffsetDateTime::from_unix_timestamp(t).ok()
    }

    /// Records a refresh as botocore does: new keys in `accessToken` (with the old
    /// `accountId`), `expiresAt`, the rotated `refreshToken`; all else untouched.
    fn set_refreshed(&mut self, grant: Grant, expires_at: OffsetDateTime) {
        let mut access = match self.fields.iter().find(|(k, _)| k == keys::ACCESS_TOKEN) {
            Some((_, Value::Object(m))) => m.clone(),
            _ => Map::new(),
        };
        access.insert(keys::ACCESS_KEY_ID.into(), Value::String(grant.access_key_id.clone()));
        access.insert(keys::SECRET_ACCESS_KEY.into(), Value::String(grant.secret_access_key.expose().to_string()));
        access.insert(keys::SESSION_TOKEN.into(), Value::String(grant.session_token.expose().to_string()));
        access.insert(keys::EXPIRES_AT.into(), Value::String(expiry::to_iso8601(expires_at)));
        self.set(keys::ACCESS_TOKEN, Value::Object(access));
        self.set(keys::REFRESH_TOKEN, Value::String(grant.refresh_token.expose().to_string()));
        self.access_key_id = Some(grant.access_key_id);
        self.secret_access_key = Some(grant.secret_access_key);
        self.session_token = Some(grant.session_token);
        self.expires_at = Some(expires_at);
        self.refresh_token = Some(grant.refresh_token);
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_string(), value)),
        }
    }

    /// The file's content as botocore's `json.dumps` writes it: one line, `", "`/`": "`,
    /// ASCII, fields in file order, `accessToken`'s members in botocore's order (members we
    /// do not know follow them; botocore would drop them).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match (k.as_str(), v) {
                (keys::ACCESS_TOKEN, Value::Object(m)) => {
                    let mut ordered: Vec<(String, Value)> = ACCESS_TOKEN_ORDER
                        .iter()
                        .filter_map(|key| m.get(*key).map(|v| ((*key).to_string(), v.clone())))
                        .collect();
                    ordered.extend(
                        m.iter()
                            .filter(|(key, _)| !ACCESS_TOKEN_ORDER.contains(&key.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                    out.push_str(&format!("\"{}\": {}", keys::ACCESS_TOKEN, python_json(&ordered, false)));
                }
                _ => {
                    // One field as an object, braces dropped: `"key": value`, escaped as Python does.
                    let one = python_json(&[(k.clone(), v.clone())], false);
                    out.push_str(one.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(&one));
                }
            }
        }
        out.push('}');
        out
    }

    /// Writes the token back atomically with mode 0600, creating the folder (0700) if needed.
    fn write(&self) -> Result<(), FsError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
        }
        fsutil::write_atomic(&self.path, self.to_json().as_bytes(), Some(SECRET_FILE_MODE))
    }

    /// The write of the refreshed session, prepared before the refresh token is spent: the
    /// temp file (0600) next to the cache, filled to twice today's size (8 KiB at least).
    fn prepare_write(&self) -> Result<PreparedWrite, FsError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
        }
        let reserve = super::sso::cache::reserve_for(self.to_json().len());
        fsutil::prepare_write(&self.path, reserve, Some(SECRET_FILE_MODE))
    }
}

impl Stashable for LoginToken {
    fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    fn write_back(&self) -> Result<(), String> {
        self.write().map_err(|e| e.to_string())
    }
}

/// Why a cache file could not be read. Details never quote the file's content.
#[derive(Debug)]
pub enum CacheError {
    Fs(FsError),
    Corrupt(String),
}

/// Reads a login cache file; `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> Result<Option<LoginToken>, CacheError> {
    // A file that refuses renames (bind-mounted) is rewritten in place: a read may catch a
    // mix of two versions for a moment, so an unreadable file is read again, briefly.
    let mut tries = super::sso::cache::CORRUPT_RETRIES;
    loop {
        let Some(text) = fsutil::read_optional(path).map_err(CacheError::Fs)? else {
            return Ok(None);
        };
        match parse(&text, path) {
            Err(_) if tries > 0 => {
                tries -= 1;
                std::thread::sleep(super::sso::cache::CORRUPT_PAUSE);
            }
            result => return result.map(Some).map_err(CacheError::Corrupt),
        }
    }
}

/// Names the session's lock and its stash: `login-<cache key>`.
fn stash_name(p: &LoginProfile) -> String {
    format!("login-{}", cache_key(&p.session))
}

/// [`read`], adopting a stashed session that is newer (see [`worker::adopt`]).
fn read_adopting(
    ctx: &Ctx,
    p: &LoginProfile,
    path: &Path,
    locking: Locking<'_>,
) -> Result<Option<LoginToken>, CacheError> {
    worker::adopt(ctx, &stash_name(p), locking, || read(path), |text| parse(text, path).ok())
}

/// Parses a login cache file. An empty, cut-off or non-JSON file, wrong types or an
/// unreadable `expiresAt` are errors (the caller must not overwrite the file with nothing).
pub fn parse(text: &str, path: &Path) -> Result<LoginToken, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("the file is empty".into());
    }
    let Ordered(fields) = serde_json::from_str::<Ordered>(text).map_err(|e| json_problem(&e).to_string())?;
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let access = match get(keys::ACCESS_TOKEN) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err("\"accessToken\" is not an object".into()),
    };
    let string = |v: Option<&Value>, key: &str| -> Result<Option<String>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("\"{key}\" is not a string")),
        }
    };
    let inner = |key: &str| string(access.and_then(|m| m.get(key)), key);
    let top = |key: &str| string(get(key), key);
    let expires_at = match inner(keys::EXPIRES_AT)? {
        None => None,
        Some(s) => Some(expiry::parse(&s).map_err(|_| "\"expiresAt\" is not a timestamp".to_string())?),
    };
    Ok(LoginToken {
        path: path.to_path_buf(),
        access_key_id: inner(keys::ACCESS_KEY_ID)?,
        secret_access_key: inner(keys::SECRET_ACCESS_KEY)?.map(Secret::new),
        session_token: inner(keys::SESSION_TOKEN)?.map(Secret::new),
        account_id: inner(keys::ACCOUNT_ID)?,
        expires_at,
        client_id: top(keys::CLIENT_ID)?,
        refresh_token: top(keys::REFRESH_TOKEN)?.map(Secret::new),
        id_token: top(keys::ID_TOKEN)?.map(Secret::new),
        dpop_key: top(keys::DPOP_KEY)?.map(Secret::new),
        fields,
    })
}

/// The cache file of `p`, which must exist and be readable (a newer stash adopted).
/// `held`: whether the caller holds the session lock.
fn read_required(ctx: &Ctx, p: &LoginProfile, path: &Path, held: bool) -> Result<LoginToken, LoginError> {
    let lock_path = paths::lock_file(&ctx.env, &stash_name(p))?;
    let locking = if held { Locking::Held } else { Locking::Try(&lock_path) };
    match read_adopting(ctx, p, path, locking) {
        Ok(Some(t)) => Ok(t),
        Ok(None) => {
            Err(LoginError::NoCache { profile: p.profile.clone(), path: path.to_path_buf(), command: login_command(p) })
        }
        Err(CacheError::Fs(source)) => Err(LoginError::Read { profile: p.profile.clone(), source }),
        Err(CacheError::Corrupt(detail)) => Err(LoginError::Corrupt {
            profile: p.profile.clone(),
            path: path.to_path_buf(),
            detail,
            command: login_command(p),
        }),
    }
}

/// The keys [`credentials`] would return without any call: cached with the margin left.
/// `None` when it has work to do (or an error to report).
pub fn cached_credentials(ctx: &Ctx, p: &LoginProfile) -> Option<Credentials> {
    let path = cache_path(&ctx.env, p).ok()?;
    read_required(ctx, p, &path, false).ok()?.fresh_credentials(ctx.now)
}

/// Credentials for `p`: the cached keys when they have [`cached::fresh_margin`] left, else
/// refreshed ones (keys last at most 15 minutes, so this refreshes with under 10 left). A failed
/// refresh is an error even if the old keys have minutes left: Claude Code keeps keys with 6
/// minutes or less for an hour.
pub fn credentials(ctx: &Ctx, p: &LoginProfile) -> Result<Credentials, LoginError> {
    let path = cache_path(&ctx.env, p)?;
    let token = read_required(ctx, p, &path, false)?;
    if let Some(c) = token.fresh_credentials(ctx.now) {
        return Ok(c);
    }
    let token = refresh_locked(ctx, p, &path, None)?;
    keys_of(&token, p, path)
}

fn keys_of(token: &LoginToken, p: &LoginProfile, path: PathBuf) -> Result<Credentials, LoginError> {
    token.credentials().ok_or_else(|| LoginError::Incomplete {
        profile: p.profile.clone(),
        path,
        what: "access key",
        command: login_command(p),
    })
}

/// Refreshes `p`'s keys when they have less than [`cached::fresh_margin`] left (always with
/// `force`); returns the expiry of the keys now cached.
pub fn refresh(ctx: &Ctx, p: &LoginProfile, force: bool) -> Result<OffsetDateTime, LoginError> {
    let path = cache_path(&ctx.env, p)?;
    let token = read_required(ctx, p, &path, false)?;
    if !force
        && token.fresh_credentials(ctx.now).is_some()
        && let Some(exp) = token.expires_at
    {
        return Ok(exp);
    }
    let seen = force.then(|| token.access_key_id.clone());
    let token = refresh_locked(ctx, p, &path, seen)?;
    token.expires_at.ok_or_else(|| LoginError::Incomplete {
        profile: p.profile.clone(),
        path,
        what: "accessToken.expiresAt",
        command: login_command(p),
    })
}

/// New keys in place of the cached ones with key id `rejected`, which AWS refused although
/// they are fresh by their expiry (a refresh of the session, forced); other fresh keys found
/// once the lock is held (another process replaced them meanwhile) are used as they are.
pub fn replace(ctx: &Ctx, p: &LoginProfile, rejected: &str) -> Result<Credentials, LoginError> {
    let path = cache_path(&ctx.env, p)?;
    let token = refresh_locked(ctx, p, &path, Some(Some(rejected.to_string())))?;
    keys_of(&token, p, path)
}

/// Refreshes under the session's lock. `seen`: `None` for a normal refresh (skipped when the
/// file holds fresh keys by then); `Some(key id)` to force replacing that key (skipped when the
/// file already holds other fresh keys: someone refreshed while we waited). The call and the
/// save run in a worker process ([`worker`]): a kill of this process cannot lose the rotated
/// refresh token.
fn refresh_locked(
    ctx: &Ctx,
    p: &LoginProfile,
    path: &Path,
    seen: Option<Option<String>>,
) -> Result<LoginToken, LoginError> {
    let lock_path = paths::lock_file(&ctx.env, &stash_name(p))?;
    let Some(lock) = worker::lock(&lock_path, cached::LOCK_WAIT)? else {
        return Err(LoginError::LockTimeout {
            profile: p.profile.clone(),
            path: lock_path,
            secs: cached::LOCK_WAIT.as_secs(),
        });
    };
    let job = RefreshJob { profile: p.clone(), path: path.to_path_buf(), seen };
    // Someone may have refreshed while we waited for the lock: then no worker is needed.
    let before = read_required(ctx, p, path, true)?;
    if job.reuse(ctx, &before) {
        return Ok(before);
    }
    let result = worker::run(ctx, &lock, &job);
    // Whatever the worker did, the cache (or the stash it adopts) now says where we are.
    let after = read_required(ctx, p, path, true)?;
    match result {
        Ok(Ok(())) => Ok(after),
        Ok(Err(e)) => Err(e),
        // The worker saved new keys before it failed to answer.
        Err(_) if after.fresh_credentials(ctx.now).is_some() && after.access_key_id != before.access_key_id => {
            Ok(after)
        }
        Err(source) => Err(LoginError::WorkerFailed { profile: p.profile.clone(), source }),
    }
}

/// A silent refresh of one `aws login` session, as a worker runs it. `seen` holds an access
/// key id (not a secret).
#[derive(Debug, Clone)]
pub struct RefreshJob {
    profile: LoginProfile,
    path: PathBuf,
    seen: Option<Option<String>>,
}

impl RefreshJob {
    /// Whether the cache already holds what this refresh would produce.
    fn reuse(&self, ctx: &Ctx, token: &LoginToken) -> bool {
        token.fresh_credentials(ctx.now).is_some() && self.seen.as_ref().is_none_or(|old| *old != token.access_key_id)
    }

    /// The critical section: re-read, prepare the write, CreateOAuth2Token, save. The lock is held.
    fn refresh(&self, ctx: &Ctx) -> Result<(), LoginError> {
        let (p, path) = (&self.profile, self.path.as_path());
        let mut token = read_required(ctx, p, path, true)?;
        if self.reuse(ctx, &token) {
            return Ok(());
        }
        // Two tries at most: the second only with a refresh token botocore rotated meanwhile.
        for _ in 0..2 {
            match call_signin(ctx, p, &token) {
                Ok((grant, prepared)) => {
                    let expires_at = ctx
                        .now
                        .checked_add(Duration::seconds(grant.expires_in))
                        .unwrap_or(OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX));
                    token.set_refreshed(grant, expires_at);
                    let saved =
                        worker::save(ctx, &stash_name(p), prepared, token.to_json().as_bytes()).map_err(|source| {
                            LoginError::Write { profile: p.profile.clone(), source, command: login_command(p) }
                        })?;
                    log::write(
                        ctx,
                        Level::Info,
                        "login",
                        &format!(
                            "refreshed aws login session of profile {} ({}), valid until {}{}",
                            p.profile,
                            token.access_key_id.as_deref().unwrap_or_default(),
                            expiry::to_iso8601(expires_at),
                            saved.note()
                        ),
                    );
                    return Ok(());
                }
                Err(e @ LoginError::NeedsLogin { .. }) => {
                    // botocore and the CLI refresh without our lock: the refresh token we sent may
                    // have been rotated by them a moment ago.
                    match read(path) {
                        Ok(Some(again)) if again.refresh_token != token.refresh_token => {
                            if again.fresh_credentials(ctx.now).is_some() {
                                log::write(
                                    ctx,
                                    Level::Info,
                                    "login",
                                    &format!(
                                        "aws login session of profile {} was refreshed by another tool",
                                        p.profile
                                    ),
                                );
                                return Ok(());
                            }
                            token = again;
                        }
                        _ => {
                            log::write(ctx, Level::Warn, "login", &e.to_string());
                            return Err(e);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let e = LoginError::NeedsLogin {
            profile: p.profile.clone(),
            at: format!("{} CreateOAuth2Token", Service::Signin.name()),
            code: "refused twice".into(),
            command: login_command(p),
        };
        log::write(ctx, Level::Warn, "login", &e.to_string());
        Err(e)
    }
}

impl worker::Job for RefreshJob {
    const KIND: &'static str = "login-refresh";
    type Out = Result<(), LoginError>;

    fn to_json(&self) -> Value {
        let p = &self.profile;
        serde_json::json!({
            "profile": p.profile, "session": p.session, "region": p.region, "path": self.path,
            "force": self.seen.is_some(), "seen": self.seen.clone().flatten(),
        })
    }

    fn from_json(v: &Value) -> Option<RefreshJob> {
        let text = |k: &str| v[k].as_str().map(str::to_string);
        let profile = LoginProfile { profile: text("profile")?, session: text("session")?, region: text("region") };
        let seen = v["force"].as_bool()?.then(|| text("seen"));
        Some(RefreshJob { profile, path: PathBuf::from(text("path")?), seen })
    }

    fn run(&self, ctx: &Ctx) -> Self::Out {
        self.refresh(ctx)
    }

    fn encode(out: &Self::Out) -> Value {
        match out {
            Ok(()) => serde_json::json!({"ok": {}}),
            Err(LoginError::NeedsLogin { at, code, .. }) => {
                serde_json::json!({"err": {"needsLogin": {"at": at, "code": code}}})
            }
            Err(e) => serde_json::json!({"err": {"message": e.to_string(), "needsLogin": e.needs_login()}}),
        }
    }

    fn decode(&self, reply: &Value) -> Option<Self::Out> {
        if reply.get("ok").is_some() {
            return Some(Ok(()));
        }
        let err = reply.get("err")?;
        let p = &self.profile;
        if let Some(n) = err.get("needsLogin").filter(|n| n.is_object()) {
            return Some(Err(LoginError::NeedsLogin {
                profile: p.profile.clone(),
                at: n["at"].as_str()?.to_string(),
                code: n["code"].as_str()?.to_string(),
                command: login_command(p),
            }));
        }
        Some(Err(LoginError::Worker {
            message: err["message"].as_str()?.to_string(),
            needs_login: err["needsLogin"].as_bool().unwrap_or(false),
        }))
    }
}

/// One CreateOAuth2Token call with `token`'s refresh token. Makes sure first that the cache
/// can be rewritten: the refresh token is single use.
fn call_signin(ctx: &Ctx, p: &LoginProfile, token: &LoginToken) -> Result<(Grant, PreparedWrite), LoginError> {
    let profile = || p.profile.clone();
    let incomplete =
        |what| LoginError::Incomplete { profile: profile(), path: token.path.clone(), what, command: login_command(p) };
    if let Some(what) = token.missing_for_refresh() {
        return Err(incomplete(what));
    }
    let (Some(client_id), Some(refresh_token), Some(pem)) = (&token.client_id, &token.refresh_token, &token.dpop_key)
    else {
        return Err(incomplete("refresh data"));
    };
    let key = DpopKey::from_pem(pem.expose()).map_err(|reason| LoginError::DpopKey {
        profile: profile(),
        path: token.path.clone(),
        reason,
        command: login_command(p),
    })?;
    let endpoint =
        http::resolve(&ctx.env, Service::Signin, p.region.as_deref().unwrap_or("")).map_err(|source| {
            match (&source, &p.region) {
                (HttpError::BadRegion { .. }, None) => LoginError::NoRegion { profile: profile() },
                _ => LoginError::Http { profile: profile(), source },
            }
        })?;
    // The temp file for the successor exists, with room, before the refresh token is spent.
    let prepared = token.prepare_write().map_err(|source| LoginError::NotWritable { profile: profile(), source })?;
    // The proof's URL is exactly the one the request goes to (the client joins the same way).
    let htu = format!("{}{TOKEN_PATH}", endpoint.base);
    let at = format!("{} CreateOAuth2Token at {htu}", Service::Signin.name());
    // `iat` is the real clock, not `ctx.now`: the server checks it against its own.
    let iat = OffsetDateTime::now_utc().unix_timestamp();
    let proof = key.proof(&htu, iat, &SystemRandom::new()).map_err(|_| LoginError::Crypto { profile: profile() })?;
    let body = serde_json::json!({
        "clientId": client_id,
        "refreshToken": refresh_token.expose(),
        "grantType": "refresh_token",
    });
    let client = Client::new(&ctx.env, endpoint).map_err(|source| LoginError::Http { profile: profile(), source })?;
    let reply = client
        .send(&Request {
            op: "CreateOAuth2Token",
            method: Method::Post,
            path: TOKEN_PATH,
            query: &[],
            headers: &[("DPoP", &proof)],
            body: Body::Json(body.to_string()),
        })
        .map_err(|source| LoginError::Http { profile: profile(), source })?;
    if reply.status == 200 {
        let grant = parse_grant(&reply.body).map_err(|detail| LoginError::BadAnswer {
            profile: profile(),
            at,
            detail,
            command: login_command(p),
        })?;
        return Ok((grant, prepared));
    }
    // The `error` member (AccessDeniedException and the others) first, then the error type.
    let code = reply.error_code();
    match code.as_deref() {
        Some("TOKEN_EXPIRED" | "USER_CREDENTIALS_CHANGED" | "AUTHCODE_EXPIRED" | "invalid_grant") => {
            Err(LoginError::NeedsLogin {
                profile: profile(),
                at,
                code: code.unwrap_or_default(),
                command: login_command(p),
            })
        }
        Some("INSUFFICIENT_PERMISSIONS") => {
            Err(LoginError::Permission { profile: profile(), at, command: login_command(p) })
        }
        // Sign-In answers 401 only for expired tokens and authorization codes.
        _ if reply.status == 401 => Err(LoginError::NeedsLogin {
            profile: profile(),
            at,
            code: code.unwrap_or_else(|| "HTTP 401".into()),
            command: login_command(p),
        }),
        _ => Err(LoginError::Refused {
            profile: profile(),
            at,
            status: reply.status,
            code,
            message: reply.error_message(),
            command: login_command(p),
        }),
    }
}

/// The answer's payload: `{accessToken: {accessKeyId, secretAccessKey, sessionToken},
/// tokenType, expiresIn, refreshToken}` (all required, as botocore reads them).
fn parse_grant(body: &str) -> Result<Grant, &'static str> {
    let v: Value = serde_json::from_str(body).map_err(|e| json_problem(&e))?;
    let text = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let access = v.get(keys::ACCESS_TOKEN).filter(|a| a.is_object()).ok_or("no accessToken")?;
    Ok(Grant {
        access_key_id: text(access, keys::ACCESS_KEY_ID).ok_or("no accessKeyId")?,
        secret_access_key: Secret::new(text(access, keys::SECRET_ACCESS_KEY).ok_or("no secretAccessKey")?),
        session_token: Secret::new(text(access, keys::SESSION_TOKEN).ok_or("no sessionToken")?),
        expires_in: v.get("expiresIn").and_then(Value::as_i64).filter(|n| *n > 0).ok_or("no valid expiresIn")?,
        refresh_token: Secret::new(text(&v, keys::REFRESH_TOKEN).ok_or("no refreshToken")?),
    })
}

/// What the cache says about an `aws login` profile, read without any network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStatus {
    pub profile: String,
    /// e.g. `aws login --profile console`.
    pub login_command: String,
    /// `None` when it cannot be located (no HOME).
    pub cache_path: Option<PathBuf>,
    /// Whether the cache file exists.
    pub found: bool,
    pub access_key_id: Option<String>,
    /// Expiry of the cached keys.
    pub expires_at: Option<OffsetDateTime>,
    /// Client id, refresh token and a usable DPoP key are cached, and the endpoint is known.
    pub refresh_possible: bool,
    /// When `aws login` ran (the idToken's `auth_time`/`iat`).
    pub logged_in_at: Option<OffsetDateTime>,
    /// When the session ends at the latest: [`SESSION_MAX`] after the login. AWS may end it
    /// sooner (a shorter console session, a password change); the refresh token is opaque and
    /// says nothing about it.
    pub session_ends_at: Option<OffsetDateTime>,
    /// Why the cache cannot be used or refreshed, if so (one line, no secrets).
    pub problem: Option<String>,
    /// The "now" this status was read at.
    pub checked_at: OffsetDateTime,
}

impl LoginStatus {
    /// Whether the cached keys can be handed out now ([`cached::fresh_margin`] left at least).
    pub fn fresh(&self) -> bool {
        self.expires_at.is_some_and(|t| t - self.checked_at >= cached::fresh_margin())
    }
}

/// The cache's view of `p`: no network; the only write is the adoption of a stashed refresh
/// (see [`worker::adopt`]).
pub fn status(ctx: &Ctx, p: &LoginProfile) -> LoginStatus {
    let mut st = LoginStatus {
        profile: p.profile.clone(),
        login_command: login_command(p),
        cache_path: None,
        found: false,
        access_key_id: None,
        expires_at: None,
        refresh_possible: false,
        logged_in_at: None,
        session_ends_at: None,
        problem: None,
        checked_at: ctx.now,
    };
    let path = match cache_path(&ctx.env, p) {
        Ok(path) => path,
        Err(e) => {
            st.problem = Some(e.to_string());
            return st;
        }
    };
    st.cache_path = Some(path.clone());
    let lock_path = paths::lock_file(&ctx.env, &stash_name(p)).ok();
    let locking = lock_path.as_deref().map_or(Locking::Held, Locking::Try);
    let token = match read_adopting(ctx, p, &path, locking) {
        Ok(Some(t)) => t,
        Ok(None) => return st,
        Err(CacheError::Fs(e)) => {
            st.found = path.exists();
            st.problem = Some(e.to_string());
            return st;
        }
        Err(CacheError::Corrupt(detail)) => {
            st.found = true;
            st.problem = Some(format!("{} is unreadable ({detail}); run `{}`", path.display(), st.login_command));
            return st;
        }
    };
    st.found = true;
    st.access_key_id = token.access_key_id.clone();
    st.expires_at = token.expires_at;
    st.logged_in_at = token.logged_in_at();
    st.session_ends_at = st.logged_in_at.and_then(|t| t.checked_add(SESSION_MAX));
    let cmd = st.login_command.clone();
    st.refresh_possible = match (token.missing_for_refresh(), &token.dpop_key) {
        // Whether the two halves match is found at the refresh (it needs ring's P-256 code).
        (None, Some(pem)) => match dpop_parts(pem.expose(), &mut Vec::new()) {
            Ok(_) => match http::resolve(&ctx.env, Service::Signin, p.region.as_deref().unwrap_or("")) {
                Ok(_) => true,
                Err(_) if p.region.is_none() => {
                    st.problem = Some(LoginError::NoRegion { profile: p.profile.clone() }.to_string());
                    false
                }
                Err(e) => {
                    st.problem = Some(e.to_string());
                    false
                }
            },
            Err(reason) => {
                st.problem = Some(format!("the DPoP key in {} is unusable: {reason}; run `{cmd}`", path.display()));
                false
            }
        },
        (what, _) => {
            let what = what.unwrap_or(keys::DPOP_KEY);
            st.problem = Some(format!("{} has no {what}, so it cannot be refreshed; run `{cmd}`", path.display()));
            false
        }
    };
    st
}

// ---------------------------------------------------------------------------------------
// DPoP (RFC 9449) with the cached SEC1 key.

/// The DPoP key pair and its public point's coordinates.
struct DpopKey {
    pair: EcdsaKeyPair,
    x: [u8; 32],
    y: [u8; 32],
}

/// DER tags we read.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_1: u8 = 0xa1;
/// 1.2.840.10045.3.1.7 (prime256v1 / P-256).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// A bounded DER reader: definite lengths up to 64 KiB, one-byte tags, never reads past its slice.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = match first {
            n if n < 0x80 => (usize::from(n), rest),
            0x81 => {
                let (&n, rest) = rest.split_first()?;
                (usize::from(n), rest)
            }
            0x82 => {
                let (&[hi, lo], rest) = rest.split_first_chunk::<2>()?;
                (usize::from(hi) << 8 | usize::from(lo), rest)
            }
            _ => return None,
        };
        let value = rest.get(..len)?;
        self.0 = rest.get(len..)?;
        Some((tag, value))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.read().filter(|(t, _)| *t == tag).map(|(_, v)| v)
    }
}

/// The private scalar (32 bytes) and public point of an EC private key, SEC1 (`EC PRIVATE
/// KEY`, what `aws login` writes) or PKCS#8 (`PRIVATE KEY`; awscrt reads both).
fn parse_ec_key(der: &[u8]) -> Result<([u8; 32], Option<&[u8]>), &'static str> {
    const NOT_EC: &str = "it is not an EC private key";
    let body = Der(der).expect(SEQUENCE).ok_or(NOT_EC)?;
    let mut r = Der(body);
    let version = r.expect(INTEGER).ok_or(NOT_EC)?;
    match (version, r.peek()) {
        ([1], Some(OCTET_STRING)) => parse_sec1_body(&mut r),
        ([0] | [1], Some(SEQUENCE)) => {
            let mut alg = Der(r.expect(SEQUENCE).ok_or(NOT_EC)?);
            if alg.expect(OID) != Some(OID_EC_PUBLIC_KEY) {
                return Err(NOT_EC);
            }
            if alg.expect(OID) != Some(OID_P256) {
                return Err("it is not a P-256 key");
            }
            let inner = r.expect(OCTET_STRING).ok_or(NOT_EC)?;
            let sec1 = Der(inner).expect(SEQUENCE).ok_or(NOT_EC)?;
            let mut r = Der(sec1);
            if r.expect(INTEGER) != Some(&[1]) {
                return Err(NOT_EC);
            }
            parse_sec1_body(&mut r)
        }
        _ => Err(NOT_EC),
    }
}

/// SEC1 `ECPrivateKey` after its version: privateKey, [0] parameters (must name P-256 when
/// present), [1] publicKey. Without parameters the 32-byte scalar and 65-byte point imply the curve.
fn parse_sec1_body<'a>(r: &mut Der<'a>) -> Result<([u8; 32], Option<&'a [u8]>), &'static str> {
    let d = r.expect(OCTET_STRING).ok_or("it is not an EC private key")?;
    // RFC 5915 wants 32 bytes; some writers drop leading zeros.
    let mut scalar = [0u8; 32];
    match scalar.get_mut(32usize.saturating_sub(d.len())..) {
        Some(tail) if !d.is_empty() && tail.len() == d.len() => tail.copy_from_slice(d),
        _ => return Err("it is not a P-256 key"),
    }
    if r.peek() == Some(CONTEXT_0) {
        let params = r.expect(CONTEXT_0).ok_or("it is not an EC private key")?;
        if Der(params).expect(OID) != Some(OID_P256) {
            return Err("it is not a P-256 key");
        }
    }
    let mut point = None;
    if r.peek() == Some(CONTEXT_1) {
        let bits = Der(r.expect(CONTEXT_1).ok_or("it is not an EC private key")?)
            .expect(BIT_STRING)
            .ok_or("its public key is malformed")?;
        match bits.split_first() {
            Some((0, p)) => point = Some(p),
            _ => return Err("its public key is malformed"),
        }
    }
    Ok((scalar, point))
}

/// The parts of the cache's `dpopKey`, read without ring: what `status` checks, so the hook
/// binaries that show it do not link the P-256 code.
struct DpopParts<'a> {
    scalar: [u8; 32],
    point: &'a [u8],
    x: [u8; 32],
    y: [u8; 32],
}

/// Reads the cache's `dpopKey`: PEM armour (any label) around a SEC1 or PKCS#8 P-256 key
/// that includes its public point (ring cannot derive it from the private key). `der` holds
/// the decoded bytes the parts borrow.
fn dpop_parts<'a>(pem: &str, der: &'a mut Vec<u8>) -> Result<DpopParts<'a>, &'static str> {
    // As botocore: drop the BEGIN/END lines, decode the rest.
    let b64: String = pem.lines().filter(|l| !l.trim_start().starts_with("-----")).collect();
    *der = base64_decode(b64.trim()).filter(|d| !d.is_empty()).ok_or("it is not a PEM key")?;
    let (scalar, point) = parse_ec_key(der)?;
    let point = point.ok_or("it has no public key, which ring needs next to the private key")?;
    let (x, y) = match point {
        [0x04, rest @ ..] if rest.len() == 64 => {
            let (x, y) = rest.split_at(32);
            (<[u8; 32]>::try_from(x).ok(), <[u8; 32]>::try_from(y).ok())
        }
        [0x02 | 0x03, ..] => return Err("its public key is compressed, which ring cannot use"),
        _ => return Err("its public key is not a P-256 point"),
    };
    let (Some(x), Some(y)) = (x, y) else {
        return Err("its public key is not a P-256 point");
    };
    Ok(DpopParts { scalar, point, x, y })
}

impl DpopKey {
    /// The key pair of the cache's `dpopKey` (see [`dpop_parts`]).
    fn from_pem(pem: &str) -> Result<DpopKey, &'static str> {
        let mut der = Vec::new();
        let DpopParts { scalar, point, x, y } = dpop_parts(pem, &mut der)?;
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &scalar,
            point,
            &SystemRandom::new(),
        )
        .map_err(|_| "its private and public keys do not match")?;
        Ok(DpopKey { pair, x, y })
    }

    /// A DPoP proof for `POST htu` at `iat`: a compact ES256 JWS laid out byte for byte as
    /// botocore's `_build_dpop_header` makes it.
    fn proof(&self, htu: &str, iat: i64, rng: &dyn SecureRandom) -> Result<String, ring::error::Unspecified> {
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","x":"{}","y":"{}","crv":"P-256"}}}}"#,
            base64url(&self.x),
            base64url(&self.y)
        );
        let payload = format!(
            r#"{{"htm":"POST","htu":{},"iat":{iat},"jti":"{}"}}"#,
            Value::String(htu.to_string()),
            uuid_v4(rng)?
        );
        let signing_input = format!("{}.{}", base64url(header.as_bytes()), base64url(payload.as_bytes()));
        // The FIXED algorithm signs as r‖s (64 bytes), the JWS form; ring hashes with SHA-256.
        let sig = self.pair.sign(rng, signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", base64url(sig.as_ref())))
    }
}

/// A random (version 4) UUID, as Python's `uuid.uuid4()` prints it.
fn uuid_v4(rng: &dyn SecureRandom) -> Result<String, ring::error::Unspecified> {
    let mut b = [0u8; 16];
    rng.fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 7515 §2).
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
    }
    out
}

/// Decodes base64 in either alphabet, padded or not, ignoring ASCII whitespace (PEM lines).
/// `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Six leftover bits cannot come from whole bytes.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    /// A P-256 key generated by awscrt (`EC.new_generate(P_256).export_key(SEC1)`), as `aws
    /// login` makes them: private scalar, [0] curve, [1] public point.
    const D: &str = "e9e247b01bede2e43142961b698836c56a9cc59eeb5a327fee7ccd85546ee116";
    const POINT: &str = "04b301cf57900d408eea771a1ef5b12eb3055a6a0b640a8f02c418b70b70293969\
                         aaab076f4c31e6cd161385f612237742c8f48a4f33c039a2d11b272c7572474e";
    const CURVE: &str = "a00a06082a8648ce3d030107";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn b64(bytes: &[u8]) -> String {
        base64url(bytes).replace('-', "+").replace('_', "/")
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = b64(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    fn sec1() -> Vec<u8> {
        unhex(&format!("30770201010420{D}{CURVE}a144034200{POINT}"))
    }

    fn pkcs8() -> Vec<u8> {
        unhex(&format!("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420{D}a144034200{POINT}"))
    }

    #[test]
    fn cache_key_is_sha256_hex() {
        // hashlib.sha256(b"abc").hexdigest()
        assert_eq!(cache_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let env = Env::from_pairs([("HOME", "/h"), ("AWS_LOGIN_CACHE_DIRECTORY", "~/lc")]);
        let p = LoginProfile { profile: "c".into(), session: "abc".into(), region: None };
        assert_eq!(
            cache_path(&env, &p).unwrap(),
            PathBuf::from("/h/lc/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.json")
        );
        let env = Env::from_pairs([("HOME", "/h")]);
        assert!(cache_path(&env, &p).unwrap().starts_with("/h/.aws/login/cache"));
    }

    #[test]
    fn base64_both_ways() {
        for (raw, enc) in [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg")] {
            assert_eq!(base64url(raw.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw.as_bytes());
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64_decode("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(base64_decode("Zm9v\n YmFy\r\n").unwrap(), b"foobar");
        let all: Vec<u8> = (0..=255).collect();
        for n in 0..all.len() {
            assert_eq!(base64_decode(&base64url(&all[..n])).unwrap(), &all[..n]);
        }
        for bad in ["Z", "Zm9vY", "Zm9v!", "Zg==Zg", "é"] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let rng = SystemRandom::new();
        let a = uuid_v4(&rng).unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(a.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!("89ab".contains(char::from(a.as_bytes()[19])), "{a}");
        assert_ne!(a, uuid_v4(&rng).unwrap());
    }

    #[test]
    fn reads_sec1_and_pkcs8_keys() {
        for key in [
            pem("EC PRIVATE KEY", &sec1()),
            pem("PRIVATE KEY", &pkcs8()),
            pem("EC PRIVATE KEY", &sec1()).replace('\n', "\r\n"),
        ] {
            let k = DpopKey::from_pem(&key).unwrap();
            assert_eq!(format!("04{}{}", hex(&k.x), hex(&k.y)), POINT);
        }
        // Without [0] parameters the key is still read.
        let no_params = unhex(&format!("306b0201010420{D}a144034200{POINT}"));
        assert!(DpopKey::from_pem(&pem("EC PRIVATE KEY", &no_params)).is_ok());
    }

    #[test]
    fn unusable_keys_say_why() {
        let no_public = unhex(&format!("30310201010420{D}{CURVE}"));
        let compressed = unhex(&format!("30570201010420{D}{CURVE}a12403220002{}", &POINT[2..66]));
        let mut wrong_point = sec1();
        let last = wrong_point.len() - 1;
        wrong_point[last] ^= 1;
        let other_curve = unhex(&format!("30740201010420{D}a00706052b81040022a144034200{POINT}"));
        for (der, want) in [
            (no_public, "no public key"),
            (compressed, "compressed"),
            (wrong_point, "do not match"),
            (other_curve, "not a P-256 key"),
            (b"\x30\x03\x02\x01\x02".to_vec(), "not an EC private key"),
        ] {
            let e = DpopKey::from_pem(&pem("EC PRIVATE KEY", &der)).err().unwrap();
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(DpopKey::from_pem("").is_err());
        assert!(DpopKey::from_pem("-----BEGIN EC PRIVATE KEY-----\n%%%\n-----END EC PRIVATE KEY-----").is_err());
    }

    #[test]
    fn garbage_keys_never_panic() {
        let good = sec1();
        // Every truncation, every single-byte change, and a stream of pseudo-random inputs.
        for n in 0..good.len() {
            assert!(parse_ec_key(&good[..n]).is_err() || n == good.len());
            let _ = DpopKey::from_pem(&pem("EC PRIVATE KEY", &good[..n]));
        }
        for i in 0..good.len() {
            for v in [0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0xff, good[i] ^ 0x01] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = parse_ec_key(&bad);
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len % 200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            let _ = parse_ec_key(&bytes);
            let mut with_header = vec![0x30, 0x81, 0xff, 0x02, 0x01, 0x01, 0x04];
            with_header.extend(&bytes);
            let _ = parse_ec_key(&with_header);
            let _ = DpopKey::from_pem(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn proofs_are_botocore_shaped_and_verify() {
        let k = DpopKey::from_pem(&pem("EC PRIVATE KEY", &sec1())).unwrap();
        let htu = "https://us-east-1.signin.aws.amazon.com/v1/token";
        let jwt = k.proof(htu, 1_760_000_000, &SystemRandom::new()).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!jwt.contains('='), "no padding: {jwt}");
        let header = String::from_utf8(base64_decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            format!(
                r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{"kty":"EC","x":"{}","y":"{}","crv":"P-256"}}}}"#,
                base64url(&unhex(&POINT[2..66])),
                base64url(&unhex(&POINT[66..]))
            )
        );
        let payload: Value = serde_json::from_slice(&base64_decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["htm"], "POST");
        assert_eq!(payload["htu"], htu);
        assert_eq!(payload["iat"], 1_760_000_000);
        assert_eq!(payload["jti"].as_str().unwrap().len(), 36);
        let sig = base64_decode(parts[2]).unwrap();
        assert_eq!(sig.len(), 64, "r‖s");
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, unhex(POINT));
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
        assert!(public.verify(format!("{}.{}x", parts[0], parts[1]).as_bytes(), &sig).is_err());
        assert_ne!(jwt, k.proof(htu, 1_760_000_000, &SystemRandom::new()).unwrap(), "fresh jti each time");
    }

    fn id_token(claims: &str) -> String {
        format!("{}.{}.sig", base64url(br#"{"alg":"ES384"}"#), base64url(claims.as_bytes()))
    }

    /// A cache file exactly as botocore writes it, plus fields we do not know. (Objects nested
    /// in unknown fields come back with sorted keys: serde_json's map, as in the SSO cache.)
    fn botocore_text() -> String {
        format!(
            r#"{{"accessToken": {{"accessKeyId": "ASIAOLD", "secretAccessKey": "SECRETOLD", "sessionToken": "STOLD", "accountId": "111122223333", "expiresAt": "2026-11-22T12:00:00Z", "futureInner": [1, 2]}}, "tokenType": "aws_sigv4", "clientId": "arn:aws:signin:::devtools/same-device", "refreshToken": "RTOLD", "idToken": "{}", "dpopKey": {}, "zFuture": {{"a": "\u00e9", "b": 1}}}}"#,
            id_token(r#"{"sub":"arn:aws:iam::111122223333:user/me","iat":1763812800}"#),
            Value::String(pem("EC PRIVATE KEY", &sec1()))
        )
    }

    #[test]
    fn cache_round_trip_keeps_everything_in_botocore_layout() {
        let text = botocore_text();
        let t = parse(&text, Path::new("/c/x.json")).unwrap();
        assert_eq!(t.to_json(), text, "unchanged fields are written back byte for byte");
        assert_eq!(t.access_key_id.as_deref(), Some("ASIAOLD"));
        assert_eq!(t.account_id.as_deref(), Some("111122223333"));
        assert_eq!(t.expires_at, Some(time::macros::datetime!(2026-11-22 12:00:00 UTC)));
        assert_eq!(t.logged_in_at(), OffsetDateTime::from_unix_timestamp(1_763_812_800).ok());
        assert_eq!(t.missing_for_refresh(), None);

        let mut t = t;
        let grant = Grant {
            access_key_id: "ASIANEW".into(),
            secret_access_key: Secret::new("SECRETNEW"),
            session_token: Secret::new("STNEW"),
            expires_in: 900,
            refresh_token: Secret::new("RTNEW"),
        };
        t.set_refreshed(grant, time::macros::datetime!(2026-11-22 12:15:00 UTC));
        let want = text
            .replace("ASIAOLD", "ASIANEW")
            .replace("SECRETOLD", "SECRETNEW")
            .replace("STOLD", "STNEW")
            .replace("RTOLD", "RTNEW")
            .replace("12:00:00Z", "12:15:00Z");
        assert_eq!(t.to_json(), want);
        assert_eq!(parse(&want, Path::new("/c/x.json")).unwrap().refresh_token, Some(Secret::new("RTNEW")));
    }

    #[test]
    fn a_cache_without_access_token_gets_one() {
        let mut t = parse(r#"{"refreshToken": "R", "clientId": "C"}"#, Path::new("/x")).unwrap();
        assert!(t.credentials().is_none());
        let grant = Grant {
            access_key_id: "A".into(),
            secret_access_key: Secret::new("S"),
            session_token: Secret::new("T"),
            expires_in: 900,
            refresh_token: Secret::new("R2"),
        };
        t.set_refreshed(grant, time::macros::datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(
            t.to_json(),
            r#"{"refreshToken": "R2", "clientId": "C", "accessToken": {"accessKeyId": "A", "secretAccessKey": "S", "sessionToken": "T", "expiresAt": "2026-01-01T00:00:00Z"}}"#
        );
    }

    #[test]
    fn corrupt_files_are_errors_that_quote_nothing() {
        for bad in [
            "",
            " \n",
            "{\"refreshToken\": \"SECRETTOKEN",
            "SECRETTOKEN",
            "[\"SECRETTOKEN\"]",
            "{\"accessToken\": \"SECRETTOKEN\"}",
            "{\"accessToken\": {\"expiresAt\": \"SECRETTOKEN\"}}",
            "{\"accessToken\": {\"secretAccessKey\": 5}}",
            "{\"refreshToken\": [\"SECRETTOKEN\"]}",
        ] {
            let e = parse(bad, Path::new("/c/x.json")).unwrap_err();
            assert!(!e.contains("SECRETTOKEN") && !e.contains('\n'), "{bad:?}: {e}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let t = parse(&botocore_text(), Path::new("/x")).unwrap();
        let d = format!("{t:?}");
        for s in ["SECRETOLD", "STOLD", "RTOLD", "BEGIN EC", "eyJ", "futureInner\":"] {
            assert!(!d.contains(s), "{s} in {d}");
        }
    }

    #[test]
    fn grants_must_be_complete() {
        let ok = r#"{"accessToken":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T"},"tokenType":"aws_sigv4","expiresIn":900,"refreshToken":"R"}"#;
        let g = parse_grant(ok).unwrap();
        assert_eq!((g.access_key_id.as_str(), g.expires_in), ("A", 900));
        for (bad, want) in [
            ("nope SECRET", "not valid JSON"),
            (r#"{"expiresIn":900,"refreshToken":"R"}"#, "no accessToken"),
            (&ok.replace(r#""refreshToken":"R""#, r#""x":1"#), "no refreshToken"),
            (&ok.replace("900", "0"), "no valid expiresIn"),
            (&ok.replace(r#""sessionToken":"T""#, r#""sessionToken":"""#), "no sessionToken"),
        ] {
            assert_eq!(parse_grant(bad).err(), Some(want), "{bad}");
        }
    }

    #[test]
    fn login_commands_and_classification() {
        let p = |name: &str| LoginProfile { profile: name.into(), session: "s".into(), region: None };
        assert_eq!(login_command(&p("console")), "aws login --profile console");
        assert_eq!(login_command(&p("my team's")), "aws login --profile 'my team'\\''s'");
        let base = |code: &str| LoginError::NeedsLogin {
            profile: "console".into(),
            at: "AWS Sign-In CreateOAuth2Token at x".into(),
            code: code.into(),
            command: login_command(&p("console")),
        };
        assert!(base("TOKEN_EXPIRED").needs_login());
        assert!(base("TOKEN_EXPIRED").to_string().contains("aws login --profile console"));
        assert!(!LoginError::NoRegion { profile: "c".into() }.needs_login());
        assert!(
            !LoginError::Http { profile: "c".into(), source: HttpError::Refused { at: "x".into(), attempts: 1 } }
                .needs_login()
        );
    }

    #[test]
    fn a_stashed_session_is_adopted_without_network() {
        let dir = std::env::temp_dir().join(format!("kc-login-stash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = Env::from_pairs([("HOME", dir.to_str().unwrap())]);
        let ctx = Ctx::new(env.clone(), time::macros::datetime!(2025-11-22 12:05:00 UTC));
        let p = LoginProfile { profile: "console".into(), session: "arn:aws:iam::1:user/me".into(), region: None };
        let path = cache_path(&env, &p).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // The cache's keys have expired (and no endpoint is reachable: no region).
        std::fs::write(&path, botocore_text().replace("2026-11-22T12:00:00Z", "2025-11-22T12:00:00Z")).unwrap();
        let newer = botocore_text()
            .replace("ASIAOLD", "ASIANEW")
            .replace("RTOLD", "RTNEW")
            .replace("2026-11-22T12:00:00Z", "2025-11-22T13:00:00Z");
        let stashed = worker::stash(&ctx, &stash_name(&p), newer.as_bytes()).unwrap();
        assert_eq!(credentials(&ctx, &p).unwrap().access_key_id, "ASIANEW");
        assert!(!stashed.exists(), "written back, then removed");
        assert_eq!(read(&path).unwrap().unwrap().refresh_token, Some(Secret::new("RTNEW")));
        assert_eq!(status(&ctx, &p).access_key_id.as_deref(), Some("ASIANEW"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn status_reads_without_network() {
        let dir = std::env::temp_dir().join(format!("kc-login-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = Env::from_pairs([("HOME", dir.to_str().unwrap())]);
        let now = time::macros::datetime!(2025-11-22 12:05:00 UTC);
        let ctx = Ctx::new(env.clone(), now);
        let p = LoginProfile {
            profile: "console".into(),
            session: "arn:aws:iam::1:user/me".into(),
            region: Some("eu-west-1".into()),
        };
        let st = status(&ctx, &p);
        assert!(!st.found && !st.refresh_possible && st.problem.is_none());
        assert!(matches!(credentials(&ctx, &p), Err(e) if e.needs_login()));

        let path = cache_path(&env, &p).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, botocore_text().replace("2026-11-22T12:00:00Z", "2025-11-22T12:20:00Z")).unwrap();
        let st = status(&ctx, &p);
        assert!(st.found && st.refresh_possible && st.fresh(), "{st:?}");
        assert_eq!(st.logged_in_at, OffsetDateTime::from_unix_timestamp(1_763_812_800).ok());
        assert_eq!(st.session_ends_at, st.logged_in_at.map(|t| t + Duration::hours(12)));
        // Fresh keys come from the cache, no network (nothing listens anywhere here).
        assert_eq!(credentials(&ctx, &p).unwrap().access_key_id, "ASIAOLD");
        assert_eq!(refresh(&ctx, &p, false).unwrap(), time::macros::datetime!(2025-11-22 12:20:00 UTC));

        let no_region = LoginProfile { region: None, ..p.clone() };
        let st = status(&ctx, &no_region);
        assert!(!st.refresh_possible && st.problem.as_deref().unwrap().contains("region"), "{st:?}");
        std::fs::write(&path, botocore_text().replace(r#""refreshToken": "RTOLD", "#, "")).unwrap();
        let st = status(&ctx, &p);
        assert!(!st.refresh_possible && st.problem.as_deref().unwrap().contains("refreshToken"), "{st:?}");
        std::fs::write(&path, "{\"accessToken\": ").unwrap();
        let st = status(&ctx, &p);
        assert!(st.found && st.problem.as_deref().unwrap().contains("unreadable"), "{st:?}");
        let e = credentials(&ctx, &p).unwrap_err();
        assert!(e.needs_login() && e.to_string().contains("aws login --profile console"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
