//! `credential_process` helpers (aws-vault, granted, Okta and YubiKey helpers) behind the
//! hooks: concurrent exports run the helper once, the helper dies with the hook that started
//! it, its last stderr line reaches the user, and a failing helper is visible on the status
//! line and in the check.

use std::collections::HashSet;

use serde_json::Value;
use test_support::{TestHome, assert_no_secret};

use crate::*;

const PROC_SECRET: &str = "cpSECRETxKEYxVALUEx0123456789abcdef";
const PROC_TOKEN: &str = "cpTOKENxSESSIONxVALUEx0123456789abc";
/// An hour after [`NOW`].
const EXPIRES: &str = "2026-11-22T13:00:00Z";
const PROFILE: [(&str, &str); 1] = [("AWS_PROFILE", "proc")];
const MFA_LINE: &str = "MFA device not present; touch your YubiKey";

/// A home whose profile `proc` runs `sh helper.sh` with `body` as the script.
fn home_with_helper(body: &str) -> TestHome {
    let home = TestHome::new();
    let script = home.write("helper.sh", body);
    home.write(".aws/config", format!("[profile proc]\ncredential_process = sh {}\n", script.display()));
    home
}

/// The script line printing the protocol's JSON, with the helper's pid in the key id so each
/// run hands out a different key.
fn print_creds() -> String {
    format!(
        "printf '{{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC%s\", \"SecretAccessKey\": \"{PROC_SECRET}\", \
         \"SessionToken\": \"{PROC_TOKEN}\", \"Expiration\": \"{EXPIRES}\"}}' \"$$\"\n"
    )
}

/// A helper that logs its run, says something on stderr, prints its secret on stdout and
/// fails with the YubiKey message last.
fn failing_helper() -> String {
    format!(
        "echo run >> \"$HOME/runs.log\"\necho 'looking for a security key' >&2\necho '{PROC_SECRET}'\n\
         printf '\\033[31m{MFA_LINE}\\033[0m\\n' >&2\nexit 1\n"
    )
}

fn key_id(out: &test_support::RunOutput) -> String {
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["Credentials"]["AccessKeyId"].as_str().unwrap().to_string()
}

#[test]
fn six_parallel_exports_run_the_helper_once() {
    let home = home_with_helper(&format!("echo run >> \"$HOME/runs.log\"\nsleep 1\n{}", print_creds()));
    let outs: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..6).map(|_| s.spawn(|| run_hook(&home, "export", b"", &PROFILE))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.success(), "{}", out.describe());
        assert_no_secret(&out.stderr, &[PROC_SECRET, PROC_TOKEN]);
    }
    let keys: HashSet<String> = outs.iter().map(key_id).collect();
    assert_eq!(keys.len(), 1, "every export hands out the one run's key: {keys:?}");
    assert_eq!(runs(&home), 1, "one helper run (one MFA prompt) for six concurrent exports");
    // And the cache serves the next call.
    assert_eq!(key_id(&run_hook(&home, "export", b"", &PROFILE)), *keys.iter().next().unwrap());
    assert_eq!(runs(&home), 1);
}

/// Whether `pid` is gone: no `/proc` entry, or a zombie waiting for init.
#[cfg(target_os = "linux")]
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S …`: the state follows the last ')'.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Stops the export and the helper's processes if the test fails half-way: nothing outlives
/// it. Pids still listed at the end are killed only while they still run (and a passing test
/// clears the list, so a reused pid is never hit).
#[cfg(target_os = "linux")]
struct Cleanup {
    export: std::process::Child,
    pids: Vec<String>,
}

#[cfg(target_os = "linux")]
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.export.kill();
        let _ = self.export.wait();
        for pid in self.pids.iter().filter(|p| !gone(p)) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_killed_export_takes_its_helper_and_its_children_along() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // The helper starts a child of its own (a wrapper script's `okta … | jq`, say) and waits.
    let home = home_with_helper(&format!(
        "echo $$ > \"$HOME/helper.pid.tmp\"\nsleep 30 &\necho $! > \"$HOME/child.pid\"\n\
         mv \"$HOME/helper.pid.tmp\" \"$HOME/helper.pid\"\nwait\n{}",
        print_creds()
    ));
    let mut cmd = home.command(bin("export"));
    cmd.env("CC_KEEPALIVE_NOW", NOW).env("AWS_PROFILE", "proc");
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut run = Cleanup { export: cmd.spawn().unwrap(), pids: Vec::new() };
    let started = eventually(10, || home.try_read("helper.pid").is_some_and(|s| !s.trim().is_empty()));
    let helper = home.try_read("helper.pid").unwrap_or_default().trim().to_string();
    let child = home.try_read("child.pid").unwrap_or_default().trim().to_string();
    run.pids.extend([helper.clone(), child.clone()]);
    assert!(started && !child.is_empty(), "the helper never started");
    assert!(!gone(&helper) && !gone(&child));
    // SIGKILL: the export can do nothing about it.
    run.export.kill().unwrap();
    run.export.wait().unwrap();
    let start = Instant::now();
    assert!(
        eventually(2, || gone(&helper) && gone(&child)),
        "helper {helper} or its child {child} outlived the killed export"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    run.pids.clear();
}

#[test]
fn the_last_stderr_line_is_in_the_export_error_and_the_refresh_output() {
    let home = home_with_helper(&failing_helper());
    let out = run_hook(&home, "export", b"", &PROFILE);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.is_empty());
    let line = out.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains(&format!("failed (exit status: 1): {MFA_LINE}")), "{line}");
    assert!(!line.contains('\x1b') && !line.contains("looking for"), "{line}");
    assert_no_secret(&out.stderr, &[PROC_SECRET]);

    let out = run_hook(&home, "refresh", b"", &PROFILE);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains(MFA_LINE), "{}", out.describe());
    assert_no_secret(&format!("{}{}", out.stdout, out.stderr), &[PROC_SECRET]);
    assert_eq!(runs(&home), 2);
}

#[test]
fn a_failing_helper_turns_the_status_line_red_and_the_check_warns() {
    let home = home_with_helper(&failing_helper());
    // Before any run nothing is known to be wrong; the check starts the renewal in the
    // background, which runs the helper, and the next prompt is warned.
    let first = run_hook(&home, "check", b"{}", &PROFILE);
    assert!(first.success(), "{}", first.describe());
    assert!(eventually(15, || runs(&home) >= 1 && helper_failure_recorded(&home)), "no background run recorded");
    let check = run_hook(&home, "check", b"{}", &PROFILE);
    assert!(check.success(), "{}", check.describe());
    let v: Value = serde_json::from_str(check.stdout.trim()).unwrap();
    let msg = v["systemMessage"].as_str().unwrap();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(msg.contains(MFA_LINE) && msg.contains("cc-aws-keepalive refresh --profile proc"), "{msg}");
    assert_no_secret(&check.stdout, &[PROC_SECRET]);

    let line = run_hook(&home, "statusline", b"", &PROFILE);
    assert_eq!(line.stdout, "\x1b[31mAWS: helper failed\x1b[0m\n");
    let plain = run_hook(&home, "statusline", b"", &[("AWS_PROFILE", "proc"), ("NO_COLOR", "1")]);
    assert_eq!(plain.stdout, "AWS: helper failed\n");

    // Fixed: the next export succeeds, and every surface is quiet again.
    home.write("helper.sh", print_creds());
    let out = run_hook(&home, "export", b"", &PROFILE);
    assert!(out.success(), "{}", out.describe());
    assert!(!helper_failure_recorded(&home));
    assert_eq!(run_hook(&home, "statusline", b"", &[("AWS_PROFILE", "proc"), ("NO_COLOR", "1")]).stdout, "AWS: 1h0m\n");
    assert_eq!(run_hook(&home, "check", b"{}", &PROFILE).stdout, "");
}

/// Whether a `*.failed.json` exists in the credential_process state directory.
fn helper_failure_recorded(home: &TestHome) -> bool {
    std::fs::read_dir(home.state_dir().join("cc-aws-keepalive/credential-process"))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".failed.json")))
        .unwrap_or(false)
}
