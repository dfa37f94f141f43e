//! `cc-aws-keepalive refresh [--force] [--session NAME | --profile P] [--no-browser]`.

use keepalive_core::ctx::Ctx;
use keepalive_core::daemon::{self, KeepOptions, LoginPolicy};
use keepalive_core::login_runner::INTERACTIVE_LOGIN_TIMEOUT;
use keepalive_core::providers::RoleStep;
use keepalive_core::refresh::{self, Selection};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Refresh SSO sessions that have less than refreshThresholdMinutes (default 30)
left, or all of them with --force. Silently (refresh token) when possible; only
when that cannot work, a browser login: loginCmd from config.json, else
`aws sso login --sso-session NAME`, run under the same lock the Claude Code
hooks use and stopped after 5 minutes. The Claude Code hooks' profiles are kept
as the daemon keeps them: keys a login tool writes are renewed by autoLoginCmd
within autoLoginMinutes of their expiry (once, however many run at once),
assumed roles and aws login sessions within the threshold.

With --profile, the whole chain of that profile: its source (SSO session,
aws login session, keys) and every role it assumes, cached where the AWS CLI
caches them. A role with mfa_serial asks for the MFA code here (the Claude Code
hooks cannot prompt); the hooks then use the cached credentials until they end.

Usage: cc-aws-keepalive refresh [--force] [--session NAME | --profile P] [--no-browser]

Options:
  --force           refresh even sessions far from expiry (with --profile: also
                    assume its roles again, asking for an MFA code if one needs
                    it; for keys, run autoLoginCmd now)
  --session NAME    only this [sso-session]
  --profile P       only this profile and its chain; for keys a login tool
                    writes, autoLoginCmd (as awsAuthRefresh)
  --no-browser      never start a login; report what to run instead
  -h, --help        show this help

Exit code 1 when a session could not be refreshed or still needs a login.
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let force = args.flag(&["--force", "-f"]);
    let no_browser = args.flag(&["--no-browser"]);
    let session = args.value(&["--session"])?;
    let profile = args.value(&["--profile"])?;
    let selection = match (session, profile) {
        (Some(_), Some(_)) => return Err(args.usage("give --session or --profile, not both")),
        (Some(s), None) => Selection::Session(s),
        (None, Some(p)) => Selection::Profile(p),
        (None, None) => Selection::All,
    };
    args.finish()?;
    let loaded = keepalive_core::config::load(&ctx.env);
    for p in loaded.problems() {
        out::err(&format!("warning: {p}"));
    }
    let (settings, warnings) = daemon::settings(&ctx.env, &loaded.config);
    for w in warnings {
        out::err(&format!("warning: {w}"));
    }
    let login =
        if no_browser { LoginPolicy::Never } else { LoginPolicy::Interactive { timeout: INTERACTIVE_LOGIN_TIMEOUT } };
    let opts = KeepOptions { force, threshold: settings.threshold, login };
    let report = match refresh::refresh(ctx, &loaded.config, &selection, &opts, &mut ask_mfa_code, &mut |l| {
        out::wrapped(ctx, l)
    }) {
        Ok(r) => r,
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: {e}"));
            return Ok(cli::FAILURE);
        }
    };
    for p in &report.problems {
        out::err(&format!("warning: {p}"));
    }
    if report.is_empty() {
        out::line("No [sso-session] in the AWS config and no hook profile to renew; nothing to refresh.");
    }
    Ok(if report.ok() { cli::OK } else { cli::FAILURE })
}

/// Asks for a role's MFA code on the terminal (stderr for the prompt, stdin for the answer).
/// No answer (end of input) means no code.
fn ask_mfa_code(step: &RoleStep) -> Option<String> {
    let serial = step.mfa_serial.as_deref().unwrap_or("your MFA device");
    out::err_inline(&format!("MFA code for {serial} (profile {}): ", step.profile));
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim().to_string()).filter(|c| !c.is_empty()),
        _ => None,
    }
}
