//! Which desktop notifications a daemon pass sends, each once per event (not once per
//! interval): a login needed, a session ending that no refresh can extend, a failure streak,
//! and (with `notify: all`) successful refreshes. [`crate::notify`] delivers them.

use time::{Duration, OffsetDateTime};

use super::discovery::Target;
use super::policy::{NotifiedFor, Outcome, SessionMemo, Settings, session_end};
use crate::config::Config;
use crate::ctx::Ctx;
use crate::notify::{self, Kind, Notification};
use crate::providers::sso;
use crate::{expiry, next_step};

pub fn note(ctx: &Ctx, settings: &Settings, kind: Kind, title: String, body: String) {
    notify::send(ctx, settings.notify, &Notification { kind, title, body });
}

/// After one session's outcome in a daemon pass: remembers when it truly
/// ends and sends the notifications due, each once per event. Returns the
/// times at which the next pass should look again (entering the refresh
/// window, reaching the warning time of the end).
pub fn notify_about(
    ctx: &Ctx,
    config: &Config,
    settings: &Settings,
    t: &Target,
    outcome: &Outcome,
    memo: &mut SessionMemo,
) -> Vec<OffsetDateTime> {
    let now = ctx.now;
    let mut hints = Vec::new();
    let status = sso::session_status(ctx, config, &t.profile).ok();
    let token_expires = status.as_ref().and_then(|st| st.access_token_expires_at);
    let (end, reason) = match &status {
        Some(st) => session_end(st, Some(outcome), settings.threshold, now),
        None => (token_expires.unwrap_or(now), "the token cache cannot be read".to_string()),
    };
    memo.login_needed_at = Some(end);
    memo.end_reason = Some(reason.clone());
    if let (Some(exp), Some(true)) = (token_expires, status.as_ref().map(|st| st.silent_refresh_possible)) {
        hints.push(exp - settings.threshold);
    }
    hints.push(end - settings.warn.max(settings.threshold));
    match outcome {
        Outcome::LoginNeeded { reason, todo, .. } => {
            // Keyed by the token it is about: a new login makes a new key.
            let key = NotifiedFor::token(token_expires);
            if memo.login_notified != Some(key) {
                memo.login_notified = Some(key);
                note(
                    ctx,
                    settings,
                    Kind::LoginNeeded,
                    format!("AWS session {} needs a browser login", t.name),
                    format!("{reason}. To continue, {todo}"),
                );
            }
        }
        Outcome::Failed { error } => {
            // One blip (a wake before the network is up) is not worth a
            // notification; a second in a row, or a token running out before
            // the next check, is. Once per failure streak.
            let token_left = token_expires.map_or(Duration::ZERO, |e| e - now);
            let urgent = token_left < Duration::try_from(settings.interval).unwrap_or(Duration::MINUTE);
            if (memo.consecutive_failures >= 2 || urgent) && !memo.failure_notified {
                memo.failure_notified = true;
                note(
                    ctx,
                    settings,
                    Kind::RefreshFailed,
                    format!("AWS session {}: refresh failing", t.name),
                    if end > now {
                        format!("{error}. The session ends {} unless it recovers.", expiry::relative(now, end))
                    } else {
                        format!("{error}. The access token has run out; the session is back once a refresh succeeds.")
                    },
                );
            }
        }
        _ => {
            // Warn once, ahead of time, about an end we cannot refresh past.
            // Ends a few minutes apart are the same end.
            let warned = memo.warned_end.is_some_and(|w| (w - end).abs() < Duration::minutes(5));
            if status.is_some() && end > now && end - now <= settings.warn.max(settings.threshold) && !warned {
                memo.warned_end = Some(end);
                let todo = if t.is_legacy() {
                    next_step::legacy_advice(config, &t.profile)
                } else {
                    format!("run `{}`", next_step::sso_login_command(config, &t.profile))
                };
                note(
                    ctx,
                    settings,
                    Kind::SessionEnding,
                    format!("AWS session {} ends {}", t.name, expiry::relative(now, end)),
                    format!(
                        "It cannot be renewed past {}: {reason}. Log in before then: {todo}",
                        expiry::to_iso8601(end)
                    ),
                );
            }
        }
    }
    hints
}
