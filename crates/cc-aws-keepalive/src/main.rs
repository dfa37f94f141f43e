//! `cc-aws-keepalive`: keeps AWS SSO sessions alive outside Claude Code too
//! (AWS CLI, Terraform, SDKs). Parses arguments, calls keepalive-core, prints,
//! picks the exit code: 0 ok, 1 failure or problem found, 2 usage error.

mod cli;
mod daemon;
mod doctor;
mod handed;
mod hook_io;
mod logs;
mod out;
mod refresh;
mod service;
mod setup;
mod start;
mod status;

use std::ffi::OsStr;
use std::process::ExitCode;

use keepalive_core::ctx::Ctx;
use keepalive_core::hooks::engine;

use crate::cli::Args;

const HELP: &str = "\
Keeps AWS IAM Identity Center (SSO) sessions alive, for Claude Code on Bedrock
and for every other AWS tool.

Usage: cc-aws-keepalive <command> [options]

Commands:
  status     every SSO session and hook profile, time left, daemon state
  refresh    refresh sessions close to expiry now (silently when possible)
  daemon     keep refreshing in the foreground (what the service runs)
  service    install, uninstall or inspect the background service
  logs       show the event log
  setup      install for Claude Code: binaries at a stable place, settings.json
             wired, the command in ~/.local/bin (`setup --uninstall` undoes it)
  doctor     check the configuration for known problems
  session-start  the plugin's SessionStart hook (run by Claude Code)

Options:
  -h, --help     show this help (also: cc-aws-keepalive <command> --help)
  -V, --version  show the version

Exit codes: 0 ok, 1 failure or problem found, 2 usage error.
";

fn main() -> ExitCode {
    // This binary is also the hooks' engine: the refresh worker, a credential helper's
    // launcher, the hooks' detached work and their runs handed over (`__hook`) start here.
    // See keepalive_core::hooks::engine.
    let first = std::env::args_os().nth(1);
    if let Some(code) = engine::entry(first.as_deref()) {
        return ExitCode::from(code);
    }
    if first.as_deref() == Some(OsStr::new(engine::HOOK_ARG)) {
        return handed::run(std::env::args_os().nth(2).as_deref());
    }
    let mut argv: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    if argv.is_empty() {
        out::err(HELP);
        return ExitCode::from(cli::USAGE);
    }
    let command = argv.remove(0);
    let (name, help): (&'static str, &str) = match command.as_str() {
        "-h" | "--help" | "help" => {
            out::print(HELP);
            return ExitCode::from(cli::OK);
        }
        "-V" | "--version" | "version" => {
            out::line(&format!("cc-aws-keepalive {}", env!("CARGO_PKG_VERSION")));
            return ExitCode::from(cli::OK);
        }
        "status" => ("status", status::HELP),
        "refresh" => ("refresh", refresh::HELP),
        "daemon" => ("daemon", daemon::HELP),
        "service" => ("service", service::HELP),
        "logs" => ("logs", logs::HELP),
        "setup" => ("setup", setup::HELP),
        "doctor" => ("doctor", doctor::HELP),
        "session-start" => ("session-start", start::HELP),
        other => {
            let e = cli::UsageError { message: format!("unknown command {other:?}"), command: String::new() };
            return cli::usage_exit(&e);
        }
    };
    let args = Args::new(name, argv);
    if args.wants_help() {
        out::print(help);
        return ExitCode::from(cli::OK);
    }
    let ctx = Ctx::from_process();
    if name == "session-start" {
        // Arguments are ignored: a hook must not fail over a flag a newer plugin passes.
        return start::run(&ctx);
    }
    let result = match name {
        "status" => status::run(&ctx, args),
        "refresh" => refresh::run(&ctx, args),
        "daemon" => daemon::run(&ctx, args),
        "service" => service::run(&ctx, args),
        "logs" => logs::run(&ctx, args),
        "setup" => setup::run(&ctx, args),
        _ => doctor::run(&ctx, args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => cli::usage_exit(&e),
    }
}
