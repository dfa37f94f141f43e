//! Malformed everything: no binary may panic, hang or leak a secret.

use std::time::Duration;

use crate::*;

const HOOKS: [&str; 4] = ["export", "refresh", "check", "statusline"];

fn run_all(home: &TestHome, stdin: &[u8], env: &[(&str, &str)]) -> Vec<(String, test_support::RunOutput)> {
    HOOKS.iter().map(|h| (h.to_string(), run_hook(home, h, stdin, env))).collect()
}

fn assert_sane(results: &[(String, test_support::RunOutput)]) {
    for (name, out) in results {
        let ok_code = match name.as_str() {
            "check" | "statusline" => out.status == Some(0),
            _ => matches!(out.status, Some(0) | Some(1)),
        };
        assert!(ok_code, "{name}: {}", out.describe());
        test_support::assert_no_secret(
            &format!("{}{}", out.stderr, if name == "export" { "" } else { &out.stdout }),
            &[SECRET, TOKEN],
        );
    }
}

#[test]
fn garbage_files() {
    let cases: &[(&str, &[u8])] = &[
        (".aws/credentials", b"\x00\x01\x02\xff\xfe garbage [[[ ===="),
        (".aws/credentials", b"[default\naws_access_key_id"),
        (".aws/credentials", b"\xef\xbb\xbf[default]\r\naws_access_key_id = A\r\naws_secret_access_key = wJalrSECRETxKEYxVALUEx0123456789abcdef\r\nx_security_token_expires = not-a-date\r\n"),
        (".aws/credentials", b""),
        (".config/cc-aws-keepalive/config.json", b"\xff\xfe{\"profile\": 12, \"warnMinutes\": {}}"),
        (".config/cc-aws-keepalive/config.json", b"{\"profile\":\"-x\"}"),
        (".config/cc-aws-keepalive/config.json", b"1e999999"),
    ];
    for (file, contents) in cases {
        let home = home_with_creds("2026-11-22T12:20:00Z");
        home.write(file, contents);
        assert_sane(&run_all(&home, b"{}", &[]));
    }
}

#[test]
fn credentials_path_is_a_directory() {
    let home = TestHome::new();
    std::fs::create_dir_all(home.join(".aws/credentials")).unwrap();
    let results = run_all(&home, b"", &[]);
    assert_sane(&results);
    let export = &results[0].1;
    assert!(export.stderr.contains(".aws/credentials"), "{}", export.stderr);
}

#[test]
fn home_unset() {
    let home = TestHome::new();
    for h in HOOKS {
        let mut cmd = home.command(bin(h));
        cmd.env_remove("HOME").env_remove("XDG_CONFIG_HOME").env_remove("XDG_STATE_HOME");
        let out = test_support::run(&mut cmd, b"{}", Duration::from_secs(20));
        assert!(!out.stderr.contains("panicked") && !out.timed_out, "{h}: {}", out.describe());
        if h == "export" {
            assert_eq!(out.status, Some(1));
            assert!(out.stderr.contains("HOME is not set"), "{}", out.stderr);
        }
    }
}

#[test]
fn huge_stdin() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    let big = vec![b'{'; 8 * 1024 * 1024];
    assert_sane(&run_all(&home, &big, &[]));
}

#[test]
fn closed_stdout_is_not_a_panic() {
    let home = home_with_creds("2026-11-22T16:00:00Z");
    for h in HOOKS {
        let mut cmd = home.command(bin(h));
        cmd.env("CC_KEEPALIVE_NOW", NOW).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        let out = cmd.output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}
