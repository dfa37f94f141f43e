//! The `mock-aws` binary: URL on the first line, keys from arguments, stdin commands, exit on
//! end of input.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::client::send;

use crate::post_signed;
use crate::{AKID, INVOKE_BODY, SECRET, TOKEN, creds};

#[test]
fn mock_binary_serves_and_answers_commands() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-aws"))
        .args(["--key", &format!("{AKID}:{SECRET}:{TOKEN}"), "--max-seconds", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Watchdog: the binary stops by itself after --max-seconds; this bounds the test further.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    assert_eq!(send(&url, "GET", "/nothing-here", &[], b"").unwrap().status, 404);
    let r = post_signed(&url, "/model/m/invoke", INVOKE_BODY.as_bytes(), "bedrock", creds()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    writeln!(stdin, "count other\ncount invoke\nexpire {AKID}\nfault invoke bogus").unwrap();
    stdin.flush().unwrap();
    let mut next = || lines.next().unwrap().unwrap();
    assert_eq!(next(), "ok 1");
    assert_eq!(next(), "ok 1");
    assert_eq!(next(), "ok");
    assert!(next().starts_with("error"));
    drop(stdin);
    assert!(child.wait().unwrap().success());
}
