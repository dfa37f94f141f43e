//! Desktop notifications from the daemon and background refreshes: `osascript`
//! on macOS, `notify-send` on Linux when installed, nothing elsewhere. Every
//! notification is also logged, so a missing notifier loses nothing.

use std::time::Duration;

use crate::ctx::Ctx;
use crate::env::vars;
use crate::log::{self, Level};
use crate::process;

/// Which notifications to send (config.json `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyMode {
    Off,
    /// A browser login is needed, a session is about to end, a refresh failed.
    #[default]
    Problems,
    /// Problems and successful refreshes.
    All,
}

impl NotifyMode {
    pub fn parse(s: &str) -> Option<NotifyMode> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "none" | "never" => Some(NotifyMode::Off),
            "problems" | "errors" | "on" => Some(NotifyMode::Problems),
            "all" => Some(NotifyMode::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyMode::Off => "off",
            NotifyMode::Problems => "problems",
            NotifyMode::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Silent refresh is impossible; the user must log in in a browser.
    LoginNeeded,
    /// The session cannot be extended past a known time.
    SessionEnding,
    RefreshFailed,
    Refreshed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginNeeded => "login-needed",
            Kind::SessionEnding => "session-ending",
            Kind::RefreshFailed => "refresh-failed",
            Kind::Refreshed => "refreshed",
        }
    }

    fn wanted(self, mode: NotifyMode) -> bool {
        match mode {
            NotifyMode::Off => false,
            NotifyMode::Problems => self != Kind::Refreshed,
            NotifyMode::All => true,
        }
    }
}

/// What to show. Callers put names and times in it, never secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: Kind,
    pub title: String,
    pub body: String,
}

/// What became of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// `notify` config says not to send this kind.
    Disabled,
    /// Shown by the named program.
    Sent(&'static str),
    /// No notifier on this system; only logged.
    NoNotifier,
    /// The notifier ran and failed; only logged.
    Failed(String),
}

/// A notifier that hangs (no display, D-Bus stuck) must not hold up the daemon.
const NOTIFIER_TIMEOUT: Duration = Duration::from_secs(10);

/// Logs the notification and shows it when `mode` wants this kind.
pub fn send(ctx: &Ctx, mode: NotifyMode, n: &Notification) -> Delivery {
    if !n.kind.wanted(mode) {
        return Delivery::Disabled;
    }
    let delivery = deliver(ctx, n);
    let how = match &delivery {
        Delivery::Sent(by) => format!("shown by {by}"),
        Delivery::NoNotifier => "no desktop notifier available".to_string(),
        Delivery::Failed(why) => format!("notifier failed: {why}"),
        Delivery::Disabled => "disabled".to_string(),
    };
    log::write(ctx, Level::Info, "notify", &format!("[{}] {}: {} ({how})", n.kind.as_str(), n.title, n.body));
    delivery
}

fn deliver(ctx: &Ctx, n: &Notification) -> Delivery {
    if let Some(cmd) = ctx.env.get(vars::CC_KEEPALIVE_NOTIFY_CMD) {
        let mut c = process::shell(cmd);
        c.env("CC_KEEPALIVE_NOTIFY_TITLE", &n.title)
            .env("CC_KEEPALIVE_NOTIFY_BODY", &n.body)
            .env("CC_KEEPALIVE_NOTIFY_KIND", n.kind.as_str());
        return run(c, vars::CC_KEEPALIVE_NOTIFY_CMD);
    }
    match platform_command(n) {
        Some((c, name)) => run(c, name),
        None => Delivery::NoNotifier,
    }
}

#[cfg(target_os = "macos")]
fn platform_command(n: &Notification) -> Option<(std::process::Command, &'static str)> {
    // Title and body travel as arguments, not spliced into the script, so no
    // quoting of AppleScript strings is needed.
    let mut c = std::process::Command::new("osascript");
    c.args([
        "-e",
        "on run argv",
        "-e",
        "display notification (item 2 of argv) with title (item 1 of argv)",
        "-e",
        "end run",
        &n.title,
        &n.body,
    ]);
    Some((c, "osascript"))
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_command(n: &Notification) -> Option<(std::process::Command, &'static str)> {
    let mut c = std::process::Command::new("notify-send");
    // A needed login should stay on screen until seen; the rest may fade.
    let urgency = if n.kind == Kind::LoginNeeded { "critical" } else { "normal" };
    c.args(["--app-name=cc-aws-keepalive", "--urgency", urgency, "--", &n.title, &n.body]);
    Some((c, "notify-send"))
}

#[cfg(not(unix))]
fn platform_command(_n: &Notification) -> Option<(std::process::Command, &'static str)> {
    None
}

fn run(cmd: std::process::Command, name: &'static str) -> Delivery {
    match process::run_captured(cmd, name, b"", NOTIFIER_TIMEOUT, 4096) {
        Ok(out) => match out.status {
            Some(s) if s.success() => Delivery::Sent(name),
            Some(s) => Delivery::Failed(format!("{name} exited with {s}")),
            None => Delivery::Failed(format!("{name} timed out")),
        },
        Err(process::ProcessError::Spawn { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Delivery::NoNotifier
        }
        Err(e) => Delivery::Failed(e.to_string()),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::env::Env;

    fn ctx_with(dir: &std::path::Path, cmd: &str) -> Ctx {
        let home = dir.to_string_lossy().into_owned();
        let env = Env::from_pairs([("HOME", home.as_str()), ("CC_KEEPALIVE_NOTIFY_CMD", cmd)]);
        Ctx::new(env, time::OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn override_command_sees_the_notification_and_mode_filters() {
        let dir = std::env::temp_dir().join(format!("kc-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("seen");
        let cmd = format!(
            "printf '%s|%s|%s\\n' \"$CC_KEEPALIVE_NOTIFY_KIND\" \"$CC_KEEPALIVE_NOTIFY_TITLE\" \"$CC_KEEPALIVE_NOTIFY_BODY\" >> '{}'",
            out.display()
        );
        let ctx = ctx_with(&dir, &cmd);
        let n = Notification { kind: Kind::Refreshed, title: "t \"q\"".into(), body: "b; $(x)".into() };
        assert_eq!(send(&ctx, NotifyMode::Problems, &n), Delivery::Disabled);
        assert!(!out.exists());
        assert_eq!(send(&ctx, NotifyMode::All, &n), Delivery::Sent("CC_KEEPALIVE_NOTIFY_CMD"));
        let n = Notification { kind: Kind::LoginNeeded, ..n };
        assert_eq!(send(&ctx, NotifyMode::Off, &n), Delivery::Disabled);
        assert_eq!(send(&ctx, NotifyMode::Problems, &n), Delivery::Sent("CC_KEEPALIVE_NOTIFY_CMD"));
        let seen = std::fs::read_to_string(&out).unwrap();
        assert_eq!(seen, "refreshed|t \"q\"|b; $(x)\nlogin-needed|t \"q\"|b; $(x)\n");
        let log = std::fs::read_to_string(dir.join(".local/state/cc-aws-keepalive/keepalive.log")).unwrap();
        assert_eq!(log.lines().filter(|l| l.contains("notify")).count(), 2, "{log}");
        let ctx = ctx_with(&dir, "exit 3");
        assert!(matches!(send(&ctx, NotifyMode::All, &n), Delivery::Failed(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn modes_parse() {
        assert_eq!(NotifyMode::parse("ALL"), Some(NotifyMode::All));
        assert_eq!(NotifyMode::parse("off"), Some(NotifyMode::Off));
        assert_eq!(NotifyMode::parse("loud"), None);
        for m in [NotifyMode::Off, NotifyMode::Problems, NotifyMode::All] {
            assert_eq!(NotifyMode::parse(m.as_str()), Some(m));
        }
    }
}
