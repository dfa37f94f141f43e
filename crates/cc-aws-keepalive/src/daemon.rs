//! `cc-aws-keepalive daemon`: the foreground loop the service runs.

use keepalive_core::ctx::Ctx;
use keepalive_core::daemon::{self, DaemonError, StopFlag};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Keep SSO sessions and the Claude Code hooks' profiles alive in the foreground:
every interval (checkIntervalMinutes, default 10, 1-60; AWS_SSO_REFRESH_INTERVAL
overrides) refresh the sessions with less than refreshThresholdMinutes (default
30; AWS_SSO_REFRESH_THRESHOLD overrides) left, renew assumed roles and aws login
sessions, and run autoLoginCmd for keys a login tool writes within
autoLoginMinutes of their expiry. Silent refreshes only: when a browser login is
needed it runs autoLoginCmd if configured, else sends one desktop notification
per session end. A machine that slept through a check checks at once on wake.

One daemon per user. Stop it with Ctrl-C or SIGTERM (also when started with
them ignored, as nohup does): it finishes the refresh in flight (20 s at most),
logs that it stopped and exits 0. Every file it writes is replaced atomically.
State for `status`: $XDG_STATE_HOME/cc-aws-keepalive/daemon.json.

Usage: cc-aws-keepalive daemon [--once]

Options:
  --once      run one pass and exit (for cron or a quick test)
  -h, --help  show this help
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let once = args.flag(&["--once"]);
    args.finish()?;
    let stop = StopFlag::default();
    if let Err(e) = stop_on_signals(&stop) {
        out::err(&format!("cc-aws-keepalive: cannot handle SIGTERM/SIGINT: {e}"));
        return Ok(cli::FAILURE);
    }
    match daemon::run(ctx.env.clone(), once, stop) {
        Ok(end) => {
            if once {
                for l in &end.lines {
                    out::wrapped(ctx, l);
                }
                if end.lines.is_empty() {
                    out::line("done");
                }
            }
            // Stopped on request is a clean end, whatever the last pass found.
            let failed = end.stopped_by.is_none() && end.state.last_ok == Some(false);
            Ok(if failed { cli::FAILURE } else { cli::OK })
        }
        Err(e @ DaemonError::AlreadyRunning { .. }) => {
            out::err(&format!("cc-aws-keepalive: {e}"));
            Ok(cli::FAILURE)
        }
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: cannot start the daemon: {e}"));
            Ok(cli::FAILURE)
        }
    }
}

/// SIGTERM and SIGINT set `stop` (to the signal's number) instead of ending the process; a
/// second one while stopping ends it at once (exit 1). The handler is installed even when the
/// signal was inherited as ignored, which `nohup` and `&` in scripts do.
#[cfg(unix)]
fn stop_on_signals(stop: &StopFlag) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let stopping = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // Order matters: the first signal finds `stopping` false and only sets it.
        flag::register_conditional_shutdown(sig, 1, Arc::clone(&stopping))?;
        flag::register(sig, Arc::clone(&stopping))?;
        flag::register_usize(sig, Arc::clone(&stop.0), sig as usize)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn stop_on_signals(_stop: &StopFlag) -> std::io::Result<()> {
    Ok(())
}
