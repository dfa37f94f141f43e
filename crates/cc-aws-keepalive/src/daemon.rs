//! `cc-aws-keepalive daemon`: the foreground loop the service runs.

use keepalive_core::ctx::Ctx;
use keepalive_core::daemon::{self, DaemonError};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Keep SSO sessions alive in the foreground: every interval (checkIntervalMinutes,
default 10, 1-60; AWS_SSO_REFRESH_INTERVAL overrides) refresh the sessions with
less than refreshThresholdMinutes (default 30; AWS_SSO_REFRESH_THRESHOLD
overrides) left. Silent refreshes only: when a browser login is needed it runs
autoLoginCmd if configured, else sends one desktop notification per session end.
A machine that slept through a check checks at once on wake.

One daemon per user. Stop it with Ctrl-C or SIGTERM: every file it writes is
replaced atomically, so stopping it at any moment leaves nothing half-written.
State for `status`: $XDG_STATE_HOME/cc-aws-keepalive/daemon.json.

Usage: cc-aws-keepalive daemon [--once]

Options:
  --once      run one pass and exit (for cron or a quick test)
  -h, --help  show this help
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let once = args.flag(&["--once"]);
    args.finish()?;
    match daemon::run(ctx.env.clone(), once) {
        Ok(state) => {
            if once {
                out::line(state.last_result.as_deref().unwrap_or("done"));
            }
            Ok(if state.last_ok == Some(false) { cli::FAILURE } else { cli::OK })
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
