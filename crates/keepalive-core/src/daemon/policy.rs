//! The keep-alive policy: what to refresh when, and what came of it. Shared by the daemon and
//! `cc-aws-keepalive refresh`: an SSO session is refreshed silently once inside the threshold;
//! only when that cannot work does a login run, as [`LoginPolicy`] allows. Keys a login tool
//! writes are renewed by `autoLoginCmd` inside the `autoLoginMinutes` window; other chains
//! (roles, `aws login`, web identity) are renewed ahead of the hooks.

use std::time::Duration as StdDuration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Duration, OffsetDateTime};

use super::discovery::Target;
use crate::config::Config;
use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::login_runner::{self, IfBusy, KeysLogin, Login, LoginOutcome, Output, When};
use crate::notify::NotifyMode;
use crate::providers::exec::{self, HumanStep};
use crate::providers::resolve::{self, AwsFiles, Choice};
use crate::providers::sso::{self, RefreshOutcome, SessionStatus};
use crate::providers::{Base, Chain};
use crate::{expiry, next_step};

/// What the daemon and `refresh` work with, re-read before every pass so config.json
/// changes apply without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub interval: StdDuration,
    pub threshold: Duration,
    pub notify: NotifyMode,
    /// Minutes before a forced login at which to warn about it once.
    pub warn: Duration,
}

/// Settings from config.json with the old daemons' variables
/// (`AWS_SSO_REFRESH_THRESHOLD`, `AWS_SSO_REFRESH_INTERVAL`, minutes) as
/// overrides, and the test-only `CC_KEEPALIVE_DAEMON_TICK_MS` over all.
/// Returns warnings about unusable variables.
pub fn settings(env: &Env, config: &Config) -> (Settings, Vec<String>) {
    let mut warnings = Vec::new();
    let mut minutes = |name: &str, default: u64| -> u64 {
        match env.get(name) {
            None => default,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(m) => m,
                Err(_) => {
                    warnings.push(format!("{name}={v:?} is not a whole number of minutes; using {default}"));
                    default
                }
            },
        }
    };
    let threshold = minutes(vars::AWS_SSO_REFRESH_THRESHOLD, config.refresh_threshold_minutes).min(7 * 24 * 60);
    let interval_min = minutes(vars::AWS_SSO_REFRESH_INTERVAL, config.check_interval_minutes).clamp(1, 60);
    let mut interval = StdDuration::from_secs(interval_min * 60);
    if let Some(ms) = env.get(vars::CC_KEEPALIVE_DAEMON_TICK_MS).and_then(|v| v.trim().parse::<u64>().ok()) {
        interval = StdDuration::from_millis(ms.max(10));
    }
    let s = Settings {
        interval,
        threshold: Duration::minutes(threshold as i64),
        notify: config.notify,
        warn: Duration::minutes(config.warn_minutes as i64),
    };
    (s, warnings)
}

/// What we remember about one SSO session between passes (in the state file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionMemo {
    /// When a browser login becomes unavoidable, as last computed.
    #[serde(with = "expiry::serde_opt")]
    pub login_needed_at: Option<OffsetDateTime>,
    /// Why it ends then, for `status`.
    pub end_reason: Option<String>,
    /// The `login_needed_at` we already warned about (one warning per end).
    #[serde(with = "expiry::serde_opt")]
    pub warned_end: Option<OffsetDateTime>,
    /// The token we already said "log in now" about.
    pub login_notified: Option<NotifiedFor>,
    pub consecutive_failures: u32,
    /// A refresh-failed notification went out for the current failure streak.
    pub failure_notified: bool,
    pub last_error: Option<String>,
    #[serde(with = "expiry::serde_opt")]
    pub last_refresh: Option<OffsetDateTime>,
}

/// Which token a "log in now" notification was about: a new login makes a new token.
/// Stored as the token's expiry (whole seconds, as the caches write it) or `"no token"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifiedFor {
    NoToken,
    Token(OffsetDateTime),
}

impl NotifiedFor {
    pub fn token(expires_at: Option<OffsetDateTime>) -> NotifiedFor {
        match expires_at {
            Some(t) => NotifiedFor::Token(t.replace_nanosecond(0).unwrap_or(t)),
            None => NotifiedFor::NoToken,
        }
    }
}

impl Serialize for NotifiedFor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NotifiedFor::NoToken => s.serialize_str("no token"),
            NotifiedFor::Token(t) => s.serialize_str(&expiry::to_iso8601(*t)),
        }
    }
}

impl<'de> Deserialize<'de> for NotifiedFor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NotifiedFor, D::Error> {
        let text = String::deserialize(d)?;
        Ok(expiry::parse(&text).map_or(NotifiedFor::NoToken, NotifiedFor::Token))
    }
}

/// What may be done when only a login helps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginPolicy {
    /// Never run a login; report it.
    Never,
    /// Run `autoLoginCmd` if configured (needs no one at the keyboard); else report.
    Unattended,
    /// Run `loginCmd`, else `aws sso login --sso-session NAME`, with its output
    /// shown, stopped after `timeout`.
    Interactive { timeout: StdDuration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepOptions {
    /// Refresh even when outside the threshold.
    pub force: bool,
    pub threshold: Duration,
    pub login: LoginPolicy,
}

/// What happened to one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Valid beyond the threshold; nothing done.
    Fine {
        expires_at: OffsetDateTime,
    },
    Refreshed {
        expires_at: OffsetDateTime,
    },
    /// Another process or tool had just refreshed it (or logged in).
    RefreshedElsewhere {
        expires_at: OffsetDateTime,
    },
    /// A login command ran and the session is valid again.
    LoggedIn {
        expires_at: OffsetDateTime,
    },
    /// Only a login helps; `todo` says what to run (for a legacy SSO profile: convert it).
    LoginNeeded {
        reason: String,
        command: String,
        todo: String,
    },
    /// Anything else (network, file permissions, …): retried next time.
    Failed {
        error: String,
    },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Outcome::Fine { expires_at }
            | Outcome::Refreshed { expires_at }
            | Outcome::RefreshedElsewhere { expires_at }
            | Outcome::LoggedIn { expires_at } => Some(*expires_at),
            _ => None,
        }
    }

    /// One line for people and the log (no secrets: names and times only).
    pub fn describe(&self, now: OffsetDateTime) -> String {
        let until = |t: &OffsetDateTime| {
            if t.year() >= 9999 {
                "no expiry recorded".to_string()
            } else {
                format!("valid until {} ({})", expiry::to_iso8601(*t), expiry::relative(now, *t))
            }
        };
        match self {
            Outcome::Fine { expires_at } => format!("fine, {}", until(expires_at)),
            Outcome::Refreshed { expires_at } => format!("refreshed, {}", until(expires_at)),
            Outcome::RefreshedElsewhere { expires_at } => {
                format!("refreshed by another process, {}", until(expires_at))
            }
            Outcome::LoggedIn { expires_at } => format!("logged in, {}", until(expires_at)),
            Outcome::LoginNeeded { reason, todo, .. } => format!("browser login needed ({reason}); {todo}"),
            Outcome::Failed { error } => format!("refresh failed: {error}"),
        }
    }
}

/// Refreshes one session if it is within the threshold (or `force`):
/// silently first; a login only as `opts.login` allows. `say` gets progress
/// lines for people.
pub fn keep_one(ctx: &Ctx, config: &Config, t: &Target, opts: &KeepOptions, say: &mut dyn FnMut(&str)) -> Outcome {
    // refresh_session's window is ssoRefreshMinutes; ours is the threshold.
    let mut cfg = config.clone();
    cfg.sso_refresh_minutes = u64::try_from(opts.threshold.whole_minutes()).unwrap_or(0);
    let first = match sso::refresh_session(ctx, &cfg, &t.profile, opts.force) {
        Ok(RefreshOutcome::NotNeeded { expires_at }) => return Outcome::Fine { expires_at },
        Ok(RefreshOutcome::Refreshed { expires_at }) => return Outcome::Refreshed { expires_at },
        Ok(RefreshOutcome::RefreshedElsewhere { expires_at }) => return Outcome::RefreshedElsewhere { expires_at },
        Err(e) if e.needs_login() => e,
        Err(e) => return Outcome::Failed { error: e.to_string() },
    };
    let reason = login_reason(&first);
    let command = next_step::sso_login_command(config, &t.profile);
    let todo = if t.is_legacy() { next_step::legacy_advice(config, &t.profile) } else { format!("run `{command}`") };
    let needed = |reason: String| Outcome::LoginNeeded { reason, command: command.clone(), todo: todo.clone() };
    let (cmd, what, output, timeout) = match &opts.login {
        LoginPolicy::Never => return needed(reason),
        LoginPolicy::Unattended if config.auto_login_cmd.is_empty() => return needed(reason),
        LoginPolicy::Unattended => {
            (config.auto_login_cmd.clone(), "autoLoginCmd", Output::Hidden, login_runner::LOGIN_TIMEOUT)
        }
        LoginPolicy::Interactive { timeout } => (command.clone(), "SSO login", Output::Shown, *timeout),
    };
    // Valid for the threshold: someone logged in meanwhile. After the login: valid at all.
    let fresh = |when: When| {
        let st = sso::session_status(ctx, config, &t.profile).ok()?;
        let need = if when == When::Before { opts.threshold } else { Duration::ZERO };
        st.access_token_expires_at.filter(|exp| *exp - ctx.now > need)
    };
    let subject = if t.is_legacy() { t.name.clone() } else { format!("sso-session {}", t.name) };
    let login = Login {
        what,
        command: &cmd,
        subject: &subject,
        profile: t.profiles.first().map(String::as_str),
        output,
        timeout,
        if_busy: IfBusy::Wait,
        force: opts.force,
        log_as: "login",
    };
    match login_runner::run(ctx, &login, &fresh, say) {
        LoginOutcome::Fresh { until, ran: true } => Outcome::LoggedIn { expires_at: until },
        LoginOutcome::Fresh { until, ran: false } => Outcome::RefreshedElsewhere { expires_at: until },
        LoginOutcome::Failed(why) => needed(format!("{reason}; {why}")),
        LoginOutcome::Busy => needed(format!("{reason}; another login is running")),
    }
}

/// The reason part of a needs-login error, without the command (shown apart).
fn login_reason(e: &sso::SsoError) -> String {
    match e {
        sso::SsoError::NeedsLogin { reason, .. } => reason.clone(),
        // Its own text ends in "run `…` to replace it"; the command is shown apart.
        sso::SsoError::TokenCache { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// When a session truly ends and why: a browser login is unavoidable then.
/// Starts from what the caches say and shortens it by what the last pass
/// learnt: failing refreshes end it at the access token's expiry, and a
/// refreshed token shorter than the threshold means Identity Center is
/// ending the session then.
pub fn session_end(
    st: &SessionStatus,
    outcome: Option<&Outcome>,
    threshold: Duration,
    now: OffsetDateTime,
) -> (OffsetDateTime, String) {
    let mut end = st.login_needed_at();
    let mut reason = if st.silent_refresh_possible {
        "its client registration expires then".to_string()
    } else if !st.token_found || st.access_token_expires_at.is_none() {
        "there is no cached SSO token".to_string()
    } else if !st.refresh_token_present {
        "the token has no refresh token, so it cannot be renewed silently".to_string()
    } else {
        "its client registration has expired, so it cannot be renewed silently".to_string()
    };
    let token_end = st.access_token_expires_at.unwrap_or(now);
    match outcome {
        Some(Outcome::Failed { .. }) if token_end < end => {
            end = token_end;
            reason = "refreshes are failing; the access token runs out then".into();
        }
        Some(Outcome::Refreshed { expires_at }) if *expires_at - now < threshold && *expires_at < end => {
            end = *expires_at;
            reason =
                "AWS issued a token shorter than the refresh threshold: the Identity Center session ends then".into();
        }
        _ => {}
    }
    (end, reason)
}

/// What keeping one hook profile's chain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainResult {
    /// `profile bedrock (bedrock ← role ← dev (sso-session corp)): …`, for people and the log.
    pub line: String,
    /// A failure to retry (a login or MFA code the user must give is not one).
    pub failed: bool,
    /// When the chain enters its renewal window again, if known.
    pub due: Option<OffsetDateTime>,
}

/// Whether the daemon and `refresh` keep `chain` beyond the SSO session rows: keys a login tool
/// writes when `autoLoginCmd` can renew them, assumed roles, `aws login`, web identity.
pub fn keeps_chain(config: &Config, chain: &Chain) -> bool {
    match &chain.base {
        Base::Keys(_) if !config.auto_login_cmd.is_empty() => true,
        Base::Login(_) | Base::WebIdentity(_) => true,
        _ => !chain.roles.is_empty(),
    }
}

/// What the keys step of a chain decided.
#[derive(Debug)]
pub enum KeysStep {
    /// The outcome is known (keys fine or renewed and nothing built on them, or the login
    /// failed or was not allowed).
    Final(ChainResult),
    /// Go on with the chain: the same, or (`Some`) resolved again after the login changed
    /// the keys.
    Continue(Option<Box<Chain>>),
}

/// Keys a login tool writes at the base of `chain`: renewed by `autoLoginCmd` within
/// `autoLoginMinutes` of their expiry (always with `force`), once across every process, under
/// the login lock.
pub fn keep_keys(
    ctx: &Ctx,
    config: &Config,
    p: &str,
    chain: &Chain,
    opts: &KeepOptions,
    say: &mut dyn FnMut(&str),
) -> KeysStep {
    let Base::Keys(k) = &chain.base else { return KeysStep::Continue(None) };
    if config.auto_login_cmd.is_empty() {
        return KeysStep::Continue(None);
    }
    let desc = resolve::describe(chain);
    let done =
        |line: String, failed: bool, due: Option<OffsetDateTime>| KeysStep::Final(ChainResult { line, failed, due });
    let window = login_runner::auto_login_window(config);
    let left = k.keys.creds.as_ref().map(|c| c.expiration.unwrap_or_else(login_runner::no_expiry));
    let due = left.and_then(|t| t.checked_sub(window));
    if !opts.force && left.is_some_and(|t| t - ctx.now >= window) {
        if chain.roles.is_empty() {
            let until = login_runner::valid_until(left.unwrap_or_else(login_runner::no_expiry));
            return done(format!("profile {p} ({desc}): credentials fine, {until}"), false, due);
        }
        return KeysStep::Continue(None);
    }
    let (output, log_as) = match &opts.login {
        LoginPolicy::Never => {
            let when =
                left.map_or_else(|| "are missing".into(), |t| format!("expire {}", expiry::relative(ctx.now, t)));
            let line = format!(
                "profile {p} ({desc}): credentials {when}; autoLoginCmd would renew them (not run: --no-browser)"
            );
            return done(line, false, due);
        }
        LoginPolicy::Unattended => (Output::Hidden, "daemon"),
        LoginPolicy::Interactive { .. } => (Output::Shown, "refresh"),
    };
    let login = KeysLogin { profile: p, window, force: opts.force, output, if_busy: IfBusy::Wait, log_as };
    match login_runner::renew_keys(ctx, config, &login, say) {
        Some(LoginOutcome::Fresh { until, ran }) => {
            let how = if ran { "renewed by autoLoginCmd" } else { "renewed by another process" };
            if chain.roles.is_empty() {
                let line = format!("profile {p} ({desc}): credentials {how}, {}", login_runner::valid_until(until));
                return done(line, false, until.checked_sub(window));
            }
            // The roles build on the new keys: resolve the profile again.
            let again = match AwsFiles::read(&ctx.env) {
                Ok(f) => resolve::resolve_in(&ctx.env, config, &f, p, Choice::Explicit("profile")),
                Err(e) => Err(e),
            };
            match again {
                Ok(c) => KeysStep::Continue(Some(Box::new(c))),
                Err(e) => done(format!("profile {p} ({desc}): {e}"), true, None),
            }
        }
        Some(LoginOutcome::Failed(why)) => {
            done(format!("profile {p} ({desc}): autoLoginCmd did not renew the credentials: {why}"), true, None)
        }
        Some(LoginOutcome::Busy) | None => KeysStep::Continue(None),
    }
}

/// Keeps hook profile `p`'s chain alive: its keys through [`keep_keys`], then what the chain
/// builds on them, renewed when within the threshold (no MFA prompt: a role that needs a code
/// keeps what it has). `None` when nothing here keeps it.
pub fn keep_chain(
    ctx: &Ctx,
    config: &Config,
    p: &str,
    chain: &Chain,
    opts: &KeepOptions,
    say: &mut dyn FnMut(&str),
) -> Option<ChainResult> {
    if !keeps_chain(config, chain) {
        return None;
    }
    let desc = resolve::describe(chain);
    let again = match keep_keys(ctx, config, p, chain, opts, say) {
        KeysStep::Final(r) => return Some(r),
        KeysStep::Continue(again) => again,
    };
    let chain = again.as_deref().unwrap_or(chain);
    Some(match exec::renew(ctx, config, chain, opts.threshold, opts.force, &mut |_| None) {
        Ok(c) => {
            let until = c.expiration.map(expiry::to_iso8601).unwrap_or_else(|| "no expiry".into());
            ChainResult {
                line: format!("profile {p} ({desc}): credentials valid until {until}"),
                failed: false,
                due: c.expiration.and_then(|t| t.checked_sub(opts.threshold)),
            }
        }
        // A login or MFA code is the user's to give (the message says how); the SSO rows
        // notify about logins.
        Err(e) => ChainResult {
            line: format!("profile {p} ({desc}): {e}"),
            failed: e.human_step() == HumanStep::None,
            due: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

    #[test]
    fn settings_from_config_env_and_tick() {
        let c = Config::default();
        let (s, w) = settings(&Env::default(), &c);
        assert!(w.is_empty());
        assert_eq!(s.interval, StdDuration::from_secs(600));
        assert_eq!(s.threshold, Duration::minutes(30));
        let env = Env::from_pairs([("AWS_SSO_REFRESH_THRESHOLD", "60"), ("AWS_SSO_REFRESH_INTERVAL", "500")]);
        let (s, _) = settings(&env, &c);
        assert_eq!((s.interval, s.threshold), (StdDuration::from_secs(3600), Duration::minutes(60)));
        let env = Env::from_pairs([("AWS_SSO_REFRESH_INTERVAL", "soon"), ("CC_KEEPALIVE_DAEMON_TICK_MS", "200")]);
        let (s, w) = settings(&env, &c);
        assert_eq!(s.interval, StdDuration::from_millis(200));
        assert!(w[0].contains("AWS_SSO_REFRESH_INTERVAL"), "{w:?}");
    }

    fn status(token: Option<OffsetDateTime>, silent: bool, reg: Option<OffsetDateTime>) -> SessionStatus {
        SessionStatus {
            profile: "p".into(),
            session_label: "sso-session s".into(),
            login_command: "aws sso login --sso-session s".into(),
            token_path: PathBuf::from("/t"),
            token_found: token.is_some(),
            access_token_expires_at: token,
            refresh_token_present: silent,
            registration_expires_at: reg,
            silent_refresh_possible: silent,
            role_cache_path: PathBuf::from("/r"),
            role_credentials_expire_at: None,
            checked_at: T0,
        }
    }

    #[test]
    fn session_end_learns_from_failures_and_short_tokens() {
        let th = Duration::minutes(30);
        let reg = T0 + Duration::days(30);
        let st = status(Some(T0 + Duration::minutes(20)), true, Some(reg));
        let (end, why) = session_end(&st, None, th, T0);
        assert_eq!(end, reg);
        assert!(why.contains("registration expires"), "{why}");
        let failed = Outcome::Failed { error: "x".into() };
        assert_eq!(session_end(&st, Some(&failed), th, T0).0, T0 + Duration::minutes(20));
        let short = Outcome::Refreshed { expires_at: T0 + Duration::minutes(12) };
        let (end, why) = session_end(&st, Some(&short), th, T0);
        assert_eq!(end, T0 + Duration::minutes(12));
        assert!(why.contains("shorter than the refresh threshold"), "{why}");
        let normal = Outcome::Refreshed { expires_at: T0 + Duration::hours(8) };
        assert_eq!(session_end(&st, Some(&normal), th, T0).0, reg);
        let (end, why) = session_end(&status(Some(T0 + Duration::hours(1)), false, None), None, th, T0);
        assert_eq!(end, T0 + Duration::hours(1));
        assert!(why.contains("no refresh token"), "{why}");
        let (end, why) = session_end(&status(None, false, None), None, th, T0);
        assert_eq!(end, T0);
        assert!(why.contains("no cached SSO token"), "{why}");
    }

    #[test]
    fn outcomes_describe_without_secrets() {
        let o = Outcome::Refreshed { expires_at: T0 + Duration::hours(1) };
        assert_eq!(o.describe(T0), "refreshed, valid until 2026-11-22T13:00:00Z (in 1h0m)");
        let o = Outcome::LoginNeeded { reason: "r".into(), command: "c".into(), todo: "run `c`".into() };
        assert_eq!(o.describe(T0), "browser login needed (r); run `c`");
    }

    #[test]
    fn memos_keep_their_json_form_and_read_leniently() {
        let memo = SessionMemo {
            login_needed_at: Some(T0),
            login_notified: Some(NotifiedFor::token(Some(T0 + Duration::milliseconds(1500)))),
            last_refresh: Some(T0),
            ..SessionMemo::default()
        };
        let v = serde_json::to_value(&memo).unwrap();
        assert_eq!(v["loginNeededAt"], "2026-11-22T12:00:00Z");
        assert_eq!(v["loginNotified"], "2026-11-22T12:00:01Z");
        assert_eq!(v["warnedEnd"], serde_json::Value::Null);
        let back: SessionMemo = serde_json::from_value(v).unwrap();
        assert_eq!(back.login_notified, Some(NotifiedFor::Token(T0 + Duration::seconds(1))));
        let odd: SessionMemo =
            serde_json::from_str(r#"{"loginNeededAt":"soon","loginNotified":"no token","consecutiveFailures":2}"#)
                .unwrap();
        assert_eq!(
            (odd.login_needed_at, odd.login_notified, odd.consecutive_failures),
            (None, Some(NotifiedFor::NoToken), 2)
        );
    }
}
