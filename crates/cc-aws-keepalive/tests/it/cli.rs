//! `--help`, `--version` and usage errors: conventional exit codes.

use test_support::TestHome;

use crate::run;

#[test]
fn help_for_every_command() {
    let home = TestHome::new();
    for cmd in ["status", "refresh", "daemon", "service", "logs", "setup", "doctor"] {
        for flag in ["--help", "-h"] {
            let out = run(&home, None, &[cmd, flag], &[]);
            assert_eq!(out.status, Some(0), "{cmd} {flag}: {}", out.describe());
            assert!(out.stdout.contains(&format!("Usage: cc-aws-keepalive {cmd}")), "{cmd}: {}", out.stdout);
        }
    }
    let out = run(&home, None, &["--help"], &[]);
    assert_eq!(out.status, Some(0));
    for cmd in ["status", "refresh", "daemon", "service", "logs", "setup", "doctor"] {
        assert!(out.stdout.contains(cmd), "{}", out.stdout);
    }
    // Help never touches the files.
    assert!(!home.state_dir().join("cc-aws-keepalive").exists());
}

#[test]
fn version_and_usage_errors() {
    let home = TestHome::new();
    let out = run(&home, None, &["--version"], &[]);
    assert_eq!(out.status, Some(0));
    assert!(out.stdout.starts_with("cc-aws-keepalive "), "{}", out.stdout);
    for args in [
        &[][..],
        &["frobnicate"],
        &["status", "--bogus"],
        &["refresh", "--session"],
        &["refresh", "--session", "a", "--profile", "b"],
        &["logs", "-n", "many"],
        &["service"],
        &["service", "start"],
        &["setup", "--uninstall", "--statusline"],
        &["doctor", "extra"],
    ] {
        let out = run(&home, None, args, &[]);
        assert_eq!(out.status, Some(2), "{args:?}: {}", out.describe());
        assert!(!out.stderr.trim().is_empty(), "{args:?}: no message");
        assert!(out.stderr.lines().count() <= 30, "{args:?}");
    }
}
