//! `cc-aws-keepalive service install|uninstall|status`: the daemon as a
//! launchd agent, systemd user unit or Task Scheduler task.

use keepalive_core::ctx::Ctx;
use keepalive_core::daemon;
use keepalive_core::service::{self, Platform, Report, Spec, StepOutcome};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Run the daemon in the background as a per-user service.

Usage: cc-aws-keepalive service <install|uninstall|status>

  install     write the service definition for this binary and (re)start it:
              macOS: ~/Library/LaunchAgents/io.github.cc-aws-keepalive.plist (launchctl)
              Linux: ~/.config/systemd/user/cc-aws-keepalive.service (systemctl --user)
              Windows: Task Scheduler task \"cc-aws-keepalive\" (schtasks)
              Safe to repeat: run it again after moving the binary or changing the
              AWS_* / XDG_* variables it should see.
  uninstall   stop the service and remove its definition
  status      whether it is installed, up to date and running

Options:
  -h, --help  show this help

With CC_KEEPALIVE_NO_SERVICE_MANAGER=1 the files are written but systemctl,
launchctl and schtasks are not called; the commands to run are printed instead.
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let Some(action) = args.positional() else {
        return Err(args.usage("say install, uninstall or status"));
    };
    args.finish()?;
    let platform = Platform::from_env(&ctx.env);
    match action.as_str() {
        "install" => {
            let Some(spec) = spec(ctx) else { return Ok(cli::FAILURE) };
            match service::install(ctx, platform, &spec) {
                Ok(r) => Ok(report(&r, "installed", "already up to date")),
                Err(e) => {
                    out::err(&format!("cc-aws-keepalive: {e}"));
                    Ok(cli::FAILURE)
                }
            }
        }
        "uninstall" => match service::uninstall(ctx, platform) {
            Ok(r) if !r.changed => {
                out::line(&format!("No {} installed at {}; nothing to do.", platform.name(), r.path.display()));
                Ok(cli::OK)
            }
            Ok(r) => Ok(report(&r, "removed", "removed")),
            Err(e) => {
                out::err(&format!("cc-aws-keepalive: {e}"));
                Ok(cli::FAILURE)
            }
        },
        "status" => {
            let Some(spec) = spec(ctx) else { return Ok(cli::FAILURE) };
            status(ctx, platform, &spec)
        }
        other => Err(UsageError {
            message: format!("unknown service action {other:?}; say install, uninstall or status"),
            command: "service ".into(),
        }),
    }
}

fn spec(ctx: &Ctx) -> Option<Spec> {
    match std::env::current_exe() {
        Ok(exe) => {
            let exe = keepalive_core::paths::stable_exe(&ctx.env, &exe);
            let path_var = std::env::var("PATH").ok();
            Some(Spec::new(&ctx.env, &exe, path_var.as_deref()))
        }
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: cannot find this program's own path ({e}); run it by its full path"));
            None
        }
    }
}

fn report(r: &Report, did: &str, same: &str) -> u8 {
    let what = if r.changed { did } else { same };
    out::line(&format!("{} {what}: {}", r.platform.name(), r.path.display()));
    let mut manual = Vec::new();
    for s in &r.steps {
        match &s.outcome {
            StepOutcome::Ok => {
                out::line(&format!("  ran: {}", s.command));
            }
            StepOutcome::Failed(why) => {
                out::line(&format!("  FAILED: {} ({why})", s.command));
            }
            StepOutcome::Manual => manual.push(s.command.clone()),
        }
    }
    if !manual.is_empty() {
        let why = r.manual_reason.as_deref().unwrap_or("the service manager was not called");
        out::line(&format!("Not started ({why}). Run:"));
        for m in manual {
            out::line(&format!("  {m}"));
        }
    }
    if r.ok() {
        cli::OK
    } else {
        out::err(
            "cc-aws-keepalive: the service manager reported a failure; run the failed command yourself to see why",
        );
        cli::FAILURE
    }
}

fn status(ctx: &Ctx, platform: Platform, spec: &Spec) -> Result<u8, UsageError> {
    let st = match service::status(ctx, platform, spec) {
        Ok(s) => s,
        Err(e) => {
            out::err(&format!("cc-aws-keepalive: {e}"));
            return Ok(cli::FAILURE);
        }
    };
    let installed = if !st.installed {
        "not installed (run `cc-aws-keepalive service install`)".to_string()
    } else if st.up_to_date {
        "installed, up to date".to_string()
    } else {
        "installed, outdated (run `cc-aws-keepalive service install` again)".to_string()
    };
    out::line(&format!("{}: {}", platform.name(), st.path.display()));
    out::line(&format!("  definition: {installed}"));
    if let Some(m) = &st.manager_state {
        out::line(&format!("  service manager: {m}"));
    }
    let running = daemon::running(&ctx.env);
    out::line(&format!("  daemon: {}", if running { "running" } else { "not running" }));
    Ok(if st.installed { cli::OK } else { cli::FAILURE })
}
