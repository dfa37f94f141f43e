//! `session-start`, the plugin's `SessionStart` hook, run from a plugin directory laid out like
//! Claude Code's cache: the first start copies the binaries to the stable place; an unwired
//! settings.json gets one message naming the exact setup command (which then works); a wired
//! one gets none; a session ending within the working day is announced with its local end time
//! and the login command; nothing makes it fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use test_support::{RunOutput, TestHome};

use crate::{NOW, sso_home};

const BINS: [&str; 5] = ["cc-aws-export", "cc-aws-refresh", "cc-aws-check", "cc-aws-statusline", "cc-aws-keepalive"];

fn build_dir() -> PathBuf {
    Path::new(crate::bin()).parent().unwrap().to_path_buf()
}

/// `bin/<target>/` of a plugin version in Claude Code's cache, holding the five binaries.
fn plugin_bin(home: &TestHome) -> PathBuf {
    let dir = home.join(".claude/plugins/cache/m/cc-aws-keepalive/0.1.0/bin/x86_64-unknown-linux-gnu");
    std::fs::create_dir_all(&dir).unwrap();
    for b in BINS.into_iter().filter(|b| !dir.join(b).exists()) {
        // A hard link where possible: the debug binaries are large.
        if std::fs::hard_link(build_dir().join(b), dir.join(b)).is_err() {
            std::fs::copy(build_dir().join(b), dir.join(b)).unwrap();
        }
    }
    dir
}

fn stable(home: &TestHome) -> PathBuf {
    home.data_dir().join("cc-aws-keepalive/current/bin")
}

/// Runs `program args…` with the CLI tests' hermetic environment plus `env`.
fn run_as(home: &TestHome, program: &Path, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> RunOutput {
    let base = crate::command(home, None, &[]);
    let mut cmd = home.command(program);
    cmd.args(args).envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = test_support::run(&mut cmd, stdin, Duration::from_secs(60));
    assert!(!out.timed_out && !out.stderr.contains("panicked"), "{}", out.describe());
    out
}

/// The hook as Claude Code runs it: the SessionStart JSON on stdin, cwd the project.
fn start(home: &TestHome, env: &[(&str, &str)]) -> RunOutput {
    let input = json!({
        "session_id": "s1",
        "transcript_path": home.join("t.jsonl"),
        "cwd": home.path(),
        "hook_event_name": "SessionStart",
        "source": "startup",
    });
    let program = plugin_bin(home).join("cc-aws-keepalive");
    let out = run_as(home, &program, &["session-start"], input.to_string().as_bytes(), env);
    assert_eq!(out.status, Some(0), "a start hook always exits 0: {}", out.describe());
    out
}

/// The one systemMessage, `None` when the hook printed nothing.
fn message(out: &RunOutput) -> Option<String> {
    let text = out.stdout.trim();
    if text.is_empty() {
        return None;
    }
    assert_eq!(text.lines().count(), 1, "one JSON line: {}", out.describe());
    let v: Value = serde_json::from_str(text).unwrap();
    Some(v["systemMessage"].as_str().unwrap().to_string())
}

const PATH: (&str, &str) = ("PATH", "/usr/bin:/bin");

#[test]
fn first_start_installs_the_binaries_and_names_the_setup_command_which_then_works() {
    let home = TestHome::new();
    let out = start(&home, &[PATH]);
    for b in BINS {
        let copy = std::fs::read(stable(&home).join(b)).unwrap_or_else(|e| panic!("{b} not copied: {e}"));
        assert!(copy == std::fs::read(build_dir().join(b)).unwrap(), "{b} is not the plugin's");
    }
    let msg = message(&out).expect("a setup message");
    let exe = stable(&home).join("cc-aws-keepalive");
    let cmd = format!("`{} setup`", exe.display());
    assert!(msg.contains(&cmd), "the exact command {cmd}: {msg}");
    assert!(msg.contains("awsCredentialExport in ") && msg.contains("settings.json is not set"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(home.try_read(".claude/settings.json").is_none(), "the start hook never edits settings.json");

    // The command it names works, and afterwards the hook has nothing to say.
    let setup = run_as(&home, &exe, &["setup"], b"", &[PATH]);
    assert_eq!(setup.status, Some(0), "{}", setup.describe());
    let v: Value = serde_json::from_str(&home.read(".claude/settings.json")).unwrap();
    assert_eq!(v["awsCredentialExport"], stable(&home).join("cc-aws-export").display().to_string());
    let again = start(&home, &[PATH]);
    assert_eq!(message(&again), None, "{}", again.describe());
}

#[test]
fn the_short_command_when_the_link_is_on_path_and_dangling_paths_are_named() {
    let home = TestHome::new();
    start(&home, &[PATH]);
    let setup = run_as(&home, &stable(&home).join("cc-aws-keepalive"), &["setup", "--no-statusline"], b"", &[PATH]);
    assert_eq!(setup.status, Some(0), "{}", setup.describe());
    // Settings that point at binaries since deleted (an old plugin version, `cargo clean`).
    home.write(
        ".claude/settings.json",
        json!({"awsCredentialExport": "/gone/bin/cc-aws-export", "awsAuthRefresh": "/gone/bin/cc-aws-refresh"})
            .to_string(),
    );
    let path = format!("{}:/usr/bin:/bin", home.join(".local/bin").display());
    let msg = message(&start(&home, &[("PATH", &path)])).expect("a message");
    assert!(msg.contains("/gone/bin/cc-aws-export, which no longer exists"), "{msg}");
    assert!(msg.contains("run `cc-aws-keepalive setup` once in a terminal"), "{msg}");
    // Settings pointing into the plugin's own version directory work until an update prunes it.
    let cached = plugin_bin(&home);
    home.write(
        ".claude/settings.json",
        json!({"awsCredentialExport": cached.join("cc-aws-export"), "awsAuthRefresh": cached.join("cc-aws-refresh")})
            .to_string(),
    );
    let msg = message(&start(&home, &[("PATH", &path)])).expect("a message");
    assert!(msg.contains("inside Claude Code's plugin cache, which a plugin update deletes"), "{msg}");
}

#[test]
fn project_settings_count_as_claude_code_merges_them() {
    let home = TestHome::new();
    start(&home, &[PATH]);
    // The user's settings name someone else's export; the project's local settings, which win,
    // name ours.
    home.write(".claude/settings.json", json!({"awsCredentialExport": "aws-vault export"}).to_string());
    let s = stable(&home);
    home.write(
        ".claude/settings.local.json",
        json!({
            "awsCredentialExport": s.join("cc-aws-export"),
            "awsAuthRefresh": format!("env AWS_PROFILE=dev {}", s.join("cc-aws-refresh").display()),
        })
        .to_string(),
    );
    assert_eq!(message(&start(&home, &[PATH])), None);
    std::fs::remove_file(home.join(".claude/settings.local.json")).unwrap();
    let msg = message(&start(&home, &[PATH])).unwrap();
    assert!(msg.contains("settings.json runs another command"), "{msg}");
}

/// Settings wired to binaries that exist, so only the session's end is news.
fn wired(home: &TestHome) {
    let b = build_dir();
    home.write(
        ".claude/settings.json",
        json!({"awsCredentialExport": b.join("cc-aws-export"), "awsAuthRefresh": b.join("cc-aws-refresh")}).to_string(),
    );
}

#[test]
fn a_session_ending_within_the_working_day_is_announced_in_local_time() {
    // Access token for 30 more minutes, refreshable until 15:10: then a browser login.
    let home = sso_home("2026-11-22T12:30:00Z");
    crate::write_token(&home, "corp", "2026-11-22T12:30:00Z", Some(crate::REFRESH), "2026-11-22T15:10:00Z");
    wired(&home);
    let env = [PATH, ("CC_KEEPALIVE_NOW", NOW), ("AWS_PROFILE", "dev"), ("TZ", "UTC0")];
    let msg = message(&start(&home, &env)).expect("the session's end");
    assert_eq!(
        msg,
        "AWS: your SSO session for profile \"dev\" ends at 15:10 (in 3h10m); then run `aws sso login --sso-session corp`."
    );
    // The wall clock is the user's.
    let env = [PATH, ("CC_KEEPALIVE_NOW", NOW), ("AWS_PROFILE", "dev"), ("TZ", "CET-1")];
    assert!(message(&start(&home, &env)).unwrap().contains("ends at 16:10 (in 3h10m)"));
    // Not wired as well: both in the one message, one line each.
    home.write(".claude/settings.json", "{}");
    let msg = message(&start(&home, &env)).unwrap();
    let lines: Vec<&str> = msg.lines().collect();
    assert_eq!(lines.len(), 2, "{msg}");
    assert!(lines[0].contains(" setup` once in a terminal") && lines[1].starts_with("AWS: your SSO session"), "{msg}");
}

#[test]
fn a_session_ending_after_the_working_day_is_not_news() {
    let home = sso_home("2026-11-22T12:30:00Z");
    crate::write_token(&home, "corp", "2026-11-22T12:30:00Z", Some(crate::REFRESH), "2026-11-23T02:00:00Z");
    wired(&home);
    let env = [PATH, ("CC_KEEPALIVE_NOW", NOW), ("AWS_PROFILE", "dev"), ("TZ", "UTC0")];
    assert_eq!(message(&start(&home, &env)), None);
}

#[test]
fn nothing_makes_it_fail() {
    let home = TestHome::new();
    // The data directory cannot be created (a file is in the way), stdin is garbage.
    home.write("not-a-dir", "x");
    let program = plugin_bin(&home).join("cc-aws-keepalive");
    let data = home.join("not-a-dir").display().to_string();
    let out = run_as(&home, &program, &["session-start"], b"\x00{not json", &[PATH, ("XDG_DATA_HOME", &data)]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let msg = message(&out).unwrap();
    assert!(msg.contains("cannot install its binaries"), "{msg}");
    // The setup command then names the plugin's own copy, which can do the install.
    assert!(msg.contains(&format!("`{} setup`", program.display())), "{msg}");
    // Without HOME at all.
    let mut cmd = std::process::Command::new(&program);
    cmd.arg("session-start").env_clear().env("PATH", "/usr/bin:/bin");
    let out = test_support::run(&mut cmd, b"{}", Duration::from_secs(60));
    assert_eq!(out.status, Some(0), "{}", out.describe());
}
