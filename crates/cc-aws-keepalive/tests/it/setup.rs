//! `setup`: dry run changes nothing; setup and uninstall round-trip
//! settings.json byte for byte, composing with a custom status line.

use test_support::TestHome;

use crate::run;

const SETTINGS: &str = ".claude/settings.json";
const CONFIG: &str = ".config/cc-aws-keepalive/config.json";
const RECORD: &str = ".local/state/cc-aws-keepalive/setup.json";

/// Unrelated keys, odd-but-valid formatting, and a status line of the user's own.
const ORIGINAL: &str = "{\n    \"model\": \"sonnet\",\n    \"env\": {\"CLAUDE_CODE_USE_BEDROCK\": \"1\", \"AWS_REGION\": \"us-east-1\"},\n    \"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/my-status.sh --short\"},\n    \"permissions\": {\"allow\": [\"Bash(ls:*)\"]}\n}\n";

fn bin_dir() -> std::path::PathBuf {
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
    let dir = bin_dir();
    assert_eq!(v["awsCredentialExport"], dir.join("cc-aws-export").display().to_string());
    assert_eq!(v["awsAuthRefresh"], dir.join("cc-aws-refresh").display().to_string());
    assert!(v["statusLine"]["command"].as_str().unwrap().contains("cc-aws-statusline"), "{v}");
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

    let dry = run(&home, None, &["setup", "--uninstall", "--dry-run"], &[]);
    assert_eq!(dry.status, Some(0), "{}", dry.describe());
    assert!(dry.stdout.contains("would be restored"), "{}", dry.stdout);
    assert!(home.try_read(RECORD).is_some());

    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert_eq!(home.read(SETTINGS), ORIGINAL, "settings.json restored byte for byte");
    assert!(home.try_read(CONFIG).is_none(), "the config file setup created is removed");
    assert!(home.try_read(RECORD).is_none());
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
