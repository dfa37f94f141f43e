//! `setup`: dry run changes nothing; setup copies the binaries next to it to the stable
//! `current/bin`, wires settings.json to them (with the status line's refreshInterval) and
//! links the command into ~/.local/bin; run again, from anywhere, it changes nothing; setup and
//! uninstall round-trip settings.json byte for byte, composing with a custom status line.

use test_support::TestHome;

use crate::run;

const SETTINGS: &str = ".claude/settings.json";
const CONFIG: &str = ".config/cc-aws-keepalive/config.json";
const RECORD: &str = ".local/state/cc-aws-keepalive/setup.json";

/// Unrelated keys, odd-but-valid formatting, and a status line of the user's own.
const ORIGINAL: &str = "{\n    \"model\": \"sonnet\",\n    \"env\": {\"CLAUDE_CODE_USE_BEDROCK\": \"1\", \"AWS_REGION\": \"us-east-1\"},\n    \"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/my-status.sh --short\"},\n    \"permissions\": {\"allow\": [\"Bash(ls:*)\"]}\n}\n";

/// The stable copy setup wires settings.json to.
fn stable_bin(home: &TestHome) -> std::path::PathBuf {
    home.data_dir().join("cc-aws-keepalive/current/bin")
}

/// The directory `cargo test` built the five binaries into (setup's source).
fn build_dir() -> std::path::PathBuf {
    std::path::Path::new(crate::bin()).parent().unwrap().to_path_buf()
}

#[test]
fn dry_run_changes_nothing() {
    let home = TestHome::new();
    home.write(SETTINGS, ORIGINAL);
    let out = run(&home, None, &["setup", "--dry-run", "--statusline"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("dry run, nothing written"), "{}", out.stdout);
    assert!(out.stdout.contains("awsCredentialExport"), "{}", out.stdout);
    // A unified diff of settings.json.
    assert!(out.stdout.lines().any(|l| l.starts_with('+') && l.contains("cc-aws-export")), "{}", out.stdout);
    assert_eq!(home.read(SETTINGS), ORIGINAL);
    assert!(home.try_read(CONFIG).is_none());
    assert!(home.try_read(RECORD).is_none());
    let entries: Vec<_> = std::fs::read_dir(home.join(".claude")).unwrap().collect();
    assert_eq!(entries.len(), 1, "no backup in a dry run");
}

#[test]
fn setup_and_uninstall_round_trip_byte_for_byte() {
    let home = TestHome::new();
    home.write(SETTINGS, ORIGINAL);
    let out = run(&home, None, &["setup", "--statusline"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let v: serde_json::Value = serde_json::from_str(&home.read(SETTINGS)).unwrap();
    let dir = stable_bin(&home);
    assert_eq!(v["awsCredentialExport"], dir.join("cc-aws-export").display().to_string());
    assert_eq!(v["awsAuthRefresh"], dir.join("cc-aws-refresh").display().to_string());
    assert_eq!(v["statusLine"]["command"], dir.join("cc-aws-statusline").display().to_string());
    assert_eq!(v["statusLine"]["refreshInterval"], 30, "the countdown ticks while idle: {v}");
    // The binaries were copied there from the build directory, all five, executable.
    for b in ["cc-aws-export", "cc-aws-refresh", "cc-aws-check", "cc-aws-statusline", "cc-aws-keepalive"] {
        let copy = std::fs::read(dir.join(b)).unwrap();
        assert!(copy == std::fs::read(build_dir().join(b)).unwrap(), "{b} is not a copy of the build's");
    }
    let link = home.join(".local/bin/cc-aws-keepalive");
    assert_eq!(std::fs::read_link(&link).unwrap(), dir.join("cc-aws-keepalive"));
    // Unrelated keys untouched.
    assert_eq!(v["model"], "sonnet");
    assert_eq!(v["permissions"]["allow"][0], "Bash(ls:*)");
    assert!(
        home.read(SETTINGS).starts_with("{\n    \"model\": \"sonnet\",\n    \"env\": {\"CLAUDE_CODE_USE_BEDROCK\"")
    );
    // The user's status line moved into our config, to be shown before ours.
    let cfg: serde_json::Value = serde_json::from_str(&home.read(CONFIG)).unwrap();
    assert_eq!(cfg["statusLineCmd"], "~/bin/my-status.sh --short");
    let backups = std::fs::read_dir(home.join(".claude"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("settings.json.bak-"))
        .count();
    assert_eq!(backups, 1);

    let again = run(&home, None, &["setup", "--statusline"], &[]);
    assert_eq!(again.status, Some(0), "{}", again.describe());
    assert!(again.stdout.contains("setup: no changes"), "{}", again.stdout);
    // The installed command, through its link, agrees: it is the stable copy itself.
    let mut cmd = crate::command(&home, None, &["setup", "--statusline"]);
    cmd.env("PATH", format!("{}:/usr/bin:/bin", home.join(".local/bin").display()));
    let mut linked = home.command(&link);
    linked.args(["setup", "--statusline"]).envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let again = test_support::run(&mut linked, b"", std::time::Duration::from_secs(60));
    assert_eq!(again.status, Some(0), "{}", again.describe());
    assert!(again.stdout.contains("setup: no changes"), "{}", again.stdout);
    assert!(!again.stdout.contains("add "), "~/.local/bin is on this PATH: {}", again.stdout);

    let dry = run(&home, None, &["setup", "--uninstall", "--dry-run"], &[]);
    assert_eq!(dry.status, Some(0), "{}", dry.describe());
    assert!(dry.stdout.contains("would be restored"), "{}", dry.stdout);
    assert!(home.try_read(RECORD).is_some());

    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert_eq!(home.read(SETTINGS), ORIGINAL, "settings.json restored byte for byte");
    assert!(home.try_read(CONFIG).is_none(), "the config file setup created is removed");
    assert!(home.try_read(RECORD).is_none());
    assert!(link.symlink_metadata().is_err(), "the link setup made is removed");
    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert!(un.stdout.contains("nothing recorded"), "{}", un.stdout);
}

#[test]
fn uninstall_after_someone_else_edited_keeps_their_edit() {
    let home = TestHome::new();
    home.write(SETTINGS, ORIGINAL);
    home.write(CONFIG, "{\"profile\": \"dev\"}\n");
    let out = run(&home, None, &["setup"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    // Without --statusline a status line of the user's own is kept.
    let v: serde_json::Value = serde_json::from_str(&home.read(SETTINGS)).unwrap();
    assert_eq!(v["statusLine"]["command"], "~/bin/my-status.sh --short");
    assert_eq!(home.read(CONFIG), "{\"profile\": \"dev\"}\n");
    // Claude Code rewrites the file (another key added).
    let edited = home.read(SETTINGS).replacen("\"model\": \"sonnet\"", "\"model\": \"opus\"", 1);
    home.write(SETTINGS, &edited);
    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    let v: serde_json::Value = serde_json::from_str(&home.read(SETTINGS)).unwrap();
    assert_eq!(v["model"], "opus");
    assert!(v.get("awsCredentialExport").is_none() && v.get("awsAuthRefresh").is_none(), "{v}");
    assert_eq!(home.read(CONFIG), "{\"profile\": \"dev\"}\n");
}

#[test]
fn setup_creates_settings_when_missing_and_uninstall_removes_it() {
    let home = TestHome::new();
    let out = run(&home, None, &["setup", "--statusline"], &[("CLAUDE_CONFIG_DIR", "~/cc")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let v: serde_json::Value = serde_json::from_str(&home.read("cc/settings.json")).unwrap();
    assert!(v["statusLine"]["command"].as_str().unwrap().contains("cc-aws-statusline"), "{v}");
    let un = run(&home, None, &["setup", "--uninstall"], &[("CLAUDE_CONFIG_DIR", "~/cc")]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert!(home.try_read("cc/settings.json").is_none());
}

#[test]
fn no_statusline_leaves_it_alone_and_contradictions_are_usage_errors() {
    let home = TestHome::new();
    let out = run(&home, None, &["setup", "--no-statusline"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let v: serde_json::Value = serde_json::from_str(&home.read(SETTINGS)).unwrap();
    assert!(v.get("statusLine").is_none(), "{v}");
    assert!(v["awsCredentialExport"].as_str().unwrap().ends_with("/current/bin/cc-aws-export"), "{v}");
    for args in [&["setup", "--statusline", "--no-statusline"][..], &["setup", "--uninstall", "--no-statusline"]] {
        let out = run(&home, None, args, &[]);
        assert_eq!(out.status, Some(2), "{args:?}: {}", out.describe());
    }
}

#[test]
fn a_dry_run_copies_nothing_and_shows_the_switch() {
    let home = TestHome::new();
    let out = run(&home, None, &["setup", "--dry-run"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("would be switched to versions/"), "{}", out.stdout);
    assert!(out.stdout.contains("would be linked to"), "{}", out.stdout);
    let ours = home.data_dir().join("cc-aws-keepalive");
    assert!(!ours.exists() && !home.join(".local/bin").exists(), "{}", out.stdout);
}
