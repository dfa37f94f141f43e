//! Integration tests: each hook binary run as a process in a temp HOME.

// Helpers outside `#[test]` functions fail the test at the cause, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod chain;
mod check;
mod crash;
mod credential_process;
mod engine;
mod export;
mod faults;
mod legacy;
#[path = "../../../cc-aws-keepalive/tests/it/legacy_sso.rs"]
mod legacy_sso;
mod load;
mod refresh;
mod refused;
mod rewrite_race;
mod robustness;
mod sso;
mod statusline;
mod token_safety;

use std::time::Duration;

use test_support::{RunOutput, TestHome};

/// The fixed clock every test runs at (`CC_KEEPALIVE_NOW`).
pub const NOW: &str = "2026-11-22T12:00:00Z";
pub const SECRET: &str = "wJalrSECRETxKEYxVALUEx0123456789abcdef";
pub const TOKEN: &str = "IQoJb3JpZ2luX2VjTOKENxVALUEx0123456789";

pub fn bin(name: &str) -> &'static str {
    match name {
        "export" => env!("CARGO_BIN_EXE_cc-aws-export"),
        "refresh" => env!("CARGO_BIN_EXE_cc-aws-refresh"),
        "check" => env!("CARGO_BIN_EXE_cc-aws-check"),
        "statusline" => env!("CARGO_BIN_EXE_cc-aws-statusline"),
        other => panic!("no binary {other}"),
    }
}

/// A credentials-file profile with the given key id and expiry.
pub fn profile_ini(profile: &str, key_id: &str, expires: &str) -> String {
    format!(
        "[{profile}]\naws_access_key_id = {key_id}\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\nx_security_token_expires = {expires}\n"
    )
}

pub fn home_with_creds(expires: &str) -> TestHome {
    let home = TestHome::new();
    home.write(".aws/credentials", profile_ini("default", "AKIAOLD", expires));
    home
}

pub fn write_config(home: &TestHome, json: &str) {
    home.write(".config/cc-aws-keepalive/config.json", json);
}

pub fn run_hook(home: &TestHome, name: &str, stdin: &[u8], env: &[(&str, &str)]) -> RunOutput {
    let mut cmd = home.command(bin(name));
    cmd.env("CC_KEEPALIVE_NOW", NOW);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = test_support::run(&mut cmd, stdin, Duration::from_secs(30));
    assert!(!out.timed_out, "{name} timed out: {}", out.describe());
    assert!(!out.stderr.contains("panicked"), "{name} panicked: {}", out.describe());
    out
}

/// Polls `f` for up to `secs` seconds.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A shell command that logs each run to `runs.log` and writes fresh credentials.
pub fn login_cmd_writing(home: &TestHome, new_key: &str, expires: &str, sleep_secs: u32) -> String {
    let script = home.write(
        "login.sh",
        format!(
            "#!/bin/sh\necho run >> \"$HOME/runs.log\"\nsleep {sleep_secs}\ncat > \"$HOME/.aws/credentials.tmp\" <<'EOT'\n{}EOT\nmv \"$HOME/.aws/credentials.tmp\" \"$HOME/.aws/credentials\"\necho 'login tool says hello'\n",
            profile_ini("default", new_key, expires)
        ),
    );
    format!("sh {}", script.display())
}

pub fn runs(home: &TestHome) -> usize {
    home.try_read("runs.log").map(|s| s.lines().count()).unwrap_or(0)
}
