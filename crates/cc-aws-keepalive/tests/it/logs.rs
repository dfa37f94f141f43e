//! `logs`: the last lines across rotations, following, size rotation, and no
//! secret in any log line after real work against the mock.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Spawned, all_logs, assert_clean, command, run, run_at_now, sso_home, sso_mock};

const LOG: &str = ".local/state/cc-aws-keepalive/keepalive.log";

#[test]
fn rotates_at_the_size_limit_and_keeps_secrets_out() {
    let home = sso_home("2026-11-22T12:20:00Z");
    let mock = sso_mock();
    // A log just at the limit (512 KiB): the next line rotates it.
    let line = "2026-11-22T11:00:00Z INFO filler[1]: padding line for the rotation test ..........\n";
    let filler = line.repeat(512 * 1024 / line.len() + 1);
    home.write(LOG, &filler);
    let out = run_at_now(&home, Some(&mock), &["refresh", "--profile", "dev"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    let rotated = home.read(format!("{LOG}.1"));
    assert_eq!(rotated, filler, "the full log moved to .1 untouched");
    let current = home.read(LOG);
    assert!(current.len() < 16 * 1024, "{}", current.len());
    assert!(current.contains("refreshed SSO token"), "{current}");
    // Every log line of a refresh, a role-credential fetch and a daemon pass is metadata only.
    let out = run_at_now(&home, Some(&mock), &["daemon", "--once"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_clean(&all_logs(&home), Some(&mock));
    assert!(!mock.issued_role_keys().is_empty());

    let out = run(&home, None, &["logs", "-n", "3"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    assert_eq!(out.stdout.lines().last(), current_last(&home).as_deref());
    // -n larger than the current file reaches into the rotated one.
    let n = home.read(LOG).lines().count() + 2;
    let out = run(&home, None, &["logs", "-n", &n.to_string()], &[]);
    assert!(out.stdout.starts_with("2026-11-22T11:00:00Z INFO filler"), "{}", out.stdout);
}

fn current_last(home: &test_support::TestHome) -> Option<String> {
    home.read(LOG).lines().last().map(str::to_string)
}

#[test]
fn no_log_yet_is_not_an_error() {
    let home = test_support::TestHome::new();
    let out = run(&home, None, &["logs"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stderr.contains("no log yet"), "{}", out.stderr);
}

#[test]
fn follow_prints_new_lines_across_rotation() {
    let home = test_support::TestHome::new();
    home.write(LOG, "old line\n");
    let mut cmd = command(&home, None, &["logs", "-f", "-n", "1"]);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut guard = Spawned { child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let wait_for = |needle: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen.contains(needle) && Instant::now() < deadline {
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.push_str(&chunk);
            }
        }
        seen.contains(needle)
    };
    assert!(wait_for("old line", &mut seen), "{seen}");
    std::thread::sleep(Duration::from_millis(300));
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(home.join(LOG)).unwrap();
    f.write_all(b"new line one\n").unwrap();
    assert!(wait_for("new line one", &mut seen), "{seen}");
    // Rotation: the file is renamed and a new one starts.
    std::fs::rename(home.join(LOG), home.join(format!("{LOG}.1"))).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    home.write(LOG, "after rotation\n");
    assert!(wait_for("after rotation", &mut seen), "{seen}");
    let _ = guard.child.kill();
    assert!(guard.wait_exit(5).is_some());
}
