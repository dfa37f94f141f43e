//! TestHome and the process runner: hermetic environment, files, stdin, timeouts, secrets.

use std::time::Duration;

use test_support::{TestHome, assert_no_secret, run};

#[test]
fn command_passes_only_the_chosen_environment() {
    let home = TestHome::new();
    let out = run(&mut home.command("env"), b"", Duration::from_secs(10));
    assert!(out.success(), "{}", out.describe());
    let mut names: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_once('=').map(|(n, _)| n)).collect();
    names.sort_unstable();
    assert_eq!(names, ["HOME", "LANG", "PATH", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"]);
    let home_line = format!("HOME={}", home.path().display());
    assert!(out.stdout.lines().any(|l| l == home_line), "{}", out.stdout);
    let xdg = format!("XDG_CONFIG_HOME={}", home.config_dir().display());
    assert!(out.stdout.lines().any(|l| l == xdg));
    assert!(home.config_dir().starts_with(home.path()));
}

#[test]
fn write_read_and_cleanup() {
    let path = {
        let home = TestHome::new();
        let p = home.write(".aws/credentials", "[default]\n");
        assert_eq!(p, home.path().join(".aws/credentials"));
        assert_eq!(home.read(".aws/credentials"), "[default]\n");
        assert_eq!(home.try_read("missing"), None);
        home.path().to_path_buf()
    };
    assert!(!path.exists(), "temp home not removed");
    assert_ne!(TestHome::new().path(), TestHome::new().path());
}

#[test]
fn run_feeds_stdin_and_captures_both_streams() {
    let home = TestHome::new();
    let mut cmd = home.command("sh");
    cmd.args(["-c", "cat; echo to-stderr >&2; exit 3"]);
    let out = run(&mut cmd, b"hello stdin", Duration::from_secs(10));
    assert_eq!(out.status, Some(3));
    assert_eq!(out.stdout, "hello stdin");
    assert_eq!(out.stderr.trim(), "to-stderr");
    assert!(!out.timed_out);
}

#[test]
fn run_kills_the_process_group_on_timeout() {
    let home = TestHome::new();
    let mut cmd = home.command("sh");
    // The grandchild keeps stdout open; the runner must still return promptly.
    cmd.args(["-c", "echo started; sleep 30 & sleep 30"]);
    let out = run(&mut cmd, b"", Duration::from_millis(300));
    assert!(out.timed_out);
    assert_eq!(out.status, None);
    assert_eq!(out.stdout.trim(), "started");
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn assert_no_secret_passes_clean_output() {
    assert_no_secret("nothing to see", &["wJalrXUtnFEMI/K7MDENG", ""]);
}

#[test]
#[should_panic(expected = "first 8 characters of secret #1")]
fn assert_no_secret_catches_a_prefix() {
    assert_no_secret("key=wJalrXUt…", &["other-secret", "wJalrXUtnFEMI/K7MDENG"]);
}

#[test]
#[should_panic(expected = "secret #0 (abc…) appears")]
fn assert_no_secret_catches_the_whole_secret() {
    assert_no_secret("x abcdefghijkl y", &["abcdefghijkl"]);
}
