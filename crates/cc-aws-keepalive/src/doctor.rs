//! `cc-aws-keepalive doctor [--offline]`.

use keepalive_core::ctx::Ctx;
use keepalive_core::doctor::{self, Options, Severity};
use keepalive_core::hook_io::{Colour, paint};

use crate::cli::{self, Args, UsageError};
use crate::out;

pub const HELP: &str = "\
Check the setup and the known traps, each problem with its fix: config.json
syntax, profile resolution, SSO cache files and their modes, settings.json
wiring, the Bedrock region Claude Code will use vs the profile's region (and
sso_region mix-ups), legacy SSO profiles and registrations without
sso:account:access (not silently refreshable), credential commands in a
project's .claude/settings.json, the clock, and whether the SSO endpoints are
reachable.

Usage: cc-aws-keepalive doctor [--offline]

Options:
  --offline   skip the network checks
  -h, --help  show this help

Exit code 1 when a problem is found.
";

pub fn run(ctx: &Ctx, mut args: Args) -> Result<u8, UsageError> {
    let offline = args.flag(&["--offline"]);
    args.finish()?;
    let opts = Options { offline, cwd: std::env::current_dir().ok() };
    let findings = doctor::run(ctx, &opts);
    let colour = out::colour(ctx);
    let mut problems = 0;
    for f in &findings {
        let tag = match f.severity {
            Severity::Ok => "ok     ".to_string(),
            Severity::Note => paint("note   ", Colour::Yellow, colour),
            Severity::Problem => {
                problems += 1;
                paint("PROBLEM", Colour::Red, colour)
            }
        };
        out::line(&format!("{tag}  {}: {}", f.subject, f.message));
        if let Some(fix) = &f.fix
            && f.severity != Severity::Ok
        {
            out::line(&format!("         fix: {fix}"));
        }
    }
    match problems {
        0 => {
            out::line("doctor: no problems found");
            Ok(cli::OK)
        }
        n => {
            out::line(&format!("doctor: {n} problem{} found", if n == 1 { "" } else { "s" }));
            Ok(cli::FAILURE)
        }
    }
}
