//! The seam between the hook binaries and the engine (`cc-aws-keepalive`): the export answers
//! fresh caches itself and hands everything else over with its streams and exit code, refresh
//! is always the engine's, detached work starts the engine, and a missing engine is named
//! with a fix that works.

use std::path::PathBuf;

use test_support::TestHome;

use crate::*;

/// Copies of the hook binaries in `<home>/bin`, beside a stand-in engine when `engine` is given
/// (a script that records its arguments and answers with its own streams and exit code).
fn hooks_beside(home: &TestHome, engine: bool) -> PathBuf {
    let dir = home.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["export", "refresh", "check"] {
        let to = dir.join(std::path::Path::new(bin(name)).file_name().unwrap());
        std::fs::copy(bin(name), &to).unwrap();
    }
    if engine {
        let script = dir.join("cc-aws-keepalive");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"$@\" >> \"$HOME/engine.args\"\necho '{\"from\":\"engine\"}'\necho 'engine says why' >&2\nexit 3\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn run_copy(home: &TestHome, dir: &std::path::Path, name: &str) -> test_support::RunOutput {
    let mut cmd = home.command(dir.join(name));
    cmd.env("CC_KEEPALIVE_NOW", NOW);
    let out = test_support::run(&mut cmd, b"", std::time::Duration::from_secs(30));
    assert!(!out.timed_out && !out.stderr.contains("panicked"), "{name}: {}", out.describe());
    out
}

fn engine_runs(home: &TestHome) -> Vec<String> {
    home.try_read("engine.args").map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

#[test]
fn the_export_answers_fresh_caches_itself_and_hands_the_rest_over() {
    let home = home_with_creds("2026-11-22T16:23:00Z");
    let dir = hooks_beside(&home, true);
    let out = run_copy(&home, &dir, "cc-aws-export");
    assert!(out.success() && out.stdout.contains("AKIAOLD"), "{}", out.describe());
    assert!(engine_runs(&home).is_empty(), "a fresh answer started the engine");

    // Expired keys: the engine decides what to say (here the stand-in), on the hook's streams.
    home.write(".aws/credentials", profile_ini("default", "AKIAOLD", "2026-11-22T11:00:00Z"));
    let out = run_copy(&home, &dir, "cc-aws-export");
    assert_eq!(out.status, Some(3), "{}", out.describe());
    assert_eq!(out.stdout.trim(), r#"{"from":"engine"}"#);
    assert_eq!(out.stderr.trim(), "engine says why");
    assert_eq!(engine_runs(&home), ["__hook export"]);
}

#[test]
fn refresh_is_the_engines_and_detached_work_starts_it() {
    let home = home_with_creds("2026-11-22T16:23:00Z");
    let dir = hooks_beside(&home, true);
    let out = run_copy(&home, &dir, "cc-aws-refresh");
    assert_eq!(out.status, Some(3), "{}", out.describe());
    assert_eq!(engine_runs(&home), ["__hook refresh"]);

    // Keys a login tool wrote, 3 minutes left: the prompt hook starts autoLoginCmd detached,
    // as an engine process.
    home.write(".aws/credentials", profile_ini("default", "AKIAOLD", "2026-11-22T12:03:00Z"));
    write_config(&home, r#"{"autoLoginCmd":"true","autoLoginMinutes":10}"#);
    let out = run_copy(&home, &dir, "cc-aws-check");
    assert!(out.success(), "{}", out.describe());
    assert!(
        eventually(10, || engine_runs(&home).iter().any(|l| l == "__background-login")),
        "{:?} {}",
        engine_runs(&home),
        out.describe()
    );
}

#[test]
fn a_missing_engine_is_named_with_a_fix_that_works() {
    let home = home_with_creds("2026-11-22T16:23:00Z");
    let dir = hooks_beside(&home, false);
    // What the caches hold needs no engine.
    assert!(run_copy(&home, &dir, "cc-aws-export").stdout.contains("AKIAOLD"));
    home.write(".aws/credentials", profile_ini("default", "AKIAOLD", "2026-11-22T11:00:00Z"));
    let engine = dir.join("cc-aws-keepalive");
    for name in ["cc-aws-export", "cc-aws-refresh"] {
        let out = run_copy(&home, &dir, name);
        assert_eq!(out.status, Some(1), "{}", out.describe());
        assert!(out.stdout.is_empty(), "{}", out.describe());
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.starts_with(&format!("{name}: ")), "{line}");
        assert!(line.contains(&engine.display().to_string()) && line.contains("reinstall"), "{line}");
    }
}

#[test]
fn a_hook_started_through_a_link_finds_the_engine_beside_its_file() {
    let home = home_with_creds("2026-11-22T11:00:00Z");
    let dir = hooks_beside(&home, true);
    let elsewhere = home.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(dir.join("cc-aws-export"), elsewhere.join("cc-aws-export")).unwrap();
    let out = run_copy(&home, &elsewhere, "cc-aws-export");
    assert_eq!(out.status, Some(3), "{}", out.describe());
    assert_eq!(engine_runs(&home), ["__hook export"]);
}
