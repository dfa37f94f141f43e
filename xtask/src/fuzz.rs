//! `cargo xtask fuzz [--seconds N | --smoke] [TARGET…]`: runs the cargo-fuzz targets in `fuzz/`
//! (keepalive-core's parsers, with their invariants as assertions) for a while each, and reports
//! per target how many inputs ran and which crashes were found.
//!
//! The fuzz crate is not a workspace member: it needs nightly (libFuzzer's instrumentation) and
//! has its own `Cargo.lock` and `fuzz/target/`. Its corpus grows in `fuzz/corpus/<target>/`
//! (ignored by git) from the committed seeds in `fuzz/seeds/<target>/`, helped by the libFuzzer
//! dictionary `fuzz/dicts/<target>.dict` where there is one; crashing inputs land in
//! `fuzz/artifacts/<target>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::util::{self, Result};

const DEFAULT_SECONDS: u64 = 60;
/// Long enough to run every seed and some thousands of mutations; short enough for `ci`.
const SMOKE_SECONDS: u64 = 5;
/// One input taking longer than this is reported as a hang (libFuzzer's `-timeout`).
const INPUT_TIMEOUT_SECS: u64 = 10;
/// libFuzzer files named with these prefixes are failures; `slow-unit-` ones are not.
const FAILURE_PREFIXES: &[&str] = &["crash-", "timeout-", "oom-", "leak-"];
/// Build flags shared by `build` and `run` (a difference would rebuild). No sanitizer:
/// keepalive-core has no unsafe code, and the parsers' dependencies (serde_json, time)
/// are fuzzed upstream; without ASan a target runs about twice as many inputs. Debug assertions
/// on: an integer overflow is a finding too.
const BUILD_FLAGS: &[&str] = &["--sanitizer", "none", "--debug-assertions"];

#[derive(Debug, PartialEq, Eq)]
struct Opts {
    seconds: u64,
    targets: Vec<String>,
}

impl Opts {
    fn parse(args: &[String], known: &[String]) -> Result<Opts> {
        let mut seconds = None;
        let mut smoke = false;
        let mut targets = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--smoke" => smoke = true,
                "--seconds" => {
                    let n = it.next().ok_or("--seconds needs a number")?;
                    seconds = Some(
                        n.parse::<u64>()
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or_else(|| format!("--seconds needs a whole number of seconds above 0, got {n:?}"))?,
                    );
                }
                flag if flag.starts_with('-') => return Err(format!("fuzz: unknown option {flag:?}")),
                target if known.iter().any(|k| k == target) => targets.push(target.to_string()),
                other => return Err(format!("fuzz: no target {other:?}; targets: {}", known.join(", "))),
            }
        }
        if smoke && seconds.is_some() {
            return Err("fuzz: --smoke and --seconds do not go together".into());
        }
        if targets.is_empty() {
            targets = known.to_vec();
        }
        let seconds = seconds.unwrap_or(if smoke { SMOKE_SECONDS } else { DEFAULT_SECONDS });
        Ok(Opts { seconds, targets })
    }
}

/// What one target's run found.
struct Outcome {
    target: String,
    executions: Option<u64>,
    secs: f64,
    failures: Vec<PathBuf>,
    /// The panic message (the violated invariant), when there is one.
    message: Option<String>,
    log: PathBuf,
    /// libFuzzer failed without leaving an input behind (a bad flag, a build problem).
    broken: bool,
}

pub fn fuzz(args: &[String]) -> Result {
    let root = util::project_root();
    let fuzz_dir = root.join("fuzz");
    let known = targets(&fuzz_dir)?;
    let opts = Opts::parse(args, &known)?;
    check_nightly()?;
    ensure_cargo_fuzz()?;

    let started = Instant::now();
    eprintln!("fuzz: building {} target(s) with nightly", known.len());
    let mut build = cargo_fuzz(&fuzz_dir);
    build.arg("build").args(BUILD_FLAGS).arg("--fuzz-dir").arg(&fuzz_dir);
    util::run(build)?;
    let build_secs = started.elapsed().as_secs_f64();

    let mut outcomes = Vec::new();
    for target in &opts.targets {
        eprintln!("fuzz: {target} for {} s", opts.seconds);
        outcomes.push(run_target(&fuzz_dir, target, opts.seconds)?);
    }

    println!();
    println!("{:<20} {:>14} {:>8} {:>8}", "target", "executions", "seconds", "crashes");
    for o in &outcomes {
        let execs = o.executions.map_or_else(|| "?".to_string(), |n| n.to_string());
        println!("{:<20} {execs:>14} {:>8.1} {:>8}", o.target, o.secs, o.failures.len());
    }
    println!("(build {build_secs:.1} s, total {:.1} s)", started.elapsed().as_secs_f64());

    let mut failed = Vec::new();
    for o in &outcomes {
        if o.broken {
            println!("\n{}: libFuzzer failed without a crashing input; see {}", o.target, o.log.display());
            failed.push(o.target.as_str());
        }
        for artifact in &o.failures {
            let rel = artifact.strip_prefix(&root).unwrap_or(artifact).display().to_string();
            println!("\n{}: {}", o.target, o.message.as_deref().unwrap_or("crashed (no panic message; see the log)"));
            println!("  input:     {rel}");
            println!("  log:       {}", o.log.strip_prefix(&root).unwrap_or(&o.log).display());
            println!("  reproduce: {}", repro_command(&o.target, &rel));
            println!("  as Rust:   cargo +nightly fuzz fmt --fuzz-dir fuzz {} {rel}", o.target);
            failed.push(o.target.as_str());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        failed.dedup();
        Err(format!(
            "fuzz: {} failed; make each crashing input a regression test next to the code it breaks, then fix it",
            failed.join(", ")
        ))
    }
}

/// The fuzz targets: the files in `fuzz/fuzz_targets/`, sorted.
fn targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let entries = fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".rs")).map(str::to_string))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no fuzz targets in {}", dir.display()));
    }
    Ok(names)
}

pub fn check_nightly() -> Result {
    let hint = "cargo fuzz needs a nightly toolchain: run `rustup toolchain install nightly`";
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run rustup ({e}); {hint} (after installing rustup)"))?;
    let list = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && list.lines().any(|l| l.starts_with("nightly")) {
        Ok(())
    } else {
        Err(format!("no nightly toolchain installed; {hint}"))
    }
}

fn ensure_cargo_fuzz() -> Result {
    let installed = Command::new("cargo-fuzz")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        return Ok(());
    }
    eprintln!("fuzz: cargo-fuzz is missing; installing it");
    let mut install = util::cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    util::run(install)
}

/// `rustup run nightly cargo fuzz …` in the project root, with nothing of the workspace build's
/// environment leaking in: the fuzz crate builds into its own `fuzz/target/`.
fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz"]);
    cmd.current_dir(fuzz_dir.parent().unwrap_or(fuzz_dir));
    for var in ["CARGO", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN"] {
        cmd.env_remove(var);
    }
    cmd
}

fn repro_command(target: &str, artifact: &str) -> String {
    format!("cargo +nightly fuzz run --fuzz-dir fuzz {} {target} {artifact}", BUILD_FLAGS.join(" "))
}

fn run_target(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let logs = fuzz_dir.join("target").join("xtask-logs");
    for d in [&corpus, &artifacts, &logs] {
        fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = fs::File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;

    let mut cmd = cargo_fuzz(fuzz_dir);
    cmd.arg("run").args(BUILD_FLAGS).arg("--fuzz-dir").arg(fuzz_dir).arg(target);
    // New inputs go to the first directory; the seeds are read only.
    cmd.arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--").args([
        format!("-max_total_time={seconds}"),
        format!("-timeout={INPUT_TIMEOUT_SECS}"),
        "-print_final_stats=1".to_string(),
    ]);
    // Tokens of the format (`+01:00`, `[profile `, `'\''`) that random mutation rarely builds.
    let dict = fuzz_dir.join("dicts").join(format!("{target}.dict"));
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    cmd.stdin(Stdio::null()).stdout(log).stderr(log_err);

    // Artifacts are named after their content: a crash found again rewrites the same file, so
    // what counts is the modification time.
    let since = SystemTime::now() - Duration::from_secs(1);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run cargo fuzz (through rustup): {e}"))?;
    // libFuzzer stops itself; this only guards against a wedged build or child.
    let deadline = start + Duration::from_secs(seconds + INPUT_TIMEOUT_SECS + 600);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("fuzz: {target} did not stop; see {}", log_path.display()));
            }
            Err(e) => return Err(format!("waiting for cargo fuzz: {e}")),
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let text = fs::read(&log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let failures = new_failures(&artifacts, since);
    Ok(Outcome {
        target: target.to_string(),
        executions: executions(&text),
        secs,
        broken: !status.success() && failures.is_empty(),
        failures,
        message: panic_message(&text),
        log: log_path,
    })
}

fn new_failures(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| FAILURE_PREFIXES.iter().any(|p| n.starts_with(p))))
        .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Inputs run, from libFuzzer's final `stat::number_of_executed_units: N`, else its last
/// `#N DONE` (or any `#N …` status) line.
fn executions(log: &str) -> Option<u64> {
    let stat = log
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok());
    stat.or_else(|| {
        let status = |l: &str| l.strip_prefix('#')?.split_whitespace().next()?.parse::<u64>().ok();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .iter()
            .rev()
            .find(|l| l.contains("DONE"))
            .and_then(|l| status(l))
            .or_else(|| lines.iter().rev().find_map(|l| status(l)))
    })
}

/// The violated invariant: the line after "panicked at", plus an assertion's left/right.
fn panic_message(log: &str) -> Option<String> {
    let mut lines = log.lines().skip_while(|l| !l.contains("panicked at"));
    lines.next()?;
    let msg: Vec<&str> =
        lines.take_while(|l| !l.starts_with("stack backtrace") && !l.starts_with("note:")).take(3).collect();
    let msg = msg.join(" ").trim().to_string();
    if msg.is_empty() {
        return None;
    }
    // A long assertion dump would bury the summary.
    let cut: String = msg.chars().take(400).collect();
    Some(if cut.len() < msg.len() { format!("{cut}…") } else { cut })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let known = args(&["aws_ini", "expiry"]);
        assert_eq!(Opts::parse(&[], &known).unwrap(), Opts { seconds: DEFAULT_SECONDS, targets: known.clone() });
        assert_eq!(Opts::parse(&args(&["--smoke"]), &known).unwrap().seconds, SMOKE_SECONDS);
        assert_eq!(
            Opts::parse(&args(&["expiry", "--seconds", "7"]), &known).unwrap(),
            Opts { seconds: 7, targets: args(&["expiry"]) }
        );
        for bad in [
            &["--seconds"][..],
            &["--seconds", "0"],
            &["--seconds", "x"],
            &["nope"],
            &["--smoke", "--seconds", "3"],
            &["-v"],
        ] {
            assert!(Opts::parse(&args(bad), &known).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_target_has_seeds() {
        let fuzz_dir = util::project_root().join("fuzz");
        for t in targets(&fuzz_dir).unwrap() {
            let seeds = fs::read_dir(fuzz_dir.join("seeds").join(&t)).map(|d| d.count()).unwrap_or(0);
            assert!(seeds > 0, "no seeds in fuzz/seeds/{t}/");
            let manifest = fs::read_to_string(fuzz_dir.join("Cargo.toml")).unwrap();
            assert!(
                manifest.contains(&format!("path = \"fuzz_targets/{t}.rs\"")),
                "{t} is not a [[bin]] in fuzz/Cargo.toml"
            );
        }
    }

    #[test]
    fn reads_libfuzzer_output() {
        let done = "#2\tINITED cov: 5\n#131072\tpulse  cov: 9\n#197143\tDONE   cov: 1792 ft: 5434\nDone 197143 runs in 9 second(s)\nstat::number_of_executed_units: 197143\nstat::average_exec_per_sec:     21904\n";
        assert_eq!(executions(done), Some(197143));
        let crashed = "#16\tNEW    cov: 519\n\nthread '<unnamed>' (17647) panicked at fuzz_targets/hook_input.rs:23:13:\nassertion `left == right` failed: session_id differs\n  left: Some(\"x\")\n right: None\nstack backtrace:\n==1== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(executions(crashed), Some(16));
        assert_eq!(
            panic_message(crashed).as_deref(),
            Some("assertion `left == right` failed: session_id differs   left: Some(\"x\")  right: None")
        );
        assert_eq!(executions("nothing"), None);
        assert_eq!(panic_message(done), None);
    }
}
