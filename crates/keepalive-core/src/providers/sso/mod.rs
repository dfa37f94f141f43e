//! IAM Identity Center (SSO) profiles: their config, silent access-token
//! refresh under a cross-process lock, and role credentials shared with the
//! AWS CLI's caches. This is the API the hooks and the CLI call:
//!
//! - [`SsoProfile::from_config`]: an SSO profile's settings (the resolver decides which
//!   profiles are SSO).
//! - [`role_credentials`]: credentials to export (cache → refresh → portal).
//! - [`session_status`]: what the caches say, without any network.
//! - [`refresh_session`]: a silent token refresh only.
//!
//! Interplay with botocore and the AWS CLI: they read and write the same two
//! caches. We write the token cache in botocore's layout and keep fields we do
//! not know; we take our lock, but they do not, so after a refused refresh we
//! re-read the file in case one of them rotated the refresh token meanwhile.
//!
//! A refresh spends a single-use refresh token: its call and save run in a
//! worker process that a kill of the caller cannot stop, the write is prepared
//! before the call, and a token the cache cannot take waits in a stash that the
//! next read adopts (`providers::worker`).

pub mod cache;
pub mod oidc;
pub mod portal;
pub mod role_cache;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use self::cache::{self as sso_cache, SsoCacheError, SsoToken};
use self::oidc::OidcError;
use self::portal::PortalError;
use self::role_cache::{RoleCacheError, SessionRef};
use crate::aws_files::{AwsFileError, IniDoc, Section};
use crate::config::Config;
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::expiry;
use crate::fsutil::FsError;
use crate::http::{self, Client, HttpError, Service};
use crate::lock::{self, LockError};
use crate::log::{self, Level};
use crate::paths::{self, PathError};
use crate::providers::worker::{self, Locking, SaveError, WorkerError};
use crate::secret::Secret;

/// How long we wait for another process's refresh (its HTTP call is bounded
/// by [`http::CALL_BUDGET`], 15 s).
pub const LOCK_WAIT: StdDuration = StdDuration::from_secs(20);
/// Cached role credentials are handed out only with at least this much left:
/// Claude Code refreshes 5 minutes before `Expiration`, and with 6 minutes or
/// less left it caches them for an hour.
pub fn role_fresh_margin() -> Duration {
    crate::providers::cached::fresh_margin()
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    ConfigFile(#[from] AwsFileError),
    #[error(
        "profile \"{profile}\" is not in {path}; add it (aws configure sso --profile {profile}) or choose another profile"
    )]
    NoProfile { profile: String, path: PathBuf },
    #[error(
        "profile \"{profile}\" in {path} is not an SSO profile (no sso_session, sso_start_url, sso_account_id or sso_role_name)"
    )]
    NotSso { profile: String, path: PathBuf },
    #[error(
        "profile \"{profile}\" is missing {key} in {section} of {path}; add it there or run `aws configure sso --profile {profile}`"
    )]
    Incomplete { profile: String, key: &'static str, section: String, path: PathBuf },
    #[error(
        "profile \"{profile}\" uses sso_session = {session} but {path} has no [sso-session {session}] section; add it or run `aws configure sso-session`"
    )]
    NoSession { profile: String, session: String, path: PathBuf },
    #[error(
        "profile \"{profile}\" in {path}: {key} differs between the profile and [sso-session {session}]; remove it from the profile or make them equal"
    )]
    Inconsistent { profile: String, key: &'static str, session: String, path: PathBuf },
    #[error("AWS SSO login needed for profile \"{profile}\": {reason}; run `{command}`")]
    NeedsLogin { profile: String, reason: String, command: String },
    #[error("{source}; run `{command}` to replace it")]
    TokenCache { source: SsoCacheError, command: String },
    #[error(
        "cannot save the refreshed SSO token for {label}, so it was not refreshed (a refresh uses up the refresh token): {source}"
    )]
    NotWritable { label: String, source: FsError },
    #[error("cannot save the refreshed SSO token for {label}: {source}; fix that, then run `{command}`")]
    TokenSave { label: String, source: SaveError, command: String },
    /// An error the refresh worker reported, as it rendered it.
    #[error("{message}")]
    Worker { message: String, needs_login: bool },
    #[error("cannot refresh the SSO token for {label}: {source}")]
    WorkerFailed { label: String, source: WorkerError },
    #[error(
        "another process has been refreshing the SSO token for {label} for over {secs} s (lock {path}); retry in a moment"
    )]
    LockTimeout { label: String, path: PathBuf, secs: u64 },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot refresh the SSO token for profile \"{profile}\": {source}")]
    Refresh { profile: String, source: OidcError },
    #[error("cannot get role credentials for profile \"{profile}\": {source}")]
    Portal { profile: String, source: PortalError },
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl SsoError {
    /// Whether only a browser login (`aws sso login …`) can fix this. False
    /// for network trouble and configuration mistakes.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            SsoError::NeedsLogin { .. } | SsoError::TokenCache { .. } | SsoError::Worker { needs_login: true, .. }
        )
    }
}

/// A complete SSO profile, resolved with its `[sso-session]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoProfile {
    pub profile: String,
    /// The `sso_session` name; `None` for legacy profiles with the start URL inline.
    pub session: Option<String>,
    pub start_url: String,
    pub sso_region: String,
    pub account_id: String,
    pub role_name: String,
    /// The profile's `region`, if any (Claude Code reads `AWS_REGION` instead).
    pub region: Option<String>,
    pub registration_scopes: Option<String>,
    /// The config file it came from.
    pub config_path: PathBuf,
}

impl SsoProfile {
    /// Loads profile `name` from the AWS config file; an error when it is
    /// missing, not SSO, or incomplete.
    pub fn load(ctx: &Ctx, name: &str) -> Result<SsoProfile, SsoError> {
        let path = paths::aws_config_file(&ctx.env)?;
        let doc = IniDoc::read(&path)?.unwrap_or_default();
        let section = doc
            .config_profile(name)
            .ok_or_else(|| SsoError::NoProfile { profile: name.to_string(), path: path.clone() })?;
        if !is_sso(section) {
            return Err(SsoError::NotSso { profile: name.to_string(), path });
        }
        from_sections(name, section, &doc, &path)
    }

    /// What the token cache file name is the sha1 of.
    pub fn token_key_source(&self) -> &str {
        self.session.as_deref().unwrap_or(&self.start_url)
    }

    /// "sso-session corp" or "start URL https://…", for messages.
    pub fn label(&self) -> String {
        match &self.session {
            Some(s) => format!("sso-session {s}"),
            None => format!("start URL {}", self.start_url),
        }
    }

    fn role_session_ref(&self) -> SessionRef<'_> {
        match &self.session {
            Some(s) => SessionRef::Session(s),
            None => SessionRef::StartUrl(&self.start_url),
        }
    }
}

/// The command that logs this profile in again in the browser.
pub fn login_command(profile: &SsoProfile) -> String {
    match &profile.session {
        Some(s) => format!("aws sso login --sso-session {}", shell_word(s)),
        None => format!("aws sso login --profile {}", shell_word(&profile.profile)),
    }
}

/// Quotes a word for a POSIX shell when it needs it, so the command can be pasted.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn get<'a>(section: &'a Section, key: &str) -> Option<&'a str> {
    section.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn is_sso(section: &Section) -> bool {
    ["sso_session", "sso_start_url", "sso_account_id", "sso_role_name"].iter().any(|k| get(section, k).is_some())
}

fn section_label(profile: &str) -> String {
    if profile == "default" { "[default]".to_string() } else { format!("[profile {profile}]") }
}

impl SsoProfile {
    /// The SSO profile `name` from its (merged) profile section and the config file holding
    /// its `[sso-session]`; an error naming the missing or contradicting key.
    pub fn from_config(
        name: &str,
        section: &Section,
        doc: &IniDoc,
        path: &std::path::Path,
    ) -> Result<SsoProfile, SsoError> {
        from_sections(name, section, doc, path)
    }
}

fn from_sections(name: &str, section: &Section, doc: &IniDoc, path: &std::path::Path) -> Result<SsoProfile, SsoError> {
    let incomplete = |key: &'static str, sect: String| SsoError::Incomplete {
        profile: name.to_string(),
        key,
        section: sect,
        path: path.to_path_buf(),
    };
    let account_id = get(section, "sso_account_id").ok_or_else(|| incomplete("sso_account_id", section_label(name)))?;
    let role_name = get(section, "sso_role_name").ok_or_else(|| incomplete("sso_role_name", section_label(name)))?;
    let (session, start_url, sso_region, scopes) = match get(section, "sso_session") {
        Some(session) => {
            let ss = doc.sso_session(session).ok_or_else(|| SsoError::NoSession {
                profile: name.to_string(),
                session: session.to_string(),
                path: path.to_path_buf(),
            })?;
            let sect = format!("[sso-session {session}]");
            let start_url = get(ss, "sso_start_url").ok_or_else(|| incomplete("sso_start_url", sect.clone()))?;
            let sso_region = get(ss, "sso_region").ok_or_else(|| incomplete("sso_region", sect))?;
            // botocore refuses a profile that contradicts its session.
            for (key, value) in [("sso_start_url", start_url), ("sso_region", sso_region)] {
                if get(section, key).is_some_and(|v| v != value) {
                    return Err(SsoError::Inconsistent {
                        profile: name.to_string(),
                        key,
                        session: session.to_string(),
                        path: path.to_path_buf(),
                    });
                }
            }
            (Some(session.to_string()), start_url, sso_region, get(ss, "sso_registration_scopes"))
        }
        None => {
            let start_url =
                get(section, "sso_start_url").ok_or_else(|| incomplete("sso_start_url", section_label(name)))?;
            let sso_region = get(section, "sso_region").ok_or_else(|| incomplete("sso_region", section_label(name)))?;
            (None, start_url, sso_region, None)
        }
    };
    Ok(SsoProfile {
        profile: name.to_string(),
        session,
        start_url: start_url.to_string(),
        sso_region: sso_region.to_string(),
        account_id: account_id.to_string(),
        role_name: role_name.to_string(),
        region: get(section, "region").map(str::to_string),
        registration_scopes: scopes.map(str::to_string),
        config_path: path.to_path_buf(),
    })
}

/// What the caches say about an SSO profile, read without any network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub profile: String,
    /// "sso-session corp" or "start URL https://…".
    pub session_label: String,
    /// e.g. `aws sso login --sso-session corp`.
    pub login_command: String,
    pub token_path: PathBuf,
    /// Whether the token cache file exists.
    pub token_found: bool,
    pub access_token_expires_at: Option<OffsetDateTime>,
    pub refresh_token_present: bool,
    pub registration_expires_at: Option<OffsetDateTime>,
    /// Refresh token, client registration, and a registration still valid at `checked_at`.
    pub silent_refresh_possible: bool,
    pub role_cache_path: PathBuf,
    /// Expiry of the role credentials in the AWS CLI cache, if any are readable.
    pub role_credentials_expire_at: Option<OffsetDateTime>,
    /// The "now" this status was read at.
    pub checked_at: OffsetDateTime,
}

impl SessionStatus {
    /// Whether the access token is present and unexpired at `now`.
    pub fn access_token_valid(&self, now: OffsetDateTime) -> bool {
        self.access_token_expires_at.is_some_and(|t| t > now)
    }

    /// Until when silent refreshes can keep the session alive (the client
    /// registration's expiry); `None` when they cannot.
    pub fn silent_refresh_until(&self) -> Option<OffsetDateTime> {
        if self.silent_refresh_possible { self.registration_expires_at } else { None }
    }

    /// Whether the access token is missing, expired, or expires within `window`.
    pub fn needs_refresh(&self, now: OffsetDateTime, window: Duration) -> bool {
        self.access_token_expires_at.is_none_or(|t| t - now < window)
    }

    /// Whether cached role credentials can be handed out now (10 minutes left at least).
    pub fn role_credentials_fresh(&self, now: OffsetDateTime) -> bool {
        self.role_credentials_expire_at.is_some_and(|t| t - now >= role_fresh_margin())
    }

    /// When a browser login will really be needed: the access token's expiry
    /// when it cannot be refreshed silently, else the registration's expiry.
    /// `checked_at` when there is no token at all. Cached role credentials may
    /// keep working a little longer (`role_credentials_expire_at`).
    pub fn login_needed_at(&self) -> OffsetDateTime {
        let token = self.access_token_expires_at.unwrap_or(self.checked_at);
        match self.silent_refresh_until() {
            Some(reg) => reg.max(token),
            None => token,
        }
    }
}

/// Reads both caches for `profile` (no network). A corrupt token cache file
/// is an error; a corrupt role cache counts as empty.
/// `_config` is unused today; it is part of the signature so the refresh
/// window can inform the status without changing callers.
pub fn session_status(ctx: &Ctx, _config: &Config, profile: &SsoProfile) -> Result<SessionStatus, SsoError> {
    let token_path = sso_cache::token_path(&ctx.env, profile.token_key_source())?;
    let token = read_token(ctx, profile)?;
    let key = role_cache::cache_key(&profile.account_id, &profile.role_name, profile.role_session_ref());
    let role_cache_path = role_cache::path(&ctx.env, &key)?;
    let role = role_cache::read(&role_cache_path).ok().flatten();
    Ok(SessionStatus {
        profile: profile.profile.clone(),
        session_label: profile.label(),
        login_command: login_command(profile),
        token_path,
        token_found: token.is_some(),
        access_token_expires_at: token.as_ref().filter(|t| t.access_token.is_some()).and_then(|t| t.expires_at),
        refresh_token_present: token.as_ref().is_some_and(|t| t.refresh_token.as_ref().is_some_and(|r| !r.is_empty())),
        registration_expires_at: token.as_ref().and_then(|t| t.registration_expires_at),
        silent_refresh_possible: token.as_ref().is_some_and(|t| t.can_refresh(ctx.now)),
        role_cache_path,
        role_credentials_expire_at: role.and_then(|c| c.expiration),
        checked_at: ctx.now,
    })
}

/// What [`refresh_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token is good beyond the refresh window; nothing was done.
    NotNeeded { expires_at: OffsetDateTime },
    /// We called CreateToken and saved the new token.
    Refreshed { expires_at: OffsetDateTime },
    /// Another process or tool refreshed it meanwhile; its token is used.
    RefreshedElsewhere { expires_at: OffsetDateTime },
}

impl RefreshOutcome {
    pub fn expires_at(&self) -> OffsetDateTime {
        match self {
            RefreshOutcome::NotNeeded { expires_at }
            | RefreshOutcome::Refreshed { expires_at }
            | RefreshOutcome::RefreshedElsewhere { expires_at } => *expires_at,
        }
    }
}

impl fmt::Display for RefreshOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, t) = match self {
            RefreshOutcome::NotNeeded { expires_at } => ("still valid", expires_at),
            RefreshOutcome::Refreshed { expires_at } => ("refreshed", expires_at),
            RefreshOutcome::RefreshedElsewhere { expires_at } => ("refreshed by another process", expires_at),
        };
        write!(f, "SSO token {what}, valid until {}", expiry::to_iso8601(*t))
    }
}

fn refresh_window(config: &Config) -> Duration {
    Duration::minutes(i64::try_from(config.sso_refresh_minutes).unwrap_or(i64::MAX / 120))
}

/// Silent refresh only, never a browser: refreshes the access token when it
/// is inside the refresh window (`ssoRefreshMinutes`) or expired, or always
/// with `force`. Used by the background refresh and the CLI.
pub fn refresh_session(
    ctx: &Ctx,
    config: &Config,
    profile: &SsoProfile,
    force: bool,
) -> Result<RefreshOutcome, SsoError> {
    let token = read_token(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
    if !force
        && let (Some(_), Some(exp)) = (token.valid_access_token(ctx.now), token.expires_at)
        && exp - ctx.now >= refresh_window(config)
    {
        return Ok(RefreshOutcome::NotNeeded { expires_at: exp });
    }
    if !token.can_refresh(ctx.now) {
        return Err(needs_login(profile, cannot_refresh_reason(ctx, &token)));
    }
    let seen = if force { Some(token.access_token.clone()) } else { None };
    refresh_locked(ctx, config, profile, seen.as_ref()).map(|(_, outcome)| outcome)
}

/// The role credentials [`role_credentials`] would return without any call: cached with the
/// margin left. `None` when it has work to do (or the cache cannot be read).
pub fn cached_role_credentials(ctx: &Ctx, profile: &SsoProfile) -> Option<Credentials> {
    let key = role_cache::cache_key(&profile.account_id, &profile.role_name, profile.role_session_ref());
    fresh_role_creds(ctx, &role_cache::path(&ctx.env, &key).ok()?)
}

/// Role credentials for `profile`: from the AWS CLI cache when they have 10
/// minutes left at least (no network, one small file read), else fetched from
/// the SSO portal — after a silent token refresh when the token is inside the
/// refresh window — and cached for the AWS CLI and botocore too. A portal 401
/// causes one forced refresh and one retry.
///
/// Fetched credentials are returned as the portal issued them; should it
/// issue ones shorter than 10 minutes, callers exporting to Claude Code must
/// check [`Credentials::remaining`].
pub fn role_credentials(ctx: &Ctx, config: &Config, profile: &SsoProfile) -> Result<Credentials, SsoError> {
    role_credentials_except(ctx, config, profile, None)
}

/// New role credentials in place of the cached ones with key id `rejected`, which AWS refused
/// although they are fresh by their expiry; other fresh ones found in the cache (another
/// process replaced them meanwhile) are used as they are.
pub fn replace_role_credentials(
    ctx: &Ctx,
    config: &Config,
    profile: &SsoProfile,
    rejected: &str,
) -> Result<Credentials, SsoError> {
    role_credentials_except(ctx, config, profile, Some(rejected))
}

fn role_credentials_except(
    ctx: &Ctx,
    config: &Config,
    profile: &SsoProfile,
    rejected: Option<&str>,
) -> Result<Credentials, SsoError> {
    let key = role_cache::cache_key(&profile.account_id, &profile.role_name, profile.role_session_ref());
    let cache_path = role_cache::path(&ctx.env, &key)?;
    let usable = || fresh_role_creds(ctx, &cache_path).filter(|c| Some(c.access_key_id.as_str()) != rejected);
    if let Some(c) = usable() {
        return Ok(c);
    }
    // One fetch per role across processes: the others wait and then find the
    // cache filled. A lock we cannot get in time only costs a duplicate fetch.
    let _guard =
        lock_path(ctx, &format!("role-{key}")).ok().and_then(|p| lock::lock_with_timeout(&p, LOCK_WAIT).ok().flatten());
    if let Some(c) = usable() {
        return Ok(c);
    }
    let token = usable_access_token(ctx, config, profile)?;
    let client = Client::new(&ctx.env, http::resolve(&ctx.env, Service::Portal, &profile.sso_region)?)?;
    let creds = match portal::get_role_credentials(&client, &token, &profile.account_id, &profile.role_name) {
        Ok(c) => c,
        Err(PortalError::Unauthorized { .. }) => {
            log::write(
                ctx,
                Level::Warn,
                "sso",
                &format!("SSO portal refused the access token for {}; forcing a refresh", profile.label()),
            );
            let current = read_token(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
            // A different valid token in the file (someone logged in or
            // refreshed meanwhile) is worth a retry even without a refresh token.
            let replaced = current.valid_access_token(ctx.now).is_some_and(|t| *t != token);
            if !replaced && !current.can_refresh(ctx.now) {
                return Err(needs_login(
                    profile,
                    "the SSO portal refused the access token and it cannot be refreshed silently".into(),
                ));
            }
            let (fresh, _) = refresh_locked(ctx, config, profile, Some(&Some(token)))?;
            let fresh_token = fresh.access_token.clone().unwrap_or_default();
            match portal::get_role_credentials(&client, &fresh_token, &profile.account_id, &profile.role_name) {
                Ok(c) => c,
                Err(PortalError::Unauthorized { .. }) => {
                    return Err(needs_login(profile, "the SSO portal refused even a freshly refreshed token".into()));
                }
                Err(source) => return Err(SsoError::Portal { profile: profile.profile.clone(), source }),
            }
        }
        Err(source) => return Err(SsoError::Portal { profile: profile.profile.clone(), source }),
    };
    // A cache we cannot write costs a fetch next time, not these credentials.
    if let Err(e) = role_cache::write(&cache_path, &creds, &profile.account_id) {
        log::write(ctx, Level::Warn, "sso", &format!("cannot cache role credentials: {e}"));
    }
    log::write(
        ctx,
        Level::Info,
        "sso",
        &format!(
            "fetched role credentials for profile {} ({}), valid until {}",
            profile.profile,
            creds.access_key_id,
            creds.expiration.map(expiry::to_iso8601).unwrap_or_default()
        ),
    );
    Ok(creds)
}

/// Cached role credentials with at least [`role_fresh_margin`] left.
fn fresh_role_creds(ctx: &Ctx, path: &std::path::Path) -> Option<Credentials> {
    match role_cache::read(path) {
        Ok(Some(c)) if c.remaining(ctx.now).is_some_and(|left| left >= role_fresh_margin()) => Some(c),
        Ok(_) => None,
        Err(RoleCacheError::Corrupt { .. }) => None,
        Err(e) => {
            log::write(ctx, Level::Warn, "sso", &e.to_string());
            None
        }
    }
}

/// An access token to call the portal with: refreshed first when inside the
/// window and possible; the old one when it is still valid but cannot be
/// refreshed (the login then comes due at its expiry) or the refresh failed
/// for a reason other than a dead session.
fn usable_access_token(ctx: &Ctx, config: &Config, profile: &SsoProfile) -> Result<Secret, SsoError> {
    let token = read_token(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
    let valid = token.valid_access_token(ctx.now).cloned();
    let in_window = token.expires_at.is_none_or(|e| e - ctx.now < refresh_window(config));
    if let Some(t) = &valid
        && !in_window
    {
        return Ok(t.clone());
    }
    if !token.can_refresh(ctx.now) {
        return valid.ok_or_else(|| needs_login(profile, cannot_refresh_reason(ctx, &token)));
    }
    match refresh_locked(ctx, config, profile, None) {
        Ok((t, _)) => {
            t.access_token.ok_or_else(|| needs_login(profile, "the refreshed token cache has no access token".into()))
        }
        Err(e) if !e.needs_login() && valid.is_some() => {
            log::write(ctx, Level::Warn, "sso", &format!("{e}; using the current token meanwhile"));
            valid.ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// Refreshes under the session lock. `seen`: `None` for a normal refresh
/// (skipped when someone else refreshed meanwhile); `Some(token)` to force
/// replacing that access token (skipped when the file already holds a
/// different valid one). The call and the save run in a worker process
/// ([`worker`]): a kill of this process cannot lose the rotated refresh token.
fn refresh_locked(
    ctx: &Ctx,
    config: &Config,
    profile: &SsoProfile,
    seen: Option<&Option<Secret>>,
) -> Result<(SsoToken, RefreshOutcome), SsoError> {
    let lock_file = session_lock(ctx, profile)?;
    let Some(lock) = worker::lock(&lock_file, LOCK_WAIT)? else {
        return Err(SsoError::LockTimeout { label: profile.label(), path: lock_file, secs: LOCK_WAIT.as_secs() });
    };
    let job = RefreshJob {
        profile: profile.clone(),
        window_minutes: refresh_window(config).whole_minutes(),
        seen: seen.map(|t| t.as_ref().map(|t| worker::fingerprint(t.expose()))),
    };
    // Someone may have refreshed while we waited for the lock: then no worker is needed.
    let before = read_token_held(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
    if let Some(outcome) = job.reuse(ctx, &before) {
        return Ok((before, outcome));
    }
    if !before.can_refresh(ctx.now) {
        return Err(needs_login(profile, cannot_refresh_reason(ctx, &before)));
    }
    let result = worker::run(ctx, &lock, &job);
    // Whatever the worker did, the cache (or the stash it adopts) now says where we are.
    let after = read_token_held(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
    match result {
        Ok(Ok(outcome)) => Ok((after, outcome)),
        Ok(Err(e)) => Err(e),
        Err(source) => match (after.valid_access_token(ctx.now), after.expires_at) {
            // The worker saved a token before it failed to answer.
            (Some(t), Some(exp)) if Some(t) != before.access_token.as_ref() => {
                Ok((after, RefreshOutcome::RefreshedElsewhere { expires_at: exp }))
            }
            _ => Err(SsoError::WorkerFailed { label: profile.label(), source }),
        },
    }
}

/// A silent refresh of one SSO session, as a worker runs it: the profile, the refresh
/// window, and which access token a forced refresh replaces — by its SHA-256, so the token
/// itself never appears on a command line.
#[derive(Debug, Clone)]
pub struct RefreshJob {
    profile: SsoProfile,
    window_minutes: i64,
    seen: Option<Option<String>>,
}

impl RefreshJob {
    /// The outcome when the cache already holds what this refresh would produce.
    fn reuse(&self, ctx: &Ctx, token: &SsoToken) -> Option<RefreshOutcome> {
        let (Some(current), Some(exp)) = (token.valid_access_token(ctx.now), token.expires_at) else {
            return None;
        };
        let reuse = match &self.seen {
            None => exp - ctx.now >= Duration::minutes(self.window_minutes),
            Some(old) => old.as_deref() != Some(worker::fingerprint(current.expose()).as_str()),
        };
        reuse.then_some(RefreshOutcome::RefreshedElsewhere { expires_at: exp })
    }

    /// The critical section: re-read, prepare the write, CreateToken, save. The lock is held.
    fn refresh(&self, ctx: &Ctx) -> Result<RefreshOutcome, SsoError> {
        let profile = &self.profile;
        let mut token = read_token_held(ctx, profile)?.ok_or_else(|| no_token(ctx, profile))?;
        if let Some(outcome) = self.reuse(ctx, &token) {
            return Ok(outcome);
        }
        if !token.can_refresh(ctx.now) {
            return Err(needs_login(profile, cannot_refresh_reason(ctx, &token)));
        }
        let (Some(client_id), Some(client_secret), Some(refresh_token)) =
            (token.client_id.clone(), token.client_secret.clone(), token.refresh_token.clone())
        else {
            return Err(needs_login(profile, cannot_refresh_reason(ctx, &token)));
        };
        let client = Client::new(&ctx.env, http::resolve(&ctx.env, Service::Oidc, &profile.sso_region)?)?;
        // AWS may rotate the refresh token on use: a refresh we then could not save would
        // burn it and force a browser login. The temp file for its successor exists, with
        // room, before the call (a full disk stops us here).
        let prepared =
            token.prepare_write().map_err(|source| SsoError::NotWritable { label: profile.label(), source })?;
        match oidc::create_token(&client, &client_id, &client_secret, &refresh_token) {
            Ok(grant) => {
                // Saturating: a clock near the end of time must not panic.
                let expires_at = ctx
                    .now
                    .checked_add(Duration::seconds(grant.expires_in))
                    .unwrap_or(OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX));
                let rotated = grant.refresh_token.is_some();
                token.set_refreshed(
                    grant.access_token,
                    expires_at,
                    grant.refresh_token,
                    &profile.start_url,
                    &profile.sso_region,
                );
                let saved = worker::save(ctx, &stash_name(profile), prepared, token.to_json().as_bytes()).map_err(
                    |source| SsoError::TokenSave { label: profile.label(), source, command: login_command(profile) },
                )?;
                log::write(
                    ctx,
                    Level::Info,
                    "sso",
                    &format!(
                        "refreshed SSO token for {} (profile {}), valid until {}{}{}",
                        profile.label(),
                        profile.profile,
                        expiry::to_iso8601(expires_at),
                        if rotated { ", refresh token rotated" } else { "" },
                        saved.note()
                    ),
                );
                Ok(RefreshOutcome::Refreshed { expires_at })
            }
            Err(e) if e.needs_login() => {
                drop(prepared);
                // The AWS CLI and botocore refresh without our lock: the refresh token we sent
                // may have been rotated by them a moment ago.
                if let Ok(Some(again)) = sso_cache::read(&token.path)
                    && let (Some(t), Some(exp)) = (again.valid_access_token(ctx.now), again.expires_at)
                    && Some(t) != token.access_token.as_ref()
                {
                    log::write(
                        ctx,
                        Level::Info,
                        "sso",
                        &format!("SSO token for {} was refreshed by another tool meanwhile; using it", profile.label()),
                    );
                    return Ok(RefreshOutcome::RefreshedElsewhere { expires_at: exp });
                }
                log::write(ctx, Level::Warn, "sso", &format!("SSO refresh for {} refused: {e}", profile.label()));
                let code = e.code().unwrap_or("refused").to_string();
                Err(needs_login(profile, format!("AWS refused the silent refresh ({code})")))
            }
            Err(source) => Err(SsoError::Refresh { profile: profile.profile.clone(), source }),
        }
    }
}

impl worker::Job for RefreshJob {
    const KIND: &'static str = "sso-refresh";
    type Out = Result<RefreshOutcome, SsoError>;

    fn to_json(&self) -> serde_json::Value {
        let p = &self.profile;
        serde_json::json!({
            "profile": p.profile, "session": p.session, "startUrl": p.start_url, "ssoRegion": p.sso_region,
            "accountId": p.account_id, "roleName": p.role_name, "region": p.region,
            "registrationScopes": p.registration_scopes, "configPath": p.config_path,
            "windowMinutes": self.window_minutes,
            "force": self.seen.is_some(), "seen": self.seen.clone().flatten(),
        })
    }

    fn from_json(v: &serde_json::Value) -> Option<RefreshJob> {
        let text = |k: &str| v[k].as_str().map(str::to_string);
        let profile = SsoProfile {
            profile: text("profile")?,
            session: text("session"),
            start_url: text("startUrl")?,
            sso_region: text("ssoRegion")?,
            account_id: text("accountId")?,
            role_name: text("roleName")?,
            region: text("region"),
            registration_scopes: text("registrationScopes"),
            config_path: PathBuf::from(text("configPath")?),
        };
        let seen = v["force"].as_bool()?.then(|| text("seen"));
        Some(RefreshJob { profile, window_minutes: v["windowMinutes"].as_i64()?, seen })
    }

    fn run(&self, ctx: &Ctx) -> Self::Out {
        self.refresh(ctx)
    }

    fn encode(out: &Self::Out) -> serde_json::Value {
        match out {
            Ok(o) => {
                let outcome = match o {
                    RefreshOutcome::NotNeeded { .. } => "not-needed",
                    RefreshOutcome::Refreshed { .. } => "refreshed",
                    RefreshOutcome::RefreshedElsewhere { .. } => "elsewhere",
                };
                serde_json::json!({"ok": {"outcome": outcome, "expiresAt": o.expires_at().unix_timestamp()}})
            }
            Err(SsoError::NeedsLogin { reason, .. }) => serde_json::json!({"err": {"needsLoginReason": reason}}),
            Err(e) => serde_json::json!({"err": {"message": e.to_string(), "needsLogin": e.needs_login()}}),
        }
    }

    fn decode(&self, reply: &serde_json::Value) -> Option<Self::Out> {
        if let Some(ok) = reply.get("ok") {
            let expires_at = OffsetDateTime::from_unix_timestamp(ok["expiresAt"].as_i64()?).ok()?;
            return Some(Ok(match ok["outcome"].as_str()? {
                "not-needed" => RefreshOutcome::NotNeeded { expires_at },
                "refreshed" => RefreshOutcome::Refreshed { expires_at },
                _ => RefreshOutcome::RefreshedElsewhere { expires_at },
            }));
        }
        let err = reply.get("err")?;
        if let Some(reason) = err["needsLoginReason"].as_str() {
            return Some(Err(needs_login(&self.profile, reason.to_string())));
        }
        Some(Err(SsoError::Worker {
            message: err["message"].as_str()?.to_string(),
            needs_login: err["needsLogin"].as_bool().unwrap_or(false),
        }))
    }
}

/// The session lock: one refresh of this token cache at a time.
fn session_lock(ctx: &Ctx, profile: &SsoProfile) -> Result<PathBuf, PathError> {
    lock_path(ctx, &stash_name(profile))
}

/// Names the session's lock and its stash: `sso-<cache key>`.
fn stash_name(profile: &SsoProfile) -> String {
    format!("sso-{}", sso_cache::cache_key(profile.token_key_source()))
}

/// `$XDG_STATE_HOME/cc-aws-keepalive/locks/<name>.lock`.
fn lock_path(ctx: &Ctx, name: &str) -> Result<PathBuf, PathError> {
    paths::lock_file(&ctx.env, name)
}

/// The session's token, adopting a stashed one that is newer (see [`worker::adopt`]).
fn read_token(ctx: &Ctx, profile: &SsoProfile) -> Result<Option<SsoToken>, SsoError> {
    let lock = session_lock(ctx, profile)?;
    read_token_with(ctx, profile, Locking::Try(&lock))
}

/// [`read_token`] by the holder of the session lock.
fn read_token_held(ctx: &Ctx, profile: &SsoProfile) -> Result<Option<SsoToken>, SsoError> {
    read_token_with(ctx, profile, Locking::Held)
}

fn read_token_with(ctx: &Ctx, profile: &SsoProfile, locking: Locking<'_>) -> Result<Option<SsoToken>, SsoError> {
    let path = sso_cache::token_path(&ctx.env, profile.token_key_source())?;
    worker::adopt(
        ctx,
        &stash_name(profile),
        locking,
        || sso_cache::read(&path),
        |text| sso_cache::parse(text, &path).ok(),
    )
    .map_err(|source| SsoError::TokenCache { source, command: login_command(profile) })
}

fn needs_login(profile: &SsoProfile, reason: String) -> SsoError {
    SsoError::NeedsLogin { profile: profile.profile.clone(), reason, command: login_command(profile) }
}

fn no_token(ctx: &Ctx, profile: &SsoProfile) -> SsoError {
    let where_ = sso_cache::token_path(&ctx.env, profile.token_key_source())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "~/.aws/sso/cache".into());
    needs_login(profile, format!("no cached SSO token for {} ({where_})", profile.label()))
}

/// Why a token that needs refreshing cannot be refreshed silently.
fn cannot_refresh_reason(ctx: &Ctx, token: &SsoToken) -> String {
    let expired = match token.expires_at {
        Some(t) if t <= ctx.now => format!("the access token expired {}", expiry::relative(ctx.now, t)),
        Some(t) => format!("the access token expires {}", expiry::relative(ctx.now, t)),
        None => "the cached token has no access token".to_string(),
    };
    let why = if token.refresh_token.as_ref().is_none_or(Secret::is_empty) {
        "there is no refresh token (the session was started without one)".to_string()
    } else if token.client_id.is_none() || token.client_secret.is_none() {
        "the client registration is missing from the cache".to_string()
    } else {
        match token.registration_expires_at {
            Some(r) if r <= ctx.now => format!("the client registration expired {}", expiry::relative(ctx.now, r)),
            Some(_) => "the cache cannot be refreshed".to_string(),
            None => "the client registration has no expiry recorded".to_string(),
        }
    };
    format!("{expired} and cannot be renewed silently: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn ctx_with(config_text: &str, tag: &str) -> (Ctx, PathBuf) {
        let dir = std::env::temp_dir().join(format!("kc-sso-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config");
        std::fs::write(&cfg, config_text).unwrap();
        let env = Env::from_pairs([("HOME", dir.to_str().unwrap()), ("AWS_CONFIG_FILE", cfg.to_str().unwrap())]);
        (Ctx::new(env, OffsetDateTime::now_utc()), dir)
    }

    #[test]
    fn sso_profiles_and_their_errors() {
        let text = "[profile s]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = eu-west-1\n\
                    [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n\
                    sso_registration_scopes = sso:account:access\n\
                    [default]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n\
                    sso_account_id = 1\nsso_role_name = R\n\
                    [profile cp]\ncredential_process = /bin/echo hi\n\
                    [profile ar]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = s\n\
                    [profile plain]\nregion = us-east-1\n\
                    [profile noacct]\nsso_session = corp\nsso_role_name = R\n\
                    [profile nosess]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n\
                    [profile noregion]\nsso_start_url = https://x/start\nsso_account_id = 1\nsso_role_name = R\n\
                    [profile clash]\nsso_session = corp\nsso_region = us-west-2\nsso_account_id = 1\nsso_role_name = R\n";
        let (ctx, dir) = ctx_with(text, "kinds");
        let s = SsoProfile::load(&ctx, "s").unwrap();
        assert_eq!(s.session.as_deref(), Some("corp"));
        assert_eq!(s.sso_region, "eu-central-1");
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.registration_scopes.as_deref(), Some("sso:account:access"));
        assert_eq!(login_command(&s), "aws sso login --sso-session corp");
        let d = SsoProfile::load(&ctx, "default").unwrap();
        assert_eq!(d.session, None);
        assert_eq!(d.token_key_source(), "https://legacy.awsapps.com/start");
        assert_eq!(login_command(&d), "aws sso login --profile default");
        assert!(SsoProfile::load(&ctx, "cp").is_err());
        let cfg = dir.join("config").display().to_string();
        for (name, needles) in [
            ("noacct", vec!["sso_account_id", "[profile noacct]"]),
            ("nosess", vec!["[sso-session nope]"]),
            ("noregion", vec!["sso_region", "[profile noregion]"]),
            ("clash", vec!["sso_region", "differs"]),
        ] {
            let e = SsoProfile::load(&ctx, name).unwrap_err().to_string();
            assert!(e.contains(&cfg) && e.contains(&format!("\"{name}\"")), "{name}: {e}");
            for n in needles {
                assert!(e.contains(n), "{name}: {e}");
            }
        }
        assert!(SsoProfile::load(&ctx, "plain").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn profile_default_wins_and_quotes() {
        let (ctx, dir) = ctx_with(
            "[default]\nregion=x\n[profile default]\nsso_session = my corp\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session \"my corp\"]\nsso_start_url = https://x/start\nsso_region = us-east-1\n",
            "default",
        );
        let p = SsoProfile::load(&ctx, "default").unwrap();
        assert_eq!(login_command(&p), "aws sso login --sso-session 'my corp'");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stashed_token_newer_than_the_cache_is_adopted_and_written_back() {
        let (ctx, dir) = ctx_with(
            "[profile s]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n\
             [sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n",
            "stash",
        );
        let p = SsoProfile::load(&ctx, "s").unwrap();
        let path = sso_cache::token_path(&ctx.env, "corp").unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let cache = |at: &str, rt: &str, exp: OffsetDateTime| {
            format!(
                r#"{{"startUrl": "https://x/start", "region": "us-east-1", "accessToken": "{at}", "expiresAt": "{}", "clientId": "c", "clientSecret": "STASHCS", "registrationExpiresAt": "2999-01-01T00:00:00Z", "refreshToken": "{rt}"}}"#,
                expiry::to_iso8601(exp)
            )
        };
        let old = ctx.now + Duration::minutes(5);
        let new = ctx.now + Duration::hours(1);
        std::fs::write(&path, cache("STASHOLDAT", "STASHOLDRT", old)).unwrap();
        let stashed = worker::stash(&ctx, &stash_name(&p), cache("STASHNEWAT", "STASHNEWRT", new).as_bytes()).unwrap();
        assert!(stashed.starts_with(dir.join(".local/state/cc-aws-keepalive/stash")), "{stashed:?}");

        // The next read takes the stash, writes it back and removes it.
        let st = session_status(&ctx, &Config::default(), &p).unwrap();
        assert_eq!(st.access_token_expires_at, Some(new.replace_nanosecond(0).unwrap()));
        assert!(!stashed.exists());
        let on_disk = sso_cache::read(&path).unwrap().unwrap();
        assert_eq!(on_disk.refresh_token, Some(Secret::new("STASHNEWRT")));
        // Nothing outside the files names a secret.
        assert!(!format!("{st:?}").contains("STASH"));

        // A stash older than the cache (the user logged in since) is dropped.
        worker::stash(&ctx, &stash_name(&p), cache("STASHOLDAT", "STASHOLDRT", old).as_bytes()).unwrap();
        let st = session_status(&ctx, &Config::default(), &p).unwrap();
        assert_eq!(st.access_token_expires_at, Some(new.replace_nanosecond(0).unwrap()));
        assert!(!stashed.exists());
        assert_eq!(sso_cache::read(&path).unwrap().unwrap().refresh_token, Some(Secret::new("STASHNEWRT")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn status_times() {
        let now = OffsetDateTime::now_utc();
        let mut st = SessionStatus {
            profile: "p".into(),
            session_label: "sso-session s".into(),
            login_command: "aws sso login --sso-session s".into(),
            token_path: PathBuf::from("/t"),
            token_found: true,
            access_token_expires_at: Some(now + Duration::minutes(10)),
            refresh_token_present: true,
            registration_expires_at: Some(now + Duration::days(80)),
            silent_refresh_possible: true,
            role_cache_path: PathBuf::from("/r"),
            role_credentials_expire_at: Some(now + Duration::minutes(9)),
            checked_at: now,
        };
        assert!(st.needs_refresh(now, Duration::minutes(15)));
        assert!(!st.needs_refresh(now, Duration::minutes(5)));
        assert!(!st.role_credentials_fresh(now));
        assert_eq!(st.login_needed_at(), now + Duration::days(80));
        st.silent_refresh_possible = false;
        assert_eq!(st.login_needed_at(), now + Duration::minutes(10));
        assert_eq!(st.silent_refresh_until(), None);
    }
}
