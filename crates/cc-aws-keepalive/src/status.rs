//! `cc-aws-keepalive status [--json]`.

use keepalive_core::ctx::Ctx;
use keepalive_core::status_report;

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Show every [sso-session] in the AWS config and every profile the Claude Code
hooks use: access-token time left, whether a silent refresh is possible and
until when, role-credential and credentials-file time left, when a browser
login will be needed, and the daemon's state. Reads caches only (no network)
and never shows a token or key.

The table fits the terminal (COLUMNS overrides its width): long lists are
shortened, cells cut and notes wrapped. --json has everything.

Usage: cc-aws-keepalive status [--json]

Options:
  --json      machine-readable output
  -h, --help  show this help
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let json = args.flag(&["--json"]);
    args.finish()?;
    let report = status_report::collect(ctx);
    if json {
        let v = status_report::to_json(&report);
        out::line(&serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        out::print(&status_report::render(&report, out::colour(ctx), out::width(ctx)));
    }
    Ok(cli::OK)
}
